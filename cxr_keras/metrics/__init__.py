"""Evaluation: FID, KID, IS, precision/recall, density/coverage, memorization audit, GAN health
verdicts, synthetic-image utility, classifier statistics, plots.

Names are imported from their submodules on first use, so ``import cxr_keras.metrics`` is
cheap and never loads TensorFlow; only the Inception helpers and
``inception_score_from_images`` / ``load_is_classifier`` do when called.
"""

from __future__ import annotations

import importlib

_EXPORTS = {
    "conversions": ("to_rgb", "to_uint8_range", "to_inception_input"),
    "frechet": (
        "RankDeficientCovarianceWarning",
        "feature_statistics",
        "frechet_distance",
        "fid_from_features",
        "fid",
        "resolve_features",
    ),
    "generative": (
        "polynomial_mmd2_unbiased",
        "kernel_inception_distance",
        "inception_score",
        "inception_score_from_images",
        "load_is_classifier",
        "knn_radii",
        "manifold_coverage",
        "precision_recall",
        "fid_vs_sample_size",
        "extrapolate_to_infinity",
        "fid_infinity",
    ),
    "memorization": (
        "distance_blocks",
        "nearest_neighbours",
        "memorization_audit",
        "real_to_real_distances",
        "memorization_summary",
        "plot_closest_pairs",
    ),
    "classification": (
        "prepare_predictions",
        "predict_labels",
        "classification_report_frame",
        "confusion_matrix_frame",
        "bootstrap_distribution",
        "bootstrap_ci",
        "report_with_ci",
        "calibration_error",
        "calibration_table",
        "summarize_runs",
    ),
    "plots": (
        "plot_image_grid",
        "plot_roc_curves",
        "plot_confusion_matrix",
        "plot_reliability_diagram",
        "plot_gan_history",
    ),
    "diversity": (
        "spread",
        "diversity_ratio",
        "nearest_distance_ratio",
        "density_coverage",
    ),
    "health": (
        "GANSamples",
        "gan_health",
        "gan_health_row",
        "compare_sets",
        "reference_points",
        "collapsed_images",
        "memorization_ratio",
        "embed",
        "inception_embedder",
        "classifier_embedder",
        "pixel_embedder",
        "remembering",
        "penultimate_features",
    ),
    "verdict": ("gan_verdict", "training_signals"),
    "utility": ("synthetic_utility", "matched_subsets"),
    "paired": ("paired_difference", "detectable_difference", "bonferroni", "cluster_codes"),
    "inception": ("FIDInceptionV3", "load_fid_inception", "default_weights_path"),
    "features": ("extract_features", "cached_features", "cache_key"),
}
_MODULE_OF = {name: module for module, names in _EXPORTS.items() for name in names}

__all__ = list(_MODULE_OF)


def __getattr__(name: str):
    if name not in _MODULE_OF:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{_MODULE_OF[name]}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
