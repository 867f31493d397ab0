"""The 4-class COVID set of Davoodi & Lo Giudice, rebuilt from public data. Details:
docs/modules.md."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from cxr_keras.data.base import CXRDataset, DatasetError
from cxr_keras.data.covid import COVID_FRONTAL_VIEWS, CovidChestXrayDataset
from cxr_keras.data.kermany import KermanyDataset
from cxr_keras.paths import COVID_DIR, KERMANY_DIR

DAVOODI_CLASSES = ["covid", "normal", "bacteria", "virus"]
DAVOODI_TRAIN_COUNTS = (60, 70, 70, 70)
DAVOODI_TEST_COUNTS = (9, 9, 9, 9)


class DavoodiCovidDataset(CXRDataset):
    """covid / normal / bacteria / virus with splits train and test (deterministic given seed)."""

    name = "davoodi_covid"

    def __init__(
        self, covid_root: str | os.PathLike, kermany_root: str | os.PathLike,
        counts_train: Sequence[int] = DAVOODI_TRAIN_COUNTS,
        counts_test: Sequence[int] = DAVOODI_TEST_COUNTS, seed: int = 0,
        views: Sequence[str] = COVID_FRONTAL_VIEWS, on_error: str = "raise",
    ):
        for counts in (counts_train, counts_test):
            if len(counts) != len(DAVOODI_CLASSES) or min(counts) < 0:
                raise ValueError(
                    f"counts must be {len(DAVOODI_CLASSES)} non-negative integers "
                    f"for {DAVOODI_CLASSES}, got {counts}"
                )
        pool = source_pool(covid_root, kermany_root, views)
        rng = np.random.default_rng(seed)
        test = _draw(pool, dict(zip(DAVOODI_CLASSES, counts_test)), rng, "test")
        rest = pool[~pool["patient_id"].isin(set(test["patient_id"]))]
        train = _draw(rest, dict(zip(DAVOODI_CLASSES, counts_train)), rng, "train")
        super().__init__(
            pd.concat([train, test], ignore_index=True), DAVOODI_CLASSES, on_error=on_error
        )

    @classmethod
    def from_root(cls, root: str | os.PathLike, seed: int = 0, on_error: str = "raise"):
        """The set from a root holding ``covid_chestxray/`` and ``kermany_chest_xray/`` (laid out
        like ../shared/data)."""
        root = Path(root).expanduser()
        missing = [name for name in (COVID_DIR, KERMANY_DIR) if not (root / name).is_dir()]
        if missing:
            raise DatasetError(
                f"{root}: missing {missing}; pass a data root holding the COVID-19 image data "
                f"collection as {COVID_DIR}/ and Kermany's chest X-rays as {KERMANY_DIR}/"
            )
        return cls(root / COVID_DIR, root / KERMANY_DIR, seed=seed, on_error=on_error)


def source_pool(covid_root, kermany_root, views=COVID_FRONTAL_VIEWS) -> pd.DataFrame:
    """Every candidate image of the four classes, with prefixed patient ids and a ``source`` column."""
    covid = CovidChestXrayDataset(covid_root, findings={"covid": "COVID-19"}, views=views).frame
    kermany = KermanyDataset(kermany_root).frame
    kermany = kermany[kermany["subtype"].isin(DAVOODI_CLASSES)].assign(label=lambda f: f["subtype"])
    parts = [
        frame.assign(patient_id=source + ":" + frame["patient_id"], source=source)
        for source, frame in (("covid", covid), ("kermany", kermany))
    ]
    return pd.concat(
        [p[["path", "label", "patient_id", "source"]] for p in parts], ignore_index=True
    )


def _draw(
    pool: pd.DataFrame, counts: dict[str, int], rng: np.random.Generator, split: str
) -> pd.DataFrame:
    """Sample counts[c] images of each class, one per patient before any second image."""
    drawn = []
    for label, count in counts.items():
        rows = pool[pool["label"] == label]
        if len(rows) < count:
            raise DatasetError(
                f"only {len(rows)} {label!r} images are available for the {split} split, {count} "
                "requested; lower the counts or use the full datasets"
            )
        rows = rows.iloc[rng.permutation(len(rows))]
        patients = rng.permutation(np.sort(rows["patient_id"].unique()))
        order = pd.DataFrame(
            {
                "repeat": rows.groupby("patient_id").cumcount().to_numpy(),
                "patient": rows["patient_id"]
                .map({p: i for i, p in enumerate(patients)})
                .to_numpy(),
            }
        )
        drawn.append(
            rows.iloc[order.sort_values(["repeat", "patient"], kind="stable").index[:count]]
        )
    return pd.concat(drawn).assign(split=split)
