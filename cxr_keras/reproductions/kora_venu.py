"""Kora Venu & Ravula (2021): a DCGAN balances Kermany's Normal class, against classic augmentation.

The paper trains a DCGAN on the 1,341 Normal training images only (128x128x3, 500 epochs),
adds generated Normal images until both classes are the same size, and compares a
separable-convolution CNN trained on that set with the same CNN trained with each classic
augmentation (flip, crop, clip, brightness, contrast): its Table 1.
:func:`compare_augmentations` trains one classifier per method with the same seed, epochs and
batch size, evaluates each on the same test images and returns the paper's numbers beside ours
with bootstrap 95% confidence intervals.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Sequence
from pathlib import Path

import keras
import numpy as np
import pandas as pd

from cxr_keras.augment import gan_balance, get_augmentation
from cxr_keras.classifier_training import check_xy, classifier_inputs, evaluation, train_classifier
from cxr_keras.data.kermany import KermanyDataset
from cxr_keras.data.phantom_dataset import PhantomDataset
from cxr_keras.data.selection import resolve_root, stratified_subsample
from cxr_keras.fingerprint import check_stamp, write_stamp
from cxr_keras.io import write_csv
from cxr_keras.paths import KERMANY_DIR
from cxr_keras.reproductions.gan_setup import build_compiled_gan
from cxr_keras.reproductions.per_class_gan import distance_ratio, diversity_ratio
from cxr_keras.reproductions.verdicts import (
    caveat_rows,
    caveats_frame,
    claim_row,
    claims_frame,
    paper_vs_ours,
)

GAN_METHOD = "gan"
TABLE_METRICS = ("accuracy", "precision", "recall", "f1", "roc_auc", "fpr", "tpr")
# Metrics the paper prints in percent; the others (FPR, TPR) are printed as fractions.
PERCENT_METRICS = ("accuracy", "precision", "recall", "f1", "roc_auc")
# Table 1 of the paper, as printed (percent except FPR and TPR).
PAPER_TABLE_1 = pd.DataFrame.from_dict(
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
)
# The paper's GAN run: 500 epochs on the 1,341 Normal training images at batch 64, 128 px;
# FID 1.289 on 768-d Inception features.
PAPER_GAN_RUN = {"epochs": 500, "images": 1341, "batch_size": 64}
PAPER_FID_768 = 1.289
PAPER_TEST_IMAGES = 1172
# Phantom findings standing in for Normal and Pneumonia.
PHANTOM_STAND_INS = ["normal", "consolidation"]
PHANTOM_COUNTS = {"normal": 134, "consolidation": 388}


def load_dataset(data: str, phantom_counts=None, image_size: int = 64,
                 max_images_per_split: int | None = None, seed: int = 0, on_error: str = "raise"):
    """Kermany's official train and test folders under ``data`` (the folder holding
    ``chest_xray/`` or a root laid out like ../shared/data), or phantoms (``data == "phantoms"``:
    normal vs consolidation, Kermany's 1 : 2.9 ratio by default), subsampled to at most about
    ``max_images_per_split`` images per split with the class ratio kept."""
    if data == "phantoms":
        dataset = PhantomDataset(phantom_counts or PHANTOM_COUNTS, size=min(256, max(image_size, 32)), seed=seed)
        dataset = dataset.subset(classes=PHANTOM_STAND_INS)
    else:
        dataset = KermanyDataset(resolve_root(data, KERMANY_DIR), on_error=on_error)
    return stratified_subsample(dataset, max_images_per_split, seed=seed)


def build_gan(image_size: int, channels: int = 3, variant: str = "code", latent_dim: int = 100,
              learning_rate: float = 2e-4, seed: int = 0):
    """The paper's DCGAN (``variant`` "code": the published Keras code, "paper": the journal
    text; z standard normal), compiled with Adam(``learning_rate``, beta1 0.5) for G and D."""
    return build_compiled_gan("kora_venu", image_size, channels, learning_rate, (0.5, 0.999), seed,
                              variant=variant, latent_dim=latent_dim)


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
    n_boot: int = 200,
    seed: int = 0,
    **train_kwargs,
) -> pd.DataFrame:
    """Train one classifier per method with the same seed and budget; one row per method.

    ``methods`` are names in :data:`cxr_keras.augment.AUGMENTATIONS` or ``"gan"`` (the
    training set balanced with ``generated`` images of ``target_class``, see
    :func:`cxr_keras.augment.gan_balance`). ``train_kwargs`` go to
    :func:`cxr_keras.classifier_training.train_classifier`. With ``out_dir``, each method's
    test predictions and history are written to ``out_dir/<method>/`` with a stamp of their
    inputs; a method whose folder was stamped with the same inputs is not retrained, one
    stamped with others raises :class:`~cxr_keras.fingerprint.StaleArtefactError`.

    Columns: method, n_train, then per metric in TABLE_METRICS ours as a fraction with
    ``_ci_low`` / ``_ci_high`` and the paper's as ``paper_<metric>`` (a fraction; NaN where
    the paper has no such row). Precision, recall and F1 are those of ``positive_class``.
    """
    if not methods:
        raise ValueError("methods is empty: pass augmentation names and/or 'gan'")
    for method in methods:
        if method != GAN_METHOD:
            get_augmentation(method)
    if GAN_METHOD in methods and generated is None:
        raise ValueError("method 'gan' needs generated images: pass generated=")
    rows = []
    for method in methods:
        predictions = _method_predictions(method, model_fn, train, test, class_names, generated,
                                          target_class, out_dir, seed, train_kwargs)
        y_true = predictions["y_true"].to_numpy()
        probabilities = predictions.filter(like="prob_").to_numpy()
        report = evaluation(y_true, probabilities, class_names, patient_ids, n_boot, seed)["report"]
        rows.append({"method": method, "n_train": _training_size(method, train, target_class),
                     **_table_metrics(report, class_names[positive_class])})
    ours = pd.DataFrame(rows)
    return ours.join(paper_row_fractions(ours["method"]))


def paper_row_fractions(methods: Sequence[str]) -> pd.DataFrame:
    """The paper's Table 1 rows for ``methods`` as fractions, columns ``paper_<metric>``."""
    table = PAPER_TABLE_1.reindex(list(methods)).copy()
    for metric in PERCENT_METRICS:
        table[metric] = table[metric] / 100.0
    return table.add_prefix("paper_").reset_index(drop=True)


def paper_vs_ours_table(comparison: pd.DataFrame, digits: int = 1) -> pd.DataFrame:
    """:func:`compare_augmentations` output in the paper's units, paper beside ours.

    Percent metrics read ``"94.9 | 81.2 [77.0, 85.1]"`` (paper | ours [95% CI]); FPR and
    TPR are fractions with two decimals; "-" marks a method the paper did not report.
    """
    table = {}
    for metric in TABLE_METRICS:
        scale, places = (100.0, digits) if metric in PERCENT_METRICS else (1.0, 2)
        table[metric] = [paper_vs_ours(row[f"paper_{metric}"], row[metric], row[f"{metric}_ci_low"],
                                       row[f"{metric}_ci_high"], scale, places)
                         for _, row in comparison.iterrows()]
    return pd.DataFrame(table, index=pd.Index(comparison["method"], name="paper | ours [95% CI]"))


def claims(comparison: pd.DataFrame) -> pd.DataFrame:
    """The paper's claim checked against this run, a
    :func:`~cxr_keras.reproductions.verdicts.claims_frame` (accuracies as fractions): GAN
    balancing beats the best classic augmentation, which holds only when the two accuracy
    intervals do not overlap. (FID is a measurement, not a claim: the notebook prints it
    beside the paper's.)"""
    ranked = comparison.set_index("method")
    classic = ranked.drop(index=[GAN_METHOD], errors="ignore")
    rows = []
    if GAN_METHOD in ranked.index and len(classic):
        best = classic["accuracy"].idxmax()
        estimate = ["accuracy", "accuracy_ci_low", "accuracy_ci_high"]
        rows.append(claim_row("GAN balancing beats the best classic augmentation",
                              f"accuracy, GAN vs best classic ({best})",
                              ranked.loc[GAN_METHOD, estimate].tolist(),
                              versus=classic.loc[best, estimate].tolist(),
                              paper=PAPER_TABLE_1.at[GAN_METHOD, "accuracy"] / 100))
    return claims_frame(rows)


def caveats(dataset, gan_epochs: int, gan_batch_size: int, real_normal: np.ndarray,
            generated: np.ndarray, n_added: int, comparison: pd.DataFrame) -> pd.DataFrame:
    """Why this run's numbers may differ from the paper's, measured on this run: a
    :func:`~cxr_keras.reproductions.verdicts.caveats_frame`.

    ``dataset`` is the run's CXRDataset (train and test splits with patient ids);
    ``real_normal`` the GAN's training images and ``generated`` a sample of its images;
    ``n_added`` how many generated images the GAN-balanced set gained; ``comparison`` is
    :func:`compare_augmentations` output.
    """
    def steps(epochs, images, batch):
        return int(epochs) * math.ceil(int(images) / int(batch))

    frame = dataset.frame
    patients = {split: set(frame.loc[frame["split"] == split, "patient_id"].dropna()) for split in ("train", "test")}
    widths = (comparison["accuracy_ci_high"] - comparison["accuracy_ci_low"]) * 100
    n_normal = len(real_normal)
    parts = [
        caveat_rows("GAN training", "optimizer steps", steps(gan_epochs, n_normal, gan_batch_size),
                    paper=steps(*PAPER_GAN_RUN.values())),
        caveat_rows("GAN training", "training images", n_normal, paper=PAPER_GAN_RUN["images"]),
        caveat_rows("generated samples", "distance ratio", distance_ratio({"Normal": generated}, {"Normal": real_normal})),
        caveat_rows("generated samples", "diversity ratio", diversity_ratio({"Normal": generated}, {"Normal": real_normal})),
        caveat_rows("test set", "test images", int((frame["split"] == "test").sum()), paper=PAPER_TEST_IMAGES),
        caveat_rows("test set", "narrowest 95% interval of accuracy (points)", widths.min()),
        caveat_rows("test set", "widest 95% interval of accuracy (points)", widths.max()),
        caveat_rows("test set", "patients in train and test", len(patients["train"] & patients["test"])),
    ]
    if n_added:
        parts.insert(4, caveat_rows("GAN-balanced set", "generated share of its Normal class",
                                    n_added / (n_added + n_normal)))
    return caveats_frame(*parts)


def _method_predictions(method, model_fn, train, test, class_names, generated, target_class,
                        out_dir, seed, train_kwargs) -> pd.DataFrame:
    x, y = check_xy(train, "train")
    x_test, y_test = check_xy(test, "test")
    if method == GAN_METHOD:
        x, y = gan_balance(x, y, generated, target_class)
    method_dir = Path(out_dir) / method if out_dir is not None else None
    inputs = classifier_inputs((x, y), None, x_test, {"method": method, "seed": seed, **train_kwargs})
    if method_dir is not None and check_stamp(method_dir, inputs, f"classifier ({method})"):
        return pd.read_csv(method_dir / "predictions.csv")
    augmentation = None if method in (GAN_METHOD, "none") else method
    model, history = train_classifier(model_fn, (x, y), seed=seed, augmentation=augmentation,
                                      **{"progress": f"classifier ({method})", **train_kwargs})
    probabilities = model.predict(x_test, batch_size=64, verbose=0)
    predictions = pd.DataFrame(probabilities, columns=[f"prob_{name}" for name in class_names])
    predictions.insert(0, "y_true", y_test.astype(int))
    if method_dir is not None:
        write_csv(method_dir / "history.csv", history)
        write_csv(method_dir / "predictions.csv", predictions)
        write_stamp(method_dir, inputs)
    return predictions


def _training_size(method: str, train, target_class: int) -> int:
    _, y = train
    if method != GAN_METHOD:
        return len(y)
    counts = np.bincount(np.asarray(y, dtype=int))
    return len(y) + int(counts.max() - counts[target_class])


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
