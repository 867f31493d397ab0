"""A tiny GAN on striped 16 px images really learns: D separates, G catches up, samples move."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
import tensorflow as tf

from tests.scripts.tiny_gan import stripes, tiny_gan


def test_tiny_gan_learns_the_data_statistics():
    data = stripes(512)
    gan = tiny_gan(seed=0, lr=2e-3)
    before = gan.generate(256, seed=1)
    dataset = tf.data.Dataset.from_tensor_slices(data).shuffle(512, seed=0).batch(32)
    history = gan.fit(dataset, epochs=30, verbose=0, shuffle=False).history  # 480 steps

    gap = np.array(history["d_x"]) - np.array(history["d_g_z1"])
    assert gap.max() > 0.15, f"D never told real from fake: D(x) - D(G(z)) per epoch {gap}"
    drop_from_peak = np.maximum.accumulate(gap) - gap
    assert drop_from_peak.max() > 0.1, f"G never caught up with D: gap per epoch {gap}"
    g_loss = np.array(history["g_loss"])
    assert g_loss.max() - g_loss.min() > 0.5, f"G loss did not move: {g_loss}"

    after = gan.generate(256, seed=1)
    for statistic in (np.mean, np.std):
        target = statistic(data)
        assert abs(statistic(after) - target) < 0.6 * abs(statistic(before) - target), (
            f"{statistic.__name__} of samples went {statistic(before):.3f} -> "
            f"{statistic(after):.3f}, data {target:.3f}"
        )
