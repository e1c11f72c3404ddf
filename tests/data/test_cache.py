"""fundus_utils.data.cache: the decoded-image cache is built once, rebuilt when a file changes."""

from __future__ import annotations

import os

from fundus_utils.core.atomic import FileInUseError
from fundus_utils.data.cache import cache_key, cached_images
from fundus_utils.data.datasets import training_set
from fundus_utils.data.images import load_rgb
from fundus_utils.data.prepare import prepare_data

import numpy as np
import pytest
from source_fixtures import jpeg_bytes
from windows_semantics import held_files


def caches(prepared, size: int) -> list[str]:
    return sorted(p.name for p in (prepared.root / "cache").glob(f"train-rgb{size}-*.npy"))


def test_cache_is_built_once_and_rebuilt_when_a_file_changes(
    zip_source, tmp_path, monkeypatch, file_semantics
):
    prepared = prepare_data(zip_source, tmp_path / "w", progress=False, verbose=False)
    calls = []
    real = load_rgb
    monkeypatch.setattr(
        "fundus_utils.data.cache.load_rgb", lambda p, s: calls.append(p) or real(p, s)
    )
    first = training_set(prepared, 40, progress=False)
    assert len(calls) == 9
    np.testing.assert_array_equal(first.images[0], real(prepared.train_dir / first.names[0], 40))
    training_set(prepared, 40, progress=False)
    assert len(calls) == 9  # read from the cache
    (old_cache,) = caches(prepared, 40)
    assert str(prepared.root / "cache" / old_cache) in held_files()  # `first` maps it

    changed = prepared.train_dir / "N0001.jpg"
    os.utime(changed, ns=(changed.stat().st_atime_ns, changed.stat().st_mtime_ns + 10**9))
    training_set(prepared, 40, progress=False)
    assert len(calls) == 9  # a new modification time alone is not a change (a remounted dataset)

    changed.write_bytes(jpeg_bytes(4242))  # new content, new size
    again = training_set(prepared, 40, progress=False)
    assert len(calls) == 18
    index = again.names.index("N0001.jpg")
    np.testing.assert_array_equal(again.images[index], real(changed, 40))
    left = caches(prepared, 40)
    if file_semantics == "windows":
        # `first` still maps the stale cache: Windows cannot delete it, so it stays, unused.
        assert len(left) == 2 and old_cache in left
        del first
        np.testing.assert_array_equal(again.images[index], real(changed, 40))
    else:
        assert len(left) == 1 and old_cache not in left  # stale cache removed
    assert not list((prepared.root / "cache").glob(".*"))  # no partial file left behind


def test_cache_key_follows_names_and_sizes_not_times(tmp_path):
    first, second = tmp_path / "P0001.jpg", tmp_path / "P0002.jpg"
    first.write_bytes(jpeg_bytes(1))
    second.write_bytes(jpeg_bytes(2))
    key = cache_key([first, second], 32)
    os.utime(first, ns=(10**9, 10**9))  # a remount gives every file a new time
    assert cache_key([first, second], 32) == key
    assert cache_key([first, second], 48) != key
    second.write_bytes(jpeg_bytes(2) + b"\0")  # one byte more
    assert cache_key([first, second], 32) != key
    second.write_bytes(jpeg_bytes(2))
    assert cache_key([first, second], 32) == key
    renamed = second.rename(tmp_path / "N0002.jpg")
    assert cache_key([first, renamed], 32) != key


def test_a_cache_another_kernel_finished_first_is_used_as_is(tmp_path, monkeypatch):
    folder = tmp_path / "images"
    folder.mkdir()
    paths = [folder / f"P{i:04d}.jpg" for i in range(4)]
    for i, path in enumerate(paths):
        path.write_bytes(jpeg_bytes(i))
    other_kernel: dict[str, object] = {}

    def load_while_another_kernel_builds(path, size):
        if "images" not in other_kernel:  # meanwhile, the other builds the same cache, maps it
            other_kernel["images"] = "building"  # (its own loads go through here too)
            other_kernel["images"] = cached_images(
                paths, size, tmp_path / "cache", "x", progress=False
            )
        return load_rgb(path, size)

    monkeypatch.setattr("fundus_utils.data.cache.load_rgb", load_while_another_kernel_builds)
    ours = cached_images(paths, 24, tmp_path / "cache", "x", progress=False)
    assert isinstance(other_kernel["images"], np.memmap)  # still mapped: not replaceable on Windows
    np.testing.assert_array_equal(ours, other_kernel["images"])
    files = sorted(p.name for p in (tmp_path / "cache").iterdir())
    assert len(files) == 1 and files[0].startswith("x-rgb24-")  # no partial file left behind


def test_losing_the_rename_race_keeps_the_other_kernels_cache(tmp_path, monkeypatch):
    from fundus_utils.data import cache as cache_module

    target, ours = tmp_path / "x-rgb8-key.npy", tmp_path / ".x-rgb8-key.npy.partial-1.npy"

    def raced(source, destination, doing, **kwargs):
        destination.write_bytes(b"theirs")  # the other kernel put its copy in place first ...
        raise FileInUseError(f"{destination}: in use")  # ... and maps it: Windows refuses ours

    def refused(source, destination, doing, **kwargs):
        raise FileInUseError(f"{destination}: in use")

    ours.write_bytes(b"ours")
    monkeypatch.setattr(cache_module, "replace", raced)
    cache_module._put_in_place(ours, target)
    assert target.read_bytes() == b"theirs" and not ours.exists()

    target.unlink()
    ours.write_bytes(b"ours")
    monkeypatch.setattr(cache_module, "replace", refused)
    with pytest.raises(FileInUseError):  # no complete cache there: the error is not swallowed
        cache_module._put_in_place(ours, target)
    assert ours.read_bytes() == b"ours" and not target.exists()
