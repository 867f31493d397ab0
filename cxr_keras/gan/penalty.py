"""The R1 gradient penalty on real images (Mescheder et al., 2018).

``R1 = gamma / 2 * E_x ||grad_x D(x)||^2`` over real images ``x``: it pushes D's surface flat
around the data, which keeps the discriminator from exploding its logits on a small set.
"""

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
