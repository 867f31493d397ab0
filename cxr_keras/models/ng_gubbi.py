"""Ng & Gubbi: a plain and a label-conditioned GAN on NIH ChestX-ray14 at 128x128x1 (Keras).
Details: docs/modules.md."""

from __future__ import annotations

import keras
from keras import layers

from cxr_keras.models.layers import LEAKY_SLOPE, TapSumConv2D, check_image_size

LATENT_DIM = 100
LATENT_DISTRIBUTION = "normal"
IMAGE_SIZE = 128
NUM_CLASSES = 7
EMBEDDING_DIM = 50
NOISE_MAP_CHANNELS = 64
FILTERS = 128
OUTPUT_KERNEL = 16
DROPOUT = 0.4


def _upsample_to_image(feature_map, channels: int, fast_output_conv: bool):
    """Four Conv2DTranspose(128, 4x4, s2) + LeakyReLU, then the 16x16 tanh convolution."""
    x = feature_map
    for index in range(4):
        x = layers.Conv2DTranspose(FILTERS, 4, strides=2, padding="same", name=f"up_{index}")(x)
        x = layers.LeakyReLU(LEAKY_SLOPE)(x)
    conv = TapSumConv2D if fast_output_conv else layers.Conv2D
    return conv(channels, OUTPUT_KERNEL, padding="same", activation="tanh", name="image")(x)


def _downsample_to_logit(image):
    """Four Conv2D(128, 5x5, s2) + LeakyReLU, flatten, dropout 0.4, Dense(1) logit."""
    x = image
    for index in range(4):
        x = layers.Conv2D(FILTERS, 5, strides=2, padding="same", name=f"down_{index}")(x)
        x = layers.LeakyReLU(LEAKY_SLOPE)(x)
    x = layers.Flatten()(x)
    x = layers.Dropout(DROPOUT)(x)
    return layers.Dense(1, name="logit")(x)


def _noise_map(z, start: int):
    x = layers.Dense(start * start * NOISE_MAP_CHANNELS, name="project")(z)
    x = layers.LeakyReLU(LEAKY_SLOPE)(x)
    return layers.Reshape((start, start, NOISE_MAP_CHANNELS))(x)


def _label_map(label, num_classes: int, height: int, channels: int, name: str):
    """Integer label -> Embedding(50) -> Dense -> a ``height x height x channels`` map."""
    if int(num_classes) < 2:
        raise ValueError(f"num_classes must be at least 2, got {num_classes!r}")
    x = layers.Embedding(num_classes, EMBEDDING_DIM, name=f"{name}_embedding")(label)
    x = layers.Dense(height * height * channels, name=f"{name}_dense")(x)
    return layers.Reshape((height, height, channels), name=name)(x)


def ng_gubbi_generator(
    latent_dim: int = LATENT_DIM, image_size: int = IMAGE_SIZE, channels: int = 1,
    fast_output_conv: bool = True,
) -> keras.Model:
    """z -> 8x8x64 (at 128) -> four ConvT(128) -> Conv2D(channels, 16x16) + tanh."""
    start = check_image_size(image_size, 16, "ng_gubbi_generator") // 16
    z = keras.Input((latent_dim,), name="z")
    image = _upsample_to_image(_noise_map(z, start), channels, fast_output_conv)
    return keras.Model(z, image, name="ng_gubbi_generator")


def ng_gubbi_discriminator(image_size: int = IMAGE_SIZE, channels: int = 1) -> keras.Model:
    """Image -> four Conv2D(128, 5x5, s2) -> dropout 0.4 -> one logit."""
    check_image_size(image_size, 16, "ng_gubbi_discriminator")
    image = keras.Input((image_size, image_size, channels), name="image")
    return keras.Model(image, _downsample_to_logit(image), name="ng_gubbi_discriminator")


def ng_gubbi_conditional_generator(
    num_classes: int = NUM_CLASSES, latent_dim: int = LATENT_DIM, image_size: int = IMAGE_SIZE,
    channels: int = 1, fast_output_conv: bool = True,
) -> keras.Model:
    """``[z, label]`` -> noise map (64 ch) ++ label map (64 ch) -> G's upsampling stack."""
    start = check_image_size(image_size, 16, "ng_gubbi_conditional_generator") // 16
    z = keras.Input((latent_dim,), name="z")
    label = keras.Input((1,), dtype="int32", name="label")
    label_map = _label_map(label, num_classes, start, NOISE_MAP_CHANNELS, "label_map")
    x = layers.Concatenate()([_noise_map(z, start), label_map])
    image = _upsample_to_image(x, channels, fast_output_conv)
    return keras.Model([z, label], image, name="ng_gubbi_conditional_generator")


def ng_gubbi_conditional_discriminator(
    num_classes: int = NUM_CLASSES, image_size: int = IMAGE_SIZE, channels: int = 1
) -> keras.Model:
    """``[image, label]`` -> image ++ label channel -> four Conv2D(128) -> one logit."""
    check_image_size(image_size, 16, "ng_gubbi_conditional_discriminator")
    image = keras.Input((image_size, image_size, channels), name="image")
    label = keras.Input((1,), dtype="int32", name="label")
    x = layers.Concatenate()([image, _label_map(label, num_classes, image_size, 1, "label_map")])
    return keras.Model([image, label], _downsample_to_logit(x),
                       name="ng_gubbi_conditional_discriminator")
