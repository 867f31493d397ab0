"""Choosing the images a run uses: where a dataset sits under a data root, seeded caps and
subsamples, patient-level re-splits, and dropping classes too small to train on.

Every function takes a :class:`~cxr_keras.data.base.CXRDataset` and returns a view of the same
type (the input is never changed); caps and splits follow ``seed``.
"""

from __future__ import annotations

import copy
import os
from pathlib import Path

import numpy as np
import pandas as pd

from cxr_keras.data.splits import check_no_patient_overlap, patient_split


def resolve_root(data: str | os.PathLike, folder: str) -> Path:
    """``data/folder`` when a root laid out like ../shared/data holds it, else ``data`` itself."""
    root = Path(data).expanduser()
    return root / folder if (root / folder).is_dir() else root


def cap_per_class(dataset, max_per_class: int | None, seed: int = 0):
    """A copy of a CXRDataset keeping at most ``max_per_class`` images per (split, class).

    The images kept are a seeded random sample, so a reduced-scale run is reproducible;
    ``None`` returns the dataset unchanged.
    """
    if max_per_class is None:
        return dataset
    if int(max_per_class) < 1:
        raise ValueError(f"max_per_class must be a positive integer or None, got {max_per_class!r}")
    frame = dataset.frame
    kept = [
        rows.sample(min(len(rows), int(max_per_class)), random_state=seed).index
        for _, rows in frame.groupby(["split", "label"], sort=False)
    ]
    return _with_frame(dataset, frame.loc[sorted(np.concatenate(kept))].reset_index(drop=True))


def cap_training_images(dataset, max_per_class: int | None, seed: int = 0):
    """A copy keeping at most ``max_per_class`` *training* images per class; the other splits
    stay whole. ``None`` returns the dataset unchanged."""
    if max_per_class is None:
        return dataset
    train = cap_per_class(dataset.subset("train"), max_per_class, seed=seed)
    others = dataset.frame[dataset.frame["split"] != "train"]
    return _with_frame(dataset, pd.concat([train.frame, others], ignore_index=True))


def stratified_subsample(dataset, max_per_split: int | None, seed: int = 0):
    """A copy of a CXRDataset keeping at most about ``max_per_split`` images of each split.

    Each class keeps its share of the split (rounded, at least one image), so the class
    imbalance that GAN balancing is about survives a reduced-scale run. ``None`` returns the
    dataset unchanged.
    """
    if max_per_split is None:
        return dataset
    if int(max_per_split) < 1:
        raise ValueError(f"max_per_split must be a positive integer or None, got {max_per_split!r}")
    frame = dataset.frame
    kept = []
    for _, split_rows in frame.groupby("split", sort=False):
        share = min(1.0, int(max_per_split) / len(split_rows))
        for _, rows in split_rows.groupby("label", sort=False):
            keep = max(1, round(share * len(rows)))
            kept.append(rows.sample(keep, random_state=seed).index)
    return _with_frame(dataset, frame.loc[sorted(np.concatenate(kept))].reset_index(drop=True))


def split_by_patient(dataset, test_fraction: float = 0.2, val_fraction: float = 0.1, seed: int = 0):
    """A copy of ``dataset`` re-split into train / val / test by patient (stratified by each
    patient's most frequent label), ignoring any split it came with."""
    frame = dataset.frame.assign(split="train")
    frame = patient_split(frame, test_fraction, seed=seed, target="test")
    frame = patient_split(frame, val_fraction, seed=seed, target="val")
    check_no_patient_overlap(frame, source=dataset.name)
    return _with_frame(dataset, frame)


def drop_small_classes(dataset, min_train_images: int):
    """Keep the classes with at least ``min_train_images`` training images; return the
    restricted dataset and the dropped class names."""
    counts = dataset.class_counts("train")
    kept = [name for name in dataset.classes if counts[name] >= min_train_images]
    if len(kept) < 2:
        raise ValueError(
            f"fewer than 2 classes have {min_train_images} training images ({counts.to_dict()}); "
            "lower min_train_images or use more data"
        )
    return dataset.subset(classes=kept), [name for name in dataset.classes if name not in kept]


def _with_frame(dataset, frame: pd.DataFrame):
    view = copy.copy(dataset)
    view.frame = frame
    return view
