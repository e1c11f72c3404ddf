"""Course plots: one matplotlib figure per call (a :class:`~fundus_utils.viz.figures.PngFigure`),
returned to the caller, so nbval compares nothing but a PNG. See ``figures`` for the display
pattern.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Sequence

import numpy as np
import pandas as pd
from matplotlib.ticker import MaxNLocator

from ..core.config import CLASS_NAMES
from .figures import (
    CELL_INCHES,
    DEFAULT_NCOLS,
    GRADCAM_ALPHA,
    GRADCAM_CMAP,
    PngFigure,
    displayable,
    grid,
    new_figure,
    show_panel,
    to_numpy,
)

__all__ = [
    "show_images",
    "show_augmentations",
    "plot_history",
    "plot_histories",
    "plot_confusion",
    "plot_roc",
    "plot_gradcam",
    "plot_filters",
    "plot_feature_maps",
    "plot_comparison",
    "plot_class_balance",
]

COMPARISON_REQUIRED = ("arch", "params", "seconds_per_epoch")
COMPARISON_METRICS = {
    "final_valid_acc": "validation accuracy (final epoch)",
    "final_valid_auc": "validation AUC (final epoch)",
}
COMPARISON_MARKERS = {"final_valid_acc": "o", "final_valid_auc": "s"}


def show_images(
    images: Sequence[Any], titles: Sequence[Any] | None = None, ncols: int = DEFAULT_NCOLS
) -> PngFigure:
    """Grid of images with optional titles (one axes per image).

    Taught in 00_data, §5.

    Accepts HWC uint8 (``load_rgb``), HWC float in [0, 1], HW grey, or CHW
    normalised network inputs (``to_chw_float``), mixed freely.
    """
    images = list(images)
    if not images:
        raise ValueError("show_images needs at least one image")
    if titles is not None and len(titles) != len(images):
        raise ValueError(f"got {len(titles)} titles for {len(images)} images")
    nrows, ncols = grid(len(images), ncols)
    fig = new_figure(CELL_INCHES * ncols, CELL_INCHES * nrows)
    for index, image in enumerate(images):
        show_panel(
            fig.add_subplot(nrows, ncols, index + 1),
            image,
            None if titles is None else titles[index],
        )
    return fig


def show_augmentations(
    image: Any, transform: Any, n: int = 7, ncols: int = DEFAULT_NCOLS
) -> PngFigure:
    """The original image and ``n`` outputs of a random ``transform`` (``n + 1`` axes).

    Taught in 00_data, §7, and 02_alexnet, §1.

    ``transform`` is any callable on the image (e.g. a ``paddle.vision.transforms``
    pipeline); its output may be HWC or a CHW normalised array or tensor.
    """
    samples = [image] + [transform(image) for _ in range(n)]
    titles = ["original"] + [f"augmented {index}" for index in range(1, n + 1)]
    return show_images(samples, titles, ncols=ncols)


def _history_series(history: Any, key: str) -> list[float]:
    values = history.get(key) if isinstance(history, Mapping) else getattr(history, key, None)
    return [float("nan") if value is None else float(value) for value in (values or [])]


def _epoch_axis(ax, title: str) -> None:
    """Epochs are whole numbers: integer ticks, and a sensible range even for a single epoch."""
    ax.set_title(title)
    ax.set_xlabel("epoch")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True, min_n_ticks=1))
    longest = max((len(line.get_xdata()) for line in ax.lines), default=1)
    ax.set_xlim(0.5, longest + 0.5)


def _plot_curves(ax, history: Any, keys: Sequence[str], title: str) -> None:
    for key in keys:
        values = _history_series(history, key)
        if values:
            ax.plot(range(1, len(values) + 1), values, marker="o", label=key.split("_")[0])
    _epoch_axis(ax, title)
    if ax.lines:
        ax.legend()
    else:
        ax.text(0.5, 0.5, "not recorded", ha="center", va="center", transform=ax.transAxes)


def _titled(fig: PngFigure, title: str | None) -> PngFigure:
    """``title`` above the whole figure (e.g. which model, on which data: "… (sample data)")."""
    if title:
        fig.suptitle(title)
    return fig


def plot_history(history: Any, title: str | None = None) -> PngFigure:
    """Loss, accuracy and AUC per epoch, train vs validation (3 axes).

    Taught in 01_lenet, §5.

    ``history``: an object with list attributes ``train_loss, train_acc,
    valid_loss, valid_acc, valid_auc`` (``fundus_utils.engine.loop.History``) or a dict
    with those keys; a missing series is left out (``train_auc`` is drawn if present).
    """
    fig = new_figure(13, 3.6)
    loss_ax, acc_ax, auc_ax = fig.subplots(1, 3)
    _plot_curves(loss_ax, history, ("train_loss", "valid_loss"), "loss")
    _plot_curves(acc_ax, history, ("train_acc", "valid_acc"), "accuracy")
    _plot_curves(auc_ax, history, ("train_auc", "valid_auc"), "AUC")
    return _titled(fig, title)


def plot_histories(
    histories: Mapping[str, Any],
    keys: Sequence[str] = ("valid_acc", "valid_auc"),
    labels: Mapping[str, str] | None = None,
    title: str | None = None,
) -> PngFigure:
    """Several runs' curves side by side: one axis per history key, one line per run.

    Taught in 02_alexnet, §4 (with vs without augmentation), and 03_vgg, §6.

    ``histories``: ``{run name: History or history dict}`` (e.g. ``fu.load_histories()``);
    ``labels``: optional legend text per run name.
    """
    fig = new_figure(6 * len(keys), 4)
    axes = np.atleast_1d(fig.subplots(1, len(keys)))
    for ax, key in zip(axes, keys):
        for name, history in histories.items():
            values = [np.nan if v is None else v for v in _history_series(history, key)]
            if values:
                ax.plot(
                    range(1, len(values) + 1),
                    values,
                    marker="o",
                    label=(labels or {}).get(name, name),
                )
        _epoch_axis(
            ax,
            key.replace("valid_", "validation ").replace("acc", "accuracy").replace("auc", "AUC"),
        )
    if axes[0].lines:
        fig.legend(*axes[0].get_legend_handles_labels(), loc="outside right upper", fontsize=8)
    return _titled(fig, title)


def plot_confusion(
    confusion: Any, class_names: Sequence[str] | None = CLASS_NAMES, title: str | None = None
) -> PngFigure:
    """Confusion matrix heat map with counts; rows = true class, columns = predicted (K x K).

    Taught in 01_lenet, §5.
    """
    matrix = to_numpy(confusion)
    if matrix.ndim != 2 or matrix.shape[0] != matrix.shape[1]:
        raise ValueError(f"expected a square K x K confusion matrix, got shape {matrix.shape}")
    size = matrix.shape[0]
    names = [str(index) for index in range(size)] if class_names is None else list(class_names)
    if len(names) != size:
        raise ValueError(
            f"got {len(names)} class names for a {size} x {size} matrix; "
            "pass class_names (or None for indices)"
        )
    fig = new_figure(1.2 * size + 2.4, 1.2 * size + 1.8)
    ax = fig.subplots()
    ax.imshow(matrix, cmap="Blues", vmin=0)
    threshold = matrix.max() / 2 if matrix.size else 0
    for (row, col), count in np.ndenumerate(matrix):
        ax.text(
            col,
            row,
            f"{count:g}",
            ha="center",
            va="center",
            color="white" if count > threshold else "black",
        )
    ax.set_xticks(range(size), names, rotation=30 if size > 2 else 0)
    ax.set_yticks(range(size), names)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title("confusion matrix")
    return _titled(fig, title)


def plot_roc(probs: Any, labels: Any, title: str | None = None) -> PngFigure:
    """ROC curve of PM probabilities against 0/1 labels, AUC in the legend (1 axes).

    Taught in 01_lenet, §5.

    Uses :func:`fundus_utils.engine.metrics.roc_points`. With a single class in ``labels``
    the curve is undefined: only the chance line is drawn and the title says why.
    """
    from ..engine.metrics import roc_points  # imports scikit-learn: only when needed

    roc = roc_points(to_numpy(probs).reshape(-1), to_numpy(labels).reshape(-1))
    fig = new_figure(4.6, 4.4)
    ax = fig.subplots()
    ax.plot([0, 1], [0, 1], linestyle="--", color="grey", label="chance")
    if roc["note"]:
        ax.set_title(roc["note"], fontsize=9)
    else:
        ax.plot(roc["fpr"], roc["tpr"], label=f"AUC = {roc['auc']:.3f}")
        ax.set_title("ROC curve")
    ax.set_xlabel("false positive rate")
    ax.set_ylabel("true positive rate")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.01)
    ax.legend(loc="lower right")
    return _titled(fig, title)


def plot_gradcam(
    image: Any, cam: Any, title: str | None = None, alpha: float = GRADCAM_ALPHA
) -> PngFigure:
    """The image and the Grad-CAM map laid over it, with a colorbar; ``cam`` is resized if
    needed.

    Taught in 01_lenet, §5.
    """
    picture = displayable(image)
    heat = to_numpy(cam).astype(np.float32)
    height, width = picture.shape[:2]
    if heat.shape != (height, width):
        import cv2

        heat = cv2.resize(heat, (width, height), interpolation=cv2.INTER_LINEAR)
    fig = new_figure(2 * CELL_INCHES + 1, CELL_INCHES + 0.4)
    image_ax, overlay_ax = fig.subplots(1, 2)
    show_panel(image_ax, picture, "image")
    show_panel(overlay_ax, picture, "Grad-CAM" if heat.any() else "Grad-CAM: empty map")
    shown = overlay_ax.imshow(heat, cmap=GRADCAM_CMAP, alpha=alpha, vmin=0.0, vmax=1.0)
    fig.colorbar(shown, ax=overlay_ax, shrink=0.8, label="evidence for PM")
    if title:
        fig.suptitle(title)
    return fig


def _rescaled(array: np.ndarray) -> np.ndarray:
    low, high = float(array.min()), float(array.max())
    return (array - low) / (high - low) if high > low else np.zeros_like(array)


def plot_filters(conv_weight: Any, max_filters: int = 64, ncols: int = 8) -> PngFigure:
    """First-layer filters ``[out, in, kh, kw]``: RGB if ``in == 3``, else channel mean in grey.

    Not used in the notebooks; an extra for looking at first-layer filters.

    Each filter is rescaled to [0, 1] on its own; one axes per filter (at most ``max_filters``).
    """
    weights = to_numpy(conv_weight).astype(np.float32)
    if weights.ndim != 4:
        raise ValueError(f"expected a conv weight [out, in, kh, kw], got shape {weights.shape}")
    filters = weights[:max_filters]
    if filters.shape[1] == 3:
        panels = [_rescaled(f.transpose(1, 2, 0)) for f in filters]
    else:
        panels = [_rescaled(f.mean(axis=0)) for f in filters]
    nrows, ncols = grid(len(panels), ncols)
    fig = new_figure(1.1 * ncols, 1.1 * nrows + 0.4)
    for index, panel in enumerate(panels):
        ax = fig.add_subplot(nrows, ncols, index + 1)
        ax.imshow(panel, cmap="gray" if panel.ndim == 2 else None, interpolation="nearest")
        ax.set_axis_off()
    fig.suptitle(
        f"{len(panels)} of {weights.shape[0]} filters, {weights.shape[2]}x{weights.shape[3]}"
    )
    return fig


def plot_feature_maps(maps: Any, max_maps: int = 16, ncols: int = 8) -> PngFigure:
    """Feature maps ``[C, H, W]`` (or ``[1, C, H, W]``), one axes per channel up to ``max_maps``.

    Not used in the notebooks; an extra for looking at a layer's activations.
    """
    array = to_numpy(maps).astype(np.float32)
    if array.ndim == 4 and array.shape[0] == 1:
        array = array[0]
    if array.ndim != 3:
        raise ValueError(
            f"expected feature maps [C, H, W] or [1, C, H, W], got shape {array.shape}"
        )
    shown = array[:max_maps]
    nrows, ncols = grid(len(shown), ncols)
    fig = new_figure(1.6 * ncols, 1.6 * nrows + 0.4)
    for index, channel in enumerate(shown):
        ax = fig.add_subplot(nrows, ncols, index + 1)
        ax.imshow(channel, cmap="viridis")
        ax.set_title(f"channel {index}", fontsize=8)
        ax.set_axis_off()
    fig.suptitle(f"{len(shown)} of {array.shape[0]} channels, {array.shape[1]}x{array.shape[2]}")
    return fig


def _scatter_metrics(
    ax, table: pd.DataFrame, x_column: str, x_label: str, metrics: Sequence[str]
) -> None:
    for metric in metrics:
        ax.scatter(
            table[x_column],
            table[metric],
            marker=COMPARISON_MARKERS[metric],
            label=COMPARISON_METRICS[metric],
        )
        for _, row in table.iterrows():
            ax.annotate(
                str(row["arch"]),
                (row[x_column], row[metric]),
                fontsize=8,
                xytext=(4, 4),
                textcoords="offset points",
            )
    ax.set_xscale("log")
    ax.set_xlabel(x_label)
    ax.set_ylabel("validation score")
    ax.legend(loc="lower right")


def plot_comparison(results_table: pd.DataFrame) -> PngFigure:
    """Validation scores vs model size and vs training time, one point per run (2 axes).

    Taught in 07_compare, §1.

    Expected columns: ``arch`` (label), ``params`` (parameter count),
    ``seconds_per_epoch``, and at least one of ``final_valid_acc`` and
    ``final_valid_auc``; both axes' x scales are logarithmic.
    """
    missing = [column for column in COMPARISON_REQUIRED if column not in results_table.columns]
    metrics = [column for column in COMPARISON_METRICS if column in results_table.columns]
    if missing or not metrics:
        raise ValueError(
            f"results table needs columns {list(COMPARISON_REQUIRED)} and one of "
            f"{list(COMPARISON_METRICS)}; it has {list(results_table.columns)}"
        )
    fig = new_figure(11, 4.2)
    params_ax, time_ax = fig.subplots(1, 2, sharey=True)
    _scatter_metrics(params_ax, results_table, "params", "parameters", metrics)
    _scatter_metrics(time_ax, results_table, "seconds_per_epoch", "seconds per epoch", metrics)
    params_ax.set_title("score vs size")
    time_ax.set_title("score vs training time")
    return fig


def plot_class_balance(counts: Mapping[str, Any] | pd.Series | pd.DataFrame) -> PngFigure:
    """Bar chart of images per class (1 axes), counts written on the bars.

    Taught in 00_data, §2.

    ``counts``: ``{"non-PM": 187, "PM": 213}`` or a Series; or per split,
    ``{"train": {...}, "valid": {...}}`` or a DataFrame (rows = classes,
    columns = splits) for grouped bars.
    """
    table = (
        counts
        if isinstance(counts, pd.DataFrame)
        else pd.DataFrame(
            counts
            if any(isinstance(value, Mapping) for value in dict(counts).values())
            else {"images": dict(counts)}
        )
    )
    fig = new_figure(max(4.0, 1.3 * len(table.index) * len(table.columns)), 3.6)
    ax = fig.subplots()
    width = 0.8 / len(table.columns)
    positions = np.arange(len(table.index))
    for offset, column in enumerate(table.columns):
        bars = ax.bar(
            positions + (offset - (len(table.columns) - 1) / 2) * width,
            table[column].fillna(0),
            width,
            label=str(column),
        )
        ax.bar_label(bars, fmt="%g")
    ax.set_xticks(positions, [str(name) for name in table.index])
    ax.set_ylabel("images")
    ax.set_title("class balance")
    ax.margins(y=0.12)
    if len(table.columns) > 1:
        ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0))
    return fig
