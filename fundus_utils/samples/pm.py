"""A generated stand-in for iChallenge-PM, laid out exactly like the real AI Studio dataset.

The real data sits behind a login, so anyone without it gets a *sample* source built
deterministically from the one real fundus photograph that ships with scikit-image
(:func:`skimage.data.retina`, CC0). Every image is that photograph, moved and re-photographed
(rotation, scale, fixation, left/right eye, exposure, white balance, tone curves, haze, blur,
noise, JPEG quality) with class-specific findings painted on:

* P (pathologic myopia, label 1): peripapillary atrophy, patchy chorioretinal atrophy with
  pigmented borders, sometimes a Fuchs spot at the fovea; from subtle to obvious;
* H (high myopia, label 0): tessellated fundus and a small temporal crescent at the disc;
* N (normal, label 0): none.

Every class gets the same nuisance variation and the same distractors (light reflexes, disc
pallor, mild tessellation, small crescents, uneven light, flare, dust), drawn from one stream
in the same order, so colour statistics alone say little about the label.

Findings are painted in the photograph's own frame (the *canonical* frame: the square base
photograph resampled to ``side`` pixels, positions given as fractions of that side), then the
picture is warped once into the output frame, where the camera's look is added.
"""
from __future__ import annotations

import io
import json
import math
import re
import shutil
import zipfile
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import BinaryIO, Callable, Iterable

import cv2
import numpy as np
import pandas as pd
from tqdm import tqdm

from ..core.atomic import building_folder
from ..core.config import (
    CLASS_PREFIXES,
    LABEL_COLUMNS,
    NESTED_TRAIN_ZIP,
    SAMPLE_MARKER,
    SAMPLE_NOTICE,
    SUBCLASS_NAMES,
    TRAIN_DIR_NAME,
    TRAIN_ZIP,
    VALID_DIR_NAME,
    VALID_GT_DIR_NAME,
    VALID_GT_ZIP,
    VALID_XLSX_NAME,
    VALID_ZIP,
)
from ..core.errors import FundusDataError
from ..core.progress import progress as progress_bar

__all__ = ["write_sample_source", "render_sample_image", "SAMPLE_ORIGIN", "FULL_IMAGE_SIZE",
    "FULL_VALID_PM", "FULL_VALID_TOTAL"]

GENERATOR_VERSION = "2"
SAMPLE_ORIGIN = (
    "Base photograph: skimage.data.retina(), a colour fundus photograph of a normal left eye, "
    "CC0 public domain (Wikimedia Commons), shipped with scikit-image. Every finding "
    "(peripapillary and patchy chorioretinal atrophy, Fuchs spots, tessellation, myopic crescents) "
    "and every per-image variation is synthetic, painted by fundus_utils.samples.pm. "
    "Not patient data; not iChallenge-PM; not for any clinical use."
)

# --- sizes of the real dataset and of the default sample --------------------------------------
FULL_TRAIN_COUNTS = {"H": 26, "N": 161, "P": 213}     # iChallenge-PM training split
FULL_VALID_TOTAL = 400
FULL_VALID_PM = 211                                   # validation images with Label 1
FULL_IMAGE_SIZE = (2124, 2056)                        # (width, height) of the raw photographs
DEFAULT_N_TRAIN = 60
DEFAULT_N_VALID = 40
DEFAULT_SCALE_DIVISOR = 3
DEFAULT_IMAGE_SIZE = tuple(round(v / DEFAULT_SCALE_DIVISOR) for v in FULL_IMAGE_SIZE)
MIN_IMAGE_SIDE = 64
MAX_IMAGES_PER_SPLIT = 9999                           # four-digit file numbers

# --- landmarks of skimage.data.retina(), as fractions of its side -----------------------------
# Measured on the photograph: brightest blue blob = disc, darkest green = fovea.
BASE_DISC = (0.178, 0.466)
BASE_DISC_RADII = (0.040, 0.054)          # the disc is a vertical oval
BASE_FOVEA = (0.500, 0.499)
BASE_FOV_CENTRE = (0.4993, 0.4979)        # the photograph's circular field of view
BASE_FOV_RADIUS = 0.4936
CHOROID_CENTRE = BASE_DISC                # large choroidal vessels seem to fan out from the disc
CHOROID_CLEAR = 0.09                      # ... but show no pattern this close to it
CHOROID_INNER = 0.06                      # log-radius origin of the choroid pattern
CHOROID_MAX_SIDE = 512                    # the soft choroid pattern is drawn at most this large
FOVEA_CLEAR = 0.03                        # atrophic patches keep this far from the fovea
PATCH_REACH = 1.6                         # an irregular patch reaches about this many radii out

# --- colours (RGB, 0..1) ----------------------------------------------------------------------
ATROPHY_RGB = np.array([0.97, 0.86, 0.68], np.float32)       # bare sclera seen through atrophy
CRESCENT_RGB = np.array([0.93, 0.74, 0.52], np.float32)
PIGMENT_RGB = np.array([0.30, 0.20, 0.15], np.float32)
TESSELLATION_DARKEN = np.array([0.22, 0.40, 0.38], np.float32)
CHOROID_ON_SCLERA = np.array([0.10, 0.42, 0.50], np.float32)  # orange-red choroidal vessels on white
VESSEL_ON_ATROPHY = np.array([0.25, 0.80, 0.80], np.float32)
REFLEX_RGB = np.array([0.10, 0.16, 0.20], np.float32)
DISC_PALLOR_RGB = np.array([0.08, 0.30, 0.30], np.float32)
FLARE_RGB = np.array([1.0, 0.85, 0.6], np.float32)
HAZE_RGB = np.array([0.55, 0.45, 0.35], np.float32)
LUMA_WEIGHTS = np.array([0.299, 0.587, 0.114], np.float32)

# --- zips and annotation stand-ins ------------------------------------------------------------
ZIP_DATE_TIME = (2019, 1, 1, 0, 0, 0)     # fixed entry dates make the zips byte-identical
XLSX_TIMESTAMP = "2019-01-01T00:00:00Z"
ZIP_COMPRESSLEVEL = 6
STORED_SUFFIXES = (".jpg", ".zip")        # already compressed: stored, not deflated
DF_ANNOTATION_DIR = "PALM-Training400-Annotation-D&F"
LESION_ANNOTATION_DIR = "PALM-Training400-Annotation-Lession"   # sic: the real archive's spelling
DISC_MASK_DIR = "Disc_Masks"
ATROPHY_MASK_DIR = "Lesion_Masks/Atrophy"
MACOS_JUNK_DIR = "__MACOSX"
N_DISC_MASKS_PER_CLASS = 1
N_LESION_MASKS = 2
N_VALID_DISC_MASKS = 2
APPLEDOUBLE_JUNK = b"\x00\x05\x16\x07\x00\x02\x00\x00Mac OS X        " + bytes(10) + b"ATTR" + bytes(30)

# --- randomness -------------------------------------------------------------------------------
MIN_SEVERITY = 0.2                        # PM severity runs from MIN_SEVERITY (subtle) to 1 (obvious)
JPEG_QUALITY_RANGE = (75, 98)             # integers drawn in [low, high)
SPLIT_PLAN, SPLIT_TRAIN, SPLIT_VALID = 0, 1, 2   # stream ids: every image has its own random stream
NOISE_BANK_SEED = 12345                   # sensor noise is read from one fixed bank per image size
NOISE_BANK_MARGIN = 64


# ============================================================================================
# Planning: which files, which classes
# ============================================================================================

@dataclass(frozen=True)
class SamplePlan:
    """What a sample source will hold: file names and classes ("H", "N", "P") of both splits."""

    image_size: tuple[int, int]                 # (width, height)
    train: tuple[tuple[str, str], ...]          # (file name, class), sorted by name
    valid: tuple[tuple[str, str], ...]          # (file name, class), V0001.jpg ...
    seed: int
    full: bool

    def train_counts(self) -> dict[str, int]:
        """Training images per class."""
        return _count(kind for _, kind in self.train)

    def valid_counts(self) -> dict[str, int]:
        """Validation images per class."""
        return _count(kind for _, kind in self.valid)

    def valid_pm(self) -> int:
        """Validation images with Label 1."""
        return sum(CLASS_PREFIXES[kind] for _, kind in self.valid)


def _count(kinds: Iterable[str]) -> dict[str, int]:
    kinds = list(kinds)
    return {k: kinds.count(k) for k in CLASS_PREFIXES}


def _apportion(total: int, weights: dict[str, int]) -> dict[str, int]:
    """Split ``total`` in proportion to ``weights`` (largest remainder; exact when total = sum)."""
    whole = sum(weights.values())
    shares = {k: total * w / whole for k, w in weights.items()}
    counts = {k: math.floor(s) for k, s in shares.items()}
    by_remainder = sorted(weights, key=lambda k: (counts[k] - shares[k], k))
    for k in by_remainder[: total - sum(counts.values())]:
        counts[k] += 1
    return counts


def _valid_counts(n_valid: int) -> dict[str, int]:
    """Validation classes: the real PM share; non-PM split H:N like the training split."""
    pm = _apportion(n_valid, {"P": FULL_VALID_PM, "non": FULL_VALID_TOTAL - FULL_VALID_PM})
    h_n = _apportion(pm["non"], {k: FULL_TRAIN_COUNTS[k] for k in ("H", "N")})
    return {"H": h_n["H"], "N": h_n["N"], "P": pm["P"]}


def _check_size(image_size: tuple[int, int]) -> tuple[int, int]:
    try:
        w, h = (int(v) for v in image_size)
    except (TypeError, ValueError):
        raise FundusDataError(f"image_size: expected (width, height), found {image_size!r}") from None
    if min(w, h) < MIN_IMAGE_SIDE:
        raise FundusDataError(f"image_size: expected both sides >= {MIN_IMAGE_SIDE} px, found {w} x {h}")
    return w, h


def _check_count(name: str, n: int) -> int:
    if isinstance(n, bool) or int(n) != n or not 1 <= n <= MAX_IMAGES_PER_SPLIT:
        raise FundusDataError(f"{name}: expected a whole number from 1 to {MAX_IMAGES_PER_SPLIT}, found {n!r}")
    return int(n)


def plan_sample(*, full: bool = False, n_train: int | None = None, n_valid: int | None = None,
                image_size: tuple[int, int] | None = None, seed: int = 0) -> SamplePlan:
    """File names and classes that :func:`write_sample_source` writes for these arguments (renders nothing)."""
    n_train = _check_count("n_train", n_train if n_train is not None
                           else (sum(FULL_TRAIN_COUNTS.values()) if full else DEFAULT_N_TRAIN))
    n_valid = _check_count("n_valid", n_valid if n_valid is not None
                           else (FULL_VALID_TOTAL if full else DEFAULT_N_VALID))
    size = _check_size(image_size or (FULL_IMAGE_SIZE if full else DEFAULT_IMAGE_SIZE))
    train_counts = _apportion(n_train, FULL_TRAIN_COUNTS)
    train = tuple((f"{kind}{i:04d}.jpg", kind) for kind in sorted(train_counts)
                  for i in range(1, train_counts[kind] + 1))
    valid_kinds = [kind for kind, n in sorted(_valid_counts(n_valid).items()) for _ in range(n)]
    order = np.random.default_rng([seed, SPLIT_PLAN]).permutation(len(valid_kinds))
    valid = tuple((f"V{i + 1:04d}.jpg", valid_kinds[j]) for i, j in enumerate(order))
    return SamplePlan(size, train, valid, int(seed), bool(full))


# ============================================================================================
# The base photograph, prepared once per canonical resolution
# ============================================================================================

@dataclass(frozen=True)
class _Base:
    rgb: np.ndarray           # side x side x 3 float32 in [0, 1]; outside the FOV filled smoothly
    texture: np.ndarray       # side x side x 1: red channel / its local background (fine texture)
    vessels: np.ndarray       # side x side, ~1 on retinal vessels, 0 elsewhere
    near_vessels: np.ndarray  # side x side, vessels blurred: where light reflexes lie
    darkened: np.ndarray      # rgb * TESSELLATION_DARKEN: what full tessellation takes away


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
def _base(side: int) -> _Base:
    photo = cv2.resize(_photograph_rgb(), (side, side), interpolation=cv2.INTER_AREA).astype(np.float32) / 255
    yy, xx = np.mgrid[0:side, 0:side].astype(np.float32) / side
    inside = np.hypot(xx - BASE_FOV_CENTRE[0], yy - BASE_FOV_CENTRE[1]) < BASE_FOV_RADIUS * 0.97
    rgb = _fill_outside(photo, inside)          # 0.97: leave out the dark rim and the notch
    detail = np.clip(rgb / np.maximum(cv2.GaussianBlur(rgb, (0, 0), 0.015 * side), 1e-3), 0.0, 1.6)
    vessels = np.clip(cv2.GaussianBlur(1.0 - detail[..., 1], (0, 0), 0.001 * side + 0.5) / 0.25, 0.0, 1.0)
    near = np.clip(cv2.GaussianBlur(vessels, (0, 0), 0.012 * side) * 3.0, 0.0, 1.0)
    texture = np.clip(detail[..., 0:1], 0.0, 1.2) ** 0.3
    base = _Base(rgb, np.ascontiguousarray(texture), vessels, near, rgb * TESSELLATION_DARKEN)
    for arr in (base.rgb, base.texture, base.vessels, base.near_vessels, base.darkened):
        arr.setflags(write=False)
    return base


def _work_side(size: tuple[int, int]) -> int:
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


def _support(*layers: np.ndarray) -> _Roi | None:
    """Smallest box holding every non-zero pixel of ``layers`` (None if all are zero)."""
    any_set = np.logical_or.reduce([layer != 0 for layer in layers])
    rows, cols = np.flatnonzero(any_set.any(axis=1)), np.flatnonzero(any_set.any(axis=0))
    if rows.size == 0:
        return None
    return _Roi(int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1)


def _smooth_noise(rng: np.random.Generator, shape: tuple[int, int], cells: float, aniso: float = 1.0,
                  angle: float = 0.0) -> np.ndarray:
    """Zero-mean, unit-std smooth noise with about ``cells`` blobs across, optionally stretched."""
    n = max(8, int(cells * 4))
    noise = rng.standard_normal((n, n)).astype(np.float32)
    noise = cv2.GaussianBlur(noise, (0, 0), sigmaX=1.2 * aniso, sigmaY=1.2)
    if angle:
        rot = cv2.getRotationMatrix2D((n / 2, n / 2), angle, 1.0)
        noise = cv2.warpAffine(noise, rot, (n, n), borderMode=cv2.BORDER_REFLECT101)
    noise = (noise - noise.mean()) / (noise.std() + 1e-6)
    side = max(shape)
    return cv2.resize(noise, (side, side), interpolation=cv2.INTER_CUBIC)[:shape[0], :shape[1]]


@lru_cache(maxsize=3)
def _polar_coords(side: int) -> tuple[np.ndarray, np.ndarray]:
    """Angle (0..1) and log-radius (0..1) of every canonical pixel around the choroid's centre."""
    yy, xx = np.mgrid[0:side, 0:side].astype(np.float32) / side
    dx, dy = xx - CHOROID_CENTRE[0], yy - CHOROID_CENTRE[1]
    angle = ((np.arctan2(dy, dx) + np.pi) / (2 * np.pi)).astype(np.float32)
    log_r = np.log(np.maximum(np.hypot(dx, dy), CHOROID_INNER) / CHOROID_INNER) / math.log(1 / CHOROID_INNER)
    log_r = log_r.astype(np.float32)
    for arr in (angle, log_r):
        arr.setflags(write=False)
    return angle, log_r


def _choroid(rng: np.random.Generator, side: int, stripes: float, sharpness: float,
             box: _Roi | None = None) -> np.ndarray:
    """Large choroidal vessels in [0, 1] (1 = vessel) over ``box`` of the canonical frame (default: all).

    Smooth noise on an (angle, log-radius) grid, stretched along the radius, read through a
    randomly warped copy of the polar coordinates so the stripes meander out from the disc.
    Drawn at no more than CHOROID_MAX_SIDE pixels a side (the stripes are soft), then upsampled.
    """
    box = box or _Roi(0, side, 0, side)
    lo = min(side, CHOROID_MAX_SIDE)
    n_angle, n_radius, pad = int(stripes), 60, 8
    grid = rng.standard_normal((n_radius, n_angle)).astype(np.float32)
    grid = np.pad(grid, pad, mode="wrap")                      # the angle wraps around
    grid = cv2.GaussianBlur(grid, (0, 0), sigmaX=0.8, sigmaY=1.6)
    grid /= grid[pad:-pad, pad:-pad].std() + 1e-6
    warp_x, warp_y = (_smooth_noise(rng, (lo, lo), 5) for _ in range(2))
    angle, log_r = _polar_coords(lo)
    map_x = angle * n_angle + (pad - 0.5) + warp_x
    map_y = log_r * n_radius + (pad - 0.5) + 2.0 * warp_y
    noise = cv2.remap(grid, map_x, map_y, interpolation=cv2.INTER_LINEAR)
    vessels = 1.0 / (1.0 + np.exp(-sharpness * noise))
    clear = math.log(CHOROID_CLEAR / CHOROID_INNER) / math.log(1 / CHOROID_INNER)
    vessels = 1.0 - np.clip(log_r / clear, 0.0, 1.0) * (1.0 - vessels)      # plain next to the centre
    k = lo / side
    y0, y1 = int(box.y0 * k), min(lo, int(math.ceil(box.y1 * k)) + 1)
    x0, x1 = int(box.x0 * k), min(lo, int(math.ceil(box.x1 * k)) + 1)
    return cv2.resize(vessels[y0:y1, x0:x1], (box.x1 - box.x0, box.y1 - box.y0), interpolation=cv2.INTER_LINEAR)


def _outline(rng: np.random.Generator, irregularity: float, harmonics: int = 6) -> Callable:
    """A random closed outline: radius factor (mean 1) as a function of angle."""
    ks = np.arange(1, harmonics + 1)
    amps = irregularity * rng.uniform(0.3, 1.0, harmonics) / ks ** 0.8
    amps[0] *= 0.3
    phases = rng.uniform(0, 2 * np.pi, harmonics)
    terms = [(float(k), float(a), float(p)) for k, a, p in zip(ks, amps, phases)]

    def radius(phi: np.ndarray) -> np.ndarray:
        out = np.ones_like(phi)
        for k, a, p in terms:
            out += a * np.cos(k * phi + p)
        return np.maximum(out, 0.25)

    return radius


def _ellipse(phi: np.ndarray) -> np.ndarray:
    return np.ones_like(phi)


def _blob(side: int, centre: tuple[float, float], radii: tuple[float, float], outline: Callable,
          edge: float, reach: float) -> tuple[_Roi, np.ndarray, np.ndarray]:
    """Box, alpha (0..1) and distance past the outline (fractions of the side) of an irregular blob."""
    cx, cy, r = centre[0] * side, centre[1] * side, reach * side
    box = _Roi(max(0, int(cy - r)), min(side, int(cy + r) + 2), max(0, int(cx - r)), min(side, int(cx + r) + 2))
    box = _Roi(box.y0, max(box.y0 + 1, box.y1), box.x0, max(box.x0 + 1, box.x1))
    yy, xx = np.mgrid[box.y0:box.y1, box.x0:box.x1].astype(np.float32)
    dx = (xx + 0.5) / side - centre[0]
    dy = (yy + 0.5) / side - centre[1]
    phi = np.arctan2(dy / radii[1], dx / radii[0])
    rho = np.hypot(dx / radii[0], dy / radii[1])              # 1 on the base ellipse
    outside = (rho - outline(phi)) * min(radii)
    alpha = np.clip(0.5 - outside / max(edge, 1e-4), 0.0, 1.0)
    return box, alpha, outside


def _clumps(rng: np.random.Generator, shape: tuple[int, int], cells: float) -> np.ndarray:
    """Patchy 0..1 modulation (pigment clumps along borders)."""
    return np.clip(0.5 + 0.6 * _smooth_noise(rng, shape, cells), 0.0, 1.0)


def _disc_alpha(side: int, scale: float = 1.0, edge: float = 0.004) -> tuple[_Roi, np.ndarray]:
    radii = (BASE_DISC_RADII[0] * scale, BASE_DISC_RADII[1] * scale)
    box, alpha, _ = _blob(side, BASE_DISC, radii, _ellipse, edge, max(radii) * 1.3)
    return box, alpha


def _paste_max(target: np.ndarray, box: _Roi, values: np.ndarray) -> None:
    """target[box] = max(target[box], values)."""
    np.maximum(target[box.s], values, out=target[box.s])


def _outside_disc(side: int, box: _Roi, scale: float) -> np.ndarray:
    """1 - disc alpha over ``box`` (the disc itself is never painted over)."""
    disc = np.zeros((side, side), np.float32)
    dbox, alpha = _disc_alpha(side, scale)
    disc[dbox.s] = alpha
    return 1.0 - disc[box.s]


# ============================================================================================
# Findings
# ============================================================================================

@dataclass
class _Layers:
    """What is painted on the photograph, as canonical-frame maps (side x side float32)."""

    atrophy: np.ndarray        # pale chorioretinal atrophy (PPA and patches), 0..1
    crescent: np.ndarray       # myopic crescent, 0..1
    pigment: np.ndarray        # dark pigment (borders, clumps, Fuchs spot), 0..1
    tessellation: np.ndarray   # darkening between choroidal vessels, 0..1
    reflex: np.ndarray         # whitish light reflex (distractor, all classes), 0..1
    disc_pallor: float = 0.0   # paler (> 0) or darker (< 0) disc (distractor, all classes)

    @classmethod
    def empty(cls, side: int) -> "_Layers":
        return cls(*(np.zeros((side, side), np.float32) for _ in range(5)))


def _paint_ppa(rng: np.random.Generator, layers: _Layers, side: int, severity: float) -> None:
    """Peripapillary atrophy: an irregular pale zone around the disc, widest on the temporal side."""
    extent = 0.4 + 2.1 * severity * rng.uniform(0.7, 1.1)         # beyond the disc, in disc radii
    temporal_bias = rng.uniform(0.5, 1.0)
    wobble = _outline(rng, rng.uniform(0.10, 0.25))

    def outline(phi: np.ndarray) -> np.ndarray:
        temporal = np.clip(np.cos(phi), 0.0, None) ** 1.5          # +x: towards the fovea
        return (1.0 + extent * (1 - temporal_bias + temporal_bias * temporal)) * wobble(phi)

    reach = max(BASE_DISC_RADII) * (1.0 + extent) * 1.6
    box, alpha, outside = _blob(side, BASE_DISC, BASE_DISC_RADII, outline, 0.003 + 0.004 * rng.uniform(), reach)
    keep = _outside_disc(side, box, 0.97)
    _paste_max(layers.atrophy, box, alpha * keep * rng.uniform(0.55, 0.95))
    border = np.exp(-((outside - 0.004) / 0.006) ** 2) * _clumps(rng, alpha.shape, 5)
    _paste_max(layers.pigment, box, border * keep * rng.uniform(0.45, 0.85))


def _keep_away(point: tuple[float, float], avoid: tuple[float, float], distance: float) -> tuple[float, float]:
    """``point`` moved straight away from ``avoid`` until at least ``distance`` from it."""
    dx, dy = point[0] - avoid[0], point[1] - avoid[1]
    d = math.hypot(dx, dy)
    if d >= distance:
        return point
    if d < 1e-6:
        dx, dy, d = 1.0, 0.0, 1.0
    return avoid[0] + dx / d * distance, avoid[1] + dy / d * distance


def _paint_patches(rng: np.random.Generator, layers: _Layers, side: int, severity: float) -> None:
    """Patchy chorioretinal atrophy: well-defined pale patches with pigmented borders, posterior pole."""
    for _ in range(int(rng.poisson(0.3 + 3.5 * severity))):
        angle, dist = rng.uniform(0, 2 * np.pi), rng.uniform(0.06, 0.26)
        centre = (BASE_FOVEA[0] - 0.08 + dist * math.cos(angle), BASE_FOVEA[1] + 0.8 * dist * math.sin(angle))
        r = rng.uniform(0.015, 0.024 + 0.043 * severity)
        radii = (r * rng.uniform(0.8, 1.25), r * rng.uniform(0.8, 1.25))
        reach = PATCH_REACH * max(radii)
        centre = _keep_away(centre, BASE_FOVEA, reach + FOVEA_CLEAR)     # the fovea stays visible
        centre = _keep_away(centre, BASE_DISC, reach + max(BASE_DISC_RADII))
        box, alpha, outside = _blob(side, centre, radii, _outline(rng, rng.uniform(0.15, 0.35)), 0.0025,
                                    max(radii) * 2.2)
        _paste_max(layers.atrophy, box, alpha * rng.uniform(0.75, 1.0))
        width = 0.003 + 0.004 * rng.uniform()
        border = np.exp(-((outside - 0.5 * width) / width) ** 2) * _clumps(rng, alpha.shape, 4)
        _paste_max(layers.pigment, box, border * rng.uniform(0.4, 0.9))


def _paint_fuchs(rng: np.random.Generator, layers: _Layers, side: int) -> None:
    """Fuchs spot: a dark, roundish, mottled pigmented spot at the fovea."""
    centre = (BASE_FOVEA[0] + rng.normal(0, 0.01), BASE_FOVEA[1] + rng.normal(0, 0.01))
    r = rng.uniform(0.012, 0.028)
    box, alpha, _ = _blob(side, centre, (r, r), _outline(rng, 0.3), 0.008, r * 2.2)
    mottled = 0.6 + 0.4 * _clumps(rng, alpha.shape, 3)
    _paste_max(layers.pigment, box, alpha * mottled * rng.uniform(0.45, 0.85))


def _paint_crescent(rng: np.random.Generator, layers: _Layers, side: int, width: float) -> None:
    """Myopic crescent: a pale sickle at the temporal disc edge (``width`` in disc radii)."""
    centre = (BASE_DISC[0] + BASE_DISC_RADII[0] * width, BASE_DISC[1] + rng.normal(0, 0.004))
    radii = (BASE_DISC_RADII[0] * (1 + 0.3 * width), BASE_DISC_RADII[1] * (1 + 0.15 * width))
    box, outer, _ = _blob(side, centre, radii, _ellipse, 0.003, max(radii) * 1.4)
    _paste_max(layers.crescent, box, outer * _outside_disc(side, box, 0.98) * rng.uniform(0.55, 0.9))


def _paint_tessellation(rng: np.random.Generator, layers: _Layers, side: int, strength: float) -> None:
    """Tessellated fundus: dark spaces between the large choroidal vessels, patchy in strength."""
    vessels = _choroid(rng, side, stripes=rng.uniform(70, 110), sharpness=rng.uniform(2.0, 4.0))
    spread = 0.5 + 0.5 * np.clip(_smooth_noise(rng, (side, side), 2) * 0.6 + 0.4, 0.0, 1.0)
    np.maximum(layers.tessellation, strength * (1 - vessels) * spread, out=layers.tessellation)


def _paint_reflex(rng: np.random.Generator, layers: _Layers, base: _Base, side: int, strength: float) -> None:
    """Light reflex of a young retina (distractor): wispy sheen beside the large vessels, foveal ring."""
    wisps = np.clip(_smooth_noise(rng, (side, side), rng.uniform(6, 14)) * 0.7 + rng.uniform(-0.2, 0.4), 0, 1)
    sheen = base.near_vessels * wisps
    if rng.uniform() < 0.5:
        ring_r = rng.uniform(0.07, 0.12)
        box, _, outside = _blob(side, BASE_FOVEA, (ring_r, ring_r), _ellipse, 0.01, ring_r + 0.04)
        ring = np.exp(-(outside / 0.008) ** 2) * rng.uniform(0.4, 1.0)
        np.maximum(sheen[box.s], ring, out=sheen[box.s])
    np.maximum(layers.reflex, strength * sheen, out=layers.reflex)


# ============================================================================================
# One image's parameters
# ============================================================================================

@dataclass(frozen=True)
class _Nuisance:
    """Class-independent variation: eye, camera and photograph (drawn the same way for every class)."""

    flip: bool                           # mirrored: a right eye
    angle: float                         # degrees
    zoom: float
    shift: tuple[float, float]           # fixation, in aperture radii
    aperture: float                      # FOV radius, as a fraction of half the shorter side
    illum_angle: float
    illum_gain: float
    vignette: float
    wb: tuple[float, float, float]       # white balance gains
    gamma: tuple[float, float, float]    # per channel: every camera has its own tone curves
    exposure: float                      # target mean luminance inside the FOV
    saturation: float
    haze: float
    blur: float                          # Gaussian sigma in pixels at the default height
    noise: float                         # in 1/255
    jpeg_quality: int
    reflex: float                        # light reflex strength (0: none)
    disc_pallor: float
    tessellation: float                  # mild tessellation any eye may show (0: none)
    crescent: float                      # small crescent any eye may show (0: none)
    dust: int                            # dark specks of dust on the optics
    flare: float
    flare_angle: float


def _draw_nuisance(rng: np.random.Generator) -> _Nuisance:
    return _Nuisance(
        flip=bool(rng.uniform() < 0.5),
        angle=float(rng.uniform(-12, 12)),
        zoom=float(rng.uniform(0.95, 1.12)),
        shift=(float(rng.uniform(-0.08, 0.08)), float(rng.uniform(-0.06, 0.06))),
        aperture=float(rng.uniform(0.84, 1.0)),
        illum_angle=float(rng.uniform(0, 2 * np.pi)),
        illum_gain=float(rng.uniform(0.0, 0.3)),
        vignette=float(rng.uniform(0.0, 0.4)),
        wb=(float(rng.uniform(0.85, 1.1)), float(rng.uniform(0.75, 1.3)), float(rng.uniform(0.6, 1.6))),
        gamma=tuple(float(g) for g in rng.uniform(0.75, 1.3) * rng.uniform(0.82, 1.22, 3)),
        exposure=float(rng.uniform(0.26, 0.46)),
        saturation=float(rng.uniform(0.75, 1.25)),
        haze=float(rng.uniform(0.0, 0.25) if rng.uniform() < 0.4 else 0.0),
        blur=float(rng.uniform(0.0, 1.3)),
        noise=float(rng.uniform(0.5, 3.5)),
        jpeg_quality=int(rng.integers(*JPEG_QUALITY_RANGE)),
        reflex=float(rng.uniform(0.2, 0.9) if rng.uniform() < 0.55 else 0.0),
        disc_pallor=float(rng.uniform(-0.2, 0.4)),
        tessellation=float(rng.uniform(0.0, 0.8) if rng.uniform() < 0.6 else 0.0),
        crescent=float(rng.uniform(0.1, 0.3) if rng.uniform() < 0.15 else 0.0),
        dust=int(rng.poisson(0.6)),
        flare=float(rng.uniform(0.1, 0.35) if rng.uniform() < 0.3 else 0.0),
        flare_angle=float(rng.uniform(0, 2 * np.pi)),
    )


def _paint_findings(kind: str, rng: np.random.Generator, nuisance: _Nuisance, base: _Base,
                    side: int) -> tuple[_Layers, float]:
    """Every painted layer of one image, and the PM severity (0 for H and N)."""
    layers = _Layers.empty(side)
    layers.disc_pallor = nuisance.disc_pallor
    severity, tessellation, crescent = 0.0, nuisance.tessellation, nuisance.crescent
    if kind == "H":
        tessellation = max(tessellation, rng.uniform(0.45, 0.9))
        crescent = max(crescent, rng.uniform(0.25, 0.6))
    elif kind == "P":
        severity = float(MIN_SEVERITY + (1 - MIN_SEVERITY) * rng.beta(1.4, 1.2))
        tessellation = max(tessellation, rng.uniform(0.0, 0.7))
        _paint_ppa(rng, layers, side, severity)
        _paint_patches(rng, layers, side, severity)
        if rng.uniform() < 0.15 + 0.45 * severity:
            _paint_fuchs(rng, layers, side)
    if tessellation > 0:
        _paint_tessellation(rng, layers, side, tessellation)
    if crescent > 0:
        _paint_crescent(rng, layers, side, crescent)
    if nuisance.reflex > 0:
        _paint_reflex(rng, layers, base, side, nuisance.reflex)
    return layers, severity


# ============================================================================================
# Compositing and "photographing"
# ============================================================================================

def _composite(base: _Base, layers: _Layers, rng: np.random.Generator, side: int) -> np.ndarray:
    """The canonical-frame picture: the photograph with every layer painted on."""
    img = base.darkened * layers.tessellation[..., None]
    np.subtract(base.rgb, img, out=img)
    box = _support(layers.atrophy, layers.crescent)
    if box is not None:
        s = box.s
        choroid = _choroid(rng, side, rng.uniform(70, 110), 3.0, box)[..., None]
        vessel_shadow = 1.0 - base.vessels[s][..., None] * VESSEL_ON_ATROPHY
        sclera = ATROPHY_RGB * (1.0 - choroid * CHOROID_ON_SCLERA * rng.uniform(0.4, 1.0))
        sclera *= base.texture[s] * vessel_shadow
        a, c = layers.atrophy[s][..., None], layers.crescent[s][..., None]
        img[s] = img[s] * (1 - a) + sclera * a
        img[s] = img[s] * (1 - c) + CRESCENT_RGB * vessel_shadow * c
    box = _support(layers.pigment)
    if box is not None:
        p = layers.pigment[box.s][..., None]
        img[box.s] *= 1 - p + 1.5 * PIGMENT_RGB * p
    if layers.reflex.any():
        img += layers.reflex[..., None] * REFLEX_RGB
    if layers.disc_pallor:
        dbox, halo = _disc_alpha(side, 1.15, edge=0.02)
        img[dbox.s] += layers.disc_pallor * halo[..., None] * DISC_PALLOR_RGB
    return img


def _affine(n: _Nuisance, side: int, size: tuple[int, int]) -> tuple[np.ndarray, float]:
    """2x3 matrix from canonical pixels to output pixels, and the aperture radius in output pixels."""
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
    """Pixel-centre offsets from the image centre: x (1 x w), y (h x 1), squared distance (h x w)."""
    x = (np.arange(w, dtype=np.float32) - w / 2 + 0.5)[None, :]
    y = (np.arange(h, dtype=np.float32) - h / 2 + 0.5)[:, None]
    d2 = x * x + y * y
    for arr in (x, y, d2):
        arr.setflags(write=False)
    return x, y, d2


@lru_cache(maxsize=2)
def _noise_bank(h: int, w: int) -> np.ndarray:
    """Unit Gaussian noise a little larger than the image; each image reads it at its own offset."""
    bank = np.random.default_rng(NOISE_BANK_SEED).standard_normal((h + NOISE_BANK_MARGIN, w + NOISE_BANK_MARGIN, 3),
                                                                   dtype=np.float32)
    bank.setflags(write=False)
    return bank


def _sensor_noise(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """h x w x 3 unit Gaussian noise: a window of the bank at a random offset (cheap, and varied)."""
    dy, dx = (int(v) for v in rng.integers(0, NOISE_BANK_MARGIN + 1, 2))
    return _noise_bank(h, w)[dy:dy + h, dx:dx + w]


def _add_dust(out: np.ndarray, rng: np.random.Generator, count: int) -> None:
    h, w = out.shape[:2]
    for _ in range(count):
        cx, cy = rng.uniform(0.15, 0.85) * w, rng.uniform(0.15, 0.85) * h
        r, depth = rng.uniform(0.004, 0.012) * h, rng.uniform(0.2, 0.5)
        x0, x1 = max(0, int(cx - 3 * r)), min(w, int(cx + 3 * r) + 1)
        y0, y1 = max(0, int(cy - 3 * r)), min(h, int(cy + 3 * r) + 1)
        yy, xx = np.ogrid[y0:y1, x0:x1]
        speck = depth * np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / r ** 2)
        out[y0:y1, x0:x1] *= (1 - speck)[..., None].astype(np.float32)


def _photograph(img: np.ndarray, n: _Nuisance, rng: np.random.Generator, m: np.ndarray, radius: float,
                size: tuple[int, int]) -> np.ndarray:
    """Warp into the output frame and add the camera's look; returns uint8 RGB."""
    w, h = size
    out = cv2.warpAffine(img, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT101)
    x, y, d2 = _output_grid(w, h)
    r2 = d2 * np.float32(1 / radius ** 2)
    cos_i, sin_i = math.cos(n.illum_angle), math.sin(n.illum_angle)
    light = (np.float32(n.illum_gain * cos_i / radius) * x + np.float32(n.illum_gain * sin_i / radius) * y) + 1.0
    light -= np.float32(n.vignette) * r2
    np.maximum(light, 0.2, out=light)
    out *= light[..., None]
    out *= np.asarray(n.wb, np.float32)
    _add_dust(out, rng, n.dust)
    if n.flare > 0:
        along = (np.float32(math.cos(n.flare_angle) / radius) * x + np.float32(math.sin(n.flare_angle) / radius) * y)
        out += (n.flare * np.clip((along - 0.55) / 0.45, 0, 1) ** 2)[..., None] * FLARE_RGB
    np.clip(out, 1e-6, 1.0, out=out)
    cv2.log(out, out)                                   # per-channel tone curve: x ** gamma
    out *= np.asarray(n.gamma, np.float32)
    cv2.exp(out, out)
    small_size = (max(8, w // 8), max(8, h // 8))
    small = cv2.resize(out, small_size, interpolation=cv2.INTER_AREA)
    small_in = cv2.resize((r2 < 1).astype(np.float32), small_size, interpolation=cv2.INTER_AREA) > 0.99
    luma = float((small[small_in] @ LUMA_WEIGHTS).mean()) if small_in.any() else 0.5
    # One 3x3 colour transform: saturation about the luminance, then auto-exposure.
    colour = n.saturation * np.eye(3, dtype=np.float32) + (1 - n.saturation) * np.outer(np.ones(3), LUMA_WEIGHTS)
    out = cv2.transform(out, (colour * (255.0 * n.exposure / max(luma, 1e-3))).astype(np.float32))
    if n.haze > 0:                                      # veil of scattered light, from a small copy
        veil = cv2.GaussianBlur(cv2.resize(out, small_size, interpolation=cv2.INTER_AREA), (0, 0), 0.05 * small_size[1])
        veil = cv2.resize(veil * 0.6 + 0.4 * 255.0 * HAZE_RGB, (w, h), interpolation=cv2.INTER_LINEAR)
        out = cv2.addWeighted(out, 1 - n.haze, veil, n.haze, 0.0)
    edge = np.clip((1.0 - np.sqrt(r2)) * np.float32(radius / 1.5), 0.0, 1.0)
    out *= edge[..., None]
    sigma = n.blur * h / DEFAULT_IMAGE_SIZE[1]
    if sigma > 0.3:
        out = cv2.GaussianBlur(out, (0, 0), sigma)
    out = cv2.scaleAdd(_sensor_noise(rng, h, w), n.noise, out)     # noise * sigma + picture
    return np.clip(out + 0.5, 0, 255, out=out).astype(np.uint8)


# ============================================================================================
# One image
# ============================================================================================

@dataclass(frozen=True)
class SampleImage:
    """One rendered sample image and what is known about it (positions in output pixels)."""

    image: np.ndarray                 # H x W x 3 uint8 RGB
    fovea: tuple[float, float]        # (x, y)
    disc: tuple[float, float]         # optic disc centre (x, y)
    kind: str                         # "H", "N" or "P"
    flipped: bool                     # True: mirrored into a right eye (disc right of the fovea)
    severity: float                   # 0 for H and N; 0..1 for P
    jpeg_quality: int
    matrix: np.ndarray = field(repr=False)           # canonical -> output pixels (2 x 3)
    atrophy_layer: np.ndarray = field(repr=False)    # canonical-frame atrophy map

    def disc_mask(self) -> np.ndarray:
        """H x W uint8: 0 on the optic disc, 255 elsewhere (the PALM mask convention)."""
        side = self.atrophy_layer.shape[0]
        layer = np.zeros((side, side), np.float32)
        box, alpha = _disc_alpha(side)
        layer[box.s] = alpha
        return self._mask(layer)

    def atrophy_mask(self) -> np.ndarray:
        """H x W uint8: 0 on painted atrophy, 255 elsewhere."""
        return self._mask(self.atrophy_layer)

    def _mask(self, layer: np.ndarray) -> np.ndarray:
        h, w = self.image.shape[:2]
        warped = cv2.warpAffine(layer, self.matrix, (w, h), flags=cv2.INTER_LINEAR, borderValue=0)
        return np.where(warped > 0.5, 0, 255).astype(np.uint8)


def render_sample(kind: str, rng: np.random.Generator, size: tuple[int, int] = DEFAULT_IMAGE_SIZE) -> SampleImage:
    """Render one synthetic fundus photograph of class ``kind`` ("P", "H" or "N"); ``size`` = (w, h)."""
    if kind not in CLASS_PREFIXES:
        raise FundusDataError(f"kind: expected one of {sorted(CLASS_PREFIXES)}, found {kind!r}")
    size = _check_size(size)
    side = _work_side(size)
    base = _base(side)
    nuisance = _draw_nuisance(rng)                  # first, and the same draws for every class
    layers, severity = _paint_findings(kind, rng, nuisance, base, side)
    canonical = _composite(base, layers, rng, side)
    m, radius = _affine(nuisance, side, size)
    image = _photograph(canonical, nuisance, rng, m, radius, size)
    fovea = _apply(m, (BASE_FOVEA[0] * side, BASE_FOVEA[1] * side))
    disc = _apply(m, (BASE_DISC[0] * side, BASE_DISC[1] * side))
    return SampleImage(image, fovea, disc, kind, nuisance.flip, severity, nuisance.jpeg_quality, m, layers.atrophy)


def render_sample_image(kind: str, rng: np.random.Generator,
                        size: tuple[int, int] = DEFAULT_IMAGE_SIZE) -> tuple[np.ndarray, tuple[float, float]]:
    """One synthetic fundus image (H x W x 3 uint8 RGB) of class ``kind`` and its fovea (x, y) in pixels."""
    sample = render_sample(kind, rng, size)
    return sample.image, sample.fovea


def image_rng(seed: int, split: int, index: int) -> np.random.Generator:
    """The random stream of one image: no image depends on the images rendered before it."""
    return np.random.default_rng([seed, split, index])


# ============================================================================================
# Byte-reproducible files
# ============================================================================================

def _zipinfo(name: str, size: int = 0) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=ZIP_DATE_TIME)
    info.create_system = 3
    if name.endswith("/"):
        info.external_attr = (0o40755 << 16) | 0x10
        info.compress_type = zipfile.ZIP_STORED
    else:
        info.external_attr = 0o100644 << 16
        info.compress_type = zipfile.ZIP_STORED if name.lower().endswith(STORED_SUFFIXES) else zipfile.ZIP_DEFLATED
    info.file_size = size
    return info


class _ZipWriter:
    """A zip written in ascending entry order with fixed dates and modes, parent folders included."""

    def __init__(self, target: Path | BinaryIO):
        self._zf = zipfile.ZipFile(target, "w", compresslevel=ZIP_COMPRESSLEVEL)
        self._last = ""
        self._dirs: set[str] = set()

    def _claim(self, name: str) -> None:
        parts = name.rstrip("/").split("/")[:-1]
        for i in range(1, len(parts) + 1):
            folder = "/".join(parts[:i]) + "/"
            if folder not in self._dirs:
                self._claim_one(folder)
                self._zf.writestr(_zipinfo(folder), b"")
        self._claim_one(name)

    def _claim_one(self, name: str) -> None:
        if name <= self._last:
            raise ValueError(f"zip entries out of order: {name!r} after {self._last!r}")
        self._last = name
        if name.endswith("/"):
            self._dirs.add(name)

    def add(self, name: str, data: bytes) -> None:
        self._claim(name)
        self._zf.writestr(_zipinfo(name, len(data)), data)

    def add_file(self, name: str, path: Path) -> None:
        self._claim(name)
        with open(path, "rb") as src, self._zf.open(_zipinfo(name, path.stat().st_size), "w") as dst:
            shutil.copyfileobj(src, dst, 1 << 20)

    def __enter__(self) -> "_ZipWriter":
        return self

    def __exit__(self, *exc: object) -> None:
        self._zf.close()


def _write_zip(target: Path | BinaryIO, entries: dict[str, bytes | Path]) -> None:
    """Write ``entries`` (name -> bytes, or a file to copy) sorted by name."""
    with _ZipWriter(target) as zw:
        for name in sorted(entries):
            data = entries[name]
            zw.add_file(name, data) if isinstance(data, Path) else zw.add(name, data)


def _zip_bytes(entries: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    _write_zip(buf, dict(entries))
    return buf.getvalue()


def encode_jpeg(rgb: np.ndarray, quality: int) -> bytes:
    """RGB uint8 image -> JPEG bytes at ``quality``."""
    ok, buf = cv2.imencode(".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    if not ok:
        raise FundusDataError("could not encode a sample image as JPEG")
    return buf.tobytes()


def _bmp(mask: np.ndarray) -> bytes:
    ok, buf = cv2.imencode(".bmp", mask)
    if not ok:
        raise FundusDataError("could not encode a sample mask as BMP")
    return buf.tobytes()


def _xlsx(rows: list[dict]) -> bytes:
    """The validation labels workbook, its zip dates and document timestamps fixed."""
    buf = io.BytesIO()
    pd.DataFrame(rows, columns=list(LABEL_COLUMNS)).to_excel(buf, index=False, engine="openpyxl")
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(buf.getvalue())) as src, \
            zipfile.ZipFile(out, "w", compresslevel=ZIP_COMPRESSLEVEL) as dst:
        for info in src.infolist():           # keep openpyxl's order: [Content_Types].xml etc.
            data = src.read(info.filename)
            if info.filename == "docProps/core.xml":
                data = re.sub(rb"(<dcterms:(?:created|modified)[^>]*>)[^<]*",
                              rb"\g<1>" + XLSX_TIMESTAMP.encode(), data)
            dst.writestr(_zipinfo(info.filename, len(data)), data)
    return out.getvalue()


def sample_marker(plan: SamplePlan) -> dict:
    """What ``FUNDUS_SAMPLE.json`` holds for ``plan``."""
    return {
        "sample": True,
        "notice": SAMPLE_NOTICE,
        "origin": SAMPLE_ORIGIN,
        "generator": __name__,
        "generator_version": GENERATOR_VERSION,
        "seed": plan.seed,
        "full": plan.full,
        "image_size": list(plan.image_size),
        "counts": {"train": plan.train_counts(), "valid": plan.valid_counts(), "valid_pm": plan.valid_pm()},
        "classes": SUBCLASS_NAMES,
    }


# ============================================================================================
# Writing a whole source
# ============================================================================================

def _first_of(items: Iterable[tuple[str, str]], kinds: str, per_kind: int) -> list[str]:
    items = list(items)
    return sorted(name for kind in kinds for name in [n for n, k in items if k == kind][:per_kind])


def _stem(name: str) -> str:
    return name.rsplit(".", 1)[0]


def _render_split(zw: _ZipWriter, folder: str, items: tuple[tuple[str, str], ...], split: int,
                  plan: SamplePlan, keep: Iterable[str], bar: tqdm) -> tuple[dict[str, SampleImage], list[dict]]:
    """Render, encode and add one split's images; returns the images named in ``keep`` and xlsx rows."""
    keep, kept, rows = set(keep), {}, []
    for index, (name, kind) in enumerate(items):
        sample = render_sample(kind, image_rng(plan.seed, split, index), plan.image_size)
        zw.add(f"{folder}/{name}", encode_jpeg(sample.image, sample.jpeg_quality))
        rows.append(dict(zip(LABEL_COLUMNS, (index + 1, name, CLASS_PREFIXES[kind],
                                             round(sample.fovea[0], 2), round(sample.fovea[1], 2)))))
        if name in keep:
            kept[name] = sample
        bar.update(1)
    return kept, rows


def _write_training(tmp: Path, plan: SamplePlan, marker: bytes, bar: tqdm) -> None:
    disc_names = _first_of(plan.train, "HNP", N_DISC_MASKS_PER_CLASS)
    lesion_names = _first_of(plan.train, "P", N_LESION_MASKS)
    nested = tmp / NESTED_TRAIN_ZIP
    with _ZipWriter(nested) as zw:
        kept, _ = _render_split(zw, TRAIN_DIR_NAME, plan.train, SPLIT_TRAIN, plan, disc_names + lesion_names, bar)
    lesion_zip = _zip_bytes({f"{LESION_ANNOTATION_DIR}/{ATROPHY_MASK_DIR}/{_stem(n)}.bmp": _bmp(kept[n].atrophy_mask())
                             for n in lesion_names})
    entries: dict[str, bytes | Path] = {
        SAMPLE_MARKER: marker,
        f"{TRAIN_DIR_NAME}/{NESTED_TRAIN_ZIP}": nested,
        f"{TRAIN_DIR_NAME}/{LESION_ANNOTATION_DIR}.zip": lesion_zip,
        f"{MACOS_JUNK_DIR}/{TRAIN_DIR_NAME}/._{NESTED_TRAIN_ZIP}": APPLEDOUBLE_JUNK,
    }
    for n in disc_names:
        entries[f"{TRAIN_DIR_NAME}/{DF_ANNOTATION_DIR}/{DISC_MASK_DIR}/{_stem(n)}.bmp"] = _bmp(kept[n].disc_mask())
    _write_zip(tmp / TRAIN_ZIP, entries)
    nested.unlink()


def _write_validation(tmp: Path, plan: SamplePlan, bar: tqdm) -> None:
    mask_names = [name for name, _ in plan.valid[:N_VALID_DISC_MASKS]]
    with _ZipWriter(tmp / VALID_ZIP) as zw:
        kept, rows = _render_split(zw, VALID_DIR_NAME, plan.valid, SPLIT_VALID, plan, mask_names, bar)
    entries: dict[str, bytes | Path] = {f"{VALID_GT_DIR_NAME}/{VALID_XLSX_NAME}": _xlsx(rows)}
    for name in mask_names:
        entries[f"{VALID_GT_DIR_NAME}/{DISC_MASK_DIR}/{_stem(name)}.bmp"] = _bmp(kept[name].disc_mask())
    _write_zip(tmp / VALID_GT_ZIP, entries)


def is_sample_source(folder: Path) -> bool:
    """An earlier sample source (it carries the marker), which a new one may replace."""
    return (folder / SAMPLE_MARKER).is_file()


def write_sample_source(out_dir: str | Path, *, full: bool = False, n_train: int | None = None,
                        n_valid: int | None = None, image_size: tuple[int, int] | None = None,
                        seed: int = 0, progress: bool = True) -> Path:
    """Write a generated sample source, laid out exactly like AI Studio's iChallenge-PM, into ``out_dir``.

    ``out_dir`` gets ``training.zip`` (a nested ``PALM-Training400/PALM-Training400.zip`` plus
    annotation stand-ins and macOS debris), ``validation.zip``, ``valid_gt.zip`` and the marker
    ``FUNDUS_SAMPLE.json`` (also at the root of ``training.zip``). Default: 60 training and 40
    validation images at a third of the real resolution; ``full=True``: 400 + 400 at 2124 x 2056.
    ``n_train``, ``n_valid`` and ``image_size`` (width, height) override; class proportions follow
    the real dataset. The same arguments give byte-identical files. Everything is built in a
    hidden folder beside ``out_dir`` and renamed into place only when complete. An existing
    ``out_dir`` is replaced only if it is empty or an earlier sample source.
    """
    plan = plan_sample(full=full, n_train=n_train, n_valid=n_valid, image_size=image_size, seed=seed)
    out_dir = Path(out_dir).expanduser().absolute()
    with building_folder(out_dir, is_sample_source, f"an earlier sample source (with {SAMPLE_MARKER})") as tmp:
        marker = (json.dumps(sample_marker(plan), indent=2, sort_keys=True) + "\n").encode()
        with progress_bar(total=len(plan.train) + len(plan.valid), desc="sample images", unit="img",
                          disable=not progress) as bar:
            _write_training(tmp, plan, marker, bar)
            _write_validation(tmp, plan, bar)
        (tmp / SAMPLE_MARKER).write_bytes(marker)          # last: the folder is complete
    return out_dir
