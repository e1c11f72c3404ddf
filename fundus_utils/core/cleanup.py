"""Freeing the work folder: the large files a run leaves behind, listed with sizes, then removed.

A run's folder (``runs_dir()/<run name>/``) holds its ``results.json`` and Grad-CAM maps (small,
read by 07_compare) and, large, its exported inference model (``inference/``, up to 0.5 GB for
VGG-16) and checkpoints (``*.pdckpt``). On AI Studio the work folder persists and should stay
small, so ``python -m fundus_utils clean`` removes the large files and keeps the small ones.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from .paths import display_path, runs_dir

__all__ = ["clean_runs"]

LARGE_RUN_ITEMS = ("inference", "*.pdckpt", "*/*.pdckpt")  # globs inside each run's folder


def _size(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def clean_runs(root: str | Path | None = None, *, dry_run: bool = False) -> list[tuple[Path, int]]:
    """Remove each run's exported model and checkpoints; return ``(path, bytes)`` of each.

    Not used in the notebooks; ``python -m fundus_utils clean [--dry-run]`` calls it.
    With ``dry_run`` nothing is removed. ``results.json`` and ``gradcam.npz`` are kept.
    """
    root = Path(root or runs_dir())
    found = sorted({p for pattern in LARGE_RUN_ITEMS for p in root.glob(f"*/{pattern}")})
    sized = [(path, _size(path)) for path in found]
    if not dry_run:
        for path, _ in sized:
            shutil.rmtree(path) if path.is_dir() else path.unlink()
    return sized


def format_cleanup(sized: list[tuple[Path, int]], dry_run: bool) -> str:
    """One line per item and a total, as the command line prints them."""
    verb = "would free" if dry_run else "freed"
    lines = [f"{size / 1e6:9.1f} MB  {display_path(path)}" for path, size in sized]
    total = sum(size for _, size in sized)
    return "\n".join([*lines, f"{verb} {total / 1e6:.1f} MB in {len(sized)} item(s)"])
