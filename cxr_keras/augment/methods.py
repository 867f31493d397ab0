"""The classic augmentations: names, strengths, and one form in ``keras.ops`` for every backend.
Details: docs/modules.md."""

from __future__ import annotations

import math

import numpy as np
from keras import ops

METHODS = ("none", "flip", "crop", "clip", "brightness", "contrast")
CROP_MAX_ZOOM = 1.2
CLIP_RANGE = (-0.8, 0.8)
BRIGHTNESS_DELTA = 0.2
CONTRAST_RANGE = (0.7, 1.3)


def check_method(method: str) -> str:
    """Return ``method`` if it names a classic augmentation; else a ValueError listing them."""
    if method not in METHODS:
        raise ValueError(f"unknown augmentation {method!r}; choose one of {sorted(METHODS)}")
    return method


def _crop_transform(rng: np.random.Generator, height: int, width: int) -> list[float]:
    """The ``affine_transform`` row of a zoom by U(1, CROP_MAX_ZOOM) (bilinear, half-pixel
    centres, as ``tf.image.resize`` to the ceiled size) and a random crop back to the input size."""
    zoom = rng.uniform(1.0, CROP_MAX_ZOOM)
    zoomed_h, zoomed_w = math.ceil(zoom * height), math.ceil(zoom * width)
    top, left = rng.integers(0, zoomed_h - height + 1), rng.integers(0, zoomed_w - width + 1)
    scale_y, scale_x = height / zoomed_h, width / zoomed_w
    return [scale_x, 0.0, (left + 0.5) * scale_x - 0.5, 0.0, scale_y, (top + 0.5) * scale_y - 0.5,
            0.0, 0.0]


def augment_images(images: np.ndarray, method: str, seed: int, first_index: int = 0) -> np.ndarray:
    """Augment (N, H, W, C) images in [-1, 1] with ``method``; float32 numpy, still in [-1, 1].

    Image ``i`` draws from ``numpy.random.default_rng((seed, first_index + i))``, so a stream of
    batches depends only on ``seed`` and the image order; the operations are ``keras.ops``.
    """
    check_method(method)
    images = np.asarray(images, dtype=np.float32)
    if images.ndim != 4:
        raise ValueError(f"expected images of shape (N, H, W, C), got {images.shape}")
    if method == "none" or not len(images):
        return images.copy()
    rngs = [np.random.default_rng((int(seed), first_index + i)) for i in range(len(images))]
    x = ops.convert_to_tensor(images)

    def per_image(draw, dtype="float32"):  # one draw per image, broadcast over its pixels
        return ops.convert_to_tensor(np.reshape([draw(rng) for rng in rngs], (-1, 1, 1, 1)), dtype)

    if method == "flip":
        out = ops.where(per_image(lambda rng: rng.random() < 0.5, "bool"), ops.flip(x, axis=2), x)
    elif method == "crop":
        transforms = np.float32([_crop_transform(rng, *images.shape[1:3]) for rng in rngs])
        out = ops.image.affine_transform(x, ops.convert_to_tensor(transforms), "bilinear",
                                         fill_mode="nearest", data_format="channels_last")
    elif method == "clip":
        out = ops.clip(x, *CLIP_RANGE)
    elif method == "brightness":
        out = x + per_image(lambda rng: rng.uniform(-BRIGHTNESS_DELTA, BRIGHTNESS_DELTA))
    else:  # contrast
        mean = ops.mean(x, axis=(1, 2), keepdims=True)
        out = mean + per_image(lambda rng: rng.uniform(*CONTRAST_RANGE)) * (x - mean)
    return np.clip(ops.convert_to_numpy(out), -1.0, 1.0).astype(np.float32, copy=False)
