"""tests/windows_semantics.py: the emulation refuses what Windows refuses, and nothing else."""

from __future__ import annotations

import errno
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from windows_semantics import held_files, windows_semantics


def _file(path: Path, data: bytes = b"data") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def test_fsync_needs_a_writable_descriptor(tmp_path):
    path = _file(tmp_path / "f.bin")
    for flags in (os.O_RDONLY, os.O_RDWR, os.O_WRONLY):
        descriptor = os.open(path, flags)
        try:
            os.fsync(descriptor)  # POSIX: any descriptor
            with windows_semantics():
                if flags == os.O_RDONLY:
                    with pytest.raises(OSError) as error:
                        os.fsync(descriptor)
                    assert error.value.errno == errno.EBADF
                else:
                    os.fsync(descriptor)
        finally:
            os.close(descriptor)
    with open(path, "rb") as file, windows_semantics(), pytest.raises(OSError):
        os.fsync(file)  # a file object too


def _refused(action, *args, **kwargs) -> PermissionError:
    with pytest.raises(PermissionError) as error:
        action(*args, **kwargs)
    assert error.value.winerror == 32
    return error.value


def test_an_open_file_cannot_be_deleted_renamed_or_replaced(tmp_path, windows):
    path = _file(tmp_path / "open.bin")
    other = _file(tmp_path / "other.bin")
    with open(path, "rb"):
        assert str(path) in held_files()
        _refused(os.unlink, path)
        _refused(os.remove, path)
        _refused(path.unlink)
        _refused(os.rename, path, tmp_path / "moved.bin")
        _refused(os.replace, path, tmp_path / "moved.bin")
        _refused(os.replace, other, path)  # onto it
        folder = os.open(tmp_path, os.O_RDONLY)
        try:
            _refused(os.unlink, path.name, dir_fd=folder)  # as shutil.rmtree calls it
        finally:
            os.close(folder)
        os.replace(other, tmp_path / "other2.bin")  # another file of the same folder: fine
        (tmp_path / "other2.bin").unlink()
    assert path.read_bytes() == b"data"
    os.replace(path, tmp_path / "moved.bin")  # closed: fine
    (tmp_path / "moved.bin").unlink()
    assert sorted(tmp_path.iterdir()) == []


def test_a_memory_mapped_file_stays_held_after_its_file_is_closed(tmp_path, windows):
    path = tmp_path / "cache.npy"
    np.save(path, np.arange(10, dtype=np.uint8))
    mapped = np.load(path, mmap_mode="r")
    _refused(os.unlink, path)
    _refused(os.replace, path, tmp_path / "elsewhere.npy")
    assert int(mapped[3]) == 3
    del mapped
    assert str(path) not in held_files()
    path.unlink()


def test_a_folder_holding_an_open_file_cannot_be_moved_or_removed(tmp_path, windows):
    folder = tmp_path / "prepared"
    held = _file(folder / "cache" / "train.npy")
    free = _file(folder / "labels.csv")
    prefix_twin = _file(tmp_path / "prepared2" / "x.bin")  # same name prefix, not inside
    with open(held, "rb"):
        _refused(os.replace, folder, tmp_path / "aside")
        _refused(os.rename, folder, tmp_path / "aside")
        _refused(os.replace, folder / "cache", tmp_path / "aside")
        _refused(shutil.rmtree, folder)
        shutil.rmtree(folder, ignore_errors=True)  # as on Windows: removes what it can ...
        assert held.exists() and not free.exists()  # ... and leaves the open file
        os.replace(prefix_twin.parent, tmp_path / "renamed2")  # not a parent of the open file
        shutil.rmtree(tmp_path / "renamed2")
    shutil.rmtree(folder)
    assert not folder.exists()


def test_the_current_folder_cannot_be_removed(tmp_path, monkeypatch, windows):
    inside = tmp_path / "cwd" / "here"
    inside.mkdir(parents=True)
    monkeypatch.chdir(inside)
    _refused(os.rmdir, inside)
    _refused(os.rename, tmp_path / "cwd", tmp_path / "moved")
    monkeypatch.chdir(tmp_path)
    os.rename(tmp_path / "cwd", tmp_path / "moved")


def test_rename_never_overwrites_and_replace_never_replaces_a_folder(tmp_path, windows):
    source, target = _file(tmp_path / "a.txt", b"new"), _file(tmp_path / "b.txt", b"old")
    with pytest.raises(FileExistsError) as error:
        os.rename(source, target)
    assert error.value.winerror == 183 and target.read_bytes() == b"old"
    os.replace(source, target)  # replace does overwrite a file nobody holds
    assert target.read_bytes() == b"new"
    (tmp_path / "dir").mkdir()
    (tmp_path / "empty").mkdir()
    with pytest.raises(PermissionError) as error:
        os.replace(tmp_path / "dir", tmp_path / "empty")  # POSIX allows this one
    assert error.value.winerror == 5


def test_everything_is_restored_afterwards(tmp_path):
    real = {name: getattr(os, name) for name in ("fsync", "replace", "rename", "unlink", "rmdir")}
    with pytest.raises(RuntimeError), windows_semantics():
        assert os.unlink is not real["unlink"]
        raise RuntimeError
    assert {name: getattr(os, name) for name in real} == real
    path = _file(tmp_path / "f.bin")
    with open(path, "rb"):
        path.unlink()  # POSIX again
