"""Generative metrics beyond FID: KID, Inception Score, precision/recall, FID vs sample size.

Every function that takes images also takes precomputed (n, d) feature arrays, so the
expensive Inception pass runs once per image set.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
from scipy.special import rel_entr

from cxr_keras.metrics.conversions import to_inception_input
from cxr_keras.metrics.frechet import resolve_features
from cxr_keras.metrics.memorization import distance_blocks

KERAS_INCEPTION_WEIGHTS = "inception_v3_weights_tf_dim_ordering_tf_kernels.h5"


def polynomial_mmd2_unbiased(x, y) -> float:
    """Unbiased MMD^2 between samples x and y with the kernel k(a, b) = (a.b / d + 1)^3."""
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    if x.ndim != 2 or y.ndim != 2 or x.shape[1] != y.shape[1]:
        raise ValueError(
            f"expected two (n, d) arrays of the same d, got shapes {x.shape} and {y.shape}"
        )
    if len(x) < 2 or len(y) < 2:
        raise ValueError(
            f"the unbiased MMD needs at least 2 samples per set, got {len(x)} and {len(y)}"
        )
    dim = x.shape[1]
    k_xx = (x @ x.T / dim + 1.0) ** 3
    k_yy = (y @ y.T / dim + 1.0) ** 3
    k_xy = (x @ y.T / dim + 1.0) ** 3
    m, n = len(x), len(y)
    within_x = (k_xx.sum() - np.trace(k_xx)) / (m * (m - 1))
    within_y = (k_yy.sum() - np.trace(k_yy)) / (n * (n - 1))
    return float(within_x + within_y - 2.0 * k_xy.mean())


def kernel_inception_distance(
    real, fake, n_subsets: int = 100, subset_size: int = 1000, seed: int = 0, dims: int = 2048,
    model=None, allow_nonnegative: bool = False,
) -> tuple[float, float]:
    """KID (Binkowski et al. 2018): mean and std of the unbiased MMD^2 over random subsets.

    Each subset draws ``min(subset_size, n_real, n_fake)`` items from each set without
    replacement, as clean-fid does. When that is a whole set, every subset holds all of it
    and the std understates the spread (it is 0 when both sets are whole): a
    :class:`WholeSetSubsetWarning` says so. Images are checked as in :func:`fid`.
    """
    real_features = resolve_features(real, dims, model=model, name="real",
                                     allow_nonnegative=allow_nonnegative)
    fake_features = resolve_features(fake, dims, model=model, name="fake",
                                     allow_nonnegative=allow_nonnegative)
    if n_subsets < 1:
        raise ValueError(f"n_subsets must be positive, got {n_subsets}")
    size = min(subset_size, len(real_features), len(fake_features))
    whole = [name for name, features in (("real", real_features), ("fake", fake_features))
             if size == len(features)]
    if whole and n_subsets > 1:
        warnings.warn(
            f"subset_size={subset_size} is not below the {' and '.join(whole)} set size "
            f"({len(real_features)} real, {len(fake_features)} fake): every subset holds the "
            f"whole {' and '.join(whole)} set, so the KID std understates the spread; pass "
            f"subset_size < {size}, e.g. {max(2, size // 2)}",
            WholeSetSubsetWarning, stacklevel=2)
    rng = np.random.default_rng(seed)
    values = [
        polynomial_mmd2_unbiased(
            real_features[rng.choice(len(real_features), size, replace=False)],
            fake_features[rng.choice(len(fake_features), size, replace=False)],
        )
        for _ in range(n_subsets)
    ]
    return float(np.mean(values)), float(np.std(values))


class WholeSetSubsetWarning(UserWarning):
    """KID subsets are as large as a whole set, so they do not vary and the std means little."""


def inception_score(probs, splits: int = 10) -> tuple[float, float]:
    """Inception Score exp(E_x KL(p(y|x) || p(y))): mean and std over ``splits`` chunks."""
    probs = np.asarray(probs, dtype=np.float64)
    if probs.ndim != 2:
        raise ValueError(f"probs must be an (n, classes) array, got shape {probs.shape}")
    if probs.min() < 0 or not np.allclose(probs.sum(axis=1), 1.0, atol=1e-3):
        raise ValueError(
            "probs rows must be probability vectors (non-negative, summing to 1); apply softmax"
        )
    if not 1 <= splits <= len(probs):
        raise ValueError(
            f"splits must be between 1 and the number of images ({len(probs)}), got {splits}"
        )
    scores = []
    for chunk in np.array_split(probs, splits):
        marginal = chunk.mean(axis=0, keepdims=True)
        scores.append(np.exp(rel_entr(chunk, marginal).sum(axis=1).mean()))
    return float(np.mean(scores)), float(np.std(scores))


def inception_score_from_images(
    images, classifier, splits: int = 10, batch_size: int = 32
) -> tuple[float, float]:
    """Inception Score of [-1, 1] NHWC images under a Keras ImageNet classifier ending in a softmax
    (default :func:`load_is_classifier`); comparable within the kit only (docs/modules.md).
    """
    from keras import ops

    pixels = to_inception_input(images)
    height, width = classifier.input_shape[1:3]
    probs = []
    for start in range(0, len(pixels), batch_size):
        batch = pixels[start : start + batch_size]
        if height is not None and (height, width) != batch.shape[1:3]:
            batch = ops.convert_to_numpy(ops.image.resize(batch, (height, width)))
        probs.append(np.asarray(classifier.predict(batch / 127.5 - 1.0, verbose=0)))
    return inception_score(np.concatenate(probs), splits=splits)


def load_is_classifier(weights_path):
    """Keras ImageNet InceptionV3 (with its softmax head) from a local weights file."""
    if weights_path is None or not Path(weights_path).is_file():
        raise FileNotFoundError(
            f"no Inception Score weights at {weights_path}; download {KERAS_INCEPTION_WEIGHTS} "
            "from the keras-applications releases on a machine with internet and pass its path"
        )
    import keras

    return keras.applications.InceptionV3(weights=str(weights_path))


def knn_radii(features, k: int = 3, batch_size: int = 1024) -> np.ndarray:
    """Distance from each item to its k-th nearest neighbour in the same set (self excluded)."""
    features = np.asarray(features, dtype=np.float64)
    if not 1 <= k < len(features):
        raise ValueError(f"k must be between 1 and n - 1 = {len(features) - 1}, got {k}")
    radii = np.empty(len(features))
    for start, block in distance_blocks(features, features, batch_size=batch_size):
        # Column 0 of the sorted row is the item itself at distance 0.
        radii[start : start + len(block)] = np.partition(block, k, axis=1)[:, k]
    return radii


def manifold_coverage(queries, support, radii, batch_size: int = 1024) -> float:
    """Fraction of ``queries`` inside the union of balls around ``support`` with ``radii``."""
    inside = np.zeros(len(queries), dtype=bool)
    for start, block in distance_blocks(queries, support, batch_size=batch_size):
        inside[start : start + len(block)] = (block <= radii[None, :]).any(axis=1)
    return float(inside.mean())


def precision_recall(
    real, fake, k: int = 3, batch_size: int = 1024, dims: int = 2048, model=None
) -> dict[str, float]:
    """Improved precision (fake inside the real manifold) and recall (real inside the fake one)."""
    real_features = resolve_features(real, dims, model=model, name="real")
    fake_features = resolve_features(fake, dims, model=model, name="fake")
    return {
        "precision": manifold_coverage(
            fake_features, real_features, knn_radii(real_features, k, batch_size), batch_size
        ),
        "recall": manifold_coverage(
            real_features, fake_features, knn_radii(fake_features, k, batch_size), batch_size
        ),
    }
