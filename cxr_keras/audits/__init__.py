"""Audits of what the papers' numbers rest on: source shortcuts, patient leakage, baselines."""

from cxr_keras.audits.leakage import overlap_summary, patient_disjoint_split, patient_overlap
from cxr_keras.audits.mitigation import histogram_match, lung_field_crop, mitigate
from cxr_keras.audits.shortcut import (
    SHORTCUT_AUC,
    non_disease_views,
    shortcut_audit,
    shortcut_caveat,
    shortcut_claim,
    view_features,
)

__all__ = [
    "SHORTCUT_AUC", "histogram_match", "lung_field_crop", "mitigate", "non_disease_views",
    "overlap_summary", "patient_disjoint_split", "patient_overlap", "shortcut_audit",
    "shortcut_caveat", "shortcut_claim", "view_features",
]
