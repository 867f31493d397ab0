"""Frechet Inception Distance (Heusel et al. 2017), following pytorch-fid's numerics. Details:
docs/modules.md."""

from __future__ import annotations

import warnings

import numpy as np
from scipy import linalg

FID_DIMS = (2048, 768)


class RankDeficientCovarianceWarning(UserWarning):
    """Fewer samples than feature dimensions: the covariance estimate is singular."""


def feature_statistics(features, strict: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Return the mean vector and covariance matrix of an (n, d) feature array."""
    features = _as_feature_matrix(features, "features")
    _check_sample_count(features, strict)
    return features.mean(axis=0), np.cov(features, rowvar=False)


def _check_sample_count(features: np.ndarray, strict: bool) -> None:
    """Refuse fewer than 2 feature vectors; warn (``strict``: refuse) for ``n <= d``."""
    n, dim = features.shape
    if n < 2:
        raise ValueError(
            f"FID statistics need at least 2 feature vectors, got {n}; pass more images"
        )
    if n <= dim:
        advice = f"at least {dim + 1} images" + (" or dims=768" if dim > 768 else "")
        message = (
            f"FID with {dim}-d features from {n} images: the covariance is rank-deficient; "
            f"use {advice}"
        )
        if strict:
            raise ValueError(message)
        warnings.warn(message, RankDeficientCovarianceWarning, stacklevel=3)


def frechet_distance(
    mu1, sigma1, mu2, sigma2, eps: float = 1e-6, imag_tol: float = 1e-3, method: str = "eigh"
) -> float:
    """Frechet distance between N(mu1, sigma1) and N(mu2, sigma2).

    ``method``: ``"eigh"`` (default; the eigenvalues of ``S1^(1/2) S2 S1^(1/2)``, same value) or
    ``"sqrtm"`` (pytorch-fid's numerics, ``eps``); a square root with an imaginary part above
    ``imag_tol`` is refused. Speed and agreement: docs/modules.md.
    """
    mu1, mu2 = np.atleast_1d(mu1).astype(np.float64), np.atleast_1d(mu2).astype(np.float64)
    sigma1, sigma2 = (
        np.atleast_2d(sigma1).astype(np.float64), np.atleast_2d(sigma2).astype(np.float64),
    )
    dim = mu1.shape[0]
    if mu1.shape != (dim,) or mu2.shape != (dim,):
        raise ValueError(
            f"means must be vectors of the same length, got {mu1.shape} and {mu2.shape}"
        )
    if sigma1.shape != (dim, dim) or sigma2.shape != (dim, dim):
        raise ValueError(
            f"covariances must be {dim}x{dim} to match the means, "
            f"got {sigma1.shape} and {sigma2.shape}"
        )
    if method == "eigh":
        trace_covmean = _trace_sqrt_product_eigh(sigma1, sigma2, imag_tol)
    elif method == "sqrtm":
        trace_covmean = _trace_sqrt_product_sqrtm(sigma1, sigma2, eps, imag_tol)
    else:
        raise ValueError(f"method must be 'eigh' or 'sqrtm', got {method!r}")
    diff = mu1 - mu2
    return float(diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2.0 * trace_covmean)


def _trace_sqrt_product_eigh(sigma1, sigma2, imag_tol: float) -> float:
    values, vectors = linalg.eigh(sigma1)
    _check_real_root(values, imag_tol)
    root1 = (vectors * np.sqrt(np.clip(values, 0.0, None))) @ vectors.T
    spectrum = linalg.eigvalsh(root1 @ sigma2 @ root1)
    _check_real_root(spectrum, imag_tol)
    return float(np.sqrt(np.clip(spectrum, 0.0, None)).sum())


def _trace_sqrt_product_sqrtm(sigma1, sigma2, eps: float, imag_tol: float) -> float:
    covmean = linalg.sqrtm(sigma1 @ sigma2)
    if not np.isfinite(covmean).all():
        offset = np.eye(len(sigma1)) * eps
        covmean = linalg.sqrtm((sigma1 + offset) @ (sigma2 + offset))
    if np.iscomplexobj(covmean):
        _refuse_imaginary(np.max(np.abs(np.diagonal(covmean).imag)), imag_tol)
        covmean = covmean.real
    return float(np.trace(covmean))


def _check_real_root(eigenvalues, imag_tol: float) -> None:
    """Refuse eigenvalues so negative that their square roots are clearly imaginary."""
    most_negative = min(float(np.min(eigenvalues)), 0.0)
    _refuse_imaginary(np.sqrt(-most_negative), imag_tol)


def _refuse_imaginary(largest_imag: float, imag_tol: float) -> None:
    if largest_imag > imag_tol:
        raise ValueError(
            f"the matrix square root has an imaginary component of {largest_imag:.3g} "
            f"(tolerance {imag_tol}); the covariances are not positive semi-definite. "
            "Check the features for NaNs or use more samples"
        )


def fid_from_features(real_features, fake_features, strict: bool = False) -> float:
    """FID between two (n, d) feature arrays."""
    real_features = _as_feature_matrix(real_features, "real_features")
    fake_features = _as_feature_matrix(fake_features, "fake_features")
    if real_features.shape[1] != fake_features.shape[1]:
        raise ValueError(
            f"real and fake features differ in dimension: {real_features.shape[1]} vs "
            f"{fake_features.shape[1]}; extract both with the same dims"
        )
    if max(len(real_features), len(fake_features)) < real_features.shape[1]:
        _check_sample_count(real_features, strict)
        _check_sample_count(fake_features, strict)
        return _frechet_distance_of_few(real_features, fake_features)
    mu1, sigma1 = feature_statistics(real_features, strict=strict)
    mu2, sigma2 = feature_statistics(fake_features, strict=strict)
    return frechet_distance(mu1, sigma1, mu2, sigma2)


def _frechet_distance_of_few(real_features: np.ndarray, fake_features: np.ndarray) -> float:
    """The same distance as :func:`frechet_distance` of the two sets' statistics, for sets
    smaller than the feature dimension, from the (n1, n2) cross products instead of two d x d
    covariances: with centred features ``A`` (n1, d) and ``B`` (n2, d), ``S1 S2`` has the
    nonzero eigenvalues of ``M M^T`` for ``M = A B^T / sqrt((n1 - 1)(n2 - 1))``, so
    ``tr((S1 S2)^(1/2))`` is the sum of ``M``'s singular values (exact, no d x d matrix)."""
    a = real_features.astype(np.float64)
    b = fake_features.astype(np.float64)
    diff = a.mean(axis=0) - b.mean(axis=0)
    a = a - a.mean(axis=0)
    b = b - b.mean(axis=0)
    scale1, scale2 = len(a) - 1.0, len(b) - 1.0
    cross = (a @ b.T) / np.sqrt(scale1 * scale2)
    trace_covmean = linalg.svdvals(cross).sum()
    return float(diff @ diff + (a * a).sum() / scale1 + (b * b).sum() / scale2 - 2.0 * trace_covmean)


def fid(
    real, fake, dims: int = 2048, model=None, batch_size: int = 32, strict: bool = False,
    progress: bool = False, allow_nonnegative: bool = False,
) -> float:
    """FID between two image sets ([-1, 1] NHWC) or two precomputed (n, d) feature arrays.

    ``dims`` picks the Inception layer for images: 2048 (pool3, the standard) or 768
    (Mixed_6e, for sets smaller than 2,049 images). Images with NaN or infinite values, or
    float images all in [0, 1] (unless ``allow_nonnegative``), raise a ValueError naming
    ``real`` or ``fake``.
    """
    real_features = resolve_features(real, dims, model=model, batch_size=batch_size,
                                     progress=progress, name="real",
                                     allow_nonnegative=allow_nonnegative)
    fake_features = resolve_features(fake, dims, model=model, batch_size=batch_size,
                                     progress=progress, name="fake",
                                     allow_nonnegative=allow_nonnegative)
    return fid_from_features(real_features, fake_features, strict=strict)


def resolve_features(
    data, dims: int = 2048, model=None, batch_size: int = 32, progress: bool = False,
    name: str = "images", allow_nonnegative: bool = False,
) -> np.ndarray:
    """Return ``data`` if it is an (n, d) feature array, else Inception features of NHWC images
    (checked by :func:`~cxr_keras.metrics.features.extract_features`, naming ``name``)."""
    data = np.asarray(data)
    if data.ndim == 2:
        return data
    if data.ndim != 4:
        raise ValueError(
            f"expected {name} as NHWC images (4 dimensions) or an (n, d) feature array, "
            f"got shape {data.shape}"
        )
    if dims not in FID_DIMS:
        raise ValueError(f"dims must be one of {FID_DIMS}, got {dims}")
    from cxr_keras.metrics.features import (
        extract_features,  # loads TensorFlow: only when images are given
    )

    return extract_features(
        data, model=model, dims=(dims,), batch_size=batch_size, progress=progress, name=name,
        allow_nonnegative=allow_nonnegative,
    )[dims]


def _as_feature_matrix(features, name: str) -> np.ndarray:
    features = np.asarray(features, dtype=np.float64)
    if features.ndim != 2:
        raise ValueError(
            f"{name} must be an (n, d) array of feature vectors, got shape {features.shape}"
        )
    if not np.isfinite(features).all():
        raise ValueError(
            f"{name} contains NaN or infinite values; check the feature extractor's input"
        )
    return features
