"""Compare two layers' outputs and gradients (for layers that compute another layer's math)."""

import numpy as np
import tensorflow as tf


def outputs_and_gradients(layers, x):
    """For each layer: its output on ``x`` and the gradients of ``sum(output * upstream)``
    with respect to ``x`` and its trainable weights (one fixed random ``upstream``)."""
    x = tf.constant(x)
    upstream = tf.constant(np.random.default_rng(9).normal(size=layers[0](x).shape), "float32")
    results = []
    for layer in layers:
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = layer(x)
            loss = tf.reduce_sum(y * upstream)
        results.append((y, *tape.gradient(loss, [x, *layer.trainable_weights])))
    return results


def assert_same_tensors(expected_tensors, actual_tensors, tolerance=1e-5):
    """Equal shapes, values within ``tolerance`` times the larger of 1 and the largest value."""
    for expected, actual in zip(expected_tensors, actual_tensors):
        assert expected.shape == actual.shape
        scale = max(1.0, float(np.abs(expected.numpy()).max()))
        np.testing.assert_allclose(actual.numpy(), expected.numpy(), atol=tolerance * scale)
