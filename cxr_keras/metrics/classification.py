"""Classifier metrics as the four papers report them, with bootstrap confidence intervals. Details:
docs/modules.md."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd
from sklearn.metrics import (
    accuracy_score,
    confusion_matrix,
    multilabel_confusion_matrix,
    precision_recall_fscore_support,
    roc_auc_score,
)

OVERALL = "all"


def prepare_predictions(
    y_true, y_prob, class_names: Sequence[str]
) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Validate inputs; return integer labels, an (n, C) probability matrix and the names."""
    class_names = [str(name) for name in class_names]
    y_true = np.asarray(y_true)
    y_prob = np.asarray(y_prob, dtype=np.float64)
    if y_prob.ndim == 1:
        if len(class_names) != 2:
            raise ValueError(
                f"a 1-d y_prob is read as P(class 1) of a binary task, but {len(class_names)} "
                "class names were given; pass an (n, C) probability array"
            )
        y_prob = np.column_stack([1.0 - y_prob, y_prob])
    if y_prob.ndim != 2 or y_prob.shape[1] != len(class_names):
        raise ValueError(
            f"y_prob must be (n, {len(class_names)}) for class names {class_names}, "
            f"got shape {y_prob.shape}"
        )
    if y_true.ndim != 1 or len(y_true) != len(y_prob):
        raise ValueError(
            f"y_true must be 1-d with one label per row of y_prob ({len(y_prob)}), "
            f"got shape {y_true.shape}"
        )
    if len(y_true) == 0:
        raise ValueError("no predictions to evaluate")
    if (
        not np.issubdtype(y_true.dtype, np.integer)
        or y_true.min() < 0
        or y_true.max() >= len(class_names)
    ):
        raise ValueError(
            f"y_true must hold integer labels in [0, {len(class_names)}); map class names to "
            "their index in class_names first"
        )
    return y_true.astype(int), y_prob, class_names


def predict_labels(y_prob: np.ndarray, threshold: float = 0.5) -> np.ndarray:
    """Decisions from (n, C) probabilities: P(class 1) >= threshold if binary, else argmax."""
    if y_prob.shape[1] == 2:
        return (y_prob[:, 1] >= threshold).astype(int)
    return y_prob.argmax(axis=1)


def classification_report_frame(
    y_true, y_prob, class_names: Sequence[str], threshold: float = 0.5
) -> pd.DataFrame:
    """Tidy frame of accuracy, precision, recall, F1, specificity, ROC AUC, FPR/TPR and counts."""
    y_true, y_prob, class_names = prepare_predictions(y_true, y_prob, class_names)
    labels = np.arange(len(class_names))
    y_pred = predict_labels(y_prob, threshold)
    precision, recall, f1, support = precision_recall_fscore_support(
        y_true, y_pred, labels=labels, zero_division=0
    )
    tn, fp, fn, tp = multilabel_confusion_matrix(y_true, y_pred, labels=labels).reshape(-1, 4).T
    specificity = _ratio(tn, tn + fp)
    auc = np.array([_binary_auc(y_true == label, y_prob[:, label]) for label in labels])
    per_class = {
        "support": support, "tp": tp, "fp": fp, "fn": fn, "tn": tn, "precision": precision,
        "recall": recall, "f1": f1, "specificity": specificity,
        "accuracy_ovr": (tp + tn) / len(y_true), "roc_auc": auc, "fpr": 1.0 - specificity,
        "tpr": recall,
    }
    binary = len(class_names) == 2
    overall = {
        "accuracy": accuracy_score(y_true, y_pred), "precision_macro": precision.mean(),
        "recall_macro": recall.mean(), "f1_macro": f1.mean(),
        "specificity_macro": _nanmean(specificity), "roc_auc": auc[1] if binary else _nanmean(auc),
        "fpr": per_class["fpr"][1] if binary else _nanmean(per_class["fpr"]),
        "tpr": recall[1] if binary else recall.mean(), "support": len(y_true),
    }
    rows = [(OVERALL, metric, float(value)) for metric, value in overall.items()]
    rows += [
        (name, metric, float(values[index]))
        for metric, values in per_class.items()
        for index, name in enumerate(class_names)
    ]
    return pd.DataFrame(rows, columns=["class", "metric", "value"])


def confusion_matrix_frame(
    y_true, y_prob, class_names: Sequence[str], threshold: float = 0.5
) -> pd.DataFrame:
    """Confusion matrix counts: rows are true classes, columns predicted classes."""
    y_true, y_prob, class_names = prepare_predictions(y_true, y_prob, class_names)
    matrix = confusion_matrix(
        y_true, predict_labels(y_prob, threshold), labels=np.arange(len(class_names))
    )
    return pd.DataFrame(
        matrix, index=pd.Index(class_names, name="true"),
        columns=pd.Index(class_names, name="predicted"),
    )


def bootstrap_distribution(
    metric_fn: Callable, y_true, y_prob, n_boot: int = 1000, seed: int = 0, groups=None,
    strata=None,
) -> np.ndarray:
    """``metric_fn(y_true, y_prob)`` on ``n_boot`` resamples (NaN where it raises ValueError).

    ``groups`` (e.g. patient ids): whole groups are resampled; ``strata`` (e.g. true labels):
    each stratum is resampled on its own, keeping its number of units.
    """
    y_true, y_prob = np.asarray(y_true), np.asarray(y_prob)
    if len(y_true) != len(y_prob):
        raise ValueError(f"y_true and y_prob differ in length: {len(y_true)} vs {len(y_prob)}")
    if n_boot < 1:
        raise ValueError(f"n_boot must be positive, got {n_boot}")
    if strata is not None:
        strata = _one_per_prediction(strata, len(y_true), "strata", "value")
        if groups is not None:  # units: (stratum, group) pairs
            groups = _codes(_one_per_prediction(groups, len(y_true), "groups", "id")) * len(strata) + _codes(strata)
    members = _group_members(len(y_true), groups)
    pools = _strata_pools(strata, members)
    units = len(y_true) if members is None else len(members)
    rng = np.random.default_rng(seed)
    replicates = []
    for _ in range(n_boot):
        if pools is not None:
            chosen = np.concatenate([rng.choice(pool, size=len(pool)) for pool in pools])
        else:
            chosen = rng.integers(units, size=units)
        index = chosen if members is None else np.concatenate([members[g] for g in chosen])
        try:
            replicates.append(np.asarray(metric_fn(y_true[index], y_prob[index]), dtype=np.float64))
        except ValueError:
            replicates.append(None)
    shapes = {r.shape for r in replicates if r is not None}
    if len(shapes) > 1:
        raise ValueError(f"metric_fn returned results of different shapes {sorted(shapes)}")
    shape = shapes.pop() if shapes else ()
    return np.array([np.full(shape, np.nan) if r is None else r for r in replicates])


def bootstrap_ci(
    metric_fn: Callable, y_true, y_prob, n_boot: int = 1000, alpha: float = 0.05, seed: int = 0,
    groups=None, strata=None,
) -> dict:
    """Percentile bootstrap CI of a scalar metric: estimate, low, high and the replicate counts
    (``groups`` and ``strata`` as in :func:`bootstrap_distribution`)."""
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be in (0, 1), got {alpha}")
    replicates = bootstrap_distribution(metric_fn, y_true, y_prob, n_boot, seed, groups, strata)
    if replicates.ndim != 1:
        raise ValueError(
            "metric_fn must return a single number; use bootstrap_distribution for vectors"
        )
    valid = replicates[np.isfinite(replicates)]
    if len(valid) == 0:
        raise ValueError(
            "the metric failed on every bootstrap resample; check it on the full data first"
        )
    low, high = np.percentile(valid, [100 * alpha / 2, 100 * (1 - alpha / 2)])
    return {
        "estimate": float(metric_fn(np.asarray(y_true), np.asarray(y_prob))), "low": float(low),
        "high": float(high), "alpha": alpha, "n_boot": n_boot, "n_valid": len(valid),
    }


def report_with_ci(
    y_true, y_prob, class_names: Sequence[str], threshold: float = 0.5, patient_ids=None,
    n_boot: int = 200, alpha: float = 0.05, seed: int = 0,
) -> pd.DataFrame:
    """The report plus percentile bootstrap CI columns ``ci_low`` and ``ci_high``.

    Resamples patients when ``patient_ids`` are given, images otherwise.
    """
    report = classification_report_frame(y_true, y_prob, class_names, threshold)

    def values(labels, probs):
        return classification_report_frame(labels, probs, class_names, threshold)[
            "value"
        ].to_numpy()

    replicates = bootstrap_distribution(values, y_true, y_prob, n_boot, seed, patient_ids)
    report["ci_low"] = np.nanpercentile(replicates, 100 * alpha / 2, axis=0)
    report["ci_high"] = np.nanpercentile(replicates, 100 * (1 - alpha / 2), axis=0)
    return report


def _binary_auc(is_positive: np.ndarray, score: np.ndarray) -> float:
    if is_positive.all() or not is_positive.any():
        return np.nan  # undefined without both outcomes, e.g. in a bootstrap resample
    return roc_auc_score(is_positive, score)


def _ratio(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    """Elementwise ratio, NaN where the denominator is 0 (e.g. specificity without negatives)."""
    out = np.full(len(numerator), np.nan)
    return np.divide(numerator, denominator, out=out, where=denominator > 0)


def _nanmean(values: np.ndarray) -> float:
    return float(np.nanmean(values)) if np.isfinite(values).any() else np.nan


def _one_per_prediction(values, n: int, name: str, what: str) -> np.ndarray:
    values = np.asarray(values)
    if values.shape != (n,):
        raise ValueError(f"{name} must hold one {what} per prediction ({n}), got shape {values.shape}")
    return values


def _group_members(n: int, groups) -> list[np.ndarray] | None:
    if groups is None:
        return None
    groups = _one_per_prediction(groups, n, "groups", "id")
    _, inverse = np.unique(groups, return_inverse=True)
    order = np.argsort(inverse, kind="stable")
    return np.split(order, np.cumsum(np.bincount(inverse))[:-1])


def _codes(values: np.ndarray) -> np.ndarray:
    return np.unique(values, return_inverse=True)[1].reshape(-1)


def _strata_pools(strata, members: list[np.ndarray] | None) -> list[np.ndarray] | None:
    """The units (images, or groups when ``members`` is given) of each stratum, or None.
    Each group lies in one stratum."""
    if strata is None:
        return None
    codes = _codes(strata)
    if members is not None:
        codes = np.array([codes[m[0]] for m in members])
    return [np.flatnonzero(codes == code) for code in np.unique(codes)]
