"""fundus_utils: what every notebook of the course needs, written once, as one flat namespace.

Notebooks call ``fu.<name>`` (``import fundus_utils as fu``) and never reach into a module.
The names come from the ``__all__`` of the modules below, by concern:

* ``core``: constants, run modes, paths, errors, atomic writes, progress bars (imports nothing
  else);
* ``samples``: the sample sets generated from scikit-image's fundus photograph;
* ``data``: finding, unpacking, labelling, caching and loading iChallenge-PM;
* ``inspection``: shape walks, parameter and FLOP counts;
* ``engine``: ``fit``, evaluation, metrics, checkpoints, results files, seeds and devices;
* ``viz``: figures, plots and Grad-CAM;
* ``export``: inference models and ``predict``.

Each ``__all__`` is read from the module's source, so ``import fundus_utils`` imports no module
(and no Paddle) until a name is first used. See ARCHITECTURE.md for what may import what.
"""

from __future__ import annotations

import ast
import importlib
import re
from pathlib import Path

from . import _compat  # noqa: F401  (first: import-order workarounds for Paddle 2.6, see _compat.py)

__version__ = "0.1.0"

PUBLIC_AREAS = ("core", "samples", "data", "inspection", "engine", "viz", "export")
_HERE = Path(__file__).resolve().parent
_ALL_ASSIGNMENT = re.compile(r"^__all__(?:: [^=]+)? = (\[[^\]]*\])", re.MULTILINE)


def _public_modules() -> list[str]:
    """Dotted names (below fundus_utils) of every module in PUBLIC_AREAS."""
    modules = []
    for area in PUBLIC_AREAS:
        folder = _HERE / area
        paths = sorted(folder.glob("[!_]*.py")) if folder.is_dir() else [_HERE / f"{area}.py"]
        modules += [".".join(p.relative_to(_HERE).with_suffix("").parts) for p in paths]
    return modules


def _read_all(module: str) -> list[str]:
    """The literal ``__all__`` of ``module``, read from its source without importing it."""
    path = _HERE.joinpath(*module.split(".")).with_suffix(".py")
    match = _ALL_ASSIGNMENT.search(path.read_text(encoding="utf-8"))
    if match is None:
        raise ImportError(f"fundus_utils: {path} has no literal __all__ = [...]")
    return ast.literal_eval(match.group(1))


def _name_table() -> dict[str, str]:
    """``{public name: module}``; a name exported twice is an error, not a silent shadow."""
    table: dict[str, str] = {}
    for module in _public_modules():
        for name in _read_all(module):
            if name in table:
                raise ImportError(
                    f"fundus_utils: {name!r} is in the __all__ of both {table[name]} and {module}"
                )
            table[name] = module
    return table


_NAMES = _name_table()
__all__ = sorted(_NAMES)


def __getattr__(name: str):
    if name not in _NAMES:
        raise AttributeError(f"module 'fundus_utils' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{_NAMES[name]}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_NAMES))
