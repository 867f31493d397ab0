"""ResNet-18 for small inputs, the MedMNIST v2 way (functional API). Details: docs/modules.md."""

from __future__ import annotations

import keras
from keras import layers

RESNET18_BLOCKS = (2, 2, 2, 2)
BN_MOMENTUM = 0.9  # PyTorch's default, as the MedMNIST reference models use


def _conv_bn(x, filters: int, stride: int, name: str, relu: bool = True):
    x = layers.Conv2D(filters, 3, strides=stride, padding="same", use_bias=False, name=f"{name}_conv")(x)
    x = layers.BatchNormalization(momentum=BN_MOMENTUM, name=f"{name}_bn")(x)
    return layers.ReLU(name=f"{name}_relu")(x) if relu else x


def basic_block(x, filters: int, stride: int, name: str):
    """Two 3x3 conv-BN layers and an identity (or 1x1 projection) shortcut, then ReLU."""
    shortcut = x
    if stride != 1 or x.shape[-1] != filters:
        shortcut = layers.Conv2D(filters, 1, strides=stride, use_bias=False, name=f"{name}_proj")(x)
        shortcut = layers.BatchNormalization(momentum=BN_MOMENTUM, name=f"{name}_proj_bn")(shortcut)
    x = _conv_bn(x, filters, stride, f"{name}_a")
    x = _conv_bn(x, filters, 1, f"{name}_b", relu=False)
    x = layers.Add(name=f"{name}_add")([x, shortcut])
    return layers.ReLU(name=f"{name}_out")(x)


def resnet18_small(
    num_classes: int = 2, image_size: int = 28, channels: int = 1, width: int = 64
) -> keras.Model:
    """ResNet-18 for ``image_size`` px inputs (MedMNIST's ResNet-18 (28) at ``width=64``)."""
    if image_size < 8:
        raise ValueError(f"image_size must be at least 8 (three stride-2 stages), got {image_size}")
    if width < 1 or num_classes < 2:
        raise ValueError(f"width must be >= 1 and num_classes >= 2, got {width} and {num_classes}")
    inputs = keras.Input((image_size, image_size, channels), name="image")
    x = _conv_bn(inputs, width, 1, "stem")
    for stage, blocks in enumerate(RESNET18_BLOCKS):
        filters = width * 2**stage
        for block in range(blocks):
            stride = 2 if stage > 0 and block == 0 else 1
            x = basic_block(x, filters, stride, f"stage{stage + 1}_block{block + 1}")
    x = layers.GlobalAveragePooling2D(name="features")(x)
    outputs = layers.Dense(num_classes, activation="softmax", name="probabilities")(x)
    return keras.Model(inputs, outputs, name=f"resnet18_{image_size}px")
