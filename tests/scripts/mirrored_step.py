"""Compare one GAN step under MirroredStrategy (2 logical CPUs) with one on a single device.

Prints one JSON line: the largest absolute difference between the updated weights of the
two runs, and the largest weight change of a step (so a no-op cannot pass).
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import tensorflow as tf

CPU = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(CPU, [tf.config.LogicalDeviceConfiguration()] * 2)

import keras
import numpy as np

from cxr_keras.gan import GAN
from tests.scripts.tiny_gan import LATENT_DIM, stripes, tiny_discriminator, tiny_generator

GLOBAL_BATCH = 8
REPLICAS = 2


class FixedNoiseGAN(GAN):
    """Noise row i is a fixed vector depending on i modulo the per-replica batch, so each
    replica's shard sees the same noise as the matching rows of the single-device batch."""

    def sample_latent(self, batch_size):
        rows = tf.range(batch_size) % (GLOBAL_BATCH // REPLICAS)
        grid = tf.cast(rows[:, None] + tf.range(LATENT_DIM)[None, :], "float32")
        return tf.sin(grid)


def one_step(strategy, initial):
    with strategy.scope():
        gan = FixedNoiseGAN(tiny_generator(), tiny_discriminator(), LATENT_DIM)
        gan.generator.set_weights(initial["g"])
        gan.discriminator.set_weights(initial["d"])
        gan.compile(keras.optimizers.SGD(0.5), keras.optimizers.SGD(0.5), jit_compile=False)
    data = tf.data.Dataset.from_tensor_slices(stripes(GLOBAL_BATCH)).batch(GLOBAL_BATCH)
    logs = gan.fit(data, epochs=1, verbose=0, shuffle=False).history
    return gan.generator.get_weights() + gan.discriminator.get_weights(), logs


def main() -> None:
    keras.utils.set_random_seed(0)
    initial = {"g": tiny_generator().get_weights(), "d": tiny_discriminator().get_weights()}
    mirrored = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    assert mirrored.num_replicas_in_sync == REPLICAS
    w_mirrored, logs_mirrored = one_step(mirrored, initial)
    w_single, logs_single = one_step(tf.distribute.OneDeviceStrategy("/cpu:0"), initial)
    start = initial["g"] + initial["d"]
    print(json.dumps({
        "replicas": mirrored.num_replicas_in_sync,
        "max_weight_diff": max(float(np.abs(a - b).max()) for a, b in zip(w_mirrored, w_single)),
        "max_step_change": max(float(np.abs(a - b).max()) for a, b in zip(w_single, start)),
        "d_loss": [logs_mirrored["d_loss"][0], logs_single["d_loss"][0]],
        "g_loss": [logs_mirrored["g_loss"][0], logs_single["g_loss"][0]],
    }))


if __name__ == "__main__":
    main()
