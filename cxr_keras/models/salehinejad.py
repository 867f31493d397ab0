"""Salehinejad et al. (ICASSP 2018): the per-class DCGAN that balances five CXR classes. Details:
docs/modules.md."""

from __future__ import annotations

import keras
from keras import layers

from cxr_keras.models.layers import dcgan_batch_norm, dcgan_initializer, power_of_two_steps

LATENT_DIM = 128
LATENT_DISTRIBUTION = "uniform"
IMAGE_SIZE = 256
PROJECTED_FEATURE_MAPS = 1024
START_SIZE = 4
KERNEL_SIZE = 5


def _filter_schedule(steps: int) -> list[int]:
    """Feature maps after each of G's up-convolutions but the last: 512, 256, ... (min 32)."""
    return [max(PROJECTED_FEATURE_MAPS // 2 ** (i + 1), 32) for i in range(steps - 1)]


def salehinejad_generator(
    latent_dim: int = LATENT_DIM, image_size: int = IMAGE_SIZE, channels: int = 1,
) -> keras.Model:
    """z -> 4x4x1024 -> ``log2(image_size/4)`` stride-2 transposed convs -> tanh image."""
    steps = power_of_two_steps(image_size, START_SIZE, "salehinejad_generator")
    model = keras.Sequential(name="salehinejad_generator")
    model.add(keras.Input((latent_dim,), name="z"))
    model.add(layers.Dense(START_SIZE * START_SIZE * PROJECTED_FEATURE_MAPS, use_bias=False,
                           kernel_initializer=dcgan_initializer(), name="project"))
    model.add(layers.Reshape((START_SIZE, START_SIZE, PROJECTED_FEATURE_MAPS)))
    model.add(dcgan_batch_norm())
    model.add(layers.ReLU())
    for filters in _filter_schedule(steps):
        model.add(layers.Conv2DTranspose(filters, KERNEL_SIZE, strides=2, padding="same",
                                         use_bias=False, kernel_initializer=dcgan_initializer()))
        model.add(dcgan_batch_norm())
        model.add(layers.ReLU())
    model.add(layers.Conv2DTranspose(channels, KERNEL_SIZE, strides=2, padding="same",
                                     activation="tanh", kernel_initializer=dcgan_initializer(),
                                     name="image"))
    return model


def salehinejad_discriminator(image_size: int = IMAGE_SIZE, channels: int = 1) -> keras.Model:
    """Image -> ``log2(image_size/4)`` stride-2 convs (six at 256) down to 4x4 -> one logit."""
    steps = power_of_two_steps(image_size, START_SIZE, "salehinejad_discriminator")
    model = keras.Sequential(name="salehinejad_discriminator")
    model.add(keras.Input((image_size, image_size, channels), name="image"))
    for index, filters in enumerate([*reversed(_filter_schedule(steps)), PROJECTED_FEATURE_MAPS]):
        model.add(layers.Conv2D(filters, KERNEL_SIZE, strides=2, padding="same",
                                use_bias=index == 0, kernel_initializer=dcgan_initializer()))
        if index > 0:
            model.add(dcgan_batch_norm())
        model.add(layers.LeakyReLU(0.2))
    model.add(layers.Flatten())
    model.add(layers.Dense(1, kernel_initializer=dcgan_initializer(), name="logit"))
    return model
