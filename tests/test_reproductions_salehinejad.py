"""Salehinejad et al.: DS1/DS2/DS3 construction, Table 1 arithmetic and a tiny DCNN run."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
import pandas as pd
import pytest

from cxr_keras.data import balancing
from cxr_keras.reproductions import salehinejad as sal


def _imbalanced(counts=(12, 5, 3), size=4, seed=0):
    y = np.repeat(np.arange(len(counts)), counts)
    x = np.random.default_rng(seed).uniform(-1, 1, (len(y), size, size, 1)).astype(np.float32)
    return x, y


def test_ds2_is_balanced_at_the_smallest_class_and_uses_real_images_only():
    x, y = _imbalanced()
    x2, y2 = balancing.undersample_to_smallest(x, y, 3, seed=1)
    assert np.bincount(y2).tolist() == [3, 3, 3]
    originals = {row.tobytes(): label for row, label in zip(x, y)}
    assert all(originals[row.tobytes()] == label for row, label in zip(x2, y2))
    x3, _ = balancing.undersample_to_smallest(x, y, 3, seed=2)
    assert not np.array_equal(x2, x3)  # the seed picks a different subset


def test_ds2_refuses_an_empty_class():
    x, y = _imbalanced((4, 0, 2))
    with pytest.raises(ValueError, match=r"class\(es\) \[1\] have no images"):
        balancing.undersample_to_smallest(x, y, 3)


def test_ds3_has_twice_the_largest_class_per_class_and_keeps_every_real_image():
    x, y = _imbalanced()
    synthetic = [np.full((30, 4, 4, 1), k / 10, np.float32) for k in range(3)]
    x3, y3, is_synthetic = balancing.balance_with_synthetic(x, y, synthetic)
    assert np.bincount(y3).tolist() == [24, 24, 24]
    assert np.array_equal(x3[: len(x)], x) and np.array_equal(y3[: len(y)], y)
    assert np.bincount(y3[is_synthetic]).tolist() == [12, 19, 21]
    assert sal.synthetic_pool_counts(y, ["a", "b", "c"]) == {"a": 12, "b": 19, "c": 21}


def test_ds3_says_how_many_synthetic_images_are_missing():
    x, y = _imbalanced()
    synthetic = [np.zeros((30, 4, 4, 1), np.float32), np.zeros((5, 4, 4, 1), np.float32),
                 np.zeros((30, 4, 4, 1), np.float32)]
    with pytest.raises(ValueError, match="class 1 needs 19 synthetic images"):
        balancing.balance_with_synthetic(x, y, synthetic)


def test_per_class_accuracy_is_recall_with_nan_for_absent_classes():
    y_true = np.array([0, 0, 0, 0, 1, 1])
    y_pred = np.array([0, 0, 0, 1, 1, 0])
    row = sal.per_class_accuracy(y_true, y_pred, 3)
    assert row[:2] == pytest.approx([75.0, 50.0])
    assert np.isnan(row[2])
    assert row[3] == pytest.approx(62.5)


def test_table_1_puts_the_paper_beside_mean_and_std_over_runs():
    runs = pd.DataFrame({
        "dataset": ["DS1"] * 4 + ["DS3"] * 4,
        "run": [0, 0, 1, 1] * 2,
        "class": ["Effusion", sal.TOTAL] * 4,
        "accuracy": [60.0, 50.0, 70.0, 60.0, 80.0, 85.0, 90.0, 95.0],
    })
    table = sal.table_1(runs).set_index(["dataset", "class"])
    assert table.loc[("DS1", "Effusion"), "paper"] == 73.64
    assert table.loc[("DS1", "Effusion"), "kit_mean"] == 65.0
    assert table.loc[("DS1", "Effusion"), "kit_std"] == pytest.approx(np.std([60, 70], ddof=1))
    assert table.loc[("DS3", sal.TOTAL), "paper_std"] == 0.41
    claims = sal.claims(table.reset_index()).set_index("claim")
    total = claims.loc["DS3 total accuracy > DS1 total accuracy"]
    assert total["held"] and (total["ours"], total["versus"], total["paper"]) == (90.0, 55.0, 92.1)
    largest = claims.loc["largest DS3 gain in Pneumothorax (the rarest class)"]
    assert not largest["held"] and largest["ours"] == 20.0 and largest["measure"].endswith("in Effusion")
    ci = pd.DataFrame({"dataset": ["DS1", "DS3"], "class": [sal.TOTAL] * 2,
                       "ci_low": [40.0, 70.0], "ci_high": [80.0, 99.0]})
    overlapping = sal.claims(sal.table_1(runs, ci)).set_index("claim")
    claim = overlapping.loc["DS3 total accuracy > DS1 total accuracy"]
    assert not claim["held"]
    assert claim[["ours", "ci_low", "ci_high", "versus", "versus_low", "versus_high"]].tolist() == [
        90.0, 70.0, 99.0, 55.0, 40.0, 80.0]

    # DS3 rests on generated images: an unhealthy GAN makes its claims inconclusive
    collapsed = sal.claims(table.reset_index(), generator="mode-collapsed (Effusion)").set_index("claim")
    assert collapsed.loc["DS3 total accuracy > DS1 total accuracy", "verdict"] == (
        "inconclusive: the generator was mode-collapsed (Effusion)")
    assert bool(collapsed.loc["DS3 total accuracy > DS1 total accuracy", "held"])  # measured, not judged
    kit = sal.claims(table.reset_index(), generator="healthy", recipe="kit", ds3_only=True)
    assert kit["claim"].str.endswith("(kit recipe's GANs)").all() and len(kit) == 3
    assert kit.set_index("claim").loc["DS3 total accuracy > DS1 total accuracy (kit recipe's GANs)",
                                      "verdict"] == "held"


def test_paper_class_names_map_kit_and_phantom_names():
    assert sal.paper_class_name("Normal") == "Normal"
    assert sal.paper_class_name("effusion") == "Pleural Effusion"
    assert sal.paper_class_name("Edema") == "Pulmonary Edema"
    with pytest.raises(KeyError, match="no counterpart"):
        sal.paper_class_name("Mass")


def test_dcnn_experiment_runs_every_dataset_and_reads_finished_runs_back(tmp_path):
    from cxr_keras.data.phantoms import phantom_arrays

    counts = {"normal": 16, "cardiomegaly": 6, "effusion": 4}
    x, y = phantom_arrays(counts, size=32, seed=0)
    x = x[:, ::2, ::2]  # 16 px keeps the DCNN tiny
    x_test, y_test = phantom_arrays({c: 3 for c in counts}, size=32, seed=1)
    x_test = x_test[:, ::2, ::2]
    names = ["Normal", "Cardiomegaly", "Effusion"]
    synthetic = [np.clip(x[y == k][:1] + 0.0 * np.ones((40, 1, 1, 1)), -1, 1) for k in range(3)]
    kwargs = {"val": (x_test, y_test), "test": (x_test, y_test), "class_names": names,
              "out_dir": tmp_path, "runs": 1, "epochs": 2, "batch_size": 16, "patience": None,
              "n_boot": 20}
    result = sal.run_dcnn_experiment(x, y, synthetic, **kwargs)
    assert set(result["runs"]["dataset"]) == {"DS1", "DS2", "DS3"}
    assert result["sizes"].set_index("class")["DS3"].tolist() == [32, 32, 32]
    assert result["sizes"].set_index("class")["DS2"].tolist() == [4, 4, 4]
    assert result["histories"].groupby(["dataset", "run"])["epoch"].max().eq(2).all()
    assert result["histories"]["val_balanced_accuracy"].between(0, 1).all()
    table = result["table"]
    assert table["runs"].eq(1).all()
    assert ((table["ci_low"] <= table["kit_mean"] + 1e-9) & (table["kit_mean"] <= table["ci_high"] + 1e-9)).all()
    again = sal.run_dcnn_experiment(x, y, synthetic, **kwargs)
    pd.testing.assert_frame_equal(again["runs"], result["runs"])


def test_caveats_measure_gan_training_realism_composition_and_test_size():
    rng = np.random.default_rng(0)
    counts = pd.DataFrame({"train": [64, 8], "val": [5, 1], "test": [40, np.nan]},
                          index=["Normal", "Pneumothorax"])
    real = {"Normal": rng.normal(0, 0.1, (64, 8, 8, 1)), "Pneumothorax": rng.normal(0, 0.1, (8, 8, 8, 1))}
    synthetic = {"Normal": real["Normal"][:64], "Pneumothorax": rng.uniform(-1, 1, (120, 8, 8, 1))}
    runs = pd.DataFrame({"dataset": ["DS1"] * 6 + ["DS3"] * 3, "run": [0, 0, 0, 1, 1, 1, 0, 0, 0],
                         "class": ["Normal", "Pneumothorax", sal.TOTAL] * 3,
                         "accuracy": [100.0, 0.0, 50.0, 90.0, 10.0, 50.0, 0.0, 100.0, 50.0]})
    caveats = sal.caveats(counts, gan_epochs=5, gan_batch_size=32, synthetic=synthetic,
                          real_by_class=real, runs=runs, test_patients={"Normal": 12})
    value = caveats.set_index(["quantity", "group"])["ours"]
    assert value["largest class's share of validation", ""] == pytest.approx(5 / 6)
    assert value["validation images, smallest class", ""] == 1
    assert value["share of runs naming one class for every test image", "DS1"] == 0.5
    assert value["share of runs naming one class for every test image", "DS3"] == 1.0
    assert value["optimizer steps per class GAN", "Normal"] == 10
    assert value["optimizer steps per class GAN", "Pneumothorax"] == 5
    steps = caveats.set_index("quantity").loc["optimizer steps per epoch"]
    assert steps["ours"].tolist() == [2, 1] and steps["paper"].tolist() == [31, 31]
    assert value["distance ratio", "Normal"] == 0.0  # copies of real images
    assert value["distance ratio", "Pneumothorax"] > 3  # noise, unlike any real image
    assert value["synthetic share of the class", "Normal"] == 0.5
    assert value["synthetic share of the class", "Pneumothorax"] == pytest.approx(120 / 128)
    assert value["test images per class", "Normal"] == 40 and value["test images per class", "Pneumothorax"] == 0
    assert value["test patients per class", "Normal"] == 12 and value["test patients per class", "Pneumothorax"] == 0
    assert caveats.set_index("quantity").loc["test images per class", "paper"].eq(200).all()


def test_bootstrap_ci_keeps_every_class_and_gives_no_interval_to_a_one_patient_class():
    y_true = np.array([0] * 20 + [1] * 4 + [2] * 3 + [3] * 2)
    patients = np.concatenate([np.arange(20) // 2, [10, 11, 12, 13], [14, 14, 14], [15, 0]])
    names = ["Normal", "Cardiomegaly", "Pneumothorax", "Effusion"]
    always_normal = np.zeros((len(y_true), 2), dtype=int)
    ci = sal.bootstrap_accuracy_ci(y_true, always_normal, names, n_boot=300, groups=patients)
    ci = ci.set_index("class")
    # resamples never lose a class, so the Total of a one-class classifier stays 25%
    assert ci.loc[sal.TOTAL].tolist() == [25.0, 25.0]
    assert ci.loc["Normal"].tolist() == [100.0, 100.0] and ci.loc["Effusion"].tolist() == [0.0, 0.0]
    assert ci.loc["Pneumothorax"].isna().all()  # all three images from patient 14
    half_right = always_normal.copy()
    half_right[[20, 21], :] = 1  # the Cardiomegaly images of patients 10 and 11
    ci = sal.bootstrap_accuracy_ci(y_true, half_right, names, n_boot=300, groups=patients)
    low, high = ci.set_index("class").loc["Cardiomegaly"]
    assert low < 50.0 < high
    assert sal.units_per_class(y_true, 4, patients).tolist() == [10, 4, 1, 2]
