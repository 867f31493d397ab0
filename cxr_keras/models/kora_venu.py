"""Kora Venu & Ravula (2021): the DCGAN that generates the Normal class of Kermany's set. Details:
docs/modules.md."""

from __future__ import annotations

import keras
from keras import layers

from cxr_keras.models.layers import LEAKY_SLOPE, check_image_size, dcgan_batch_norm

LATENT_DIM = 100
LATENT_DISTRIBUTION = "normal"
IMAGE_SIZE = 128
VARIANTS = ("code", "paper")
PROJECTED_FEATURE_MAPS = 1024
UPSAMPLING_FILTERS = (512, 256, 128, 64)
DISCRIMINATOR_FILTERS = (64, 128, 256, 512, 1024)
DROPOUT = 0.4


def _check_variant(variant: str) -> str:
    if variant not in VARIANTS:
        raise ValueError(f"unknown Kora Venu variant {variant!r}; use one of {VARIANTS}")
    return variant


def kora_venu_generator(
    variant: str = "code", latent_dim: int = LATENT_DIM, image_size: int = IMAGE_SIZE,
    channels: int = 3,
) -> keras.Model:
    """z -> (image_size/16)^2 x 1024 -> four stride-2 transposed convs -> tanh image."""
    _check_variant(variant)
    start = check_image_size(image_size, 16, "kora_venu_generator") // 16
    paper = variant == "paper"
    model = keras.Sequential(name=f"kora_venu_generator_{variant}")
    model.add(keras.Input((latent_dim,), name="z"))
    model.add(layers.Dense(start * start * PROJECTED_FEATURE_MAPS, use_bias=not paper))
    model.add(layers.Reshape((start, start, PROJECTED_FEATURE_MAPS)))
    for filters in UPSAMPLING_FILTERS:
        if paper:
            model.add(dcgan_batch_norm())
            model.add(layers.ReLU())
        else:
            model.add(layers.LeakyReLU(LEAKY_SLOPE))
        model.add(layers.Conv2DTranspose(filters, 4, strides=2, padding="same", use_bias=not paper))
    if paper:
        model.add(dcgan_batch_norm())
        model.add(layers.ReLU())
    else:
        model.add(layers.LeakyReLU(LEAKY_SLOPE))
    model.add(layers.Conv2D(channels, 5, padding="same", activation="tanh", name="image"))
    return model


def kora_venu_discriminator(
    variant: str = "code", image_size: int = IMAGE_SIZE, channels: int = 3
) -> keras.Model:
    """Image -> Conv 64 (stride 1), Conv 128/256/512/1024 (stride 2) -> one logit."""
    _check_variant(variant)
    check_image_size(image_size, 16, "kora_venu_discriminator")
    paper = variant == "paper"
    model = keras.Sequential(name=f"kora_venu_discriminator_{variant}")
    model.add(keras.Input((image_size, image_size, channels), name="image"))
    for index, filters in enumerate(DISCRIMINATOR_FILTERS):
        normalised = paper and index > 0
        model.add(layers.Conv2D(filters, 4, strides=1 if index == 0 else 2, padding="same",
                                use_bias=not normalised))
        if normalised:
            model.add(dcgan_batch_norm())
        model.add(layers.LeakyReLU(LEAKY_SLOPE))
        if not paper:
            model.add(layers.Dropout(DROPOUT))
    model.add(layers.Flatten())
    model.add(layers.Dense(1, name="logit"))
    return model
