"""How a phantom is drawn: its parameters and the anatomy, in patient coordinates. Details:
docs/modules.md."""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
from scipy import ndimage

PIXEL = 2.0 / 256  # anti-aliasing width of mask edges, in patient units
_NOISE_GRID = 128  # random textures are drawn at this fixed resolution, the same for every size
_THORAX_CENTER_Y = 0.26  # the thoracic cage is widest here, just above the domes
_LUNG_AIR = 0.78  # attenuation removed by aerated lung


@dataclass(frozen=True)
class PhantomParams:
    """Everything that defines one phantom; `render_phantom(**overrides)` replaces fields.

    Lengths are in patient units (the image spans [-1, 1]). `ctr` is the cardiothoracic ratio,
    `rotation_deg` the in-plane rotation, `exposure` and `gamma` the film response, `noise` the
    quantum-noise level, `blur` the unsharpness in 1/256ths of the image width, `severity` in
    [0, 1] scales the finding, `side` is where a one-sided finding lies (patient side) and
    `focus` places a consolidation inside its lung.
    """

    thorax_half_width: float
    thorax_half_height: float
    body_half_width: float
    ctr: float
    dome_height: float
    rotation_deg: float
    shift: tuple[float, float]
    zoom: float
    exposure: float
    gamma: float
    noise: float
    blur: float
    severity: float = 0.0
    side: str = "right"
    focus: tuple[float, float] = (0.0, 0.0)
    vessel_seed: int = 0
    finding_seed: int = 0


def grid_size(size: int) -> int:
    """Internal resolution: 128 up to 64 px output (fast), 256 above."""
    return 128 if size <= 64 else 256


@functools.lru_cache(maxsize=2)
def grid(n: int) -> tuple[np.ndarray, np.ndarray]:
    """Patient coordinates of an n x n grid as a (1, n) row of x and an (n, 1) column of y."""
    axis = (np.arange(n, dtype=np.float32) + 0.5) * (2.0 / n) - 1.0
    axis.setflags(write=False)
    return axis[None, :], axis[:, None]  # x varies along columns, y along rows (broadcast)


def blur(field: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian blur with `sigma` in patient units (independent of the grid resolution)."""
    return ndimage.gaussian_filter(np.asarray(field, np.float32), sigma * field.shape[-1] / 2.0)


def _smoothstep(edge: float, value: np.ndarray, width: float = PIXEL) -> np.ndarray:
    """Soft 0->1 step where `value` crosses `edge` (anti-aliased mask)."""
    return np.clip((value - edge) / width + 0.5, 0.0, 1.0)


def _band(distance: np.ndarray, half_width: float) -> np.ndarray:
    """Soft band of `half_width` around the zero set of `distance` (brighter at its cortex)."""
    inside = _smoothstep(0.0, half_width - np.abs(distance))
    cortex = np.exp(-(((np.abs(distance) - 0.8 * half_width) / (0.3 * half_width)) ** 2))
    return inside * (0.65 + 0.35 * cortex)


def _dome_y(x: np.ndarray, p: PhantomParams) -> np.ndarray:
    """Height of the diaphragm under each lung (right dome, image left, slightly higher)."""
    side = np.sign(x)
    base = _THORAX_CENTER_Y + 0.56 - 0.025 * (1.0 - side)
    peak_x = side * 0.42 * p.thorax_half_width
    return (
        base
        - p.dome_height
        - 0.22 * np.exp(-((x - peak_x) ** 2) / (2 * (0.3 * p.thorax_half_width) ** 2))
    )


def lung_masks(x, y, p: PhantomParams, cage_scale: float = 1.0) -> np.ndarray:
    """Soft mask of the aerated lungs (thoracic cage, above the domes, outside the mediastinum)."""
    w, h = p.thorax_half_width * cage_scale, p.thorax_half_height * cage_scale
    cage = 1.0 - np.sqrt((x / w) ** 2 + ((y - _THORAX_CENTER_Y) / h) ** 2)
    lung = _smoothstep(0.0, cage, 0.01) * _smoothstep(0.0, _dome_y(x, p) - y)
    mediastinum_half = 0.12 + 0.06 * np.clip((y + 0.4) / 0.6, 0, 1)
    return lung * _smoothstep(0.0, np.abs(x - 0.01) - mediastinum_half) * (1.0 - _heart(x, y, p))


def heart_geometry(p: PhantomParams) -> tuple[float, float, float, float]:
    half_width = p.ctr * p.thorax_half_width
    return half_width / 3.0, 0.42, half_width, 0.27 + 0.15 * (p.ctr - 0.43)


def _heart(x, y, p: PhantomParams, tilt: float = 0.7) -> np.ndarray:
    """Cardiac silhouette: a tilted ellipse (apex down towards the patient's left) whose
    horizontal extent is exactly the heart width, plus the aortic knob above it."""
    cx, cy, half_w, half_h = heart_geometry(p)
    u = (x - cx) / (half_w * np.sqrt(1.0 - tilt**2 / 4.0))
    v = (y - cy) / half_h
    heart = _smoothstep(0.0, 1.0 - (u**2 + v**2 - tilt * u * v), 0.03)
    knob = _smoothstep(0.0, 1.0 - ((x - 0.1) / 0.1) ** 2 - ((y + 0.2) / 0.08) ** 2, 0.3)
    return np.maximum(heart, knob)


def _ribs(x, y, p: PhantomParams) -> np.ndarray:
    d = np.abs(x)
    spacing = 0.125 * p.thorax_half_height
    phase = (y - (-0.78 - 0.12 * d + 0.6 * d**2)) / spacing  # rib k runs along phase == k
    index = np.clip(np.round(phase), 0, 9)
    ribs = _band((phase - index) * spacing, 0.024 + 0.0025 * index)
    reach = _smoothstep(0.0, p.thorax_half_width + 0.06 - d, 0.04) * _smoothstep(0.05, d, 0.03)
    return ribs * reach


def _clavicles(x, y) -> np.ndarray:
    d = np.abs(x)
    centre = -0.72 - 0.12 * (d - 0.1) + 0.12 * (d - 0.35) ** 2
    return _band(y - centre, 0.035) * _smoothstep(0.07, d, 0.02) * _smoothstep(0.0, 0.72 - d, 0.03)


def _spine(x, y) -> np.ndarray:
    column = _smoothstep(0.0, 0.075 - np.abs(x), 0.02)
    vertebrae = 0.75 + 0.25 * np.cos(2 * np.pi * (y + 1) / 0.115) ** 2
    pedicles = np.exp(-(((np.abs(x) - 0.05) / 0.015) ** 2)) * (
        np.cos(2 * np.pi * (y + 1) / 0.115) > 0.3
    )
    return column * vertebrae + 0.3 * pedicles


def _body(x, y, p: PhantomParams) -> np.ndarray:
    trunk = np.abs(x / p.body_half_width) ** 3 + np.abs((y - 0.4) / 1.45) ** 3
    neck = _smoothstep(0.0, 0.2 - np.abs(x), 0.03)
    shoulders = _smoothstep(0.0, y + 0.9 + 0.25 * (np.abs(x) / p.body_half_width) ** 2, 0.08)
    thickness = np.sqrt(np.clip(1.0 - trunk, 0.0, 1.0))  # path length through an elliptic trunk
    return np.maximum(thickness * shoulders, 0.6 * neck) * 0.9 + 0.1 * _smoothstep(
        0.0, 1.0 - trunk, 0.02
    )


def _random_walks(rng, start_x, start_y, heading, steps: int, step: float, wiggle: float):
    """Curved paths (n, steps) from start points along initial headings (0 = +x, pi/2 = up)."""
    heading = heading[:, None] + np.cumsum(rng.normal(0.0, wiggle, (len(heading), steps)), axis=1)
    px = start_x[:, None] + np.cumsum(step * np.cos(heading), axis=1)
    py = start_y[:, None] - np.cumsum(step * np.sin(heading), axis=1)
    return px, py, heading


def _vessels(
    p: PhantomParams, n: int, trunks: int = 16, branches: int = 90, steps: int = 40
) -> np.ndarray:
    """Branching vessels from the hila that thin and fade towards the lung periphery."""
    rng = np.random.default_rng(p.vessel_seed)
    field = np.zeros((n, n), np.float32)
    for side in (-1.0, 1.0):
        hilum_x, hilum_y = side * 0.2, -0.02
        angle = rng.uniform(-0.55 * np.pi, 0.6 * np.pi, trunks)  # 0 = lateral, + = upwards
        heading = np.where(side > 0, angle, np.pi - angle)
        tx, ty, th = _random_walks(
            rng, np.full(trunks, hilum_x), np.full(trunks, hilum_y), heading, steps, 0.018, 0.05
        )
        pick = rng.integers(0, trunks, branches), rng.integers(3, steps // 2, branches)
        turn = rng.choice([-1.0, 1.0], branches) * rng.uniform(0.3, 0.7, branches)
        bx, by, _ = _random_walks(rng, tx[pick], ty[pick], th[pick] + turn, steps // 2, 0.014, 0.08)
        for px, py, strength in ((tx, ty, 1.0), (bx, by, 0.6)):
            weight = strength * np.exp(-np.hypot(px - hilum_x, py - hilum_y) / 0.6)
            rows = np.clip(((py + 1.0) * n / 2).astype(int), 0, n - 1)
            cols = np.clip(((px + 1.0) * n / 2).astype(int), 0, n - 1)
            np.add.at(
                field, (rows.ravel(), cols.ravel()), weight.ravel() * (n / 256) ** 2
            )  # same line density on any grid
    return blur(field, 0.008) * 3.0


def _noise_field(rng, sigma: float, n: int) -> np.ndarray:
    """Unit-variance smooth noise (`sigma` in patient units) drawn on the fixed noise grid."""
    blob = blur(rng.normal(size=(_NOISE_GRID, _NOISE_GRID)), sigma)
    if n != _NOISE_GRID:
        blob = ndimage.zoom(blob, n / _NOISE_GRID, order=1, grid_mode=True, mode="nearest")
    return blob / (blob.std() + 1e-8)


def _finding_opacity(finding: str, x, y, lung, p: PhantomParams, info: dict):
    """Return (added attenuation, vessel visibility multiplier, finding mask) for a finding."""
    rng = np.random.default_rng(p.finding_seed)
    n = x.shape[1]
    s = p.severity
    none = np.zeros_like(x)
    if finding in ("normal", "cardiomegaly"):
        return none, 1.0, none
    side_sign = {"right": [-1.0], "left": [1.0], "both": [-1.0, 1.0]}[p.side]
    on_side = sum(_smoothstep(0.0, sign * x, 0.02) for sign in side_sign)
    if finding == "effusion":
        depth = 0.03 + 0.2 * s  # fluid height above the costophrenic angle
        lateral = np.clip(np.abs(x) / p.thorax_half_width, 0, 1)
        level = _dome_y(x, p) + 0.02 - depth * (0.2 + 1.2 * lateral**3)  # meniscus rises laterally
        region = _smoothstep(0.0, y - level, 0.04) * on_side * lung
        gradient = np.clip((y - level) / 0.08, 0, 1)
        info["effusion_depth"] = depth
        return 0.6 * region * gradient, 1.0 - 0.8 * region, region > 0.5
    if finding == "pneumothorax":
        rim = 0.03 + 0.13 * s
        collapsed = lung_masks(x, y, p, cage_scale=1.0 - rim)
        shifted = lung_masks(x, y + rim * 0.6, p, cage_scale=1.0 - rim)
        remaining = np.minimum(collapsed, shifted)
        region = np.clip(lung - remaining, 0, 1) * on_side
        edge = blur(4.0 * remaining * (1.0 - remaining), 0.006)
        line = np.clip(2.0 * edge, 0, 1) * (blur(region, 0.023) > 0.05)
        info["rim_width"] = rim
        return (
            -0.05 * region + 0.35 * line + 0.08 * s * remaining * on_side, 1.0 - region,
            (region > 0.5) & (line < 0.05),
        )
    if finding == "consolidation":
        sign = side_sign[0]
        cx = sign * (0.15 + p.focus[0] * (p.thorax_half_width - 0.25))
        cy = -0.55 + p.focus[1] * 0.85
        radius = 0.08 + 0.12 * s
        blob = np.exp(-(((x - cx) ** 2 + (y - cy) ** 2) / (2 * radius**2)))
        patchy = np.clip(blob * (1.0 + 0.45 * _noise_field(rng, 0.04, n)) - 0.35, 0, 1) / 0.65
        region = np.clip(patchy * lung * 1.5, 0, 1)
        bronchi = np.abs(_noise_field(rng, 0.024, n)) < 0.12
        air = blur(bronchi * (region > 0.5), 0.005)
        info["focus_xy"] = (float(cx), float(cy))
        return (0.2 + 0.3 * s) * region - 0.15 * air * region, 1.0 - 0.5 * region, region > 0.3
    # edema: bilateral perihilar "bat wing" haze and Kerley B lines at the lateral bases
    haze = sum(
        np.exp(-(((x - sign * 0.25) / 0.3) ** 2 + ((y + 0.02) / 0.35) ** 2)) for sign in (-1, 1)
    )
    haze = haze * (1.0 + 0.25 * _noise_field(rng, 0.047, n)) * lung
    lateral = np.abs(x) / p.thorax_half_width
    near_base = np.clip(1.0 - (_dome_y(x, p) - y) / 0.3, 0, 1) * (lateral > 0.75)
    kerley = (np.abs(((y * 38.0) % 1.0) - 0.5) < 0.07) * near_base * lung * (s > 0.5)
    amount = 0.08 + 0.22 * s
    return amount * haze + 0.12 * kerley, 1.0 - 0.5 * np.clip(haze, 0, 1), haze > 0.35


def _air_profile(x, y, p: PhantomParams) -> np.ndarray:
    """Relative air in the lung: less under the chest wall at the periphery and at the bases."""
    radius = np.sqrt(
        (x / p.thorax_half_width) ** 2 + ((y - _THORAX_CENTER_Y) / p.thorax_half_height) ** 2
    )
    depth = np.clip((1.0 - radius) / 0.3, 0.0, 1.0)
    return (0.7 + 0.3 * depth) * (1.0 - 0.15 * np.clip((y - 0.1) / 0.4, 0.0, 1.0))


def attenuation(
    finding: str, p: PhantomParams, n: int, info: dict
) -> tuple[np.ndarray, np.ndarray]:
    x, y = grid(n)
    body = _body(x, y, p)
    lung = lung_masks(x, y, p)
    extra, vessel_visibility, finding_mask = _finding_opacity(finding, x, y, lung, p, info)
    markings = _noise_field(
        np.random.default_rng(p.vessel_seed + 1), 0.0094, n
    )  # fine interstitial pattern
    hila = sum(
        np.exp(-(((x - sign * 0.2) / 0.07) ** 2 + ((y + 0.02) / 0.1) ** 2)) for sign in (-1, 1)
    )
    vessels = (
        (np.minimum(_vessels(p, n), 1.5) * 0.22 + 0.15 * hila + 0.03 * markings)
        * lung
        * vessel_visibility
    )
    stomach = np.exp(-(((x - 0.42) / 0.13) ** 2 + ((y - _dome_y(x, p) - 0.12) / 0.06) ** 2))
    trachea = _smoothstep(0.0, 0.028 - np.abs(x - 0.01), 0.01) * _smoothstep(0.0, -0.2 - y, 0.05)
    attenuation = (
        body * (1.0 - _LUNG_AIR * lung * _air_profile(x, y, p))
        - 0.35 * stomach * body
        - 0.2 * trachea
        + 0.12 * _heart(x, y, p)
        + vessels
        + 0.1 * _ribs(x, y, p) * (0.4 + 0.6 * lung)
        + 0.22 * _clavicles(x, y)
        + 0.12 * _spine(x, y)
        + extra
    )
    return attenuation, finding_mask


def to_output(image: np.ndarray, p: PhantomParams, size: int, order: int = 1) -> np.ndarray:
    """Resample an internal-grid image to (size, size) with the patient's rotation, zoom, shift."""
    n = image.shape[0]
    theta = np.deg2rad(p.rotation_deg)
    scale = n / size / p.zoom
    rotation = np.array([[np.cos(theta), -np.sin(theta)], [np.sin(theta), np.cos(theta)]])
    matrix = rotation * scale
    centre_out = np.full(2, (size - 1) / 2)
    centre_in = np.full(2, (n - 1) / 2) - np.array(p.shift[::-1]) * n / 2
    offset = centre_in - matrix @ centre_out
    return ndimage.affine_transform(
        image, matrix, offset, output_shape=(size, size), order=order, mode="nearest"
    )
