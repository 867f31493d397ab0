"""Train and evaluate classifiers on differently augmented training sets, beside the paper.

The comparison of Kora Venu & Ravula (2021) Table 1 trains one classifier per augmentation
(flip, crop, clip, brightness, contrast, GAN class balancing) with the same seed, epochs and
batch size, and evaluates each on the same test images. :func:`compare_augmentations` does
that and returns one row per method: the paper's numbers beside ours with bootstrap 95%
confidence intervals.
"""

from __future__ import annotations

import copy
import math
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import keras
import numpy as np
import pandas as pd
import tensorflow as tf

from cxr_keras.augment import augment_dataset, gan_balance, get_augmentation
from cxr_keras.io import write_csv
from cxr_keras.metrics.classification import confusion_matrix_frame, report_with_ci

GAN_METHOD = "gan"
TABLE_METRICS = ("accuracy", "precision", "recall", "f1", "roc_auc", "fpr", "tpr")
# Metrics the papers print in percent; the others (FPR, TPR) are printed as fractions.
PERCENT_METRICS = ("accuracy", "precision", "recall", "f1", "roc_auc")

# Kora Venu & Ravula (2021) Table 1, as printed (percent except FPR and TPR).
PAPER_TABLES = {
    "kora_venu_2021": pd.DataFrame.from_dict(
        {
            "flip": [94.9, 96.39, 96.6, 96.5, 93.4, 0.09, 0.97],
            "crop": [94.71, 95.31, 97.54, 96.42, 92.31, 0.13, 0.98],
            "clip": [94.11, 95.17, 96.84, 96.0, 91.8, 0.13, 0.97],
            "brightness": [92.91, 94.37, 96.02, 95.18, 90.28, 0.16, 0.96],
            "contrast": [92.58, 97.41, 92.29, 94.77, 92.83, 0.07, 0.92],
            GAN_METHOD: [95.5, 96.2, 97.7, 97.0, 93.6, 0.1, 0.98],
        },
        orient="index",
        columns=list(TABLE_METRICS),
    ),
}


# The paper's GAN run: 500 epochs on the 1,341 Normal training images at batch 64, 128 px.
PAPER_GAN_RUN = {"epochs": 500, "images": 1341, "batch_size": 64}


def kermany_caveats(dataset, gan_epochs: int, gan_batch_size: int, real_normal: np.ndarray,
                    generated: np.ndarray, n_added: int, comparison: pd.DataFrame) -> pd.DataFrame:
    """Why this run's numbers may differ from Kora Venu & Ravula's, measured on this run.

    ``dataset`` is the run's CXRDataset (train and test splits with patient ids);
    ``real_normal`` the GAN's training images and ``generated`` a sample of its images;
    ``n_added`` how many generated images the GAN-balanced set gained; ``comparison`` is
    :func:`compare_augmentations` output. Returns rows of (factor, note).
    """
    from cxr_keras.reproductions.per_class_gan import sample_quality_note

    def steps(epochs, images, batch):
        return int(epochs) * math.ceil(int(images) / int(batch))

    paper_steps = steps(*PAPER_GAN_RUN.values())
    frame = dataset.frame
    patients = {split: set(frame.loc[frame["split"] == split, "patient_id"]) for split in ("train", "test")}
    shared = len(patients["train"] & patients["test"])
    n_test = int((frame["split"] == "test").sum())
    rows = [
        ("GAN training", (f"{steps(gan_epochs, len(real_normal), gan_batch_size)} optimizer steps on "
         f"{len(real_normal)} images (the paper: {paper_steps:,} steps on {PAPER_GAN_RUN['images']:,})")),
        ("generated samples", sample_quality_note({"Normal": generated}, {"Normal": real_normal})),
    ]
    if n_added:
        n_normal = len(real_normal)
        rows.append(("GAN-balanced set", (f"{n_added} generated Normal images join {n_normal} real "
                     f"ones ({n_added / (n_added + n_normal):.0%} of its Normal class)")))
    by_method = comparison.set_index("method")
    widths = (by_method["accuracy_ci_high"] - by_method["accuracy_ci_low"]) * 100
    rows.append(("test set", (f"{n_test} test images; 95% CI widths of accuracy from {widths.min():.0f} "
                 f"to {widths.max():.0f} points; patients in both the training and the test split: "
                 f"{shared} (the official split the paper used has such patients too), which can "
                 "flatter every method alike")))
    return pd.DataFrame(rows, columns=["factor", "note"])


def cap_per_class(dataset, max_per_class: int | None, seed: int = 0):
    """A copy of a CXRDataset keeping at most ``max_per_class`` images per (split, class).

    The images kept are a seeded random sample, so a reduced-scale run is reproducible;
    ``None`` returns the dataset unchanged.
    """
    if max_per_class is None:
        return dataset
    if int(max_per_class) < 1:
        raise ValueError(f"max_per_class must be a positive integer or None, got {max_per_class!r}")
    frame = dataset.frame
    kept = [
        rows.sample(min(len(rows), int(max_per_class)), random_state=seed).index
        for _, rows in frame.groupby(["split", "label"], sort=False)
    ]
    capped = copy.copy(dataset)
    capped.frame = frame.loc[sorted(np.concatenate(kept))].reset_index(drop=True)
    return capped


def stratified_subsample(dataset, max_per_split: int | None, seed: int = 0):
    """A copy of a CXRDataset keeping at most about ``max_per_split`` images of each split.

    Each class keeps its share of the split (rounded, at least one image), so the class
    imbalance that GAN balancing is about survives a reduced-scale run. ``None`` returns the
    dataset unchanged.
    """
    if max_per_split is None:
        return dataset
    if int(max_per_split) < 1:
        raise ValueError(f"max_per_split must be a positive integer or None, got {max_per_split!r}")
    frame = dataset.frame
    kept = []
    for _, split_rows in frame.groupby("split", sort=False):
        share = min(1.0, int(max_per_split) / len(split_rows))
        for _, rows in split_rows.groupby("label", sort=False):
            keep = max(1, round(share * len(rows)))
            kept.append(rows.sample(keep, random_state=seed).index)
    subsample = copy.copy(dataset)
    subsample.frame = frame.loc[sorted(np.concatenate(kept))].reset_index(drop=True)
    return subsample


def make_optimizer(optimizer: str | Callable[[], keras.optimizers.Optimizer], learning_rate: float):
    """A fresh optimizer: from a name ("adam", "sgd", ...) and learning rate, or a factory."""
    if callable(optimizer):
        return optimizer()
    return keras.optimizers.get({"class_name": optimizer, "config": {"learning_rate": learning_rate}})


def training_dataset(
    x: np.ndarray, y: np.ndarray, batch_size: int, seed: int, augmentation: str | None = None,
) -> tf.data.Dataset:
    """An endless stream of shuffled, optionally augmented batches, reproducible from ``seed``.

    Endless so that ``fit(steps_per_epoch=ceil(n / batch_size))`` never runs out of data when
    ``n`` is not a multiple of the batch size (batches then straddle epoch boundaries).
    """
    dataset = tf.data.Dataset.from_tensor_slices((x.astype(np.float32), y.astype(np.int32)))
    dataset = dataset.shuffle(len(x), seed=seed, reshuffle_each_iteration=True).repeat()
    if augmentation is not None:
        dataset = augment_dataset(dataset, augmentation, seed)
    return dataset.batch(batch_size).prefetch(tf.data.AUTOTUNE)


def train_classifier(
    model_fn: Callable[[], keras.Model],
    train: tuple[np.ndarray, np.ndarray],
    val: tuple[np.ndarray, np.ndarray] | None = None,
    epochs: int = 10,
    batch_size: int = 32,
    seed: int = 0,
    augmentation: str | None = None,
    optimizer: str | Callable[[], keras.optimizers.Optimizer] = "adam",
    learning_rate: float = 1e-3,
    class_weight: dict[int, float] | None = None,
    callbacks: Sequence[keras.callbacks.Callback] = (),
    verbose: int = 0,
    progress: str | None = None,
) -> tuple[keras.Model, pd.DataFrame]:
    """Build ``model_fn()`` (softmax output) and fit it on ``train``; return it and its history.

    Weights, shuffling and augmentation draws all follow ``seed``, so two calls that differ
    only in ``augmentation`` see the same initial weights and image order. With
    ``verbose=0``, a ``progress`` description shows a progress bar over epochs on stderr.
    """
    x, y = _check_xy(train, "train")
    if val is not None:
        val = _check_xy(val, "val")
    if augmentation is not None:
        get_augmentation(augmentation)
    if epochs < 1 or batch_size < 1:
        raise ValueError(f"epochs and batch_size must be positive, got {epochs} and {batch_size}")
    keras.utils.set_random_seed(seed)
    model = model_fn()
    model.compile(
        optimizer=make_optimizer(optimizer, learning_rate),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    history = model.fit(
        training_dataset(x, y, batch_size, seed, augmentation),
        steps_per_epoch=math.ceil(len(x) / batch_size),
        epochs=epochs,
        shuffle=False,  # the dataset is already shuffled from `seed`
        validation_data=val,
        class_weight=class_weight,
        callbacks=[*callbacks, *_progress_bar(progress, verbose)],
        verbose=verbose,
    )
    frame = pd.DataFrame(history.history)
    frame.insert(0, "epoch", np.arange(1, len(frame) + 1))
    return model, frame


def _progress_bar(description: str | None, verbose: int) -> list[keras.callbacks.Callback]:
    from cxr_keras.gan import EpochProgress

    if description is None or verbose:
        return []
    return [EpochProgress(description, monitor=("loss", "accuracy", "val_accuracy", BALANCED_ACCURACY))]


BALANCED_ACCURACY = "val_balanced_accuracy"


class ValidationBalancedAccuracy(keras.callbacks.Callback):
    """Logs ``val_balanced_accuracy`` after each epoch: the mean recall over the classes the
    validation images have, i.e. the accuracy a class-balanced validation set would give.

    On an imbalanced validation split, plain accuracy rewards naming the largest class for
    every image; place this callback before an ``EarlyStopping(BALANCED_ACCURACY, mode="max")``
    so that model selection sees the balanced figure (callbacks share one ``logs`` dict).
    """

    def __init__(self, x_val: np.ndarray, y_val: np.ndarray, batch_size: int = 256):
        super().__init__()
        self.x_val, self.y_val = _check_xy((x_val, y_val), "val")
        self.batch_size = int(batch_size)

    def on_epoch_end(self, epoch, logs=None):
        predicted = self.model.predict(self.x_val, batch_size=self.batch_size, verbose=0).argmax(axis=1)
        recalls = [np.mean(predicted[self.y_val == k] == k) for k in np.unique(self.y_val)]
        if logs is not None:
            logs[BALANCED_ACCURACY] = float(np.mean(recalls))


def evaluate_classifier(
    model: keras.Model,
    x: np.ndarray,
    y: np.ndarray,
    class_names: Sequence[str],
    patient_ids: Sequence | None = None,
    n_boot: int = 200,
    seed: int = 0,
    batch_size: int = 64,
) -> dict[str, Any]:
    """Predict ``x`` and report: probabilities, predictions, metrics with CIs, confusion matrix.

    The ``report`` frame is :func:`cxr_keras.metrics.classification.report_with_ci` (columns
    class, metric, value, ci_low, ci_high); the bootstrap resamples patients when
    ``patient_ids`` are given.
    """
    x, y = _check_xy((x, y), "test")
    probabilities = model.predict(x, batch_size=batch_size, verbose=0)
    return _evaluation(y, probabilities, class_names, patient_ids, n_boot, seed)


def compare_augmentations(
    methods: Sequence[str],
    model_fn: Callable[[], keras.Model],
    train: tuple[np.ndarray, np.ndarray],
    test: tuple[np.ndarray, np.ndarray],
    class_names: Sequence[str],
    generated: np.ndarray | None = None,
    target_class: int = 0,
    positive_class: int = 1,
    out_dir: str | os.PathLike | None = None,
    patient_ids: Sequence | None = None,
    paper: str = "kora_venu_2021",
    n_boot: int = 200,
    seed: int = 0,
    **train_kwargs,
) -> pd.DataFrame:
    """Train one classifier per method with the same seed and budget; one row per method.

    ``methods`` are names in :data:`cxr_keras.augment.AUGMENTATIONS` or ``"gan"`` (the
    training set balanced with ``generated`` images of ``target_class``, see
    :func:`cxr_keras.augment.gan_balance`). ``train_kwargs`` go to :func:`train_classifier`.
    With ``out_dir``, each method's test predictions and history are written to
    ``out_dir/<method>/`` and a method whose ``predictions.csv`` exists is not retrained.

    Columns: method, n_train, then per metric in TABLE_METRICS ours as a fraction with
    ``_ci_low`` / ``_ci_high`` and the paper's as ``paper_<metric>`` (a fraction; NaN where
    the paper has no such row). Precision, recall and F1 are those of ``positive_class``.
    """
    if not methods:
        raise ValueError("no methods to compare")
    for method in methods:
        if method != GAN_METHOD:
            get_augmentation(method)
    if GAN_METHOD in methods and generated is None:
        raise ValueError("method 'gan' needs generated images: pass generated=")
    rows = []
    for method in methods:
        predictions = _method_predictions(
            method, model_fn, train, test, class_names, generated, target_class, out_dir,
            seed, train_kwargs,
        )
        y_true = predictions["y_true"].to_numpy()
        probabilities = predictions.filter(like="prob_").to_numpy()
        report = _evaluation(y_true, probabilities, class_names, patient_ids, n_boot, seed)["report"]
        rows.append({"method": method, "n_train": _training_size(method, train, target_class),
                     **_table_metrics(report, class_names[positive_class])})
    ours = pd.DataFrame(rows)
    return ours.join(paper_row_fractions(paper, ours["method"]))


def paper_row_fractions(paper: str, methods: Sequence[str]) -> pd.DataFrame:
    """The paper's Table rows for ``methods`` as fractions, columns ``paper_<metric>``."""
    if paper not in PAPER_TABLES:
        raise ValueError(f"unknown paper table {paper!r}; known: {sorted(PAPER_TABLES)}")
    table = PAPER_TABLES[paper].reindex(list(methods)).copy()
    for metric in PERCENT_METRICS:
        table[metric] = table[metric] / 100.0
    return table.add_prefix("paper_").reset_index(drop=True)


def paper_vs_ours_table(comparison: pd.DataFrame, digits: int = 1) -> pd.DataFrame:
    """Format :func:`compare_augmentations` output in the paper's units, paper beside ours.

    Percent metrics read ``"94.9 | 81.2 [77.0, 85.1]"`` (paper | ours [95% CI]); FPR and
    TPR are fractions with two decimals; "-" marks a method the paper did not report.
    """
    table = {}
    for metric in TABLE_METRICS:
        scale, places = (100.0, digits) if metric in PERCENT_METRICS else (1.0, 2)
        table[metric] = [
            f"{_number(row[f'paper_{metric}'], scale, places)} | "
            f"{_number(row[metric], scale, places)} "
            f"[{_number(row[f'{metric}_ci_low'], scale, places)}, "
            f"{_number(row[f'{metric}_ci_high'], scale, places)}]"
            for _, row in comparison.iterrows()
        ]
    return pd.DataFrame(table, index=pd.Index(comparison["method"], name="paper | ours [95% CI]"))


def _method_predictions(method, model_fn, train, test, class_names, generated, target_class,
                        out_dir, seed, train_kwargs) -> pd.DataFrame:
    method_dir = Path(out_dir) / method if out_dir is not None else None
    if method_dir is not None and (method_dir / "predictions.csv").is_file():
        return pd.read_csv(method_dir / "predictions.csv")
    x, y = _check_xy(train, "train")
    augmentation = None if method in (GAN_METHOD, "none") else method
    if method == GAN_METHOD:
        x, y = gan_balance(x, y, generated, target_class)
    model, history = train_classifier(model_fn, (x, y), seed=seed, augmentation=augmentation,
                                      **{"progress": f"classifier ({method})", **train_kwargs})
    x_test, y_test = _check_xy(test, "test")
    probabilities = model.predict(x_test, batch_size=64, verbose=0)
    predictions = pd.DataFrame(probabilities, columns=[f"prob_{name}" for name in class_names])
    predictions.insert(0, "y_true", y_test.astype(int))
    if method_dir is not None:
        write_csv(method_dir / "history.csv", history)
        write_csv(method_dir / "predictions.csv", predictions)
    return predictions


def _training_size(method: str, train, target_class: int) -> int:
    _, y = train
    if method != GAN_METHOD:
        return len(y)
    counts = np.bincount(np.asarray(y, dtype=int))
    return len(y) + int(counts.max() - counts[target_class])


def _evaluation(y_true, probabilities, class_names, patient_ids, n_boot, seed) -> dict[str, Any]:
    return {
        "probabilities": probabilities,
        "predictions": probabilities.argmax(axis=1),
        "report": report_with_ci(y_true, probabilities, class_names, patient_ids=patient_ids,
                                 n_boot=n_boot, seed=seed),
        "confusion": confusion_matrix_frame(y_true, probabilities, class_names),
    }


def _table_metrics(report: pd.DataFrame, positive_name: str) -> dict[str, float]:
    sources = {
        "accuracy": ("all", "accuracy"), "precision": (positive_name, "precision"),
        "recall": (positive_name, "recall"), "f1": (positive_name, "f1"),
        "roc_auc": ("all", "roc_auc"), "fpr": ("all", "fpr"), "tpr": ("all", "tpr"),
    }
    indexed = report.set_index(["class", "metric"])
    values = {}
    for metric, key in sources.items():
        values[metric] = float(indexed.loc[key, "value"])
        values[f"{metric}_ci_low"] = float(indexed.loc[key, "ci_low"])
        values[f"{metric}_ci_high"] = float(indexed.loc[key, "ci_high"])
    return values


def _number(value: float, scale: float, places: int) -> str:
    return "-" if pd.isna(value) else f"{value * scale:.{places}f}"


def _check_xy(data, name: str) -> tuple[np.ndarray, np.ndarray]:
    try:
        x, y = data
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be an (images, labels) pair") from None
    x, y = np.asarray(x, dtype=np.float32), np.asarray(y)
    if x.ndim != 4 or len(x) != len(y) or len(x) == 0:
        raise ValueError(
            f"{name} must be (N, H, W, C) images with N labels, got {x.shape} and {y.shape}"
        )
    return x, y.astype(int)
