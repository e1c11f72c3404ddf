"""Grad-CAM figures: every reference image of one or more runs, on one colour scale.

The maps come from :func:`fundus_utils.viz.gradcam.save_gradcam_maps` (or
:func:`~fundus_utils.viz.gradcam.load_gradcam_maps`); how to read them is taught in
01_lenet, §5.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from ..core.config import CLASS_NAMES
from .figures import (
    CELL_INCHES,
    GRADCAM_ALPHA,
    GRADCAM_CMAP,
    PngFigure,
    displayable,
    new_figure,
    show_panel,
)

__all__ = ["plot_gradcam_grid", "empty_gradcam_maps"]

EMPTY_NOTE = "empty map: no evidence for PM here"


def _is_empty(cam: np.ndarray) -> bool:
    return not np.any(np.asarray(cam) > 0)


def empty_gradcam_maps(maps_by_run: Mapping[str, Mapping[str, Any]]) -> list[tuple[str, str]]:
    """``(run, image name)`` of every all-zero map: no positive evidence for PM reached the
    explained layer (a ReLU of a weighted sum that is negative everywhere).

    Taught in 01_lenet, §5, and 07_compare, §3.
    """
    return [
        (run, str(name))
        for run, stored in maps_by_run.items()
        for cam, name in zip(stored["maps"], stored["names"])
        if _is_empty(cam)
    ]


def plot_gradcam_grid(
    maps_by_run: Mapping[str, Mapping[str, Any]], title: str | None = None
) -> PngFigure:
    """The reference images on top, then one row per run with its Grad-CAM maps laid over them,
    all on one colour scale with a colorbar; empty maps are labelled as such.

    Taught in 01_lenet, §5; 02–06 show their own run with it, 07_compare, §3, all of them.

    ``maps_by_run``: ``{run label: {"maps", "images", "names", "labels"}}`` as stored by
    ``save_gradcam_maps`` (every run explains the same reference images).
    """
    runs = list(maps_by_run.items())
    if not runs:
        raise ValueError("plot_gradcam_grid needs the maps of at least one run")
    first = runs[0][1]
    ncols = len(first["maps"])
    fig = new_figure(CELL_INCHES * ncols + 1.0, CELL_INCHES * (len(runs) + 1) + 0.3)
    axes = np.atleast_2d(fig.subplots(len(runs) + 1, ncols)).reshape(len(runs) + 1, ncols)
    for col, (image, name, label) in enumerate(
        zip(first["images"], first["names"], first["labels"])
    ):
        show_panel(axes[0, col], image, f"{name} ({CLASS_NAMES[int(label)]})")
    shown = None
    for row, (run, stored) in enumerate(runs, start=1):
        for col, (image, cam, name) in enumerate(
            zip(stored["images"], stored["maps"], stored["names"])
        ):
            ax = axes[row, col]
            ax.imshow(displayable(image))
            shown = ax.imshow(
                np.asarray(cam), cmap=GRADCAM_CMAP, alpha=GRADCAM_ALPHA, vmin=0.0, vmax=1.0
            )
            ax.set_axis_off()
            note = f"\n{EMPTY_NOTE}" if _is_empty(cam) else ""
            ax.set_title(f"{run}: {name}{note}", fontsize=8)
    colorbar = fig.colorbar(shown, ax=axes[1:, :].ravel().tolist(), shrink=0.8)
    colorbar.set_label("Grad-CAM (1 = strongest evidence for PM)")
    if title:
        fig.suptitle(title)
    return fig
