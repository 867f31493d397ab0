"""Mitigations for a source shortcut: functions that transform NHWC images in [-1, 1]. Details:
docs/modules.md."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from cxr_keras.audits.shortcut import LUNG_FIELD, grayscale
from cxr_keras.metrics.conversions import resize_images

MITIGATIONS = ("none", "lung_crop", "histogram_match", "lung_crop+histogram_match")
QUANTILES = 256


def lung_field_crop(images, box: Sequence[float] = LUNG_FIELD) -> np.ndarray:
    """Crop the central ``box`` (top, bottom, left, right fractions) and resize back (bilinear)."""
    images = np.asarray(images, dtype=np.float32)
    grayscale(images)  # validates shape and range
    top, bottom, left, right = box
    if not (0 <= top < bottom <= 1 and 0 <= left < right <= 1):
        raise ValueError(f"box must be fractions (top, bottom, left, right) in [0, 1], got {box}")
    height, width = images.shape[1:3]
    rows = slice(round(top * height), round(bottom * height))
    cols = slice(round(left * width), round(right * width))
    return np.clip(resize_images(images[:, rows, cols], (height, width)), -1.0, 1.0)


def reference_quantiles(reference, quantiles: int = QUANTILES) -> np.ndarray:
    """Mean quantile function of the reference images: (quantiles,) increasing values."""
    gray = grayscale(reference).reshape(len(reference), -1)
    levels = np.linspace(0.0, 1.0, quantiles)
    return np.quantile(gray, levels, axis=1).mean(axis=1)


def histogram_match(images, reference, quantiles: int = QUANTILES) -> np.ndarray:
    """Each image's pixels mapped by rank onto the reference quantiles (channels kept equal)."""
    images = np.asarray(images, dtype=np.float32)
    gray = grayscale(images).reshape(len(images), -1)
    target = reference_quantiles(reference, quantiles)
    levels = np.linspace(0.0, 1.0, quantiles)
    matched = np.empty_like(gray)
    for k, row in enumerate(gray):
        ranks = np.argsort(np.argsort(row, kind="stable"), kind="stable") / max(row.size - 1, 1)
        matched[k] = np.interp(ranks, levels, target)
    matched = matched.reshape(images.shape[:3])[..., None]
    return np.repeat(matched, images.shape[-1], axis=-1).astype(np.float32)


def mitigate(images, method: str, reference=None) -> np.ndarray:
    """Apply one of ``MITIGATIONS`` ("none" returns the images unchanged). Histogram matching
    uses ``reference`` (e.g. the training images; default: ``images`` themselves)."""
    if method not in MITIGATIONS:
        raise ValueError(f"method must be one of {MITIGATIONS}, got {method!r}")
    images = np.asarray(images, dtype=np.float32)
    if "lung_crop" in method:
        images = lung_field_crop(images)
        reference = None if reference is None else lung_field_crop(reference)
    if "histogram_match" in method:
        images = histogram_match(images, images if reference is None else reference)
    return images
