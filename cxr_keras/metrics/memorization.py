"""Memorization audit: is a generated image a near copy of a training image? Details:
docs/modules.md."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pandas as pd
from scipy.spatial.distance import cdist

SPACES = ("feature", "pixel")


def distance_blocks(
    queries, references, metric: str = "euclidean", batch_size: int = 1024
) -> Iterator[tuple[int, np.ndarray]]:
    """Yield ``(start, distances)`` for consecutive blocks of at most ``batch_size`` queries.

    Images of any shape are flattened to vectors; ``metric`` is any scipy ``cdist`` metric.
    """
    queries, references = _as_vectors(queries, "queries"), _as_vectors(references, "references")
    if queries.shape[1] != references.shape[1]:
        raise ValueError(
            f"queries and references differ in size per item: {queries.shape[1]} vs "
            f"{references.shape[1]}; compare images of the same shape or features of the same dims"
        )
    if batch_size < 1:
        raise ValueError(f"batch_size must be positive, got {batch_size}")
    for start in range(0, len(queries), batch_size):
        yield start, cdist(queries[start : start + batch_size], references, metric=metric)


def nearest_neighbours(
    queries, references, metric: str = "euclidean", batch_size: int = 1024
) -> tuple[np.ndarray, np.ndarray]:
    """Index into ``references`` and distance of the nearest reference for every query."""
    indices, distances = [], []
    for _, block in distance_blocks(queries, references, metric, batch_size):
        nearest = block.argmin(axis=1)
        indices.append(nearest)
        distances.append(block[np.arange(len(block)), nearest])
    return np.concatenate(indices), np.concatenate(distances)


def memorization_audit(
    generated_feats, train_feats, generated_pixels=None, train_pixels=None,
    metric: str = "euclidean", batch_size: int = 1024,
) -> pd.DataFrame:
    """One row per generated image: nearest training image and distance per space.

    Columns: ``generated_index``, ``feature_nn_index``, ``feature_distance`` and, when pixel
    arrays are given, ``pixel_nn_index``, ``pixel_distance``.
    """
    audit = pd.DataFrame({"generated_index": np.arange(len(generated_feats))})
    audit["feature_nn_index"], audit["feature_distance"] = nearest_neighbours(
        generated_feats, train_feats, metric, batch_size
    )
    if (generated_pixels is None) != (train_pixels is None):
        raise ValueError("pass both generated_pixels and train_pixels, or neither")
    if generated_pixels is not None:
        if len(generated_pixels) != len(generated_feats) or len(train_pixels) != len(train_feats):
            raise ValueError(
                "pixel arrays must hold the same images as the feature arrays: got "
                f"{len(generated_pixels)} vs {len(generated_feats)} generated and "
                f"{len(train_pixels)} vs {len(train_feats)} training items"
            )
        audit["pixel_nn_index"], audit["pixel_distance"] = nearest_neighbours(
            generated_pixels, train_pixels, metric, batch_size
        )
    return audit


def real_to_real_distances(
    train, holdout, metric: str = "euclidean", batch_size: int = 1024
) -> np.ndarray:
    """Baseline: distance from each held-out real item to its nearest training item."""
    return nearest_neighbours(holdout, train, metric, batch_size)[1]


def memorization_summary(
    audit: pd.DataFrame, baseline, percentile: float = 5.0, space: str = "feature"
) -> dict:
    """Compare generated-to-train distances with the real-to-real baseline.

    Returns the threshold (the ``percentile`` of the baseline distances), the number and
    fraction of generated images closer to a training image than that, and the ratio of the
    median generated distance to the median baseline distance (well below 1 suggests copying).
    """
    distances = audit[_column(audit, space, "distance")].to_numpy()
    baseline = np.asarray(baseline, dtype=np.float64)
    if baseline.ndim != 1 or len(baseline) == 0:
        raise ValueError("baseline must be a non-empty 1-d array from real_to_real_distances")
    threshold = float(np.percentile(baseline, percentile))
    flagged = distances < threshold
    return {
        "space": space, "percentile": percentile, "threshold": threshold,
        "n_generated": len(distances), "n_below_threshold": int(flagged.sum()),
        "fraction_below_threshold": float(flagged.mean()),
        "median_ratio": float(np.median(distances) / np.median(baseline)),
    }


def _column(audit: pd.DataFrame, space: str, kind: str) -> str:
    if space not in SPACES:
        raise ValueError(f"space must be one of {SPACES}, got {space!r}")
    column = f"{space}_{kind}"
    if column not in audit.columns:
        raise ValueError(
            f"the audit has no {column!r} column; pass pixel arrays to memorization_audit"
        )
    return column


def _as_vectors(items, name: str) -> np.ndarray:
    items = np.asarray(items, dtype=np.float64)
    if items.ndim < 2 or len(items) == 0:
        raise ValueError(
            f"{name} must be a non-empty array of feature vectors or images, "
            f"got shape {items.shape}"
        )
    return items.reshape(len(items), -1)
