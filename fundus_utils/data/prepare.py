"""``prepare_data``: find the dataset, unpack it once, label and check it, say what was found."""

from __future__ import annotations

import hashlib
import json
import shutil
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

import cv2

from ..core.atomic import building_folder, remove_tree, replace
from ..core.config import (
    LABELS_CSV_NAME,
    NESTED_TRAIN_ZIP,
    PREPARED_MARKER,
    SAMPLE_MARKER,
    SAMPLE_NOTICE,
    TRAIN_DIR_NAME,
    TRAIN_ZIP,
    VALID_DIR_NAME,
    VALID_GT_DIR_NAME,
    VALID_GT_ZIP,
    VALID_ZIP,
)
from ..core.errors import FundusDataError
from ..core.hardware import usable_cpu_count
from ..core.paths import default_workdir, display_path
from ..core.progress import progress as progress_bar
from .images import read_image_bytes
from .labels import convert_xlsx_to_csv, training_labels
from .source import Source, find_extracted, find_source, inspect_source
from .unpack import extract_zip, is_junk

__all__ = ["PreparedData", "prepare_data"]

PREPARE_VERSION = 1
SAMPLE_SIZES = ("default", "cpu", "full")  # 60/40 small, 400/400 small, 400/400 at 2124x2056
SAMPLE_FOLDERS = {
    "default": "sample-source",
    "cpu": "sample-cpu-source",
    "full": "sample-full-source",
}


@dataclass
class PreparedData:
    """A dataset ready to load: where the images and labels are, how many, and what was skipped.

    Not used in the notebooks; fu.prepare_data returns one (``DATA``).
    """

    source_kind: str  # "real" or "sample"
    source: str  # where the data came from
    root: Path  # the prepared folder (caches live below it)
    train_dir: Path
    valid_dir: Path
    labels_csv: Path
    n_train: int
    n_train_pm: int
    n_valid: int
    n_valid_pm: int
    skipped: list[dict] = field(default_factory=list)  # {"file": …, "why": …}
    fingerprint: str = ""

    @property
    def is_sample(self) -> bool:
        return self.source_kind == "sample"

    @property
    def skipped_names(self) -> frozenset[str]:
        return frozenset(Path(s["file"]).name for s in self.skipped)

    def to_json(self) -> dict:
        """Plain-JSON view (paths as strings), as printed by ``prepare --json``."""
        return {k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(self).items()}

    @classmethod
    def from_json(cls, data: dict) -> "PreparedData":
        paths = {"root", "train_dir", "valid_dir", "labels_csv"}
        return cls(
            **{
                k: (Path(v) if k in paths else v)
                for k, v in data.items()
                if k in cls.__dataclass_fields__
            }
        )

    def summary(self) -> str:
        """A few human lines: which data, how many images of each class, what was skipped."""
        lines = [
            f"Data: {self.source_kind} ({display_path(self.source)})",
            f"  training:   {self.n_train} images, {self.n_train_pm} PM  "
            f"({display_path(self.train_dir)})",
            f"  validation: {self.n_valid} images, {self.n_valid_pm} PM  "
            f"({display_path(self.valid_dir)})",
        ]
        lines += [f"  skipped {s['file']}: {s['why']}" for s in self.skipped]
        if self.is_sample:
            lines.append(SAMPLE_NOTICE)
        return "\n".join(lines)


# --- the sample set ------------------------------------------------------------------------------


def ensure_sample_source(workdir: Path, size: str = "default", progress: bool = True) -> Source:
    """The generated sample source in ``workdir`` (written on first use, atomically)."""
    if size not in SAMPLE_SIZES:
        raise ValueError(f"sample size must be one of {SAMPLE_SIZES}, got {size!r}")
    from ..samples.pm import (  # numpy/skimage-heavy; only needed here
        CPU_N_TRAIN,
        CPU_N_VALID,
        write_sample_source,
    )

    folder = workdir / SAMPLE_FOLDERS[size]
    if not sample_is_current(folder):
        remove_tree(folder)  # whole or not at all (a zip still open on Windows: a clear error)
        print(
            f"Generating the sample set in {display_path(folder)} (once) …",
            file=sys.stderr,
            flush=True,
        )
        counts = {"n_train": CPU_N_TRAIN, "n_valid": CPU_N_VALID} if size == "cpu" else {}
        write_sample_source(folder, full=(size == "full"), progress=progress, **counts)
    return inspect_source(folder, "generated sample set")


def sample_is_current(folder: Path) -> bool:
    """A complete sample source written by this version of the generator (else it is made again)."""
    from ..samples.pm import GENERATOR_VERSION

    try:
        marker = json.loads((folder / SAMPLE_MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return str(marker.get("generator_version")) == str(GENERATOR_VERSION)


# --- unpacking zips ----------------------------------------------------------------------------


def _single_match(paths: list[Path], what: str, where: Path) -> Path:
    if not paths:
        raise FundusDataError(f"{where}: expected {what}, found none")
    return sorted(paths, key=lambda p: (len(p.parts), str(p)))[0]


def _unpack_zips(source: Source, into: Path) -> tuple[Path, Path, Path]:
    """Unpack the three AI Studio zips below ``into``; return (train dir, valid dir, xlsx)."""
    training = extract_zip(source.path / TRAIN_ZIP, into / "_training")
    nested = [
        p for p in training.rglob(NESTED_TRAIN_ZIP) if not is_junk(str(p.relative_to(training)))
    ]
    if nested:
        inner = extract_zip(
            _single_match(nested, NESTED_TRAIN_ZIP, source.path / TRAIN_ZIP),
            into / "_training_inner",
        )
        train = find_extracted(inner).get("train")
    else:  # some copies hold the folder directly instead of a zip inside the zip
        train = find_extracted(training).get("train")
    if train is None:
        raise FundusDataError(
            f"{source.path / TRAIN_ZIP}: expected {NESTED_TRAIN_ZIP} or a {TRAIN_DIR_NAME}/ "
            "folder of H/N/P images inside, found neither"
        )
    valid = find_extracted(extract_zip(source.path / VALID_ZIP, into / "_validation")).get("valid")
    if valid is None:
        raise FundusDataError(
            f"{source.path / VALID_ZIP}: expected a {VALID_DIR_NAME}/ folder of images inside, "
            "found none"
        )
    xlsx = find_extracted(extract_zip(source.path / VALID_GT_ZIP, into / "_valid_gt")).get("xlsx")
    if xlsx is None:
        raise FundusDataError(
            f"{source.path / VALID_GT_ZIP}: expected {VALID_GT_DIR_NAME}/"
            "PM_Label_and_Fovea_Location.xlsx inside, found none"
        )
    # Keep only what the course reads, under the canonical names (renames inside ``into``;
    # retried while an antivirus on Windows still scans the files just extracted).
    replace(train, into / TRAIN_DIR_NAME, "move it into place", name=train)
    replace(valid, into / VALID_DIR_NAME, "move it into place", name=valid)
    (into / VALID_GT_DIR_NAME).mkdir()
    replace(xlsx, into / VALID_GT_DIR_NAME / xlsx.name, "move it into place", name=xlsx)
    train, valid = into / TRAIN_DIR_NAME, into / VALID_DIR_NAME
    xlsx = into / VALID_GT_DIR_NAME / xlsx.name
    for scratch in ("_training", "_training_inner", "_validation", "_valid_gt"):
        shutil.rmtree(into / scratch, ignore_errors=True)
    return train, valid, xlsx


# --- checking images ---------------------------------------------------------------------------


def _why_unreadable(path: Path) -> str | None:
    try:
        data = read_image_bytes(path)
    except FundusDataError as exc:
        return str(exc).split(": ", 1)[1]
    if cv2.imdecode(data, cv2.IMREAD_REDUCED_COLOR_8) is None:
        return (
            "expected a JPEG/PNG image, found data OpenCV cannot decode (corrupt or not an image)"
        )
    return None


def find_unreadable(paths: list[Path], progress: bool = True) -> list[dict]:
    """Decode every image once (in parallel, at 1/8 size); list the unreadable ones, and why."""
    with ThreadPoolExecutor(max_workers=usable_cpu_count()) as pool:
        reasons = list(
            progress_bar(
                pool.map(_why_unreadable, paths),
                total=len(paths),
                desc="checking images",
                disable=not progress,
                leave=False,
            )
        )
    return [{"file": str(p), "why": why} for p, why in zip(paths, reasons) if why]


# --- prepare -----------------------------------------------------------------------------------


def _load_prepared(root: Path) -> PreparedData | None:
    try:
        return PreparedData.from_json(
            json.loads((root / PREPARED_MARKER).read_text(encoding="utf-8"))
        )
    except (OSError, ValueError, TypeError):
        return None


def _build(source: Source, root: Path, progress: bool) -> PreparedData:
    with building_folder(root, lambda folder: True, "an earlier prepared folder") as tmp:
        if source.layout == "zips":
            train_dir, valid_dir, xlsx = _unpack_zips(source, tmp)
        else:
            train_dir, valid_dir, xlsx = source.train_dir, source.valid_dir, source.xlsx
        train = training_labels(train_dir)  # refuses names not starting H/N/P
        labels_csv = tmp / VALID_GT_DIR_NAME / LABELS_CSV_NAME
        valid = convert_xlsx_to_csv(xlsx, labels_csv, image_dir=valid_dir)
        images = [train_dir / n for n in train["imgName"]] + [
            valid_dir / n for n in valid["imgName"]
        ]
        skipped = find_unreadable(images, progress)
        bad = {Path(s["file"]).name for s in skipped}
        train, valid = train[~train["imgName"].isin(bad)], valid[~valid["imgName"].isin(bad)]

        def final(p: Path) -> Path:  # paths as they will be after the rename below
            return root / p.relative_to(tmp) if tmp in p.parents else p

        prepared = PreparedData(
            source_kind=source.kind,
            source=str(source.path),
            root=root,
            train_dir=final(train_dir),
            valid_dir=final(valid_dir),
            labels_csv=final(labels_csv),
            n_train=len(train),
            n_train_pm=int(train["Label"].sum()),
            n_valid=len(valid),
            n_valid_pm=int(valid["Label"].sum()),
            skipped=[{"file": str(final(Path(s["file"]))), "why": s["why"]} for s in skipped],
            fingerprint=source.fingerprint(),
        )
        marker = dict(
            prepared.to_json(),
            prepare_version=PREPARE_VERSION,
            found_by=source.found_by,
            prepared_at=time.strftime("%Y-%m-%d %H:%M:%S"),
        )
        # Written last, inside tmp; json.dumps escapes non-ASCII paths, UTF-8 names it anyway.
        (tmp / PREPARED_MARKER).write_text(json.dumps(marker, indent=1), encoding="utf-8")
    return prepared


def prepared_folder_name(source: Source, workdir: Path) -> str:
    """``sample``/``sample-cpu``/``sample-full`` for a generated sample; else the kind plus a
    hash of the source's path."""
    if source.path.parent == workdir:
        return source.path.name.removesuffix("-source")
    return f"{source.kind}-{hashlib.sha1(str(source.path).encode()).hexdigest()[:8]}"


def prepare_data(
    source: str | Path | None = None,
    workdir: str | Path | None = None,
    *,
    sample: str = "default",
    progress: bool = True,
    verbose: bool = True,
) -> PreparedData:
    """Find the dataset, unpack it once, label it and check it; return where everything is.

    Taught in 00_data, §3; every notebook calls it in its setup cells.

    Search order: ``source`` → ``FUNDUS_DATA`` → AI Studio mounts → the repository's
    ``data/`` → the generated sample set (``sample`` = "default", "cpu" or "full"). The work
    folder (``workdir``, else :func:`default_workdir`) receives the unpacked data and
    ``labels.csv``; a second call with an unchanged source does no work.
    """
    workdir = Path(workdir).expanduser().resolve() if workdir else default_workdir()
    workdir.mkdir(parents=True, exist_ok=True)
    found = find_source(source)
    if found is None:
        found = ensure_sample_source(workdir, sample, progress)
    root = workdir / prepared_folder_name(found, workdir)
    prepared = _load_prepared(root)
    if (
        prepared is None
        or prepared.fingerprint != found.fingerprint()
        or prepared.source != str(found.path)
    ):
        prepared = _build(found, root, progress)
    if verbose:
        print(prepared.summary(), flush=True)
    return prepared
