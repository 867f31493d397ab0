"""Classifier training shared by every paper: optimizer, seeded data stream, fit, evaluation, and a
run folder that is reused only when its stamp matches the inputs. Details: docs/modules.md."""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import keras
import numpy as np
import pandas as pd

from cxr_keras.augment import augment_images, check_method
from cxr_keras.fingerprint import array_digest, check_stamp, write_stamp
from cxr_keras.gan import EpochProgress, ShuffledBatches
from cxr_keras.io import atomic_path, load_back_array, read_back_csv, write_csv
from cxr_keras.metrics.classification import confusion_matrix_frame, report_with_ci
from cxr_keras.seeding import seeded_build

BALANCED_ACCURACY = "val_balanced_accuracy"
LEARNING_RATE_SCHEDULES = ("cosine", "constant")
# What changed in how every classifier trains, kept in each run's stamp so that folders made
# by older code are not read back as if this code had made them.
TRAINING_SETTINGS = {"batchnorm_statistics": "recalibrated"}


class TrainingDivergedError(RuntimeError):
    """A classifier's training loss became non-finite or exploded."""


class StopOnDivergingLoss(keras.callbacks.Callback):
    """Raise :class:`TrainingDivergedError` at the first batch whose loss is NaN, infinite or
    above ``explode_factor`` times the first batch's loss.

    The error names the epoch, the batch and the loss value and says what to try; raising
    (rather than only stopping) keeps a diverged model from being evaluated as if it had trained.
    """

    def __init__(self, explode_factor: float = 100.0, monitor: str = "loss"):
        super().__init__()
        if not explode_factor > 1:
            raise ValueError(f"explode_factor must be > 1, got {explode_factor}")
        self.explode_factor, self.monitor = float(explode_factor), monitor
        self.reference = None
        self._epoch = 0

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch + 1

    def on_train_batch_end(self, batch, logs=None):
        if not logs or self.monitor not in logs:
            return
        loss = float(logs[self.monitor])
        if math.isfinite(loss) and self.reference is None:
            self.reference = max(loss, 1e-3)
        if not math.isfinite(loss):
            problem = "is not finite"
        elif loss > self.explode_factor * self.reference:
            problem = f"exploded (over {self.explode_factor:g} x the first batch's {self.reference:.4g})"
        else:
            return
        self.model.stop_training = True
        raise TrainingDivergedError(
            f"classifier {self.monitor} {loss!r} at epoch {self._epoch}, batch {batch + 1} {problem}; "
            "training stopped. Lower the learning rate, or check the images and labels for NaNs "
            "or values outside [-1, 1]."
        )


class SigmoidDecay(keras.optimizers.schedules.LearningRateSchedule):
    """Learning rate falling along a sigmoid from ``initial`` at step 0 to ~0.7% at ``total_steps``.

    Salehinejad et al. say "sigmoid decay adaptive learning rate starting at 1e-3" without the curve;
    the kit's choice is ``initial * (1 + e^-s/2) / (1 + e^(s (step/total - 1/2)))``, s = 10.
    """

    def __init__(self, initial: float, total_steps: int, steepness: float = 10.0):
        if initial <= 0 or total_steps < 1:
            raise ValueError(f"need initial > 0 and total_steps >= 1, got {initial} and {total_steps}")
        self.initial, self.total_steps, self.steepness = float(initial), int(total_steps), float(steepness)

    def __call__(self, step):
        progress = keras.ops.cast(step, "float32") / self.total_steps
        scale = (1.0 + np.exp(-self.steepness / 2)) / (1.0 + keras.ops.exp(self.steepness * (progress - 0.5)))
        return self.initial * scale

    def get_config(self):
        return {"initial": self.initial, "total_steps": self.total_steps, "steepness": self.steepness}


def make_optimizer(optimizer: str | Callable[[], keras.optimizers.Optimizer],
                   learning_rate: float | keras.optimizers.schedules.LearningRateSchedule):
    """A fresh optimizer: from a name ("adam", "sgd", ...) and learning rate (or schedule),
    or a factory."""
    if callable(optimizer):
        return optimizer()
    return type(keras.optimizers.get(optimizer))(learning_rate=learning_rate)


class ClassifierBatches(ShuffledBatches):
    """Every image once an epoch in :class:`cxr_keras.gan.ShuffledBatches`' seeded order, the
    ``i``-th image of the stream augmented from ``(seed, i)``; with ``class_weight`` each batch
    carries its labels' weights (Keras takes none with a ``PyDataset``).
    """

    def __init__(self, images: np.ndarray, labels: np.ndarray, batch_size: int, seed: int,
                 augmentation: str | None = None, class_weight: dict[int, float] | None = None):
        super().__init__(images, np.asarray(labels).astype(np.int32), batch_size=batch_size,
                         seed=seed, drop_remainder=False)
        self.augmentation = None if augmentation is None else check_method(augmentation)
        self.weights = None
        if class_weight is not None:
            self.weights = np.array([class_weight.get(k, 1.0) for k in range(int(self.labels.max()) + 1)],
                                    np.float32)

    def __getitem__(self, index: int):
        images, labels = super().__getitem__(index)
        if self.augmentation is not None:
            first = self.epoch * len(self.images) + index * self.batch_size
            images = augment_images(images, self.augmentation, self.seed, first_index=first)
        return (images, labels) if self.weights is None else (images, labels, self.weights[labels])


def train_classifier(
    model_fn: Callable[[], keras.Model], train: tuple[np.ndarray, np.ndarray],
    val: tuple[np.ndarray, np.ndarray] | None = None, epochs: int = 10, batch_size: int = 32,
    seed: int = 0, augmentation: str | None = None,
    optimizer: str | Callable[[], keras.optimizers.Optimizer] = "adam", learning_rate: float = 1e-3,
    class_weight: dict[int, float] | None = None, learning_rate_schedule: str = "cosine",
    callbacks: Sequence[keras.callbacks.Callback] = (), verbose: int = 0,
    progress: str | None = None,
) -> tuple[keras.Model, pd.DataFrame]:
    """Build ``model_fn()`` (softmax output) from ``seed`` and fit it on ``train``; return it and
    its history. ``learning_rate_schedule``: ``"cosine"`` (to 0 over the fit) or ``"constant"``.
    BatchNorm statistics are recomputed after the fit; a non-finite or exploding loss raises
    :class:`TrainingDivergedError`. Details: docs/modules.md.
    """
    x, y = check_xy(train, "train")
    if val is not None:
        val = check_xy(val, "val")
    if augmentation is not None:
        check_method(augmentation)
    if epochs < 1 or batch_size < 1:
        raise ValueError(f"epochs and batch_size must be positive, got {epochs} and {batch_size}")
    if learning_rate_schedule not in LEARNING_RATE_SCHEDULES:
        raise ValueError(f"learning_rate_schedule must be one of {LEARNING_RATE_SCHEDULES}, "
                         f"got {learning_rate_schedule!r}")
    steps_per_epoch = math.ceil(len(x) / batch_size)
    if learning_rate_schedule == "cosine":
        learning_rate = keras.optimizers.schedules.CosineDecay(learning_rate, epochs * steps_per_epoch)
    with seeded_build(seed):
        model = model_fn()
    model.compile(
        optimizer=make_optimizer(optimizer, learning_rate), loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    bar = [] if progress is None or verbose else [
        EpochProgress(progress, monitor=("loss", "accuracy", "val_accuracy", BALANCED_ACCURACY))]
    history = model.fit(
        ClassifierBatches(x, y, batch_size, seed, augmentation, class_weight),
        epochs=epochs,
        shuffle=False,  # the stream is already shuffled from `seed`
        validation_data=val,
        callbacks=[StopOnDivergingLoss(), *callbacks, *bar],
        verbose=verbose,
    )
    recalibrate_batchnorm(model, x)
    frame = pd.DataFrame(history.history)
    frame.insert(0, "epoch", np.arange(1, len(frame) + 1))
    return model, frame


def recalibrate_batchnorm(model: keras.Model, images: np.ndarray, batch_size: int = 128) -> keras.Model:
    """Set every BatchNormalization layer's moving mean and variance to the exact statistics of its
    inputs over ``images`` in inference mode, layer by layer ("precise BN"); returns ``model``,
    changed in place. Why: docs/modules.md.
    """
    images = np.asarray(images, dtype=np.float32)
    for layer in model.layers:
        if not isinstance(layer, keras.layers.BatchNormalization):
            continue
        inputs = keras.Model(model.inputs, layer.input).predict(images, batch_size=batch_size, verbose=0)
        inputs = np.asarray(inputs, dtype=np.float64)
        channel = layer.axis % inputs.ndim
        axes = tuple(a for a in range(inputs.ndim) if a != channel)
        layer.moving_mean.assign(inputs.mean(axis=axes).astype(np.float32))
        layer.moving_variance.assign(inputs.var(axis=axes).astype(np.float32))
    return model


def train_or_load_classifier(
    run_dir: str | os.PathLike, model_fn: Callable, train: tuple[np.ndarray, np.ndarray],
    val: tuple[np.ndarray, np.ndarray] | None, x_test: np.ndarray,
    stamp: Mapping[str, Any] | None = None, **train_kwargs,
) -> tuple[np.ndarray, pd.DataFrame]:
    """Train with :func:`train_classifier` and predict ``x_test``, or read both back from
    ``run_dir`` when its stamp (data, plain ``train_kwargs``, ``stamp``) matches; other inputs
    raise ``StaleArtefactError``. Returns (test probabilities (n, C), history); details:
    docs/modules.md.
    """
    run_dir = Path(run_dir)
    inputs = classifier_inputs(train, val, x_test, {**train_kwargs, **(stamp or {})})
    if check_stamp(run_dir, inputs, "classifier run"):
        remedy = f"delete {run_dir} to train this classifier again"
        return (load_back_array(run_dir / "probabilities.npy", len(x_test), remedy),
                read_back_csv(run_dir / "history.csv", ["epoch"], remedy=remedy))
    train_kwargs.setdefault("progress", f"classifier {run_dir.parent.name}/{run_dir.name}")
    model, history = train_classifier(model_fn, train, val, **train_kwargs)
    probabilities = model.predict(x_test, batch_size=256, verbose=0)
    write_csv(run_dir / "history.csv", history)
    with atomic_path(run_dir / "probabilities.npy") as tmp, open(tmp, "wb") as handle:
        np.save(handle, probabilities)
    write_stamp(run_dir, inputs)
    return probabilities, history


def classifier_inputs(train, val, x_test, settings: Mapping[str, Any]) -> dict[str, Any]:
    """The stamp inputs of a classifier run: digests of its arrays and its plain settings."""
    arrays = {"train_images": train[0], "train_labels": train[1], "test_images": x_test}
    if val is not None:
        arrays.update(val_images=val[0], val_labels=val[1])
    settings = {"learning_rate_schedule": "cosine", **TRAINING_SETTINGS, **settings}
    plain = {key: value for key, value in settings.items()
             if key != "progress" and (value is None or isinstance(value, (bool, int, float, str)))}
    return {**{key: array_digest(value) for key, value in arrays.items()}, **plain}


class ValidationBalancedAccuracy(keras.callbacks.Callback):
    """Logs ``val_balanced_accuracy`` after each epoch: the mean recall over the classes the
    validation images have, i.e. the accuracy a class-balanced validation set would give.

    On an imbalanced validation split, plain accuracy rewards naming the largest class for
    every image; place this callback before an ``EarlyStopping(BALANCED_ACCURACY, mode="max")``
    so that model selection sees the balanced figure (callbacks share one ``logs`` dict).
    """

    def __init__(self, x_val: np.ndarray, y_val: np.ndarray, batch_size: int = 256):
        super().__init__()
        self.x_val, self.y_val = check_xy((x_val, y_val), "val")
        self.batch_size = int(batch_size)

    def on_epoch_end(self, epoch, logs=None):
        predicted = self.model.predict(self.x_val, batch_size=self.batch_size, verbose=0).argmax(axis=1)
        recalls = [np.mean(predicted[self.y_val == k] == k) for k in np.unique(self.y_val)]
        if logs is not None:
            logs[BALANCED_ACCURACY] = float(np.mean(recalls))


def evaluation(y_true, probabilities, class_names, patient_ids=None, n_boot: int = 200,
               seed: int = 0) -> dict[str, Any]:
    """Probabilities, predictions, ``report_with_ci`` report and confusion matrix of predictions."""
    return {
        "probabilities": probabilities,
        "predictions": probabilities.argmax(axis=1),
        "report": report_with_ci(y_true, probabilities, class_names, patient_ids=patient_ids,
                                 n_boot=n_boot, seed=seed),
        "confusion": confusion_matrix_frame(y_true, probabilities, class_names),
    }


def check_xy(data, name: str) -> tuple[np.ndarray, np.ndarray]:
    """``data`` as (float32 NHWC images, int labels); a ValueError names ``name`` otherwise."""
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
