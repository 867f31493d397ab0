"""Image conventions for every metric in the kit, written down in one place. Details:
docs/modules.md."""

from __future__ import annotations

import numpy as np

# Values this far outside [-1, 1] are rounding noise from a tanh output; anything beyond is an
# image in a different convention (e.g. uint8) passed by mistake.
RANGE_TOLERANCE = 1e-3


def to_rgb(images) -> np.ndarray:
    """Return NHWC images with 3 channels, repeating a single grayscale channel."""
    images = np.asarray(images)
    if images.ndim != 4:
        raise ValueError(
            f"expected NHWC images (4 dimensions), got shape {images.shape}; "
            "add a channel axis with images[..., None] for grayscale arrays"
        )
    channels = images.shape[-1]
    if channels == 3:
        return images
    if channels == 1:
        return np.repeat(images, 3, axis=-1)
    raise ValueError(
        f"expected 1 or 3 channels in the last axis, got {channels} (shape {images.shape})"
    )


def resize_images(images, size: int | tuple[int, int]) -> np.ndarray:
    """Bilinear resize of NHWC images to ``size`` (an int for square), on any Keras backend.

    No antialiasing, as ``tf.image.resize``'s default (which it calls under TensorFlow).
    Returns float32 numpy; images already at that size come back unchanged.
    """
    import keras  # here: importing the metrics conventions loads no Keras backend

    images = np.asarray(images, dtype=np.float32)
    if images.ndim != 4:
        raise ValueError(f"expected NHWC images (4 dimensions), got shape {images.shape}")
    height, width = (size, size) if isinstance(size, int) else tuple(size)
    if images.shape[1:3] == (height, width):
        return images
    resized = keras.ops.image.resize(images, (height, width), interpolation="bilinear", antialias=False)
    return np.asarray(keras.ops.convert_to_numpy(resized), dtype=np.float32)


def to_uint8_range(images, name: str = "images") -> np.ndarray:
    """Map images in [-1, 1] to float32 in [0, 255], quantized exactly as saved PNGs.

    NaN or infinite values and values outside [-1, 1] raise a ValueError naming ``name``.
    """
    images = np.asarray(images, dtype=np.float32)
    check_finite(images, name)
    if images.size and (images.min() < -1 - RANGE_TOLERANCE or images.max() > 1 + RANGE_TOLERANCE):
        raise ValueError(
            f"expected {name} in [-1, 1], got values in [{images.min():.3g}, {images.max():.3g}]; "
            "convert uint8 images with images / 127.5 - 1 first"
        )
    return np.round(np.clip((images + 1.0) * 127.5, 0.0, 255.0)).astype(np.float32)


def check_finite(images, name: str = "images") -> None:
    """Refuse images with NaN or infinite values, naming ``name`` and how many images."""
    images = np.asarray(images)
    finite = np.isfinite(images)
    if not finite.all():
        bad = int((~finite).any(axis=tuple(range(1, images.ndim))).sum())
        raise ValueError(
            f"{name} holds NaN or infinite values (in {bad} of {len(images)} images); the metrics "
            "need finite images in [-1, 1]: check the generator or the loader"
        )


def check_not_unit_range(images, name: str = "images") -> None:
    """Refuse float images whose values all lie in [0, 1]: the [0, 1] convention, which the
    [-1, 1] metrics would read as mid-gray to white images without a word."""
    images = np.asarray(images)
    if images.size and np.issubdtype(images.dtype, np.floating) and np.isfinite(images).all() \
            and images.min() >= 0.0 and images.max() <= 1.0:
        raise ValueError(
            f"{name} look like [0, 1] images (values {images.min():.3g} to {images.max():.3g}, "
            "none negative) but the metrics expect [-1, 1]; pass images * 2 - 1, or "
            "allow_nonnegative=True if they really are [-1, 1] images with no dark pixel"
        )


def to_inception_input(images, name: str = "images") -> np.ndarray:
    """Convert [-1, 1] NHWC images (1 or 3 channels) to what the FID Inception port expects."""
    return to_rgb(to_uint8_range(images, name))
