"""fundus_utils.data.images: decoding to RGB at the requested size, and normalising to CHW."""

from __future__ import annotations

from fundus_utils.core.config import MEAN_RGB, STD_RGB
from fundus_utils.core.errors import FundusDataError
from fundus_utils.data.images import load_rgb

import numpy as np
import pytest
from source_fixtures import jpeg_bytes


def test_load_rgb_is_rgb_and_area_resized(tmp_path):
    import cv2

    bgr = np.zeros((400, 420, 3), np.uint8)
    bgr[..., 2] = 255  # pure red in OpenCV's BGR order
    cv2.imencode(".png", bgr)[1].tofile(tmp_path / "red.png")  # cv2.imwrite fails on non-ASCII
    rgb = load_rgb(tmp_path / "red.png", 50)
    assert rgb.shape == (50, 50, 3) and rgb.dtype == np.uint8
    assert rgb[..., 0].min() == 255 and rgb[..., 1:].max() == 0
    with pytest.raises(FundusDataError, match="missing.jpg: expected an image file, found nothing"):
        load_rgb(tmp_path / "missing.jpg")


def test_to_chw_float_matches_the_formula_for_every_uint8_value():
    from fundus_utils.data.images import to_chw_float

    rgb = np.stack(np.meshgrid(np.arange(256), np.arange(3), indexing="ij"), -1)[..., 0]  # 256 x 3
    rgb = np.repeat(rgb[:, :, None], 3, axis=2).astype(np.uint8)  # 256 x 3 x 3
    expected = ((rgb / 255.0 - np.array(MEAN_RGB)) / np.array(STD_RGB)).transpose(2, 0, 1)
    np.testing.assert_allclose(to_chw_float(rgb), expected, atol=1e-6)
    np.testing.assert_allclose(to_chw_float(rgb.astype(np.float32)), expected, atol=1e-6)


def test_a_small_image_is_decoded_at_most_twice(tmp_path, monkeypatch):
    import cv2

    path = tmp_path / "small.jpg"
    path.write_bytes(jpeg_bytes(3, size=(420, 400)))  # 1/8 is too small for 224, 1/2 is enough
    calls = []
    real = cv2.imdecode
    monkeypatch.setattr(
        "fundus_utils.data.images.cv2.imdecode",
        lambda data, flag: calls.append(flag) or real(data, flag),
    )
    rgb = load_rgb(path, 160)
    assert rgb.shape == (160, 160, 3)
    assert calls == [cv2.IMREAD_REDUCED_COLOR_8, cv2.IMREAD_REDUCED_COLOR_2]
