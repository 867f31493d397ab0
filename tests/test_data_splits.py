"""Patient-level, stratified, seeded splits and the overlap check."""

import numpy as np
import pandas as pd
import pytest

from cxr_keras.data import DatasetError, check_no_patient_overlap, patient_split


def _patients_frame(n_patients=200, seed=0):
    rng = np.random.default_rng(seed)
    rows = []
    for p in range(n_patients):
        label = "rare" if p % 5 == 0 else "common"
        for k in range(rng.integers(1, 4)):
            rows.append((f"img_{p}_{k}.png", label, "train", f"P{p:03d}"))
    return pd.DataFrame(rows, columns=["path", "label", "split", "patient_id"])


def test_patient_split_moves_whole_patients_and_is_stratified():
    frame = _patients_frame()
    split = patient_split(frame, 0.2, seed=1)
    check_no_patient_overlap(split)
    assert (frame["split"] == "train").all()  # input untouched
    val_patients = split[split["split"] == "val"].groupby("label")["patient_id"].nunique()
    all_patients = frame.groupby("label")["patient_id"].nunique()
    assert val_patients.to_dict() == {"common": 32, "rare": 8}  # 20% of 160 and of 40
    assert all_patients.to_dict() == {"common": 160, "rare": 40}


def test_patient_split_is_seeded():
    frame = _patients_frame()
    first, again = patient_split(frame, 0.25, seed=3), patient_split(frame, 0.25, seed=3)
    pd.testing.assert_frame_equal(first, again)
    assert not first["split"].equals(patient_split(frame, 0.25, seed=4)["split"])


def test_rows_without_patient_are_their_own_patient_and_other_splits_untouched():
    frame = pd.DataFrame(
        {
            "path": [f"{i}.png" for i in range(20)],
            "label": ["a"] * 20,
            "split": ["train"] * 10 + ["test"] * 10,
            "patient_id": [None] * 20,
        }
    )
    split = patient_split(frame, 0.3, seed=0, stratify=False)
    assert split["split"].value_counts().to_dict() == {"test": 10, "train": 7, "val": 3}
    with pytest.raises(ValueError, match=r"val_fraction must be in \(0, 1\)"):
        patient_split(frame, 1.5)
    with pytest.raises(DatasetError, match="no rows in split 'holdout'"):
        patient_split(frame, 0.2, source="holdout")


def test_overlap_check_names_patients_and_splits():
    frame = pd.DataFrame(
        {
            "path": ["a", "b", "c", "d"],
            "label": ["x"] * 4,
            "split": ["train", "test", "train", "val"],
            "patient_id": ["P1", "P1", "P2", None],
        }
    )
    with pytest.raises(
        DatasetError, match=r"1 patient\(s\) in more than one split \(P1: test, train\)"
    ):
        check_no_patient_overlap(frame)
    check_no_patient_overlap(frame[frame["patient_id"] != "P1"])
