"""Tiny GAN pieces for the GAN-engine tests, and a resumable training command.

Run as a script: ``python tests/scripts/tiny_gan.py OUT_DIR --epochs 8 --epoch-sleep 0.3``
trains a tiny GAN with ``train_gan`` (resuming when OUT_DIR holds checkpoints) and writes
``OUT_DIR/train_begin.npz`` with the generator weights and optimizer iteration counts at
the start of ``fit``, i.e. right after any restore (and, for ``--compile '{"ema_decay": 0.9}'``
style options, the EMA generator's weights as ``ema_N`` and the augmentation ``augment_p``).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import keras
import numpy as np
from keras import layers

LATENT_DIM = 8
SIZE = 16


def stripes(n: int, size: int = SIZE, seed: int = 0) -> np.ndarray:
    """``n`` images of horizontal stripes with random phase, in [-1, 1], mean about 0.3."""
    rng = np.random.default_rng(seed)
    rows = np.arange(size)[None, :, None, None]
    phase = rng.integers(0, 4, size=(n, 1, 1, 1))
    images = np.where((rows + phase) % 4 == 0, -1.0, 0.7)
    images = np.broadcast_to(images, (n, size, size, 1))
    return (images + rng.normal(0.0, 0.05, images.shape)).clip(-1, 1).astype("float32")


def tiny_generator(latent_dim: int = LATENT_DIM, size: int = SIZE) -> keras.Model:
    z = keras.Input((latent_dim,))
    x = layers.Dense(32, activation="relu")(z)
    x = layers.Dense(size * size, activation="tanh")(x)
    return keras.Model(z, layers.Reshape((size, size, 1))(x), name="tiny_generator")


def tiny_discriminator(size: int = SIZE) -> keras.Model:
    image = keras.Input((size, size, 1))
    x = layers.Conv2D(4, 3, strides=2, padding="same")(image)
    x = layers.LeakyReLU(0.2)(x)
    x = layers.Flatten()(x)
    return keras.Model(image, layers.Dense(1)(x), name="tiny_discriminator")


def _embedded_label(num_classes: int, label_shape: tuple):
    """A label input of shape ``label_shape`` (``()`` or ``(1,)``) and its flat embedding."""
    label = keras.Input(label_shape, dtype="int32")
    return label, layers.Flatten()(layers.Embedding(num_classes, 4)(label))


def tiny_conditional_generator(num_classes: int, latent_dim: int = LATENT_DIM,
                               size: int = SIZE, label_shape: tuple = ()) -> keras.Model:
    z = keras.Input((latent_dim,))
    label, embedded = _embedded_label(num_classes, label_shape)
    x = layers.Concatenate()([z, embedded])
    x = layers.Dense(size * size, activation="tanh")(x)
    return keras.Model([z, label], layers.Reshape((size, size, 1))(x), name="tiny_cgen")


def tiny_conditional_discriminator(num_classes: int, size: int = SIZE,
                                   label_shape: tuple = ()) -> keras.Model:
    image = keras.Input((size, size, 1))
    label, embedded = _embedded_label(num_classes, label_shape)
    x = layers.Concatenate()([layers.Flatten()(image), embedded])
    x = layers.Dense(16)(x)
    x = layers.LeakyReLU(0.2)(x)
    return keras.Model([image, label], layers.Dense(1)(x), name="tiny_cdisc")


def tiny_gan(seed: int = 0, lr: float = 2e-3, **compile_kwargs):
    """A compiled tiny unconditional GAN (weights seeded through ``keras.utils``)."""
    from cxr_keras.gan import GAN

    keras.utils.set_random_seed(seed)
    gan = GAN(tiny_generator(), tiny_discriminator(), LATENT_DIM, seed=seed)
    compile_kwargs.setdefault("jit_compile", False)
    gan.compile(keras.optimizers.Adam(lr, beta_1=0.5), keras.optimizers.Adam(lr, beta_1=0.5),
                **compile_kwargs)
    return gan


class _RecordTrainBegin(keras.callbacks.Callback):
    def __init__(self, path: Path, sleep: float):
        super().__init__()
        self.path, self.sleep = path, sleep

    def on_train_begin(self, logs=None):
        gan = self.model
        extra = {}
        if gan.generator_average is not None:
            extra = {f"ema_{i}": w for i, w in enumerate(gan.sampling_generator.get_weights())}
        if gan.augmenter is not None:
            extra["augment_p"] = gan.augmenter.probability.numpy()
        np.savez(self.path, *gan.generator.get_weights(),
                 d_iterations=int(gan.d_optimizer.iterations.numpy()),
                 g_iterations=int(gan.g_optimizer.iterations.numpy()), **extra)

    def on_epoch_end(self, epoch, logs=None):
        time.sleep(self.sleep)


def kill_after_checkpoint(command, env, checkpoint_dir: Path, epoch: int = 2,
                          timeout: float = 90) -> None:
    """Start ``command``, wait for a checkpoint of at least ``epoch``, then kill -9 it."""
    from cxr_keras.gan import latest_checkpoint

    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + timeout
        while (latest_checkpoint(checkpoint_dir) or (0,))[0] < epoch:
            assert process.poll() is None, process.stdout.read().decode()[-2000:]
            assert time.monotonic() < deadline, f"no checkpoint for epoch {epoch} in {timeout} s"
            time.sleep(0.05)
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--epoch-sleep", type=float, default=0.0)
    parser.add_argument("--compile", type=json.loads, default={},
                        help="JSON dict of extra GAN.compile options (a training recipe)")
    args = parser.parse_args(argv)
    from cxr_keras.gan import train_gan

    gan = tiny_gan(**args.compile)
    args.out_dir.mkdir(parents=True, exist_ok=True)
    record = _RecordTrainBegin(args.out_dir / "train_begin.npz", args.epoch_sleep)
    history = train_gan(gan, stripes(64), args.epochs, args.out_dir, sample_every=None,
                        verbose=0, callbacks=[record])
    print("epochs:", history["epoch"].tolist(), flush=True)


if __name__ == "__main__":
    main()
