"""fundus_utils.core.atomic: complete or absent, also where Windows refuses files in use."""

from __future__ import annotations

import errno
import os
from pathlib import Path
from types import SimpleNamespace

from fundus_utils.core import atomic
from fundus_utils.core.atomic import (
    FileInUseError,
    building_folder,
    remove_tree,
    retry_in_use,
    write_file,
)
from fundus_utils.core.errors import FundusDataError

import pytest


@pytest.fixture
def pauses(monkeypatch) -> list[float]:
    """The pauses retry_in_use takes (recorded, not slept)."""
    taken: list[float] = []
    monkeypatch.setattr(atomic, "time", SimpleNamespace(sleep=taken.append))
    return taken


def listing(folder: Path) -> list[str]:
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*"))


def in_use(path: str = "x") -> PermissionError:
    error = PermissionError(errno.EACCES, "in use", path)
    error.winerror = 32
    return error


def test_write_file_works_where_fsync_needs_a_writable_descriptor(tmp_path, windows):
    path = write_file(tmp_path / "results.json", lambda t: Path(t).write_bytes(b"{}"))
    assert path.read_bytes() == b"{}" and listing(tmp_path) == ["results.json"]
    write_file(path, lambda t: Path(t).write_bytes(b'{"a": 1}'))  # replaces a file nobody holds
    assert path.read_bytes() == b'{"a": 1}' and listing(tmp_path) == ["results.json"]


def test_write_file_onto_a_file_held_open_fails_clearly_and_keeps_the_old_one(
    tmp_path, windows, pauses
):
    path = write_file(tmp_path / "results.json", lambda t: Path(t).write_bytes(b"old"))
    with open(path, "rb"), pytest.raises(FileInUseError) as error:
        write_file(path, lambda t: Path(t).write_bytes(b"new"))
    message = str(error.value)
    assert message.startswith(f"{path}: could not replace it")
    assert "kernel" in message and "OneDrive" in message and "FUNDUS_WORKDIR" in message
    assert isinstance(error.value, FundusDataError)
    assert pauses == list(atomic.RETRY_DELAYS)  # retried, then gave up
    assert path.read_bytes() == b"old" and listing(tmp_path) == ["results.json"]  # no temporary


def test_write_file_succeeds_once_the_other_program_lets_go(tmp_path, windows, monkeypatch):
    path = write_file(tmp_path / "results.json", lambda t: Path(t).write_bytes(b"old"))
    holder = open(path, "rb")  # another program holding the file, until the first pause
    pauses = []

    def pause(seconds: float) -> None:
        pauses.append(seconds)
        holder.close()

    monkeypatch.setattr(atomic, "time", SimpleNamespace(sleep=pause))
    write_file(path, lambda t: Path(t).write_bytes(b"new"))
    assert path.read_bytes() == b"new" and len(pauses) == 1


def test_only_windows_in_use_errors_are_retried(pauses):
    attempts = []

    def denied():
        attempts.append(1)
        raise PermissionError(errno.EACCES, "Permission denied", "ro")  # e.g. a read-only mount

    with pytest.raises(PermissionError) as error:
        retry_in_use(denied, "ro", "write it")
    assert not isinstance(error.value, FileInUseError) and len(attempts) == 1 and pauses == []

    def busy_twice():
        attempts.append(1)
        if len(attempts) < 4:
            raise in_use()
        return "done"

    assert retry_in_use(busy_twice, "x", "write it") == "done" and len(pauses) == 2


def test_a_folder_holding_an_open_file_is_not_replaced(tmp_path, windows, pauses):
    target = tmp_path / "prepared"
    with building_folder(target, lambda folder: False, "nothing") as tmp:
        (tmp / "cache").mkdir()
        (tmp / "cache" / "train.npy").write_bytes(b"old cache")
    with open(target / "cache" / "train.npy", "rb"):
        with pytest.raises(FileInUseError, match=f"^{target}: could not replace it"):
            with building_folder(target, lambda folder: True, "an earlier one") as tmp:
                (tmp / "new.txt").write_bytes(b"new")
        assert listing(tmp_path) == ["prepared", "prepared/cache", "prepared/cache/train.npy"]
    with building_folder(target, lambda folder: True, "an earlier one") as tmp:
        (tmp / "new.txt").write_bytes(b"new")
    assert listing(tmp_path) == ["prepared", "prepared/new.txt"]


def test_a_failed_install_puts_the_old_folder_back(tmp_path, monkeypatch):
    target = tmp_path / "prepared"
    with building_folder(target, lambda folder: False, "nothing") as tmp:
        (tmp / "old.txt").write_bytes(b"old")
    real_replace = os.replace

    def second_rename_fails(source, destination):
        if Path(source).name.startswith(".prepared.partial-"):
            raise OSError(errno.EIO, "disk gone")
        real_replace(source, destination)

    monkeypatch.setattr(os, "replace", second_rename_fails)
    with pytest.raises(OSError, match="disk gone"):
        with building_folder(target, lambda folder: True, "an earlier one") as tmp:
            (tmp / "new.txt").write_bytes(b"new")
    assert listing(tmp_path) == ["prepared", "prepared/old.txt"]


def test_remove_tree_removes_a_folder_whole_or_not_at_all(tmp_path, windows, pauses):
    folder = tmp_path / "sample-source"
    for name in ("a.zip", "b.zip", "c.zip"):
        (folder / name).parent.mkdir(exist_ok=True)
        (folder / name).write_bytes(b"zip")
    with open(folder / "b.zip", "rb"), pytest.raises(FileInUseError, match=f"^{folder}: could"):
        remove_tree(folder)
    assert listing(tmp_path) == ["sample-source", *[f"sample-source/{n}.zip" for n in "abc"]]
    remove_tree(folder)
    remove_tree(folder)  # already gone: nothing to do
    assert listing(tmp_path) == []
