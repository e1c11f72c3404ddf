"""fundus_utils.viz.heatmaps: Grad-CAM grids with one colour scale, empty maps named."""

from __future__ import annotations

import fundus_utils as fu
from fundus_utils.data.images import to_chw_float

import numpy as np

RNG = np.random.default_rng(0)
IMAGE = to_chw_float(RNG.integers(0, 256, (24, 24, 3), dtype=np.uint8))


def stored(maps):
    return {
        "maps": np.stack(maps),
        "images": np.stack([IMAGE] * len(maps)),
        "names": np.array([f"V{i:04d}.jpg" for i in range(1, len(maps) + 1)]),
        "labels": np.array([1, 0][: len(maps)]),
    }


def test_grid_has_a_row_per_run_below_the_images_and_one_colorbar():
    runs = {
        "lenet": stored([RNG.random((24, 24)), np.zeros((24, 24))]),
        "resnet18": stored([RNG.random((24, 24)), RNG.random((24, 24))]),
    }
    fig = fu.plot_gradcam_grid(runs, title="sample data")
    assert len(fig.axes) == 3 * 2 + 1  # images + 2 runs, 2 columns, + the colorbar
    titles = [ax.get_title() for ax in fig.axes]
    assert titles[:2] == ["V0001.jpg (PM)", "V0002.jpg (non-PM)"]
    assert "lenet: V0002.jpg\nempty map: no evidence for PM here" in titles
    assert sum("empty map" in t for t in titles) == 1
    assert fu.empty_gradcam_maps(runs) == [("lenet", "V0002.jpg")]
    assert fig.axes[-1].get_ylabel() == "Grad-CAM (1 = strongest evidence for PM)"


def test_a_single_run_and_a_single_image_still_draw():
    fig = fu.plot_gradcam_grid({"one": stored([RNG.random((24, 24))])})
    assert len(fig.axes) == 3
