"""The papers' chest X-ray classifiers. Each returns softmax class probabilities."""

from __future__ import annotations

import keras
from keras import layers, regularizers

from cxr_keras.models.layers import check_image_size, power_of_two_steps

SALEHINEJAD_FEATURES = 4096
SALEHINEJAD_HIDDEN_UNITS = 512
KORA_VENU_BLOCK_FILTERS = (32, 64, 128, 256)
KORA_VENU_DENSE_BLOCKS = ((512, 0.7), (128, 0.5), (64, 0.3))

# Keras' default BatchNorm momentum (0.99) leaves the moving statistics far from the batch
# statistics after the few hundred steps these small training sets give: inference outputs
# then collapse to one constant prediction. 0.9 is PyTorch's default (momentum 0.1).
BN_MOMENTUM = 0.9


def salehinejad_dcnn(num_classes: int = 5, image_size: int = 256, channels: int = 1,
                     hidden_units: int = SALEHINEJAD_HIDDEN_UNITS) -> keras.Model:
    """Salehinejad et al.'s AlexNet-like "DCNN".

    Blocks of 5x5 convolution + ReLU + 2x2 max-pool down to 4x4x256, i.e. the paper's 4,096
    feature vector at any power-of-two size (six blocks at 256; filters double towards 256 and
    never drop below 16), then an MLP with one hidden layer (``hidden_units``, not given in the
    paper) and a softmax. Conv weights are normal (He-scaled, untruncated), biases 0.1, L2 1e-4
    on every kernel, as the paper states.
    """
    blocks = power_of_two_steps(image_size, 4, "salehinejad_dcnn")
    final_filters = SALEHINEJAD_FEATURES // 16
    l2 = regularizers.L2(1e-4)
    model = keras.Sequential(name="salehinejad_dcnn")
    model.add(keras.Input((image_size, image_size, channels), name="image"))
    for index in range(blocks):
        filters = max(final_filters // 2 ** (blocks - 1 - index), 16)
        model.add(layers.Conv2D(
            filters, 5, padding="same", activation="relu",
            kernel_initializer=keras.initializers.VarianceScaling(2.0, "fan_in", "untruncated_normal"),
            bias_initializer=keras.initializers.Constant(0.1), kernel_regularizer=l2))
        model.add(layers.MaxPooling2D(2))
    model.add(layers.Flatten(name="features"))
    model.add(layers.Dense(hidden_units, activation="relu", kernel_regularizer=l2))
    model.add(layers.Dense(num_classes, activation="softmax", kernel_regularizer=l2,
                           name="probabilities"))
    return model


def kora_venu_cnn(num_classes: int = 2, image_size: int = 224, channels: int = 3,
                  dropout: float = 0.2) -> keras.Model:
    """Kora Venu & Ravula's separable-convolution classifier (their Figure 7).

    Two Conv2D(16, 3x3) + max-pool; four blocks of two SeparableConv2D + ReLU, BatchNorm,
    max-pool and dropout (32, 64, 128, 256 filters: 7x7x256 at 224); flatten; dense blocks
    Dense + ReLU + BatchNorm + dropout (512/0.7, 128/0.5, 64/0.3: sizes the paper does not
    print); softmax. ``image_size`` must be a multiple of 32 (e.g. 64 or 224).
    """
    check_image_size(image_size, 32, "kora_venu_cnn")
    model = keras.Sequential(name="kora_venu_cnn")
    model.add(keras.Input((image_size, image_size, channels), name="image"))
    model.add(layers.Conv2D(16, 3, padding="same", activation="relu"))
    model.add(layers.Conv2D(16, 3, padding="same", activation="relu"))
    model.add(layers.MaxPooling2D(2))
    for filters in KORA_VENU_BLOCK_FILTERS:
        model.add(layers.SeparableConv2D(filters, 3, padding="same", activation="relu"))
        model.add(layers.SeparableConv2D(filters, 3, padding="same", activation="relu"))
        model.add(layers.BatchNormalization(momentum=BN_MOMENTUM))
        model.add(layers.MaxPooling2D(2))
        model.add(layers.Dropout(dropout))
    model.add(layers.Flatten(name="features"))
    for units, rate in KORA_VENU_DENSE_BLOCKS:
        model.add(layers.Dense(units, activation="relu"))
        model.add(layers.BatchNormalization(momentum=BN_MOMENTUM))
        model.add(layers.Dropout(rate))
    model.add(layers.Dense(num_classes, activation="softmax", name="probabilities"))
    return model


def davoodi_cnn(num_classes: int = 4, image_size: int = 64, channels: int = 1) -> keras.Model:
    """A small CNN for Davoodi & Lo Giudice's 4-class task.

    The paper gives no architecture (only SGD lr 0.01 with Nesterov momentum 0.9, batch 256),
    so this is the kit's documented choice: three blocks of two 3x3 Conv2D (32, 64, 128) with
    BatchNorm + ReLU and 2x2 max-pool, global average pooling, dropout 0.5, softmax.
    ``image_size`` must be a multiple of 8.
    """
    check_image_size(image_size, 8, "davoodi_cnn")
    model = keras.Sequential(name="davoodi_cnn")
    model.add(keras.Input((image_size, image_size, channels), name="image"))
    for filters in (32, 64, 128):
        for _ in range(2):
            model.add(layers.Conv2D(filters, 3, padding="same", use_bias=False))
            model.add(layers.BatchNormalization(momentum=BN_MOMENTUM))
            model.add(layers.ReLU())
        model.add(layers.MaxPooling2D(2))
    model.add(layers.GlobalAveragePooling2D(name="features"))
    model.add(layers.Dropout(0.5))
    model.add(layers.Dense(num_classes, activation="softmax", name="probabilities"))
    return model
