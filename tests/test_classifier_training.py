import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import random

import keras
import numpy as np
import pytest

from cxr_keras.classifier_training import (
    BALANCED_ACCURACY,
    ClassifierBatches,
    SigmoidDecay,
    StopOnDivergingLoss,
    TrainingDivergedError,
    ValidationBalancedAccuracy,
    evaluation,
    recalibrate_batchnorm,
    train_classifier,
    train_or_load_classifier,
)
from cxr_keras.fingerprint import StaleArtefactError
from cxr_keras.seeding import seeded_build
from tests.scripts.tiny_classifier import CLASSES, SIZE, separable, tiny_cnn


def test_classifier_learns_a_separable_task_above_chance():
    train, test = separable(96, seed=0), separable(64, seed=1)
    model, history = train_classifier(tiny_cnn, train, val=test, epochs=8, batch_size=16,
                                      seed=0, learning_rate=0.02)
    assert list(history["epoch"]) == list(range(1, 9))
    assert history["loss"].iloc[-1] < history["loss"].iloc[0]
    result = evaluation(test[1], model.predict(test[0], verbose=0), CLASSES, n_boot=50)
    report = result["report"].set_index(["class", "metric"])
    assert report.loc[("all", "accuracy"), "value"] > 0.9
    assert report.loc[("all", "accuracy"), "ci_low"] <= report.loc[("all", "accuracy"), "value"]
    assert result["probabilities"].shape == (64, 2)
    assert result["confusion"].to_numpy().sum() == 64


def test_every_epoch_runs_all_its_steps_when_the_batch_does_not_divide_the_data():
    # Regression: data repeated `epochs` times ran out before the last epoch ended.
    train = separable(10, seed=0)
    steps = []
    counter = keras.callbacks.LambdaCallback(on_train_batch_end=lambda batch, logs: steps.append(batch))
    _, history = train_classifier(tiny_cnn, train, epochs=3, batch_size=4, seed=0,
                                  augmentation="flip", callbacks=[counter])
    assert list(history["epoch"]) == [1, 2, 3]
    assert len(steps) == 3 * 3


def test_progress_bar_only_when_asked_and_keras_is_quiet(capsys):
    train = separable(16, seed=0)
    train_classifier(tiny_cnn, train, val=train, epochs=2, batch_size=8, progress="fold-0")
    bar = capsys.readouterr().err
    assert "fold-0" in bar and "2/2 [" in bar and "val_accuracy=" in bar
    train_classifier(tiny_cnn, train, epochs=1, batch_size=8)
    assert "epoch" not in capsys.readouterr().err


def test_training_is_reproducible_with_a_seed():
    train = separable(32, seed=0)
    first, _ = train_classifier(tiny_cnn, train, epochs=1, batch_size=8, seed=5, augmentation="flip")
    again, _ = train_classifier(tiny_cnn, train, epochs=1, batch_size=8, seed=5, augmentation="flip")
    x = train[0][:4]
    np.testing.assert_allclose(first.predict(x, verbose=0), again.predict(x, verbose=0), rtol=1e-5)


def test_bad_training_input_is_rejected():
    with pytest.raises(ValueError, match="train must be \\(N, H, W, C\\) images with N labels"):
        train_classifier(tiny_cnn, (np.zeros((4, 16, 16)), np.zeros(4)))
    with pytest.raises(ValueError, match="unknown augmentation 'blur'"):
        train_classifier(tiny_cnn, separable(8, 0), augmentation="blur")


def test_balanced_validation_accuracy_does_not_reward_naming_the_largest_class():
    y_val = np.array([1] * 18 + [0] * 2)
    x_val = np.zeros((20, SIZE, SIZE, 1), np.float32)
    always_one = keras.Sequential([keras.Input((SIZE, SIZE, 1)), keras.layers.Flatten(),
                                   keras.layers.Dense(2, activation="softmax")])
    always_one.layers[-1].set_weights([np.zeros((SIZE * SIZE, 2)), np.array([0.0, 1.0])])
    callback = ValidationBalancedAccuracy(x_val, y_val)
    callback.set_model(always_one)
    logs = {"val_accuracy": 0.9}
    callback.on_epoch_end(0, logs)
    assert logs[BALANCED_ACCURACY] == pytest.approx(0.5)
    x_val[-2:] = 1.0  # now the two class-0 images get the larger class-0 logit
    always_one.layers[-1].set_weights([np.tile([[1.0, 0.0]], (SIZE * SIZE, 1)), np.array([0.0, 1.0])])
    callback = ValidationBalancedAccuracy(x_val, y_val)
    callback.set_model(always_one)
    callback.on_epoch_end(1, logs)
    assert logs[BALANCED_ACCURACY] == pytest.approx(1.0)
    with pytest.raises(ValueError):
        ValidationBalancedAccuracy(x_val, y_val[:5])


def test_training_leaves_the_global_random_state_alone():
    state = random.getstate()
    train_classifier(tiny_cnn, separable(16, seed=0), epochs=1, batch_size=8, seed=3)
    assert random.getstate() == state


def test_a_non_finite_loss_stops_training_with_epoch_batch_and_value():
    def broken():  # every output is NaN, so is the first batch's loss
        return keras.Sequential([keras.Input((SIZE, SIZE, 1)), keras.layers.Flatten(),
                                 keras.layers.Rescaling(float("nan")),
                                 keras.layers.Dense(2, activation="softmax")])

    with pytest.raises(TrainingDivergedError, match=r"loss nan at epoch 1, batch 1 is not finite.*Lower the learning rate"):
        train_classifier(broken, separable(16, seed=0), epochs=2, batch_size=8, seed=0)


def test_an_exploding_loss_stops_training():
    callback = StopOnDivergingLoss(explode_factor=10)
    callback.set_model(tiny_cnn())
    callback.on_epoch_begin(2)
    callback.on_train_batch_end(0, {"loss": 0.7})
    callback.on_train_batch_end(1, {"loss": 6.0})
    with pytest.raises(TrainingDivergedError, match=r"loss 8.0 at epoch 3, batch 3 exploded \(over 10 x the first batch's 0.7\)"):
        callback.on_train_batch_end(2, {"loss": 8.0})
    with pytest.raises(ValueError, match="explode_factor must be > 1"):
        StopOnDivergingLoss(explode_factor=1)


def test_a_finished_run_is_read_back_and_a_stale_one_refused(tmp_path):
    train, test = separable(24, seed=0), separable(8, seed=1)
    first, history = train_or_load_classifier(tmp_path / "run", tiny_cnn, train, None, test[0],
                                              epochs=1, batch_size=8, seed=0)
    assert first.shape == (8, 2) and list(history["epoch"]) == [1]

    def fail():
        raise AssertionError("a finished run was retrained")

    again, _ = train_or_load_classifier(tmp_path / "run", fail, train, None, test[0],
                                        epochs=1, batch_size=8, seed=0)
    np.testing.assert_array_equal(first, again)
    with pytest.raises(StaleArtefactError, match=r"classifier run in .*run was made from other inputs \(epochs: 1 -> 2\)"):
        train_or_load_classifier(tmp_path / "run", fail, train, None, test[0], epochs=2, batch_size=8, seed=0)
    other_images = (train[0] + 0.1, train[1])
    with pytest.raises(StaleArtefactError, match="train_images"):
        train_or_load_classifier(tmp_path / "run", fail, other_images, None, test[0], epochs=1, batch_size=8, seed=0)


def test_sigmoid_decay_starts_at_the_initial_rate_and_decays_monotonically():
    schedule = SigmoidDecay(1e-3, total_steps=100)
    rates = np.array([float(schedule(step)) for step in (0, 25, 50, 75, 100)])
    assert rates[0] == pytest.approx(1e-3, rel=1e-5)
    assert np.all(np.diff(rates) < 0)
    assert rates[-1] < 0.01 * rates[0]


def test_classifier_batches_visit_every_image_once_an_epoch_in_a_seeded_order():
    x = np.arange(10, dtype=np.float32).reshape(10, 1, 1, 1) / 10
    y = np.array([0, 1] * 5)
    stream = ClassifierBatches(x, y, batch_size=4, seed=3, class_weight={0: 1.0, 1: 3.0})
    assert len(stream) == 3

    def epoch():
        stream.on_epoch_begin()
        return [stream[i] for i in range(len(stream))]

    first, second = epoch(), epoch()
    order = [np.concatenate([b[0].ravel() for b in e]) for e in (first, second)]
    assert sorted(order[0]) == sorted(order[1]) == sorted(x.ravel())
    assert not np.array_equal(order[0], order[1])
    for images, labels, weights in first:
        np.testing.assert_array_equal(labels, np.round(images.ravel() * 10).astype(int) % 2)
        np.testing.assert_array_equal(weights, np.where(labels == 1, 3.0, 1.0))
    again = ClassifierBatches(x, y, batch_size=4, seed=3)
    np.testing.assert_array_equal(np.concatenate([again[i][0] for i in range(3)]).ravel(), order[0])


def test_classifier_batches_augment_with_fresh_draws_every_epoch():
    stream = ClassifierBatches(np.zeros((6, 4, 4, 1), np.float32), np.zeros(6, int), batch_size=6,
                               seed=0, augmentation="brightness")
    stream.on_epoch_begin()
    first = stream[0][0][:, 0, 0, 0]
    stream.on_epoch_begin()
    second = stream[0][0][:, 0, 0, 0]
    assert len(np.unique(first)) == 6 and not np.allclose(np.sort(first), np.sort(second))
    with pytest.raises(ValueError, match="unknown augmentation"):
        ClassifierBatches(np.zeros((2, 4, 4, 1)), np.zeros(2, int), 2, 0, augmentation="rotate")


def _lagging_batchnorm_cnn():
    """A CNN whose BatchNorm keeps Keras' default momentum (0.99): after a few dozen steps its
    moving statistics still sit near their initial 0 / 1 while the features it normalises
    have moved far from there (inputs offset to [0.5, 1])."""
    return keras.Sequential([
        keras.Input((SIZE, SIZE, 1)),
        keras.layers.Conv2D(8, 3, padding="same"),
        keras.layers.BatchNormalization(),
        keras.layers.ReLU(),
        keras.layers.GlobalAveragePooling2D(),
        keras.layers.Dense(8),
        keras.layers.BatchNormalization(),
        keras.layers.ReLU(),
        keras.layers.Dense(len(CLASSES), activation="softmax"),
    ])


def test_inference_mode_agrees_with_what_the_classifier_learned():
    # The BatchNorm defect behind classifiers that call every test image one class: the fit
    # learns the task, but inference-mode outputs use moving statistics that lag the weights.
    x, y = separable(96, seed=0)
    x = 0.75 + 0.25 * x  # features far from BatchNorm's initial moving mean 0 / variance 1
    model, _ = train_classifier(_lagging_batchnorm_cnn, (x, y), epochs=6, batch_size=16, seed=0,
                                learning_rate=0.02)
    assert (model.predict(x, verbose=0).argmax(1) == y).mean() > 0.9
    for layer in [layer for layer in model.layers if isinstance(layer, keras.layers.BatchNormalization)]:
        inputs = keras.Model(model.inputs, layer.input).predict(x, verbose=0)
        axes = tuple(range(inputs.ndim - 1))
        np.testing.assert_allclose(layer.moving_mean.numpy(), inputs.mean(axes), rtol=1e-3, atol=1e-4)
        np.testing.assert_allclose(layer.moving_variance.numpy(), inputs.var(axes), rtol=1e-3, atol=1e-4)


def test_without_recalibration_the_lagging_statistics_break_inference():
    # The same fit with the moving statistics left as the fit made them: inference mode is
    # no better than calling every image one class, on the very images the fit learned (the case recalibration is there for).
    x, y = separable(96, seed=0)
    x = 0.75 + 0.25 * x
    with seeded_build(0):
        model = _lagging_batchnorm_cnn()
    model.compile(keras.optimizers.Adam(0.02), "sparse_categorical_crossentropy", metrics=["accuracy"])
    history = model.fit(x, y, epochs=6, batch_size=16, verbose=0, shuffle=False)
    assert history.history["accuracy"][-1] > 0.9
    before = (model.predict(x, verbose=0).argmax(1) == y).mean()
    recalibrate_batchnorm(model, x)
    after = (model.predict(x, verbose=0).argmax(1) == y).mean()
    majority_rate = max(y.mean(), 1 - y.mean())  # what calling every image one class scores
    assert before <= majority_rate + 0.02 and after > 0.9


def test_cosine_schedule_decays_the_learning_rate_to_zero_and_rejects_unknown_names():
    x, y = separable(32, seed=0)
    model, _ = train_classifier(tiny_cnn, (x, y), epochs=2, batch_size=16, seed=0)
    assert float(model.optimizer.learning_rate) < 1e-6
    model, _ = train_classifier(tiny_cnn, (x, y), epochs=1, batch_size=16, seed=0,
                                learning_rate_schedule="constant", learning_rate=0.01)
    assert float(model.optimizer.learning_rate) == pytest.approx(0.01)
    with pytest.raises(ValueError, match="learning_rate_schedule must be one of"):
        train_classifier(tiny_cnn, (x, y), epochs=1, learning_rate_schedule="step")
