import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from cxr_keras.fingerprint import StaleArtefactError
from cxr_keras.reproductions import kora_venu as kv
from cxr_keras.reproductions.kora_venu import (
    PAPER_TABLE_1,
    TABLE_METRICS,
    compare_augmentations,
    paper_vs_ours_table,
)
from tests.scripts.tiny_classifier import CLASSES, SIZE, chance_model, separable


def test_comparison_table_has_one_row_per_method_beside_the_paper(tmp_path):
    train, test = separable(40, seed=0), separable(24, seed=1)
    generated = np.full((40, SIZE, SIZE, 1), -0.5, np.float32)
    methods = ["flip", "gan", "none"]
    kwargs = {"model_fn": chance_model, "train": train, "test": test, "class_names": CLASSES,
                  "generated": generated, "target_class": 0, "out_dir": tmp_path, "n_boot": 20,
                  "epochs": 1, "batch_size": 16}
    table = compare_augmentations(methods, **kwargs)
    assert list(table["method"]) == methods
    counts = np.bincount(train[1])
    assert list(table["n_train"]) == [40, 40 + counts[1] - counts[0], 40]
    for metric in TABLE_METRICS:
        assert {metric, f"{metric}_ci_low", f"{metric}_ci_high", f"paper_{metric}"} <= set(table)
    assert table.loc[0, "paper_accuracy"] == pytest.approx(PAPER_TABLE_1.loc["flip", "accuracy"] / 100)
    assert table.loc[1, "paper_tpr"] == pytest.approx(0.98)
    assert np.isnan(table.loc[2, "paper_accuracy"])
    # Zeroed weights predict 0.5 for both classes -> class 1 every time: accuracy = share of class 1.
    assert table.loc[0, "accuracy"] == pytest.approx(test[1].mean())
    for method in methods:
        assert (tmp_path / method / "predictions.csv").is_file()
        assert (tmp_path / method / "history.csv").is_file()

    formatted = paper_vs_ours_table(table)
    assert list(formatted.index) == methods
    assert list(formatted.columns) == list(TABLE_METRICS)
    assert formatted.loc["flip", "accuracy"].startswith("94.9 | ")
    assert formatted.loc["none", "accuracy"].startswith("- | ")


def test_comparison_resumes_from_saved_predictions(tmp_path, monkeypatch):
    train, test = separable(24, seed=0), separable(16, seed=1)
    args = {"model_fn": chance_model, "train": train, "test": test, "class_names": CLASSES,
                "out_dir": tmp_path, "n_boot": 10, "epochs": 1, "batch_size": 8}
    first = compare_augmentations(["clip"], **args)

    def fail(*args, **kwargs):
        raise AssertionError("a finished method was retrained")

    monkeypatch.setattr(kv, "train_classifier", fail)
    again = compare_augmentations(["clip"], **args)
    np.testing.assert_allclose(first["accuracy"], again["accuracy"])
    with pytest.raises(StaleArtefactError, match=r"classifier \(clip\) in .*clip was made from other inputs \(epochs: 1 -> 3\)"):
        compare_augmentations(["clip"], **{**args, "epochs": 3})


def test_comparison_argument_errors():
    data = separable(8, 0)
    with pytest.raises(ValueError, match="method 'gan' needs generated images"):
        compare_augmentations(["gan"], chance_model, data, data, CLASSES)
    with pytest.raises(ValueError, match="unknown augmentation 'mixup'"):
        compare_augmentations(["mixup"], chance_model, data, data, CLASSES)
    with pytest.raises(ValueError, match="methods is empty"):
        compare_augmentations([], chance_model, data, data, CLASSES)




def test_the_gan_claim_needs_separate_intervals():
    comparison = pd.DataFrame({"method": ["flip", "crop", "gan"], "accuracy": [0.80, 0.85, 0.90],
                               "accuracy_ci_low": [0.7, 0.80, 0.86], "accuracy_ci_high": [0.9, 0.84, 0.95]})
    claims = kv.claims(comparison).set_index("claim")
    gan = claims.loc["GAN balancing beats the best classic augmentation"]
    assert gan["held"] and gan["measure"].endswith("(crop)")
    assert (gan["ours"], gan["versus"], gan["versus_high"], gan["paper"]) == (0.90, 0.85, 0.84, 0.955)
    overlapping = comparison.assign(accuracy_ci_low=[0.7, 0.80, 0.83])
    assert not kv.claims(overlapping)["held"].iloc[0]


def test_caveats_measure_gan_steps_samples_balance_and_test_set():
    frame = pd.DataFrame({"split": ["train"] * 4 + ["test"] * 3,
                          "patient_id": ["p1", "p2", "p3", "p4", "p1", "p5", "p6"]})
    rng = np.random.default_rng(0)
    real = rng.normal(0, 0.1, (10, 8, 8, 1))
    collapsed = real[:1] + rng.normal(0, 0.001, (10, 8, 8, 1))
    comparison = pd.DataFrame({"method": ["flip", "gan"], "accuracy_ci_low": [0.7, 0.5],
                               "accuracy_ci_high": [0.8, 0.9]})
    caveats = kv.caveats(SimpleNamespace(frame=frame), 3, 4, real, collapsed, 30, comparison)
    value = caveats.set_index("quantity")
    assert value.loc["optimizer steps", ["ours", "paper"]].tolist() == [9, 500 * 21]
    assert value.loc["diversity ratio", "ours"] < 0.05  # mode collapse
    assert value.loc["generated share of its Normal class", "ours"] == pytest.approx(0.75)
    assert value.loc["test images", ["ours", "paper"]].tolist() == [3, 1172]
    assert value.loc["narrowest 95% interval of accuracy (points)", "ours"] == pytest.approx(10)
    assert value.loc["widest 95% interval of accuracy (points)", "ours"] == pytest.approx(40)
    assert value.loc["patients in train and test", "ours"] == 1


def test_build_gan_is_seeded_and_compiled():
    first, again = kv.build_gan(16, channels=1, seed=4), kv.build_gan(16, channels=1, seed=4)
    other = kv.build_gan(16, channels=1, seed=5)
    weights = [g.generator.get_weights()[0] for g in (first, again, other)]
    np.testing.assert_array_equal(weights[0], weights[1])
    assert not np.allclose(weights[0], weights[2])
    assert first.generator.output_shape == (None, 16, 16, 1) and first.latent_dim == 100
