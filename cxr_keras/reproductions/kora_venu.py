"""Kora Venu & Ravula (2021): a DCGAN balances Kermany's Normal class, against classic augmentation.

:func:`compare_augmentations` trains one classifier per method (the paper's Table 1 and the
controls of :data:`CONTROLS`) and :func:`claims` judges each GAN against each of them on the
paired difference of accuracy. Protocol: docs/reproductions.md.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import keras
import numpy as np
import pandas as pd
from scipy import stats

from cxr_keras.augment import METHODS, balance_gap, gan_balance, oversample
from cxr_keras.classifier_training import check_xy, classifier_inputs, evaluation, train_classifier
from cxr_keras.data.kermany import KermanyDataset
from cxr_keras.data.phantom_dataset import PhantomDataset
from cxr_keras.data.selection import resolve_root, stratified_subsample
from cxr_keras.fingerprint import check_stamp, write_stamp
from cxr_keras.io import read_back_csv, write_csv
from cxr_keras.metrics.classification import predict_labels
from cxr_keras.metrics.paired import bonferroni, paired_difference
from cxr_keras.paths import KERMANY_DIR
from cxr_keras.reproductions.per_class_gan import distance_ratio, diversity_ratio
from cxr_keras.reproductions.verdicts import (
    caveat_rows,
    caveats_frame,
    claim_row,
    claims_frame,
    paper_vs_ours,
)

GAN_METHOD = "gan"  # balanced with the paper recipe's GAN; "gan_<recipe>" with another recipe's
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
# How the authors computed it (their README; their pytorch-fid issue #42): 768-d features of
# images resized to 299 x 299 with PIL beforehand, 1,341 real Normal images against 1,000
# generated ones.
AUTHORS_FID_PROTOCOL = {"dims": 768, "size": 299, "real": 1341, "generated": 1000}
PAPER_TEST_IMAGES = 1172
# The controls every GAN arm is also judged against, with what they stand for in the claims:
# "none" is the classic method without augmentation; "oversample" balances the classes with
# real minority images repeated (as many as the GAN adds, drawn with the seed); "class_weight"
# weights the loss by inverse class frequency. Same epochs and batch as every other method.
CONTROLS = {"none": "no augmentation", "oversample": "balancing by repeating real Normal images",
            "class_weight": "a class-weighted loss"}
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


def pil_resized(images: np.ndarray, size: int = AUTHORS_FID_PROTOCOL["size"]) -> np.ndarray:
    """[-1, 1] NHWC images resized to ``size`` x ``size`` with PIL's bicubic filter (Pillow's
    default for ``Image.resize``) after quantizing to 8 bits as a saved PNG would be; still in
    [-1, 1], 3 channels (grayscale repeated)."""
    from PIL import Image

    pixels = np.round((np.clip(np.asarray(images, np.float32), -1, 1) + 1) * 127.5).astype(np.uint8)
    if pixels.ndim != 4 or pixels.shape[-1] not in (1, 3):
        raise ValueError(f"images must be NHWC with 1 or 3 channels, got shape {pixels.shape}")
    resized = [np.asarray(Image.fromarray(image.squeeze(-1) if image.shape[-1] == 1 else image)
                          .convert("RGB").resize((size, size), Image.BICUBIC)) for image in pixels]
    return np.stack(resized).astype(np.float32) / 127.5 - 1.0


def authors_fid(real: np.ndarray, generated: np.ndarray, model=None, batch_size: int = 32) -> dict:
    """FID the authors' way (:data:`AUTHORS_FID_PROTOCOL`): up to 1,341 ``real`` (Normal
    training) images against up to 1,000 ``generated`` ones, each resized to 299 with PIL
    (:func:`pil_resized`), on 768-d Inception features (``model``: the FID Inception port,
    :func:`cxr_keras.metrics.inception` weights by default). Returns ``fid``, ``n_real``,
    ``n_generated``: read the FID beside the paper's 1.289 only at those counts."""
    from cxr_keras.metrics.features import extract_features  # loads TensorFlow: only when used
    from cxr_keras.metrics.frechet import fid_from_features

    protocol = AUTHORS_FID_PROTOCOL
    sets = {"real": np.asarray(real)[: protocol["real"]], "generated": np.asarray(generated)[: protocol["generated"]]}
    features = {}
    for name, images in sets.items():
        batches = (pil_resized(images[start:start + batch_size]) for start in range(0, len(images), batch_size))
        features[name] = extract_features(batches, model, dims=(protocol["dims"],), batch_size=batch_size,
                                          progress=False, name=f"{name} images",
                                          allow_nonnegative=True)[protocol["dims"]]
    return {"fid": fid_from_features(features["real"], features["generated"]),
            "n_real": len(sets["real"]), "n_generated": len(sets["generated"])}


def images_to_balance(frames: Mapping[str, pd.DataFrame], minority: str) -> int:
    """How many generated ``minority`` images GAN balancing needs on every split of ``frames``
    (``{name: dataset frame}`` with ``split`` and ``label`` columns, e.g. the official split and
    the patient-disjoint one): the largest gap between the biggest training class and
    ``minority`` over the frames."""
    gaps = []
    for name, frame in frames.items():
        counts = frame.loc[frame["split"] == "train", "label"].value_counts()
        if counts.empty:
            raise ValueError(f"split {name!r} has no training images")
        gaps.append(int(counts.max() - counts.get(minority, 0)))
    if not gaps:
        raise ValueError("frames is empty; pass at least one {name: frame}")
    return max(gaps)


def compare_augmentations(
    methods: Sequence[str], model_fn: Callable[[], keras.Model],
    train: tuple[np.ndarray, np.ndarray], test: tuple[np.ndarray, np.ndarray],
    class_names: Sequence[str], generated: np.ndarray | Mapping[str, np.ndarray] | None = None,
    target_class: int = 0, positive_class: int = 1, out_dir: str | os.PathLike | None = None,
    patient_ids: Sequence | None = None, n_boot: int = 200, seed: int = 0, **train_kwargs,
) -> pd.DataFrame:
    """Train one classifier per method with the same seed and budget; one row per method.

    ``methods``: names of :data:`cxr_keras.augment.METHODS`, :data:`CONTROLS` or ``"gan"`` /
    ``"gan_<recipe>"`` (balanced with ``generated`` images of ``target_class``); with
    ``out_dir`` predictions are stamped and reused. Columns: docs/modules.md.
    """
    if not methods:
        raise ValueError("methods is empty: pass augmentation names and/or 'gan'")
    if generated is not None and not isinstance(generated, Mapping):
        generated = {GAN_METHOD: generated}
    for method in methods:
        if not is_gan_method(method) and method not in {*METHODS, *CONTROLS}:
            raise ValueError(f"unknown augmentation {method!r} in methods; choose from {sorted({*METHODS, *CONTROLS})} "
                             f"or {GAN_METHOD!r} / '{GAN_METHOD}_<recipe>'")
        elif is_gan_method(method) and method not in (generated or {}):
            raise ValueError(f"method {method!r} needs generated images: pass generated={{{method!r}: images}}")
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


def is_gan_method(method: str) -> bool:
    """Whether ``method`` balances with generated images ("gan" or "gan_<recipe>")."""
    return method == GAN_METHOD or method.startswith(f"{GAN_METHOD}_")


def gan_method(recipe: str) -> str:
    """The comparison's method name for the GAN of ``recipe`` ("paper" -> "gan")."""
    return GAN_METHOD if recipe == "paper" else f"{GAN_METHOD}_{recipe}"


def across_seeds(per_seed: Mapping[int, pd.DataFrame], confidence: float = 0.95) -> pd.DataFrame:
    """:func:`compare_augmentations` frames of several seeds (``{seed: frame}``) as one frame:
    per metric the seed mean, an interval combining seed spread and test resampling in
    quadrature (docs/reproductions.md), ``<metric>_seed_sd`` / ``_seed_min`` / ``_seed_max``
    and ``n_seeds``."""
    if not per_seed:
        raise ValueError("per_seed is empty: pass {seed: compare_augmentations(...)}")
    frames = [frame.set_index("method") for frame in per_seed.values()]
    k = len(frames)
    t = stats.t.ppf(0.5 + confidence / 2, k - 1) if k > 1 else 0.0
    pooled = frames[0].copy()
    for metric in TABLE_METRICS:
        values = pd.concat([frame[metric] for frame in frames], axis=1)
        half_widths = pd.concat([(frame[f"{metric}_ci_high"] - frame[f"{metric}_ci_low"]) / 2
                                 for frame in frames], axis=1).mean(axis=1)
        spread = values.std(axis=1, ddof=1) if k > 1 else values.iloc[:, 0] * 0.0
        half = np.sqrt((t * spread / np.sqrt(k)) ** 2 + half_widths ** 2)
        pooled[metric] = values.mean(axis=1)
        pooled[f"{metric}_ci_low"] = (pooled[metric] - half).clip(lower=0.0)
        pooled[f"{metric}_ci_high"] = (pooled[metric] + half).clip(upper=1.0)
        pooled[f"{metric}_seed_sd"] = spread
        pooled[f"{metric}_seed_min"], pooled[f"{metric}_seed_max"] = values.min(axis=1), values.max(axis=1)
    pooled["n_seeds"] = k
    return pooled.reset_index()


def split_shift(official: pd.DataFrame, disjoint: pd.DataFrame, metric: str = "accuracy") -> pd.DataFrame:
    """How much each method's ``metric`` moves from the official split to a patient-disjoint
    one (both :func:`compare_augmentations` or :func:`across_seeds` frames): one row per
    method with both values, their intervals and ``shift_points`` (disjoint minus official,
    in percentage points)."""
    columns = [metric, f"{metric}_ci_low", f"{metric}_ci_high"]
    table = official.set_index("method")[columns].join(
        disjoint.set_index("method")[columns], lsuffix="_official", rsuffix="_disjoint", how="inner")
    table["shift_points"] = (table[f"{metric}_disjoint"] - table[f"{metric}_official"]) * 100
    return table.reset_index()


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


def accuracy_scores(run_dirs: Sequence[str | os.PathLike], methods: Sequence[str]) -> dict[str, np.ndarray]:
    """Per method, a (seeds, test images) array: 100 where that seed's classifier labelled the
    image right, 0 where wrong, read from the ``predictions.csv`` that
    :func:`compare_augmentations` wrote under each of ``run_dirs`` (one ``out_dir`` per seed,
    same test images): the scores :func:`claims` compares in pairs."""
    if not run_dirs:
        raise ValueError("run_dirs is empty: pass one compare_augmentations out_dir per seed")
    scores, truth = {}, None
    for method in methods:
        rows = []
        for run_dir in run_dirs:
            path = Path(run_dir) / method / "predictions.csv"
            if not path.is_file():
                raise FileNotFoundError(f"{path} is missing: run compare_augmentations with out_dir={run_dir}")
            predictions = pd.read_csv(path)
            y_true = predictions["y_true"].to_numpy()
            if truth is None:
                truth = y_true
            elif not np.array_equal(truth, y_true):
                raise ValueError(f"{path} has other test labels than the first run's: pass runs on the same test images")
            rows.append(100.0 * (predict_labels(predictions.filter(like="prob_").to_numpy()) == y_true))
        scores[method] = np.stack(rows)
    return scores


def claims(comparison: pd.DataFrame, scores: Mapping[str, np.ndarray], patient_ids: Sequence | None = None,
           generators: Mapping[str, str | None] | None = None, n_boot: int = 2000,
           confidence: float = 0.95, seed: int = 0) -> pd.DataFrame:
    """The paper's claim, a :func:`~cxr_keras.reproductions.verdicts.claims_frame`: each GAN
    method of ``comparison`` beats each classic augmentation of Table 1 and each control, on
    the paired difference of ``scores`` (:func:`accuracy_scores`) over seeds and test
    patients, Bonferroni-corrected per family; ``generators`` is {method: health verdict}."""
    indexed = comparison.set_index("method")
    missing = [method for method in indexed.index if method not in scores]
    if missing:
        raise ValueError(f"scores lack {missing}; pass accuracy_scores(run_dirs, comparison['method'])")
    paper_classic = [m for m in indexed.index if m in PAPER_TABLE_1.index and not is_gan_method(m)]
    controls = [m for m in CONTROLS if m in indexed.index]
    estimate = ["accuracy", "accuracy_ci_low", "accuracy_ci_high"]
    paper_gan = PAPER_TABLE_1.at[GAN_METHOD, "accuracy"]
    rows = []
    for method in (m for m in indexed.index if is_gan_method(m)):
        recipe = "the paper recipe's GAN" if method == GAN_METHOD else f"the {method[len(GAN_METHOD) + 1:]} recipe's GAN"
        for family in (paper_classic, controls):
            level = bonferroni(confidence, len(family)) if family else confidence
            for other in family:
                what = CONTROLS.get(other, f"{other} augmentation")
                paper_difference = (round(paper_gan - PAPER_TABLE_1.at[other, "accuracy"], 2)
                                    if other in PAPER_TABLE_1.index else np.nan)
                rows.append(claim_row(
                    f"GAN balancing beats {what} ({recipe})", f"accuracy, {method} vs {other}",
                    indexed.loc[method, estimate].tolist(), versus=indexed.loc[other, estimate].tolist(),
                    paper=paper_gan / 100, generator=(generators or {}).get(method),
                    difference=paired_difference(scores[method], scores[other], patient_ids, n_boot, level, seed),
                    paper_difference=paper_difference))
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
    if is_gan_method(method):
        x, y = gan_balance(x, y, generated[method], target_class)
    elif method == "oversample":
        x, y = oversample(x, y, {target_class: balance_gap(y, target_class)}, seed)
    elif method == "class_weight":
        train_kwargs = {**train_kwargs, "class_weight": inverse_frequency_weights(y)}
    method_dir = Path(out_dir) / method if out_dir is not None else None
    inputs = classifier_inputs((x, y), None, x_test, {"method": method, "seed": seed, **train_kwargs})
    if method_dir is not None and check_stamp(method_dir, inputs, f"classifier ({method})"):
        return read_back_csv(method_dir / "predictions.csv",
                             ["y_true", *(f"prob_{name}" for name in class_names)], len(y_test),
                             remedy=f"delete {method_dir} to train this classifier again")
    augmentation = method if method in METHODS and method != "none" else None
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


def inverse_frequency_weights(y: np.ndarray) -> dict[int, float]:
    """Loss weights {class: n / (classes x count)}: every class weighs as much in total."""
    counts = np.bincount(np.asarray(y, dtype=int))
    present = np.flatnonzero(counts)
    return {int(c): float(len(y) / (len(present) * counts[c])) for c in present}


def _training_size(method: str, train, target_class: int) -> int:
    _, y = train
    balanced = is_gan_method(method) or method == "oversample"
    return len(y) + (balance_gap(y, target_class) if balanced else 0)


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
