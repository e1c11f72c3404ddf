"""Write files and folders so that they are either complete or absent: build beside, then rename.

Windows refuses to rename, replace or delete a file that a process holds open or memory-mapped,
and a folder holding such a file (``PermissionError``, WinError 5 or 32): a second notebook kernel
reading the same image cache, or OneDrive or an antivirus scanning a file just written. Every
rename and removal here therefore retries for about a second and a half, then raises
:class:`FileInUseError`, which names the file and says what to do. No failure leaves a
half-written file or folder under its real name, and nothing complete is removed before its
replacement is in place.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator, TypeVar

from .errors import FundusDataError

__all__: list[str] = []  # internal: nothing here is part of the flat API (fu.<name>)

FOLDER_MODE = 0o755  # mkdtemp makes folders private (0700)
# Pauses between attempts while Windows says a file is in use: about 1.5 s in all, enough for an
# antivirus or OneDrive to let go of a file it is scanning, short enough not to look like a hang.
RETRY_DELAYS = (0.05, 0.1, 0.2, 0.4, 0.8)
# ERROR_ACCESS_DENIED, ERROR_SHARING_VIOLATION, ERROR_LOCK_VIOLATION: what Windows reports for a
# file (or a folder holding a file) that is open or memory-mapped somewhere.
IN_USE_WINERRORS = frozenset({5, 32, 33})

T = TypeVar("T")


class FileInUseError(FundusDataError):
    """A file or folder could not be replaced, renamed or removed because a program holds it open.

    Not used in the notebooks; raised by the atomic writes when Windows keeps refusing.
    """


def is_in_use(error: BaseException) -> bool:
    """True for Windows' "file in use" refusal (not for a plain permission problem on Linux)."""
    return isinstance(error, PermissionError) and (
        os.name == "nt" or getattr(error, "winerror", None) in IN_USE_WINERRORS
    )


def in_use_message(path: str | Path, doing: str) -> str:
    """What failed, why, and what to do about it, naming ``path``."""
    return (
        f"{path}: could not {doing}: expected no other program to hold it, found it still in use "
        f"after {len(RETRY_DELAYS) + 1} attempts (Windows refuses to replace, rename or delete a "
        "file, or a folder holding a file, that a program has open or memory-mapped). Usually "
        "that is a notebook kernel that has loaded these files (this one or another notebook "
        "using the same work folder): close the other notebook or restart its kernel, then run "
        "this cell again. If no other notebook is open, OneDrive or an antivirus may be scanning "
        "the folder: set FUNDUS_WORKDIR to a folder outside OneDrive (e.g. C:\\fundus_work) and "
        "restart the kernel."
    )


def retry_in_use(action: Callable[[], T], path: str | Path, doing: str) -> T:
    """``action()``, tried again while Windows reports the file in use; then FileInUseError.

    Any other error, including a ``PermissionError`` that is not Windows' "in use", is raised
    at once and unchanged.
    """
    for delay in (*RETRY_DELAYS, None):
        try:
            return action()
        except PermissionError as error:
            if not is_in_use(error):
                raise
            if delay is None:
                raise FileInUseError(in_use_message(path, doing)) from error
            time.sleep(delay)
    raise AssertionError("unreachable")  # the loop returns or raises


def replace(source: Path, target: Path, doing: str, *, name: Path | None = None) -> None:
    """``os.replace(source, target)`` with :func:`retry_in_use`; the error names ``name``
    (default ``target``)."""
    retry_in_use(lambda: os.replace(source, target), name or target, doing)


def discard(path: Path) -> None:
    """Remove a file of our own that nobody reads (a hidden temporary), if the OS lets us.

    One that stays locked is left behind: it is hidden and never taken as a complete file.
    """
    try:
        path.unlink(missing_ok=True)
    except OSError:
        pass


def remove_tree(folder: Path) -> None:
    """Remove ``folder`` as a whole or not at all: rename it aside, then delete the copy.

    A file inside that stays in use makes the rename fail (FileInUseError, ``folder`` untouched)
    instead of leaving a half-deleted folder under the real name.
    """
    if not folder.exists():
        return
    trash = Path(tempfile.mkdtemp(prefix=f".{folder.name}.old-", dir=folder.parent))
    try:
        replace(folder, trash / folder.name, "remove it", name=folder)
    finally:
        shutil.rmtree(trash, ignore_errors=True)


def _flush_to_disk(path: Path) -> None:
    # Writable on purpose: on Windows os.fsync is _commit, which fails with EBADF ("Bad file
    # descriptor") on a read-only descriptor; POSIX accepts either.
    descriptor = os.open(path, os.O_RDWR | getattr(os, "O_BINARY", 0))
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def write_file(path: str | Path, write: Callable[[str], None]) -> Path:
    """Run ``write(temporary_path)``, flush it to disk, then ``os.replace`` it onto ``path``.

    The temporary file is hidden (``.name.<pid>.tmp``) in the same folder, so the rename is
    atomic and a reader sees the old complete file or the new one; it is removed if ``write`` fails.
    A ``path`` that another program holds open (Windows) is retried, then refused with
    :class:`FileInUseError`; the old file stays as it was.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        write(str(temporary))
        _flush_to_disk(temporary)
        replace(temporary, path, "replace it with the new version")
    finally:
        discard(temporary)
    return path


def install(tmp: Path, target: Path) -> None:
    """Rename the finished ``tmp`` to ``target``; an existing ``target`` is replaced (and put back
    on failure).

    An existing ``target`` is first renamed aside (Windows cannot replace a folder in one step),
    and deleted only once ``tmp`` is in its place. If it cannot be moved aside because a file in
    it is in use, :class:`FileInUseError` says so and ``target`` is left as it was.
    """
    if not target.exists():
        replace(tmp, target, "put the new version in place")
        return
    old = Path(tempfile.mkdtemp(prefix=f".{target.name}.old-", dir=target.parent))
    aside = old / target.name
    try:
        replace(target, aside, "replace it with the new version", name=target)
    except BaseException:
        shutil.rmtree(old, ignore_errors=True)  # still empty
        raise
    try:
        replace(tmp, target, "put the new version in place")
    except BaseException:
        # If this fails too, the old version stays in ``old`` (named by the error), never deleted.
        replace(aside, target, f"move it back to {target}", name=aside)
        shutil.rmtree(old, ignore_errors=True)
        raise
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
