"""The findings painted per class (PM: peripapillary and patchy atrophy, Fuchs spots; high
myopia: tessellation, crescents) and the per-image nuisance parameters every class shares.
Taught in 00_data, §5."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .retina import (
    BASE_DISC,
    BASE_DISC_RADII,
    BASE_FOVEA,
    FOVEA_CLEAR,
    PATCH_REACH,
    Base,
    blob,
    choroid_pattern,
    clumps,
    outside_disc,
    paste_max,
    random_outline,
    smooth_noise,
    unit_ellipse,
)

__all__: list[str] = []  # internal: nothing here is part of the flat API (fu.<name>)

# --- randomness -------------------------------------------------------------------------------
MIN_SEVERITY = 0.2  # PM severity runs from MIN_SEVERITY (subtle) to 1 (obvious)
JPEG_QUALITY_RANGE = (75, 98)  # integers drawn in [low, high)


# ============================================================================================
# Findings
# ============================================================================================


@dataclass
class Layers:
    """What is painted on the photograph, as canonical-frame maps (side x side float32)."""

    atrophy: np.ndarray  # pale chorioretinal atrophy (PPA and patches), 0..1
    crescent: np.ndarray  # myopic crescent, 0..1
    pigment: np.ndarray  # dark pigment (borders, clumps, Fuchs spot), 0..1
    tessellation: np.ndarray  # darkening between choroidal vessels, 0..1
    reflex: np.ndarray  # whitish light reflex (distractor, all classes), 0..1
    disc_pallor: float = 0.0  # paler (> 0) or darker (< 0) disc (distractor, all classes)

    @classmethod
    def empty(cls, side: int) -> "Layers":
        return cls(*(np.zeros((side, side), np.float32) for _ in range(5)))


def _paint_ppa(rng: np.random.Generator, layers: Layers, side: int, severity: float) -> None:
    """Peripapillary atrophy: an irregular pale zone round the disc, widest on the temporal side."""
    extent = 0.4 + 2.1 * severity * rng.uniform(0.7, 1.1)  # beyond the disc, in disc radii
    temporal_bias = rng.uniform(0.5, 1.0)
    wobble = random_outline(rng, rng.uniform(0.10, 0.25))

    def outline(phi: np.ndarray) -> np.ndarray:
        temporal = np.clip(np.cos(phi), 0.0, None) ** 1.5  # +x: towards the fovea
        return (1.0 + extent * (1 - temporal_bias + temporal_bias * temporal)) * wobble(phi)

    reach = max(BASE_DISC_RADII) * (1.0 + extent) * 1.6
    box, alpha, outside = blob(
        side, BASE_DISC, BASE_DISC_RADII, outline, 0.003 + 0.004 * rng.uniform(), reach
    )
    keep = outside_disc(side, box, 0.97)
    paste_max(layers.atrophy, box, alpha * keep * rng.uniform(0.55, 0.95))
    border = np.exp(-(((outside - 0.004) / 0.006) ** 2)) * clumps(rng, alpha.shape, 5)
    paste_max(layers.pigment, box, border * keep * rng.uniform(0.45, 0.85))


def _keep_away(
    point: tuple[float, float], avoid: tuple[float, float], distance: float
) -> tuple[float, float]:
    """``point`` moved straight away from ``avoid`` until at least ``distance`` from it."""
    dx, dy = point[0] - avoid[0], point[1] - avoid[1]
    d = math.hypot(dx, dy)
    if d >= distance:
        return point
    if d < 1e-6:
        dx, dy, d = 1.0, 0.0, 1.0
    return avoid[0] + dx / d * distance, avoid[1] + dy / d * distance


def _paint_patches(rng: np.random.Generator, layers: Layers, side: int, severity: float) -> None:
    """Patchy chorioretinal atrophy: well-defined pale patches with pigmented borders, at the
    posterior pole."""
    for _ in range(int(rng.poisson(0.3 + 3.5 * severity))):
        angle, dist = rng.uniform(0, 2 * np.pi), rng.uniform(0.06, 0.26)
        centre = (
            BASE_FOVEA[0] - 0.08 + dist * math.cos(angle),
            BASE_FOVEA[1] + 0.8 * dist * math.sin(angle),
        )
        r = rng.uniform(0.015, 0.024 + 0.043 * severity)
        radii = (r * rng.uniform(0.8, 1.25), r * rng.uniform(0.8, 1.25))
        reach = PATCH_REACH * max(radii)
        centre = _keep_away(centre, BASE_FOVEA, reach + FOVEA_CLEAR)  # the fovea stays visible
        centre = _keep_away(centre, BASE_DISC, reach + max(BASE_DISC_RADII))
        box, alpha, outside = blob(
            side,
            centre,
            radii,
            random_outline(rng, rng.uniform(0.15, 0.35)),
            0.0025,
            max(radii) * 2.2,
        )
        paste_max(layers.atrophy, box, alpha * rng.uniform(0.75, 1.0))
        width = 0.003 + 0.004 * rng.uniform()
        border = np.exp(-(((outside - 0.5 * width) / width) ** 2)) * clumps(rng, alpha.shape, 4)
        paste_max(layers.pigment, box, border * rng.uniform(0.4, 0.9))


def _paint_fuchs(rng: np.random.Generator, layers: Layers, side: int) -> None:
    """Fuchs spot: a dark, roundish, mottled pigmented spot at the fovea."""
    centre = (BASE_FOVEA[0] + rng.normal(0, 0.01), BASE_FOVEA[1] + rng.normal(0, 0.01))
    r = rng.uniform(0.012, 0.028)
    box, alpha, _ = blob(side, centre, (r, r), random_outline(rng, 0.3), 0.008, r * 2.2)
    mottled = 0.6 + 0.4 * clumps(rng, alpha.shape, 3)
    paste_max(layers.pigment, box, alpha * mottled * rng.uniform(0.45, 0.85))


def _paint_crescent(rng: np.random.Generator, layers: Layers, side: int, width: float) -> None:
    """Myopic crescent: a pale sickle at the temporal disc edge (``width`` in disc radii)."""
    centre = (BASE_DISC[0] + BASE_DISC_RADII[0] * width, BASE_DISC[1] + rng.normal(0, 0.004))
    radii = (BASE_DISC_RADII[0] * (1 + 0.3 * width), BASE_DISC_RADII[1] * (1 + 0.15 * width))
    box, outer, _ = blob(side, centre, radii, unit_ellipse, 0.003, max(radii) * 1.4)
    paste_max(layers.crescent, box, outer * outside_disc(side, box, 0.98) * rng.uniform(0.55, 0.9))


def _paint_tessellation(
    rng: np.random.Generator, layers: Layers, side: int, strength: float
) -> None:
    """Tessellated fundus: dark spaces between the large choroidal vessels, patchy in strength."""
    vessels = choroid_pattern(
        rng, side, stripes=rng.uniform(70, 110), sharpness=rng.uniform(2.0, 4.0)
    )
    spread = 0.5 + 0.5 * np.clip(smooth_noise(rng, (side, side), 2) * 0.6 + 0.4, 0.0, 1.0)
    np.maximum(layers.tessellation, strength * (1 - vessels) * spread, out=layers.tessellation)


def _paint_reflex(
    rng: np.random.Generator, layers: Layers, base: Base, side: int, strength: float
) -> None:
    """Light reflex of a young retina (distractor): wispy sheen beside the large vessels, foveal
    ring."""
    wisps = np.clip(
        smooth_noise(rng, (side, side), rng.uniform(6, 14)) * 0.7 + rng.uniform(-0.2, 0.4), 0, 1
    )
    sheen = base.near_vessels * wisps
    if rng.uniform() < 0.5:
        ring_r = rng.uniform(0.07, 0.12)
        box, _, outside = blob(
            side, BASE_FOVEA, (ring_r, ring_r), unit_ellipse, 0.01, ring_r + 0.04
        )
        ring = np.exp(-((outside / 0.008) ** 2)) * rng.uniform(0.4, 1.0)
        np.maximum(sheen[box.s], ring, out=sheen[box.s])
    np.maximum(layers.reflex, strength * sheen, out=layers.reflex)


# ============================================================================================
# One image's parameters
# ============================================================================================


@dataclass(frozen=True)
class Nuisance:
    """Class-independent variation: eye, camera and photograph (drawn alike for every class)."""

    flip: bool  # mirrored: a right eye
    angle: float  # degrees
    zoom: float
    shift: tuple[float, float]  # fixation, in aperture radii
    aperture: float  # FOV radius, as a fraction of half the shorter side
    illum_angle: float
    illum_gain: float
    vignette: float
    wb: tuple[float, float, float]  # white balance gains
    gamma: tuple[float, float, float]  # per channel: every camera has its own tone curves
    exposure: float  # target mean luminance inside the FOV
    saturation: float
    haze: float
    blur: float  # Gaussian sigma in pixels at the default height
    noise: float  # in 1/255
    jpeg_quality: int
    reflex: float  # light reflex strength (0: none)
    disc_pallor: float
    tessellation: float  # mild tessellation any eye may show (0: none)
    crescent: float  # small crescent any eye may show (0: none)
    dust: int  # dark specks of dust on the optics
    flare: float
    flare_angle: float


def draw_nuisance(rng: np.random.Generator) -> Nuisance:
    return Nuisance(
        flip=bool(rng.uniform() < 0.5),
        angle=float(rng.uniform(-12, 12)),
        zoom=float(rng.uniform(0.95, 1.12)),
        shift=(float(rng.uniform(-0.08, 0.08)), float(rng.uniform(-0.06, 0.06))),
        aperture=float(rng.uniform(0.84, 1.0)),
        illum_angle=float(rng.uniform(0, 2 * np.pi)),
        illum_gain=float(rng.uniform(0.0, 0.3)),
        vignette=float(rng.uniform(0.0, 0.4)),
        wb=(
            float(rng.uniform(0.85, 1.1)),
            float(rng.uniform(0.75, 1.3)),
            float(rng.uniform(0.6, 1.6)),
        ),
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


def paint_findings(
    kind: str, rng: np.random.Generator, nuisance: Nuisance, base: Base, side: int
) -> tuple[Layers, float]:
    """Every painted layer of one image, and the PM severity (0 for H and N)."""
    layers = Layers.empty(side)
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
