"""MedMNIST v2 PneumoniaMNIST: 28x28 uint8 images in one ``.npz`` (derived from Kermany)."""

from __future__ import annotations

import functools
import os
from pathlib import Path

import numpy as np
import pandas as pd

from cxr_keras.data.base import SPLITS, CXRDataset, DatasetError
from cxr_keras.data.images import prepare_array

PNEUMONIAMNIST_CLASSES = ["normal", "pneumonia"]
_HELP = (
    "pass the official pneumoniamnist.npz (keys train_images, train_labels, val_*, test_*) or a "
    "folder holding it; get it from https://zenodo.org/records/10519652 or `pip install medmnist`"
)


class PneumoniaMNISTDataset(CXRDataset):
    """PneumoniaMNIST with its official train / val / test split; classes normal / pneumonia.

    There is no file per image: ``path`` holds ``{npz file}#{split}/{index:05d}``, so a
    manifest alone is enough to load the images again; they are resized (bilinear) from the
    28x28 arrays. Patient ids are not published (NA).
    """

    name = "pneumoniamnist"

    def __init__(self, path_or_root: str | os.PathLike, on_error: str = "raise"):
        path = Path(path_or_root)
        if path.is_dir():
            path = path / "pneumoniamnist.npz"
        arrays = read_npz(path)
        rows = [
            (f"{path}#{split}/{i:05d}", PNEUMONIAMNIST_CLASSES[int(label)], split, None)
            for split in SPLITS
            for i, label in enumerate(arrays[f"{split}_labels"].reshape(-1))
        ]
        frame = pd.DataFrame(rows, columns=["path", "label", "split", "patient_id"])
        super().__init__(
            frame, PNEUMONIAMNIST_CLASSES, root=path.parent, on_error=on_error, source=path
        )

    def load_image(self, i: int, image_size: int = 64, channels: int = 1) -> np.ndarray:
        locator = self.frame["path"].iat[i]
        npz, _, item = locator.rpartition("#")
        split, index = item.split("/")
        pixels = read_npz(Path(npz))[f"{split}_images"][int(index)]
        return prepare_array(pixels, image_size, channels, source=locator)

    def validate(self) -> list[tuple[str, str]]:
        """Nothing to open: the arrays were checked when the file was read."""
        return []


@functools.lru_cache(maxsize=4)
def read_npz(path: Path) -> dict[str, np.ndarray]:
    """The checked arrays of a PneumoniaMNIST file (read once per path and kept)."""
    if not path.is_file():
        raise DatasetError(f"{path}: PneumoniaMNIST file not found; {_HELP}")
    try:
        with np.load(path) as npz:
            arrays = {key: npz[key] for key in npz.files}
    except (OSError, ValueError) as error:
        raise DatasetError(f"{path}: not a readable .npz file ({error}); {_HELP}") from error
    missing = [
        f"{s}_{kind}"
        for s in SPLITS
        for kind in ("images", "labels")
        if f"{s}_{kind}" not in arrays
    ]
    if missing:
        raise DatasetError(f"{path}: missing array(s) {missing}; {_HELP}")
    for split in SPLITS:
        images, labels = arrays[f"{split}_images"], arrays[f"{split}_labels"]
        if images.ndim != 3 or len(images) != labels.size or not np.isin(labels, (0, 1)).all():
            raise DatasetError(
                f"{path}: {split}_images must be N x H x W uint8 with N 0/1 labels, got "
                f"images {images.shape} and labels {labels.shape}; {_HELP}"
            )
        arrays[f"{split}_images"] = _checked_pixels(path, f"{split}_images", images)
    return arrays


def _checked_pixels(path: Path, key: str, images: np.ndarray) -> np.ndarray:
    """``images`` as uint8; integer arrays must hold 0..255 and float arrays are refused,
    since a [0, 1] float read as 0..255 gives black images and no error."""
    if images.dtype == np.uint8:
        return images
    if not np.issubdtype(images.dtype, np.integer):
        finite = images[np.isfinite(images)]
        nan = " with NaN or infinite values" if finite.size < images.size else ""
        low, high = (finite.min(), finite.max()) if finite.size else (np.nan, np.nan)
        raise DatasetError(
            f"{path}: {key} is {images.dtype}{nan} (values {low:g} to {high:g}) but PneumoniaMNIST "
            "pixels are uint8 0..255; convert it, e.g. np.round(x * 255).astype('uint8') for "
            f"floats in [0, 1], or use the official file. {_HELP}"
        )
    low, high = int(images.min()), int(images.max())
    if low < 0 or high > 255:
        raise DatasetError(
            f"{path}: {key} holds {images.dtype} values {low} to {high}, outside the 0..255 of "
            "uint8 pixels; rescale it to 0..255 and cast to uint8, or use the official file"
        )
    return images.astype(np.uint8)
