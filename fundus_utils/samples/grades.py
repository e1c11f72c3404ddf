"""A generated 5-grade diabetic-retinopathy sample, laid out like DDR (one sub-folder per grade).

The multi-class path of the course (``class_folder_set``, K-logit heads, per-class recall,
macro AUC) needs a class-folder dataset. DDR (Li et al. 2019, the "DDR" grading set) is
laid out one folder per grade of the international clinical DR scale:

* ``0/`` no DR; ``1/`` mild non-proliferative DR (NPDR); ``2/`` moderate NPDR;
  ``3/`` severe NPDR; ``4/`` proliferative DR (PDR).

(DDR also has an "ungradable" class; the 5-grade task leaves it out, and so does this sample.)

Like :mod:`fundus_utils.samples.pm`, every image starts from scikit-image's CC0 fundus photograph:
:func:`fundus_utils.samples.pm.render_sample` renders a *normal* eye ("N") with all of that module's
per-image variation (eye, fixation, rotation, exposure, white balance, haze, blur, noise, dust,
JPEG quality). This module then paints grade-specific findings of increasing severity on top,
positioned in the photograph's own (canonical) frame and mapped into the image with the
render's affine matrix, so they follow the flip, rotation and zoom of each image:

* grade 0: none;
* grade 1: a few microaneurysms (tiny dark-red dots);
* grade 2: more microaneurysms, dot/blot haemorrhages and a few hard exudates (yellow);
* grade 3: many haemorrhages (dot, blot, flame-shaped), clusters of exudates, cotton-wool spots;
* grade 4: grade-3 findings plus neovascularisation (fine tortuous vessels at the disc or
  elsewhere) and/or a boat-shaped pre-retinal haemorrhage.

Findings darken or brighten the rendered pixels multiplicatively, so they take on each
image's white balance and exposure. Everything is synthetic: not patient data, not DDR.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ..core.atomic import building_folder
from ..core.config import SAMPLE_MARKER
from ..core.errors import FundusDataError
from ..core.progress import progress as progress_bar
from .archive import encode_jpeg
from .camera import image_rng, render_sample
from .lesions import GRADES, paint_grade
from .retina import (
    check_size,
)

__all__ = [
    "write_graded_sample",
    "GRADE_NAMES",
    "GRADED_IMAGE_SIZE",
]

GENERATOR_VERSION = "1"
GRADE_NAMES = ("no DR", "mild NPDR", "moderate NPDR", "severe NPDR", "PDR")
DEFAULT_PER_GRADE = 12
GRADED_IMAGE_SIZE = (354, 343)  # (width, height): a sixth of iChallenge-PM's 2124 x 2056
MAX_PER_GRADE = 9999  # four-digit file numbers
SPLIT_BASE = 100  # image streams: image_rng(seed, SPLIT_BASE + grade, index)
GRADES_NOTICE = (
    "SAMPLE SET: a generated 5-grade diabetic-retinopathy sample laid out like DDR (one folder "
    "per grade). Results on it are sample results, not DDR results."
)
SAMPLE_ORIGIN_GRADES = (
    "Base photograph: skimage.data.retina(), a colour fundus photograph of a normal left eye, "
    "CC0 public domain (Wikimedia Commons), shipped with scikit-image, rendered with the per-image "
    "variation of fundus_utils.samples.pm. Every finding (microaneurysms, haemorrhages, exudates, "
    "cotton-wool spots, new vessels) is synthetic, painted by fundus_utils.samples.grades. "
    "Not patient data; not DDR; not for any clinical use."
)


def file_names(per_grade: int) -> dict[int, list[str]]:
    """``{grade: ["g0_0001.jpg", ...]}``: what :func:`write_graded_sample` writes into each grade
    folder."""
    return {g: [f"g{g}_{i:04d}.jpg" for i in range(1, per_grade + 1)] for g in GRADES}


def graded_marker(per_grade: int, image_size: tuple[int, int], seed: int) -> dict:
    """What the marker file ``FUNDUS_SAMPLE.json`` of a graded sample holds."""
    return {
        "sample": True,
        "notice": GRADES_NOTICE,
        "origin": SAMPLE_ORIGIN_GRADES,
        "layout": "DDR-like class folders: 0/ ... 4/ (international clinical DR scale)",
        "generator": __name__,
        "generator_version": GENERATOR_VERSION,
        "seed": int(seed),
        "image_size": [int(v) for v in image_size],
        "per_grade": int(per_grade),
        "grades": {str(g): name for g, name in zip(GRADES, GRADE_NAMES)},
    }


def _check_args(per_grade: int, image_size) -> tuple[int, tuple[int, int]]:
    if (
        isinstance(per_grade, bool)
        or int(per_grade) != per_grade
        or not 1 <= per_grade <= MAX_PER_GRADE
    ):
        raise FundusDataError(
            f"per_grade: expected a whole number from 1 to {MAX_PER_GRADE}, found {per_grade!r}"
        )
    return int(per_grade), check_size(image_size)


def is_graded_sample(folder: Path) -> bool:
    """An earlier graded sample (its marker names this generator), which a new one may replace."""
    try:
        return (
            json.loads((folder / SAMPLE_MARKER).read_text(encoding="utf-8")).get("generator")
            == __name__
        )
    except (OSError, ValueError):
        return False


def render_graded(
    grade: int, index: int, *, image_size: tuple[int, int] = GRADED_IMAGE_SIZE, seed: int = 0
) -> tuple[np.ndarray, int]:
    """Image ``index`` (0-based) of ``grade``: (H x W x 3 uint8 RGB, JPEG quality).

    Drawn from its own random stream.
    """
    rng = image_rng(seed, SPLIT_BASE + grade, index)
    sample = render_sample(
        "N", rng, image_size
    )  # a normal eye with the sample's per-image variation
    return paint_grade(sample, grade, rng), sample.jpeg_quality


def write_graded_sample(
    out_dir: str | Path,
    *,
    per_grade: int = DEFAULT_PER_GRADE,
    image_size: tuple[int, int] = GRADED_IMAGE_SIZE,
    seed: int = 0,
    progress: bool = True,
) -> Path:
    """Write ``per_grade`` JPEGs into each of ``out_dir/0`` … ``out_dir/4``; return ``out_dir``.

    Taught in 06_convmixer, §5.

    ``image_size`` is (width, height). The same arguments give byte-identical files. Everything
    is written into a hidden folder beside ``out_dir``, the marker ``FUNDUS_SAMPLE.json`` last,
    and renamed into place only when complete, so an interrupted run leaves no partial sample.
    An existing ``out_dir`` is replaced only if it is empty or an earlier graded sample.
    Read it back with ``fundus_utils.class_folder_set(out_dir, image_size)``.
    """
    per_grade, size = _check_args(per_grade, image_size)
    out_dir = Path(out_dir).expanduser().absolute()
    with building_folder(
        out_dir, is_graded_sample, f"an earlier graded sample (with {SAMPLE_MARKER})"
    ) as tmp:
        names = file_names(per_grade)
        with progress_bar(
            total=per_grade * len(GRADES),
            desc="graded sample images",
            unit="img",
            disable=not progress,
        ) as bar:
            for grade in GRADES:
                folder = tmp / str(grade)
                folder.mkdir()
                for index, name in enumerate(names[grade]):
                    rgb, quality = render_graded(grade, index, image_size=size, seed=seed)
                    (folder / name).write_bytes(encode_jpeg(rgb, quality))
                    bar.update(1)
        marker = json.dumps(graded_marker(per_grade, size, seed), indent=2, sort_keys=True) + "\n"
        (tmp / SAMPLE_MARKER).write_text(marker, encoding="utf-8")  # last: the folder is complete
    return out_dir
