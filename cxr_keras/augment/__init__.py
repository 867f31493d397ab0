"""Classic augmentations of Kora Venu & Ravula (2021) Table 1, GAN class balancing, and oversampling
(real images repeated), its control. Details: docs/modules.md."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from cxr_keras.augment.methods import (
    BRIGHTNESS_DELTA,
    CLIP_RANGE,
    CONTRAST_RANGE,
    CROP_MAX_ZOOM,
    METHODS,
    augment_images,
    check_method,
)


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
    n_needed = balance_gap(y, target_class)
    if n_needed > len(generated_images):
        raise ValueError(
            f"class {target_class} needs {n_needed} generated images to balance, got "
            f"{len(generated_images)}; raise n_generated"
        )
    synthetic = generated_images[:n_needed]
    x_balanced = np.concatenate([x, synthetic])
    y_balanced = np.concatenate([y, np.full(n_needed, target_class, dtype=y.dtype)])
    return x_balanced, y_balanced


def balance_gap(y: np.ndarray, target_class: int) -> int:
    """How many images ``target_class`` lacks to be as large as the largest class of ``y``."""
    counts = np.bincount(np.asarray(y).astype(int), minlength=int(target_class) + 1)
    return int(counts.max() - counts[target_class])


def oversample(x: np.ndarray, y: np.ndarray, added: Mapping[int, int], seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Append ``added[c]`` repeats of real images of class ``c`` for each class in ``added``.

    Each class's images are taken in a random order drawn with ``seed``, cycled as often as
    needed, so every image is repeated as evenly as the count allows. Real images come first
    in the output, repeats last (as :func:`gan_balance` puts generated ones).
    """
    x, y = np.asarray(x), np.asarray(y)
    if len(x) != len(y):
        raise ValueError(f"x has {len(x)} images but y has {len(y)} labels")
    rng = np.random.default_rng(seed)
    chosen = []
    for label, count in added.items():
        pool = np.flatnonzero(y == label)
        if isinstance(count, bool) or not isinstance(count, (int, np.integer)) or count < 0:
            raise ValueError(f"added[{label!r}] must be a count >= 0, got {count!r}")
        if count and not len(pool):
            raise ValueError(f"class {label!r} has no images to repeat; leave it out of added")
        order = rng.permutation(pool)
        chosen.append(np.resize(order, count) if count else order[:0])
    index = np.concatenate(chosen) if chosen else np.array([], dtype=int)
    return np.concatenate([x, x[index]]), np.concatenate([y, y[index]])


__all__ = [
    "BRIGHTNESS_DELTA", "CLIP_RANGE", "CONTRAST_RANGE", "CROP_MAX_ZOOM", "METHODS",
    "augment_images", "balance_gap", "check_method", "gan_balance", "oversample",
]
