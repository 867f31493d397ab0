"""Utility of synthetic images: train on synthetic, test on real (TSTR); docs/modules.md."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd
from sklearn.metrics import accuracy_score, roc_auc_score

from cxr_keras.metrics.classification import bootstrap_ci, predict_labels, prepare_predictions

FitPredict = Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]


def matched_subsets(
    synthetic_labels, real_labels, n_classes: int, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Indices into the synthetic and the real set with the same number of items per class.

    Per class, min(synthetic count, real count) items of each set are drawn without
    replacement, so neither training set has more images of a class than the other.
    """
    synthetic_labels, real_labels = np.asarray(synthetic_labels), np.asarray(real_labels)
    rng = np.random.default_rng(seed)
    synthetic_index, real_index = [], []
    for label in range(n_classes):
        in_synthetic = np.flatnonzero(synthetic_labels == label)
        in_real = np.flatnonzero(real_labels == label)
        count = min(len(in_synthetic), len(in_real))
        synthetic_index.append(rng.choice(in_synthetic, count, replace=False))
        real_index.append(rng.choice(in_real, count, replace=False))
    synthetic_index, real_index = np.concatenate(synthetic_index), np.concatenate(real_index)
    if len(np.unique(synthetic_labels[synthetic_index])) < 2:
        raise ValueError(
            "synthetic and real training sets share fewer than 2 classes; generate images of "
            "every class the real training set has"
        )
    return rng.permutation(synthetic_index), rng.permutation(real_index)


def synthetic_utility(
    fit_predict: FitPredict, synthetic: tuple[np.ndarray, np.ndarray],
    real_train: tuple[np.ndarray, np.ndarray], real_test: tuple[np.ndarray, np.ndarray],
    class_names: Sequence[str], n_boot: int = 1000, alpha: float = 0.05, seed: int = 0,
) -> pd.DataFrame:
    """Train-on-synthetic / test-on-real beside train-on-real, with bootstrap CIs.

    ``synthetic``, ``real_train``, ``real_test``: ``(images, labels)`` pairs; both training sets
    are cut to the same per-class counts. One row per ``trained_on`` and ``metric``: ``estimate``,
    ``ci_low``, ``ci_high``, ``n_train``, ``n_test``.
    """
    if not callable(fit_predict):
        raise TypeError("fit_predict must be a callable fit_predict(x_train, y_train, x_test)")
    class_names = [str(name) for name in class_names]
    (x_synthetic, y_synthetic), (x_real, y_real) = synthetic, real_train
    x_test, y_test = real_test
    for name, (x, y) in {
        "synthetic": synthetic, "real_train": real_train, "real_test": real_test,
    }.items():
        if len(x) != len(y):
            raise ValueError(f"{name} has {len(x)} images but {len(y)} labels")
    synthetic_index, real_index = matched_subsets(y_synthetic, y_real, len(class_names), seed)
    metrics = {"accuracy": lambda y, p: accuracy_score(y, predict_labels(p))}
    if len(class_names) == 2:
        metrics["roc_auc"] = lambda y, p: roc_auc_score(y, p[:, 1])
    rows = []
    for trained_on, x_train, y_train in (
        (
            "synthetic", np.asarray(x_synthetic)[synthetic_index],
            np.asarray(y_synthetic)[synthetic_index],
        ),
        ("real", np.asarray(x_real)[real_index], np.asarray(y_real)[real_index]),
    ):
        y_prob = fit_predict(x_train, y_train, np.asarray(x_test))
        labels, probabilities, _ = prepare_predictions(y_test, y_prob, class_names)
        for metric, metric_fn in metrics.items():
            interval = bootstrap_ci(
                metric_fn, labels, probabilities, n_boot, alpha, seed, strata=labels
            )
            rows.append(
                {
                    "trained_on": trained_on, "metric": metric, "estimate": interval["estimate"],
                    "ci_low": interval["low"], "ci_high": interval["high"], "n_train": len(y_train),
                    "n_test": len(labels),
                }
            )
    return pd.DataFrame(rows)
