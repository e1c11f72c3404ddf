"""An on-disk cache of resized images, shared by every notebook.

Decoding ~2000-pixel JPEGs is the slow part of training on this dataset. The
first pass decodes each image once (at reduced resolution, in parallel) and
stores the ``size`` x ``size`` RGB uint8 pixels of a whole split in one ``.npy``
file; later epochs and later notebooks read that file through a memory map.
The cache is keyed on the files (names and sizes, not modification times: AI Studio mounts
its datasets afresh, with new times, on every restart) and the preprocessing parameters, so it
is rebuilt whenever either changes.

On Windows a memory-mapped file cannot be replaced or deleted. A cache another kernel has
mapped is never replaced (its name is its key, so a finished one is already right), and a stale
one still mapped is left for a later build to remove.
"""

from __future__ import annotations

import hashlib
import json
import os
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Sequence

import numpy as np

from ..core.atomic import FileInUseError, discard, replace
from ..core.hardware import usable_cpu_count
from ..core.progress import progress as progress_bar
from .images import load_rgb

__all__ = ["cached_images"]

CACHE_VERSION = 2  # bump when load_rgb's output changes for the same inputs


def cache_key(paths: Sequence[Path], size: int) -> str:
    """Hash of the preprocessing parameters and every file's name and size.

    Not modification times: a dataset mounted again with fresh times is the same dataset.
    """
    stats = [(Path(p).name, os.stat(p).st_size) for p in paths]
    recipe = {
        "version": CACHE_VERSION,
        "size": size,
        "decode": "imdecode-reduced",
        "resize": "INTER_AREA",
        "files": stats,
    }
    return hashlib.sha1(json.dumps(recipe).encode()).hexdigest()[:16]


def cache_path(cache_dir: Path, split: str, paths: Sequence[Path], size: int) -> Path:
    return Path(cache_dir) / f"{split}-rgb{size}-{cache_key(paths, size)}.npy"


def cached_images(
    paths: Sequence[str | Path],
    size: int,
    cache_dir: str | Path,
    split: str,
    *,
    progress: bool = True,
    workers: int | None = None,
) -> np.ndarray:
    """All ``paths`` as one read-only ``N x size x size x 3`` uint8 array, built once and
    memory-mapped.

    Not used in the notebooks; fu.training_set and the other dataset builders use it.

    The first call decodes in parallel (threads: OpenCV releases the GIL) with a
    progress bar and writes the file through a temporary name, so an interrupted
    build is never taken as a cache. Stale caches of the same split and size are removed (one
    another kernel still has memory-mapped on Windows stays until a later build).
    """
    paths = [Path(p) for p in paths]
    target = cache_path(Path(cache_dir), split, paths, size)
    if not target.is_file():
        _build(paths, size, target, progress, workers or usable_cpu_count())
    return np.load(target, mmap_mode="r")


def _build(paths: list[Path], size: int, target: Path, progress: bool, workers: int) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    # Unique per build: two builds of the same cache (two kernels, or two threads) never share it.
    tmp = target.with_name(f".{target.name}.partial-{os.getpid()}-{uuid.uuid4().hex[:8]}.npy")
    array = np.lib.format.open_memmap(
        tmp, mode="w+", dtype=np.uint8, shape=(len(paths), size, size, 3)
    )
    try:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            images = pool.map(lambda p: load_rgb(p, size), paths)
            for i, rgb in enumerate(
                progress_bar(
                    images,
                    total=len(paths),
                    desc=f"caching {split_name(target)} {size}px",
                    disable=not progress,
                    leave=False,
                )
            ):
                array[i] = rgb
        array.flush()
    except BaseException:
        del array  # close the memory map before removing its file
        discard(tmp)
        raise
    del array
    _put_in_place(tmp, target)
    for stale in target.parent.glob(f"{split_name(target)}-rgb{size}-*.npy"):
        if stale != target:
            discard(stale)  # a stale cache still memory-mapped elsewhere (Windows) stays for now


def _put_in_place(tmp: Path, target: Path) -> None:
    """Rename the finished ``tmp`` to ``target``, unless another kernel finished it first.

    The name holds the key, so an existing ``target`` has the same content: it is kept (another
    kernel may have it memory-mapped, which Windows would not let us replace) and ``tmp`` dropped.
    """
    if target.is_file():
        discard(tmp)
        return
    try:
        replace(tmp, target, "put the new image cache in place")
    except FileInUseError:
        if not target.is_file():
            raise
        discard(tmp)


def split_name(target: Path) -> str:
    return target.name.split("-rgb", 1)[0]
