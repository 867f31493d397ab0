"""Shortcut audit: can the classes be told apart from what cannot carry the disease? Details:
docs/modules.md."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import balanced_accuracy_score, roc_auc_score
from sklearn.model_selection import StratifiedGroupKFold, StratifiedKFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from cxr_keras.metrics.classification import bootstrap_ci

# A view flags a shortcut when the lower 95% bound of its one-vs-rest AUC exceeds this: an
# AUC of 0.75 from pixels outside the lungs (or from a histogram) is far above the 0.5 of
# chance, and the lower bound keeps a small test set from flagging by luck.
SHORTCUT_AUC = 0.75
LUNG_FIELD = (0.15, 0.85, 0.10, 0.90)  # rows top, bottom, columns left, right (fractions)
GRID = 16
HISTOGRAM_BINS = 32
REFERENCE_VIEW = "full_16x16"


def grayscale(images) -> np.ndarray:
    """(n, h, w) float64 from NHWC images in [-1, 1] (channels averaged); checks the input."""
    images = np.asarray(images, dtype=np.float64)
    if images.ndim != 4 or images.shape[-1] not in (1, 3) or len(images) == 0:
        raise ValueError(
            f"images must be a non-empty NHWC array with 1 or 3 channels, got shape {images.shape}"
        )
    if images.min() < -1.0 - 1e-6 or images.max() > 1.0 + 1e-6:
        raise ValueError(
            f"images must lie in [-1, 1], got [{images.min():.3g}, {images.max():.3g}]; "
            "scale them as the loaders do (to_numpy)"
        )
    return images.mean(axis=-1)


def block_average(gray: np.ndarray, cells: int) -> np.ndarray:
    """(n, cells, cells) means of a cells x cells grid of (n, h, w) images (h, w >= cells)."""
    n, height, width = gray.shape
    if height < cells or width < cells:
        raise ValueError(f"images of {height}x{width} px are smaller than the {cells}x{cells} grid")
    rows = np.array_split(np.arange(height), cells)
    cols = np.array_split(np.arange(width), cells)
    out = np.empty((n, cells, cells))
    for i, r in enumerate(rows):
        band = gray[:, r[0] : r[-1] + 1].mean(axis=1)
        for j, c in enumerate(cols):
            out[:, i, j] = band[:, c[0] : c[-1] + 1].mean(axis=1)
    return out


def lung_field_mask(cells: int, box: Sequence[float] = LUNG_FIELD) -> np.ndarray:
    """Boolean (cells, cells) grid, True inside the central lung-field ``box``."""
    top, bottom, left, right = box
    if not (0 <= top < bottom <= 1 and 0 <= left < right <= 1):
        raise ValueError(f"box must be fractions (top, bottom, left, right) in [0, 1], got {box}")
    centres = (np.arange(cells) + 0.5) / cells
    rows = (centres >= top) & (centres <= bottom)
    cols = (centres >= left) & (centres <= right)
    return rows[:, None] & cols[None, :]


def border_features(images, box: Sequence[float] = LUNG_FIELD) -> np.ndarray:
    """Grid cells outside the lung field: (n, cells outside ``box``)."""
    grid = block_average(grayscale(images), GRID)
    return grid[:, ~lung_field_mask(GRID, box)]


def blurred_features(images, cells: int = 8) -> np.ndarray:
    """The image averaged to cells x cells, flattened: (n, cells**2)."""
    return block_average(grayscale(images), cells).reshape(len(images), -1)


def histogram_features(images, bins: int = HISTOGRAM_BINS) -> np.ndarray:
    """Intensity histogram (fractions, ``bins`` bins over [-1, 1]) plus mean, std, 5/50/95th percentiles."""
    gray = grayscale(images).reshape(len(images), -1)
    edges = np.linspace(-1.0, 1.0, bins + 1)
    counts = np.stack([np.histogram(row, edges)[0] for row in gray]) / gray.shape[1]
    stats = np.column_stack(
        [gray.mean(axis=1), gray.std(axis=1), *np.percentile(gray, [5, 50, 95], axis=1)]
    )
    return np.hstack([counts, stats])


def size_features(widths, heights) -> np.ndarray | None:
    """log width, log height, log aspect; None unless every size is known and positive."""
    widths = pd.to_numeric(pd.Series(widths), errors="coerce").to_numpy(dtype=float)
    heights = pd.to_numeric(pd.Series(heights), errors="coerce").to_numpy(dtype=float)
    if not (np.isfinite(widths).all() and np.isfinite(heights).all()):
        return None
    if (widths <= 0).any() or (heights <= 0).any():
        return None
    return np.column_stack([np.log(widths), np.log(heights), np.log(widths / heights)])


def view_features(images, metadata: pd.DataFrame | None = None) -> dict[str, np.ndarray]:
    """The audit's views of ``images`` (plus a full-image reference), name -> feature matrix.

    ``metadata`` may hold ``orig_width`` and ``orig_height`` (one row per image); the size view
    is included only when both are known for every image.
    """
    views = {
        REFERENCE_VIEW: block_average(grayscale(images), GRID).reshape(len(images), -1),
        "border": border_features(images), "blur_8x8": blurred_features(images),
        "histogram": histogram_features(images),
    }
    if metadata is not None:
        if len(metadata) != len(views["border"]):
            raise ValueError(
                f"metadata has {len(metadata)} rows for {len(views['border'])} images; pass one row per image"
            )
        if {"orig_width", "orig_height"} <= set(metadata.columns):
            sizes = size_features(metadata["orig_width"], metadata["orig_height"])
            if sizes is not None:
                views["original_size"] = sizes
    return views


def out_of_fold_probabilities(
    features, labels, folds: int = 5, seed: int = 0, groups=None
) -> np.ndarray:
    """(n, C) probabilities of a standardized logistic regression, each from a fold it did not see.

    With ``groups`` (patient ids) no patient is in the training and held-out part of a fold.
    """
    features, labels = np.asarray(features, dtype=np.float64), np.asarray(labels)
    classes = np.unique(labels)
    if len(classes) < 2:
        raise ValueError(f"labels must hold at least two classes, got {classes.tolist()}")
    smallest = np.bincount(labels).min() if labels.min() >= 0 else 0
    if folds < 2 or smallest < folds:
        raise ValueError(
            f"folds must be >= 2 and at most the smallest class count ({smallest}), got {folds}"
        )
    if groups is None:
        splitter, split_groups = StratifiedKFold(folds, shuffle=True, random_state=seed), None
    else:
        splitter = StratifiedGroupKFold(folds, shuffle=True, random_state=seed)
        split_groups = np.asarray(groups)
    probabilities = np.zeros((len(labels), labels.max() + 1))
    for train, held_out in splitter.split(features, labels, split_groups):
        model = make_pipeline(StandardScaler(), LogisticRegression(C=0.1, max_iter=2000))
        model.fit(features[train], labels[train])
        probabilities[np.ix_(held_out, model.classes_)] = model.predict_proba(features[held_out])
    return probabilities


def separability(
    features, labels, positive: int, folds: int = 5, seed: int = 0, groups=None, n_boot: int = 500,
) -> dict:
    """One view's out-of-fold AUC (``positive`` vs rest) and balanced accuracy, with 95% CIs."""
    labels = np.asarray(labels)
    probabilities = out_of_fold_probabilities(features, labels, folds, seed, groups)

    def auc(y, p):
        return roc_auc_score(y == positive, p[:, positive])  # ValueError -> NaN in a resample

    def balanced_accuracy(y, p):
        return balanced_accuracy_score(y, p.argmax(axis=1))

    out = {"n_features": int(np.shape(features)[1])}
    for name, fn in (("auc", auc), ("balanced_accuracy", balanced_accuracy)):
        ci = bootstrap_ci(fn, labels, probabilities, n_boot=n_boot, seed=seed, groups=groups)
        out.update({name: ci["estimate"], f"{name}_low": ci["low"], f"{name}_high": ci["high"]})
    return out


def shortcut_audit(
    images, labels, class_names: Sequence[str], positive_class: str = "covid",
    metadata: pd.DataFrame | None = None, patient_ids=None, folds: int = 5, seed: int = 0,
    n_boot: int = 500, views: Mapping[str, np.ndarray] | None = None,
) -> pd.DataFrame:
    """One row per view: AUC of ``positive_class`` vs the rest and balanced accuracy with CIs,
    chance levels, and ``source_shortcut`` (True when the AUC's lower bound > ``SHORTCUT_AUC``;
    NA for the full-image reference, which may use the disease). ``views`` overrides
    :func:`view_features` (e.g. features computed once)."""
    class_names = [str(c) for c in class_names]
    if positive_class not in class_names:
        raise ValueError(f"positive_class {positive_class!r} is not one of class_names {class_names}")
    labels = np.asarray(labels)
    if labels.ndim != 1 or not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(f"labels must be 1-d integer class indices, got {labels.dtype} {labels.shape}")
    if labels.min() < 0 or labels.max() >= len(class_names):
        raise ValueError(f"labels must lie in [0, {len(class_names)}) for class_names {class_names}")
    views = view_features(images, metadata) if views is None else views
    positive = class_names.index(positive_class)
    rows = []
    for name, features in views.items():
        if len(features) != len(labels):
            raise ValueError(f"view {name!r} has {len(features)} rows for {len(labels)} labels")
        row = {"view": name, "positive_class": positive_class, "n_images": len(labels)}
        row.update(separability(features, labels, positive, folds, seed, patient_ids, n_boot))
        row["auc_chance"] = 0.5
        row["balanced_accuracy_chance"] = 1.0 / len(np.unique(labels))
        row["source_shortcut"] = pd.NA if name == REFERENCE_VIEW else row["auc_low"] > SHORTCUT_AUC
        rows.append(row)
    return pd.DataFrame(rows)


def shortcut_caveat(audit: pd.DataFrame) -> str:
    """One sentence for a claims or caveats table, with the numbers of the flagged views."""
    flagged = audit[audit["source_shortcut"].fillna(False).astype(bool)]
    positive = audit["positive_class"].iat[0]
    if flagged.empty:
        return (
            f"no source shortcut found: no non-disease view separates {positive} from the rest "
            f"with an AUC whose 95% CI lies above {SHORTCUT_AUC}"
        )
    listed = ", ".join(
        f"{r.view} AUC {r.auc:.3f} [{r.auc_low:.3f}, {r.auc_high:.3f}]" for r in flagged.itertuples()
    )
    return (
        f"source shortcut: {positive} vs the rest is separable without the lungs ({listed}; "
        "chance 0.5), so claims about it may measure the image source, not the disease"
    )


def shortcut_claim(audit: pd.DataFrame) -> pd.DataFrame:
    """A claims-table row (claim, kit, held, verdict): the positive class is *not* separable
    from non-disease views alone; it holds when no view flags a source shortcut."""
    flagged = bool(audit["source_shortcut"].fillna(False).astype(bool).any())
    positive = audit["positive_class"].iat[0]
    return pd.DataFrame([{
        "claim": f"{positive} is told apart by the disease, not the source (no non-disease view "
        f"separates it with AUC lower bound > {SHORTCUT_AUC})",
        "kit": shortcut_caveat(audit),
        "held": not flagged,
        "verdict": "did not hold" if flagged else "held",
    }])


def non_disease_views(audit: pd.DataFrame) -> pd.DataFrame:
    """The rows of a shortcut audit that hold no disease information (all but the full image)."""
    return audit[audit["view"] != REFERENCE_VIEW]
