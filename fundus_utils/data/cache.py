"""An on-disk cache of resized images, shared by every notebook.

Decoding ~2000-pixel JPEGs is the slow part of training on this dataset. The
first pass decodes each image once (at reduced resolution, in parallel) and
stores the ``size`` x ``size`` RGB uint8 pixels of a whole split in one ``.npy``
file; later epochs and later notebooks read that file through a memory map.
The cache is keyed on the files (names, sizes, modification times) and the
preprocessing parameters, so it is rebuilt whenever either changes.
"""

from __future__ import annotations

import hashlib
import json
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Sequence

import numpy as np

from ..core.progress import progress as progress_bar
from .images import load_rgb

__all__ = ["cached_images"]

CACHE_VERSION = 2  # bump when load_rgb's output changes for the same inputs


def cache_key(paths: Sequence[Path], size: int) -> str:
    """Hash of the preprocessing parameters and every file's name, size and modification time."""
    stats = [(Path(p).name, s.st_size, s.st_mtime_ns) for p in paths for s in [os.stat(p)]]
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
    build is never taken as a cache. Stale caches of the same split and size are removed.
    """
    paths = [Path(p) for p in paths]
    target = cache_path(Path(cache_dir), split, paths, size)
    if not target.is_file():
        _build(paths, size, target, progress, workers or os.cpu_count() or 1)
    return np.load(target, mmap_mode="r")


def _build(paths: list[Path], size: int, target: Path, progress: bool, workers: int) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.partial-{os.getpid()}.npy")
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
        tmp.unlink(missing_ok=True)
        raise
    del array
    os.replace(tmp, target)
    for stale in target.parent.glob(f"{split_name(target)}-rgb{size}-*.npy"):
        if stale != target:
            stale.unlink(missing_ok=True)


def split_name(target: Path) -> str:
    return target.name.split("-rgb", 1)[0]
