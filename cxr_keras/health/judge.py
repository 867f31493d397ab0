"""GAN health after every training, the same way in every notebook: :func:`measure_gan_health`.
Details: docs/modules.md."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import keras
import numpy as np
import pandas as pd
from sklearn.metrics import balanced_accuracy_score

from cxr_keras.classifier_training import TRAINING_SETTINGS, train_classifier
from cxr_keras.fingerprint import array_digest, check_stamp, write_stamp
from cxr_keras.health.measure import (
    GANSamples,
    classifier_embedder,
    gan_health,
    inception_embedder,
    remembering,
)
from cxr_keras.health.verdict import at_chance, with_utility
from cxr_keras.io import write_csv
from cxr_keras.metrics.classification import bootstrap_ci
from cxr_keras.metrics.conversions import to_rgb
from cxr_keras.metrics.inception import default_weights_path
from cxr_keras.models.classifiers import davoodi_cnn

FEATURE_MODEL = "feature_classifier.keras"


def feature_classifier(x_train: np.ndarray, y_train: np.ndarray, out_dir: str | os.PathLike,
                       epochs: int = 5, batch_size: int = 32, seed: int = 0) -> keras.Model:
    """The kit's chest X-ray feature space: ``davoodi_cnn`` trained on the real ``x_train``
    (all classes) for ``epochs``, saved in ``out_dir`` and read back on a rerun with the same
    inputs (a stamp of them guards the file)."""
    out_dir = Path(out_dir)
    x_train, y_train = np.asarray(x_train, dtype=np.float32), np.asarray(y_train)
    num_classes = int(y_train.max()) + 1
    if num_classes < 2:
        raise ValueError("the feature classifier needs real training images of at least 2 classes")
    inputs = {"images": array_digest(x_train), "labels": array_digest(y_train),
              "epochs": int(epochs), "batch_size": int(batch_size), "seed": int(seed),
              **TRAINING_SETTINGS}
    if check_stamp(out_dir, inputs, "feature classifier"):
        return keras.models.load_model(out_dir / FEATURE_MODEL)
    model, _ = train_classifier(
        lambda: davoodi_cnn(num_classes, x_train.shape[1], x_train.shape[-1]), (x_train, y_train),
        epochs=epochs, batch_size=batch_size, seed=seed, progress="CXR feature classifier")
    out_dir.mkdir(parents=True, exist_ok=True)
    model.save(out_dir / FEATURE_MODEL)
    write_stamp(out_dir, inputs)
    return model


def judge_report(judge: keras.Model, x_test: np.ndarray, y_test: np.ndarray, class_names,
                 n_boot: int = 1000, seed: int = 0) -> pd.DataFrame:
    """How well the judge behind the class check (and the CXR space) sorts held-out real
    images: per class recall and overall balanced accuracy, each with a bootstrap 95% interval
    (images resampled within their class). Columns ``class``, ``metric``, ``value``,
    ``ci_low``, ``ci_high``, ``n``."""
    y_test = np.asarray(y_test, dtype=int)
    predicted = judge.predict(np.asarray(x_test, np.float32), batch_size=128, verbose=0).argmax(axis=1)
    rows = [(name, "recall", lambda y, p, k=k: np.mean(p[y == k] == k), int(np.sum(y_test == k)))
            for k, name in enumerate(class_names) if np.any(y_test == k)]
    rows.append(("all", "balanced_accuracy", lambda y, p: balanced_accuracy_score(y, p), len(y_test)))
    table = []
    for name, metric, metric_fn, n in rows:
        interval = bootstrap_ci(metric_fn, y_test, predicted, n_boot, seed=seed, strata=y_test)
        table.append({"class": name, "metric": metric, "value": interval["estimate"],
                      "ci_low": interval["low"], "ci_high": interval["high"], "n": n})
    return pd.DataFrame(table)


def health_embedders(feature_model: keras.Model | None, inception: bool = True) -> list:
    """Embedders for :func:`measure_gan_health`: the CXR space of ``feature_model`` (when
    given) and Inception's two spaces (when ``inception`` and the FID weights are installed),
    each remembering the real sets it has embedded, so several GANs of one class embed them
    once."""
    embedders = []
    if feature_model is not None:
        embedders.append(remembering(classifier_embedder(feature_model, "cxr")))
    if inception and default_weights_path().is_file():
        embedders.append(remembering(inception_embedder()))
    if not embedders:
        raise ValueError("no feature space for GAN health: pass a feature classifier, or run "
                         "`make fid-weights` for Inception's")
    return embedders


def measure_gan_health(samples: Mapping[str, GANSamples], embedders, out_dir: str | os.PathLike,
                       seed: int = 0, judge: keras.Model | None = None) -> pd.DataFrame:
    """:func:`cxr_keras.health.gan_health` of ``samples`` ({GAN name: GANSamples}, e.g.
    ``"normal / kit"``), written to ``out_dir/gan_health.csv`` and returned. With ``judge``
    (a classifier of every class, e.g. the feature classifier), GANs whose samples carry a
    ``label`` get the class check."""
    table = gan_health(samples, embedders, seed=seed, judge=None if judge is None else judge_predictions(judge))
    write_csv(Path(out_dir) / "gan_health.csv", table)
    return table


def judge_predictions(judge: keras.Model):
    """``images -> judge's class probabilities``, grayscale images repeated to 3 channels when
    the judge takes 3."""
    def predict(images):
        images = np.asarray(images, np.float32)
        if judge.input_shape[-1] == 3 and images.shape[-1] == 1:
            images = to_rgb(images)
        return judge.predict(images, batch_size=128, verbose=0)

    return predict


def mark_useless(health: pd.DataFrame, utility: pd.DataFrame, gans_of: Mapping[str, Sequence[str]],
                 chance: float, out_dir: str | os.PathLike) -> pd.DataFrame:
    """``health`` with every GAN of a recipe whose train-on-synthetic score is at chance
    (:func:`cxr_keras.health.verdict.at_chance` on a ``recipe``-keyed
    :func:`cxr_keras.metrics.synthetic_utility` table) marked ``no-utility``; ``gans_of`` maps
    each recipe to its GANs' names in ``health``. The score is ROC AUC (chance 0.5) where the
    table has it (binary tasks: a classifier that calls nearly every image the majority class
    scores an accuracy just above ``chance`` but an AUC near 0.5), else accuracy against
    ``chance``. Rewrites ``out_dir/gan_health.csv``."""
    metric, chance = ("roc_auc", 0.5) if (utility["metric"] == "roc_auc").any() else ("accuracy", chance)
    scores = utility[utility["metric"] == metric].set_index(["recipe", "trained_on"])
    useless = {}
    for recipe, names in gans_of.items():
        synthetic, real = scores.loc[(recipe, "synthetic")], scores.loc[(recipe, "real")]
        if at_chance((synthetic["estimate"], synthetic["ci_low"]), real["estimate"], chance):
            text = (f"{metric} {synthetic['estimate']:.3f} [{synthetic['ci_low']:.3f}, {synthetic['ci_high']:.3f}] "
                    f"against chance {chance:.3f} and {real['estimate']:.3f} trained on real images")
            useless.update(dict.fromkeys(names, text))
    health = with_utility(health, useless)
    write_csv(Path(out_dir) / "gan_health.csv", health)
    return health
