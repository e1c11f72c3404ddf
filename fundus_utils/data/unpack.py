"""Safe, idempotent unpacking of zip archives.

Every archive is checked entry by entry before anything is written: an entry
with an absolute path or ``..`` is refused, so nothing lands outside the target
folder. macOS debris (``__MACOSX/``, ``._*``, ``.DS_Store``) is never extracted.
Extraction goes to a temporary folder that is renamed into place only when
complete, so an interrupted run is never taken as finished.
"""

from __future__ import annotations

import shutil
import zipfile
from pathlib import Path, PurePosixPath

from ..core.atomic import building_folder
from ..core.errors import FundusDataError

__all__: list[str] = []  # internal: nothing here is part of the flat API (fu.<name>)

JUNK_NAMES = (".DS_Store", "Thumbs.db", "desktop.ini")


def is_junk(name: str) -> bool:
    """True for macOS/Windows debris that must never be taken as data."""
    parts = PurePosixPath(name.replace("\\", "/")).parts
    return any(p == "__MACOSX" or p.startswith("._") or p in JUNK_NAMES for p in parts)


def _safe_member_path(archive: Path, name: str) -> PurePosixPath:
    clean = name.replace("\\", "/")
    path = PurePosixPath(clean)
    if clean.startswith("/") or (len(clean) > 1 and clean[1] == ":") or ".." in path.parts:
        raise FundusDataError(
            f"{archive}: refused zip entry {name!r}: expected a relative path inside the archive, "
            "found one that would be written outside the target folder; nothing was extracted"
        )
    return path


def _is_symlink(info: zipfile.ZipInfo) -> bool:
    return (info.external_attr >> 16) & 0o170000 == 0o120000


def list_members(archive: str | Path) -> list[zipfile.ZipInfo]:
    """The archive's file entries that are safe to extract and not junk; refuses unsafe archives."""
    archive = Path(archive)
    try:
        with zipfile.ZipFile(archive) as zf:
            infos = zf.infolist()
    except zipfile.BadZipFile as exc:
        raise FundusDataError(
            f"{archive}: expected a zip archive, found a file zipfile cannot read ({exc})"
        ) from None
    members = []
    for info in infos:
        _safe_member_path(archive, info.filename)
        if _is_symlink(info):
            raise FundusDataError(
                f"{archive}: refused zip entry {info.filename!r}: expected a regular file, "
                "found a symbolic link; nothing was extracted"
            )
        if not info.is_dir() and not is_junk(info.filename):
            members.append(info)
    return members


def extract_zip(archive: str | Path, target: str | Path) -> Path:
    """Extract ``archive`` into ``target`` (which must not exist yet), atomically.

    Returns ``target``. Raises :class:`FundusDataError` for unreadable archives,
    unsafe entries and corrupt members; in every error case ``target`` is absent.
    """
    archive, target = Path(archive), Path(target)
    members = list_members(archive)
    try:
        with (
            building_folder(target, lambda folder: False, "nothing") as tmp,
            zipfile.ZipFile(archive) as zf,
        ):
            for info in members:
                dest = tmp.joinpath(*_safe_member_path(archive, info.filename).parts)
                dest.parent.mkdir(parents=True, exist_ok=True)
                with zf.open(info) as src, open(dest, "wb") as out:
                    shutil.copyfileobj(src, out, 1 << 20)
    except (zipfile.BadZipFile, OSError, EOFError) as exc:
        raise FundusDataError(
            f"{archive}: expected a complete zip archive, extraction failed: {exc}"
        ) from None
    return target
