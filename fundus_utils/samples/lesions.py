"""The lesions of diabetic retinopathy, drawn per grade onto a sample photograph: microaneurysms,
haemorrhages, hard exudates, cotton-wool spots, new vessels, preretinal bleeding. The recipe of
each grade (how many of each) is drawn first (:func:`draw_findings`), then painted at 4x and
averaged down (:func:`paint_grade`). Taught in 06_convmixer, §5."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import cv2
import numpy as np

from ..core.errors import FundusDataError
from .camera import SampleImage
from .retina import (
    BASE_DISC,
    BASE_DISC_RADII,
    BASE_FOV_CENTRE,
    BASE_FOV_RADIUS,
    BASE_FOVEA,
)

__all__ = ["GRADES", "MICROANEURYSM_RADIUS"]

GRADES = (0, 1, 2, 3, 4)  # the international clinical DR scale, 0 (no DR) to 4 (PDR)


SUPERSAMPLE = 4  # lesions are drawn at 4x and averaged down (anti-aliasing)

# --- lesion sizes, as fractions of the canonical side (the base photograph's width) -----------
# The optic disc is about 0.08 of the side across (BASE_DISC_RADII); real microaneurysms are
# roughly a twentieth to a tenth of a disc diameter, which is what these ranges give.
MICROANEURYSM_RADIUS = (0.0035, 0.0055)
DOT_HAEMORRHAGE_RADIUS = (0.006, 0.011)
BLOT_HAEMORRHAGE_RADIUS = (0.011, 0.02)
FLAME_HAEMORRHAGE_AXES = ((0.018, 0.035), (0.004, 0.008))  # (long, short) half-axes
EXUDATE_RADIUS = (0.0025, 0.0065)
COTTON_WOOL_RADIUS = (0.012, 0.026)
NEOVESSEL_WIDTH = 0.0022
PRERETINAL_RADIUS = (0.04, 0.07)
LESION_ZONE = 0.40  # lesions lie within this distance of the FOV centre

# --- colours: multiplicative gains on the rendered RGB (0..1), then an additive part ----------
HAEMORRHAGE_GAIN = np.array([0.62, 0.24, 0.27], np.float32)  # dark red
PRERETINAL_GAIN = np.array([0.52, 0.14, 0.16], np.float32)
EXUDATE_GAIN = np.array([1.9, 2.2, 0.8], np.float32)  # waxy yellow
EXUDATE_ADD = np.array([0.10, 0.08, 0.0], np.float32)
COTTON_WOOL_GAIN = np.array([1.3, 1.6, 1.8], np.float32)  # pale, fluffy white-grey
COTTON_WOOL_ADD = np.array([0.22, 0.21, 0.19], np.float32)


# ============================================================================================
# Per-grade recipe: how many findings of each kind
# ============================================================================================


@dataclass(frozen=True)
class GradeFindings:
    """How many findings of each kind one image gets (drawn per image from its own stream)."""

    microaneurysms: int = 0
    dot_haemorrhages: int = 0
    blot_haemorrhages: int = 0
    flame_haemorrhages: int = 0
    exudate_clusters: int = 0
    cotton_wool_spots: int = 0
    neovascular_tufts: int = 0
    preretinal: bool = False


def draw_findings(grade: int, rng: np.random.Generator) -> GradeFindings:
    """The findings of one image of ``grade`` (0..4); more and more severe with the grade."""
    if grade not in GRADES:
        raise FundusDataError(f"grade: expected one of {list(GRADES)}, found {grade!r}")
    if grade == 0:
        return GradeFindings()
    if grade == 1:
        return GradeFindings(microaneurysms=int(rng.integers(2, 7)))
    if grade == 2:
        return GradeFindings(
            microaneurysms=int(rng.integers(6, 16)),
            dot_haemorrhages=int(rng.integers(2, 6)),
            blot_haemorrhages=int(rng.integers(1, 4)),
            exudate_clusters=int(rng.integers(1, 3)),
        )
    severe = dict(
        microaneurysms=int(rng.integers(10, 22)),
        dot_haemorrhages=int(rng.integers(8, 16)),
        blot_haemorrhages=int(rng.integers(5, 10)),
        flame_haemorrhages=int(rng.integers(2, 6)),
        exudate_clusters=int(rng.integers(2, 5)),
        cotton_wool_spots=int(rng.integers(2, 6)),
    )
    if grade == 3:
        return GradeFindings(**severe)
    tufts = int(rng.integers(1, 4))
    preretinal = bool(rng.uniform() < 0.5)
    if preretinal and rng.uniform() < 0.3:
        tufts = 0  # some PDR images show the haemorrhage, not the vessels
    return GradeFindings(**severe, neovascular_tufts=tufts, preretinal=preretinal)


# ============================================================================================
# Drawing (output frame, supersampled)
# ============================================================================================


@dataclass
class _Canvas:
    """Three lesion layers at SUPERSAMPLE x the output size, and the canonical -> canvas mapping."""

    size: tuple[int, int]  # output (w, h)
    matrix: np.ndarray  # canonical pixels -> output pixels (2 x 3)
    side: int  # canonical side in pixels
    red: np.ndarray = field(init=False)  # haemorrhages, microaneurysms, new vessels
    deep_red: np.ndarray = field(init=False)  # pre-retinal haemorrhage
    yellow: np.ndarray = field(init=False)  # hard exudates
    white: np.ndarray = field(init=False)  # cotton-wool spots

    def __post_init__(self) -> None:
        w, h = self.size
        for name in ("red", "deep_red", "yellow", "white"):
            setattr(self, name, np.zeros((h * SUPERSAMPLE, w * SUPERSAMPLE), np.uint8))

    @property
    def scale(self) -> float:
        """Canvas pixels per unit of canonical fraction."""
        return math.sqrt(abs(np.linalg.det(self.matrix[:, :2]))) * self.side * SUPERSAMPLE

    def point(self, uv: tuple[float, float]) -> np.ndarray:
        """Canonical fractions (u, v) -> canvas pixel coordinates (x, y)."""
        xy = self.matrix @ np.array([uv[0] * self.side, uv[1] * self.side, 1.0])
        return xy * SUPERSAMPLE

    def points(self, uvs: np.ndarray) -> np.ndarray:
        """Many canonical fractions (N x 2) -> int32 canvas points for cv2 (N x 1 x 2)."""
        xy = (np.c_[uvs * self.side, np.ones(len(uvs))] @ self.matrix.T) * SUPERSAMPLE
        return np.round(xy).astype(np.int32).reshape(-1, 1, 2)

    def angle(self, canonical_angle: float) -> float:
        """A direction in the canonical frame, in degrees in the output frame (for cv2.ellipse)."""
        d = self.matrix[:, :2] @ np.array([math.cos(canonical_angle), math.sin(canonical_angle)])
        return math.degrees(math.atan2(d[1], d[0]))


def _layer_value(strength: float) -> int:
    return int(round(255 * min(max(strength, 0.0), 1.0)))


def _dot(layer: np.ndarray, canvas: _Canvas, uv, radius: float, strength: float) -> None:
    cx, cy = canvas.point(uv)
    r = max(1, int(round(radius * canvas.scale)))
    cv2.circle(layer, (int(round(cx)), int(round(cy))), r, _layer_value(strength), -1, cv2.LINE_AA)


def _ellipse(
    layer: np.ndarray,
    canvas: _Canvas,
    uv,
    axes: tuple[float, float],
    canonical_angle: float,
    strength: float,
) -> None:
    cx, cy = canvas.point(uv)
    a, b = (max(1, int(round(v * canvas.scale))) for v in axes)
    cv2.ellipse(
        layer,
        (int(round(cx)), int(round(cy))),
        (a, b),
        canvas.angle(canonical_angle),
        0,
        360,
        _layer_value(strength),
        -1,
        cv2.LINE_AA,
    )


def _in_zone(uv: np.ndarray) -> bool:
    """Inside the posterior pole / mid-periphery and clear of the optic disc."""
    from_centre = math.hypot(uv[0] - BASE_FOV_CENTRE[0], uv[1] - BASE_FOV_CENTRE[1])
    from_disc = math.hypot(
        (uv[0] - BASE_DISC[0]) / BASE_DISC_RADII[0], (uv[1] - BASE_DISC[1]) / BASE_DISC_RADII[1]
    )
    return from_centre < min(LESION_ZONE, BASE_FOV_RADIUS * 0.85) and from_disc > 1.6


def _random_spot(rng: np.random.Generator, around=BASE_FOVEA, spread: float = 0.22) -> np.ndarray:
    """A lesion position: scattered about ``around`` (posterior pole), inside the zone."""
    for _ in range(50):
        uv = np.asarray(around) + rng.normal(0.0, spread, 2)
        if _in_zone(uv):
            return uv
    return np.asarray(BASE_FOVEA, dtype=float) + rng.uniform(-0.1, 0.1, 2)


def _paint_microaneurysms(rng, canvas: _Canvas, count: int) -> None:
    for _ in range(count):
        _dot(
            canvas.red,
            canvas,
            _random_spot(rng, spread=0.14),
            rng.uniform(*MICROANEURYSM_RADIUS),
            rng.uniform(0.75, 0.95),
        )


def _paint_haemorrhages(rng, canvas: _Canvas, f: GradeFindings) -> None:
    for _ in range(f.dot_haemorrhages):
        _dot(
            canvas.red,
            canvas,
            _random_spot(rng),
            rng.uniform(*DOT_HAEMORRHAGE_RADIUS),
            rng.uniform(0.75, 0.95),
        )
    for _ in range(f.blot_haemorrhages):  # a blot: two or three overlapping ovals
        uv, r = _random_spot(rng), rng.uniform(*BLOT_HAEMORRHAGE_RADIUS)
        strength = rng.uniform(0.8, 0.95)
        for _ in range(int(rng.integers(2, 4))):
            part = uv + rng.normal(0.0, 0.4 * r, 2)
            _ellipse(
                canvas.red,
                canvas,
                part,
                (r * rng.uniform(0.6, 1.0), r * rng.uniform(0.5, 0.9)),
                rng.uniform(0, math.pi),
                strength,
            )
    for _ in range(f.flame_haemorrhages):  # flame: along the nerve fibres, radial to the disc
        uv = _random_spot(rng, around=BASE_DISC, spread=0.16)
        along = math.atan2(uv[1] - BASE_DISC[1], uv[0] - BASE_DISC[0])
        axes = (rng.uniform(*FLAME_HAEMORRHAGE_AXES[0]), rng.uniform(*FLAME_HAEMORRHAGE_AXES[1]))
        _ellipse(canvas.red, canvas, uv, axes, along + rng.normal(0, 0.15), rng.uniform(0.6, 0.85))


def _paint_exudates(rng, canvas: _Canvas, clusters: int) -> None:
    """Hard exudates: clusters of small sharp yellow dots near the macula, sometimes a ring
    (circinate)."""
    for _ in range(clusters):
        centre = _random_spot(rng, spread=0.09)
        spread = rng.uniform(0.012, 0.035)
        n = int(rng.integers(4, 14))
        ring = rng.uniform() < 0.35
        for _ in range(n):
            if ring:
                t = rng.uniform(0, 2 * math.pi)
                uv = (
                    centre
                    + spread * 1.3 * np.array([math.cos(t), math.sin(t)])
                    + rng.normal(0, 0.003, 2)
                )
            else:
                uv = centre + rng.normal(0.0, spread, 2)
            _dot(canvas.yellow, canvas, uv, rng.uniform(*EXUDATE_RADIUS), rng.uniform(0.7, 0.95))


def _paint_cotton_wool(rng, canvas: _Canvas, count: int) -> None:
    """Cotton-wool spots: soft pale patches along the vascular arcades above and below the disc."""
    for _ in range(count):
        side = 1.0 if rng.uniform() < 0.5 else -1.0
        t = side * rng.uniform(0.5, 1.2)  # angle from the disc-fovea line
        dist = rng.uniform(0.08, 0.24)
        uv = np.array([BASE_DISC[0] + dist * math.cos(t), BASE_DISC[1] + dist * math.sin(t)])
        r = rng.uniform(*COTTON_WOOL_RADIUS)
        _ellipse(
            canvas.white,
            canvas,
            uv,
            (r, r * rng.uniform(0.55, 0.9)),
            rng.uniform(0, math.pi),
            rng.uniform(0.55, 0.8),
        )


def _tortuous_path(rng, start: np.ndarray, length: float, step: float) -> np.ndarray:
    """A fine, tortuous vessel: a random walk whose heading turns sharply, often looping back."""
    heading, points = rng.uniform(0, 2 * math.pi), [start]
    turn = rng.choice([-1.0, 1.0]) * rng.uniform(0.25, 0.6)
    for _ in range(max(2, int(length / step))):
        if rng.uniform() < 0.15:
            turn = -turn
        heading += turn + rng.normal(0.0, 0.35)
        points.append(points[-1] + step * np.array([math.cos(heading), math.sin(heading)]))
    return np.asarray(points)


def _paint_neovascularisation(rng, canvas: _Canvas, tufts: int) -> None:
    """New vessels: tufts of fine tortuous loops at the disc (NVD) or elsewhere (NVE)."""
    width = max(1, int(round(NEOVESSEL_WIDTH * canvas.scale)))
    for index in range(tufts):
        at_disc = index == 0 or rng.uniform() < 0.4
        if at_disc:
            t = rng.uniform(0, 2 * math.pi)
            anchor = np.asarray(BASE_DISC) + np.array(BASE_DISC_RADII) * 0.8 * np.array(
                [math.cos(t), math.sin(t)]
            )
        else:
            anchor = _random_spot(rng, around=BASE_DISC, spread=0.15)
        for _ in range(int(rng.integers(3, 7))):
            path = _tortuous_path(
                rng, anchor + rng.normal(0, 0.008, 2), rng.uniform(0.04, 0.09), 0.006
            )
            cv2.polylines(
                canvas.red,
                [canvas.points(path)],
                False,
                _layer_value(rng.uniform(0.45, 0.7)),
                width,
                cv2.LINE_AA,
            )


def _paint_preretinal(rng, canvas: _Canvas) -> None:
    """Pre-retinal (subhyaloid) haemorrhage: boat-shaped, its upper edge a flat fluid level."""
    centre = np.asarray(BASE_FOVEA) + np.array([rng.uniform(-0.12, 0.08), rng.uniform(-0.02, 0.12)])
    r = rng.uniform(*PRERETINAL_RADIUS)
    t = np.linspace(0.0, math.pi, 40)  # the lower half of an oval (y grows downwards)
    rim = np.c_[centre[0] + r * np.cos(t), centre[1] + 0.75 * r * np.sin(t)]
    cv2.fillPoly(
        canvas.deep_red, [canvas.points(rim)], _layer_value(rng.uniform(0.85, 0.97)), cv2.LINE_AA
    )


def _alpha(layer: np.ndarray, size: tuple[int, int], soften: float = 0.0) -> np.ndarray:
    alpha = cv2.resize(layer, size, interpolation=cv2.INTER_AREA).astype(np.float32) / 255.0
    if soften > 0:
        alpha = cv2.GaussianBlur(alpha, (0, 0), soften)
    return alpha[..., None]


def paint_grade(sample: SampleImage, grade: int, rng: np.random.Generator) -> np.ndarray:
    """``sample.image`` (a rendered normal eye) with the findings of ``grade`` painted on, as
    uint8 RGB."""
    findings = draw_findings(grade, rng)
    h, w = sample.image.shape[:2]
    canvas = _Canvas((w, h), sample.matrix, sample.atrophy_layer.shape[0])
    _paint_microaneurysms(rng, canvas, findings.microaneurysms)
    _paint_haemorrhages(rng, canvas, findings)
    _paint_exudates(rng, canvas, findings.exudate_clusters)
    _paint_cotton_wool(rng, canvas, findings.cotton_wool_spots)
    _paint_neovascularisation(rng, canvas, findings.neovascular_tufts)
    if findings.preretinal:
        _paint_preretinal(rng, canvas)
    img = sample.image.astype(np.float32) / 255.0
    soft = 0.012 * canvas.scale / SUPERSAMPLE  # cotton-wool edges are feathery
    for layer, gain, add, soften in (
        (canvas.red, HAEMORRHAGE_GAIN, 0.0, 0.5),
        (canvas.deep_red, PRERETINAL_GAIN, 0.0, 0.6),
        (canvas.yellow, EXUDATE_GAIN, EXUDATE_ADD, 0.0),
        (canvas.white, COTTON_WOOL_GAIN, COTTON_WOOL_ADD, soft),
    ):
        if layer.any():
            a = _alpha(layer, (w, h), soften)
            target = np.clip(img * gain + add, 0.0, 1.0)
            img = img * (1.0 - a) + target * a
    return np.clip(img * 255.0 + 0.5, 0, 255).astype(np.uint8)


# ============================================================================================
# Writing the folder
# ============================================================================================
