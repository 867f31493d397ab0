"""Evaluation: FID, KID, IS, precision/recall, density/coverage, memorization audit, synthetic-image
utility, classifier statistics, plots (GAN health: :mod:`cxr_keras.health`). Details:
docs/modules.md.
"""

from __future__ import annotations

import importlib

_EXPORTS = {
    "frechet": ("RankDeficientCovarianceWarning", "fid_from_features", "resolve_features"),
    "generative": (
        "kernel_inception_distance", "inception_score_from_images", "load_is_classifier",
    ),
    "classification": (
        "classification_report_frame", "confusion_matrix_frame", "bootstrap_distribution",
        "report_with_ci",
    ),
    "plots": ("plot_image_grid", "plot_roc_curves", "plot_confusion_matrix"),
    "diversity": ("diversity_ratio", "nearest_distance_ratio"),
    "utility": ("synthetic_utility",),
    "paired": ("paired_difference", "detectable_difference", "bonferroni", "cluster_codes"),
    "features": ("extract_features",),
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
