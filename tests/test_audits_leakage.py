"""Patient overlap listing and patient-disjoint re-splits on constructed frames."""

import pandas as pd
import pytest

from cxr_keras.audits import overlap_summary, patient_disjoint_split, patient_overlap
from cxr_keras.data.base import DatasetError
from cxr_keras.data.splits import check_no_patient_overlap


def _frame():
    rows = [
        ("a1.png", "pneumonia", "train", "person1"),
        ("a2.png", "pneumonia", "test", "person1"),
        ("a3.png", "pneumonia", "test", "person1"),
        ("b1.png", "normal", "train", "IM-0001"),
        ("c1.png", "pneumonia", "test", "person2"),
        ("d1.png", "normal", "train", "IM-0002"),
        ("d2.png", "normal", "val", "IM-0002"),
    ]
    rows += [(f"n{i}.png", "normal", "train", f"IM-1{i:02d}") for i in range(10)]
    rows += [(f"p{i}.png", "pneumonia", "test", f"person3{i:02d}") for i in range(10)]
    return pd.DataFrame(rows, columns=["path", "label", "split", "patient_id"])


def test_overlap_lists_each_shared_patient_with_its_images_per_split():
    table = patient_overlap(_frame())
    assert table["patient_id"].tolist() == ["IM-0002", "person1"]
    assert table["splits"].tolist() == ["train|val", "test|train"]
    row = table.set_index("patient_id").loc["person1"]
    assert (row["n_test"], row["n_train"], row["n_val"]) == (2, 1, 0)
    summary = overlap_summary(_frame())
    assert summary["patients_in_several_splits"] == 2
    assert summary["images_of_those_patients"] == {"test": 2, "train": 2, "val": 1}


def test_disjoint_frame_has_no_overlap():
    frame = _frame()
    frame = frame[~frame["patient_id"].isin(["person1", "IM-0002"])]
    assert patient_overlap(frame).empty


@pytest.mark.parametrize("side", ["train", "test"])
def test_move_puts_every_image_of_a_shared_patient_on_one_side(side):
    original = _frame()
    moved = patient_disjoint_split(original, "move", to=side)
    check_no_patient_overlap(moved)
    assert set(moved.loc[moved["patient_id"].isin(["person1", "IM-0002"]), "split"]) == {side}
    untouched = ~original["patient_id"].isin(["person1", "IM-0002"])
    assert moved.loc[untouched, "split"].equals(original.loc[untouched, "split"])
    assert original["split"].iat[1] == "test"  # the input is not changed


def test_resplit_is_seeded_patient_level_and_keeps_the_test_share():
    frame = _frame()
    with pytest.raises(DatasetError, match="more than one split"):
        check_no_patient_overlap(frame)
    first = patient_disjoint_split(frame, "resplit", seed=3)
    again = patient_disjoint_split(frame, "resplit", seed=3)
    other = patient_disjoint_split(frame, "resplit", seed=4)
    check_no_patient_overlap(first)
    assert first["split"].equals(again["split"]) and not first["split"].equals(other["split"])
    assert set(first["split"]) == {"train", "test"}
    in_test = first.loc[first["split"] == "test", "patient_id"].nunique()
    assert in_test == 12  # 12 of the 24 patients had test images before
    assert set(first.loc[first["split"] == "test", "label"]) == {"normal", "pneumonia"}


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="strategy must be one of"):
        patient_disjoint_split(_frame(), "shuffle")
    with pytest.raises(ValueError, match="test_fraction"):
        patient_disjoint_split(_frame().assign(split="train"), "resplit")
    with pytest.raises(DatasetError, match="missing column"):
        patient_overlap(_frame().drop(columns="patient_id"))
