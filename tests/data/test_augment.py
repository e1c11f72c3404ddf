"""fundus_utils.data.augment: the training augmentation's colour jitter."""

from __future__ import annotations

import numpy as np


def test_saturation_jitter_stays_within_its_amount():
    from fundus_utils.data.augment import LUMA_RGB, RandomSaturation

    rng = np.random.default_rng(0)
    rgb = rng.integers(40, 200, (16, 16, 3)).astype(np.uint8)

    def chroma(image):
        x = image.astype(np.float32)
        return np.abs(x - (x @ LUMA_RGB)[..., None]).mean()

    np.random.seed(0)
    ratios = [chroma(RandomSaturation(0.2)(rgb)) / chroma(rgb) for _ in range(200)]
    assert 0.78 <= min(ratios) and max(ratios) <= 1.22 and max(ratios) - min(ratios) > 0.3
    grey = np.repeat(rgb[..., :1], 3, axis=2)
    np.testing.assert_array_equal(RandomSaturation(0.2)(grey), grey)  # grey stays grey
