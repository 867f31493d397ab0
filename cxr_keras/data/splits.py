"""Patient-level splits and manifest files (the exact list of images a run used)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

from cxr_keras.data.schema import CORE_COLUMNS, DatasetError
from cxr_keras.io import write_csv


def patient_split(
    frame: pd.DataFrame, val_fraction: float, seed: int = 0, stratify: bool = True,
    source: str | None = "train", target: str = "val",
) -> pd.DataFrame:
    """Move a seeded fraction of the patients of split ``source`` to split ``target``.

    Whole patients move, so no patient ends up in two splits. With ``stratify`` patients are
    grouped by their most frequent label and the fraction is taken in every group, so each
    class keeps its share (group counts are floors plus largest remainders, so the total is
    the rounded fraction of all patients). Rows without a patient id count as their own patient.
    ``source=None`` draws from every row. Returns a copy; ``frame`` is not changed.
    """
    if not 0.0 < float(val_fraction) < 1.0:
        raise ValueError(f"val_fraction must be in (0, 1), got {val_fraction}")
    frame = frame.copy()
    pool = frame if source is None else frame[frame["split"] == source]
    if pool.empty:
        raise DatasetError(f"no rows in split {source!r} to carve a {target!r} split from")
    patients = _patient_keys(pool)
    if stratify:
        strata = pool.groupby(patients)["label"].agg(lambda labels: min(labels.mode()))
    else:
        strata = pd.Series("all", index=pd.Index(patients.unique()))
    groups = [
        np.sort(members.index.to_numpy(dtype=str))
        for _, members in strata.groupby(strata, sort=True)
    ]
    rng = np.random.default_rng(seed)
    chosen: list[str] = []
    for ids, count in zip(groups, _allocate(val_fraction, [len(ids) for ids in groups])):
        chosen.extend(rng.permutation(ids)[:count])
    frame.loc[pool.index[patients.isin(chosen).to_numpy()], "split"] = target
    return frame


def check_no_patient_overlap(frame: pd.DataFrame, source: str | os.PathLike = "dataset") -> None:
    """Raise DatasetError naming the patients found in more than one split."""
    known = frame.dropna(subset=["patient_id"])
    splits_per_patient = known.groupby("patient_id")["split"].agg(lambda s: sorted(set(s)))
    shared = splits_per_patient[splits_per_patient.map(len) > 1]
    if len(shared):
        listed = "; ".join(f"{pid}: {', '.join(splits)}" for pid, splits in shared.head(5).items())
        raise DatasetError(
            f"{source}: {len(shared)} patient(s) in more than one split ({listed}); "
            "split by patient (patient_split) so that no patient is in two splits"
        )


def write_manifest(frame: pd.DataFrame, path: str | os.PathLike) -> Path:
    """Write a dataset frame as CSV, core columns first, atomically."""
    extras = [c for c in frame.columns if c not in CORE_COLUMNS]
    return write_csv(path, frame[list(CORE_COLUMNS) + extras])


def read_manifest(path: str | os.PathLike) -> pd.DataFrame:
    """Read a manifest CSV back into the frame ``write_manifest`` was given."""
    path = Path(path)
    if not path.is_file():
        raise DatasetError(
            f"{path}: manifest not found; write one with dataset.write_manifest(path)"
        )
    try:
        frame = pd.read_csv(path, dtype={column: str for column in CORE_COLUMNS})
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as error:
        raise DatasetError(f"{path}: not a readable CSV manifest ({error})") from error
    missing = [c for c in CORE_COLUMNS if c not in frame.columns]
    if missing:
        raise DatasetError(
            f"{path}: missing column(s) {missing}; a manifest needs {list(CORE_COLUMNS)}"
        )
    frame["split"] = frame["split"].fillna("")
    return frame


def _allocate(fraction: float, sizes: list[int]) -> list[int]:
    """Per-group counts summing to round(fraction * total): floors, then largest remainders."""
    exact = np.asarray(sizes, dtype=float) * fraction
    counts = np.floor(exact).astype(int)
    extra = round(fraction * sum(sizes)) - counts.sum()
    counts[np.argsort(-(exact - counts), kind="stable")[:extra]] += 1
    return counts.tolist()


def _patient_keys(frame: pd.DataFrame) -> pd.Series:
    return (
        frame["patient_id"]
        .astype(object)
        .where(frame["patient_id"].notna(), frame["path"])
        .astype(str)
    )
