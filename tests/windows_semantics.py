"""Windows' file semantics, emulated on Linux, so that tests catch what only breaks on Windows.

Inside ``with windows_semantics():``

- ``os.fsync`` of a descriptor opened read-only raises ``OSError(EBADF)``: on Windows ``os.fsync``
  is ``_commit``, which needs a writable descriptor ("[Errno 9] Bad file descriptor").
- ``os.replace``, ``os.rename``, ``os.unlink``, ``os.remove`` and ``os.rmdir`` (so also
  ``Path.unlink/rename/replace``, ``shutil.move`` and ``shutil.rmtree``) raise ``PermissionError``
  with ``winerror`` 32 when the file, or any file below the folder, is open or memory-mapped in
  this process, or the folder is (or holds) the current directory. Open files are read from
  ``/proc/self/fd`` (regular files only: ``shutil.rmtree`` holds directory descriptors, which
  Python on Windows does not), memory maps from ``/proc/self/maps``.
- ``os.rename`` onto an existing path raises ``FileExistsError`` (winerror 183), and
  ``os.replace`` onto an existing folder ``PermissionError`` (winerror 5), as on Windows.

Only this process's own files count: a second kernel is emulated by holding a file open here.
"""

from __future__ import annotations

import errno
import fcntl
import os
import stat
from contextlib import contextmanager
from typing import Iterator

__all__ = ["windows_semantics", "held_files"]

ERROR_ACCESS_DENIED = 5
ERROR_SHARING_VIOLATION = 32
ERROR_ALREADY_EXISTS = 183

_REAL = {name: getattr(os, name) for name in ("fsync", "replace", "rename", "unlink", "remove")}
_REAL["rmdir"] = os.rmdir


def held_files() -> set[str]:
    """Real paths of the regular files this process has open or memory-mapped right now."""
    held = set()
    for fd in os.listdir("/proc/self/fd"):
        link = f"/proc/self/fd/{fd}"
        try:
            target = os.readlink(link)
            regular = stat.S_ISREG(os.stat(link).st_mode)
        except OSError:  # closed meanwhile (e.g. the descriptor of the listing itself)
            continue
        if regular and target.startswith("/"):
            held.add(target)
    with open("/proc/self/maps", encoding="utf-8", errors="surrogateescape") as maps:
        for line in maps:
            fields = line.rstrip("\n").split(maxsplit=5)
            if len(fields) == 6 and fields[5].startswith("/"):
                held.add(fields[5])
    return {path for path in held if not path.endswith(" (deleted)")}


def _real_path(path, dir_fd: int | None) -> str:
    """Absolute path of ``path`` (relative to ``dir_fd`` if given), its last part not resolved."""
    path = os.fsdecode(os.fspath(path))
    if not os.path.isabs(path):
        base = os.readlink(f"/proc/self/fd/{dir_fd}") if dir_fd is not None else os.getcwd()
        path = os.path.join(base, path)
    head, tail = os.path.split(os.path.abspath(path))
    return os.path.join(os.path.realpath(head), tail)


def _windows_error(kind: type[OSError], code: int, winerror: int, message: str, path: str):
    error = kind(code, message, path)
    error.winerror = winerror  # what Windows' PermissionError carries; the code under test reads it
    return error


def _refuse_if_in_use(path, dir_fd: int | None) -> None:
    real = _real_path(path, dir_fd)
    inside = real.rstrip("/") + "/"
    for held in held_files() | {os.getcwd() + "/"}:
        if held == real or held.startswith(inside):
            raise _windows_error(
                PermissionError,
                errno.EACCES,
                ERROR_SHARING_VIOLATION,
                "The process cannot access the file because it is being used by another process"
                f" (emulated Windows: {held} is open or memory-mapped, or the current folder)",
                real,
            )


def _fsync(fd) -> None:
    descriptor = fd if isinstance(fd, int) else fd.fileno()
    if fcntl.fcntl(descriptor, fcntl.F_GETFL) & os.O_ACCMODE == os.O_RDONLY:
        raise OSError(errno.EBADF, os.strerror(errno.EBADF))
    _REAL["fsync"](descriptor)


def _replace(src, dst, *, src_dir_fd=None, dst_dir_fd=None) -> None:
    _refuse_if_in_use(src, src_dir_fd)
    target = _real_path(dst, dst_dir_fd)
    if os.path.isdir(target) and not os.path.islink(target):
        raise _windows_error(
            PermissionError, errno.EACCES, ERROR_ACCESS_DENIED, "Access is denied", target
        )
    if os.path.lexists(target):
        _refuse_if_in_use(dst, dst_dir_fd)
    _REAL["replace"](src, dst, src_dir_fd=src_dir_fd, dst_dir_fd=dst_dir_fd)


def _rename(src, dst, *, src_dir_fd=None, dst_dir_fd=None) -> None:
    _refuse_if_in_use(src, src_dir_fd)
    target = _real_path(dst, dst_dir_fd)
    if os.path.lexists(target):
        raise _windows_error(
            FileExistsError,
            errno.EEXIST,
            ERROR_ALREADY_EXISTS,
            "Cannot create a file when that file already exists",
            target,
        )
    _REAL["rename"](src, dst, src_dir_fd=src_dir_fd, dst_dir_fd=dst_dir_fd)


def _remover(name: str):
    def remove(path, *, dir_fd=None) -> None:
        _refuse_if_in_use(path, dir_fd)
        _REAL[name](path, dir_fd=dir_fd)

    remove.__name__ = name
    return remove


_PATCHED = {
    "fsync": _fsync,
    "replace": _replace,
    "rename": _rename,
    "unlink": _remover("unlink"),
    "remove": _remover("remove"),
    "rmdir": _remover("rmdir"),
}


@contextmanager
def windows_semantics() -> Iterator[None]:
    """Patch ``os`` so that files behave as on Windows (see the module docstring), then restore."""
    for name, function in _PATCHED.items():
        setattr(os, name, function)
    try:
        yield
    finally:
        for name, function in _REAL.items():
            setattr(os, name, function)
