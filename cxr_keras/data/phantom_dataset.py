"""Procedural phantoms (``cxr_keras.data.phantoms``) behind the common dataset interface."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from cxr_keras.data.base import SPLITS, CXRDataset
from cxr_keras.data.images import prepare_array
from cxr_keras.data.phantoms import PHANTOM_CLASSES, render_phantom

DEFAULT_PHANTOM_SPLITS = {"train": 0.7, "val": 0.15, "test": 0.15}


class PhantomDataset(CXRDataset):
    """``counts`` phantoms per class (an int gives every class of PHANTOM_CLASSES that many).

    Each row is its own patient with its own render seed (all different); ``path`` is the
    pseudo-path ``phantom://{finding}/{index:06d}``. Images are rendered at ``size`` and
    resized to the requested size. Every class is split by the ``splits`` fractions.
    """

    name = "phantoms"

    def __init__(
        self, counts: Mapping[str, int] | int, size: int = 64, seed: int = 0,
        splits: Mapping[str, float] = DEFAULT_PHANTOM_SPLITS, on_error: str = "raise",
    ):
        counts = _check_counts(counts)
        fractions = _check_splits(splits)
        rng = np.random.default_rng([seed, 0xC0FFEE])
        render_seeds = iter(rng.choice(2**31 - 1, size=sum(counts.values()), replace=False))
        rows = []
        for finding, count in counts.items():
            for index, split in enumerate(_split_labels(count, fractions, rng)):
                rows.append(
                    (
                        f"phantom://{finding}/{index:06d}", finding, str(split),
                        f"phantom-{finding}-{index:06d}", int(next(render_seeds)), int(size),
                    )
                )
        frame = pd.DataFrame(
            rows, columns=["path", "label", "split", "patient_id", "seed", "render_size"]
        )
        super().__init__(frame, list(PHANTOM_CLASSES), on_error=on_error, source="phantoms")

    def load_image(self, i: int, image_size: int = 64, channels: int = 1) -> np.ndarray:
        row = self.frame.iloc[i]
        image = render_phantom(row["label"], size=int(row["render_size"]), seed=int(row["seed"]))
        return prepare_array((image + 1.0) * 127.5, image_size, channels, source=row["path"])

    def validate(self) -> list[tuple[str, str]]:
        """Nothing to open: phantoms are rendered."""
        return []


def _check_counts(counts: Mapping[str, int] | int) -> dict[str, int]:
    if isinstance(counts, (int, np.integer)):
        counts = {name: int(counts) for name in PHANTOM_CLASSES}
    unknown = sorted(set(counts) - set(PHANTOM_CLASSES))
    if unknown or any(int(n) < 0 for n in counts.values()):
        raise ValueError(
            f"counts must map classes of {PHANTOM_CLASSES} to counts >= 0, got {dict(counts)}"
        )
    return {name: int(counts[name]) for name in PHANTOM_CLASSES if name in counts}


def _check_splits(splits: Mapping[str, float]) -> dict[str, float]:
    if (
        set(splits) - set(SPLITS)
        or not np.isclose(sum(splits.values()), 1.0)
        or min(splits.values()) < 0
    ):
        raise ValueError(
            f"splits must map some of {SPLITS} to fractions summing to 1, got {dict(splits)}"
        )
    return dict(splits)


def _split_labels(count: int, fractions: dict[str, float], rng: np.random.Generator) -> np.ndarray:
    """Split names for ``count`` images, sized by rounding the cumulative fractions."""
    bounds = np.rint(np.cumsum(list(fractions.values())) * count).astype(int)
    sizes = np.diff(bounds, prepend=0)
    return rng.permutation(np.repeat(list(fractions), sizes)[:count])
