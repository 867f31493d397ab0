"""Compare two layers' outputs and gradients (for layers that compute another layer's math), on
the active Keras backend."""

import keras
import numpy as np
from keras import ops


def outputs_and_gradients(layers, x):
    """For each layer: its output on ``x`` and the gradients of ``sum(output * upstream)``
    with respect to ``x`` and its trainable weights (one fixed random ``upstream``), as numpy."""
    x = np.asarray(x, dtype="float32")
    shape = ops.shape(layers[0](x))
    upstream = np.random.default_rng(9).normal(size=shape).astype("float32")
    return [_output_and_gradients(layer, x, upstream) for layer in layers]


def _output_and_gradients(layer, x, upstream):
    weights = layer.trainable_weights
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        x = tf.constant(x)
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = layer(x)
            loss = tf.reduce_sum(y * upstream)
        gradients = tape.gradient(loss, [x, *weights])
    elif backend == "torch":
        import torch

        x = torch.tensor(x, requires_grad=True)
        y = layer(x)
        loss = (y * torch.from_numpy(upstream)).sum()
        gradients = torch.autograd.grad(loss, [x, *(w.value for w in weights)])
    elif backend == "jax":
        import jax

        fixed = [w.value for w in layer.non_trainable_weights]

        def loss_of(inputs, values):
            y, _ = layer.stateless_call(values, fixed, inputs)
            return (y * upstream).sum(), y

        (x_gradient, weight_gradients), y = jax.grad(loss_of, argnums=(0, 1), has_aux=True)(
            x, [w.value for w in weights])
        gradients = [x_gradient, *weight_gradients]
    else:
        raise NotImplementedError(f"no gradient helper for the {backend!r} backend")
    return [ops.convert_to_numpy(t) for t in (y, *gradients)]


def assert_same_tensors(expected_tensors, actual_tensors, tolerance=1e-5):
    """Equal shapes, values within ``tolerance`` times the larger of 1 and the largest value."""
    for expected, actual in zip(expected_tensors, actual_tensors):
        expected, actual = np.asarray(expected), np.asarray(actual)
        assert expected.shape == actual.shape
        scale = max(1.0, float(np.abs(expected).max()))
        np.testing.assert_allclose(actual, expected, atol=tolerance * scale)
