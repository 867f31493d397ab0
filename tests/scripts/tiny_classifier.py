"""Tiny classifier pieces for the classifier-training and Kora Venu tests: a separable two-class
task and two small models."""

from __future__ import annotations

import keras
import numpy as np

CLASSES = ["NORMAL", "PNEUMONIA"]
SIZE = 16


def separable(n, seed, minority=0.3):
    """Class 1 has a bright blob in the centre, class 0 does not; class 0 is the minority."""
    rng = np.random.default_rng(seed)
    y = (rng.random(n) > minority).astype(int)
    x = rng.normal(-0.5, 0.1, size=(n, SIZE, SIZE, 1)).astype(np.float32)
    x[y == 1, 5:11, 5:11] += 1.0
    return np.clip(x, -1, 1), y


def tiny_cnn():
    return keras.Sequential([
        keras.Input((SIZE, SIZE, 1)),
        keras.layers.Conv2D(4, 3, strides=2, activation="relu"),
        keras.layers.Flatten(),
        keras.layers.Dense(2, activation="softmax"),
    ])


def chance_model():
    inputs = keras.Input((SIZE, SIZE, 1))
    outputs = keras.layers.Dense(2, activation="softmax")(keras.layers.Flatten()(inputs) * 0.0)
    return keras.Model(inputs, outputs)
