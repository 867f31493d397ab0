import numpy as np
import pytest
from sklearn.neighbors import KNeighborsClassifier

from cxr_keras.metrics.utility import matched_subsets, synthetic_utility

CLASSES = ["normal", "pneumonia"]


def blobs(n_per_class, seed, means=(-1.0, 1.0)):
    """Two Gaussian classes as tiny 2 x 2 "images"; class c centred at means[c]."""
    rng = np.random.default_rng(seed)
    labels = np.repeat(np.arange(2), n_per_class)
    images = rng.normal(size=(len(labels), 2, 2, 1)) + np.asarray(means)[labels, None, None, None]
    return images, labels


def fit_predict(x_train, y_train, x_test):
    model = KNeighborsClassifier(n_neighbors=1).fit(x_train.reshape(len(x_train), -1), y_train)
    return model.predict_proba(x_test.reshape(len(x_test), -1))


def interval(table, trained_on, metric="accuracy"):
    return table.set_index(["trained_on", "metric"]).loc[(trained_on, metric)]


def test_synthetic_from_the_real_distribution_matches_real_training():
    table = synthetic_utility(
        fit_predict, blobs(60, 1), blobs(80, 2), blobs(100, 3), CLASSES, n_boot=100
    )
    assert set(table["metric"]) == {"accuracy", "roc_auc"}
    synthetic, real = interval(table, "synthetic"), interval(table, "real")
    assert synthetic["estimate"] > 0.85 and real["estimate"] > 0.85
    assert synthetic["ci_low"] <= real["ci_high"] and real["ci_low"] <= synthetic["ci_high"]
    assert (table["n_train"] == 120).all() and (table["n_test"] == 200).all()
    assert (table["ci_low"] <= table["estimate"]).all() and (table["estimate"] <= table["ci_high"]).all()


def test_synthetic_images_of_the_wrong_class_give_chance_accuracy():
    # A generator that ignores the class: each label gets images of a random real class, so
    # the nearest synthetic image of a test image has a coin-flip label.
    images, _ = blobs(300, 4)
    wrong = (images, np.random.default_rng(5).integers(0, 2, size=len(images)))
    table = synthetic_utility(fit_predict, wrong, blobs(80, 2), blobs(100, 3), CLASSES, n_boot=100)
    synthetic, real = interval(table, "synthetic"), interval(table, "real")
    assert 0.4 < synthetic["estimate"] < 0.6
    assert synthetic["ci_low"] < 0.5 < synthetic["ci_high"] < real["ci_low"]
    assert interval(table, "synthetic", "roc_auc")["ci_low"] < 0.5


def test_multiclass_reports_accuracy_only():
    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(3), 30)
    images = rng.normal(size=(90, 1, 1, 2)) + np.array([[0, 0], [4, 0], [0, 4]])[labels][:, None, None]
    table = synthetic_utility(
        fit_predict, (images, labels), (images, labels), (images, labels), ["a", "b", "c"], n_boot=50
    )
    assert list(table["metric"]) == ["accuracy", "accuracy"]


def test_matched_subsets_take_the_smaller_count_per_class():
    synthetic_labels = np.repeat([0, 1], [10, 30])
    real_labels = np.repeat([0, 1], [20, 20])
    synthetic_index, real_index = matched_subsets(synthetic_labels, real_labels, 2)
    assert np.bincount(synthetic_labels[synthetic_index]).tolist() == [10, 20]
    assert np.bincount(real_labels[real_index]).tolist() == [10, 20]
    assert len(np.unique(synthetic_index)) == 30


def test_bad_inputs_are_refused():
    data = blobs(10, 0)
    with pytest.raises(ValueError, match="synthetic has 20 images but 19 labels"):
        synthetic_utility(fit_predict, (data[0], data[1][:-1]), data, data, CLASSES)
    with pytest.raises(ValueError, match="share fewer than 2 classes"):
        synthetic_utility(fit_predict, (data[0], np.zeros(20, int)), data, data, CLASSES)
    with pytest.raises(TypeError, match="fit_predict must be a callable"):
        synthetic_utility(None, data, data, data, CLASSES)
