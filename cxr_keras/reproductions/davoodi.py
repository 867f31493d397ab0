"""Davoodi & Lo Giudice: per-class DCGANs on a 4-class COVID set, and a 4-fold CV classifier.

:func:`train_class_gans` trains one DCGAN per class with FID (768-d) logged as it trains;
:func:`run_cross_validation` trains the classifier on the classic set, with synthetic images
and with as many real images repeated (the control). Protocol: docs/reproductions.md.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import keras
import numpy as np
import pandas as pd
from sklearn.model_selection import StratifiedKFold

from cxr_keras.audits import SHORTCUT_AUC, non_disease_views, shortcut_caveat, shortcut_claim
from cxr_keras.augment import oversample
from cxr_keras.classifier_training import train_or_load_classifier
from cxr_keras.data import DavoodiCovidDataset, PhantomDataset
from cxr_keras.metrics import extract_features, paired_difference, report_with_ci
from cxr_keras.models import davoodi_cnn
from cxr_keras.reproductions.gan_setup import build_compiled_gan
from cxr_keras.reproductions.per_class_gan import (
    class_folder,
    distance_ratio,
    diversity_ratio,
    train_per_class_gans,
)
from cxr_keras.reproductions.quality_log import QualityLogger
from cxr_keras.reproductions.verdicts import (
    caveat_rows,
    caveats_frame,
    claim_row,
    claims_frame,
    paper_vs_ours,
)

# The classic set; with synthetic images added; with as many real images repeated (the control).
TRAIN_SETS = ("classic", "synthetic", "oversample")
TABLE_4_METRICS = ("accuracy", "sensitivity", "specificity", "f1")
PAPER_CLASSES = ("covid", "normal", "pneumonia_bac", "pneumonia_vir")
# Table 4 (a) classic and (b) synthetic-augmented train set, 4-fold CV, 300 epochs.
PAPER_TABLE_4 = pd.DataFrame(
    [
        ("classic", "covid", 0.988, 0.962, 0.997, 0.978),
        ("classic", "normal", 0.898, 0.635, 0.985, 0.767),
        ("classic", "pneumonia_bac", 0.82, 0.716, 0.855, 0.776),
        ("classic", "pneumonia_vir", 0.855, 0.808, 0.87, 0.835),
        ("synthetic", "covid", 1.0, 1.0, 1.0, 1.0),
        ("synthetic", "normal", 0.948, 0.802, 0.997, 0.888),
        ("synthetic", "pneumonia_bac", 0.82, 0.636, 0.882, 0.733),
        ("synthetic", "pneumonia_vir", 0.867, 0.833, 0.878, 0.852),
    ],
    columns=["train_set", "class", *TABLE_4_METRICS],
)
PAPER_TOTAL_ACCURACY = {"classic": 0.780, "synthetic": 0.818}
PAPER_TEST_IMAGES = 36
PAPER_FINAL_GAN = {"epoch": 200, "fid": 1.124, "inception_score": 2.80}
# Phantom findings standing in for the four classes (an arbitrary, documented pairing).
PHANTOM_STAND_INS = {"edema": "covid", "normal": "normal", "consolidation": "bacteria",
                     "effusion": "virus"}
_PAPER_NAME_KEYS = (("covid", "covid"), ("normal", "normal"), ("bac", "pneumonia_bac"),
                    ("vir", "pneumonia_vir"))


def paper_class_name(name: str) -> str:
    """The paper's name for a kit class (``"bacteria"`` -> ``"pneumonia_bac"``) or for a
    phantom stand-in (``"consolidation"`` -> ``"pneumonia_bac"``)."""
    lowered = PHANTOM_STAND_INS.get(str(name), str(name)).lower()
    for key, paper_name in _PAPER_NAME_KEYS:
        if key in lowered:
            return paper_name
    raise KeyError(f"class {name!r} has no counterpart in the paper's Table 4 ({PAPER_CLASSES})")


def build_dcgan(image_size: int = 64, learning_rate: float = 2e-4, betas=(0.5, 0.999), seed: int = 0,
                recipe: Mapping | None = None):
    """The paper's DCGAN (:func:`cxr_keras.models.davoodi_generator` / ``_discriminator``),
    compiled with Adam(``learning_rate``, ``betas``) for G and D; ``recipe`` (see
    :mod:`~cxr_keras.reproductions.gan_setup`) overrides them and adds small-data options."""
    return build_compiled_gan("davoodi", image_size, 1, learning_rate, tuple(betas), seed,
                              recipe=recipe)


def train_class_gans(
    images: Mapping[str, np.ndarray], epochs: int, out_dir: str | os.PathLike, batch_size: int = 32,
    quality_every: int = 0, quality_images: int | None = None, fid_dims: int = 768, fid_model=None,
    is_classifier=None, seed: int = 0, sample_every: int | None = None,
    recipe: Mapping | None = None,
):
    """One DCGAN per class of ``recipe`` (None: the paper's; see
    :func:`per_class_gan.train_per_class_gans`), sample grids every ``sample_every`` epochs,
    with FID/IS logged every ``quality_every`` epochs (0: never) to
    ``out_dir/<class>/quality.csv`` against that class's training images (the first
    ``quality_images`` of them; None: all), with as many generated images.

    Returns (GANs by class, stacked training history, stacked quality log or None).
    """
    names = list(images)

    if quality_images is not None and (isinstance(quality_images, bool)
                                       or not isinstance(quality_images, int) or quality_images < 2):
        raise ValueError(f"quality_images must be None (all) or an integer >= 2, got {quality_images!r}")

    def quality_logger(name, class_dir):
        compared = images[name][:quality_images]
        real = extract_features(compared, fid_model, dims=(fid_dims,), progress=False)[fid_dims]
        return [QualityLogger(class_dir / "quality.csv", real, quality_every, epochs,
                              n_fake=len(compared), fid_model=fid_model,
                              is_classifier=is_classifier, seed=seed)]

    gans, history = train_per_class_gans(
        images, lambda name, gan_recipe: build_dcgan(
            images[name].shape[1], seed=seed + names.index(name), recipe=gan_recipe),
        epochs, out_dir, batch_size, seed=seed,
        callbacks=quality_logger if quality_every else None, sample_every=sample_every,
        recipe=recipe)
    logs = [pd.read_csv(path).assign(**{"class": name}) for name in names
            if (path := Path(out_dir) / class_folder(name) / "quality.csv").is_file()]
    return gans, history, pd.concat(logs, ignore_index=True) if logs else None


def cv_folds(y: np.ndarray, n_splits: int = 4, seed: int = 0) -> list[tuple[np.ndarray, np.ndarray]]:
    """Stratified ``n_splits``-fold (train indices, validation indices), shuffled with ``seed``."""
    y = np.asarray(y)
    smallest = np.bincount(y).min() if len(y) else 0
    if smallest < n_splits:
        raise ValueError(
            f"the smallest class has {smallest} images, fewer than n_splits={n_splits}; "
            "use fewer folds or more images"
        )
    splitter = StratifiedKFold(n_splits=n_splits, shuffle=True, random_state=seed)
    return list(splitter.split(np.zeros(len(y)), y))


def table_4(report: pd.DataFrame, class_names: Sequence[str]) -> pd.DataFrame:
    """Table 4 rows (accuracy, sensitivity, specificity, F1 per class; total accuracy) from a
    :func:`cxr_keras.metrics.classification_report_frame` / ``report_with_ci`` frame.

    Columns: class, metric, value (and ci_low, ci_high when the report has them); per-class
    accuracy is one-vs-rest, the total row (class ``"total"``) is the overall accuracy.
    """
    renames = {"accuracy_ovr": "accuracy", "recall": "sensitivity", "specificity": "specificity",
               "f1": "f1"}
    per_class = report[report["class"].isin(list(class_names)) & report["metric"].isin(list(renames))]
    per_class = per_class.assign(metric=per_class["metric"].map(renames))
    total = report[(report["class"] == "all") & (report["metric"] == "accuracy")].assign(**{"class": "total"})
    order = {name: i for i, name in enumerate([*class_names, "total"])}
    table = pd.concat([per_class, total], ignore_index=True)
    table = table.sort_values(["class", "metric"], key=lambda s: s.map(order) if s.name == "class" else s)
    return table.reset_index(drop=True)


def run_cross_validation(
    x: np.ndarray, y: np.ndarray, test: tuple[np.ndarray, np.ndarray], class_names: Sequence[str],
    out_dir: str | os.PathLike, synthetic: Mapping[str, np.ndarray] | None = None, folds: int = 4,
    epochs: int = 300, batch_size: int = 256, learning_rate: float = 0.01, momentum: float = 0.9,
    n_boot: int = 200, seed: int = 0,
) -> dict[str, pd.DataFrame]:
    """4-fold CV on the classic set and, with ``synthetic`` images by class, the augmented set
    and its oversampling control; runs cached in ``out_dir/<train_set>/fold-<f>/``.

    Returns ``folds`` (train_set, fold, n_train, val_accuracy, test_accuracy), ``table``
    (train_set, class, metric, value, ci_low, ci_high, paper: Table 4 over the pooled folds)
    and ``predictions`` (train_set, fold, image, y_true, predicted).
    """
    x_test, y_test = test
    num_classes, image_size = len(class_names), x.shape[1]
    extra_x = extra_y = None
    if synthetic is not None:
        extra_x = np.concatenate([synthetic[name] for name in class_names])
        extra_y = np.repeat(np.arange(num_classes), [len(synthetic[name]) for name in class_names])
        repeats = {k: len(synthetic[name]) for k, name in enumerate(class_names)}
    train_sets = TRAIN_SETS if synthetic is not None else TRAIN_SETS[:1]

    def sgd():
        return keras.optimizers.SGD(learning_rate, momentum=momentum, nesterov=True)

    fold_rows, tables, predictions = [], [], []
    for train_set in train_sets:
        pooled = []
        for fold, (train_idx, val_idx) in enumerate(cv_folds(y, folds, seed)):
            x_train, y_train = x[train_idx], y[train_idx]
            if train_set == "synthetic":
                x_train, y_train = np.concatenate([x_train, extra_x]), np.concatenate([y_train, extra_y])
            elif train_set == "oversample":
                x_train, y_train = oversample(x_train, y_train, repeats, seed + fold)
            probabilities, history = train_or_load_classifier(
                Path(out_dir) / train_set / f"fold-{fold}",
                lambda: davoodi_cnn(num_classes, image_size, x.shape[3]),
                (x_train, y_train), (x[val_idx], y[val_idx]), x_test, epochs=epochs,
                batch_size=batch_size, seed=seed + fold, optimizer=sgd,
                stamp={"learning_rate": learning_rate, "momentum": momentum})
            pooled.append(probabilities)
            predictions.append(pd.DataFrame({"train_set": train_set, "fold": fold, "image": np.arange(len(y_test)),
                                             "y_true": y_test, "predicted": probabilities.argmax(axis=1)}))
            fold_rows.append({
                "train_set": train_set, "fold": fold, "n_train": len(y_train),
                "val_accuracy": float(history["val_accuracy"].iloc[-1]),
                "test_accuracy": float(np.mean(probabilities.argmax(axis=1) == y_test)),
            })
        image_ids = np.tile(np.arange(len(y_test)), len(pooled))
        report = report_with_ci(np.tile(y_test, len(pooled)), np.concatenate(pooled), class_names,
                                patient_ids=image_ids, n_boot=n_boot, seed=seed)
        tables.append(table_4(report, class_names).assign(train_set=train_set))
    table = pd.concat(tables, ignore_index=True)
    table["paper"] = [_paper_value(t, c, m) for t, c, m in zip(table["train_set"], table["class"], table["metric"])]
    columns = ["train_set", "class", "metric", "paper", "value", "ci_low", "ci_high"]
    return {"folds": pd.DataFrame(fold_rows), "table": table[columns],
            "predictions": pd.concat(predictions, ignore_index=True)}


def fold_scores(predictions: pd.DataFrame, train_set: str) -> np.ndarray:
    """(folds, test images): 100 where that fold's classifier of ``train_set`` labelled the
    image right, 0 where wrong, from :func:`run_cross_validation`'s ``predictions``."""
    rows = predictions[predictions["train_set"] == train_set]
    if rows.empty:
        raise ValueError(f"predictions hold no train set {train_set!r}; run_cross_validation trains "
                         f"{TRAIN_SETS[1:]} only with synthetic images")
    right = rows.assign(score=100.0 * (rows["y_true"] == rows["predicted"]))
    return right.pivot(index="fold", columns="image", values="score").to_numpy()


def _paper_value(train_set: str, name: str, metric: str) -> float:
    if name == "total":
        return PAPER_TOTAL_ACCURACY.get(train_set, np.nan) if metric == "accuracy" else np.nan
    rows = PAPER_TABLE_4[(PAPER_TABLE_4["train_set"] == train_set)
                         & (PAPER_TABLE_4["class"] == paper_class_name(name))]
    return float(rows[metric].iloc[0]) if len(rows) else np.nan


def table_4_wide(table: pd.DataFrame) -> pd.DataFrame:
    """Paper-style layout: one row per (train_set, class), "paper | kit [CI]" per metric."""
    def cell(row):
        return paper_vs_ours(row["paper"], row["value"], row["ci_low"], row["ci_high"], places=3)

    cells = table.assign(cell=table.apply(cell, axis=1))
    wide = cells.pivot_table(index=["train_set", "class"], columns="metric", values="cell",
                             aggfunc="first", sort=False)
    return wide.reindex(columns=[m for m in TABLE_4_METRICS if m in wide.columns])


def synthetic_claims(cv: Mapping[str, pd.DataFrame], generator: str | None = None, recipe: str | None = None,
                     n_boot: int = 2000, seed: int = 0) -> list[dict]:
    """The claims on the synthetic images (``claim_row`` rows) from :func:`run_cross_validation`
    output ``cv``: synthetic beats the classic set and the oversampling control on the paired
    difference over folds and test images, and wins most folds. ``generator``: the GANs'
    combined health verdict; ``recipe`` names their recipe in the claims."""
    folds, table, predictions = cv["folds"], cv["table"], cv["predictions"]
    totals = table[(table["class"] == "total") & (table["metric"] == "accuracy")].set_index("train_set")
    if not {"classic", "synthetic"} <= set(totals.index):
        return []
    suffix = f" ({recipe} recipe's GANs)" if recipe else ""
    estimate = ["value", "ci_low", "ci_high"]
    synthetic = fold_scores(predictions, "synthetic")
    paper_gain = round(100 * (PAPER_TOTAL_ACCURACY["synthetic"] - PAPER_TOTAL_ACCURACY["classic"]), 2)
    rows = []
    for other, what, paper_difference in (("classic", "over the classic set", paper_gain),
                                          ("oversample", "over repeating real images as often", np.nan)):
        if other in totals.index:
            rows.append(claim_row(
                f"synthetic augmentation raises total test accuracy {what}{suffix}",
                f"total test accuracy, synthetic vs {other}", totals.loc["synthetic", estimate].tolist(),
                versus=totals.loc[other, estimate].tolist(), paper=PAPER_TOTAL_ACCURACY["synthetic"],
                generator=generator, paper_difference=paper_difference,
                difference=paired_difference(synthetic, fold_scores(predictions, other), n_boot=n_boot, seed=seed)))
    per_fold = folds.pivot(index="fold", columns="train_set", values="test_accuracy")
    wins = float((per_fold["synthetic"] > per_fold["classic"]).mean())
    rows.append(claim_row(f"synthetic augmentation is better in most folds{suffix}",
                          "share of folds where synthetic beats classic", wins, held=wins > 0.5,
                          generator=generator))
    return rows


def claims(cv: Mapping[str, pd.DataFrame], quality: pd.DataFrame | None, generator: str | None = None,
           audit: pd.DataFrame | None = None, n_boot: int = 2000, seed: int = 0) -> pd.DataFrame:
    """The paper's claims checked against the kit's numbers (``cv``: :func:`run_cross_validation`
    output), a :func:`~cxr_keras.reproductions.verdicts.claims_frame`: :func:`synthetic_claims`
    (with the GANs' health verdict ``generator``), covid's sensitivity per train set, FID over
    training and, with a shortcut ``audit`` (:func:`cxr_keras.audits.davoodi.audit_dataset` rows
    of one mitigation), :func:`shortcut_claim_row`; when the audit flags a
    source shortcut, the covid claims' measure carries :func:`cxr_keras.audits.shortcut_caveat`
    with its numbers."""
    table = cv["table"]
    rows = synthetic_claims(cv, generator, n_boot=n_boot, seed=seed)
    flagged = audit is not None and bool(non_disease_views(audit)["source_shortcut"].astype(bool).any())
    shortcut_note = f"; caveat: {shortcut_caveat(audit)}" if flagged else ""
    paper_covid = PAPER_TABLE_4[PAPER_TABLE_4["class"] == "covid"].set_index("train_set")["sensitivity"]
    sensitivity = table[table["metric"] == "sensitivity"]
    for train_set, rows_of_set in sensitivity.groupby("train_set", sort=False):
        covid = rows_of_set[rows_of_set["class"].map(_is_covid)]["value"]
        others = rows_of_set[~rows_of_set["class"].map(_is_covid)]["value"]
        if len(covid) and len(others):
            rows.append(claim_row(f"covid has the highest sensitivity ({train_set})",
                                  "covid sensitivity vs best other class" + shortcut_note,
                                  covid.iloc[0], held=bool(covid.iloc[0] > others.max()),
                                  versus=others.max(), paper=paper_covid.get(train_set, np.nan),
                                  generator=generator if train_set == "synthetic" else None))
    if quality is not None and quality.groupby("class")["fid"].count().min() >= 2:
        ordered = quality.sort_values("epoch").groupby("class")["fid"]
        change = ordered.last() - ordered.first()
        rows.append(claim_row("FID falls as the DCGANs train",
                              "largest change of FID from first to last measurement", change.max(),
                              held=bool((change < 0).all())))
    if audit is not None:
        rows.append(shortcut_claim_row(audit))
    return claims_frame(rows)


def caveats(folds: pd.DataFrame, table: pd.DataFrame, n_test: int,
            synthetic: Mapping[str, np.ndarray], real_by_class: Mapping[str, np.ndarray],
            audit: pd.DataFrame | None = None) -> pd.DataFrame:
    """Why this run's numbers may differ from the paper's, measured on this run: a
    :func:`~cxr_keras.reproductions.verdicts.caveats_frame`.

    ``folds`` and ``table`` are :func:`run_cross_validation` output; ``synthetic`` and
    ``real_by_class`` the synthetic and real training images by class; ``audit`` (optional)
    the shortcut audit's rows of one mitigation, whose non-disease views' AUCs are added.
    """
    totals = table[(table["class"] == "total") & (table["metric"] == "accuracy")].set_index("train_set")
    spread = folds.groupby("train_set", sort=False)["test_accuracy"]
    return caveats_frame(
        caveat_rows("test set", "test images", n_test, paper=PAPER_TEST_IMAGES),
        caveat_rows("test set", "points of total accuracy one test image is", 100 / n_test),
        caveat_rows("test set", "width of the 95% interval of total accuracy (points)",
                    (totals["ci_high"] - totals["ci_low"]) * 100),
        caveat_rows("fold to fold", "mean test accuracy over the folds", spread.mean()),
        caveat_rows("fold to fold", "std of test accuracy over the folds", spread.std()),
        caveat_rows("synthetic images", "synthetic images in each fold's augmented training set",
                    sum(len(images) for images in synthetic.values())),
        caveat_rows("synthetic images", "distance ratio", distance_ratio(synthetic, real_by_class)),
        caveat_rows("synthetic images", "diversity ratio", diversity_ratio(synthetic, real_by_class)),
        [] if audit is None else caveat_rows(
            "source shortcut", "covid-vs-rest AUC from a non-disease view",
            {row.view: (row.auc, row.auc_low, row.auc_high)
             for row in non_disease_views(audit).itertuples()}),
    )


def _is_covid(name: str) -> bool:
    return name != "total" and paper_class_name(name) == "covid"


def load_dataset(data: str, phantom_counts: int = 79, image_size: int = 64, seed: int = 0,
                 on_error: str = "raise"):
    """The 4-class set: :class:`DavoodiCovidDataset` from a root holding ``covid_chestxray/`` and
    ``kermany_chest_xray/`` (laid out like ../shared/data), or phantoms (``data == "phantoms"``:
    ``phantom_counts`` per class, split in the paper's 270 : 36 proportion; class names stay
    the phantoms' and :func:`paper_class_name` maps them). ``on_error`` goes to the loader."""

    if data != "phantoms":
        return DavoodiCovidDataset.from_root(data, seed=seed, on_error=on_error)
    train_share = 270 / 306
    phantoms = PhantomDataset({name: int(phantom_counts) for name in PHANTOM_STAND_INS},
                              size=max(32, image_size), seed=seed,
                              splits={"train": train_share, "test": 1 - train_share})
    return phantoms.subset(classes=list(PHANTOM_STAND_INS))


def shortcut_claim_row(audit: pd.DataFrame) -> dict:
    """:func:`cxr_keras.audits.shortcut_claim` as a :func:`~cxr_keras.reproductions.verdicts.claim_row`: the
    highest AUC of the positive class vs the rest from a non-disease view, against the shortcut
    threshold; it holds when no view flags a source shortcut."""
    views = non_disease_views(audit)
    if views.empty:
        raise ValueError("the shortcut audit has no non-disease view; pass audit_dataset rows")
    worst = views.loc[views["auc_low"].idxmax()]
    return claim_row(shortcut_claim(views)["claim"].iat[0],
                     f"highest {worst['positive_class']}-vs-rest AUC of a non-disease view "
                     f"({worst['view']}) vs the shortcut threshold",
                     (worst["auc"], worst["auc_low"], worst["auc_high"]),
                     held=not bool(views["source_shortcut"].astype(bool).any()), versus=SHORTCUT_AUC)
