"""The FID Inception network (2015-12-05 TensorFlow graph) in Keras, with its quirks. Details:
docs/modules.md."""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

import keras
import numpy as np
from keras import layers, ops

from cxr_keras.paths import CACHE_DIR

INPUT_SIZE = 299
FEATURE_DIMS = (2048, 768)
WEIGHTS_ENV = "CXR_KERAS_FID_WEIGHTS"
DEFAULT_WEIGHTS = CACHE_DIR / "fid_inception_v3.weights.npz"


class LegacyBilinearResize(layers.Layer):
    """Bilinear resize as TF1's ``resize_bilinear(align_corners=False)`` (no half-pixel centres)."""

    def __init__(self, height: int = INPUT_SIZE, width: int = INPUT_SIZE, **kwargs):
        super().__init__(**kwargs)
        self.height, self.width = int(height), int(width)

    def call(self, images):
        shape = ops.shape(images)
        images = _resize_axis(images, axis=1, in_size=shape[1], out_size=self.height)
        return _resize_axis(images, axis=2, in_size=shape[2], out_size=self.width)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.height, self.width, input_shape[3])

    def get_config(self):
        return {**super().get_config(), "height": self.height, "width": self.width}


def _resize_axis(images, axis: int, in_size, out_size: int):
    """Linear interpolation along one axis at source positions ``i * in_size / out_size``."""
    scale = ops.cast(in_size, "float32") / float(out_size)
    source = ops.arange(out_size, dtype="float32") * scale
    lower = ops.floor(source)
    weight = source - lower
    lower = ops.cast(lower, "int32")
    upper = ops.minimum(lower + 1, ops.cast(in_size, "int32") - 1)
    below, above = ops.take(images, lower, axis=axis), ops.take(images, upper, axis=axis)
    weight = ops.reshape(weight, (1, out_size, 1, 1) if axis == 1 else (1, 1, out_size, 1))
    return below + (above - below) * weight


def _conv(x, name: str, filters: int, kernel, strides: int = 1, padding: str = "same"):
    """Conv + (folded) batch norm + ReLU, the graph's only conv unit."""
    return layers.Conv2D(
        filters, kernel, strides=strides, padding=padding, activation="relu", name=name
    )(x)


def _avg_pool_tower(x, name: str, filters: int):
    pooled = layers.AveragePooling2D(3, strides=1, padding="same", name=f"{name}.pool")(x)
    return _conv(pooled, f"{name}.conv", filters, 1)


def _inception_a(x, name: str, pool_filters: int):
    branches = [
        _conv(x, f"{name}.conv", 64, 1),
        _conv(_conv(x, f"{name}.tower.conv", 48, 1), f"{name}.tower.conv_1", 64, 5),
        _conv(
            _conv(_conv(x, f"{name}.tower_1.conv", 64, 1), f"{name}.tower_1.conv_1", 96, 3),
            f"{name}.tower_1.conv_2", 96, 3,
        ),
        _avg_pool_tower(x, f"{name}.tower_2", pool_filters),
    ]
    return layers.Concatenate(name=name)(branches)


def _inception_b(x, name: str):
    tower = _conv(_conv(x, f"{name}.tower.conv", 64, 1), f"{name}.tower.conv_1", 96, 3)
    branches = [
        _conv(x, f"{name}.conv", 384, 3, strides=2, padding="valid"),
        _conv(tower, f"{name}.tower.conv_2", 96, 3, strides=2, padding="valid"),
        layers.MaxPooling2D(3, strides=2, name=f"{name}.pool")(x),
    ]
    return layers.Concatenate(name=name)(branches)


def _inception_c(x, name: str, width: int):
    tower = _conv(x, f"{name}.tower.conv", width, 1)
    tower = _conv(tower, f"{name}.tower.conv_1", width, (1, 7))
    tower = _conv(tower, f"{name}.tower.conv_2", 192, (7, 1))
    tower_1 = _conv(x, f"{name}.tower_1.conv", width, 1)
    for index, (filters, kernel) in enumerate(
        [(width, (7, 1)), (width, (1, 7)), (width, (7, 1)), (192, (1, 7))], start=1
    ):
        tower_1 = _conv(tower_1, f"{name}.tower_1.conv_{index}", filters, kernel)
    branches = [
        _conv(x, f"{name}.conv", 192, 1), tower, tower_1,
        _avg_pool_tower(x, f"{name}.tower_2", 192),
    ]
    return layers.Concatenate(name=name)(branches)


def _inception_d(x, name: str):
    tower = _conv(
        _conv(x, f"{name}.tower.conv", 192, 1), f"{name}.tower.conv_1", 320, 3, strides=2,
        padding="valid",
    )
    tower_1 = _conv(x, f"{name}.tower_1.conv", 192, 1)
    tower_1 = _conv(tower_1, f"{name}.tower_1.conv_1", 192, (1, 7))
    tower_1 = _conv(tower_1, f"{name}.tower_1.conv_2", 192, (7, 1))
    tower_1 = _conv(tower_1, f"{name}.tower_1.conv_3", 192, 3, strides=2, padding="valid")
    pool = layers.MaxPooling2D(3, strides=2, name=f"{name}.pool")(x)
    return layers.Concatenate(name=name)([tower, tower_1, pool])


def _inception_e(x, name: str, pool: str):
    a = _conv(x, f"{name}.tower_conv", 384, 1)
    b = _conv(_conv(x, f"{name}.tower_1_conv", 448, 1), f"{name}.tower_1_conv_1", 384, 3)
    pool_layer = layers.AveragePooling2D if pool == "avg" else layers.MaxPooling2D
    pooled = pool_layer(3, strides=1, padding="same", name=f"{name}.tower_2_pool")(x)
    branches = [
        _conv(x, f"{name}.conv", 320, 1), _conv(a, f"{name}.tower_mixed_conv", 384, (1, 3)),
        _conv(a, f"{name}.tower_mixed_conv_1", 384, (3, 1)),
        _conv(b, f"{name}.tower_1_mixed_conv", 384, (1, 3)),
        _conv(b, f"{name}.tower_1_mixed_conv_1", 384, (3, 1)),
        _conv(pooled, f"{name}.tower_2_conv", 192, 1),
    ]
    return layers.Concatenate(name=name)(branches)


def FIDInceptionV3(name: str = "fid_inception_v3") -> keras.Model:
    """Build the FID Inception network (untrained); its contract: docs/modules.md."""
    images = keras.Input((None, None, 3), name="images")
    x = LegacyBilinearResize(INPUT_SIZE, INPUT_SIZE, name="resize_299")(
        ops.clip(images, 0.0, 255.0)
    )
    x = ops.clip(x / 128.0 - 1.0, -1.0, 255.0 / 128.0 - 1.0)  # the graph's (x - 128) / 128
    x = _conv(x, "conv", 32, 3, strides=2, padding="valid")
    x = _conv(x, "conv_1", 32, 3, padding="valid")
    x = _conv(x, "conv_2", 64, 3)
    x = layers.MaxPooling2D(3, strides=2, name="pool0")(x)
    x = _conv(x, "conv_3", 80, 1, padding="valid")
    x = _conv(x, "conv_4", 192, 3, padding="valid")
    x = layers.MaxPooling2D(3, strides=2, name="pool1")(x)
    for block, pool_filters in [("mixed", 32), ("mixed_1", 64), ("mixed_2", 64)]:
        x = _inception_a(x, block, pool_filters)
    x = _inception_b(x, "mixed_3")
    for block, width in [("mixed_4", 128), ("mixed_5", 160), ("mixed_6", 160), ("mixed_7", 192)]:
        x = _inception_c(x, block, width)
    mixed_6e = layers.GlobalAveragePooling2D(name="mixed_6e_features")(x)
    x = _inception_d(x, "mixed_8")
    x = _inception_e(x, "mixed_9", pool="avg")
    x = _inception_e(x, "mixed_10", pool="max")
    pool3 = layers.GlobalAveragePooling2D(name="pool3")(x)
    return keras.Model(images, [pool3, mixed_6e], name=name)


def default_weights_path() -> Path:
    """``$CXR_KERAS_FID_WEIGHTS`` if set, else ``.cache/fid_inception_v3.weights.npz``."""
    return Path(os.environ.get(WEIGHTS_ENV) or DEFAULT_WEIGHTS)


def folded_conv_weights(weights: dict, name: str, eps: float) -> tuple[np.ndarray, np.ndarray]:
    """Kernel (kh, kw, in, out) and bias of conv `name` with its scale-free batch norm folded in."""
    inv_std = 1.0 / np.sqrt(weights[f"{name}.var"].astype(np.float64) + eps)
    kernel = weights[f"{name}.weight"].astype(np.float64) * inv_std[:, None, None, None]
    bias = weights[f"{name}.beta"] - weights[f"{name}.mean"] * inv_std
    return kernel.transpose(2, 3, 1, 0).astype(np.float32), bias.astype(np.float32)


def _check_geometry(layer: layers.Conv2D, weights: dict) -> None:
    """Fail loudly if the Keras conv's stride/padding disagree with the TorchScript file."""
    stride = tuple(int(s) for s in weights[f"{layer.name}.stride"])
    padding = tuple(int(p) for p in weights[f"{layer.name}.padding"])
    same = tuple((k - 1) // 2 for k in layer.kernel_size)
    expected_padding = same if layer.padding == "same" else (0, 0)
    if stride != tuple(layer.strides) or padding != expected_padding:
        raise ValueError(
            f"conv {layer.name}: file has stride {stride} padding {padding}, "
            f"Keras layer has strides {layer.strides} padding {layer.padding!r}"
        )


def load_weights_npz(model: keras.Model, weights_path: str | os.PathLike) -> keras.Model:
    """Load the .npz written by :mod:`tools.fid_weights` into `model` (in place)."""
    weights_path = Path(weights_path)
    try:
        with np.load(weights_path) as data:
            weights = {key: data[key] for key in data.files}
        eps = float(weights["bn_eps"])
    except (OSError, ValueError, KeyError, zipfile.BadZipFile) as error:
        raise ValueError(
            f"{weights_path} is not a FID Inception weights file ({error}); delete it and "
            "re-run `make fid-weights`"
        ) from error
    convs = [layer for layer in model.layers if isinstance(layer, layers.Conv2D)]
    missing = [layer.name for layer in convs if f"{layer.name}.weight" not in weights]
    unused = {key.rsplit(".", 1)[0] for key in weights if key != "bn_eps"} - {
        layer.name for layer in convs
    }
    if missing or unused:
        raise ValueError(
            f"{weights_path} does not match the FID Inception graph: "
            f"missing {missing[:5]}, unused {sorted(unused)[:5]}"
        )
    for layer in convs:
        _check_geometry(layer, weights)
        layer.set_weights(list(folded_conv_weights(weights, layer.name, eps)))
    return model


def load_fid_inception(weights_path: str | os.PathLike | None = None) -> keras.Model:
    """Build :func:`FIDInceptionV3` and load its weights (default: :func:`default_weights_path`)."""
    path = Path(weights_path) if weights_path is not None else default_weights_path()
    if not path.is_file():
        raise FileNotFoundError(
            f"FID Inception weights not found at {path}. Run `make fid-weights` (or, from the "
            "repository root, `python -m tools.fid_weights "
            "--output .cache/fid_inception_v3.weights.npz`), "
            f"or pass weights_path= / set ${WEIGHTS_ENV}."
        )
    return load_weights_npz(FIDInceptionV3(), path)
