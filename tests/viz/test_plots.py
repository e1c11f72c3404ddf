"""Every plot function draws one figure, with the expected axes, that saves as PNG."""

from __future__ import annotations

from types import SimpleNamespace

from fundus_utils.data.images import to_chw_float
from fundus_utils.viz import figures, plots

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
RNG = np.random.default_rng(0)
RGB = (RNG.random((40, 36, 3)) * 255).astype(np.uint8)
HISTORY = {
    "train_loss": [0.9, 0.6, 0.4],
    "train_acc": [0.5, 0.7, 0.8],
    "valid_loss": [1.0, 0.7, 0.6],
    "valid_acc": [0.5, 0.65, 0.75],
    "valid_auc": [0.6, 0.7, 0.8],
}
RESULTS = pd.DataFrame(
    {
        "arch": ["alexnet", "resnet18", "vgg16"],
        "params": [57_007_937, 11_186_625, 134_264_641],
        "seconds_per_epoch": [85.0, 210.0, 1350.0],
        "final_valid_acc": [0.92, 0.94, 0.95],
        "final_valid_auc": [0.95, 0.97, 0.98],
    }
)


def flip(image: np.ndarray) -> np.ndarray:
    return image[:, ::-1]


FIGURES = {  # name -> (call, expected number of axes)
    "show_images": (
        lambda: plots.show_images(
            [RGB, to_chw_float(RGB), RGB / 255.0, RGB[..., 0], RGB],
            titles=["uint8", "chw", "float", "grey", "PM"],
            ncols=3,
        ),
        5,
    ),
    "show_augmentations": (lambda: plots.show_augmentations(RGB, flip, n=5), 6),
    "plot_history_dict": (lambda: plots.plot_history(HISTORY), 3),
    "plot_history_object": (lambda: plots.plot_history(SimpleNamespace(**HISTORY)), 3),
    "plot_confusion": (lambda: plots.plot_confusion(np.array([[150, 37], [12, 201]])), 1),
    "plot_confusion_5x5": (
        lambda: plots.plot_confusion(np.eye(5) * 9, class_names=list("ABCDE")),
        1,
    ),
    "plot_roc": (lambda: plots.plot_roc(RNG.random(30), np.arange(30) % 2), 1),
    "plot_gradcam": (
        lambda: plots.plot_gradcam(to_chw_float(RGB), RNG.random((5, 5)), title="PM 0.87"),
        3,  # image, overlay, colorbar
    ),
    "plot_filters": (lambda: plots.plot_filters(RNG.normal(size=(12, 3, 5, 5))), 12),
    "plot_filters_grey": (lambda: plots.plot_filters(RNG.normal(size=(80, 6, 3, 3))), 64),
    "plot_feature_maps": (lambda: plots.plot_feature_maps(RNG.normal(size=(1, 20, 8, 8))), 16),
    "plot_comparison": (lambda: plots.plot_comparison(RESULTS), 2),
    "plot_class_balance": (lambda: plots.plot_class_balance({"non-PM": 187, "PM": 213}), 1),
    "plot_class_balance_splits": (
        lambda: plots.plot_class_balance(
            {"train": {"non-PM": 187, "PM": 213}, "valid": {"non-PM": 189, "PM": 211}}
        ),
        1,
    ),
}


@pytest.mark.parametrize("name", sorted(FIGURES))
def test_plot_returns_one_figure_with_expected_axes_and_saves_png(name, tmp_path):
    call, n_axes = FIGURES[name]
    open_before = plt.get_fignums()
    fig = call()
    assert isinstance(fig, Figure)
    assert len(fig.axes) == n_axes
    assert plt.get_fignums() == open_before  # never left in pyplot's state
    fig.savefig(tmp_path / f"{name}.png")
    assert (tmp_path / f"{name}.png").read_bytes()[:8] == PNG_SIGNATURE


def test_notebook_display_publishes_exactly_one_png_and_no_text(monkeypatch):
    published = []
    monkeypatch.setattr(figures, "_publish_png", published.append)
    plots.plot_history(HISTORY)._ipython_display_()
    assert len(published) == 1 and published[0][:8] == PNG_SIGNATURE


def test_history_with_missing_series_still_draws_three_axes():
    fig = plots.plot_history({"train_loss": [1.0, 0.5], "valid_loss": [1.1, 0.9]})
    loss_ax, acc_ax, auc_ax = fig.axes
    assert len(loss_ax.lines) == 2 and not acc_ax.lines and not auc_ax.lines
    assert [text.get_text() for text in auc_ax.texts] == ["not recorded"]


def test_confusion_counts_are_written_in_the_cells():
    fig = plots.plot_confusion([[3, 1], [2, 4]])
    assert sorted(text.get_text() for text in fig.axes[0].texts) == ["1", "2", "3", "4"]
    assert [label.get_text() for label in fig.axes[0].get_xticklabels()] == ["non-PM", "PM"]


def test_roc_shows_auc_in_the_legend_and_survives_a_single_class():
    fig = plots.plot_roc([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1])
    assert [text.get_text() for text in fig.axes[0].get_legend().get_texts()] == [
        "chance",
        "AUC = 0.750",
    ]
    single = plots.plot_roc([0.2, 0.9], [1, 1])
    assert single.axes[0].get_title().startswith("ROC undefined")
    assert [text.get_text() for text in single.axes[0].get_legend().get_texts()] == ["chance"]


def test_bad_inputs_are_refused_with_a_clear_message():
    with pytest.raises(ValueError, match="class names"):
        plots.plot_confusion(np.eye(5))
    with pytest.raises(ValueError, match="seconds_per_epoch"):
        plots.plot_comparison(RESULTS.drop(columns=["seconds_per_epoch"]))
    with pytest.raises(ValueError, match="titles"):
        plots.show_images([RGB, RGB], titles=["one"])


def test_plot_histories_draws_one_line_per_run_and_integer_epochs():
    from fundus_utils.viz.plots import plot_histories

    fig = plot_histories(
        {
            "a": {"valid_acc": [0.5], "valid_auc": [0.6]},
            "b": {"valid_acc": [0.4, 0.7, None], "valid_auc": [0.5, 0.8, 0.9]},
        },
        labels={"a": "run a"},
    )
    acc_ax, auc_ax = fig.axes
    assert [line.get_label() for line in acc_ax.lines] == ["run a", "b"] and len(auc_ax.lines) == 2
    assert acc_ax.get_xlim() == (0.5, 3.5)
    assert all(float(t).is_integer() for t in acc_ax.get_xticks() if 0.5 <= t <= 3.5)


def test_plot_history_single_epoch_has_integer_ticks():
    from fundus_utils.viz.plots import plot_history

    fig = plot_history(
        {
            "train_loss": [1.0],
            "valid_loss": [1.2],
            "train_acc": [0.5],
            "valid_acc": [0.5],
            "valid_auc": [0.5],
        }
    )
    ticks = [t for t in fig.axes[0].get_xticks() if 0.5 <= t <= 1.5]
    assert ticks == [1.0]


def test_figures_take_a_title_naming_model_and_data():
    figures = [
        plots.plot_history(HISTORY, title="LeNet (sample data)"),
        plots.plot_confusion([[3, 1], [2, 4]], title="LeNet (sample data)"),
        plots.plot_roc([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1], title="LeNet (sample data)"),
        plots.plot_histories({"a": HISTORY}, title="LeNet (sample data)"),
    ]
    assert [fig._suptitle.get_text() for fig in figures] == ["LeNet (sample data)"] * 4
    assert plots.plot_history(HISTORY)._suptitle is None
