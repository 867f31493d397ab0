"""Seeded model building without reseeding the process-wide random number generators. Details:
docs/modules.md."""

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
