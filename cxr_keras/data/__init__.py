"""Chest X-ray datasets behind one interface (``CXRDataset``), plus image and split helpers.

Importing this package does not import TensorFlow or the phantom renderer; each loader lives
in its own module and is imported here lazily on first use.
"""

from __future__ import annotations

import importlib

from cxr_keras.data.base import CXRDataset, DatasetError
from cxr_keras.data.images import decode_image, save_png, to_uint8
from cxr_keras.data.splits import check_no_patient_overlap, patient_split

_LAZY = {
    "KermanyDataset": "kermany", "PneumoniaMNISTDataset": "pneumoniamnist",
    "NIHChestXray14Dataset": "nih", "CovidChestXrayDataset": "covid", "FolderDataset": "folder",
    "DavoodiCovidDataset": "davoodi", "PhantomDataset": "phantom_dataset",
}

__all__ = [
    "CXRDataset", "CovidChestXrayDataset", "DatasetError", "DavoodiCovidDataset", "FolderDataset",
    "KermanyDataset", "NIHChestXray14Dataset", "PhantomDataset", "PneumoniaMNISTDataset",
    "check_no_patient_overlap", "decode_image", "patient_split", "save_png", "to_uint8",
]


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(importlib.import_module(f"cxr_keras.data.{_LAZY[name]}"), name)
    raise AttributeError(f"module 'cxr_keras.data' has no attribute {name!r}")
