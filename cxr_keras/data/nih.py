"""NIH ChestX-ray14 (Wang et al. 2017): ``Data_Entry_2017*.csv[.gz]`` plus PNG images.

Images may sit anywhere under ``root`` (flat, ``images/``, ``images_0NN/images/``, or the
``{train,valid,test}/...`` folders of the downscaled sample): the folder is walked once to
map file names to paths. Label rows whose image is absent are dropped and counted
(``missing_count``). "No Finding" becomes class "Normal".

Split, first rule that applies (the first two only with ``use_official_split``):
1. the images' top folders ``train`` / ``valid`` (-> "val") / ``test``, as in the 1000-image
   sample (whose folders share 18 patients between train and val);
2. the official ``train_val_list.txt`` / ``test_list.txt`` in ``root``;
3. a seeded patient-level split of ``test_fraction``.
Then, when there is no val split yet and ``val_fraction`` is set, val is carved from train
by patient.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from cxr_keras.data.base import CXRDataset, DatasetError, join_positive_classes
from cxr_keras.data.images import is_image_file
from cxr_keras.data.splits import patient_split

SALEHINEJAD_CLASSES = ["Normal", "Cardiomegaly", "Effusion", "Edema", "Pneumothorax"]
# "No Finding" plus the 6 most frequent single-label findings of the full Data_Entry file
# (Data_Entry_2017_v2020.csv.gz, 112,120 rows): counting rows whose "Finding Labels" has no
# "|" gives No Finding 60,361, Infiltration 9,547, Atelectasis 4,215, Effusion 3,955,
# Nodule 2,705, Pneumothorax 2,194, Mass 2,139 (next: Consolidation 1,310).
NG_GUBBI_CLASSES = [
    "Normal",
    "Infiltration",
    "Atelectasis",
    "Effusion",
    "Nodule",
    "Pneumothorax",
    "Mass",
]

NORMAL = "Normal"
_COLUMNS = ["Image Index", "Finding Labels", "Patient ID", "View Position"]
_FOLDER_SPLITS = {"train": "train", "valid": "val", "val": "val", "test": "test"}
_HELP = (
    "expected Data_Entry_2017*.csv or .csv.gz in the root and the PNG images anywhere below it; "
    "get them from https://nihcc.app.box.com/v/ChestXray-NIHCC"
)


class NIHChestXray14Dataset(CXRDataset):
    """NIH ChestX-ray14 restricted to ``classes``.

    ``single_label=True`` keeps the images whose findings are exactly one class of the list;
    ``single_label=False`` keeps images with at least one of the classes and adds one 0/1
    column per class (``class_counts`` then counts positives). ``views`` filters the
    "View Position" (e.g. ("PA",)).
    """

    name = "nih_cxr14"

    def __init__(
        self,
        root: str | os.PathLike,
        classes: Sequence[str] = SALEHINEJAD_CLASSES,
        single_label: bool = True,
        views: Sequence[str] | None = None,
        val_fraction: float | None = 0.1,
        test_fraction: float = 0.2,
        seed: int = 0,
        use_official_split: bool = True,
        on_error: str = "raise",
    ):
        root = Path(root)
        if not root.is_dir():
            raise DatasetError(f"{root}: NIH ChestX-ray14 folder not found; {_HELP}")
        entries = _read_data_entry(_find_data_entry(root))
        index = _index_images(root)
        present = entries["Image Index"].isin(index)
        self.missing_count = int((~present).sum())
        if self.missing_count:
            warnings.warn(
                f"{root}: {self.missing_count} label row(s) have no image under the root; dropped"
            )
        entries = entries[present]
        if views is not None:
            entries = entries[entries["View Position"].isin(list(views))]
        frame = _frame(entries, index, list(classes), single_label)
        frame = _assign_splits(
            frame, root, index, val_fraction, test_fraction, seed, use_official_split
        )
        super().__init__(frame, classes, root=root, on_error=on_error, multi_label=not single_label)


def _find_data_entry(root: Path) -> Path:
    candidates = sorted(root.glob("Data_Entry_2017*.csv")) + sorted(
        root.glob("Data_Entry_2017*.csv.gz")
    )
    if not candidates:
        raise DatasetError(f"{root}: no Data_Entry_2017*.csv[.gz] label file; {_HELP}")
    return candidates[0]


def _read_data_entry(path: Path) -> pd.DataFrame:
    try:
        entries = pd.read_csv(path, dtype={"Patient ID": str})
    except (OSError, ValueError, pd.errors.ParserError) as error:
        raise DatasetError(f"{path}: not a readable CSV ({error}); {_HELP}") from error
    missing = [c for c in _COLUMNS if c not in entries.columns]
    if missing:
        raise DatasetError(f"{path}: missing column(s) {missing}; {_HELP}")
    duplicated = entries["Image Index"][entries["Image Index"].duplicated()]
    if len(duplicated):
        raise DatasetError(
            f"{path}: image {duplicated.iloc[0]} is listed more than once; each image needs one row"
        )
    return entries


def _index_images(root: Path) -> dict[str, Path]:
    """File name -> path of every image below root (one walk)."""
    index: dict[str, Path] = {}
    for folder, _, files in os.walk(root):
        for name in files:
            if not is_image_file(name):
                continue
            path = Path(folder) / name
            if name in index:
                raise DatasetError(
                    f"{root}: image {name} found twice ({index[name]} and {path}); keep one copy"
                )
            index[name] = path
    return index


def _frame(
    entries: pd.DataFrame, index: dict[str, Path], classes: list[str], single_label: bool
) -> pd.DataFrame:
    findings = (
        entries["Finding Labels"].str.replace("No Finding", NORMAL, regex=False).str.split("|")
    )
    frame = pd.DataFrame(
        {
            "path": [str(index[name]) for name in entries["Image Index"]],
            "label": "",
            "split": "",
            "patient_id": entries["Patient ID"].to_numpy(),
            "view": entries["View Position"].to_numpy(),
            "findings": entries["Finding Labels"].to_numpy(),
        }
    )
    findings = findings.reset_index(drop=True)
    if single_label:
        keep = findings.map(lambda f: len(f) == 1 and f[0] in classes)
        frame = frame[keep.to_numpy()].copy()
        frame["label"] = findings[keep].str[0].to_numpy()
        return frame.reset_index(drop=True)
    for name in classes:
        frame[name] = findings.map(lambda f, name=name: int(name in f)).astype("int64").to_numpy()
    frame = frame[frame[classes].sum(axis=1) > 0].copy()
    frame["label"] = join_positive_classes(frame, classes)
    return frame.reset_index(drop=True)


def _assign_splits(frame, root, index, val_fraction, test_fraction, seed, use_official_split):
    folder_splits = frame["path"].map(
        lambda p: _FOLDER_SPLITS.get(Path(p).relative_to(root).parts[0])
    )
    train_list, test_list = root / "train_val_list.txt", root / "test_list.txt"
    if use_official_split and len(frame) and folder_splits.notna().all():
        frame["split"] = folder_splits
    elif use_official_split and train_list.is_file() and test_list.is_file():
        names = frame["path"].map(lambda p: Path(p).name)
        frame["split"] = ""
        frame.loc[names.isin(_read_list(train_list)).to_numpy(), "split"] = "train"
        frame.loc[names.isin(_read_list(test_list)).to_numpy(), "split"] = "test"
    else:
        frame["split"] = "train"
        frame = patient_split(frame, test_fraction, seed=seed, target="test")
    if val_fraction and not (frame["split"] == "val").any():
        frame = patient_split(frame, val_fraction, seed=seed, target="val")
    return frame


def _read_list(path: Path) -> set[str]:
    return {line.strip() for line in path.read_text().splitlines() if line.strip()}
