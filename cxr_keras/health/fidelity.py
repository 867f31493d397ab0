"""Fidelity of generated images: are they their class, can they be told from real ones, and how many
are near-twins of each other? (docs/verdicts.md) Details: docs/modules.md."""

from __future__ import annotations

import numpy as np
from scipy.ndimage import gaussian_filter
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedKFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from cxr_keras.metrics.diversity import as_feature_matrix
from cxr_keras.metrics.memorization import distance_blocks

PROBE_LAYOUT = 8  # images are average-pooled to 8 x 8 for the probe's layout features
PROBE_BINS = 16
NEAR_TWIN_QUANTILE = 0.05


def _images(images, name: str) -> np.ndarray:
    images = np.asarray(images, dtype=np.float32)
    if images.ndim != 4 or len(images) < 2:
        raise ValueError(f"{name} must be an NHWC array of at least 2 images, got shape {images.shape}")
    if not np.isfinite(images).all():
        raise ValueError(f"{name} holds NaN or inf; fidelity is measured on finite images only")
    return images


def probe_features(images) -> np.ndarray:
    """Per image: the grey image average-pooled to 8 x 8, its grey-level histogram and the
    histograms of its edge strength at full and at half resolution (16 bins each)."""
    grey = _images(images, "images").mean(axis=-1)
    n, height, width = grey.shape
    if height % PROBE_LAYOUT or width % PROBE_LAYOUT:
        raise ValueError(f"images must be a multiple of {PROBE_LAYOUT} px on each side, got {height}x{width}")
    layout = grey.reshape(n, PROBE_LAYOUT, height // PROBE_LAYOUT, PROBE_LAYOUT, width // PROBE_LAYOUT)
    parts = [layout.mean(axis=(2, 4)).reshape(n, -1), _histograms(grey, (-1.0, 1.0))]
    half = grey.reshape(n, height // 2, 2, width // 2, 2).mean(axis=(2, 4))
    for scale in (grey, half):
        rows, cols = np.gradient(scale, axis=(1, 2))
        parts.append(_histograms(np.hypot(rows, cols), (0.0, 0.5)))
    return np.concatenate(parts, axis=1)


def _histograms(values: np.ndarray, value_range: tuple[float, float]) -> np.ndarray:
    edges = np.linspace(*value_range, PROBE_BINS + 1)
    clipped = np.clip(values.reshape(len(values), -1), *value_range)
    return np.stack([np.histogram(row, edges)[0] for row in clipped]) / clipped.shape[1]


def two_sample_auc(real, candidate, folds: int = 5, n_boot: int = 500, alpha: float = 0.05,
                   seed: int = 0) -> dict[str, float]:
    """How well a logistic probe on :func:`probe_features` tells ``candidate`` images from
    ``real`` ones: out-of-fold ROC AUC over ``folds`` stratified folds, with a percentile
    bootstrap interval (both sets resampled). Returns ``auc``, ``auc_ci_low``, ``auc_ci_high``.

    Repeated images land in training and evaluation folds alike, so a partly collapsed set is
    told apart too.
    """
    real_features = probe_features(real)
    candidate_features = probe_features(candidate)
    folds = min(folds, len(real_features), len(candidate_features))
    if folds < 2:
        raise ValueError("two_sample_auc needs at least 2 images in each set")
    x = np.concatenate([real_features, candidate_features])
    y = np.r_[np.zeros(len(real_features), int), np.ones(len(candidate_features), int)]
    scores = np.empty(len(y))
    splitter = StratifiedKFold(folds, shuffle=True, random_state=seed)
    for train, held_out in splitter.split(x, y):
        probe = make_pipeline(StandardScaler(), LogisticRegression(C=0.1, max_iter=2000))
        probe.fit(x[train], y[train])
        scores[held_out] = probe.decision_function(x[held_out])
    rng = np.random.default_rng(seed)
    real_index, candidate_index = np.flatnonzero(y == 0), np.flatnonzero(y == 1)
    replicates = []
    for _ in range(n_boot):
        index = np.r_[rng.choice(real_index, len(real_index)), rng.choice(candidate_index, len(candidate_index))]
        replicates.append(roc_auc_score(y[index], scores[index]))
    low, high = np.percentile(replicates, [100 * alpha / 2, 100 * (1 - alpha / 2)])
    return {"auc": float(roc_auc_score(y, scores)), "auc_ci_low": float(low), "auc_ci_high": float(high)}


def class_agreement(generated_probabilities, real_probabilities, target: int, n_boot: int = 1000,
                    alpha: float = 0.05, seed: int = 0) -> dict[str, float]:
    """How often a judge assigns generated images to class ``target``, over how often it
    assigns held-out real images of that class to it.

    Both arguments are the judge's (n, C) probabilities. Returns ``agreement`` and
    ``agreement_real`` (the two rates), ``agreement_ratio`` and its percentile bootstrap
    interval ``agreement_ratio_ci_low`` / ``_ci_high`` (both sets resampled). The ratio is NaN
    when the judge never assigns the real images to ``target`` (it cannot judge that class).
    """
    hits = []
    for name, probabilities in (("generated_probabilities", generated_probabilities),
                                ("real_probabilities", real_probabilities)):
        probabilities = np.asarray(probabilities, dtype=np.float64)
        if probabilities.ndim != 2 or not 0 <= target < probabilities.shape[1] or len(probabilities) < 1:
            raise ValueError(f"{name} must be (n, C) probabilities with class {target} among C, "
                             f"got shape {probabilities.shape}")
        hits.append(probabilities.argmax(axis=1) == target)
    generated_hits, real_hits = hits
    rng = np.random.default_rng(seed)
    replicates = [_ratio(rng.choice(generated_hits, len(generated_hits)), rng.choice(real_hits, len(real_hits)))
                  for _ in range(n_boot)]
    finite = np.asarray(replicates)[np.isfinite(replicates)]
    low, high = np.percentile(finite, [100 * alpha / 2, 100 * (1 - alpha / 2)]) if len(finite) else (np.nan, np.nan)
    return {"agreement": float(generated_hits.mean()), "agreement_real": float(real_hits.mean()),
            "agreement_ratio": _ratio(generated_hits, real_hits),
            "agreement_ratio_ci_low": float(low), "agreement_ratio_ci_high": float(high)}


def _ratio(generated_hits: np.ndarray, real_hits: np.ndarray) -> float:
    real_rate = real_hits.mean()
    return float(generated_hits.mean() / real_rate) if real_rate > 0 else float("nan")


def near_duplicate_fraction(candidate, real, seed: int = 0) -> float:
    """Share of ``candidate`` items whose nearest other candidate is a near-twin, distances taken
    relative to each set's own spread and the threshold from ``real`` (its closest 5%); the
    candidates are cut to the real set's size with ``seed``. Figures: docs/modules.md.
    """
    real = as_feature_matrix(real, "real features", min_items=3)
    candidate = as_feature_matrix(candidate, "candidate features", min_items=3)
    if len(candidate) > len(real):
        candidate = candidate[np.random.default_rng(seed).choice(len(candidate), len(real), replace=False)]
    threshold = np.quantile(_relative_nearest(real), NEAR_TWIN_QUANTILE)
    return float(np.mean(_relative_nearest(candidate) < threshold))


def _relative_nearest(features: np.ndarray) -> np.ndarray:
    """Each item's distance to its nearest other item over the set's median pairwise distance
    (0 for a set of identical items)."""
    nearest, medians = np.full(len(features), np.inf), []
    for start, block in distance_blocks(features, features):
        rows = np.arange(start, start + len(block))
        block = block.copy()
        block[np.arange(len(block)), rows] = np.inf
        nearest[rows] = block.min(axis=1)
        medians.append(np.median(block[np.isfinite(block)]))
    scale = float(np.median(medians))
    return nearest / scale if scale > 0 else np.zeros_like(nearest)


def constructed_failures(real, other_class, other_domain, blur_sigma: float = 2.0,
                         repeated: int = 20, seed: int = 0) -> dict[str, np.ndarray]:
    """Image sets standing in for a failed GAN's samples of ``real``'s class, as many as ``real``:
    ``wrong class``, ``wrong domain``, ``blurred``, ``partly collapsed``, ``noise``; the cases
    the health thresholds are calibrated on (docs/modules.md).
    """
    real = _images(real, "real")
    rng = np.random.default_rng(seed)
    n = len(real)

    def resized(images, name):
        images = _images(images, name)
        if images.shape[1:] != real.shape[1:]:
            raise ValueError(f"{name} must have real's image shape {real.shape[1:]}, got {images.shape[1:]}")
        return images[rng.choice(len(images), n, replace=len(images) < n)]

    return {
        "wrong class": resized(other_class, "other_class"),
        "wrong domain": resized(other_domain, "other_domain"),
        "blurred": np.clip(gaussian_filter(real, sigma=(0, blur_sigma, blur_sigma, 0)), -1, 1),
        "partly collapsed": np.resize(real[:repeated], real.shape),
        "noise": rng.uniform(-1, 1, real.shape).astype(np.float32),
    }
