"""NIH ChestX-ray14 (Wang et al. 2017): ``Data_Entry_2017*.csv[.gz]`` plus PNG images. Details:
docs/modules.md."""

from __future__ import annotations

import difflib
import os
import warnings
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from cxr_keras.data.base import ON_ERROR, CXRDataset, DatasetError, join_positive_classes
from cxr_keras.data.images import is_image_file
from cxr_keras.data.splits import patient_split
from cxr_keras.paths import display_path

SALEHINEJAD_CLASSES = ["Normal", "Cardiomegaly", "Effusion", "Edema", "Pneumothorax"]
# "No Finding" plus the 6 most frequent single-label findings of the full Data_Entry file
# (Data_Entry_2017_v2020.csv.gz, 112,120 rows): counting rows whose "Finding Labels" has no
# "|" gives No Finding 60,361, Infiltration 9,547, Atelectasis 4,215, Effusion 3,955,
# Nodule 2,705, Pneumothorax 2,194, Mass 2,139 (next: Consolidation 1,310).
NG_GUBBI_CLASSES = [
    "Normal", "Infiltration", "Atelectasis", "Effusion", "Nodule", "Pneumothorax", "Mass",
]

NORMAL = "Normal"
# The 14 findings of ChestX-ray14 (Wang et al. 2017), plus "No Finding" as Normal.
NIH_FINDINGS = (
    NORMAL, "Atelectasis", "Cardiomegaly", "Consolidation", "Edema", "Effusion", "Emphysema",
    "Fibrosis", "Hernia", "Infiltration", "Mass", "Nodule", "Pleural_Thickening", "Pneumonia",
    "Pneumothorax",
)
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
    "View Position" (e.g. ("PA",)). ``on_unknown_label``: "skip" drops rows naming a finding
    ChestX-ray14 does not have, with a warning giving their number and examples; "raise"
    raises DatasetError instead.
    """

    name = "nih_cxr14"

    def __init__(
        self, root: str | os.PathLike, classes: Sequence[str] = SALEHINEJAD_CLASSES,
        single_label: bool = True, views: Sequence[str] | None = None,
        val_fraction: float | None = 0.1, test_fraction: float = 0.2, seed: int = 0,
        use_official_split: bool = True, on_error: str = "raise", on_unknown_label: str = "skip",
    ):
        root = Path(root)
        if on_unknown_label not in ON_ERROR:
            raise ValueError(
                f"on_unknown_label must be one of {ON_ERROR}, got {on_unknown_label!r}"
            )
        if not root.is_dir():
            raise DatasetError(f"{root}: NIH ChestX-ray14 folder not found; {_HELP}")
        _check_classes(classes)
        label_file = _find_data_entry(root)
        entries = _read_data_entry(label_file)
        index = _index_images(root)
        present = entries["Image Index"].isin(index)
        self.missing_count = int((~present).sum())
        if self.missing_count:
            warnings.warn(
                f"{display_path(root)}: {self.missing_count} of {len(entries)} label row(s) in "
                f"{label_file.name} have no image under the root (e.g. "
                f"{entries['Image Index'][~present].iloc[0]}); dropped, "
                f"{int(present.sum())} kept"
            )
        entries = entries[present]
        entries, self.unknown_label_count = _drop_unknown_findings(entries, label_file,
                                                                   on_unknown_label)
        if views is not None:
            entries = entries[entries["View Position"].isin(list(views))]
        frame = _frame(entries, index, list(classes), single_label)
        self.excluded_counts = (
            entries["Finding Labels"][~entries["Image Index"].isin(
                frame["path"].map(lambda path: Path(path).name))].value_counts())
        frame = _assign_splits(
            frame, root, index, val_fraction, test_fraction, seed, use_official_split
        )
        super().__init__(frame, classes, root=root, on_error=on_error, multi_label=not single_label)


def _findings(labels: pd.Series) -> pd.Series:
    """Each row's "Finding Labels" as a list, "No Finding" read as Normal."""
    return labels.str.replace("No Finding", NORMAL, regex=False).str.split("|")


def _check_classes(classes: Sequence[str]) -> None:
    unknown = [name for name in classes if name not in NIH_FINDINGS]
    if unknown:
        hints = {name: difflib.get_close_matches(name, NIH_FINDINGS, n=1) for name in unknown}
        shown = ", ".join(f"{name!r}" + (f" (did you mean {hint[0]!r}?)" if hint else "")
                          for name, hint in hints.items())
        raise DatasetError(
            f"classes {shown} are not ChestX-ray14 findings; use names from {list(NIH_FINDINGS)}"
        )


def _drop_unknown_findings(entries: pd.DataFrame, label_file: Path,
                           on_unknown_label: str) -> tuple[pd.DataFrame, int]:
    """``entries`` without rows naming a finding ChestX-ray14 lacks, and their count."""
    unknown = _findings(entries["Finding Labels"].astype(str)).map(
        lambda found: sorted(set(found) - set(NIH_FINDINGS)))
    bad = unknown.map(bool)
    if not bad.any():
        return entries, 0
    examples = sorted({name for names in unknown[bad] for name in names})[:5]
    message = (f"{display_path(label_file)}: {int(bad.sum())} of {len(entries)} row(s) name finding(s) "
               f"that ChestX-ray14 does not have, e.g. {examples} (in "
               f"{entries['Image Index'][bad].iloc[0]})")
    if on_unknown_label == "raise":
        raise DatasetError(f"{message}; fix the label file, or pass on_unknown_label='skip' "
                           "to drop those rows")
    warnings.warn(f"{message}; dropped", stacklevel=3)
    return entries[~bad], int(bad.sum())


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
    findings = _findings(entries["Finding Labels"])
    frame = pd.DataFrame(
        {
            "path": [str(index[name]) for name in entries["Image Index"]], "label": "", "split": "",
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
