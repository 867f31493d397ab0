"""Salehinejad et al. (ICASSP 2018): balance five CXR classes with per-class DCGAN images.

One DCNN on three training sets of the same real images: DS1 imbalanced, DS2 undersampled to
the smallest class, DS3 balanced up with synthetic images to twice the largest class. Total
accuracy is the mean per-class recall, as in the paper. Protocol: docs/reproductions.md.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path

import keras
import numpy as np
import pandas as pd
from sklearn.metrics import recall_score

from cxr_keras.classifier_training import (
    BALANCED_ACCURACY,
    SigmoidDecay,
    ValidationBalancedAccuracy,
    train_or_load_classifier,
)
from cxr_keras.data import NIHChestXray14Dataset, PhantomDataset
from cxr_keras.data.balancing import (
    balance_with_synthetic,
    class_counts,
    synthetic_needed,
    undersample_to_smallest,
)
from cxr_keras.data.nih import SALEHINEJAD_CLASSES
from cxr_keras.data.selection import resolve_root, split_by_patient
from cxr_keras.metrics.classification import bootstrap_distribution
from cxr_keras.models import salehinejad_dcnn
from cxr_keras.paths import NIH_DIR
from cxr_keras.reproductions.gan_setup import build_compiled_gan
from cxr_keras.reproductions.per_class_gan import distance_ratio, diversity_ratio, gan_updates
from cxr_keras.reproductions.verdicts import caveat_rows, caveats_frame, claim_row, claims_frame

PAPER_CLASSES = ("Cardiomegaly", "Normal", "Pleural Effusion", "Pulmonary Edema", "Pneumothorax")
TOTAL = "Total"
# Table 1 of the paper, accuracy in %; Pulmonary Edema under DS1 is blank in the paper.
PAPER_TABLE_1 = pd.DataFrame(
    {
        "DS1": [79.15, 77.75, 73.64, np.nan, 57.99, 70.87],
        "DS2": [71.73, 72.53, 51.23, 50.12, 48.92, 58.90],
        "DS3": [95.31, 95.02, 91.19, 89.68, 88.84, 92.10],
    },
    index=pd.Index([*PAPER_CLASSES, TOTAL], name="class"),
)
PAPER_TOTAL_STD = {"DS1": 0.47, "DS2": 0.48, "DS3": 0.41}
_PAPER_NAME_KEYS = (
    ("cardio", "Cardiomegaly"), ("normal", "Normal"), ("no finding", "Normal"),
    ("effusion", "Pleural Effusion"), ("edema", "Pulmonary Edema"),
    ("pneumothorax", "Pneumothorax"),
)


def paper_class_name(name: str) -> str:
    """The paper's name for a kit class (``"Effusion"`` -> ``"Pleural Effusion"``)."""
    lowered = str(name).lower()
    for key, paper_name in _PAPER_NAME_KEYS:
        if key in lowered:
            return paper_name
    raise KeyError(f"class {name!r} has no counterpart in the paper's Table 1 ({PAPER_CLASSES})")


def training_sets(
    x: np.ndarray, y: np.ndarray, synthetic: Sequence[np.ndarray] | None, seed: int = 0,
    factor: float = 2.0,
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """DS1, DS2 (undersampled with ``seed``) and, when ``synthetic`` is given, DS3."""
    num_classes = int(max(np.max(y) + 1, len(synthetic or ())))
    sets = {"DS1": (x, y), "DS2": undersample_to_smallest(x, y, num_classes, seed)}
    if synthetic is not None:
        x3, y3, _ = balance_with_synthetic(x, y, synthetic, factor)
        sets["DS3"] = (x3, y3)
    return sets


def per_class_accuracy(y_true, y_pred, num_classes: int) -> np.ndarray:
    """Table 1's row in %: recall of each class (NaN when absent from the test set), then
    their mean as the total."""
    y_true, y_pred = np.asarray(y_true, dtype=int), np.asarray(y_pred, dtype=int)
    recall = recall_score(y_true, y_pred, labels=np.arange(num_classes), average=None,
                          zero_division=np.nan) * 100.0
    recall[class_counts(y_true, num_classes) == 0] = np.nan
    return np.append(recall, np.nanmean(recall))


def table_1(runs: pd.DataFrame, ci: pd.DataFrame | None = None) -> pd.DataFrame:
    """Kit's Table 1 beside the paper's.

    ``runs`` has one row per (dataset, run, class) with ``accuracy`` in %; ``ci`` optionally
    has (dataset, class, ci_low, ci_high) from a bootstrap over test images. Returns one row
    per (class, dataset) with paper value, kit mean, std over runs, run count and the CI.
    """
    summary = (runs.groupby(["dataset", "class"], sort=False)["accuracy"]
               .agg(kit_mean="mean", kit_std="std", runs="count").reset_index())
    if ci is not None:
        summary = summary.merge(ci, on=["dataset", "class"], how="left")
    summary["paper_class"] = [TOTAL if c == TOTAL else paper_class_name(c) for c in summary["class"]]
    summary["paper"] = [PAPER_TABLE_1.at[p, d] if d in PAPER_TABLE_1 else np.nan
                        for p, d in zip(summary["paper_class"], summary["dataset"])]
    summary["paper_std"] = [PAPER_TOTAL_STD.get(d, np.nan) if p == TOTAL else np.nan
                            for p, d in zip(summary["paper_class"], summary["dataset"])]
    columns = ["class", "paper_class", "dataset", "paper", "paper_std", "kit_mean", "kit_std", "runs"]
    columns += [c for c in ("ci_low", "ci_high") if c in summary]
    return summary[columns]


def bootstrap_accuracy_ci(y_true, run_predictions: np.ndarray, class_names: Sequence[str],
                          n_boot: int = 200, seed: int = 0, groups=None) -> pd.DataFrame:
    """95% percentile bootstrap CI, over test images (patients with ``groups``), stratified by
    class, of the run-averaged Table 1 row; ``run_predictions`` is (n_test, n_runs) labels. A
    class with a single test unit gets NaN (docs/reproductions.md)."""
    run_predictions = np.asarray(run_predictions).reshape(len(y_true), -1)
    num_classes = len(class_names)

    def mean_row(labels, predictions):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            return np.nanmean([per_class_accuracy(labels, column, num_classes)
                               for column in predictions.T], axis=0)

    replicates = bootstrap_distribution(mean_row, y_true, run_predictions, n_boot=n_boot,
                                        seed=seed, groups=groups, strata=y_true)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        low, high = np.nanpercentile(replicates, [2.5, 97.5], axis=0)
    units = units_per_class(y_true, num_classes, groups)
    single = np.append(units < 2, False)
    low[single], high[single] = np.nan, np.nan
    return pd.DataFrame({"class": [*class_names, TOTAL], "ci_low": low, "ci_high": high})


def units_per_class(y_true, num_classes: int, groups=None) -> np.ndarray:
    """Independent test units of each class: patients with ``groups``, else images."""
    y_true = np.asarray(y_true, dtype=int)
    if groups is None:
        return class_counts(y_true, num_classes)
    groups = np.asarray(groups)
    return np.array([len(np.unique(groups[y_true == k])) for k in range(num_classes)])


def claims(table: pd.DataFrame, generator: str | None = None, recipe: str | None = None,
           ds3_only: bool = False) -> pd.DataFrame:
    """The paper's claims on the kit's Table 1 (``table_1`` output), a
    :func:`~cxr_keras.reproductions.verdicts.claims_frame` (list: docs/reproductions.md).

    ``generator``: the per-class GANs' combined health verdict, which the DS3 claims carry;
    ``recipe`` names their recipe; ``ds3_only`` leaves out the DS2 claim.
    """
    kit = table.pivot(index="class", columns="dataset", values="kit_mean")
    totals = table[table["class"] == TOTAL].set_index("dataset")
    bounds = [c if c in totals else "kit_mean" for c in ("ci_low", "ci_high")]

    def total(dataset):
        return totals.loc[dataset, ["kit_mean", *bounds]].tolist()

    suffix = f" ({recipe} recipe's GANs)" if recipe else ""
    rows = []
    if {"DS1", "DS3"} <= set(kit.columns):
        gain = (kit["DS3"] - kit["DS1"]).drop(TOTAL)
        largest = gain.idxmax()
        rows += [
            claim_row(f"DS3 total accuracy > DS1 total accuracy{suffix}", "total accuracy %, DS3 vs DS1",
                      total("DS3"), versus=total("DS1"), paper=PAPER_TABLE_1.at[TOTAL, "DS3"],
                      generator=generator),
            claim_row(f"DS3 > DS1 in every class{suffix}", "smallest per-class gain DS3 - DS1 (points)",
                      gain.min(), held=bool((gain > 0).all()), generator=generator),
            claim_row(f"largest DS3 gain in Pneumothorax (the rarest class){suffix}",
                      f"largest per-class gain DS3 - DS1 (points), in {largest}", gain.max(),
                      held=paper_class_name(largest) == "Pneumothorax", generator=generator),
        ]
    if {"DS1", "DS2"} <= set(kit.columns) and not ds3_only:
        rows.append(claim_row("DS2 total accuracy < DS1 total accuracy", "total accuracy %, DS1 vs DS2",
                              total("DS1"), versus=total("DS2"), paper=PAPER_TABLE_1.at[TOTAL, "DS1"]))
    return claims_frame(rows)


# The paper's setting the caveats compare against: 2,000 GAN training images per class at
# mini-batch 64, and 1,000 test images equal per class (200 each).
PAPER_GAN_UPDATES_PER_EPOCH = 2000 // 64
PAPER_TEST_PER_CLASS = 200


def caveats(counts: pd.DataFrame, gan_epochs: int, gan_batch_size: int,
            synthetic: Mapping[str, np.ndarray], real_by_class: Mapping[str, np.ndarray],
            runs: pd.DataFrame | None = None,
            test_patients: Mapping[str, int] | None = None, min_updates: int = 0) -> pd.DataFrame:
    """Why this run's numbers may differ from the paper's, measured on this run (a
    :func:`~cxr_keras.reproductions.verdicts.caveats_frame`); the arguments: docs/modules.md.
    """
    counts = counts[["train", "val", "test"]].fillna(0).astype(int)
    names = list(counts.index)
    share = {name: len(synthetic[name]) / (len(synthetic[name]) + len(real_by_class[name])) for name in names}
    chosen = {name: synthetic[name] for name in names}
    parts = [
        caveat_rows("GAN training", "optimizer steps per class GAN",
                    gan_updates(counts["train"].to_dict(), gan_epochs, gan_batch_size, min_updates)[names]),
        caveat_rows("GAN training", "optimizer steps per epoch",
                    gan_updates(counts["train"].to_dict(), 1, gan_batch_size)[names],
                    paper=PAPER_GAN_UPDATES_PER_EPOCH),
        caveat_rows("synthetic samples", "distance ratio", distance_ratio(chosen, real_by_class)),
        caveat_rows("synthetic samples", "diversity ratio", diversity_ratio(chosen, real_by_class)),
        caveat_rows("DS3 composition", "synthetic share of the class", share),
        caveat_rows("test set", "test images per class", counts["test"][names], paper=PAPER_TEST_PER_CLASS),
        caveat_rows("test set", "points of accuracy one test image is, smallest class",
                    100 / max(1, counts["test"][names].min())),
        caveat_rows("early stopping (balanced validation accuracy)", "largest class's share of validation",
                    counts["val"].max() / max(1, counts["val"].sum())),
        caveat_rows("early stopping (balanced validation accuracy)", "validation images, smallest class",
                    counts["val"][names].min()),
    ]
    if test_patients is not None:
        parts.append(caveat_rows("test set", "test patients per class",
                                 {n: int(test_patients.get(n, 0)) for n in names}))
    if runs is not None:
        per_class = runs[runs["class"] != TOTAL]
        one_class = (per_class.assign(hit=per_class["accuracy"] > 0)
                     .groupby(["dataset", "run"])["hit"].sum() == 1).groupby("dataset").mean()
        parts.append(caveat_rows("one-class classifiers",
                                 "share of runs naming one class for every test image", one_class))
    return caveats_frame(*parts)


def synthetic_pool_counts(y: np.ndarray, class_names: Sequence[str], factor: float = 2.0) -> dict[str, int]:
    """{class: synthetic images DS3 needs} for generation with the per-class GANs."""
    needed = synthetic_needed(y, len(class_names), factor)
    return {name: int(n) for name, n in zip(class_names, needed)}


def stack_synthetic(generated: Mapping[str, np.ndarray], class_names: Sequence[str]) -> list[np.ndarray]:
    """Generated images by class name -> a list indexed by class label."""
    missing = [c for c in class_names if c not in generated]
    if missing:
        raise KeyError(f"no generated images for class(es) {missing}")
    return [generated[c] for c in class_names]


def dcnn_optimizer(learning_rate: float, total_steps: int):
    """Factory of the paper's optimizer: Adam (beta1 0.5) with :class:`SigmoidDecay`."""
    return lambda: keras.optimizers.Adam(SigmoidDecay(learning_rate, total_steps), beta_1=0.5)


def run_dcnn_experiment(
    x: np.ndarray, y: np.ndarray, synthetic: Sequence[np.ndarray] | None,
    val: tuple[np.ndarray, np.ndarray], test: tuple[np.ndarray, np.ndarray],
    class_names: Sequence[str], out_dir, runs: int = 3, epochs: int = 100, batch_size: int = 128,
    learning_rate: float = 1e-3, patience: int | None = 10, factor: float = 2.0, test_groups=None,
    n_boot: int = 200, seed: int = 0,
) -> dict[str, pd.DataFrame]:
    """Train the DCNN on DS1, DS2 and DS3 ``runs`` times each; test every run.

    Run ``r`` uses seed ``seed + r`` for weights, shuffling and DS2's undersample. Every run's
    history and test probabilities go to ``out_dir/<dataset>/run-<r>/``; a finished run is
    read back, not retrained. Returns ``runs`` (dataset, run, class,
    accuracy %), ``histories`` (dataset, run, epoch, ...), ``sizes`` (images per class and
    dataset) and ``table`` (:func:`table_1` with bootstrap CIs over test images).
    """
    if runs < 1:
        raise ValueError(f"runs must be positive, got {runs}")
    out_dir = Path(out_dir)
    image_size, channels = x.shape[1], x.shape[3]
    num_classes = len(class_names)
    rows, histories, predictions, sizes = [], [], {}, {}
    for run in range(runs):
        for dataset, (x_train, y_train) in training_sets(x, y, synthetic, seed + run, factor).items():
            sizes[dataset] = class_counts(y_train, num_classes)
            steps = epochs * int(np.ceil(len(x_train) / batch_size))
            callbacks = [ValidationBalancedAccuracy(*val)]
            if patience:
                callbacks.append(keras.callbacks.EarlyStopping(
                    BALANCED_ACCURACY, mode="max", patience=patience, restore_best_weights=True))
            probabilities, history = train_or_load_classifier(
                out_dir / dataset / f"run-{run}",
                lambda: salehinejad_dcnn(num_classes, image_size, channels),
                (x_train, y_train), val, test[0], epochs=epochs, batch_size=batch_size,
                seed=seed + run, optimizer=dcnn_optimizer(learning_rate, steps),
                callbacks=callbacks, stamp={"learning_rate": learning_rate, "patience": patience})
            predicted = probabilities.argmax(axis=1)
            predictions.setdefault(dataset, []).append(predicted)
            histories.append(history.assign(dataset=dataset, run=run))
            accuracy = per_class_accuracy(test[1], predicted, num_classes)
            rows += [{"dataset": dataset, "run": run, "class": name, "accuracy": value}
                     for name, value in zip([*class_names, TOTAL], accuracy)]
    ci = pd.concat([
        bootstrap_accuracy_ci(test[1], np.column_stack(p), class_names, n_boot, seed, test_groups)
        .assign(dataset=dataset) for dataset, p in predictions.items()
    ])
    runs_frame = pd.DataFrame(rows)
    size_frame = pd.DataFrame(sizes, index=pd.Index(class_names, name="class")).reset_index()
    return {"runs": runs_frame, "histories": pd.concat(histories, ignore_index=True),
            "sizes": size_frame, "table": table_1(runs_frame, ci)}


# Phantom findings standing in for the paper's classes, in SALEHINEJAD_CLASSES order.
PHANTOM_STAND_INS = ["normal", "cardiomegaly", "effusion", "edema", "pneumothorax"]
# The paper's class sizes (Normal, Cardiomegaly, Effusion, Edema, Pneumothorax) / 100.
PHANTOM_COUNTS = {"normal": 158, "cardiomegaly": 171, "effusion": 145, "edema": 50, "pneumothorax": 40}


def load_dataset(data: str, phantom_counts: Mapping[str, int] | None = None, image_size: int = 64,
                 test_fraction: float = 0.2, val_fraction: float = 0.1, seed: int = 0,
                 on_error: str = "raise"):
    """The five-class set: NIH ChestX-ray14 single-label images under ``data``, or phantoms
    (``data == "phantoms"``), re-split by patient. ``on_error`` goes to the NIH loader."""
    if data == "phantoms":
        dataset = PhantomDataset(phantom_counts or PHANTOM_COUNTS, size=max(32, image_size), seed=seed)
        dataset = dataset.subset(classes=PHANTOM_STAND_INS)
    else:
        dataset = NIHChestXray14Dataset(resolve_root(data, NIH_DIR), classes=SALEHINEJAD_CLASSES,
                                        single_label=True, on_error=on_error)
    return split_by_patient(dataset, test_fraction, val_fraction, seed)


def build_gan(image_size: int, learning_rate: float = 2e-4, beta_1: float = 0.5, seed: int = 0,
              recipe: Mapping | None = None):
    """The paper's per-class DCGAN (128-d uniform z, six up-convolutions at 256 px), compiled
    with Adam(``learning_rate``, beta1 0.5) for G and D; ``recipe`` (see
    :mod:`~cxr_keras.reproductions.gan_setup`) overrides them and adds small-data options."""
    return build_compiled_gan("salehinejad", image_size, 1, learning_rate, (beta_1, 0.999), seed,
                              recipe=recipe)
