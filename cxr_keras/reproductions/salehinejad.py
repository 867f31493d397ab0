"""Salehinejad et al. (ICASSP 2018): balance five CXR classes with per-class DCGAN images.

Three training sets of the same real images are compared with one DCNN:

* DS1: the imbalanced real training set;
* DS2: real, balanced by undersampling every class to the smallest one;
* DS3: real, balanced *up* with synthetic images to twice the largest class, every real
  image kept.

The paper's hospital data are private; the kit uses the NIH ChestX-ray14 single-label
images of the same five findings (or the phantoms), split by patient. The paper's per-class
"accuracy" is the fraction of a class's test images labelled correctly (recall); its total
is the accuracy on a test set with equal images per class, i.e. the mean of the per-class
values, which is what the kit reports as total (balanced accuracy) whatever the test mix.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path

import keras
import numpy as np
import pandas as pd

from cxr_keras.reproductions import exceeds

DATASETS = ("DS1", "DS2", "DS3")
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


def class_counts(y: np.ndarray, num_classes: int) -> np.ndarray:
    """Images per class as an int array of length ``num_classes``."""
    y = np.asarray(y, dtype=int)
    if len(y) and (y.min() < 0 or y.max() >= num_classes):
        raise ValueError(f"labels must be in [0, {num_classes}), got {np.unique(y)}")
    return np.bincount(y, minlength=num_classes)


def undersample_to_smallest(x: np.ndarray, y: np.ndarray, num_classes: int, seed: int = 0):
    """DS2: a seeded random subset with as many images per class as the smallest class has."""
    counts = class_counts(y, num_classes)
    if counts.min() == 0:
        empty = np.flatnonzero(counts == 0).tolist()
        raise ValueError(f"class(es) {empty} have no images; undersampling would empty every class")
    rng = np.random.default_rng(seed)
    keep = np.concatenate([
        rng.choice(np.flatnonzero(y == k), counts.min(), replace=False) for k in range(num_classes)
    ])
    keep.sort()
    return x[keep], y[keep]


def synthetic_needed(y: np.ndarray, num_classes: int, factor: float = 2.0) -> np.ndarray:
    """Synthetic images per class that bring every class to ``factor`` x the largest class."""
    counts = class_counts(y, num_classes)
    target = round(factor * counts.max())
    if target < counts.max():
        raise ValueError(f"factor must be >= 1 so no real image is dropped, got {factor}")
    return target - counts


def balance_with_synthetic(
    x: np.ndarray, y: np.ndarray, synthetic: Sequence[np.ndarray], factor: float = 2.0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """DS3: all real images plus synthetic ones up to ``factor`` x the largest class per class.

    ``synthetic[k]`` holds generated images of class ``k`` (at least the number needed; the
    first ones are used). Returns (x, y, is_synthetic) with the real images first.
    """
    needed = synthetic_needed(y, len(synthetic), factor)
    parts_x, parts_y = [np.asarray(x, dtype=np.float32)], [np.asarray(y)]
    for k, (images, n) in enumerate(zip(synthetic, needed)):
        if len(images) < n:
            raise ValueError(
                f"class {k} needs {n} synthetic images to reach {factor:g}x the largest class, "
                f"got {len(images)}; generate more"
            )
        if n and np.asarray(images).shape[1:] != np.asarray(x).shape[1:]:
            raise ValueError(
                f"synthetic images of class {k} have shape {np.asarray(images).shape[1:]}, the real "
                f"ones {np.asarray(x).shape[1:]}; generate at the classifier's size"
            )
        parts_x.append(np.asarray(images[:n], dtype=np.float32))
        parts_y.append(np.full(n, k, dtype=np.asarray(y).dtype))
    is_synthetic = np.concatenate([np.zeros(len(y), bool), np.ones(int(needed.sum()), bool)])
    return np.concatenate(parts_x), np.concatenate(parts_y), is_synthetic


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
    from sklearn.metrics import recall_score

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
    """95% percentile bootstrap CI, over test images, of the run-averaged Table 1 row.

    ``run_predictions`` is (n_test, n_runs) predicted labels; each resample of test images
    (of patients with ``groups``) recomputes every run's per-class accuracy and their mean.
    Resampling is stratified by true class, as the paper's test set has fixed class counts:
    a resample never drops a class, which would make its Total a mean over fewer classes. A
    class whose test images come from one patient (one image without ``groups``) gets no
    interval (NaN): resampling a single unit always gives the same value, a zero-width
    interval that would only look precise.
    """
    from cxr_keras.metrics.classification import bootstrap_distribution

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


def validation_curve_figure(histories: pd.DataFrame, metric: str = "val_balanced_accuracy"):
    """Figure 5: mean validation accuracy per epoch for each dataset, with a ±1 std band
    (clipped to [0, 1] for accuracies).

    ``histories`` has columns ``dataset``, ``run``, ``epoch`` and ``metric``. The default is
    the balanced validation accuracy, which is what the paper's curve shows: its validation
    set had equal images per class.
    """
    from matplotlib.figure import Figure

    missing = {"dataset", "run", "epoch", metric} - set(histories.columns)
    if missing:
        raise ValueError(f"histories lack columns {sorted(missing)}")
    figure = Figure(figsize=(6, 4))
    axis = figure.add_subplot()
    for dataset, frame in histories.groupby("dataset", sort=False):
        stats = frame.groupby("epoch")[metric].agg(["mean", "std"]).fillna({"std": 0.0})
        axis.plot(stats.index, stats["mean"], label=dataset)
        low, high = stats["mean"] - stats["std"], stats["mean"] + stats["std"]
        if "accuracy" in metric:
            low, high = low.clip(lower=0.0), high.clip(upper=1.0)
        axis.fill_between(stats.index, low, high, alpha=0.25)
    name = {"val_accuracy": "validation accuracy",
            "val_balanced_accuracy": "balanced validation accuracy"}.get(metric, metric.replace("_", " "))
    axis.set_xlabel("epoch")
    axis.set_ylabel(name)
    axis.set_title(f"{name.capitalize()} during DCNN training (mean ± std over runs)")
    axis.legend()
    return figure


def claims(table: pd.DataFrame) -> pd.DataFrame:
    """The paper's claims checked against the kit's Table 1 (``table_1`` output).

    Claims: DS3 beats DS1 in total accuracy; DS3 beats DS1 in every class; DS2 is below DS1 in
    total; the largest DS3-over-DS1 gain is in the class with the fewest images
    (Pneumothorax in the paper). A comparison of totals holds only when their bootstrap
    intervals (when ``table`` has them) do not overlap.
    """
    kit = table.pivot(index="class", columns="dataset", values="kit_mean")
    totals = table[table["class"] == TOTAL].set_index("dataset")
    bounds = [c if c in totals else "kit_mean" for c in ("ci_low", "ci_high")]

    def total(dataset):
        return totals.loc[dataset, ["kit_mean", *bounds]].tolist()

    def total_text(dataset):
        value, low, high = total(dataset)
        return f"{dataset} {value:.1f}%" + (f" [{low:.1f}, {high:.1f}]" if "ci_low" in totals else "")

    rows = []
    if {"DS1", "DS3"} <= set(kit.columns):
        gain = (kit["DS3"] - kit["DS1"]).drop(TOTAL)
        held, note = exceeds(total("DS3"), total("DS1"))
        rows.append(("DS3 total accuracy > DS1 total accuracy",
                     f"{total_text('DS1')} vs {total_text('DS3')}{note}", held))
        rows.append(("DS3 > DS1 in every class",
                     ", ".join(f"{c} {g:+.1f}" for c, g in gain.items()), bool((gain > 0).all())))
        largest = gain.idxmax()
        rows.append(("largest DS3 gain in Pneumothorax (the rarest class)",
                     f"largest gain: {largest} ({gain.max():+.1f} points)",
                     paper_class_name(largest) == "Pneumothorax"))
    if {"DS1", "DS2"} <= set(kit.columns):
        held, note = exceeds(total("DS1"), total("DS2"))
        rows.append(("DS2 total accuracy < DS1 total accuracy",
                     f"{total_text('DS1')} vs {total_text('DS2')}{note}", held))
    return pd.DataFrame(rows, columns=["claim", "kit", "held"])


# The paper's setting the caveats compare against: 2,000 GAN training images per class at
# mini-batch 64, and 1,000 test images equal per class (200 each).
PAPER_GAN_UPDATES_PER_EPOCH = 2000 // 64
PAPER_TEST_PER_CLASS = 200


def caveats(counts: pd.DataFrame, gan_epochs: int, gan_batch_size: int,
            synthetic: Mapping[str, np.ndarray], real_by_class: Mapping[str, np.ndarray],
            runs: pd.DataFrame | None = None,
            test_patients: Mapping[str, int] | None = None) -> pd.DataFrame:
    """Why this run's numbers may differ from the paper's, measured on this run.

    ``counts`` has ``train``, ``val`` and ``test`` image counts per class (rows); ``synthetic``
    and ``real_by_class`` are the DS3 synthetic and real training images by class; ``runs``
    the per-run, per-class test accuracies of :func:`run_dcnn_experiment`;
    ``test_patients`` the patients behind each class's test images. Returns rows of
    (factor, note).
    """
    from cxr_keras.reproductions import by_class_text
    from cxr_keras.reproductions.per_class_gan import gan_updates, sample_quality_note

    counts = counts[["train", "val", "test"]].fillna(0).astype(int)
    names = list(counts.index)
    updates = gan_updates(counts["train"].to_dict(), gan_epochs, gan_batch_size)
    share = pd.Series({name: len(synthetic[name]) / (len(synthetic[name]) + len(real_by_class[name]))
                       for name in names})
    rows = [
        ("GAN training", (f"optimizer steps per class GAN: {by_class_text(updates[names])} (the "
         f"paper: 2,000 images per class at batch 64, {PAPER_GAN_UPDATES_PER_EPOCH} steps per epoch)")),
        ("synthetic samples", sample_quality_note({n: synthetic[n] for n in names}, real_by_class)),
        ("DS3 composition", ("synthetic share of each class in DS3: "
         f"{by_class_text(share, lambda v: f'{v:.0%}')}")),
        ("test set", (f"test images per class: {by_class_text(counts['test'][names], int)} (the "
         f"paper: {PAPER_TEST_PER_CLASS} per class); one image is "
         f"{100 / max(1, counts['test'][names].min()):.0f} points of the smallest class's accuracy")
         + ("" if test_patients is None else (
             f"; from {by_class_text({n: int(test_patients.get(n, 0)) for n in names})} patients "
             "(a class from one patient gets no interval)"))),
    ]
    majority = counts["val"].max() / max(1, counts["val"].sum())
    smallest = counts["val"][names].min()
    rows.append(("early stopping", (f"it keeps the epoch with the best balanced validation accuracy "
                 f"(mean recall over classes; the paper's validation set was balanced, ours has "
                 f"its largest class at {majority:.0%}, where plain accuracy would reward naming that "
                 f"class for every image); the smallest class has {smallest} validation image(s), "
                 f"so that choice is noisy")))
    if runs is not None:
        per_class = runs[runs["class"] != TOTAL]
        one_class = (per_class.assign(hit=per_class["accuracy"] > 0)
                     .groupby(["dataset", "run"])["hit"].sum() == 1).groupby("dataset").agg(["sum", "size"])
        rows.append(("one-class classifiers", "runs that name a single class for every test image: "
                     + ", ".join(f"{name} {int(r['sum'])} of {int(r['size'])}" for name, r in one_class.iterrows())))
    return pd.DataFrame(rows, columns=["factor", "note"])


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


class SigmoidDecay(keras.optimizers.schedules.LearningRateSchedule):
    """Learning rate falling along a sigmoid from ``initial`` at step 0 to ~0.7% at ``total_steps``.

    The paper says "sigmoid decay adaptive learning rate starting at 1e-3" without the curve;
    the kit's choice is ``initial * (1 + e^-s/2) / (1 + e^(s (step/total - 1/2)))``, s = 10.
    """

    def __init__(self, initial: float, total_steps: int, steepness: float = 10.0):
        if initial <= 0 or total_steps < 1:
            raise ValueError(f"need initial > 0 and total_steps >= 1, got {initial} and {total_steps}")
        self.initial, self.total_steps, self.steepness = float(initial), int(total_steps), float(steepness)

    def __call__(self, step):
        from keras import ops

        progress = ops.cast(step, "float32") / self.total_steps
        scale = (1.0 + np.exp(-self.steepness / 2)) / (1.0 + ops.exp(self.steepness * (progress - 0.5)))
        return self.initial * scale

    def get_config(self):
        return {"initial": self.initial, "total_steps": self.total_steps, "steepness": self.steepness}


def dcnn_optimizer(learning_rate: float, total_steps: int):
    """Factory of the paper's optimizer: Adam (beta1 0.5) with :class:`SigmoidDecay`."""
    return lambda: keras.optimizers.Adam(SigmoidDecay(learning_rate, total_steps), beta_1=0.5)


def run_dcnn_experiment(
    x: np.ndarray,
    y: np.ndarray,
    synthetic: Sequence[np.ndarray] | None,
    val: tuple[np.ndarray, np.ndarray],
    test: tuple[np.ndarray, np.ndarray],
    class_names: Sequence[str],
    out_dir,
    runs: int = 3,
    epochs: int = 100,
    batch_size: int = 128,
    learning_rate: float = 1e-3,
    patience: int | None = 10,
    factor: float = 2.0,
    test_groups=None,
    n_boot: int = 200,
    seed: int = 0,
) -> dict[str, pd.DataFrame]:
    """Train the DCNN on DS1, DS2 and DS3 ``runs`` times each; test every run.

    Run ``r`` uses seed ``seed + r`` for weights, shuffling and DS2's undersample. Every run's
    history and test probabilities go to ``out_dir/<dataset>/run-<r>/``; a finished run is
    read back, not retrained. Returns ``runs`` (dataset, run, class,
    accuracy %), ``histories`` (dataset, run, epoch, ...), ``sizes`` (images per class and
    dataset) and ``table`` (:func:`table_1` with bootstrap CIs over test images).
    """
    from cxr_keras.experiments import BALANCED_ACCURACY, ValidationBalancedAccuracy
    from cxr_keras.models import salehinejad_dcnn
    from cxr_keras.reproductions import train_or_load_classifier

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
                callbacks=callbacks)
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


def nih_root(data: str | os.PathLike) -> Path:
    """The NIH folder: ``data/nih_cxr14_nih1000`` in a root laid out like ../shared/data, else
    ``data`` itself."""
    from cxr_keras.paths import NIH_DIR

    root = Path(data).expanduser()
    return root / NIH_DIR if (root / NIH_DIR).is_dir() else root


def split_by_patient(dataset, test_fraction: float = 0.2, val_fraction: float = 0.1, seed: int = 0):
    """A copy of ``dataset`` re-split into train / val / test by patient (stratified by each
    patient's most frequent label), ignoring any split it came with."""
    from cxr_keras.data import check_no_patient_overlap, patient_split

    frame = dataset.frame.assign(split="train")
    frame = patient_split(frame, test_fraction, seed=seed, target="test")
    frame = patient_split(frame, val_fraction, seed=seed, target="val")
    check_no_patient_overlap(frame, source=dataset.name)
    view = dataset.subset()
    view.frame = frame
    return view


def load_dataset(data: str, phantom_counts: Mapping[str, int] | None = None, image_size: int = 64,
                 test_fraction: float = 0.2, val_fraction: float = 0.1, seed: int = 0):
    """The five-class set: NIH ChestX-ray14 single-label images under ``data``, or phantoms
    (``data == "phantoms"``), re-split by patient."""
    from cxr_keras.data import NIHChestXray14Dataset, PhantomDataset
    from cxr_keras.data.nih import SALEHINEJAD_CLASSES

    if data == "phantoms":
        dataset = PhantomDataset(phantom_counts or PHANTOM_COUNTS, size=max(32, image_size), seed=seed)
        dataset = dataset.subset(classes=PHANTOM_STAND_INS)
    else:
        dataset = NIHChestXray14Dataset(nih_root(data), classes=SALEHINEJAD_CLASSES, single_label=True)
    return split_by_patient(dataset, test_fraction, val_fraction, seed)


def build_gan(image_size: int, learning_rate: float = 2e-4, beta_1: float = 0.5, seed: int = 0):
    """The paper's per-class DCGAN (128-d uniform z, six up-convolutions at 256 px), compiled
    with Adam(``learning_rate``, beta1 0.5) for G and D."""
    from cxr_keras.gan import GAN
    from cxr_keras.models import GAN_ARCHITECTURES, build_gan_pair

    keras.utils.set_random_seed(seed)
    latent = GAN_ARCHITECTURES["salehinejad"].latent
    generator, discriminator = build_gan_pair("salehinejad", image_size, 1)
    gan = GAN(generator, discriminator, latent.dim, latent.distribution, seed=seed)
    gan.compile(keras.optimizers.Adam(learning_rate, beta_1=beta_1),
                keras.optimizers.Adam(learning_rate, beta_1=beta_1))
    return gan


def drop_small_classes(dataset, min_train_images: int):
    """Keep the classes with at least ``min_train_images`` training images; return the
    restricted dataset and the dropped class names."""
    counts = dataset.class_counts("train")
    kept = [name for name in dataset.classes if counts[name] >= min_train_images]
    if len(kept) < 2:
        raise ValueError(
            f"fewer than 2 classes have {min_train_images} training images ({counts.to_dict()}); "
            "lower min_train_images or use more data"
        )
    return dataset.subset(classes=kept), [name for name in dataset.classes if name not in kept]
