"""Progress bars that look right in Jupyter and never disturb nbval.

Learners get tqdm's notebook widget (when ipywidgets is installed). In quick
mode (CI, the README's test command) bars are plain text on stderr, which the
notebook tests do not compare, so a bar never makes a stored output differ.

``FUNDUS_PROGRESS=text`` asks for text bars everywhere: a JupyterLab 3 or Notebook 6 server from
another environment (e.g. Anaconda's base) cannot draw the ipywidgets-8 bar the kernel sends
and shows "Error displaying widget" instead. ``FUNDUS_PROGRESS=widget`` asks for the widget.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from typing import Iterable, TypeVar

from tqdm import tqdm as text_tqdm

from .config import ENV_PROGRESS, ENV_QUICK

__all__ = ["progress"]

T = TypeVar("T")


PROGRESS_STYLES = ("auto", "text", "widget")


def _widgets_ok() -> bool:
    style = os.environ.get(ENV_PROGRESS, "auto").strip().lower() or "auto"
    if style not in PROGRESS_STYLES:
        raise ValueError(f"{ENV_PROGRESS}: expected one of {PROGRESS_STYLES}, found {style!r}")
    if style == "text" or os.environ.get(ENV_QUICK) == "1":
        return False
    return importlib.util.find_spec("ipywidgets") is not None


def progress(
    iterable: Iterable[T] | None = None,
    *,
    desc: str = "",
    total: int | None = None,
    disable: bool = False,
    leave: bool = False,
    **kwargs,
) -> text_tqdm:
    """A tqdm bar: a widget in notebooks (normal mode), text on stderr otherwise.

    Not used in the notebooks; draws the bars of fu.fit, fu.prepare_data and the image cache.
    """
    if _widgets_ok():
        from tqdm.auto import tqdm as auto_tqdm

        return auto_tqdm(iterable, desc=desc, total=total, disable=disable, leave=leave, **kwargs)
    return text_tqdm(
        iterable, desc=desc, total=total, disable=disable, leave=leave, file=sys.stderr, **kwargs
    )
