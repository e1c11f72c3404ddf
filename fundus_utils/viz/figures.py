"""PngFigure and the panel helpers behind every course figure. Taught in 02_alexnet, §4.

Display pattern (one PNG per call, no ``<Figure size ...>`` text for nbval to compare)
--------------------------------------------------------------------------------------
Every function builds a :class:`PngFigure` directly, without pyplot, so the
figure never enters pyplot's list of open figures: the inline backend does not
show it again at the end of the cell and nothing needs closing. ``PngFigure``
tells IPython how to show itself (``_ipython_display_``): it publishes a single
``image/png`` output and no ``text/plain`` part. In a notebook, end the cell with
the call and no semicolon::

    plot_history(history)

For two figures in one cell, ``display(plot_roc(...))`` then ``plot_confusion(...)``.
Outside Jupyter, save it: ``plot_history(history).savefig("history.png")``.
The pixels are rendered here as PNG whatever the inline backend's format is, so
no SVG (which nbval would compare) is ever emitted.
"""

from __future__ import annotations

import io
import math
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from ..data.images import to_display_rgb

__all__ = ["PngFigure"]


DISPLAY_DPI = 100
PNG_MIME = "image/png"
CELL_INCHES = 2.6  # width and height of one image panel


DEFAULT_NCOLS = 4
GRADCAM_CMAP = "jet"  # Grad-CAM overlays: one colour map and opacity for every figure
GRADCAM_ALPHA = 0.45


class PngFigure(Figure):
    """A matplotlib Figure that IPython displays as exactly one PNG (and no text).

    Taught in 02_alexnet, §4.
    """

    def png_bytes(self) -> bytes:
        buffer = io.BytesIO()
        self.savefig(buffer, format="png", dpi=DISPLAY_DPI, bbox_inches="tight")
        return buffer.getvalue()

    def _ipython_display_(self) -> None:
        _publish_png(self.png_bytes())


def _publish_png(png: bytes) -> None:
    from IPython.display import display  # only ever called from inside IPython

    display({PNG_MIME: png}, raw=True)


def new_figure(width: float, height: float) -> PngFigure:
    return PngFigure(figsize=(width, height), layout="constrained")


def grid(count: int, ncols: int) -> tuple[int, int]:
    ncols = max(1, min(ncols, count))
    return math.ceil(count / ncols), ncols


def to_numpy(value: Any) -> np.ndarray:
    """numpy array from an array, a list or a paddle Tensor (without importing paddle)."""
    if hasattr(value, "numpy") and not isinstance(value, np.ndarray):
        value = value.numpy()
    return np.asarray(value)


def displayable(image: Any) -> np.ndarray:
    """HWC uint8, HWC float in [0, 1], HW grey or a CHW normalised network input -> imshow array."""
    array = to_numpy(image)
    if array.ndim == 3 and array.shape[0] in (1, 3) and array.shape[-1] not in (1, 3):
        array = to_display_rgb(array) if array.shape[0] == 3 else array[0]
    if array.ndim == 3 and array.shape[-1] == 1:
        array = array[..., 0]
    if array.dtype != np.uint8:
        array = np.clip(array.astype(np.float32), 0.0, 1.0)
    return array


def show_panel(ax, image: Any, title: Any = None) -> None:
    array = displayable(image)
    ax.imshow(array, cmap="gray" if array.ndim == 2 else None)
    ax.set_axis_off()
    if title is not None:
        ax.set_title(str(title), fontsize=9)


def configure_inline_png() -> None:
    """Make the notebook's own pyplot figures PNG (never SVG); does nothing outside IPython."""
    try:
        from IPython import get_ipython
        from matplotlib_inline.backend_inline import set_matplotlib_formats
    except ImportError:
        return
    if get_ipython() is not None:
        set_matplotlib_formats("png")
