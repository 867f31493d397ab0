"""Classic augmentations of Kora Venu & Ravula (2021) Table 1, and GAN class balancing.

Every augmentation maps one image in [-1, 1] (height, width, channels) and a stateless seed
(a shape-[2] integer tensor) to an image of the same shape, still in [-1, 1]. Given the same
seed the result is the same, so experiments compared with one seed see the same draws.

The paper names the operations (tf.image's random flip left-right, random crop, clip by value,
adjust brightness, adjust contrast) but not their strengths; the defaults below are the kit's
documented choice:

- ``flip``: mirror left-right with probability 0.5.
- ``crop``: zoom in by a random factor up to ``CROP_MAX_ZOOM`` and crop back to the input size
  at a random offset (zooming rather than padding, so no black borders are added).
- ``clip``: clip intensities to ``CLIP_RANGE`` (deterministic: saturates the brightest and
  darkest pixels).
- ``brightness``: add a random offset in ``[-BRIGHTNESS_DELTA, BRIGHTNESS_DELTA]``.
- ``contrast``: scale deviations from the image mean by a random factor in ``CONTRAST_RANGE``.
- ``none``: the identity, a no-augmentation baseline.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import tensorflow as tf

CROP_MAX_ZOOM = 1.2
CLIP_RANGE = (-0.8, 0.8)
BRIGHTNESS_DELTA = 0.2
CONTRAST_RANGE = (0.7, 1.3)


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


def get_augmentation(method: str) -> Callable[[tf.Tensor, tf.Tensor], tf.Tensor]:
    """Look up an augmentation by name, with a clear error listing the known ones."""
    if method not in AUGMENTATIONS:
        raise ValueError(
            f"unknown augmentation {method!r}; choose one of {sorted(AUGMENTATIONS)}"
        )
    return AUGMENTATIONS[method]


def augment_dataset(dataset: tf.data.Dataset, method: str, seed: int) -> tf.data.Dataset:
    """Augment an unbatched dataset of images or (image, label) pairs.

    Element ``i`` is augmented with the stateless seed ``(seed, i)``, so the output depends
    only on ``seed`` and the element order. Apply it after ``repeat()`` to get fresh draws
    every epoch, and before ``batch()``.
    """
    augmentation = get_augmentation(method)
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


def augment_images(images: np.ndarray, method: str, seed: int) -> np.ndarray:
    """Augment a numpy batch (N, H, W, C) in [-1, 1]; image ``i`` uses seed ``(seed, i)``."""
    images = np.asarray(images, dtype=np.float32)
    if images.ndim != 4:
        raise ValueError(f"expected images of shape (N, H, W, C), got {images.shape}")
    dataset = augment_dataset(tf.data.Dataset.from_tensor_slices(images), method, seed)
    return np.stack(list(dataset.as_numpy_iterator())) if len(images) else images.copy()


def gan_balance(
    x: np.ndarray, y: np.ndarray, generated_images: np.ndarray, target_class: int
) -> tuple[np.ndarray, np.ndarray]:
    """Append generated images of ``target_class`` until it is as large as the largest class.

    Kora Venu & Ravula generate only the minority (Normal) class, to balance it with the
    majority. The first ``n_needed`` generated images are used, where ``n_needed`` is the
    largest class count minus the target class count; real images come first in the output,
    synthetic ones last. Raises ValueError when fewer generated images are given than needed.
    """
    x = np.asarray(x, dtype=np.float32)
    y = np.asarray(y)
    generated_images = np.asarray(generated_images, dtype=np.float32)
    if len(x) != len(y):
        raise ValueError(f"x has {len(x)} images but y has {len(y)} labels")
    if generated_images.shape[1:] != x.shape[1:]:
        raise ValueError(
            f"generated images have shape {generated_images.shape[1:]} per image but the real "
            f"ones have {x.shape[1:]}; generate at the classifier's image size and channels"
        )
    if generated_images.size and (generated_images.min() < -1 or generated_images.max() > 1):
        raise ValueError("generated images must be scaled to [-1, 1] like the real ones")
    counts = np.bincount(y.astype(int), minlength=int(target_class) + 1)
    n_needed = int(counts.max() - counts[target_class])
    if n_needed > len(generated_images):
        raise ValueError(
            f"class {target_class} needs {n_needed} generated images to balance, got "
            f"{len(generated_images)}; raise n_generated"
        )
    synthetic = generated_images[:n_needed]
    x_balanced = np.concatenate([x, synthetic])
    y_balanced = np.concatenate([y, np.full(n_needed, target_class, dtype=y.dtype)])
    return x_balanced, y_balanced


__all__ = [
    "AUGMENTATIONS",
    "augment_dataset",
    "augment_images",
    "gan_balance",
    "get_augmentation",
]
