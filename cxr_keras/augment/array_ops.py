"""The classic augmentations on numpy arrays, for Keras backends without TensorFlow.

Each maps one image in [-1, 1] (height, width, channels) and a ``numpy.random.Generator`` to
an image of the same shape, still in [-1, 1], with the strengths of
:mod:`cxr_keras.augment.methods`. The draws come from numpy, not from TensorFlow's stateless
generators, so the same seed gives other (equally distributed) draws than the TensorFlow
versions in :mod:`cxr_keras.augment.tensorflow_ops`.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from cxr_keras.augment.methods import (
    BRIGHTNESS_DELTA,
    CLIP_RANGE,
    CONTRAST_RANGE,
    CROP_MAX_ZOOM,
    check_method,
)


def resize_bilinear(image: np.ndarray, height: int, width: int) -> np.ndarray:
    """Bilinear resize of one (h, w, c) image with half-pixel centres, as ``tf.image.resize``."""
    def taps(size_in, size_out):
        centres = np.clip((np.arange(size_out) + 0.5) * size_in / size_out - 0.5, 0, size_in - 1)
        low = np.floor(centres).astype(int)
        return low, np.minimum(low + 1, size_in - 1), (centres - low).astype(np.float32)

    (top, bottom, dy), (left, right, dx) = taps(image.shape[0], height), taps(image.shape[1], width)
    rows = image[top] * (1 - dy)[:, None, None] + image[bottom] * dy[:, None, None]
    return rows[:, left] * (1 - dx)[None, :, None] + rows[:, right] * dx[None, :, None]


def random_flip(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Mirror the image left-right with probability 0.5."""
    return image[:, ::-1] if rng.random() < 0.5 else image


def random_crop(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Zoom in by a random factor in [1, CROP_MAX_ZOOM], then crop back to the input size."""
    height, width = image.shape[:2]
    zoom = rng.uniform(1.0, CROP_MAX_ZOOM)
    zoomed = resize_bilinear(image, math.ceil(zoom * height), math.ceil(zoom * width))
    top = rng.integers(0, zoomed.shape[0] - height + 1)
    left = rng.integers(0, zoomed.shape[1] - width + 1)
    return zoomed[top:top + height, left:left + width]


def clip_by_value(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Clip intensities to CLIP_RANGE (no draw: the operation is deterministic)."""
    return np.clip(image, *CLIP_RANGE)


def adjust_brightness(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Add one random offset in [-BRIGHTNESS_DELTA, BRIGHTNESS_DELTA] to every pixel."""
    return np.clip(image + rng.uniform(-BRIGHTNESS_DELTA, BRIGHTNESS_DELTA), -1.0, 1.0)


def adjust_contrast(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Scale each pixel's deviation from the image mean by a random factor in CONTRAST_RANGE."""
    mean = image.mean(axis=(0, 1), keepdims=True)
    return np.clip(mean + rng.uniform(*CONTRAST_RANGE) * (image - mean), -1.0, 1.0)


ARRAY_AUGMENTATIONS: dict[str, Callable[[np.ndarray, np.random.Generator], np.ndarray]] = {
    "none": lambda image, rng: image,
    "flip": random_flip,
    "crop": random_crop,
    "clip": clip_by_value,
    "brightness": adjust_brightness,
    "contrast": adjust_contrast,
}


def augment_array_batch(images: np.ndarray, method: str, seed: int, first_index: int = 0) -> np.ndarray:
    """Augment (N, H, W, C) images; image ``i`` draws from the generator seeded
    ``(seed, first_index + i)``, so a stream of batches depends only on ``seed`` and the order."""
    augmentation = ARRAY_AUGMENTATIONS[check_method(method)]
    images = np.asarray(images, dtype=np.float32)
    out = [augmentation(image, np.random.default_rng((int(seed), first_index + i)))
           for i, image in enumerate(images)]
    return np.stack(out).astype(np.float32, copy=False) if out else images.copy()
