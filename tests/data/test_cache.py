"""fundus_utils.data.cache: the decoded-image cache is built once, rebuilt when a file changes."""

from __future__ import annotations

import os

from fundus_utils.data.datasets import training_set
from fundus_utils.data.images import load_rgb
from fundus_utils.data.prepare import prepare_data

import numpy as np


def test_cache_is_built_once_and_rebuilt_when_a_file_changes(zip_source, tmp_path, monkeypatch):
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
    changed = prepared.train_dir / "N0001.jpg"
    os.utime(changed, ns=(changed.stat().st_atime_ns, changed.stat().st_mtime_ns + 10**9))
    training_set(prepared, 40, progress=False)
    assert len(calls) == 18
    assert (
        len(list((prepared.root / "cache").glob("train-rgb40-*.npy"))) == 1
    )  # stale cache removed
