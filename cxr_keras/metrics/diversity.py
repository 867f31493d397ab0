"""Distances between a generated and a real set in any feature space: spread, closeness, density.
Details: docs/modules.md."""

from __future__ import annotations

import numpy as np

from cxr_keras.metrics.generative import knn_radii
from cxr_keras.metrics.memorization import distance_blocks, nearest_neighbours

SPREADS = ("mean_pairwise", "median_nearest")
DENSITY_COVERAGE_K = 5  # Naeem et al.'s recommended k


def as_feature_matrix(items, name: str, min_items: int = 1) -> np.ndarray:
    """``items`` as a finite float64 (n, d) matrix (images are flattened); ``name`` in errors."""
    items = np.asarray(items, dtype=np.float64)
    if items.ndim < 2 or len(items) < min_items:
        raise ValueError(
            f"{name} must be an array of at least {min_items} feature vectors or images, "
            f"got shape {items.shape}"
        )
    items = items.reshape(len(items), -1)
    if not np.isfinite(items).all():
        raise ValueError(f"{name} contains NaN or infinite values; check the images or features")
    return items


def spread(features, statistic: str = "mean_pairwise", batch_size: int = 1024) -> float:
    """How far apart the items of one set are.

    ``"mean_pairwise"``: mean distance over all pairs of distinct items. ``"median_nearest"``:
    median distance from an item to its nearest other item (sensitive to near duplicates).
    """
    features = as_feature_matrix(features, "features", min_items=2)
    if statistic == "median_nearest":
        return float(np.median(knn_radii(features, k=1, batch_size=batch_size)))
    if statistic != "mean_pairwise":
        raise ValueError(f"statistic must be one of {SPREADS}, got {statistic!r}")
    total = sum(
        block.sum() for _, block in distance_blocks(features, features, batch_size=batch_size)
    )
    return float(total / (len(features) * (len(features) - 1)))


def diversity_ratio(
    generated, real, statistic: str = "mean_pairwise", batch_size: int = 1024
) -> float:
    """:func:`spread` of the generated items over that of the real items.

    The default is the mean pairwise distance; ``statistic="median_nearest"`` gives the
    nearest-other-item version (``per_class_gan.diversity_ratio`` on flattened pixels).
    """
    real_spread = spread(real, statistic, batch_size)
    if real_spread == 0:
        raise ValueError("the real items are all identical (spread 0); pass distinct real images")
    return spread(generated, statistic, batch_size) / real_spread


def nearest_distance_ratio(generated, real, batch_size: int = 1024) -> float:
    """Median distance from a generated item to its nearest real item, over the median distance
    from a real item to its nearest other real item."""
    generated = as_feature_matrix(generated, "generated")
    real = as_feature_matrix(real, "real", min_items=2)
    _, distances = nearest_neighbours(generated, real, batch_size=batch_size)
    baseline = np.median(knn_radii(real, k=1, batch_size=batch_size))
    if baseline == 0:
        raise ValueError("the real items are all identical (spread 0); pass distinct real images")
    return float(np.median(distances) / baseline)


def density_coverage(
    real, generated, k: int = DENSITY_COVERAGE_K, batch_size: int = 1024
) -> dict[str, float]:
    """Density and coverage of Naeem et al. (2020), balls of each real item's k-th nearest real
    neighbour distance (strictly inside, as in the authors' code); definitions: docs/modules.md.
    """
    real = as_feature_matrix(real, "real", min_items=k + 1)
    generated = as_feature_matrix(generated, "generated")
    radii = knn_radii(real, k, batch_size)
    balls_per_generated = np.zeros(len(generated))
    covered = np.zeros(len(real), dtype=bool)
    for start, block in distance_blocks(generated, real, batch_size=batch_size):
        inside = block < radii[None, :]
        balls_per_generated[start : start + len(block)] = inside.sum(axis=1)
        covered |= inside.any(axis=0)
    return {
        "density": float(balls_per_generated.sum() / (k * len(generated))),
        "coverage": float(covered.mean()),
    }
