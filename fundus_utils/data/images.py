"""Decoding and resizing one fundus photograph, and turning it into a network input.

Every path that feeds a network (training, evaluation, ``predict``) goes through
:func:`load_rgb` and :func:`to_chw_float`, so preprocessing never drifts between them.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from ..core.config import IMAGE_SIZE, MEAN_RGB, STD_RGB
from ..core.errors import FundusDataError

__all__ = ["load_rgb", "to_chw_float", "to_display_rgb"]

# cv2 can decode a JPEG at 1/8, 1/4 or 1/2 of its size for a fraction of the cost.
_REDUCTIONS = (
    (8, cv2.IMREAD_REDUCED_COLOR_8),
    (4, cv2.IMREAD_REDUCED_COLOR_4),
    (2, cv2.IMREAD_REDUCED_COLOR_2),
    (1, cv2.IMREAD_COLOR),
)


def _decode_bgr(data: np.ndarray, size: int) -> np.ndarray | None:
    """Decode at the strongest reduction that still leaves at least ``size`` pixels per side.

    The 1/8 decode is cheap and bounds the image's size, so at most one more decode follows.
    """
    eighth = cv2.imdecode(data, cv2.IMREAD_REDUCED_COLOR_8)
    if eighth is None or min(eighth.shape[:2]) >= size:
        return eighth
    shortest = min(eighth.shape[:2]) * 8 - 7  # lower bound of the full side (1/8 rounds up)
    for factor, flag in _REDUCTIONS[1:]:
        if factor == 1 or shortest // factor >= size:
            return cv2.imdecode(data, flag)
    return None


def read_image_bytes(path: str | Path) -> np.ndarray:
    """Read a file's bytes; refuse missing, empty and truncated-JPEG files with a clear message."""
    path = Path(path)
    if not path.is_file():
        raise FundusDataError(f"{path}: expected an image file, found nothing at that path")
    data = np.fromfile(path, dtype=np.uint8)
    if data.size == 0:
        raise FundusDataError(f"{path}: expected a JPEG/PNG image, found an empty file")
    is_jpeg = data[:2].tobytes() == b"\xff\xd8"
    if is_jpeg and b"\xff\xd9" not in data[-64:].tobytes():
        # OpenCV would decode the missing part as grey and only warn on stderr.
        raise FundusDataError(
            f"{path}: expected a complete JPEG, found a truncated file "
            f"({data.size} bytes, no end-of-image marker)"
        )
    return data


def load_rgb(path: str | Path, size: int = IMAGE_SIZE) -> np.ndarray:
    """Read an image file as a ``size`` x ``size`` x 3 uint8 array in RGB order.

    Taught in 00_data, §5 and §6.2.

    JPEGs are decoded at reduced resolution where that loses nothing at ``size``,
    then resized with ``INTER_AREA`` (the default bilinear filter aliases when
    shrinking ~2000 px to 224 px), then converted from OpenCV's BGR to RGB.
    Raises :class:`FundusDataError` naming the file when it is missing, empty,
    truncated or not an image (``cv2.imread`` itself returns ``None`` silently).
    """
    bgr = _decode_bgr(read_image_bytes(path), size)
    if bgr is None or bgr.size == 0:
        raise FundusDataError(
            f"{path}: expected a JPEG/PNG image, found data OpenCV cannot decode "
            "(corrupt or not an image)"
        )
    resized = cv2.resize(bgr, (size, size), interpolation=cv2.INTER_AREA)
    return cv2.cvtColor(resized, cv2.COLOR_BGR2RGB)


# (x / 255 - mean) / std for every uint8 value x, one row per RGB channel.
_NORMALISE_LUT = (
    (np.arange(256, dtype=np.float64)[None, :] / 255.0 - np.asarray(MEAN_RGB)[:, None])
    / np.asarray(STD_RGB)[:, None]
).astype(np.float32)


def to_chw_float(rgb: np.ndarray) -> np.ndarray:
    """HWC uint8 RGB -> CHW float32, scaled to [0, 1] and normalised with MEAN_RGB / STD_RGB.

    Taught in 00_data, §6.5.

    A uint8 image goes through a per-channel look-up table (``cv2.LUT`` on each plane),
    about 8x faster than the arithmetic, which matters once images come from the cache.
    """
    if rgb.dtype != np.uint8:
        x = (np.asarray(rgb, np.float32) / 255.0 - np.asarray(MEAN_RGB, np.float32)) / np.asarray(
            STD_RGB, np.float32
        )
        return np.ascontiguousarray(x.transpose(2, 0, 1))
    out = np.empty((3,) + rgb.shape[:2], np.float32)
    for channel, plane in enumerate(cv2.split(np.ascontiguousarray(rgb))):
        out[channel] = cv2.LUT(plane, _NORMALISE_LUT[channel])
    return out


def to_display_rgb(chw: np.ndarray) -> np.ndarray:
    """Invert :func:`to_chw_float` for plotting: CHW normalised -> HWC float in [0, 1].

    Not used in the notebooks; the figures call it to show network inputs.
    """
    x = np.asarray(chw, np.float32).transpose(1, 2, 0)
    x = x * np.asarray(STD_RGB, np.float32) + np.asarray(MEAN_RGB, np.float32)
    return np.clip(x, 0.0, 1.0)
