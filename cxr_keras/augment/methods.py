"""The classic augmentations' names and strengths, shared by their TensorFlow and array forms.

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
