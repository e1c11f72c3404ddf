"""Write files and folders so that they are either complete or absent: build beside, then rename."""

from __future__ import annotations

import os
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator

from .errors import FundusDataError

__all__: list[str] = []  # internal: nothing here is part of the flat API (fu.<name>)

FOLDER_MODE = 0o755  # mkdtemp makes folders private (0700)


def write_file(path: str | Path, write: Callable[[str], None]) -> Path:
    """Run ``write(temporary_path)``, flush it to disk, then ``os.replace`` it onto ``path``.

    The temporary file is hidden (``.name.<pid>.tmp``) in the same folder, so the rename is
    atomic and a reader sees the old complete file or the new one; it is removed if ``write`` fails.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        write(str(temporary))
        descriptor = os.open(temporary, os.O_RDONLY)
        try:
            os.fsync(descriptor)
        finally:
            os.close(descriptor)
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
    return path


def install(tmp: Path, target: Path) -> None:
    """Rename the finished ``tmp`` to ``target``; an existing ``target`` is replaced (and put back
    on failure)."""
    if not target.exists():
        os.replace(tmp, target)
        return
    old = Path(tempfile.mkdtemp(prefix=f".{target.name}.old-", dir=target.parent))
    os.replace(target, old / target.name)
    try:
        os.replace(tmp, target)
    except BaseException:
        os.replace(old / target.name, target)
        raise
    finally:
        shutil.rmtree(old, ignore_errors=True)


@contextmanager
def building_folder(
    target: str | Path, may_replace: Callable[[Path], bool], what: str
) -> Iterator[Path]:
    """Yield a hidden temporary folder beside ``target``; it becomes ``target`` when the block
    completes.

    ``target`` may exist only if it is empty or ``may_replace(target)`` says it is an earlier
    ``what`` (e.g. "an earlier sample source"); anything else is refused and left untouched.
    If the block fails, the temporary folder is removed and ``target`` is as it was.
    """
    target = Path(target).expanduser().absolute()
    if target.exists() and not (
        target.is_dir() and (not any(target.iterdir()) or may_replace(target))
    ):
        raise FundusDataError(
            f"{target}: expected a missing or empty folder, or {what}; "
            "found other content, left untouched"
        )
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.partial-", dir=target.parent))
    try:
        os.chmod(tmp, FOLDER_MODE)
        yield tmp
        install(tmp, target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
