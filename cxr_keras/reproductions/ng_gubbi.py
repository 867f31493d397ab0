"""Ng & Gubbi: a plain GAN and a label-conditioned GAN (cGAN) on 7 NIH ChestX-ray14 classes.
Details: docs/modules.md."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from cxr_keras.data import NIHChestXray14Dataset, PhantomDataset
from cxr_keras.data.nih import NG_GUBBI_CLASSES
from cxr_keras.data.selection import cap_training_images, resolve_root, split_by_patient
from cxr_keras.gan import ShuffledBatches, latent_vectors, sample_grid_figure
from cxr_keras.health import GANSamples
from cxr_keras.metrics.classification import bootstrap_ci
from cxr_keras.metrics.diversity import DENSITY_COVERAGE_K
from cxr_keras.paths import NIH_DIR
from cxr_keras.reproductions.gan_setup import build_compiled_gan
from cxr_keras.reproductions.verdicts import caveat_rows, caveats_frame, claim_row, claims_frame

PAPER_EPOCHS = 50
# Table 1 of the paper: D accuracy on fake / real (fractions), D loss, G loss.
PAPER_TABLE_1 = pd.DataFrame(
    {
        "epoch": [10, 20, 30, 40, 50], "d_acc_fake": [0.91, 0.86, 0.92, 0.91, 0.88],
        "d_acc_real": [0.82, 0.79, 0.81, 0.86, 0.82], "d_loss": [0.346, 0.367, 0.439, 0.447, 0.465],
        "g_loss": [2.62, 1.77, 2.51, 2.41, 2.46],
    }
)
TABLE_COLUMNS = ("d_acc_fake", "d_acc_real", "d_loss", "g_loss")


LABEL_OPTIONS = ("label_sampling", "balanced_batches")


def split_label_options(recipe: Mapping | None) -> tuple[dict, dict]:
    """Split a recipe into ``(label options of LABEL_OPTIONS, the engine recipe)``."""
    recipe = dict(recipe or {})
    labels = {key: recipe.pop(key) for key in LABEL_OPTIONS if key in recipe}
    if not isinstance(labels.get("balanced_batches", False), bool):
        raise TypeError(f"balanced_batches must be true or false, got {labels['balanced_batches']!r}")
    return labels, recipe


def build_gans(
    image_size: int, num_classes: int, label_sampling: str = "uniform",
    class_prior: Sequence[float] | None = None, learning_rate: float = 2e-4, beta_1: float = 0.5,
    seed: int = 0, recipe: Mapping | None = None,
):
    """The compiled plain GAN and cGAN (paper architectures) at ``image_size``, 1 channel.

    The paper says only "Adam"; the kit uses lr 2e-4 and beta1 0.5 (the DCGAN defaults).
    ``class_prior`` is required with ``label_sampling="empirical"``. ``recipe`` (see
    docs/modules.md) sets both GANs' training options; its ``label_sampling`` replaces the
    argument, and its ``balanced_batches`` is for :func:`training_batches`.
    """
    labels, engine = split_label_options(recipe)
    label_sampling = labels.get("label_sampling", label_sampling)
    betas = (beta_1, 0.999)
    gan = build_compiled_gan("ng_gubbi", image_size, 1, learning_rate, betas, seed, recipe=engine)
    cgan = build_compiled_gan("ng_gubbi_cgan", image_size, 1, learning_rate, betas, seed,
                              num_classes=num_classes, label_sampling=label_sampling,
                              class_prior=class_prior, recipe=engine)
    return gan, cgan


def balanced_indices(labels: np.ndarray, seed: int = 0) -> np.ndarray:
    """Indices that repeat every class's images up to the largest class's count: each image
    of a class appears ``count // n`` or one more times (which ones get the extra copy is
    drawn from ``seed``). Sorted by class, then by index."""
    labels = np.asarray(labels).astype(int).ravel()
    if len(labels) == 0:
        raise ValueError("labels is empty; pass one label per training image")
    rng = np.random.default_rng(seed)
    classes, counts = np.unique(labels, return_counts=True)
    target = counts.max()
    chosen = []
    for label, count in zip(classes, counts):
        members = np.flatnonzero(labels == label)
        extra = rng.choice(members, target % count, replace=False)
        chosen.append(np.sort(np.concatenate([np.tile(members, target // count), extra])))
    return np.concatenate(chosen)


def training_batches(images: np.ndarray, labels: np.ndarray | None, batch_size: int,
                     seed: int = 0, balanced_batches: bool = False) -> ShuffledBatches:
    """The GAN's batches: ``(images, labels)`` for the cGAN (class-balanced by
    :func:`balanced_indices` when ``balanced_batches``), images alone when ``labels`` is None."""
    if labels is None:
        if balanced_batches:
            raise ValueError("balanced_batches needs labels; pass the training labels")
        return ShuffledBatches(images, batch_size=batch_size, seed=seed)
    labels = np.asarray(labels).astype("int32")
    if balanced_batches:
        keep = balanced_indices(labels, seed)
        images, labels = np.asarray(images)[keep], labels[keep]
    return ShuffledBatches(images, labels, batch_size=batch_size, seed=seed)


def table_1(history: pd.DataFrame, paper_epochs: int = PAPER_EPOCHS) -> pd.DataFrame:
    """The paper's Table 1 beside the kit's values at the same fraction of training.

    ``history`` is a :func:`cxr_keras.gan.train_gan` history (columns ``epoch``, ``d_loss``,
    ``g_loss``, ``d_acc_real``, ``d_acc_fake``). The kit's D loss is halved (see module doc).
    """
    missing = {"epoch", *TABLE_COLUMNS} - set(history.columns)
    if missing:
        raise ValueError(f"history lacks columns {sorted(missing)}; pass a train_gan history")
    if history.empty:
        raise ValueError("history is empty; train at least one epoch")
    history = history.set_index("epoch")
    run_epochs = int(history.index.max())
    rows = []
    for _, paper in PAPER_TABLE_1.iterrows():
        epoch = int(min(max(round(paper["epoch"] / paper_epochs * run_epochs), 1), run_epochs))
        kit = history.loc[epoch]
        row = {"paper_epoch": int(paper["epoch"]), "kit_epoch": epoch}
        for column in TABLE_COLUMNS:
            row[f"paper_{column}"] = paper[column]
            row[f"kit_{column}"] = kit[column] / 2.0 if column == "d_loss" else kit[column]
        rows.append(row)
    return pd.DataFrame(rows)


def same_noise_images(cgan, n_noise: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Images for ``n_noise`` noise vectors under every label: (n_noise, classes, H, W, C).

    Row ``i`` holds noise vector ``i`` rendered as each class in turn. Returns the images
    and the labels grid.
    """
    if n_noise < 1:
        raise ValueError(f"n_noise must be positive, got {n_noise}")
    classes = cgan.num_classes
    z = latent_vectors(n_noise, cgan.latent_dim, cgan.latent_distribution, seed)
    labels = np.tile(np.arange(classes, dtype="int32"), n_noise)
    images = cgan.generate_from_latent(np.repeat(z, classes, axis=0), labels)
    return images.reshape(n_noise, classes, *images.shape[1:]), labels.reshape(n_noise, classes)


def label_effect(images: np.ndarray) -> dict[str, float]:
    """How much the label moves the image, against how much the noise does.

    ``images`` is the (n_noise, classes, H, W, C) array of :func:`same_noise_images`.
    ``label_change``: mean absolute pixel difference between two labels under the same noise;
    ``noise_change``: between two noise vectors under the same label; ``ratio``: their
    quotient (near 0: the label barely matters, as the paper observed; near 1 or above: the
    label changes the image as much as a new noise vector does).
    """
    images = np.asarray(images, dtype=np.float64)
    if images.ndim != 5 or images.shape[0] < 2 or images.shape[1] < 2:
        raise ValueError(
            f"need (n_noise >= 2, classes >= 2, H, W, C) images, got shape {images.shape}"
        )
    flat = images.reshape(images.shape[0], images.shape[1], -1)

    def mean_pairwise(groups):  # groups: (g, members, pixels) -> mean |a - b| over member pairs
        diffs = np.abs(groups[:, :, None, :] - groups[:, None, :, :]).mean(axis=-1)
        members = groups.shape[1]
        return float(diffs.sum() / (len(groups) * members * (members - 1)))

    label_change = mean_pairwise(flat)
    noise_change = mean_pairwise(flat.transpose(1, 0, 2))
    return {"label_change": label_change, "noise_change": noise_change,
            "ratio": label_change / noise_change if noise_change > 0 else float("nan")}


def same_noise_figure(images: np.ndarray, class_names: Sequence[str]):
    """Figure 9: one row per noise vector, one column per label."""
    n_noise, classes = images.shape[:2]
    labels = np.tile(np.arange(classes), n_noise)
    return sample_grid_figure(images.reshape(-1, *images.shape[2:]), labels, list(class_names),
                              ncols=classes, title="Same noise (row), different label (column)")


def label_agreement(
    requested: np.ndarray, predicted_fake: np.ndarray, y_real: np.ndarray,
    predicted_real: np.ndarray, class_names: Sequence[str], n_boot: int = 200, seed: int = 0,
) -> pd.DataFrame:
    """Per class: agreement of a real-trained classifier with the cGAN's requested label, beside
    that classifier's accuracy on real test images of the class, with 95% bootstrap CIs.

    Columns: class, n_fake, agreement, agreement_low/high, n_real, real_accuracy,
    real_accuracy_low/high. A last row ``all`` pools the classes. A class without real test
    images gets NaN real accuracy.
    """
    requested, predicted_fake = np.asarray(requested, int), np.asarray(predicted_fake, int)
    y_real, predicted_real = np.asarray(y_real, int), np.asarray(predicted_real, int)
    if len(requested) != len(predicted_fake) or len(y_real) != len(predicted_real):
        raise ValueError("each label array needs one prediction per image")

    def hit_rate(truth, predicted):
        return float(np.mean(truth == predicted))

    def estimate(truth, predicted, prefix, index):
        if len(truth) == 0:
            return {f"n_{prefix}": 0, prefix: np.nan, f"{prefix}_low": np.nan, f"{prefix}_high": np.nan}
        ci = bootstrap_ci(hit_rate, truth, predicted, n_boot=n_boot, seed=seed + index)
        return {f"n_{prefix}": len(truth), prefix: ci["estimate"], f"{prefix}_low": ci["low"],
                f"{prefix}_high": ci["high"]}

    rows = []
    for k, name in enumerate([*class_names, "all"]):
        fake = slice(None) if name == "all" else requested == k
        real = slice(None) if name == "all" else y_real == k
        row = {"class": name}
        row.update(estimate(requested[fake], predicted_fake[fake], "agreement", k))
        row.update(estimate(y_real[real], predicted_real[real], "real_accuracy", k))
        rows.append(row)
    frame = pd.DataFrame(rows).rename(columns={"n_agreement": "n_fake", "n_real_accuracy": "n_real"})
    frame["chance"] = 1.0 / len(class_names)
    return frame


def requested_labels(num_classes: int, per_class: int) -> np.ndarray:
    """``per_class`` labels of every class, class-major (0, 0, ..., 1, 1, ...)."""
    if per_class < 1:
        raise ValueError(f"per_class must be positive, got {per_class}")
    return np.repeat(np.arange(num_classes, dtype="int32"), per_class)


def claims(table: pd.DataFrame, effect: dict, agreement: pd.DataFrame,
           generator: str | None = None) -> pd.DataFrame:
    """The paper's claims checked against the kit's numbers, a
    :func:`~cxr_keras.reproductions.verdicts.claims_frame`.

    ``table`` is :func:`table_1` output for the cGAN; ``effect`` :func:`label_effect`;
    ``agreement`` :func:`label_agreement`; ``generator`` the cGAN's health verdict, which the
    two claims on its images (:func:`image_claims`) carry.
    """
    last = table.iloc[-1]
    fake, real = last["kit_d_acc_fake"], last["kit_d_acc_real"]
    return claims_frame([
        claim_row("D stays ahead: accuracy on fake and real above 50% at the end of training",
                  "D accuracy at the last epoch, lower of fake and real", min(fake, real),
                  held=bool(fake > 0.5 and real > 0.5), paper=min(PAPER_TABLE_1.iloc[-1][["d_acc_fake", "d_acc_real"]])),
        claim_row("G loss above D loss at the end of training", "G loss vs D loss at the last epoch",
                  last["kit_g_loss"], held=bool(last["kit_g_loss"] > last["kit_d_loss"]),
                  versus=last["kit_d_loss"], paper=PAPER_TABLE_1.iloc[-1]["g_loss"]),
        *image_claims(effect, agreement, generator),
    ])


def image_claims(effect: dict, agreement: pd.DataFrame, generator: str | None = None,
                 recipe: str | None = None) -> list[dict]:
    """The two claims that rest on the cGAN's images (label effect, label agreement) as
    :func:`~cxr_keras.reproductions.verdicts.claim_row` rows judged with the cGAN's health
    ``generator``; ``recipe`` (e.g. ``"kit"``) is named in the claim when given."""
    overall = agreement.set_index("class").loc["all"]
    suffix = f" ({recipe} recipe)" if recipe else ""
    return [
        claim_row(f"the label barely changes the image (label change below half the noise change){suffix}",
                  "label / noise pixel change ratio", effect["ratio"], held=bool(effect["ratio"] < 0.5),
                  generator=generator),
        claim_row(f"the cGAN's images carry their label (agreement interval above chance){suffix}",
                  "label agreement vs chance",
                  overall[["agreement", "agreement_low", "agreement_high"]].tolist(),
                  held=bool(overall["agreement_low"] > overall["chance"]), versus=overall["chance"],
                  generator=generator),
    ]


def balanced_accuracy(y_real: np.ndarray, predicted_real: np.ndarray, n_boot: int = 200,
                      seed: int = 0) -> dict[str, float]:
    """How well the agreement classifier separates the classes on real images at all: the
    mean per-class accuracy over the classes present in ``y_real``, with a 95% bootstrap CI,
    beside ``chance`` (1 / those classes). Label agreement cannot be read above chance
    when this interval is not."""
    y_real, predicted_real = np.asarray(y_real, int), np.asarray(predicted_real, int)
    if len(y_real) == 0 or len(y_real) != len(predicted_real):
        raise ValueError("y_real and predicted_real need one prediction per real image (at least one)")

    def mean_recall(truth, predicted):
        return float(np.mean([np.mean(predicted[truth == k] == k) for k in np.unique(truth)]))

    ci = bootstrap_ci(mean_recall, y_real, predicted_real, n_boot=n_boot, seed=seed)
    return {"balanced_accuracy": ci["estimate"], "low": ci["low"], "high": ci["high"],
            "chance": 1.0 / len(np.unique(y_real)), "classes": len(np.unique(y_real))}


MIN_HEALTH_IMAGES = DENSITY_COVERAGE_K + 1  # images per set: k nearest neighbours and the image


def cgan_health_samples(generated: np.ndarray, requested: np.ndarray, train: tuple, holdout: tuple,
                        class_names: Sequence[str], history: pd.DataFrame | None = None,
                        name: str = "cGAN") -> dict[str, GANSamples]:
    """Per class ``c``: the cGAN's images asked for as ``c`` against held-out real images of
    ``c``, as ``{"<name> / <class>": GANSamples}`` for :func:`gan_health`. ``train`` and
    ``holdout`` are ``(images, labels)``; a class with fewer than :data:`MIN_HEALTH_IMAGES`
    generated, training or held-out images is left out (density and coverage need that many)."""
    requested = np.asarray(requested, int)
    (x_train, y_train), (x_holdout, y_holdout) = train, holdout
    samples = {}
    for k, class_name in enumerate(class_names):
        members = [x[np.asarray(y) == k] for x, y in ((x_train, y_train), (x_holdout, y_holdout))]
        fake = np.asarray(generated)[requested == k]
        if min(len(fake), *(len(images) for images in members)) >= MIN_HEALTH_IMAGES:
            samples[f"{name} / {class_name}"] = GANSamples(fake, *members, history)
    return samples


PAPER_IMAGES = 50_000  # "about 50,000 images", batch 128
PAPER_GAN_STEPS = PAPER_EPOCHS * (PAPER_IMAGES // 128)


def caveats(agreement: pd.DataFrame, train_counts: pd.Series, gan_epochs: int,
            batch_size: int, separability: dict | None = None) -> pd.DataFrame:
    """Why this run's numbers may differ from the paper's, measured on this run: a
    :func:`~cxr_keras.reproductions.verdicts.caveats_frame`.

    ``agreement`` is :func:`label_agreement` output; ``train_counts`` the training images per
    class; ``separability`` :func:`balanced_accuracy` of the agreement classifier, when known.
    """
    train_counts = train_counts.fillna(0).astype(int)
    total = int(train_counts.sum())
    rows = agreement.set_index("class")
    overall = rows.loc["all"]
    unmeasured = rows.drop("all")["n_real"]
    return caveats_frame(
        caveat_rows("GAN training", "training images", total, paper=PAPER_IMAGES),
        caveat_rows("GAN training", "optimizer steps", int(gan_epochs) * (total // min(int(batch_size), total)),
                    paper=PAPER_GAN_STEPS),
        caveat_rows("GAN training", "training images per class", train_counts),
        caveat_rows("agreement classifier", "accuracy on real test images",
                    overall[["real_accuracy", "real_accuracy_low", "real_accuracy_high"]].tolist()),
        caveat_rows("agreement classifier", "chance", overall["chance"]),
        *([caveat_rows("agreement classifier", "balanced accuracy on real test images",
                       [separability[key] for key in ("balanced_accuracy", "low", "high")]),
           caveat_rows("agreement classifier", "chance among the classes with test images",
                       separability["chance"])] if separability else []),
        caveat_rows("test set", "real test images (none: the classifier's accuracy there is unmeasured)",
                    unmeasured[unmeasured == 0]),
    )


# Phantom findings standing in for the seven NIH classes (the phantoms have six).
PHANTOM_STAND_INS = ["normal", "cardiomegaly", "effusion", "pneumothorax", "consolidation", "edema"]


def load_dataset(data: str, phantom_counts=None, image_size: int = 64,
                 max_train_per_class: int | None = None, seed: int = 0, on_error: str = "raise"):
    """The 7-class NIH set (single-label; No Finding + the 6 most frequent findings) under
    ``data``, or six phantom findings (``data == "phantoms"``); re-split by patient, training
    images capped at ``max_train_per_class`` per class (the paper's set was roughly uniform).
    ``on_error`` goes to the NIH loader."""
    if data == "phantoms":
        dataset = PhantomDataset(phantom_counts or 40, size=max(32, image_size), seed=seed)
        dataset = dataset.subset(classes=PHANTOM_STAND_INS)
    else:
        dataset = NIHChestXray14Dataset(resolve_root(data, NIH_DIR), classes=NG_GUBBI_CLASSES,
                                        single_label=True, on_error=on_error)
    return cap_training_images(split_by_patient(dataset, seed=seed), max_train_per_class, seed=seed)
