"""Kermany et al. 2018 pediatric pneumonia chest X-rays (Mendeley doi:10.17632/rscbjbr9sj.2).
Details: docs/modules.md."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pandas as pd

from cxr_keras.data.base import CXRDataset, DatasetError
from cxr_keras.data.images import list_images
from cxr_keras.data.splits import patient_split

KERMANY_CLASSES = ["normal", "pneumonia"]
_FOLDERS = {"NORMAL": "normal", "PNEUMONIA": "pneumonia"}
_PERSON = re.compile(r"^(person\d+)_(bacteria|virus)(?:_\d+)+$", re.IGNORECASE)
_IM = re.compile(r"^((?:NORMAL2-)?IM-\d+)(?:-\d+)+$", re.IGNORECASE)
_LAYOUT_HELP = (
    "expected chest_xray/{train,test}/{NORMAL,PNEUMONIA}/ image files (val/ optional); "
    "get the data from https://data.mendeley.com/datasets/rscbjbr9sj/2 "
    "(or Kaggle 'chest-xray-pneumonia') and pass the folder holding chest_xray/"
)


def parse_kermany_name(stem: str, label: str) -> tuple[str, str]:
    """(patient_id, subtype) from a Kermany file name without extension."""
    person = _PERSON.match(stem)
    if person:
        return person.group(1), person.group(2).lower()
    im = _IM.match(stem)
    if im:
        return im.group(1), "normal"
    return stem, label


class KermanyDataset(CXRDataset):
    """Kermany chest X-rays, classes ``normal`` / ``pneumonia`` with a ``subtype`` column.

    With ``val_fraction`` the official val folder (16 images) is merged into train and a
    seeded, patient-level, label-stratified val split is carved from train; without it the
    official val images (if present) keep split "val".
    """

    name = "kermany"

    def __init__(
        self, root: str | os.PathLike, val_fraction: float | None = None, seed: int = 0,
        on_error: str = "raise",
    ):
        base = find_kermany_base(root)
        frame = pd.DataFrame(
            _scan(base), columns=["path", "label", "split", "patient_id", "subtype"]
        )
        if val_fraction:
            frame["split"] = frame["split"].replace("val", "train")
            frame = patient_split(frame, val_fraction, seed=seed)
        super().__init__(frame, KERMANY_CLASSES, root=base, on_error=on_error)


def find_kermany_base(root: str | os.PathLike) -> Path:
    """The ``chest_xray`` folder: ``root`` itself, ``root/chest_xray`` or ``root/chest_xray/chest_xray``."""
    root = Path(root)
    if not root.is_dir():
        raise DatasetError(f"{root}: Kermany folder not found; {_LAYOUT_HELP}")
    for base in (root, root / "chest_xray", root / "chest_xray" / "chest_xray"):
        if (base / "train").is_dir() and (base / "test").is_dir():
            return base
    raise DatasetError(f"{root}: not a Kermany chest_xray folder; {_LAYOUT_HELP}")


def _scan(base: Path) -> list[tuple]:
    rows = []
    for split in ("train", "val", "test"):
        if not (base / split).is_dir():
            continue
        for folder, label in _FOLDERS.items():
            class_dir = base / split / folder
            if not class_dir.is_dir():
                raise DatasetError(f"{class_dir}: class folder missing; {_LAYOUT_HELP}")
            files = list_images(class_dir)
            if not files:
                raise DatasetError(f"{class_dir}: no images in this class folder; {_LAYOUT_HELP}")
            for file in files:
                patient, subtype = parse_kermany_name(file.stem, label)
                rows.append((str(file), label, split, patient, subtype))
    return rows
