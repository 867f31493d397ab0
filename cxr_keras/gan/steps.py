"""Pieces of the GAN training step: input checks, the loss, metrics, label shapes, and the step
of the JAX and PyTorch backends."""

from __future__ import annotations

import functools

import keras
import numpy as np
from keras import ops


def check_built(model, role: str) -> None:
    """Raise unless ``model`` is a ``keras.Model`` that already has weights."""
    if not isinstance(model, keras.Model):
        raise TypeError(f"{role} must be a keras.Model, got {type(model).__name__}")
    if not model.built or not model.weights:
        raise ValueError(
            f"{role} {model.name!r} has no weights yet; build it (e.g. a functional model "
            "or call it once on a batch) before wrapping it in a GAN"
        )


def bce_logits(targets, logits):
    """Per-example binary cross-entropy on logits, averaged over any non-batch axes."""
    logits = ops.reshape(ops.cast(logits, "float32"), (ops.shape(logits)[0], -1))
    targets = ops.broadcast_to(ops.cast(targets, "float32"), ops.shape(logits))
    return ops.mean(ops.binary_crossentropy(targets, logits, from_logits=True), axis=1)


def discriminator_metrics(real_logits, fake_logits, after_logits) -> dict:
    """D's accuracies and mean probabilities on real, fake (D step) and fake (G step) batches."""
    real_p = ops.sigmoid(ops.cast(real_logits, "float32"))
    fake_p = ops.sigmoid(ops.cast(fake_logits, "float32"))
    return {
        "d_acc_real": ops.mean(ops.cast(real_p > 0.5, "float32")),
        "d_acc_fake": ops.mean(ops.cast(fake_p < 0.5, "float32")), "d_x": ops.mean(real_p),
        "d_g_z1": ops.mean(fake_p),
        "d_g_z2": ops.mean(ops.sigmoid(ops.cast(after_logits, "float32"))),
    }


def label_input(model, labels):
    """Shape int labels ``(batch,)`` as the model's label input, ``(batch,)`` or ``(batch, 1)``."""
    rank = len(model.inputs[1].shape)
    return ops.reshape(labels, (-1,) + (1,) * (rank - 1))


def check_mixed_precision(*models) -> None:
    """Raise unless every model computes in float16 (built under ``mixed_float16``)."""
    for model in models:
        if model.compute_dtype != "float16":
            raise ValueError(
                f"mixed_precision=True but {model.name!r} computes in {model.compute_dtype}; "
                "call keras.mixed_precision.set_global_policy('mixed_float16') before "
                "building the models"
            )


def check_class_prior(class_prior, num_classes: int, label_sampling: str):
    """The normalized float32 ``class_prior`` for ``label_sampling='empirical'``, else None."""
    if label_sampling != "empirical":
        if class_prior is not None:
            raise ValueError("class_prior is only used with label_sampling='empirical'")
        return None
    if class_prior is None:
        raise ValueError("label_sampling='empirical' needs class_prior (one weight per class)")
    prior = np.asarray(class_prior, dtype="float64").ravel()
    if prior.shape != (num_classes,) or np.any(prior < 0) or prior.sum() <= 0:
        raise ValueError(
            f"class_prior must be {num_classes} non-negative weights with a positive "
            f"sum, got {class_prior!r}"
        )
    return (prior / prior.sum()).astype("float32")


def train_with_gradients(gan, data, gradients):
    """``GAN.train_step`` with ``gradients(loss_fn, variables) -> (grads, outputs)`` in place of
    TensorFlow's tape (``loss_fn() -> (loss, outputs)``): the JAX and PyTorch steps."""
    real, real_labels = gan._split_batch(data)
    real = ops.cast(real, gan.discriminator.compute_dtype)
    batch_size = ops.shape(real)[0]
    d_weights = gan.discriminator.trainable_variables
    g_weights = gan.generator.trainable_variables

    for _ in range(gan.d_steps):
        z = gan.sample_latent(batch_size)
        fake_labels = gan.sample_fake_labels(real_labels, batch_size)
        fake = gan._generate(z, fake_labels, training=True)
        d_loss = functools.partial(gan.discriminator_loss, real, real_labels, fake, fake_labels)
        d_grads, d_outputs = gradients(d_loss, d_weights)
        gan.d_optimizer.apply(d_grads, d_weights)

    g_loss = functools.partial(gan.generator_loss, z, fake_labels)
    g_grads, g_outputs = gradients(g_loss, g_weights)
    gan.g_optimizer.apply(g_grads, g_weights)

    if gan.generator_average is not None:
        gan.generator_average.update(gan.g_optimizer.iterations)
    return gan.record_step(d_outputs, g_outputs, batch_size)
