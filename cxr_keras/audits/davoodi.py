"""The shortcut audit on the Davoodi composite (covid from one collection, the rest from Kermany).

Run from the repository root: ``python -m tools.davoodi_audit --data ../shared/data --out
results/davoodi/audit``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from cxr_keras.audits.mitigation import MITIGATIONS, mitigate
from cxr_keras.audits.shortcut import shortcut_audit


def original_sizes(frame: pd.DataFrame, covid_metadata: str | Path) -> pd.DataFrame:
    """``orig_width`` / ``orig_height`` per row of ``frame`` where the covid metadata knows them
    (matched on the image file name); NaN elsewhere (the Kermany copies carry no original size)."""
    metadata = pd.read_csv(covid_metadata, usecols=["png_filename", "orig_width", "orig_height"])
    metadata = metadata.drop_duplicates("png_filename").set_index("png_filename")
    names = frame["path"].map(lambda p: Path(p).name)
    return metadata.reindex(names)[["orig_width", "orig_height"]].reset_index(drop=True)


def audit_dataset(
    dataset, image_size: int = 64, positive_class: str = "covid",
    mitigations: Sequence[str] = MITIGATIONS, metadata: pd.DataFrame | None = None, seed: int = 0,
    n_boot: int = 500,
) -> pd.DataFrame:
    """:func:`shortcut_audit` of every image of ``dataset`` (splits pooled, patient-grouped
    folds), once per mitigation; a ``mitigation`` column tells the rows apart. The size view
    is audited only without mitigation (no mitigation changes the original size)."""
    images, labels = dataset.to_numpy(image_size=image_size)
    patients = dataset.frame["patient_id"].to_numpy()
    audits = []
    for method in mitigations:
        audit = shortcut_audit(
            mitigate(images, method), labels, dataset.classes, positive_class,
            metadata=metadata if method == "none" else None, patient_ids=patients, seed=seed,
            n_boot=n_boot,
        )
        audits.append(audit.assign(mitigation=method, image_size=image_size))
    return pd.concat(audits, ignore_index=True)
