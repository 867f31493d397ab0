"""Any class-per-folder image collection: ``root/{class}/`` or ``root/{split}/{class}/``."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from cxr_keras.data.base import SPLITS, CXRDataset, DatasetError
from cxr_keras.data.images import list_images

_HELP = "expected root/{class}/images or root/{train,val,test}/{class}/images"


class FolderDataset(CXRDataset):
    """Images in one folder per class; the folder name is the label.

    When ``root`` holds ``train`` / ``val`` / ``test`` folders, each is a split with its own
    class folders (``split`` picks one of them); otherwise ``split`` is "". ``classes=None``
    takes every class folder, sorted by name. Patient ids are unknown (NA).
    """

    name = "folder"

    def __init__(
        self, root: str | os.PathLike, classes: Sequence[str] | None = None,
        split: str | None = None, on_error: str = "raise",
    ):
        root = Path(root)
        if not root.is_dir():
            raise DatasetError(f"{root}: folder not found; {_HELP}")
        split_dirs = {s: root / s for s in SPLITS if (root / s).is_dir()}
        if split is not None:
            if split not in split_dirs:
                raise DatasetError(
                    f"{root}: no {split!r} split folder; found {sorted(split_dirs)}; {_HELP}"
                )
            split_dirs = {split: split_dirs[split]}
        if not split_dirs:
            split_dirs = {"": root}
        if classes is None:
            classes = sorted(
                {p.name for d in split_dirs.values() for p in d.iterdir() if p.is_dir()}
            )
            if not classes:
                raise DatasetError(f"{root}: no class folders; {_HELP}")
        rows = []
        for split_name, folder in split_dirs.items():
            for label in classes:
                class_dir = folder / label
                if not class_dir.is_dir():
                    raise DatasetError(f"{class_dir}: class folder missing; {_HELP}")
                files = list_images(class_dir)
                if not files:
                    raise DatasetError(
                        f"{class_dir}: no images in this class folder; add images or drop the class"
                    )
                rows.extend((str(f), label, split_name, None) for f in files)
        frame = pd.DataFrame(rows, columns=["path", "label", "split", "patient_id"])
        super().__init__(frame, classes, root=root, on_error=on_error, source=root)
