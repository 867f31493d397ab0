"""GAN health: where a GAN's samples sit between "real images" and "one image repeated". Details:
docs/modules.md."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from cxr_keras.fingerprint import array_digest
from cxr_keras.health.fidelity import class_agreement, near_duplicate_fraction, two_sample_auc
from cxr_keras.health.verdict import gan_verdict, training_signals
from cxr_keras.metrics.diversity import (
    DENSITY_COVERAGE_K,
    as_feature_matrix,
    density_coverage,
    diversity_ratio,
    nearest_distance_ratio,
)
from cxr_keras.metrics.frechet import RankDeficientCovarianceWarning, fid_from_features
from cxr_keras.metrics.generative import (
    WholeSetSubsetWarning,
    kernel_inception_distance,
    precision_recall,
)
from cxr_keras.metrics.memorization import (
    memorization_audit,
    memorization_summary,
    real_to_real_distances,
)

Embedder = Callable[[np.ndarray], Mapping[str, np.ndarray]]
Judge = Callable[[np.ndarray], np.ndarray]  # images -> (n, C) class probabilities
COMPARED_METRICS = (
    "fid", "kid", "precision", "recall", "density", "coverage", "diversity", "nearest_ratio",
)
KID_SUBSET = 1000  # items per KID subset (Binkowski et al.'s default)
COLLAPSE_NOISE = 0.02  # std in the [-1, 1] range: about 2.5 grey levels of an 8-bit image


def inception_embedder(model=None, batch_size: int = 32) -> Embedder:
    """Embedder giving ``inception_2048`` and ``inception_768`` (one Inception pass for both).

    Sets without a negative pixel are accepted: health compares the kit's own [-1, 1] images,
    where a bright real crop or a collapsed generator can have none (NaN is still refused).
    """
    from cxr_keras.metrics.features import extract_features  # loads TensorFlow: only when used

    def embed_inception(images):
        features = extract_features(
            images, model=model, dims=(2048, 768), batch_size=batch_size, progress=False,
            allow_nonnegative=True,
        )
        return {"inception_2048": features[2048], "inception_768": features[768]}

    return embed_inception


def penultimate_features(classifier, images, batch_size: int = 64) -> np.ndarray:
    """Features of ``images`` at the input of ``classifier``'s last layer (its penultimate layer).

    ``classifier`` is a built functional or Sequential ``keras.Model``. Grayscale images are
    repeated to 3 channels when the classifier takes 3.
    """
    import keras

    from cxr_keras.metrics.conversions import to_rgb  # with keras above: only when used

    if not isinstance(classifier, keras.Model):
        raise TypeError(f"classifier must be a keras.Model, got {type(classifier).__name__}")
    try:
        head_input = classifier.layers[-1].input
        extractor = keras.Model(classifier.inputs, head_input)
    except (AttributeError, ValueError, IndexError) as error:
        raise ValueError(
            f"classifier {classifier.name!r} has no defined penultimate layer; pass a built "
            "functional or Sequential model (build it with an Input or fit it first)"
        ) from error
    images = np.asarray(images, dtype=np.float32)
    if classifier.input_shape[-1] == 3:
        images = to_rgb(images)
    features = extractor.predict(images, batch_size=batch_size, verbose=0)
    return np.asarray(features, dtype=np.float64).reshape(len(images), -1)


def classifier_embedder(classifier, space: str = "cxr", batch_size: int = 64) -> Embedder:
    """Embedder giving ``{space: penultimate_features(classifier, images)}``."""

    def embed_classifier(images):
        return {space: penultimate_features(classifier, images, batch_size)}

    return embed_classifier


def pixel_embedder(images) -> dict[str, np.ndarray]:
    """Embedder giving ``pixel``: the flattened images."""
    images = np.asarray(images, dtype=np.float64)
    return {"pixel": images.reshape(len(images), -1)}


def remembering(embedder: Embedder) -> Embedder:
    """``embedder`` that keeps the features of every image array it has seen (by content), so
    the real sets of a class are embedded once however many GANs (recipes) are compared."""

    seen: dict[str, Mapping[str, np.ndarray]] = {}

    def embed_once(images):
        key = array_digest(images)
        if key not in seen:
            seen[key] = embedder(images)
        return seen[key]

    return embed_once


def embed(images, embedders: Sequence[Embedder]) -> dict[str, np.ndarray]:
    """Features of ``images`` in every space of ``embedders`` (space names must not repeat)."""
    spaces: dict[str, np.ndarray] = {}
    for embedder in embedders:
        for space, features in embedder(images).items():
            if space in spaces:
                raise ValueError(f"two embedders produce the feature space {space!r}; rename one")
            spaces[space] = as_feature_matrix(features, f"{space} features of the images")
    if not spaces:
        raise ValueError("embedders must produce at least one feature space")
    return spaces


def collapsed_images(
    images, n: int, noise: float = COLLAPSE_NOISE, index: int = 0, seed: int = 0
) -> np.ndarray:
    """``images[index]`` repeated ``n`` times plus Gaussian noise of std ``noise``, in [-1, 1]."""
    images = np.asarray(images, dtype=np.float32)
    if images.ndim != 4 or not 0 <= index < len(images):
        raise ValueError(
            f"images must be NHWC with an image at index {index}, got shape {images.shape}"
        )
    if n < 2 or noise < 0:
        raise ValueError(f"need n >= 2 copies and noise >= 0, got n={n}, noise={noise}")
    rng = np.random.default_rng(seed)
    copies = images[index][None] + rng.normal(0.0, noise, (n, *images.shape[1:]))
    return np.clip(copies, -1.0, 1.0).astype(np.float32)


def compare_sets(
    reference, candidate, kid_subsets: int = 100, pr_k: int = 3, seed: int = 0
) -> dict[str, float]:
    """Every metric of :data:`COMPARED_METRICS` for ``candidate`` features against ``reference``.

    FID is computed even when a set has no more items than dimensions (biased then: read it
    beside the floor at the same counts); KID is the mean over ``kid_subsets`` subsets of up
    to 1,000 items (the whole sets, once, when they are smaller: only the mean is used);
    precision and recall use ``pr_k`` neighbours, density and coverage Naeem et al.'s k = 5.
    """
    reference = as_feature_matrix(reference, "reference", min_items=DENSITY_COVERAGE_K + 1)
    candidate = as_feature_matrix(candidate, "candidate", min_items=2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RankDeficientCovarianceWarning)
        fid = fid_from_features(reference, candidate)
    whole_sets = min(len(reference), len(candidate)) <= KID_SUBSET
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", WholeSetSubsetWarning)
        kid, _ = kernel_inception_distance(reference, candidate, subset_size=KID_SUBSET,
                                           n_subsets=1 if whole_sets else kid_subsets, seed=seed)
    return {
        "fid": fid, "kid": kid,
        **precision_recall(reference, candidate, k=min(pr_k, len(candidate) - 1)),
        **density_coverage(reference, candidate),
        "diversity": diversity_ratio(candidate, reference),
        "nearest_ratio": nearest_distance_ratio(candidate, reference),
    }


def reference_points(
    train, holdout, n: int, embedders: Sequence[Embedder], kid_subsets: int = 100,
    noise: float = COLLAPSE_NOISE, seed: int = 0,
) -> dict[str, dict[str, dict[str, float]]]:
    """The real floor and the collapsed reference for ``n`` generated images of one class.

    Returns ``{space: {"floor": metrics, "collapsed": metrics}}`` (:func:`compare_sets`
    against ``holdout``): ``min(n, len(train))`` training images drawn without replacement,
    and ``n`` noisy copies of ``train[0]`` (:func:`collapsed_images`).
    """
    collapsed = collapsed_images(train, n, noise, seed=seed)
    return _references(
        embed(train, embedders), embed(holdout, embedders), embed(collapsed, embedders),
        kid_subsets, seed,
    )


def _references(train, holdout, collapsed, kid_subsets, seed):
    n_train, n = len(next(iter(train.values()))), len(next(iter(collapsed.values())))
    floor_index = np.random.default_rng(seed).choice(n_train, min(n, n_train), replace=False)
    return {
        space: {
            "floor": compare_sets(
                holdout[space], train[space][floor_index], kid_subsets, seed=seed
            ),
            "collapsed": compare_sets(holdout[space], collapsed[space], kid_subsets, seed=seed),
        }
        for space in holdout
    }


def memorization_ratio(generated, train, holdout) -> dict[str, float]:
    """Median nearest-training distance of generated items over that of held-out real items,
    and the fraction of generated items closer than 95% of held-out ones (the memorization
    audit's ``median_ratio`` and ``fraction_below_threshold``)."""
    summary = memorization_summary(
        memorization_audit(generated, train), real_to_real_distances(train, holdout)
    )
    return {
        "memorization_ratio": summary["median_ratio"],
        "near_copy_fraction": summary["fraction_below_threshold"],
    }


@dataclass(frozen=True)
class GANSamples:
    """What :func:`gan_health` needs of one GAN: NHWC images in [-1, 1] and its history.

    ``train``: the real images it was trained on; ``holdout``: real images of the same class it
    never saw; ``history``: the per-epoch metrics frame (``pd.read_csv(".../history.csv")``),
    or None when there is none; ``label``: the class index its images stand for, in the
    judge's classes (None: no class check).
    """

    generated: np.ndarray
    train: np.ndarray
    holdout: np.ndarray
    history: pd.DataFrame | None = None
    label: int | None = None

    def __post_init__(self):
        for name in ("generated", "train", "holdout"):
            images = np.asarray(getattr(self, name))
            if images.ndim != 4 or len(images) < 2:
                raise ValueError(
                    f"{name} must be an NHWC array of at least 2 images, got shape {images.shape}"
                )
        if np.asarray(self.holdout).shape[1:] != np.asarray(self.generated).shape[1:]:
            raise ValueError(
                f"generated and holdout images differ in shape: "
                f"{np.asarray(self.generated).shape[1:]} vs {np.asarray(self.holdout).shape[1:]}"
            )


def gan_health_row(
    samples: GANSamples, embedders: Sequence[Embedder], kid_subsets: int = 100,
    noise: float = COLLAPSE_NOISE, seed: int = 0, judge: Judge | None = None,
) -> dict:
    """One GAN's metrics, both references, fidelity checks, training signals, verdict and
    reason (see :func:`gan_health`)."""
    generated = np.asarray(samples.generated, dtype=np.float32)
    row: dict = {
        "n_generated": len(generated), "n_train": len(samples.train),
        "n_holdout": len(samples.holdout), "n_floor": min(len(generated), len(samples.train)),
        "samples_finite": bool(np.isfinite(generated).all()), **training_signals(samples.history),
    }
    train = embed(samples.train, embedders)
    holdout = embed(samples.holdout, embedders)
    collapsed = embed(collapsed_images(samples.train, len(generated), noise, seed=seed), embedders)
    references = _references(train, holdout, collapsed, kid_subsets, seed)
    fake = embed(generated, embedders) if row["samples_finite"] else {}
    for space in holdout:
        if fake:
            measured = compare_sets(holdout[space], fake[space], kid_subsets, seed=seed)
            measured.update(memorization_ratio(fake[space], train[space], holdout[space]))
            measured["near_duplicates"] = near_duplicate_fraction(fake[space], holdout[space], seed)
        else:
            measured = dict.fromkeys(
                (*COMPARED_METRICS, "memorization_ratio", "near_copy_fraction", "near_duplicates"), np.nan
            )
        row.update({f"{space}_{metric}": value for metric, value in measured.items()})
        for reference, values in references[space].items():
            row.update({f"{space}_{metric}_{reference}": value for metric, value in values.items()})
    if row["samples_finite"]:
        row.update(fidelity(samples, judge, seed))
    row["verdict"], row["reason"] = gan_verdict(row, spaces=list(holdout))
    return row


def fidelity(samples: GANSamples, judge: Judge | None = None, seed: int = 0) -> dict[str, float]:
    """The fidelity checks of :mod:`cxr_keras.health.fidelity` for one GAN: pixel near duplicates,
    the probe's AUC against half the training images beside ``probe_auc_floor`` (needs 8), and
    with a ``judge`` and ``samples.label`` the class agreement. Details: docs/modules.md.
    """
    generated = np.asarray(samples.generated, np.float32)
    holdout = np.asarray(samples.holdout, np.float32)
    train = np.asarray(samples.train, np.float32)
    values = {"pixel_near_duplicates": near_duplicate_fraction(
        generated.reshape(len(generated), -1), holdout.reshape(len(holdout), -1), seed)}
    if len(train) >= 8:
        order = np.random.default_rng(seed).permutation(len(train))
        target, other = train[order[: len(train) // 2]], train[order[len(train) // 2:]]
        probe = two_sample_auc(target, generated, seed=seed)
        values.update({f"probe_{key}": value for key, value in probe.items()})
        values["probe_auc_floor"] = two_sample_auc(target, other, seed=seed)["auc"]
    if judge is not None and samples.label is not None:
        values.update(class_agreement(judge(generated), judge(holdout), int(samples.label), seed=seed))
    return values


def gan_health(
    gans: Mapping[str, GANSamples], embedders: Sequence[Embedder], kid_subsets: int = 100,
    noise: float = COLLAPSE_NOISE, seed: int = 0, judge: Judge | None = None,
) -> pd.DataFrame:
    """One row per GAN (keys of ``gans``), ready for ``gan_health.csv``: verdict and reason,
    per feature space ``s`` the :data:`COMPARED_METRICS` as ``s_<metric>`` beside ``_floor`` and
    ``_collapsed``, the :func:`fidelity` figures (``judge``: images -> class probabilities) and
    the training signals. Every column: docs/modules.md.
    """
    if not gans:
        raise ValueError("gans is empty; pass {name: GANSamples(...)} for at least one GAN")
    rows = []
    for name, samples in gans.items():
        if not isinstance(samples, GANSamples):
            raise TypeError(f"gans[{name!r}] must be a GANSamples, got {type(samples).__name__}")
        rows.append({"gan": name, **gan_health_row(samples, embedders, kid_subsets, noise, seed, judge)})
    table = pd.DataFrame(rows)
    first = ["gan", "verdict", "reason"]
    return table[first + [c for c in table.columns if c not in first]]
