"""Compositing the painted layers and "photographing" them: the warp into the output frame,
exposure, white balance, haze, blur, sensor noise, dust; then one whole sample image."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import lru_cache

import cv2
import numpy as np

from ..core.config import (
    CLASS_PREFIXES,
)
from ..core.errors import FundusDataError
from .findings import Layers, Nuisance, draw_nuisance, paint_findings
from .retina import (
    ATROPHY_RGB,
    BASE_DISC,
    BASE_FOV_CENTRE,
    BASE_FOV_RADIUS,
    BASE_FOVEA,
    CHOROID_ON_SCLERA,
    CRESCENT_RGB,
    DEFAULT_IMAGE_SIZE,
    DISC_PALLOR_RGB,
    FLARE_RGB,
    HAZE_RGB,
    LUMA_WEIGHTS,
    PIGMENT_RGB,
    REFLEX_RGB,
    VESSEL_ON_ATROPHY,
    Base,
    base_photograph,
    check_size,
    choroid_pattern,
    disc_alpha,
    support,
    work_side,
)

__all__ = ["render_sample_image"]

NOISE_BANK_SEED = 12345  # sensor noise is read from one fixed bank per image size
NOISE_BANK_MARGIN = 64


# ============================================================================================
# Compositing and "photographing"
# ============================================================================================


def _composite(base: Base, layers: Layers, rng: np.random.Generator, side: int) -> np.ndarray:
    """The canonical-frame picture: the photograph with every layer painted on."""
    img = base.darkened * layers.tessellation[..., None]
    np.subtract(base.rgb, img, out=img)
    box = support(layers.atrophy, layers.crescent)
    if box is not None:
        s = box.s
        choroid = choroid_pattern(rng, side, rng.uniform(70, 110), 3.0, box)[..., None]
        vessel_shadow = 1.0 - base.vessels[s][..., None] * VESSEL_ON_ATROPHY
        sclera = ATROPHY_RGB * (1.0 - choroid * CHOROID_ON_SCLERA * rng.uniform(0.4, 1.0))
        sclera *= base.texture[s] * vessel_shadow
        a, c = layers.atrophy[s][..., None], layers.crescent[s][..., None]
        img[s] = img[s] * (1 - a) + sclera * a
        img[s] = img[s] * (1 - c) + CRESCENT_RGB * vessel_shadow * c
    box = support(layers.pigment)
    if box is not None:
        p = layers.pigment[box.s][..., None]
        img[box.s] *= 1 - p + 1.5 * PIGMENT_RGB * p
    if layers.reflex.any():
        img += layers.reflex[..., None] * REFLEX_RGB
    if layers.disc_pallor:
        dbox, halo = disc_alpha(side, 1.15, edge=0.02)
        img[dbox.s] += layers.disc_pallor * halo[..., None] * DISC_PALLOR_RGB
    return img


def _affine(n: Nuisance, side: int, size: tuple[int, int]) -> tuple[np.ndarray, float]:
    """2x3 matrix from canonical to output pixels, and the aperture radius in output pixels."""
    w, h = size
    radius = 0.5 * min(w, h) * n.aperture
    k = radius / (BASE_FOV_RADIUS * side) * n.zoom
    t = math.radians(n.angle)
    rot = np.array([[math.cos(t), -math.sin(t)], [math.sin(t), math.cos(t)]])
    lin = k * rot @ np.diag([-1.0 if n.flip else 1.0, 1.0])
    centre_in = np.array(BASE_FOV_CENTRE) * side
    centre_out = np.array([w / 2 + n.shift[0] * radius, h / 2 + n.shift[1] * radius])
    return np.hstack([lin, (centre_out - lin @ centre_in)[:, None]]), radius


def _apply(m: np.ndarray, xy: tuple[float, float]) -> tuple[float, float]:
    x, y = m @ np.array([xy[0], xy[1], 1.0])
    return float(x), float(y)


@lru_cache(maxsize=3)
def _output_grid(w: int, h: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pixel-centre offsets from the image centre: x (1 x w), y (h x 1) and the squared
    distance (h x w)."""
    x = (np.arange(w, dtype=np.float32) - w / 2 + 0.5)[None, :]
    y = (np.arange(h, dtype=np.float32) - h / 2 + 0.5)[:, None]
    d2 = x * x + y * y
    for arr in (x, y, d2):
        arr.setflags(write=False)
    return x, y, d2


@lru_cache(maxsize=2)
def _noise_bank(h: int, w: int) -> np.ndarray:
    """Unit Gaussian noise a little larger than the image; each image reads it at its own offset."""
    bank = np.random.default_rng(NOISE_BANK_SEED).standard_normal(
        (h + NOISE_BANK_MARGIN, w + NOISE_BANK_MARGIN, 3), dtype=np.float32
    )
    bank.setflags(write=False)
    return bank


def _sensor_noise(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """h x w x 3 unit Gaussian noise: a window of the bank at a random offset (cheap and varied)."""
    dy, dx = (int(v) for v in rng.integers(0, NOISE_BANK_MARGIN + 1, 2))
    return _noise_bank(h, w)[dy : dy + h, dx : dx + w]


def _add_dust(out: np.ndarray, rng: np.random.Generator, count: int) -> None:
    h, w = out.shape[:2]
    for _ in range(count):
        cx, cy = rng.uniform(0.15, 0.85) * w, rng.uniform(0.15, 0.85) * h
        r, depth = rng.uniform(0.004, 0.012) * h, rng.uniform(0.2, 0.5)
        x0, x1 = max(0, int(cx - 3 * r)), min(w, int(cx + 3 * r) + 1)
        y0, y1 = max(0, int(cy - 3 * r)), min(h, int(cy + 3 * r) + 1)
        yy, xx = np.ogrid[y0:y1, x0:x1]
        speck = depth * np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / r**2)
        out[y0:y1, x0:x1] *= (1 - speck)[..., None].astype(np.float32)


def _photograph(
    img: np.ndarray,
    n: Nuisance,
    rng: np.random.Generator,
    m: np.ndarray,
    radius: float,
    size: tuple[int, int],
) -> np.ndarray:
    """Warp into the output frame and add the camera's look; returns uint8 RGB."""
    w, h = size
    out = cv2.warpAffine(img, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT101)
    x, y, d2 = _output_grid(w, h)
    r2 = d2 * np.float32(1 / radius**2)
    cos_i, sin_i = math.cos(n.illum_angle), math.sin(n.illum_angle)
    light = (
        np.float32(n.illum_gain * cos_i / radius) * x
        + np.float32(n.illum_gain * sin_i / radius) * y
    ) + 1.0
    light -= np.float32(n.vignette) * r2
    np.maximum(light, 0.2, out=light)
    out *= light[..., None]
    out *= np.asarray(n.wb, np.float32)
    _add_dust(out, rng, n.dust)
    if n.flare > 0:
        along = (
            np.float32(math.cos(n.flare_angle) / radius) * x
            + np.float32(math.sin(n.flare_angle) / radius) * y
        )
        out += (n.flare * np.clip((along - 0.55) / 0.45, 0, 1) ** 2)[..., None] * FLARE_RGB
    np.clip(out, 1e-6, 1.0, out=out)
    cv2.log(out, out)  # per-channel tone curve: x ** gamma
    out *= np.asarray(n.gamma, np.float32)
    cv2.exp(out, out)
    small_size = (max(8, w // 8), max(8, h // 8))
    small = cv2.resize(out, small_size, interpolation=cv2.INTER_AREA)
    small_in = (
        cv2.resize((r2 < 1).astype(np.float32), small_size, interpolation=cv2.INTER_AREA) > 0.99
    )
    luma = float((small[small_in] @ LUMA_WEIGHTS).mean()) if small_in.any() else 0.5
    # One 3x3 colour transform: saturation about the luminance, then auto-exposure.
    colour = n.saturation * np.eye(3, dtype=np.float32) + (1 - n.saturation) * np.outer(
        np.ones(3), LUMA_WEIGHTS
    )
    out = cv2.transform(out, (colour * (255.0 * n.exposure / max(luma, 1e-3))).astype(np.float32))
    if n.haze > 0:  # veil of scattered light, from a small copy
        veil = cv2.GaussianBlur(
            cv2.resize(out, small_size, interpolation=cv2.INTER_AREA), (0, 0), 0.05 * small_size[1]
        )
        veil = cv2.resize(
            veil * 0.6 + 0.4 * 255.0 * HAZE_RGB, (w, h), interpolation=cv2.INTER_LINEAR
        )
        out = cv2.addWeighted(out, 1 - n.haze, veil, n.haze, 0.0)
    edge = np.clip((1.0 - np.sqrt(r2)) * np.float32(radius / 1.5), 0.0, 1.0)
    out *= edge[..., None]
    sigma = n.blur * h / DEFAULT_IMAGE_SIZE[1]
    if sigma > 0.3:
        out = cv2.GaussianBlur(out, (0, 0), sigma)
    out = cv2.scaleAdd(_sensor_noise(rng, h, w), n.noise, out)  # noise * sigma + picture
    return np.clip(out + 0.5, 0, 255, out=out).astype(np.uint8)


# ============================================================================================
# One image
# ============================================================================================


@dataclass(frozen=True)
class SampleImage:
    """One rendered sample image and what is known about it (positions in output pixels)."""

    image: np.ndarray  # H x W x 3 uint8 RGB
    fovea: tuple[float, float]  # (x, y)
    disc: tuple[float, float]  # optic disc centre (x, y)
    kind: str  # "H", "N" or "P"
    flipped: bool  # True: mirrored into a right eye (disc right of the fovea)
    severity: float  # 0 for H and N; 0..1 for P
    jpeg_quality: int
    matrix: np.ndarray = field(repr=False)  # canonical -> output pixels (2 x 3)
    atrophy_layer: np.ndarray = field(repr=False)  # canonical-frame atrophy map

    def disc_mask(self) -> np.ndarray:
        """H x W uint8: 0 on the optic disc, 255 elsewhere (the PALM mask convention)."""
        side = self.atrophy_layer.shape[0]
        layer = np.zeros((side, side), np.float32)
        box, alpha = disc_alpha(side)
        layer[box.s] = alpha
        return self._mask(layer)

    def atrophy_mask(self) -> np.ndarray:
        """H x W uint8: 0 on painted atrophy, 255 elsewhere."""
        return self._mask(self.atrophy_layer)

    def _mask(self, layer: np.ndarray) -> np.ndarray:
        h, w = self.image.shape[:2]
        warped = cv2.warpAffine(layer, self.matrix, (w, h), flags=cv2.INTER_LINEAR, borderValue=0)
        return np.where(warped > 0.5, 0, 255).astype(np.uint8)


def render_sample(
    kind: str, rng: np.random.Generator, size: tuple[int, int] = DEFAULT_IMAGE_SIZE
) -> SampleImage:
    """Render one synthetic fundus photograph of class ``kind`` ("P", "H" or "N"); ``size`` is
    (w, h)."""
    if kind not in CLASS_PREFIXES:
        raise FundusDataError(f"kind: expected one of {sorted(CLASS_PREFIXES)}, found {kind!r}")
    size = check_size(size)
    side = work_side(size)
    base = base_photograph(side)
    nuisance = draw_nuisance(rng)  # first, and the same draws for every class
    layers, severity = paint_findings(kind, rng, nuisance, base, side)
    canonical = _composite(base, layers, rng, side)
    m, radius = _affine(nuisance, side, size)
    image = _photograph(canonical, nuisance, rng, m, radius, size)
    fovea = _apply(m, (BASE_FOVEA[0] * side, BASE_FOVEA[1] * side))
    disc = _apply(m, (BASE_DISC[0] * side, BASE_DISC[1] * side))
    return SampleImage(
        image, fovea, disc, kind, nuisance.flip, severity, nuisance.jpeg_quality, m, layers.atrophy
    )


def render_sample_image(
    kind: str, rng: np.random.Generator, size: tuple[int, int] = DEFAULT_IMAGE_SIZE
) -> tuple[np.ndarray, tuple[float, float]]:
    """One synthetic fundus image (H x W x 3 uint8 RGB) of class ``kind`` and its fovea (x, y) in
    pixels.

    Not used in the notebooks; used by benchmarks/loader.py.
    """
    sample = render_sample(kind, rng, size)
    return sample.image, sample.fovea


def image_rng(seed: int, split: int, index: int) -> np.random.Generator:
    """The random stream of one image: no image depends on the images rendered before it."""
    return np.random.default_rng([seed, split, index])
