"""Train a tiny GAN on fixed noise and fixed initial weights; print its curve as one JSON line.

Run under each backend (``KERAS_BACKEND=tensorflow|jax python tests/scripts/backend_curve.py``):
the latent noise is a fixed function of the row, the initial weights are drawn by numpy, and
the optimizer is Adam, so the two backends train the same problem and their per-step losses
and final weights can be compared.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import keras
import numpy as np
from keras import ops

from cxr_keras.gan import GAN
from tests.scripts.tiny_gan import LATENT_DIM, stripes, tiny_discriminator, tiny_generator

STEPS, BATCH = 12, 16


class FixedNoiseGAN(GAN):
    """Noise that is the same on every backend: row i of every batch is sin(i + j)."""

    def sample_latent(self, batch_size):
        rows = ops.arange(batch_size)[:, None] + ops.arange(LATENT_DIM)[None, :]
        return ops.sin(ops.cast(rows, "float32"))


def seeded_weights(model, seed: int) -> None:
    rng = np.random.default_rng(seed)
    model.set_weights([rng.normal(0.0, 0.2, w.shape).astype("float32")
                       for w in model.get_weights()])


def main() -> None:
    generator, discriminator = tiny_generator(), tiny_discriminator()
    seeded_weights(generator, 1)
    seeded_weights(discriminator, 2)
    gan = FixedNoiseGAN(generator, discriminator, LATENT_DIM, seed=0)
    gan.compile(keras.optimizers.Adam(1e-3, beta_1=0.5), keras.optimizers.Adam(1e-3, beta_1=0.5),
                r1_gamma=0.5, ema_decay=0.9)
    history = gan.fit(stripes(BATCH), batch_size=BATCH, epochs=STEPS, verbose=0,
                      shuffle=False).history
    print(json.dumps({
        "backend": keras.backend.backend(),
        "d_loss": [float(v) for v in history["d_loss"]],
        "g_loss": [float(v) for v in history["g_loss"]],
        "r1_penalty": [float(v) for v in history["r1_penalty"]],
        "generator": [w.ravel().tolist() for w in gan.sampling_generator.get_weights()],
    }))


if __name__ == "__main__":
    main()
