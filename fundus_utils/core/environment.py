"""The first check of every notebook: is every module the course needs installed?

A module missing on AI Studio (or in a hand-made environment) used to surface several cells in,
as a bare ImportError. :func:`check_environment` names every missing module at once, with the one
command that installs it: on AI Studio the persistent ``pip install -t
/home/aistudio/external-libraries`` form (installs into the environment itself do not survive a
restart) plus the ``sys.path`` line, elsewhere ``pip install`` into the running interpreter.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

from .config import AISTUDIO_WORK_ROOT

__all__ = ["check_environment", "MissingModules", "subprocess_env"]

# module -> the distribution that provides it (what pip installs)
REQUIRED_MODULES = {
    "numpy": "numpy",
    "cv2": "opencv-python",
    "skimage": "scikit-image",
    "sklearn": "scikit-learn",
    "scipy": "scipy",
    "pandas": "pandas",
    "openpyxl": "openpyxl",
    "matplotlib": "matplotlib",
    "tqdm": "tqdm",
    "paddle": "paddlepaddle",
}
AISTUDIO_EXTERNAL_LIBRARIES = "/home/aistudio/external-libraries"


class MissingModules(ImportError):
    """Modules the course needs are not installed; the message says how to install them.

    Not used in the notebooks by name; fu.check_environment raises it.
    """


def _on_aistudio() -> bool:
    return Path(AISTUDIO_WORK_ROOT).is_dir()


def install_command(distributions: list[str], aistudio: bool) -> str:
    """The one command (two lines on AI Studio) that installs ``distributions``."""
    names = " ".join(distributions)
    if aistudio:
        return (
            f"!pip install -t {AISTUDIO_EXTERNAL_LIBRARIES} {names}\n"
            f"import sys; sys.path.append({AISTUDIO_EXTERNAL_LIBRARIES!r})"
        )
    return f"{sys.executable} -m pip install {names}"


def check_environment(*, aistudio: bool | None = None) -> None:
    """Raise :class:`MissingModules` naming every missing module and how to install it.

    Taught in 00_data, setup cells (before §1); every notebook's first cell calls it.
    On AI Studio, packages installed earlier into ``/home/aistudio/external-libraries`` (the
    persistent place) are put on ``sys.path`` first.
    """
    aistudio = _on_aistudio() if aistudio is None else aistudio
    if aistudio and Path(AISTUDIO_EXTERNAL_LIBRARIES).is_dir():
        if AISTUDIO_EXTERNAL_LIBRARIES not in sys.path:
            sys.path.append(AISTUDIO_EXTERNAL_LIBRARIES)
    missing = [m for m in REQUIRED_MODULES if importlib.util.find_spec(m) is None]
    if missing:
        distributions = [REQUIRED_MODULES[m] for m in missing]
        raise MissingModules(
            f"the course needs {', '.join(missing)}, not installed here. Install "
            f"{'them' if len(missing) > 1 else 'it'} with:\n"
            + install_command(distributions, aistudio)
            + "\nthen run this cell again."
        )
    print(f"Environment: all {len(REQUIRED_MODULES)} modules the course needs are installed.")


def subprocess_env(**extra: str) -> dict[str, str]:
    """The environment for a Python child process (a command line, a launcher): this kernel's
    variables, with PYTHONPATH extended (never replaced) by the package's folder and every folder
    on this kernel's ``sys.path``, so that what the kernel imports, the child imports too (on AI
    Studio ``/home/aistudio/external-libraries``, which is on ``sys.path`` but not on PYTHONPATH).

    Taught in 07_compare, §4 and §5.
    """
    package_root = str(Path(__file__).resolve().parents[2])
    existing = os.environ.get("PYTHONPATH", "")
    folders = [package_root, *existing.split(os.pathsep), *(p for p in sys.path if p)]
    unique = list(dict.fromkeys(f for f in folders if f))
    return {**os.environ, "PYTHONPATH": os.pathsep.join(unique), **extra}
