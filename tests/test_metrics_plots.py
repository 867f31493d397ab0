import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

from cxr_keras.io import save_figure
from cxr_keras.metrics.plots import (
    plot_confusion_matrix,
    plot_gan_history,
    plot_image_grid,
    plot_roc_curves,
    plot_validation_curves,
)


def multiclass_predictions(n=90, classes=3, seed=0):
    rng = np.random.default_rng(seed)
    y_true = np.arange(n) % classes
    logits = rng.normal(size=(n, classes)) + 1.5 * np.eye(classes)[y_true]
    probs = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    return y_true, probs


def test_roc_curves_one_line_and_band_per_class_plus_chance(tmp_path):
    y_true, probs = multiclass_predictions()
    fig = plot_roc_curves(y_true, probs, ["a", "b", "c"], n_boot=30)
    ax = fig.axes[0]
    assert isinstance(fig, Figure)
    assert len(ax.lines) == 4 and len(ax.collections) == 3
    assert [t.get_text().split(" (")[0] for t in ax.get_legend().get_texts()] == ["a", "b", "c"]
    assert save_figure(tmp_path / "roc.png", fig).stat().st_size > 0


def test_roc_curve_binary_draws_the_positive_class_only_and_no_band_without_ci():
    y_true = np.array([0, 0, 1, 1, 0, 1])
    fig = plot_roc_curves(
        y_true, np.array([0.1, 0.4, 0.35, 0.8, 0.2, 0.9]), ["normal", "pneumonia"], ci=False
    )
    ax = fig.axes[0]
    assert len(ax.lines) == 2 and len(ax.collections) == 0
    assert ax.get_legend().get_texts()[0].get_text() == "pneumonia (AUC 0.889)"


@pytest.mark.parametrize("normalize, first_cell", [(None, "3"), ("true", "0.75"), ("all", "0.30")])
def test_confusion_matrix_annotates_every_cell(normalize, first_cell):
    cm = np.array([[3, 1], [2, 4]])
    fig = plot_confusion_matrix(cm, ["normal", "pneumonia"], normalize=normalize)
    texts = [t.get_text() for t in fig.axes[0].texts]
    assert len(texts) == 4 and texts[0] == first_cell


def test_confusion_matrix_rejects_bad_arguments():
    with pytest.raises(ValueError, match="cm must be 3x3"):
        plot_confusion_matrix(np.eye(2), ["a", "b", "c"])
    with pytest.raises(ValueError, match="normalize must be one of"):
        plot_confusion_matrix(np.eye(2), ["a", "b"], normalize="rows")


def test_gan_history_panels_follow_the_columns():
    epochs = np.arange(1, 6)
    history = pd.DataFrame(
        {
            "epoch": epochs,
            "d_loss": 1 / epochs,
            "g_loss": epochs * 0.5,
            "d_acc_real": 0.8,
            "d_acc_fake": 0.7,
            "d_x": 0.6,
            "d_g_z1": 0.4,
            "d_g_z2": 0.3,
        }
    )
    fig = plot_gan_history(history)
    assert [ax.get_title() for ax in fig.axes] == [
        "Loss",
        "Discriminator accuracy",
        "Discriminator output",
    ]
    assert [len(ax.lines) for ax in fig.axes] == [2, 2, 3]
    np.testing.assert_array_equal(fig.axes[0].lines[0].get_xdata(), epochs)
    assert len(plot_gan_history(history[["epoch", "d_loss", "g_loss"]]).axes) == 1
    with pytest.raises(ValueError, match="none of the columns"):
        plot_gan_history(pd.DataFrame({"loss": [1.0]}))


def test_image_grid_layout_titles_and_fixed_gray_scale():
    images = np.linspace(-1, 1, 10 * 16 * 16).reshape(10, 16, 16, 1).astype(np.float32)
    fig = plot_image_grid(images, titles=[f"img {i}" for i in range(10)], ncols=4)
    assert len(fig.axes) == 12  # 3 rows of 4, two left empty
    drawn = [ax for ax in fig.axes if ax.images]
    assert len(drawn) == 10 and drawn[3].get_title() == "img 3"
    assert drawn[0].images[0].get_clim() == (0, 255)
    with pytest.raises(ValueError, match="3 titles for 10 images"):
        plot_image_grid(images, titles=["a", "b", "c"])


def test_validation_curve_has_one_line_per_dataset_and_a_band_inside_0_1():
    histories = pd.DataFrame({
        "dataset": ["DS1"] * 4 + ["DS2"] * 4,
        "run": [0, 0, 1, 1] * 2,
        "epoch": [1, 2, 1, 2] * 2,
        "val_balanced_accuracy": [0.1, 0.9, 0.9, 1.0, 0.5, 0.6, 0.7, 0.8],
    })
    axis = plot_validation_curves(histories).axes[0]
    assert [line.get_label() for line in axis.lines] == ["DS1", "DS2"]
    assert axis.get_title().startswith("Balanced validation accuracy")
    assert axis.lines[0].get_ydata().tolist() == pytest.approx([0.5, 0.95])
    band = np.concatenate([c.get_paths()[0].vertices[:, 1] for c in axis.collections])
    assert band.min() >= 0.0 and band.max() <= 1.0
    with pytest.raises(ValueError, match="lack columns"):
        plot_validation_curves(histories.drop(columns="run"))
