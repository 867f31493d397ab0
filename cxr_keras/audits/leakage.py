"""Patient leakage between splits: count it, list it, and give a patient-disjoint re-split. Details:
docs/modules.md."""

from __future__ import annotations

import pandas as pd

from cxr_keras.data.base import CORE_COLUMNS, DatasetError
from cxr_keras.data.splits import check_no_patient_overlap, patient_split

STRATEGIES = ("move", "resplit")


def _check_frame(frame: pd.DataFrame) -> None:
    missing = [c for c in CORE_COLUMNS if c not in frame.columns]
    if missing:
        raise DatasetError(
            f"frame: missing column(s) {missing}; pass a dataset's frame (dataset.frame)"
        )


def patient_overlap(frame: pd.DataFrame) -> pd.DataFrame:
    """Patients with images in more than one split: patient_id, splits ("test|train"), and
    the number of images per split (``n_<split>``); sorted by patient id. Empty when disjoint."""
    _check_frame(frame)
    known = frame[frame["patient_id"].notna() & ~frame["patient_id"].isin(["", "nan", "None"])]
    counts = known.groupby(["patient_id", "split"]).size().unstack(fill_value=0)
    shared = counts[(counts > 0).sum(axis=1) > 1]
    table = shared.add_prefix("n_").reset_index()
    table.columns.name = None
    table.insert(
        1, "splits", ["|".join(sorted(c for c in shared.columns if row[c] > 0)) for _, row in shared.iterrows()]
    )
    return table.sort_values("patient_id", ignore_index=True)


def overlap_summary(frame: pd.DataFrame) -> dict:
    """Counts for a printed line: patients in several splits and their images per split."""
    table = patient_overlap(frame)
    per_split = {c[2:]: int(table[c].sum()) for c in table.columns if c.startswith("n_")}
    return {
        "patients_in_several_splits": len(table), "patients": int(frame["patient_id"].nunique()),
        "images_of_those_patients": per_split,
    }


def patient_disjoint_split(
    frame: pd.DataFrame, strategy: str = "move", to: str = "train",
    test_fraction: float | None = None, seed: int = 0, test: str = "test",
) -> pd.DataFrame:
    """A copy of ``frame`` in which no patient has images in two splits.

    ``strategy="move"``: every image of a patient found in several splits goes to split
    ``to``; all other rows keep their split. ``strategy="resplit"``: all images are pooled
    and a seeded, label-stratified ``test_fraction`` of the patients becomes split ``test``
    (default: the share of patients now in ``test``), the rest "train" (``patient_split``).
    Rows without a patient id count as their own patient.
    """
    _check_frame(frame)
    if strategy not in STRATEGIES:
        raise ValueError(f"strategy must be one of {STRATEGIES}, got {strategy!r}")
    frame = frame.copy()
    if strategy == "move":
        shared = patient_overlap(frame)["patient_id"]
        frame.loc[frame["patient_id"].isin(shared), "split"] = to
    else:
        if test_fraction is None:
            in_test = frame.loc[frame["split"] == test, "patient_id"].nunique()
            test_fraction = in_test / max(frame["patient_id"].nunique(), 1)
        if not 0.0 < test_fraction < 1.0:
            raise ValueError(
                f"test_fraction must be in (0, 1), got {test_fraction}; pass it when the frame "
                f"has no {test!r} rows to take the share from"
            )
        frame["split"] = "train"
        frame = patient_split(frame, test_fraction, seed=seed, source="train", target=test)
    check_no_patient_overlap(frame, source=f"patient_disjoint_split({strategy!r})")
    return frame
