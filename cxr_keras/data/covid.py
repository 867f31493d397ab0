"""Cohen et al. COVID-19 image data collection: ``metadata.csv`` plus ``images/``. Details:
docs/modules.md."""

from __future__ import annotations

import os
import re
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path

import pandas as pd

from cxr_keras.data.base import CXRDataset, DatasetError
from cxr_keras.paths import display_path

COVID_FRONTAL_VIEWS = ("PA", "AP", "AP Supine")
_REQUIRED = ["patientid", "finding", "view"]
_HELP = (
    "expected metadata.csv and images/ in the root; get them from "
    "https://github.com/ieee8023/covid-chestxray-dataset"
)


def finding_tokens(finding: str) -> set[str]:
    """The parts of a finding string: "Pneumonia/Viral/COVID-19" and "COVID-19, ARDS" both hold "COVID-19"."""
    return {token.strip() for token in re.split(r"[/,]", str(finding)) if token.strip()}


class CovidChestXrayDataset(CXRDataset):
    """COVID-19 image data collection, one class per finding.

    ``findings=None`` uses every distinct finding string as a class. A list of names makes a
    class of each name; a mapping {class: finding or [findings]} renames and merges. A row
    belongs to a class when one of the class's findings is a part of its finding string
    (see ``finding_tokens``); rows matching no class, or more than one, are left out.
    """

    name = "covid_chestxray"

    def __init__(
        self, root: str | os.PathLike,
        findings: Sequence[str] | Mapping[str, str | Sequence[str]] | None = None,
        views: Sequence[str] | None = COVID_FRONTAL_VIEWS, on_error: str = "raise",
    ):
        root = Path(root)
        metadata = _read_metadata(root)
        if "modality" in metadata.columns:
            metadata = metadata[metadata["modality"] == "X-ray"]
        if views is not None:
            metadata = metadata[metadata["view"].isin(list(views))]
        image_column = "png_filename" if "png_filename" in metadata.columns else "filename"
        paths = metadata[image_column].map(lambda name: str(root / "images" / str(name)))
        exists = paths.map(os.path.isfile)
        self.missing = paths[~exists].tolist()
        duplicated = paths.duplicated() & exists
        self.duplicate_count = int(duplicated.sum())
        if self.missing or self.duplicate_count:
            example = f" (e.g. {self.missing[0]})" if self.missing else ""
            kept = int(exists.sum()) - self.duplicate_count
            warnings.warn(
                f"{display_path(root / 'metadata.csv')}: of {len(paths)} row(s) (X-ray, requested views), "
                f"dropped {len(self.missing)} whose image is missing{example} and "
                f"{self.duplicate_count} repeating an image; {kept} kept"
            )
        keep = exists & ~duplicated
        metadata, paths = metadata[keep], paths[keep]
        labels, classes = _classify(metadata["finding"], findings)
        known = labels.notna()
        frame = pd.DataFrame(
            {
                "path": paths[known].to_numpy(), "label": labels[known].to_numpy(), "split": "",
                "patient_id": metadata["patientid"][known].astype(str).to_numpy(),
                "finding": metadata["finding"][known].to_numpy(),
                "view": metadata["view"][known].to_numpy(),
            }
        )
        super().__init__(frame, classes, root=root, on_error=on_error, source=root / "metadata.csv")


def _read_metadata(root: Path) -> pd.DataFrame:
    path = root / "metadata.csv"
    if not path.is_file() or not (root / "images").is_dir():
        raise DatasetError(f"{root}: not a COVID-19 image data collection folder; {_HELP}")
    try:
        metadata = pd.read_csv(path, dtype={"patientid": str})
    except (ValueError, pd.errors.ParserError) as error:
        raise DatasetError(f"{path}: not a readable CSV ({error}); {_HELP}") from error
    missing = [c for c in _REQUIRED if c not in metadata.columns]
    if "png_filename" not in metadata.columns and "filename" not in metadata.columns:
        missing.append("filename (or png_filename)")
    if missing:
        raise DatasetError(f"{path}: missing column(s) {missing}; {_HELP}")
    return metadata


def _classify(findings: pd.Series, wanted) -> tuple[pd.Series, list[str]]:
    """(label per row or NA, class list) for the ``findings`` argument of the dataset."""
    if wanted is None:
        return findings.astype(str), sorted(findings.astype(str).unique())
    if isinstance(wanted, Mapping):
        aliases = {name: {v} if isinstance(v, str) else set(v) for name, v in wanted.items()}
    else:
        aliases = {name: {name} for name in wanted}

    def label(finding: str):
        matches = [name for name, names in aliases.items() if names & finding_tokens(finding)]
        return matches[0] if len(matches) == 1 else None

    return findings.map(label).astype(object), list(aliases)
