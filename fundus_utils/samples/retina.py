"""The base photograph (scikit-image's retina, CC0), its landmarks, the palette, and the random
shapes and textures that findings are drawn with, all in the canonical frame (positions as
fractions of the square photograph's side). Shared by the PM sample (``pm``) and the DR-grade
sample (``grades``). Taught in 00_data, §5."""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from typing import Callable

import cv2
import numpy as np

from ..core.errors import FundusDataError

__all__ = ["FULL_IMAGE_SIZE"]

# --- sizes of the real photographs and of the default sample ------------------------------
FULL_IMAGE_SIZE = (2124, 2056)  # (width, height) of the raw photographs
DEFAULT_SCALE_DIVISOR = 3
DEFAULT_IMAGE_SIZE = tuple(round(v / DEFAULT_SCALE_DIVISOR) for v in FULL_IMAGE_SIZE)
MIN_IMAGE_SIDE = 64

# --- landmarks of skimage.data.retina(), as fractions of its side -----------------------------
# Measured on the photograph: brightest blue blob = disc, darkest green = fovea.
BASE_DISC = (0.178, 0.466)
BASE_DISC_RADII = (0.040, 0.054)  # the disc is a vertical oval
BASE_FOVEA = (0.500, 0.499)
BASE_FOV_CENTRE = (0.4993, 0.4979)  # the photograph's circular field of view
BASE_FOV_RADIUS = 0.4936
CHOROID_CENTRE = BASE_DISC  # large choroidal vessels seem to fan out from the disc
CHOROID_CLEAR = 0.09  # ... but show no pattern this close to it
CHOROID_INNER = 0.06  # log-radius origin of the choroid pattern
CHOROID_MAX_SIDE = 512  # the soft choroid pattern is drawn at most this large
FOVEA_CLEAR = 0.03  # atrophic patches keep this far from the fovea
PATCH_REACH = 1.6  # an irregular patch reaches about this many radii out

# --- colours (RGB, 0..1) ----------------------------------------------------------------------
ATROPHY_RGB = np.array([0.97, 0.86, 0.68], np.float32)  # bare sclera seen through atrophy
CRESCENT_RGB = np.array([0.93, 0.74, 0.52], np.float32)
PIGMENT_RGB = np.array([0.30, 0.20, 0.15], np.float32)
TESSELLATION_DARKEN = np.array([0.22, 0.40, 0.38], np.float32)
CHOROID_ON_SCLERA = np.array(
    [0.10, 0.42, 0.50], np.float32
)  # orange-red choroidal vessels on white
VESSEL_ON_ATROPHY = np.array([0.25, 0.80, 0.80], np.float32)
REFLEX_RGB = np.array([0.10, 0.16, 0.20], np.float32)
DISC_PALLOR_RGB = np.array([0.08, 0.30, 0.30], np.float32)
FLARE_RGB = np.array([1.0, 0.85, 0.6], np.float32)
HAZE_RGB = np.array([0.55, 0.45, 0.35], np.float32)
LUMA_WEIGHTS = np.array([0.299, 0.587, 0.114], np.float32)


# ============================================================================================
# The base photograph, prepared once per canonical resolution
# ============================================================================================


@dataclass(frozen=True)
class Base:
    rgb: np.ndarray  # side x side x 3 float32 in [0, 1]; outside the FOV filled smoothly
    texture: np.ndarray  # side x side x 1: red channel / its local background (fine texture)
    vessels: np.ndarray  # side x side, ~1 on retinal vessels, 0 elsewhere
    near_vessels: np.ndarray  # side x side, vessels blurred: where light reflexes lie
    darkened: np.ndarray  # rgb * TESSELLATION_DARKEN: what full tessellation takes away


def _fill_outside(rgb: np.ndarray, inside: np.ndarray) -> np.ndarray:
    """Continue the retina past its circular edge (normalised convolution at growing scales)."""
    filled = rgb.copy()
    known = inside.astype(np.float32)
    side = rgb.shape[0]
    for sigma in (0.01, 0.03, 0.08):
        num = cv2.GaussianBlur(filled * known[..., None], (0, 0), sigma * side)
        den = cv2.GaussianBlur(known, (0, 0), sigma * side)[..., None]
        grow = (den[..., 0] > 0.05) & (known < 0.5)
        filled[grow] = (num / np.maximum(den, 1e-4))[grow]
        known = np.maximum(known, grow.astype(np.float32))
    return filled


@lru_cache(maxsize=1)
def _photograph_rgb() -> np.ndarray:
    from skimage import data  # imported late: only the generator needs it

    photo = data.retina()
    photo.setflags(write=False)
    return photo


@lru_cache(maxsize=3)
def base_photograph(side: int) -> Base:
    photo = (
        cv2.resize(_photograph_rgb(), (side, side), interpolation=cv2.INTER_AREA).astype(np.float32)
        / 255
    )
    yy, xx = np.mgrid[0:side, 0:side].astype(np.float32) / side
    inside = np.hypot(xx - BASE_FOV_CENTRE[0], yy - BASE_FOV_CENTRE[1]) < BASE_FOV_RADIUS * 0.97
    rgb = _fill_outside(photo, inside)  # 0.97: leave out the dark rim and the notch
    detail = np.clip(rgb / np.maximum(cv2.GaussianBlur(rgb, (0, 0), 0.015 * side), 1e-3), 0.0, 1.6)
    vessels = np.clip(
        cv2.GaussianBlur(1.0 - detail[..., 1], (0, 0), 0.001 * side + 0.5) / 0.25, 0.0, 1.0
    )
    near = np.clip(cv2.GaussianBlur(vessels, (0, 0), 0.012 * side) * 3.0, 0.0, 1.0)
    texture = np.clip(detail[..., 0:1], 0.0, 1.2) ** 0.3
    base = Base(rgb, np.ascontiguousarray(texture), vessels, near, rgb * TESSELLATION_DARKEN)
    for arr in (base.rgb, base.texture, base.vessels, base.near_vessels, base.darkened):
        arr.setflags(write=False)
    return base


def work_side(size: tuple[int, int]) -> int:
    """Canonical resolution: about the output's FOV diameter, never above the photograph's own."""
    return int(min(_photograph_rgb().shape[0], max(MIN_IMAGE_SIDE, round(min(size) * 1.1))))


# ============================================================================================
# Random shapes and textures (canonical frame)
# ============================================================================================


@dataclass(frozen=True)
class _Roi:
    """A pixel box of the canonical frame."""

    y0: int
    y1: int
    x0: int
    x1: int

    @property
    def s(self) -> tuple[slice, slice]:
        return slice(self.y0, self.y1), slice(self.x0, self.x1)


def support(*layers: np.ndarray) -> _Roi | None:
    """Smallest box holding every non-zero pixel of ``layers`` (None if all are zero)."""
    any_set = np.logical_or.reduce([layer != 0 for layer in layers])
    rows, cols = np.flatnonzero(any_set.any(axis=1)), np.flatnonzero(any_set.any(axis=0))
    if rows.size == 0:
        return None
    return _Roi(int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1)


def smooth_noise(
    rng: np.random.Generator,
    shape: tuple[int, int],
    cells: float,
    aniso: float = 1.0,
    angle: float = 0.0,
) -> np.ndarray:
    """Zero-mean, unit-std smooth noise with about ``cells`` blobs across, optionally stretched."""
    n = max(8, int(cells * 4))
    noise = rng.standard_normal((n, n)).astype(np.float32)
    noise = cv2.GaussianBlur(noise, (0, 0), sigmaX=1.2 * aniso, sigmaY=1.2)
    if angle:
        rot = cv2.getRotationMatrix2D((n / 2, n / 2), angle, 1.0)
        noise = cv2.warpAffine(noise, rot, (n, n), borderMode=cv2.BORDER_REFLECT101)
    noise = (noise - noise.mean()) / (noise.std() + 1e-6)
    side = max(shape)
    return cv2.resize(noise, (side, side), interpolation=cv2.INTER_CUBIC)[: shape[0], : shape[1]]


@lru_cache(maxsize=3)
def _polar_coords(side: int) -> tuple[np.ndarray, np.ndarray]:
    """Angle (0..1) and log-radius (0..1) of every canonical pixel around the choroid's centre."""
    yy, xx = np.mgrid[0:side, 0:side].astype(np.float32) / side
    dx, dy = xx - CHOROID_CENTRE[0], yy - CHOROID_CENTRE[1]
    angle = ((np.arctan2(dy, dx) + np.pi) / (2 * np.pi)).astype(np.float32)
    log_r = np.log(np.maximum(np.hypot(dx, dy), CHOROID_INNER) / CHOROID_INNER) / math.log(
        1 / CHOROID_INNER
    )
    log_r = log_r.astype(np.float32)
    for arr in (angle, log_r):
        arr.setflags(write=False)
    return angle, log_r


def choroid_pattern(
    rng: np.random.Generator, side: int, stripes: float, sharpness: float, box: _Roi | None = None
) -> np.ndarray:
    """Large choroidal vessels in [0, 1] (1 = vessel) over ``box`` of the canonical frame.

    ``box`` defaults to the whole frame.

    Smooth noise on an (angle, log-radius) grid, stretched along the radius, read through a
    randomly warped copy of the polar coordinates so the stripes meander out from the disc.
    Drawn at no more than CHOROID_MAX_SIDE pixels a side (the stripes are soft), then upsampled.
    """
    box = box or _Roi(0, side, 0, side)
    lo = min(side, CHOROID_MAX_SIDE)
    n_angle, n_radius, pad = int(stripes), 60, 8
    grid = rng.standard_normal((n_radius, n_angle)).astype(np.float32)
    grid = np.pad(grid, pad, mode="wrap")  # the angle wraps around
    grid = cv2.GaussianBlur(grid, (0, 0), sigmaX=0.8, sigmaY=1.6)
    grid /= grid[pad:-pad, pad:-pad].std() + 1e-6
    warp_x, warp_y = (smooth_noise(rng, (lo, lo), 5) for _ in range(2))
    angle, log_r = _polar_coords(lo)
    map_x = angle * n_angle + (pad - 0.5) + warp_x
    map_y = log_r * n_radius + (pad - 0.5) + 2.0 * warp_y
    noise = cv2.remap(grid, map_x, map_y, interpolation=cv2.INTER_LINEAR)
    vessels = 1.0 / (1.0 + np.exp(-sharpness * noise))
    clear = math.log(CHOROID_CLEAR / CHOROID_INNER) / math.log(1 / CHOROID_INNER)
    vessels = 1.0 - np.clip(log_r / clear, 0.0, 1.0) * (1.0 - vessels)  # plain next to the centre
    k = lo / side
    y0, y1 = int(box.y0 * k), min(lo, int(math.ceil(box.y1 * k)) + 1)
    x0, x1 = int(box.x0 * k), min(lo, int(math.ceil(box.x1 * k)) + 1)
    return cv2.resize(
        vessels[y0:y1, x0:x1], (box.x1 - box.x0, box.y1 - box.y0), interpolation=cv2.INTER_LINEAR
    )


def random_outline(rng: np.random.Generator, irregularity: float, harmonics: int = 6) -> Callable:
    """A random closed outline: radius factor (mean 1) as a function of angle."""
    ks = np.arange(1, harmonics + 1)
    amps = irregularity * rng.uniform(0.3, 1.0, harmonics) / ks**0.8
    amps[0] *= 0.3
    phases = rng.uniform(0, 2 * np.pi, harmonics)
    terms = [(float(k), float(a), float(p)) for k, a, p in zip(ks, amps, phases)]

    def radius(phi: np.ndarray) -> np.ndarray:
        out = np.ones_like(phi)
        for k, a, p in terms:
            out += a * np.cos(k * phi + p)
        return np.maximum(out, 0.25)

    return radius


def unit_ellipse(phi: np.ndarray) -> np.ndarray:
    return np.ones_like(phi)


def blob(
    side: int,
    centre: tuple[float, float],
    radii: tuple[float, float],
    outline: Callable,
    edge: float,
    reach: float,
) -> tuple[_Roi, np.ndarray, np.ndarray]:
    """Box, alpha (0..1) and distance past the outline (as fractions of the side) of an irregular
    blob."""
    cx, cy, r = centre[0] * side, centre[1] * side, reach * side
    box = _Roi(
        max(0, int(cy - r)),
        min(side, int(cy + r) + 2),
        max(0, int(cx - r)),
        min(side, int(cx + r) + 2),
    )
    box = _Roi(box.y0, max(box.y0 + 1, box.y1), box.x0, max(box.x0 + 1, box.x1))
    yy, xx = np.mgrid[box.y0 : box.y1, box.x0 : box.x1].astype(np.float32)
    dx = (xx + 0.5) / side - centre[0]
    dy = (yy + 0.5) / side - centre[1]
    phi = np.arctan2(dy / radii[1], dx / radii[0])
    rho = np.hypot(dx / radii[0], dy / radii[1])  # 1 on the base ellipse
    outside = (rho - outline(phi)) * min(radii)
    alpha = np.clip(0.5 - outside / max(edge, 1e-4), 0.0, 1.0)
    return box, alpha, outside


def clumps(rng: np.random.Generator, shape: tuple[int, int], cells: float) -> np.ndarray:
    """Patchy 0..1 modulation (pigment clumps along borders)."""
    return np.clip(0.5 + 0.6 * smooth_noise(rng, shape, cells), 0.0, 1.0)


def disc_alpha(side: int, scale: float = 1.0, edge: float = 0.004) -> tuple[_Roi, np.ndarray]:
    radii = (BASE_DISC_RADII[0] * scale, BASE_DISC_RADII[1] * scale)
    box, alpha, _ = blob(side, BASE_DISC, radii, unit_ellipse, edge, max(radii) * 1.3)
    return box, alpha


def paste_max(target: np.ndarray, box: _Roi, values: np.ndarray) -> None:
    """target[box] = max(target[box], values)."""
    np.maximum(target[box.s], values, out=target[box.s])


def outside_disc(side: int, box: _Roi, scale: float) -> np.ndarray:
    """1 - disc alpha over ``box`` (the disc itself is never painted over)."""
    disc = np.zeros((side, side), np.float32)
    dbox, alpha = disc_alpha(side, scale)
    disc[dbox.s] = alpha
    return 1.0 - disc[box.s]


def check_size(image_size: tuple[int, int]) -> tuple[int, int]:
    try:
        w, h = (int(v) for v in image_size)
    except (TypeError, ValueError):
        raise FundusDataError(
            f"image_size: expected (width, height), found {image_size!r}"
        ) from None
    if min(w, h) < MIN_IMAGE_SIDE:
        raise FundusDataError(
            f"image_size: expected both sides >= {MIN_IMAGE_SIDE} px, found {w} x {h}"
        )
    return w, h
