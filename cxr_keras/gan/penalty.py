"""Regularizers of the GAN step: R1 on real images, and mode seeking for the generator. Details:
docs/modules.md."""

from __future__ import annotations

from keras import ops

from cxr_keras.gan.backend import input_gradient


def _at_least_float32(tensor):
    """Half-precision tensors in float32 (so squares cannot overflow); others unchanged."""
    low = ops.dtype(tensor) in ("float16", "bfloat16")
    return ops.cast(tensor, "float32") if low else tensor


def r1_penalty(discriminate, images, gamma: float):
    """Return ``(logits, penalty)``: ``discriminate(images)`` and ``gamma / 2 * mean ||grad||^2``.

    ``discriminate`` maps an image batch to one logit per image; the gradient is taken with
    respect to exactly the images it is given, and the penalty stays differentiable with
    respect to D's weights (a gradient of a gradient).
    """
    logits, gradients = input_gradient(discriminate, ops.convert_to_tensor(images))
    gradients = _at_least_float32(gradients)
    squared_norms = ops.sum(ops.reshape(ops.square(gradients), (ops.shape(gradients)[0], -1)),
                            axis=1)
    return logits, 0.5 * float(gamma) * ops.mean(squared_norms)


MODE_SEEKING_EPS = 1e-5


def mode_seeking_ratio(images, latents):
    """Mean over pairs of ``mean|G(z1) - G(z2)| / mean|z1 - z2|``, pairing the batch's first
    half with its second (an odd last image is left out).

    The generator's mode-seeking loss is ``weight / (ratio + eps)`` (MSGAN): a collapsed
    generator, whose images do not move with z, has a ratio near 0 and a large loss.
    """
    images, latents = _at_least_float32(images), ops.cast(latents, images.dtype)
    half = ops.shape(images)[0] // 2
    image_gaps = ops.mean(ops.reshape(ops.abs(images[:half] - images[half:2 * half]), (half, -1)), axis=1)
    latent_gaps = ops.mean(ops.abs(latents[:half] - latents[half:2 * half]), axis=1)
    return ops.mean(image_gaps / (latent_gaps + MODE_SEEKING_EPS))
