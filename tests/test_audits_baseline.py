"""ResNet-18 for 28 px, the MedMNIST training recipe, and the table beside MedMNIST v2."""

import numpy as np
import pandas as pd
import pytest

from cxr_keras.audits import baseline
from cxr_keras.models.resnet import resnet18_small


def test_resnet18_has_the_standard_shape_and_size():
    model = resnet18_small(num_classes=2, image_size=28, channels=1)
    assert model.output_shape == (None, 2)
    assert 11.1e6 < model.count_params() < 11.2e6  # ResNet-18 with a 2-way head
    assert model.get_layer("stem_conv").strides == (1, 1)
    assert not any("pool" in layer.name and "features" not in layer.name for layer in model.layers)
    assert model.get_layer("features").input.shape[1:3] == (4, 4)  # 28 -> 28, 14, 7, 4


def test_schedule_drops_tenfold_at_half_and_three_quarters():
    rate = baseline.medmnist_schedule(100, 1e-3)
    assert [rate(e) for e in (0, 49, 50, 74, 75, 99)] == pytest.approx(
        [1e-3, 1e-3, 1e-4, 1e-4, 1e-5, 1e-5])
    assert baseline.medmnist_schedule(1)(0) == pytest.approx(1e-3)
    with pytest.raises(ValueError, match="epochs"):
        baseline.medmnist_schedule(0)


def test_a_narrow_resnet_learns_a_separable_task():
    rng = np.random.default_rng(0)
    labels = np.repeat([0, 1], 32)
    images = rng.normal(0, 0.3, (64, 12, 12, 1)).astype(np.float32)
    images[labels == 1, 3:9, 3:9] += 1.0
    model = resnet18_small(2, 12, 1, width=4)
    history = baseline.train_medmnist_way(model, (images, labels), epochs=8, batch_size=16)
    assert list(history["epoch"]) == list(range(1, 9))
    assert history["loss"].iat[-1] < 0.6 * history["loss"].iat[0]
    assert history["learning_rate"].iat[-1] == pytest.approx(1e-5)


def test_acc_auc_with_ci_on_known_predictions():
    y = np.array([0, 0, 1, 1, 1, 0] * 10)
    p1 = np.array([0.1, 0.6, 0.8, 0.9, 0.4, 0.2] * 10)
    scores = baseline.acc_auc_with_ci(y, np.column_stack([1 - p1, p1]), n_boot=100)
    assert scores["acc"] == pytest.approx(4 / 6)
    assert scores["auc"] == pytest.approx(8 / 9)  # 8 of the 9 positive-negative pairs ranked right
    assert scores["acc_low"] <= scores["acc"] <= scores["acc_high"]
    with pytest.raises(ValueError, match=r"y_prob must be \(n, 2\)"):
        baseline.acc_auc_with_ci(y, p1)


def test_table_and_verdicts_beside_medmnist():
    ours = pd.DataFrame([{"model": "ResNet-18 (28)", "acc": 0.86, "acc_low": 0.83, "acc_high": 0.89,
                          "auc": 0.90, "auc_low": 0.88, "auc_high": 0.92, "epochs": 6}])
    table = baseline.table_beside_medmnist(ours)
    assert len(table) == 8 and table["source"].tolist().count("kit") == 1
    assert list(table.columns) == baseline.TABLE_COLUMNS + ["epochs"]
    verdicts = baseline.compare_with_reference(ours.iloc[0]).set_index("verdict")
    assert list(verdicts.index) == ["held", "did not hold"]  # ACC 0.854 inside, AUC 0.944 above
    assert "inside" in verdicts.at["held", "kit"] and "above" in verdicts.at["did not hold", "kit"]
    with pytest.raises(ValueError, match="lacks columns"):
        baseline.table_beside_medmnist(ours.drop(columns="auc_low"))
    with pytest.raises(ValueError, match="reference must be one of"):
        baseline.compare_with_reference(ours.iloc[0], "VGG")
