"""The classic augmentations in TensorFlow (``tf.image`` ops in a ``tf.data`` pipeline), the
form every run under the TensorFlow backend uses; names and strengths are those of
:mod:`cxr_keras.augment.methods`.

Every augmentation maps one image in [-1, 1] (height, width, channels) and a stateless seed
(a shape-[2] integer tensor) to an image of the same shape, still in [-1, 1]. Given the same
seed the result is the same, so experiments compared with one seed see the same draws.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import tensorflow as tf

from cxr_keras.augment.methods import (
    BRIGHTNESS_DELTA,
    CLIP_RANGE,
    CONTRAST_RANGE,
    CROP_MAX_ZOOM,
    check_method,
)


def _clip_unit(image: tf.Tensor) -> tf.Tensor:
    return tf.clip_by_value(image, -1.0, 1.0)


def random_flip(image: tf.Tensor, seed: tf.Tensor) -> tf.Tensor:
    """Mirror the image left-right with probability 0.5."""
    return tf.image.stateless_random_flip_left_right(image, seed=seed)


def random_crop(image: tf.Tensor, seed: tf.Tensor) -> tf.Tensor:
    """Zoom in by a random factor in [1, CROP_MAX_ZOOM], then crop back to the input size."""
    zoom_seed, crop_seed = tf.unstack(tf.random.experimental.stateless_split(seed, 2))
    height, width, channels = image.shape
    zoom = tf.random.stateless_uniform([], zoom_seed, 1.0, CROP_MAX_ZOOM)
    zoomed_size = tf.cast(tf.math.ceil(zoom * [float(height), float(width)]), tf.int32)
    zoomed = tf.image.resize(image, zoomed_size, method="bilinear")
    return tf.image.stateless_random_crop(zoomed, [height, width, channels], seed=crop_seed)


def clip_by_value(image: tf.Tensor, seed: tf.Tensor) -> tf.Tensor:
    """Clip intensities to CLIP_RANGE (the seed is unused: the operation is deterministic)."""
    del seed
    return tf.clip_by_value(image, *CLIP_RANGE)


def adjust_brightness(image: tf.Tensor, seed: tf.Tensor) -> tf.Tensor:
    """Add one random offset in [-BRIGHTNESS_DELTA, BRIGHTNESS_DELTA] to every pixel."""
    delta = tf.random.stateless_uniform([], seed, -BRIGHTNESS_DELTA, BRIGHTNESS_DELTA)
    return _clip_unit(image + delta)


def adjust_contrast(image: tf.Tensor, seed: tf.Tensor) -> tf.Tensor:
    """Scale each pixel's deviation from the image mean by a random factor in CONTRAST_RANGE."""
    factor = tf.random.stateless_uniform([], seed, *CONTRAST_RANGE)
    mean = tf.reduce_mean(image, axis=(0, 1), keepdims=True)
    return _clip_unit(mean + factor * (image - mean))


def identity(image: tf.Tensor, seed: tf.Tensor) -> tf.Tensor:
    """Return the image unchanged (the no-augmentation baseline)."""
    del seed
    return tf.identity(image)


AUGMENTATIONS: dict[str, Callable[[tf.Tensor, tf.Tensor], tf.Tensor]] = {
    "none": identity,
    "flip": random_flip,
    "crop": random_crop,
    "clip": clip_by_value,
    "brightness": adjust_brightness,
    "contrast": adjust_contrast,
}


def augment_dataset(dataset: tf.data.Dataset, method: str, seed: int) -> tf.data.Dataset:
    """Augment an unbatched dataset of images or (image, label) pairs.

    Element ``i`` is augmented with the stateless seed ``(seed, i)``, so the output depends
    only on ``seed`` and the element order. Apply it after ``repeat()`` to get fresh draws
    every epoch, and before ``batch()``.
    """
    augmentation = AUGMENTATIONS[check_method(method)]
    seed = int(seed)

    def apply(index, element):
        element_seed = tf.stack([tf.constant(seed, tf.int64), index])
        if isinstance(element, tuple):
            image, *rest = element
            return (augmentation(image, element_seed), *rest)
        return augmentation(element, element_seed)

    spec = dataset.element_spec
    image_spec = spec[0] if isinstance(spec, tuple) else spec
    if image_spec.shape.rank != 3:
        raise ValueError(
            f"augment_dataset expects unbatched (height, width, channels) images, got element "
            f"shape {image_spec.shape}; call it before dataset.batch()"
        )
    return dataset.enumerate().map(
        lambda index, element: apply(index, element), num_parallel_calls=tf.data.AUTOTUNE,
        deterministic=True,
    )


def augment_images_tf(images: np.ndarray, method: str, seed: int) -> np.ndarray:
    """Augment a float32 numpy batch (N, H, W, C) in [-1, 1]; image ``i`` uses seed ``(seed, i)``."""
    dataset = augment_dataset(tf.data.Dataset.from_tensor_slices(images), method, seed)
    return np.stack(list(dataset.as_numpy_iterator())) if len(images) else images.copy()
