"""A generated stand-in for iChallenge-PM, laid out exactly like the real AI Studio dataset.

The real data sits behind a login, so anyone without it gets a *sample* source built
deterministically from the one real fundus photograph that ships with scikit-image
(:func:`skimage.data.retina`, CC0). Every image is that photograph, moved and re-photographed
(rotation, scale, fixation, left/right eye, exposure, white balance, tone curves, haze, blur,
noise, JPEG quality) with class-specific findings painted on:

* P (pathologic myopia, label 1): peripapillary atrophy, patchy chorioretinal atrophy with
  pigmented borders, sometimes a Fuchs spot at the fovea; from subtle to obvious;
* H (high myopia, label 0): tessellated fundus and a small temporal crescent at the disc;
* N (normal, label 0): none.

Every class gets the same nuisance variation and the same distractors (light reflexes, disc
pallor, mild tessellation, small crescents, uneven light, flare, dust), drawn from one stream
in the same order, so colour statistics alone say little about the label.

Findings are painted in the photograph's own frame (the *canonical* frame: the square base
photograph resampled to ``side`` pixels, positions given as fractions of that side), then the
picture is warped once into the output frame, where the camera's look is added.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

import numpy as np
from tqdm import tqdm

from ..core.atomic import building_folder, retry_in_use
from ..core.config import (
    CLASS_PREFIXES,
    LABEL_COLUMNS,
    NESTED_TRAIN_ZIP,
    SAMPLE_MARKER,
    SAMPLE_NOTICE,
    SUBCLASS_NAMES,
    TRAIN_DIR_NAME,
    TRAIN_ZIP,
    VALID_DIR_NAME,
    VALID_GT_DIR_NAME,
    VALID_GT_ZIP,
    VALID_XLSX_NAME,
    VALID_ZIP,
)
from ..core.errors import FundusDataError
from ..core.progress import progress as progress_bar
from .archive import (
    APPLEDOUBLE_JUNK,
    ATROPHY_MASK_DIR,
    DF_ANNOTATION_DIR,
    DISC_MASK_DIR,
    LESION_ANNOTATION_DIR,
    MACOS_JUNK_DIR,
    N_DISC_MASKS_PER_CLASS,
    N_LESION_MASKS,
    N_VALID_DISC_MASKS,
    ZipWriter,
    bmp,
    encode_jpeg,
    write_zip,
    xlsx,
    zip_bytes,
)
from .camera import SampleImage, image_rng, render_sample
from .retina import DEFAULT_IMAGE_SIZE, FULL_IMAGE_SIZE, check_size

__all__ = ["write_sample_source", "SAMPLE_ORIGIN", "FULL_VALID_PM", "FULL_VALID_TOTAL"]

GENERATOR_VERSION = "2"
SAMPLE_ORIGIN = (
    "Base photograph: skimage.data.retina(), a colour fundus photograph of a normal left eye, "
    "CC0 public domain (Wikimedia Commons), shipped with scikit-image. Every finding "
    "(peripapillary and patchy chorioretinal atrophy, Fuchs spots, tessellation, myopic crescents) "
    "and every per-image variation is synthetic, painted by fundus_utils.samples.pm. "
    "Not patient data; not iChallenge-PM; not for any clinical use."
)

# --- sizes of the real dataset and of the default sample --------------------------------------
FULL_TRAIN_COUNTS = {"H": 26, "N": 161, "P": 213}  # iChallenge-PM training split
FULL_VALID_TOTAL = 400
FULL_VALID_PM = 211  # validation images with Label 1
DEFAULT_N_TRAIN = 60
DEFAULT_N_VALID = 40
CPU_N_TRAIN = 400  # the CPU budget's sample (run_settings' "cpu" mode): as many images as the
CPU_N_VALID = 400  # real splits, at the default resolution, so that every network can learn
MAX_IMAGES_PER_SPLIT = 9999  # four-digit file numbers


SPLIT_PLAN, SPLIT_TRAIN, SPLIT_VALID = 0, 1, 2  # stream ids: every image has its own random stream


# ============================================================================================
# Planning: which files, which classes
# ============================================================================================


@dataclass(frozen=True)
class SamplePlan:
    """What a sample source will hold: file names and classes ("H", "N", "P") of both splits."""

    image_size: tuple[int, int]  # (width, height)
    train: tuple[tuple[str, str], ...]  # (file name, class), sorted by name
    valid: tuple[tuple[str, str], ...]  # (file name, class), V0001.jpg ...
    seed: int
    full: bool

    def train_counts(self) -> dict[str, int]:
        """Training images per class."""
        return _count(kind for _, kind in self.train)

    def valid_counts(self) -> dict[str, int]:
        """Validation images per class."""
        return _count(kind for _, kind in self.valid)

    def valid_pm(self) -> int:
        """Validation images with Label 1."""
        return sum(CLASS_PREFIXES[kind] for _, kind in self.valid)


def _count(kinds: Iterable[str]) -> dict[str, int]:
    kinds = list(kinds)
    return {k: kinds.count(k) for k in CLASS_PREFIXES}


def _apportion(total: int, weights: dict[str, int]) -> dict[str, int]:
    """Split ``total`` in proportion to ``weights`` (largest remainder; exact when total = sum)."""
    whole = sum(weights.values())
    shares = {k: total * w / whole for k, w in weights.items()}
    counts = {k: math.floor(s) for k, s in shares.items()}
    by_remainder = sorted(weights, key=lambda k: (counts[k] - shares[k], k))
    for k in by_remainder[: total - sum(counts.values())]:
        counts[k] += 1
    return counts


def _valid_counts(n_valid: int) -> dict[str, int]:
    """Validation classes: the real PM share; non-PM split H:N like the training split."""
    pm = _apportion(n_valid, {"P": FULL_VALID_PM, "non": FULL_VALID_TOTAL - FULL_VALID_PM})
    h_n = _apportion(pm["non"], {k: FULL_TRAIN_COUNTS[k] for k in ("H", "N")})
    return {"H": h_n["H"], "N": h_n["N"], "P": pm["P"]}


def _check_count(name: str, n: int) -> int:
    if isinstance(n, bool) or int(n) != n or not 1 <= n <= MAX_IMAGES_PER_SPLIT:
        raise FundusDataError(
            f"{name}: expected a whole number from 1 to {MAX_IMAGES_PER_SPLIT}, found {n!r}"
        )
    return int(n)


def plan_sample(
    *,
    full: bool = False,
    n_train: int | None = None,
    n_valid: int | None = None,
    image_size: tuple[int, int] | None = None,
    seed: int = 0,
) -> SamplePlan:
    """File names and classes that :func:`write_sample_source` writes for these arguments.

    Renders nothing.
    """
    n_train = _check_count(
        "n_train",
        n_train
        if n_train is not None
        else (sum(FULL_TRAIN_COUNTS.values()) if full else DEFAULT_N_TRAIN),
    )
    n_valid = _check_count(
        "n_valid",
        n_valid if n_valid is not None else (FULL_VALID_TOTAL if full else DEFAULT_N_VALID),
    )
    size = check_size(image_size or (FULL_IMAGE_SIZE if full else DEFAULT_IMAGE_SIZE))
    train_counts = _apportion(n_train, FULL_TRAIN_COUNTS)
    train = tuple(
        (f"{kind}{i:04d}.jpg", kind)
        for kind in sorted(train_counts)
        for i in range(1, train_counts[kind] + 1)
    )
    valid_kinds = [kind for kind, n in sorted(_valid_counts(n_valid).items()) for _ in range(n)]
    order = np.random.default_rng([seed, SPLIT_PLAN]).permutation(len(valid_kinds))
    valid = tuple((f"V{i + 1:04d}.jpg", valid_kinds[j]) for i, j in enumerate(order))
    return SamplePlan(size, train, valid, int(seed), bool(full))


def sample_marker(plan: SamplePlan) -> dict:
    """What ``FUNDUS_SAMPLE.json`` holds for ``plan``."""
    return {
        "sample": True,
        "notice": SAMPLE_NOTICE,
        "origin": SAMPLE_ORIGIN,
        "generator": __name__,
        "generator_version": GENERATOR_VERSION,
        "seed": plan.seed,
        "full": plan.full,
        "image_size": list(plan.image_size),
        "counts": {
            "train": plan.train_counts(),
            "valid": plan.valid_counts(),
            "valid_pm": plan.valid_pm(),
        },
        "classes": SUBCLASS_NAMES,
    }


# ============================================================================================
# Writing a whole source
# ============================================================================================


def _first_of(items: Iterable[tuple[str, str]], kinds: str, per_kind: int) -> list[str]:
    items = list(items)
    return sorted(name for kind in kinds for name in [n for n, k in items if k == kind][:per_kind])


def _stem(name: str) -> str:
    return name.rsplit(".", 1)[0]


def _render_split(
    zw: ZipWriter,
    folder: str,
    items: tuple[tuple[str, str], ...],
    split: int,
    plan: SamplePlan,
    keep: Iterable[str],
    bar: tqdm,
) -> tuple[dict[str, SampleImage], list[dict]]:
    """Render, encode and add one split's images; returns the images named in ``keep`` and the
    xlsx rows."""
    keep, kept, rows = set(keep), {}, []
    for index, (name, kind) in enumerate(items):
        sample = render_sample(kind, image_rng(plan.seed, split, index), plan.image_size)
        zw.add(f"{folder}/{name}", encode_jpeg(sample.image, sample.jpeg_quality))
        rows.append(
            dict(
                zip(
                    LABEL_COLUMNS,
                    (
                        index + 1,
                        name,
                        CLASS_PREFIXES[kind],
                        round(sample.fovea[0], 2),
                        round(sample.fovea[1], 2),
                    ),
                )
            )
        )
        if name in keep:
            kept[name] = sample
        bar.update(1)
    return kept, rows


def _write_training(tmp: Path, plan: SamplePlan, marker: bytes, bar: tqdm) -> None:
    disc_names = _first_of(plan.train, "HNP", N_DISC_MASKS_PER_CLASS)
    lesion_names = _first_of(plan.train, "P", N_LESION_MASKS)
    nested = tmp / NESTED_TRAIN_ZIP
    with ZipWriter(nested) as zw:
        kept, _ = _render_split(
            zw, TRAIN_DIR_NAME, plan.train, SPLIT_TRAIN, plan, disc_names + lesion_names, bar
        )
    lesion_zip = zip_bytes(
        {
            f"{LESION_ANNOTATION_DIR}/{ATROPHY_MASK_DIR}/{_stem(n)}.bmp": bmp(
                kept[n].atrophy_mask()
            )
            for n in lesion_names
        }
    )
    entries: dict[str, bytes | Path] = {
        SAMPLE_MARKER: marker,
        f"{TRAIN_DIR_NAME}/{NESTED_TRAIN_ZIP}": nested,
        f"{TRAIN_DIR_NAME}/{LESION_ANNOTATION_DIR}.zip": lesion_zip,
        f"{MACOS_JUNK_DIR}/{TRAIN_DIR_NAME}/._{NESTED_TRAIN_ZIP}": APPLEDOUBLE_JUNK,
    }
    for n in disc_names:
        entries[f"{TRAIN_DIR_NAME}/{DF_ANNOTATION_DIR}/{DISC_MASK_DIR}/{_stem(n)}.bmp"] = bmp(
            kept[n].disc_mask()
        )
    write_zip(tmp / TRAIN_ZIP, entries)
    # Retried while an antivirus on Windows still scans the zip just written.
    retry_in_use(nested.unlink, nested, "remove it")


def _write_validation(tmp: Path, plan: SamplePlan, bar: tqdm) -> None:
    mask_names = [name for name, _ in plan.valid[:N_VALID_DISC_MASKS]]
    with ZipWriter(tmp / VALID_ZIP) as zw:
        kept, rows = _render_split(
            zw, VALID_DIR_NAME, plan.valid, SPLIT_VALID, plan, mask_names, bar
        )
    entries: dict[str, bytes | Path] = {f"{VALID_GT_DIR_NAME}/{VALID_XLSX_NAME}": xlsx(rows)}
    for name in mask_names:
        entries[f"{VALID_GT_DIR_NAME}/{DISC_MASK_DIR}/{_stem(name)}.bmp"] = bmp(
            kept[name].disc_mask()
        )
    write_zip(tmp / VALID_GT_ZIP, entries)


def is_sample_source(folder: Path) -> bool:
    """An earlier sample source (it carries the marker), which a new one may replace."""
    return (folder / SAMPLE_MARKER).is_file()


def write_sample_source(
    out_dir: str | Path,
    *,
    full: bool = False,
    n_train: int | None = None,
    n_valid: int | None = None,
    image_size: tuple[int, int] | None = None,
    seed: int = 0,
    progress: bool = True,
) -> Path:
    """Write a generated sample source, laid out exactly like AI Studio's iChallenge-PM, into
    ``out_dir``.

    Not used in the notebooks; fu.prepare_data uses it to build the sample set.

    ``out_dir`` gets ``training.zip`` (a nested ``PALM-Training400/PALM-Training400.zip`` plus
    annotation stand-ins and macOS debris), ``validation.zip``, ``valid_gt.zip`` and the marker
    ``FUNDUS_SAMPLE.json`` (also at the root of ``training.zip``). Default: 60 training and 40
    validation images at a third of the real resolution; ``full=True``: 400 + 400 at 2124 x 2056.
    ``n_train``, ``n_valid`` and ``image_size`` (width, height) override; class proportions follow
    the real dataset. The same arguments give byte-identical files. Everything is built in a
    hidden folder beside ``out_dir`` and renamed into place only when complete. An existing
    ``out_dir`` is replaced only if it is empty or an earlier sample source.
    """
    plan = plan_sample(
        full=full, n_train=n_train, n_valid=n_valid, image_size=image_size, seed=seed
    )
    out_dir = Path(out_dir).expanduser().absolute()
    with building_folder(
        out_dir, is_sample_source, f"an earlier sample source (with {SAMPLE_MARKER})"
    ) as tmp:
        marker = (json.dumps(sample_marker(plan), indent=2, sort_keys=True) + "\n").encode()
        with progress_bar(
            total=len(plan.train) + len(plan.valid),
            desc="sample images",
            unit="img",
            disable=not progress,
        ) as bar:
            _write_training(tmp, plan, marker, bar)
            _write_validation(tmp, plan, bar)
        (tmp / SAMPLE_MARKER).write_bytes(marker)  # last: the folder is complete
    return out_dir
