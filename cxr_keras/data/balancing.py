"""Class balancing of in-memory (images, labels) arrays: count, undersample to the smallest
class, or fill every class up with synthetic images (Salehinejad et al.'s DS2 and DS3)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def class_counts(y: np.ndarray, num_classes: int) -> np.ndarray:
    """Images per class as an int array of length ``num_classes``."""
    y = np.asarray(y, dtype=int)
    if len(y) and (y.min() < 0 or y.max() >= num_classes):
        raise ValueError(f"labels must be in [0, {num_classes}), got {np.unique(y)}")
    return np.bincount(y, minlength=num_classes)


def undersample_to_smallest(x: np.ndarray, y: np.ndarray, num_classes: int, seed: int = 0):
    """DS2: a seeded random subset with as many images per class as the smallest class has."""
    counts = class_counts(y, num_classes)
    if counts.min() == 0:
        empty = np.flatnonzero(counts == 0).tolist()
        raise ValueError(f"class(es) {empty} have no images; undersampling would empty every class")
    rng = np.random.default_rng(seed)
    keep = np.concatenate([
        rng.choice(np.flatnonzero(y == k), counts.min(), replace=False) for k in range(num_classes)
    ])
    keep.sort()
    return x[keep], y[keep]


def synthetic_needed(y: np.ndarray, num_classes: int, factor: float = 2.0) -> np.ndarray:
    """Synthetic images per class that bring every class to ``factor`` x the largest class."""
    counts = class_counts(y, num_classes)
    target = round(factor * counts.max())
    if target < counts.max():
        raise ValueError(f"factor must be >= 1 so no real image is dropped, got {factor}")
    return target - counts


def balance_with_synthetic(
    x: np.ndarray, y: np.ndarray, synthetic: Sequence[np.ndarray], factor: float = 2.0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """DS3: all real images plus synthetic ones up to ``factor`` x the largest class per class.

    ``synthetic[k]`` holds generated images of class ``k`` (at least the number needed; the
    first ones are used). Returns (x, y, is_synthetic) with the real images first.
    """
    needed = synthetic_needed(y, len(synthetic), factor)
    parts_x, parts_y = [np.asarray(x, dtype=np.float32)], [np.asarray(y)]
    for k, (images, n) in enumerate(zip(synthetic, needed)):
        if len(images) < n:
            raise ValueError(
                f"class {k} needs {n} synthetic images to reach {factor:g}x the largest class, "
                f"got {len(images)}; generate more"
            )
        if n and np.asarray(images).shape[1:] != np.asarray(x).shape[1:]:
            raise ValueError(
                f"synthetic images of class {k} have shape {np.asarray(images).shape[1:]}, the real "
                f"ones {np.asarray(x).shape[1:]}; generate at the classifier's size"
            )
        parts_x.append(np.asarray(images[:n], dtype=np.float32))
        parts_y.append(np.full(n, k, dtype=np.asarray(y).dtype))
    is_synthetic = np.concatenate([np.zeros(len(y), bool), np.ones(int(needed.sum()), bool)])
    return np.concatenate(parts_x), np.concatenate(parts_y), is_synthetic
