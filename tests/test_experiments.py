import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras
import numpy as np
import pandas as pd
import pytest

from cxr_keras import experiments
from cxr_keras.experiments import (
    PAPER_TABLES,
    TABLE_METRICS,
    compare_augmentations,
    evaluate_classifier,
    paper_vs_ours_table,
    train_classifier,
)

CLASSES = ["NORMAL", "PNEUMONIA"]
SIZE = 16


def _separable(n, seed, minority=0.3):
    """Class 1 has a bright blob in the centre, class 0 does not; class 0 is the minority."""
    rng = np.random.default_rng(seed)
    y = (rng.random(n) > minority).astype(int)
    x = rng.normal(-0.5, 0.1, size=(n, SIZE, SIZE, 1)).astype(np.float32)
    x[y == 1, 5:11, 5:11] += 1.0
    return np.clip(x, -1, 1), y


def _tiny_cnn():
    return keras.Sequential([
        keras.Input((SIZE, SIZE, 1)),
        keras.layers.Conv2D(4, 3, strides=2, activation="relu"),
        keras.layers.Flatten(),
        keras.layers.Dense(2, activation="softmax"),
    ])


def _chance_model():
    inputs = keras.Input((SIZE, SIZE, 1))
    outputs = keras.layers.Dense(2, activation="softmax")(keras.layers.Flatten()(inputs) * 0.0)
    return keras.Model(inputs, outputs)


def test_classifier_learns_a_separable_task_above_chance():
    train, test = _separable(96, seed=0), _separable(64, seed=1)
    model, history = train_classifier(_tiny_cnn, train, val=test, epochs=8, batch_size=16,
                                      seed=0, learning_rate=0.02)
    assert list(history["epoch"]) == list(range(1, 9))
    assert history["loss"].iloc[-1] < history["loss"].iloc[0]
    evaluation = evaluate_classifier(model, *test, CLASSES, n_boot=50)
    report = evaluation["report"].set_index(["class", "metric"])
    assert report.loc[("all", "accuracy"), "value"] > 0.9
    assert report.loc[("all", "accuracy"), "ci_low"] <= report.loc[("all", "accuracy"), "value"]
    assert evaluation["probabilities"].shape == (64, 2)
    assert evaluation["confusion"].to_numpy().sum() == 64


def test_every_epoch_runs_all_its_steps_when_the_batch_does_not_divide_the_data():
    # Regression: data repeated `epochs` times ran out before the last epoch ended.
    train = _separable(10, seed=0)
    steps = []
    counter = keras.callbacks.LambdaCallback(on_train_batch_end=lambda batch, logs: steps.append(batch))
    _, history = train_classifier(_tiny_cnn, train, epochs=3, batch_size=4, seed=0,
                                  augmentation="flip", callbacks=[counter])
    assert list(history["epoch"]) == [1, 2, 3]
    assert len(steps) == 3 * 3


def test_progress_bar_only_when_asked_and_keras_is_quiet(capsys):
    train = _separable(16, seed=0)
    train_classifier(_tiny_cnn, train, val=train, epochs=2, batch_size=8, progress="fold-0")
    bar = capsys.readouterr().err
    assert "fold-0" in bar and "2/2 [" in bar and "val_accuracy=" in bar
    train_classifier(_tiny_cnn, train, epochs=1, batch_size=8)
    assert "epoch" not in capsys.readouterr().err


def test_training_is_reproducible_with_a_seed():
    train = _separable(32, seed=0)
    first, _ = train_classifier(_tiny_cnn, train, epochs=1, batch_size=8, seed=5, augmentation="flip")
    again, _ = train_classifier(_tiny_cnn, train, epochs=1, batch_size=8, seed=5, augmentation="flip")
    x = train[0][:4]
    np.testing.assert_allclose(first.predict(x, verbose=0), again.predict(x, verbose=0), rtol=1e-5)


def test_bad_training_input_is_rejected():
    with pytest.raises(ValueError, match="train must be \\(N, H, W, C\\) images with N labels"):
        train_classifier(_tiny_cnn, (np.zeros((4, 16, 16)), np.zeros(4)))
    with pytest.raises(ValueError, match="unknown augmentation 'blur'"):
        train_classifier(_tiny_cnn, _separable(8, 0), augmentation="blur")


def test_comparison_table_has_one_row_per_method_beside_the_paper(tmp_path):
    train, test = _separable(40, seed=0), _separable(24, seed=1)
    generated = np.full((40, SIZE, SIZE, 1), -0.5, np.float32)
    methods = ["flip", "gan", "none"]
    kwargs = {"model_fn": _chance_model, "train": train, "test": test, "class_names": CLASSES,
                  "generated": generated, "target_class": 0, "out_dir": tmp_path, "n_boot": 20,
                  "epochs": 1, "batch_size": 16}
    table = compare_augmentations(methods, **kwargs)
    assert list(table["method"]) == methods
    counts = np.bincount(train[1])
    assert list(table["n_train"]) == [40, 40 + counts[1] - counts[0], 40]
    for metric in TABLE_METRICS:
        assert {metric, f"{metric}_ci_low", f"{metric}_ci_high", f"paper_{metric}"} <= set(table)
    assert table.loc[0, "paper_accuracy"] == pytest.approx(PAPER_TABLES["kora_venu_2021"].loc["flip", "accuracy"] / 100)
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
    train, test = _separable(24, seed=0), _separable(16, seed=1)
    args = {"model_fn": _chance_model, "train": train, "test": test, "class_names": CLASSES,
                "out_dir": tmp_path, "n_boot": 10, "epochs": 1, "batch_size": 8}
    first = compare_augmentations(["clip"], **args)

    def fail(*args, **kwargs):
        raise AssertionError("a finished method was retrained")

    monkeypatch.setattr(experiments, "train_classifier", fail)
    again = compare_augmentations(["clip"], **args)
    np.testing.assert_allclose(first["accuracy"], again["accuracy"])


def test_comparison_argument_errors():
    data = _separable(8, 0)
    with pytest.raises(ValueError, match="method 'gan' needs generated images"):
        compare_augmentations(["gan"], _chance_model, data, data, CLASSES)
    with pytest.raises(ValueError, match="unknown augmentation 'mixup'"):
        compare_augmentations(["mixup"], _chance_model, data, data, CLASSES)
    with pytest.raises(ValueError, match="unknown paper table 'x'"):
        experiments.paper_row_fractions("x", ["flip"])


def test_cap_per_class_samples_each_split_and_class():
    from cxr_keras.data.phantom_dataset import PhantomDataset

    dataset = PhantomDataset({"normal": 20, "consolidation": 40}, size=32, seed=0)
    capped = experiments.cap_per_class(dataset, 5, seed=1)
    sizes = capped.frame.groupby(["split", "label"]).size()
    assert sizes.max() == 5 and len(sizes) == 6
    assert set(capped.frame["path"]) <= set(dataset.frame["path"])
    assert len(dataset.frame) == 60
    again = experiments.cap_per_class(dataset, 5, seed=1)
    assert list(again.frame["path"]) == list(capped.frame["path"])
    assert experiments.cap_per_class(dataset, None) is dataset
    with pytest.raises(ValueError, match="max_per_class must be a positive integer"):
        experiments.cap_per_class(dataset, 0)


def test_stratified_subsample_keeps_the_class_ratio():
    from cxr_keras.data.phantom_dataset import PhantomDataset

    dataset = PhantomDataset({"normal": 30, "consolidation": 90}, size=32, seed=0,
                             splits={"train": 0.8, "test": 0.2})
    subsample = experiments.stratified_subsample(dataset, 40, seed=0)
    train = subsample.class_counts("train")
    assert train.sum() == 40 and train["consolidation"] == 3 * train["normal"]
    assert subsample.class_counts("test").to_dict() == dataset.class_counts("test").to_dict()
    assert experiments.stratified_subsample(dataset, None) is dataset
    with pytest.raises(ValueError, match="max_per_split must be a positive integer"):
        experiments.stratified_subsample(dataset, -3)


def test_kermany_caveats_measure_gan_steps_samples_balance_and_test_set():
    from types import SimpleNamespace

    frame = pd.DataFrame({"split": ["train"] * 4 + ["test"] * 3,
                          "patient_id": ["p1", "p2", "p3", "p4", "p1", "p5", "p6"]})
    rng = np.random.default_rng(0)
    real = rng.normal(0, 0.1, (10, 8, 8, 1))
    collapsed = real[:1] + rng.normal(0, 0.001, (10, 8, 8, 1))
    comparison = pd.DataFrame({"method": ["flip", "gan"], "accuracy_ci_low": [0.7, 0.5],
                               "accuracy_ci_high": [0.8, 0.9]})
    notes = experiments.kermany_caveats(SimpleNamespace(frame=frame), 3, 4, real, collapsed, 30,
                                        comparison).set_index("factor")["note"]
    assert notes["GAN training"].startswith("9 optimizer steps on 10 images (the paper: 10,500 steps")
    assert "mode collapse): Normal 0.0" in notes["generated samples"]
    assert "30 generated Normal images join 10 real ones (75%" in notes["GAN-balanced set"]
    assert notes["test set"].startswith("3 test images; 95% CI widths of accuracy from 10 to 40 points; patients in both the training and the test split: 1 ")


def test_balanced_validation_accuracy_does_not_reward_naming_the_largest_class():
    y_val = np.array([1] * 18 + [0] * 2)
    x_val = np.zeros((20, SIZE, SIZE, 1), np.float32)
    always_one = keras.Sequential([keras.Input((SIZE, SIZE, 1)), keras.layers.Flatten(),
                                   keras.layers.Dense(2, activation="softmax")])
    always_one.layers[-1].set_weights([np.zeros((SIZE * SIZE, 2)), np.array([0.0, 1.0])])
    callback = experiments.ValidationBalancedAccuracy(x_val, y_val)
    callback.set_model(always_one)
    logs = {"val_accuracy": 0.9}
    callback.on_epoch_end(0, logs)
    assert logs[experiments.BALANCED_ACCURACY] == pytest.approx(0.5)
    x_val[-2:] = 1.0  # now the two class-0 images get the larger class-0 logit
    always_one.layers[-1].set_weights([np.tile([[1.0, 0.0]], (SIZE * SIZE, 1)), np.array([0.0, 1.0])])
    callback = experiments.ValidationBalancedAccuracy(x_val, y_val)
    callback.set_model(always_one)
    callback.on_epoch_end(1, logs)
    assert logs[experiments.BALANCED_ACCURACY] == pytest.approx(1.0)
    with pytest.raises(ValueError):
        experiments.ValidationBalancedAccuracy(x_val, y_val[:5])
