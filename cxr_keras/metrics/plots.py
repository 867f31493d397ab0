"""Figures for classifier and GAN results.

Every function returns a ``matplotlib.figure.Figure`` built without pyplot, so it works under
any backend (Agg included), keeps no global state and displays once in a notebook. Save with
``cxr_keras.io.save_figure(path, fig)``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure
from matplotlib.image import imread
from sklearn.metrics import roc_auc_score, roc_curve

from cxr_keras.metrics.classification import bootstrap_distribution, prepare_predictions
from cxr_keras.metrics.conversions import to_uint8_range

GAN_HISTORY_PANELS = {
    "Loss": ("d_loss", "g_loss"), "Discriminator accuracy": ("d_acc_real", "d_acc_fake"),
    "Discriminator output": ("d_x", "d_g_z1", "d_g_z2"),
}
NORMALIZATIONS = (None, "true", "pred", "all")


def new_figure(nrows: int = 1, ncols: int = 1, cell_size: float = 4.0, squeeze: bool = True):
    """A pyplot-free figure with an ``nrows`` x ``ncols`` grid of axes of ``cell_size`` inches."""
    fig = Figure(figsize=(cell_size * ncols, cell_size * nrows), layout="constrained")
    return fig, fig.subplots(nrows, ncols, squeeze=squeeze)


def show_image(ax, image, title: str | None = None) -> None:
    """Draw one HWC/HW image (uint8, or float in [-1, 1]) in grayscale without rescaling."""
    image = np.asarray(image)
    pixels = image if image.dtype == np.uint8 else to_uint8_range(image).astype(np.uint8)
    if pixels.ndim == 3 and pixels.shape[-1] == 1:
        pixels = pixels[..., 0]
    ax.imshow(pixels, cmap="gray", vmin=0, vmax=255)
    ax.set_axis_off()
    if title:
        ax.set_title(title, fontsize=8)


def plot_image_grid(images, titles: Sequence[str] | None = None, ncols: int = 8):
    """Grid of images (e.g. real vs generated), one optional title each."""
    images = np.asarray(images)
    if len(images) == 0:
        raise ValueError("no images to plot")
    if titles is not None and len(titles) != len(images):
        raise ValueError(f"got {len(titles)} titles for {len(images)} images")
    ncols = min(ncols, len(images))
    nrows = -(-len(images) // ncols)
    fig, axes = new_figure(nrows, ncols, cell_size=1.6, squeeze=False)
    for index, ax in enumerate(axes.flat):
        if index < len(images):
            show_image(ax, images[index], titles[index] if titles is not None else None)
        else:
            ax.set_axis_off()
    return fig


def plot_roc_curves(
    y_true, y_prob, class_names: Sequence[str], ci: bool = True, n_boot: int = 200,
    alpha: float = 0.05, seed: int = 0,
):
    """ROC curve per class (one-vs-rest; only the positive class if binary) with bootstrap bands."""
    y_true, y_prob, class_names = prepare_predictions(y_true, y_prob, class_names)
    classes = [1] if len(class_names) == 2 else range(len(class_names))
    grid = np.linspace(0.0, 1.0, 101)
    fig, ax = new_figure()
    for label in classes:
        is_positive = y_true == label
        fpr, tpr, _ = roc_curve(is_positive, y_prob[:, label])
        auc = roc_auc_score(is_positive, y_prob[:, label])
        (line,) = ax.plot(fpr, tpr, label=f"{class_names[label]} (AUC {auc:.3f})")
        if ci:
            bands = bootstrap_distribution(_tpr_on_grid(label, grid), y_true, y_prob, n_boot, seed)
            low, high = np.nanpercentile(bands, [100 * alpha / 2, 100 * (1 - alpha / 2)], axis=0)
            ax.fill_between(grid, low, high, color=line.get_color(), alpha=0.2, linewidth=0)
    ax.plot([0, 1], [0, 1], linestyle="--", color="grey", linewidth=1)
    ax.set(
        xlabel="False positive rate", ylabel="True positive rate", xlim=(0, 1), ylim=(0, 1.02),
        title="ROC" + (f" with {100 * (1 - alpha):.0f}% bootstrap bands" if ci else ""),
    )
    ax.legend(loc="lower right", fontsize=8)
    return fig


def plot_confusion_matrix(cm, class_names: Sequence[str], normalize: str | None = None):
    """Heat map of a confusion matrix (rows true, columns predicted), optionally normalized.

    ``normalize``: None (counts), "true" (rows sum to 1), "pred" (columns) or "all".
    """
    cm = np.asarray(cm, dtype=np.float64)
    if cm.shape != (len(class_names), len(class_names)):
        raise ValueError(
            f"cm must be {len(class_names)}x{len(class_names)} for {list(class_names)}, "
            f"got {cm.shape}"
        )
    if normalize not in NORMALIZATIONS:
        raise ValueError(f"normalize must be one of {NORMALIZATIONS}, got {normalize!r}")
    if normalize is not None:
        totals = {
            "true": cm.sum(axis=1, keepdims=True), "pred": cm.sum(axis=0, keepdims=True),
            "all": cm.sum(),
        }[normalize]
        cm = np.divide(cm, totals, out=np.zeros_like(cm), where=totals > 0)
    fig, ax = new_figure(cell_size=max(3.5, 0.9 * len(class_names)))
    image = ax.imshow(cm, cmap="Blues")
    fig.colorbar(image, ax=ax, shrink=0.8)
    threshold = cm.max() / 2 if cm.size else 0
    for (row, column), value in np.ndenumerate(cm):
        text = f"{value:.2f}" if normalize else f"{int(value)}"
        ax.text(
            column, row, text, ha="center", va="center", fontsize=9,
            color="white" if value > threshold else "black",
        )
    ticks = np.arange(len(class_names))
    ax.set_xticks(ticks, labels=class_names, rotation=45, ha="right")
    ax.set_yticks(ticks, labels=class_names)
    ax.set(
        xlabel="Predicted", ylabel="True",
        title="Confusion matrix" + (f" (normalized by {normalize})" if normalize else ""),
    )
    return fig


def plot_gan_history(history_frame):
    """Per-epoch GAN curves: losses, D accuracy on real/fake, D(x) and D(G(z)) around D's step.

    Uses the columns of ``GAN_HISTORY_PANELS`` that are present; x is ``epoch`` if present.
    """
    panels = {
        title: [c for c in columns if c in history_frame.columns]
        for title, columns in GAN_HISTORY_PANELS.items()
    }
    panels = {title: columns for title, columns in panels.items() if columns}
    if not panels:
        known = [c for columns in GAN_HISTORY_PANELS.values() for c in columns]
        raise ValueError(
            f"the history has none of the columns {known}; got {list(history_frame.columns)}"
        )
    x = history_frame["epoch"] if "epoch" in history_frame.columns else history_frame.index
    fig, axes = new_figure(1, len(panels), squeeze=False)
    for ax, (title, columns) in zip(axes[0], panels.items()):
        for column in columns:
            ax.plot(x, history_frame[column], label=column)
        ax.set(title=title, xlabel="epoch")
        ax.legend(fontsize=8)
    return fig


def plot_sample_progression(paths: Sequence):
    """Sample grids saved during GAN training (``samples/epoch-NNNN.png``), one row each,
    titled with its epoch: how the generator's images changed."""
    if not paths:
        raise ValueError("no sample grids to show; train with train_gan(sample_every=...)")
    fig, axes = new_figure(len(paths), 1, cell_size=3.0, squeeze=False)
    fig.set_size_inches(8, 2.2 * len(paths))
    for ax, path in zip(axes[:, 0], paths):
        epoch = Path(path).stem.split("-")[-1].lstrip("0") or "0"
        ax.imshow(imread(path))
        ax.set_title(f"epoch {epoch}", fontsize=9)
        ax.axis("off")
    return fig


def plot_validation_curves(histories, metric: str = "val_balanced_accuracy"):
    """Mean validation accuracy per epoch for each training set (Salehinejad's Figure 5), with
    a ±1 std band (clipped to [0, 1] for accuracies).

    ``histories`` has columns ``dataset``, ``run``, ``epoch`` and ``metric``. The default is
    the balanced validation accuracy, which is what the paper's curve shows: its validation
    set had equal images per class.
    """
    missing = {"dataset", "run", "epoch", metric} - set(histories.columns)
    if missing:
        raise ValueError(f"histories lack columns {sorted(missing)}; pass run_dcnn_experiment's histories")
    figure = Figure(figsize=(6, 4))
    axis = figure.add_subplot()
    for dataset, frame in histories.groupby("dataset", sort=False):
        stats = frame.groupby("epoch")[metric].agg(["mean", "std"]).fillna({"std": 0.0})
        axis.plot(stats.index, stats["mean"], label=dataset)
        low, high = stats["mean"] - stats["std"], stats["mean"] + stats["std"]
        if "accuracy" in metric:
            low, high = low.clip(lower=0.0), high.clip(upper=1.0)
        axis.fill_between(stats.index, low, high, alpha=0.25)
    name = {"val_accuracy": "validation accuracy",
            "val_balanced_accuracy": "balanced validation accuracy"}.get(metric, metric.replace("_", " "))
    axis.set_xlabel("epoch")
    axis.set_ylabel(name)
    axis.set_title(f"{name.capitalize()} during DCNN training (mean ± std over runs)")
    axis.legend()
    return figure


def _tpr_on_grid(label: int, grid: np.ndarray):
    def tpr(y_true, y_prob):
        is_positive = y_true == label
        if is_positive.all() or not is_positive.any():
            raise ValueError("ROC undefined without both outcomes")
        fpr, tpr_values, _ = roc_curve(is_positive, y_prob[:, label])
        return np.interp(grid, fpr, tpr_values)

    return tpr
