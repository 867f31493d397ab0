"""Seeded model building without reseeding the process-wide random number generators.

Keras 3 gives an initializer or a dropout layer built without a seed one drawn from Python's
``random`` module. :func:`seeded_build` seeds that module for the duration of a ``with`` block
and then restores its previous state, so a library function can build the same weights from
its ``seed`` argument every time while the caller's random streams stay as they were
(``keras.utils.set_random_seed`` would reset them all). Importing this module loads no
TensorFlow.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def seeded_build(seed: int) -> Iterator[None]:
    """Within the block, unseeded Keras initializers and layers draw their seeds from ``seed``."""
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise TypeError(f"seed must be an int, got {seed!r}")
    saved = random.getstate()
    random.seed(seed)
    try:
        yield
    finally:
        random.setstate(saved)
