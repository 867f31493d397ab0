"""Paired comparisons: the difference A - B over the same test images and the same seeds. Details:
docs/modules.md."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy import stats

POWER = 0.8


def paired_difference(scores_a, scores_b, clusters: Sequence | None = None, n_boot: int = 2000,
                      confidence: float = 0.95, seed: int = 0) -> dict[str, float]:
    """Mean of ``scores_a - scores_b`` with a bootstrap interval over seeds and test clusters.

    ``scores_a`` and ``scores_b`` are (seeds, images) arrays (a 1-d array is one seed), row
    ``s`` of both from classifiers trained with the same seed (or CV fold), column ``i`` from
    the same test image. ``clusters`` holds one id per image (e.g. patient ids; missing ids
    and None: each image its own cluster); whole clusters are resampled, seeds and clusters
    together in each replicate. Returns ``difference`` (the mean over seeds and images),
    ``low`` and ``high`` (the percentile interval at ``confidence``), ``sd`` (the bootstrap SD),
    ``sd_test`` (seeds fixed, clusters resampled), ``sd_seeds`` (images fixed, seeds
    resampled; 0 for one seed), ``detectable`` (:func:`detectable_difference` of ``sd`` at the
    interval's level), ``confidence``, ``n_seeds`` and ``n_clusters``.
    """
    a, b = _scores(scores_a, "scores_a"), _scores(scores_b, "scores_b")
    if a.shape != b.shape:
        raise ValueError(f"scores_a {a.shape} and scores_b {b.shape} must have the same (seeds, images) "
                         "shape: the same seeds and the same test images")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    if isinstance(n_boot, bool) or not isinstance(n_boot, (int, np.integer)) or n_boot < 2:
        raise ValueError(f"n_boot must be an integer >= 2, got {n_boot!r}")
    codes = cluster_codes(clusters, a.shape[1])
    sums = np.stack([np.bincount(codes, weights=row) for row in a - b])  # (seeds, clusters)
    sizes = np.bincount(codes).astype(float)
    n_seeds, n_clusters = sums.shape
    rng = np.random.default_rng(seed)

    def replicates(resample_seeds: bool, resample_clusters: bool) -> np.ndarray:
        seed_counts = (_counts(rng, n_seeds, n_boot) if resample_seeds else np.ones((n_boot, n_seeds)))
        cluster_counts = (_counts(rng, n_clusters, n_boot) if resample_clusters
                          else np.ones((n_boot, n_clusters)))
        totals = np.einsum("bs,sk,bk->b", seed_counts, sums, cluster_counts)
        return totals / (n_seeds * (cluster_counts @ sizes))

    both = replicates(True, True)
    tail = 100 * (1 - confidence) / 2
    low, high = np.percentile(both, [tail, 100 - tail])
    sd = float(both.std(ddof=1))
    return {
        "difference": float(sums.sum() / (n_seeds * sizes.sum())),
        "low": float(low), "high": float(high), "sd": sd,
        "sd_test": float(replicates(False, True).std(ddof=1)),
        "sd_seeds": float(replicates(True, False).std(ddof=1)) if n_seeds > 1 else 0.0,
        "detectable": detectable_difference(sd, 1 - confidence),
        "confidence": float(confidence), "n_seeds": n_seeds, "n_clusters": n_clusters,
    }


def detectable_difference(se: float, alpha: float = 0.05, power: float = POWER) -> float:
    """The smallest true difference a two-sided test at level ``alpha`` detects with
    probability ``power`` when its estimate has standard error ``se``: (z(1 - alpha/2) +
    z(power)) x se, about 2.8 x se at the 5% level and 80% power."""
    if not 0 < alpha < 1 or not 0 < power < 1:
        raise ValueError(f"alpha and power must be in (0, 1), got {alpha} and {power}")
    return float((stats.norm.ppf(1 - alpha / 2) + stats.norm.ppf(power)) * se)


def bonferroni(confidence: float, comparisons: int) -> float:
    """The confidence each of ``comparisons`` intervals needs so that all hold together at
    ``confidence`` (Bonferroni): 1 - (1 - confidence) / comparisons."""
    if isinstance(comparisons, bool) or not isinstance(comparisons, (int, np.integer)) or comparisons < 1:
        raise ValueError(f"comparisons must be a positive integer, got {comparisons!r}")
    return 1 - (1 - confidence) / comparisons


def cluster_codes(clusters: Sequence | None, n: int) -> np.ndarray:
    """Integer codes 0..K-1 of ``clusters`` (one id per image); None or a missing id makes
    an image its own cluster."""
    if clusters is None:
        return np.arange(n)
    if len(clusters) != n:
        raise ValueError(f"clusters must hold one id per test image ({n}), got {len(clusters)}")
    codes, _ = pd.factorize(pd.Series(list(clusters), dtype=object))
    missing = codes < 0
    codes[missing] = codes.max(initial=-1) + 1 + np.arange(missing.sum())
    return codes


def _scores(scores, name: str) -> np.ndarray:
    scores = np.asarray(scores, dtype=float)
    scores = scores[None, :] if scores.ndim == 1 else scores
    if scores.ndim != 2 or scores.size == 0:
        raise ValueError(f"{name} must be a non-empty (seeds, images) array, got shape {np.shape(scores)}")
    if not np.isfinite(scores).all():
        raise ValueError(f"{name} has non-finite scores; score every image of every seed")
    return scores


def _counts(rng: np.random.Generator, units: int, n_boot: int) -> np.ndarray:
    """(n_boot, units): how often each unit is drawn in each resample of ``units`` units."""
    draws = rng.integers(units, size=(n_boot, units))
    return np.stack([np.bincount(row, minlength=units) for row in draws]).astype(float)
