"""Where things live: the repository, the writable work folder, the runs folder."""

from __future__ import annotations

import os
from pathlib import Path

from .config import AISTUDIO_WORK_ROOT, ENV_RUNS, ENV_WORKDIR

__all__ = ["default_workdir", "runs_dir", "display_path"]

PACKAGE_DIR = Path(__file__).resolve().parents[1]  # fundus_utils/
REPO_DIR = PACKAGE_DIR.parent


def _in_checkout() -> bool:
    return (REPO_DIR / "notebooks").is_dir() and (REPO_DIR / "fundus_utils").is_dir()


def _writable(folder: Path) -> bool:
    return folder.is_dir() and os.access(folder, os.W_OK)


def repo_data_dir() -> Path | None:
    """``data/`` of the course repository, when the package runs from a checkout."""
    return REPO_DIR / "data" if _in_checkout() else None


def default_workdir() -> Path:
    """A writable folder for unpacked data and caches.

    Taught in 06_convmixer, §5, and 07_compare, §5.

    ``FUNDUS_WORKDIR`` if set; on AI Studio ``/home/aistudio/work/fundus_data``
    (the ``data/`` mounts there are read-only); in a checkout ``data/work``;
    otherwise ``~/.cache/fundus_utils``.
    """
    if os.environ.get(ENV_WORKDIR):
        return Path(os.environ[ENV_WORKDIR]).expanduser().resolve()
    if _writable(Path(AISTUDIO_WORK_ROOT)):
        return Path(AISTUDIO_WORK_ROOT) / "fundus_data"
    data_dir = repo_data_dir()
    if data_dir is not None and (_writable(data_dir) or _writable(REPO_DIR)):
        return data_dir / "work"
    return Path.home() / ".cache" / "fundus_utils"


def runs_dir() -> Path:
    """Folder holding one sub-folder per training run (checkpoints, results JSON).

    Taught in 07_compare, §1.

    ``FUNDUS_RUNS`` if set; otherwise ``runs/`` beside the work folder's data.
    """
    if os.environ.get(ENV_RUNS):
        return Path(os.environ[ENV_RUNS]).expanduser().resolve()
    return default_workdir() / "runs"


def display_path(path: str | Path) -> str:
    """``path`` relative to the repository when inside it (stable across checkouts), else absolute.

    Taught in 00_data, §3.
    """
    path = Path(path)
    try:
        return str(path.resolve().relative_to(REPO_DIR))
    except ValueError:
        return str(path)
