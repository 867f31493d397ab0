"""Procedural chest X-ray phantoms: the embedded default dataset (no download, deterministic).
Details: docs/modules.md."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import fields, replace

import numpy as np

from cxr_keras.data.phantom_anatomy import (
    PIXEL,
    PhantomParams,
    attenuation,
    blur,
    grid,
    grid_size,
    heart_geometry,
    lung_masks,
    to_output,
)
from cxr_keras.io import save_figure

PHANTOM_CLASSES = ("normal", "cardiomegaly", "effusion", "pneumothorax", "consolidation", "edema")
MIN_SIZE, MAX_SIZE = 32, 256
NORMAL_CTR_RANGE = (0.38, 0.48)
CARDIOMEGALY_CTR_RANGE = (0.51, 0.6)
SIDES = ("right", "left", "both")

def render_phantom(finding: str, size: int = 64, seed: int = 0, **overrides) -> np.ndarray:
    """Render one phantom as float32 (size, size) in [-1, 1] (bright = dense).

    `overrides` replace sampled parameters (see `PhantomParams`), e.g. ``ctr=0.6``,
    ``severity=1.0``, ``side="left"``, ``noise=0.0``, ``rotation_deg=0.0``.
    """
    image, _ = _render(finding, size, seed, overrides)
    return image


def describe_phantom(finding: str, size: int = 64, seed: int = 0, **overrides) -> dict:
    """Return the geometry of a phantom: CTR, widths in output pixels, finding parameters and
    boolean masks (size, size) of the lungs (`lung_mask`) and of the finding (`finding_mask`)."""
    _, info = _render(finding, size, seed, overrides, describe=True)
    return info


def render_batch(findings: Sequence[str], size: int = 64, seed: int = 0) -> np.ndarray:
    """Render one phantom per finding as (n, size, size) float32; image i uses a seed derived
    from (`seed`, i), so a batch is reproducible and its patients all differ."""
    findings = list(findings)
    for name in set(findings):
        _check_finding(name)
    _check_size(size)
    out = np.empty((len(findings), size, size), dtype=np.float32)
    for i, (name, child_seed) in enumerate(zip(findings, _child_seeds(seed, len(findings)))):
        out[i] = render_phantom(name, size, child_seed)
    return out


def phantom_arrays(
    counts: Mapping[str, int] | int, size: int = 64, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Return a shuffled labelled set: x (n, size, size, 1) float32 in [-1, 1] and y int64 class
    indices in `PHANTOM_CLASSES` order. `counts` is a per-class count (int) or a dict
    {class: count} (missing classes get none), so that imbalance can be studied."""
    counts = _check_counts(counts)
    labels = np.repeat(np.arange(len(PHANTOM_CLASSES)), [counts[c] for c in PHANTOM_CLASSES])
    labels = np.random.default_rng([seed, 7]).permutation(labels)
    x = render_batch([PHANTOM_CLASSES[k] for k in labels], size, seed)
    return x[..., None], labels.astype(np.int64)


def plot_phantoms_vs_real(real_images: list | None, out_path, size: int = 128, per_row: int = 6):
    """Save a grid with one row of phantoms per class and, when `real_images` (2-D arrays of
    any range) are given, rows of real radiographs below for comparison. Returns the path."""
    from matplotlib.figure import Figure  # matplotlib only when plotting

    real_images = [np.asarray(image, dtype=np.float32) for image in real_images or []]
    for i, image in enumerate(real_images):
        if image.ndim != 2:
            raise ValueError(f"real image {i} has shape {image.shape}; pass 2-D grayscale arrays")
    rows = len(PHANTOM_CLASSES) + -(-len(real_images) // per_row)
    fig = Figure(figsize=(1.6 * per_row, 1.7 * rows))
    axes = fig.subplots(rows, per_row, squeeze=False)
    for row, name in enumerate(PHANTOM_CLASSES):
        for col in range(per_row):
            axes[row, col].imshow(
                render_phantom(name, size, seed=col), cmap="gray", vmin=-1, vmax=1
            )
        axes[row, 0].set_ylabel(name, fontsize=9)
    for i, image in enumerate(real_images):
        ax = axes[len(PHANTOM_CLASSES) + i // per_row, i % per_row]
        ax.imshow(image, cmap="gray")
    for row in range(len(PHANTOM_CLASSES), rows):
        axes[row, 0].set_ylabel("real", fontsize=9)
    for ax in axes.ravel():
        ax.set_xticks([])
        ax.set_yticks([])
        if not ax.images:
            ax.set_axis_off()
    fig.suptitle(f"procedural phantoms ({size} px) vs real radiographs", fontsize=10)
    return save_figure(out_path, fig)


def _check_finding(finding: str) -> int:
    if finding not in PHANTOM_CLASSES:
        raise ValueError(
            f"unknown finding {finding!r}; valid findings are {', '.join(PHANTOM_CLASSES)}"
        )
    return PHANTOM_CLASSES.index(finding)


def _check_size(size: int) -> None:
    if isinstance(size, bool) or not isinstance(size, (int, np.integer)):
        raise TypeError(f"size must be an integer between {MIN_SIZE} and {MAX_SIZE}, got {size!r}")
    if not MIN_SIZE <= size <= MAX_SIZE:
        raise ValueError(f"size must be between {MIN_SIZE} and {MAX_SIZE} pixels, got {size}")


def _check_counts(counts) -> dict[str, int]:
    if isinstance(counts, (int, np.integer)) and not isinstance(counts, bool):
        counts = {name: int(counts) for name in PHANTOM_CLASSES}
    if not isinstance(counts, Mapping):
        raise TypeError(
            f"counts must be an int or a dict {{class: count}}, got {type(counts).__name__}"
        )
    unknown = sorted(set(counts) - set(PHANTOM_CLASSES))
    if unknown:
        raise ValueError(
            f"unknown classes {unknown} in counts; valid classes are {', '.join(PHANTOM_CLASSES)}"
        )
    bad = {
        k: v
        for k, v in counts.items()
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 0
    }
    if bad:
        raise ValueError(f"class counts must be non-negative integers, got {bad}")
    return {name: int(counts.get(name, 0)) for name in PHANTOM_CLASSES}


def _child_seeds(seed: int, n: int) -> list[int]:
    return (
        [int(s) for s in np.random.SeedSequence([seed, 1]).generate_state(n, dtype=np.uint64)]
        if n
        else []
    )


def _sample_params(finding: str, seed: int, overrides: Mapping) -> PhantomParams:
    patient = np.random.default_rng([seed, 0])
    findings_rng = np.random.default_rng([seed, 1 + PHANTOM_CLASSES.index(finding)])
    params = PhantomParams(
        thorax_half_width=patient.uniform(0.66, 0.76),
        thorax_half_height=patient.uniform(1.02, 1.1),
        body_half_width=patient.uniform(0.86, 1.0),
        ctr=patient.uniform(*NORMAL_CTR_RANGE),
        dome_height=patient.uniform(0.12, 0.2),
        rotation_deg=patient.uniform(-4.0, 4.0),
        shift=(patient.uniform(-0.04, 0.04), patient.uniform(-0.04, 0.04)),
        zoom=patient.uniform(0.95, 1.06),
        exposure=patient.uniform(1.9, 2.6),
        gamma=patient.uniform(1.0, 1.6),
        noise=patient.uniform(0.02, 0.06),
        blur=patient.uniform(0.6, 1.6),
        vessel_seed=int(patient.integers(2**31)),
        finding_seed=int(findings_rng.integers(2**31)),
        severity=findings_rng.uniform(0.0, 1.0),
        side=SIDES[findings_rng.integers(3)]
        if finding == "effusion"
        else ("right", "left")[findings_rng.integers(2)],
        focus=(findings_rng.uniform(0.25, 0.75), findings_rng.uniform(0.2, 0.85)),
    )
    valid = {f.name for f in fields(PhantomParams)} - {"vessel_seed", "finding_seed"}
    unknown = sorted(set(overrides) - valid)
    if unknown:
        raise ValueError(
            f"unknown phantom parameters {unknown}; valid ones are {', '.join(sorted(valid))}"
        )
    if "side" in overrides and overrides["side"] not in SIDES:
        raise ValueError(f"side must be one of {SIDES}, got {overrides['side']!r}")
    if "severity" in overrides and not 0.0 <= overrides["severity"] <= 1.0:
        raise ValueError(f"severity must be in [0, 1], got {overrides['severity']!r}")
    params = replace(params, **overrides)
    if finding == "cardiomegaly" and "ctr" not in overrides:
        low, high = CARDIOMEGALY_CTR_RANGE
        params = replace(params, ctr=low + (high - low) * params.severity)
    return params


def _render(finding: str, size: int, seed: int, overrides: Mapping, describe: bool = False):
    """Return (image, info); info holds geometry and output-size masks when `describe`."""
    _check_finding(finding)
    _check_size(size)
    p = _sample_params(finding, seed, overrides)
    n = grid_size(size)
    info: dict = {}
    absorbed, finding_mask = attenuation(finding, p, n, info)
    intensity = (1.0 - np.exp(-p.exposure * np.clip(absorbed, 0, None))) ** p.gamma
    antialias = 0.9 / size  # patient units: 0.45 output pixels
    intensity = blur(intensity, np.hypot(p.blur * PIXEL, antialias))
    image = to_output(intensity, p, size)
    noise_rng = np.random.default_rng([seed, 99, size])
    image = image + p.noise * np.sqrt(np.clip(image, 0.05, 1.0)) * noise_rng.normal(
        size=image.shape
    )
    image = np.clip(2.0 * image - 1.0, -1.0, 1.0).astype(np.float32)
    if not describe:
        return image, info

    to_pixels = size / 2.0 * p.zoom
    heart_half_width = heart_geometry(p)[2]
    info.update(
        finding=finding, size=size, seed=seed, ctr=float(p.ctr),
        heart_width=float(2 * heart_half_width * to_pixels),
        thorax_width=float(2 * p.thorax_half_width * to_pixels), severity=float(p.severity),
        side=p.side if finding not in ("normal", "cardiomegaly", "edema") else None,
        rotation_deg=float(p.rotation_deg),
        lung_mask=to_output(lung_masks(*grid(n), p).astype(np.float32), p, size) > 0.5,
        finding_mask=to_output(np.asarray(finding_mask, np.float32), p, size, order=0) > 0.5,
    )
    return image, info
