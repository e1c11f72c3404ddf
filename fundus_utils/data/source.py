"""Finding the dataset: where it is, and in which layout (the three zips, or extracted folders)."""

from __future__ import annotations

import glob
import hashlib
import json
import os
import zipfile
from dataclasses import dataclass
from pathlib import Path

from ..core.config import (
    AISTUDIO_DATA_ROOT,
    AISTUDIO_DATASET_DIR,
    ENV_DATA,
    SAMPLE_MARKER,
    SOURCE_ZIPS,
    TRAIN_DIR_NAME,
    TRAIN_ZIP,
    VALID_DIR_NAME,
    VALID_XLSX_NAME,
)
from ..core.errors import FundusDataError
from ..core.paths import default_workdir, repo_data_dir
from .labels import is_image_file
from .unpack import is_junk

__all__ = ["find_source"]

MAX_SEARCH_DEPTH = 4


@dataclass(frozen=True)
class Source:
    """A dataset source: ``layout`` is "zips" (as AI Studio ships it) or "folders" (extracted)."""

    path: Path
    layout: str
    is_sample: bool
    found_by: str
    train_dir: Path | None = None  # folders layout only
    valid_dir: Path | None = None
    xlsx: Path | None = None

    @property
    def kind(self) -> str:
        return "sample" if self.is_sample else "real"

    def fingerprint(self) -> str:
        """Changes whenever a file of the source is added, removed, renamed or resized.

        Built from names and sizes (for the zips also every entry's name, size and CRC from
        the zip's directory), never from modification times: AI Studio mounts its datasets
        afresh on every restart, with new times, and a changed fingerprint unpacks everything
        again.
        """
        if self.layout == "zips":
            files = [self.path / z for z in SOURCE_ZIPS]
        else:
            files = [self.xlsx] + sorted(
                p for d in (self.train_dir, self.valid_dir) for p in d.iterdir()
            )
        stats = [(self._name(f), f.stat().st_size, _zip_directory(f)) for f in files]
        return hashlib.sha1(json.dumps([self.layout, stats]).encode()).hexdigest()

    def _name(self, file: Path) -> str:
        try:
            return file.relative_to(self.path).as_posix()
        except ValueError:
            return str(file)


def _zip_directory(file: Path) -> list[tuple[str, int, int]]:
    """Name, size and CRC of every entry of a zip (read from its directory: no decompression);
    empty for any other file, or a zip too damaged to read (unpacking then says what is wrong)."""
    if file.suffix.lower() != ".zip":
        return []
    try:
        with zipfile.ZipFile(file) as archive:
            return [(i.filename, i.file_size, i.CRC) for i in archive.infolist()]
    except (OSError, zipfile.BadZipFile):
        return []


def generated_folders() -> set[Path]:
    """Folders the course writes itself (work folder, the checkout's data/work): never a source."""
    folders = {default_workdir().resolve()}
    data_dir = repo_data_dir()
    if data_dir is not None:
        folders.add((data_dir / "work").resolve())
    return folders


def _walk_dirs(root: Path, skip: set[Path]) -> list[Path]:
    found = []
    for dirpath, dirnames, _ in os.walk(root):
        here = Path(dirpath)
        depth = len(here.relative_to(root).parts)
        dirnames[:] = sorted(
            d
            for d in dirnames
            if not is_junk(d) and not d.startswith(".") and (here / d).resolve() not in skip
        )
        if depth >= MAX_SEARCH_DEPTH:
            dirnames[:] = []
        found.append(here)
    return found


def _holds_images(folder: Path) -> bool:
    return any(is_image_file(p) for p in folder.iterdir() if p.is_file())


def find_extracted(root: Path, skip: set[Path] = frozenset()) -> dict[str, Path]:
    """Locate extracted training/validation folders and the label workbook below ``root``."""
    found: dict[str, Path] = {}
    for d in _walk_dirs(root, skip):
        if d.name == TRAIN_DIR_NAME and "train" not in found and _holds_images(d):
            found["train"] = d
        elif d.name == VALID_DIR_NAME and "valid" not in found and _holds_images(d):
            found["valid"] = d
        if "xlsx" not in found and (d / VALID_XLSX_NAME).is_file():
            found["xlsx"] = d / VALID_XLSX_NAME
    return found


def _has_sample_marker(folder: Path) -> bool:
    if (folder / SAMPLE_MARKER).is_file():
        return True
    train_zip = folder / TRAIN_ZIP
    try:
        with zipfile.ZipFile(train_zip) as zf:
            return SAMPLE_MARKER in zf.namelist()
    except (OSError, zipfile.BadZipFile):
        return False


def inspect_source(folder: str | Path, found_by: str = "argument") -> Source | None:
    """What ``folder`` holds: a :class:`Source`, ``None`` if nothing of the dataset, or an error
    if incomplete."""
    folder = Path(folder).expanduser().resolve()
    if not folder.is_dir():
        raise FundusDataError(
            f"{folder}: expected a folder holding the iChallenge-PM data, found no such folder"
        )
    zips = [z for z in SOURCE_ZIPS if (folder / z).is_file()]
    if len(zips) == len(SOURCE_ZIPS):
        return Source(folder, "zips", _has_sample_marker(folder), found_by)
    parts = find_extracted(folder, skip=generated_folders())
    if len(parts) == 3:
        return Source(
            folder,
            "folders",
            _has_sample_marker(folder),
            found_by,
            parts["train"],
            parts["valid"],
            parts["xlsx"],
        )
    if zips or parts:
        have = zips + [p.name for p in parts.values()]
        raise FundusDataError(
            f"{folder}: expected either the three zips {list(SOURCE_ZIPS)} or the extracted "
            f"folders {TRAIN_DIR_NAME}/, {VALID_DIR_NAME}/ and {VALID_XLSX_NAME}; found only {have}"
        )
    return None


def aistudio_candidates() -> list[Path]:
    """AI Studio dataset mounts: data19065 first, then any other ``data*`` folder."""
    others = sorted(Path(p) for p in glob.glob(os.path.join(AISTUDIO_DATA_ROOT, "data*")))
    return [Path(AISTUDIO_DATASET_DIR)] + [p for p in others if p != Path(AISTUDIO_DATASET_DIR)]


def find_source(explicit: str | Path | None = None) -> Source | None:
    """Search order: ``explicit`` → ``FUNDUS_DATA`` → AI Studio mounts → the repo's ``data/``.

    Taught in 00_data, §3.

    An explicit folder (argument or variable) must hold the data, else it is an
    error. Returns ``None`` when nothing is found (the caller falls back to the sample set).
    """
    if explicit is not None:
        return _require(inspect_source(explicit, "argument"), explicit, "the source argument")
    if os.environ.get(ENV_DATA):
        return _require(
            inspect_source(os.environ[ENV_DATA], ENV_DATA), os.environ[ENV_DATA], ENV_DATA
        )
    for mount in aistudio_candidates():
        if mount.is_dir() and all((mount / z).is_file() for z in SOURCE_ZIPS):
            return inspect_source(mount, "AI Studio mount")
    data_dir = repo_data_dir()
    if data_dir is not None and data_dir.is_dir():
        return inspect_source(data_dir, "repository data/ folder")
    return None


def _require(source: Source | None, folder: str | Path, given_by: str) -> Source:
    if source is None:
        raise FundusDataError(
            f"{Path(folder).resolve()} (from {given_by}): expected the three zips "
            f"{list(SOURCE_ZIPS)} or the extracted folders {TRAIN_DIR_NAME}/, {VALID_DIR_NAME}/ "
            f"and {VALID_XLSX_NAME} "
            f"(searched {MAX_SEARCH_DEPTH} levels deep), found none of them"
        )
    return source
