"""Davoodi & Lo Giudice: the per-class DCGAN (PyTorch DCGAN reference) at 64x64x1. Details:
docs/modules.md."""

from __future__ import annotations

import keras
from keras import layers

from cxr_keras.models.layers import (
    LEAKY_SLOPE,
    check_image_size,
    dcgan_batch_norm,
    dcgan_initializer,
)

LATENT_DIM = 100
LATENT_DISTRIBUTION = "uniform"
IMAGE_SIZE = 64
DROPOUT = 0.3


def davoodi_generator(
    latent_dim: int = LATENT_DIM, image_size: int = IMAGE_SIZE, channels: int = 1,
) -> keras.Model:
    """z -> bias-free Dense to 4x4x512 + BN + ReLU -> ConvT 256/128/64 (BN, ReLU) -> tanh."""
    start = check_image_size(image_size, 16, "davoodi_generator") // 16
    init = dcgan_initializer
    model = keras.Sequential(name="davoodi_generator")
    model.add(keras.Input((latent_dim,), name="z"))
    model.add(layers.Dense(start * start * 512, use_bias=False, kernel_initializer=init()))
    model.add(layers.Reshape((start, start, 512)))
    model.add(dcgan_batch_norm())
    model.add(layers.ReLU())
    for filters in (256, 128, 64):
        model.add(layers.Conv2DTranspose(filters, 4, strides=2, padding="same", use_bias=False,
                                         kernel_initializer=init()))
        model.add(dcgan_batch_norm())
        model.add(layers.ReLU())
    model.add(layers.Conv2DTranspose(channels, 4, strides=2, padding="same", use_bias=False,
                                     activation="tanh", kernel_initializer=init(), name="image"))
    return model


def davoodi_discriminator(image_size: int = IMAGE_SIZE, channels: int = 1) -> keras.Model:
    """Image -> Conv 64/128/256/512 (4x4, s2; BN from the 2nd; dropout on 1st, 3rd, 4th) -> logit."""
    final_kernel = check_image_size(image_size, 16, "davoodi_discriminator") // 16
    init = dcgan_initializer
    model = keras.Sequential(name="davoodi_discriminator")
    model.add(keras.Input((image_size, image_size, channels), name="image"))
    for index, filters in enumerate((64, 128, 256, 512)):
        model.add(layers.Conv2D(filters, 4, strides=2, padding="same", use_bias=False,
                                kernel_initializer=init()))
        if index > 0:
            model.add(dcgan_batch_norm())
        model.add(layers.LeakyReLU(LEAKY_SLOPE))
        if index != 1:
            model.add(layers.Dropout(DROPOUT))
    model.add(layers.Conv2D(1, final_kernel, padding="valid", use_bias=False,
                            kernel_initializer=init(), name="logit_map"))
    model.add(layers.Flatten(name="logit"))
    return model
