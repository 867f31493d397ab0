import numpy as np
import pytest

from cxr_keras.metrics.classification import (
    bootstrap_ci,
    classification_report_frame,
    confusion_matrix_frame,
    report_with_ci,
)

BINARY_TRUE = np.array([0, 0, 0, 0, 1, 1, 1, 1, 1, 1])
BINARY_PROB = np.array([0.1, 0.2, 0.6, 0.3, 0.8, 0.7, 0.4, 0.9, 0.55, 0.65])
MULTI_TRUE = np.array([0, 0, 1, 1, 2, 2])
MULTI_PRED = np.array([0, 1, 1, 1, 2, 0])


def table(report):
    return report.pivot(index="class", columns="metric", values="value")


def accuracy(y_true, y_prob):
    return float(np.mean((y_prob >= 0.5) == y_true))


def test_binary_report_matches_hand_computed_numbers():
    t = table(classification_report_frame(BINARY_TRUE, BINARY_PROB, ["normal", "pneumonia"]))
    # At threshold 0.5: TP 5, FN 1, FP 1, TN 3 for pneumonia.
    assert t.loc["all", "accuracy"] == pytest.approx(0.8)
    assert t.loc["pneumonia", ["tp", "fn", "fp", "tn"]].tolist() == [5, 1, 1, 3]
    assert t.loc["pneumonia", "precision"] == pytest.approx(5 / 6)
    assert t.loc["pneumonia", "recall"] == pytest.approx(5 / 6)
    assert t.loc["pneumonia", "specificity"] == pytest.approx(3 / 4)
    assert t.loc["normal", "precision"] == pytest.approx(3 / 4)
    assert t.loc["normal", "specificity"] == pytest.approx(5 / 6)
    assert t.loc["all", "fpr"] == pytest.approx(1 / 4) and t.loc["all", "tpr"] == pytest.approx(
        5 / 6
    )
    assert t.loc["all", "roc_auc"] == pytest.approx(22 / 24)  # 22 of 24 pos/neg pairs ordered
    assert t.loc["all", "f1_macro"] == pytest.approx((5 / 6 + 3 / 4) / 2)


def test_threshold_moves_the_decisions():
    t = table(classification_report_frame(BINARY_TRUE, BINARY_PROB, ["n", "p"], threshold=0.35))
    assert t.loc["p", ["tp", "fp"]].tolist() == [6, 1]


def test_multiclass_report_separates_the_two_per_class_accuracies():
    probs = np.eye(3)[MULTI_PRED] * 0.8 + 0.2 / 3
    t = table(classification_report_frame(MULTI_TRUE, probs, ["a", "b", "c"]))
    assert t.loc["all", "accuracy"] == pytest.approx(4 / 6)
    np.testing.assert_allclose(t.loc[["a", "b", "c"], "precision"], [1 / 2, 2 / 3, 1])
    np.testing.assert_allclose(t.loc[["a", "b", "c"], "recall"], [1 / 2, 1, 1 / 2])  # Salehinejad
    np.testing.assert_allclose(t.loc[["a", "b", "c"], "specificity"], [3 / 4, 3 / 4, 1])
    np.testing.assert_allclose(
        t.loc[["a", "b", "c"], "accuracy_ovr"], [4 / 6, 5 / 6, 5 / 6]
    )  # Davoodi
    assert t.loc["all", "roc_auc"] == pytest.approx(t.loc[["a", "b", "c"], "roc_auc"].mean())
    matrix = confusion_matrix_frame(MULTI_TRUE, probs, ["a", "b", "c"])
    np.testing.assert_array_equal(matrix.to_numpy(), [[1, 1, 0], [0, 2, 0], [1, 0, 1]])
    assert matrix.index.name == "true" and list(matrix.columns) == ["a", "b", "c"]


@pytest.mark.parametrize(
    "y_true, y_prob, names, message",
    [
        ([0, 1], [0.2, 0.7], ["a", "b", "c"], "1-d y_prob is read as P"),
        ([0, 3], [[0.5, 0.5], [0.1, 0.9]], ["a", "b"], r"integer labels in \[0, 2\)"),
        ([0], [[0.5, 0.5], [0.1, 0.9]], ["a", "b"], "one label per row"),
        ([0, 1], [[0.5, 0.5], [0.1, 0.9]], ["a", "b", "c"], r"must be \(n, 3\)"),
    ],
)
def test_report_rejects_bad_input(y_true, y_prob, names, message):
    with pytest.raises(ValueError, match=message):
        classification_report_frame(y_true, y_prob, names)


def test_bootstrap_ci_covers_the_binomial_interval():
    n, correct = 400, 300
    y_true = np.ones(n, dtype=int)
    y_prob = np.where(np.arange(n) < correct, 0.9, 0.1)
    result = bootstrap_ci(accuracy, y_true, y_prob, n_boot=2000, seed=0)
    half_width = 1.96 * np.sqrt(0.75 * 0.25 / n)
    assert result["estimate"] == pytest.approx(0.75)
    assert result["low"] == pytest.approx(0.75 - half_width, abs=0.01)
    assert result["high"] == pytest.approx(0.75 + half_width, abs=0.01)
    assert result["n_valid"] == 2000


def test_bootstrap_by_patient_widens_the_interval_when_images_are_correlated():
    n = 400
    y_true = np.ones(n, dtype=int)
    y_prob = np.where(np.arange(n) < 300, 0.9, 0.1)
    patients = np.arange(n) // 4  # 4 images per patient, all right or all wrong
    by_image = bootstrap_ci(accuracy, y_true, y_prob, n_boot=1000)
    by_patient = bootstrap_ci(accuracy, y_true, y_prob, n_boot=1000, groups=patients)
    ratio = (by_patient["high"] - by_patient["low"]) / (by_image["high"] - by_image["low"])
    assert 1.6 < ratio < 2.5  # about sqrt(4): 100 independent units instead of 400


@pytest.mark.filterwarnings("ignore:Only one class is present")
def test_bootstrap_skips_resamples_where_the_metric_is_undefined():
    from sklearn.metrics import roc_auc_score

    y_true = np.array([0] + [1] * 9)
    y_prob = np.linspace(0, 1, 10)
    result = bootstrap_ci(roc_auc_score, y_true, y_prob, n_boot=200)
    assert 100 < result["n_valid"] < 200  # about (9/10)^10 of resamples lack the negative
    with pytest.raises(ValueError, match="groups must hold one id per prediction"):
        bootstrap_ci(accuracy, y_true, y_prob, groups=[1, 2])


def test_stratified_bootstrap_keeps_every_stratum_at_its_size():
    from cxr_keras.metrics import bootstrap_distribution

    y_true = np.array([0] * 30 + [1] * 6 + [2] * 2)
    counts = lambda labels, _: np.bincount(labels, minlength=3)
    plain = bootstrap_distribution(counts, y_true, y_true, n_boot=300, seed=1)
    assert (plain[:, 2] == 0).any()  # unstratified resamples lose the rare class
    stratified = bootstrap_distribution(counts, y_true, y_true, n_boot=300, seed=1, strata=y_true)
    assert (stratified == [30, 6, 2]).all()

    # patient 0 has three class-0 images and one of the two class-2 images: it is a unit in
    # both strata, so class 2 never loses (or doubles) that image's stratum place
    patients = np.concatenate([np.arange(30) // 3, 10 + np.arange(6) // 2, [13, 0]])
    per_patient = bootstrap_distribution(counts, y_true, y_true, n_boot=300, seed=1,
                                         groups=patients, strata=y_true)
    assert (per_patient[:, 2] == 2).all() and (per_patient[:, 1] == 6).all()
    assert (per_patient[:, 0] % 3 == 0).all() and np.ptp(per_patient[:, 0]) == 0
    with pytest.raises(ValueError, match="strata must hold one value per prediction"):
        bootstrap_distribution(counts, y_true, y_true, strata=[0, 1])


def test_report_with_ci_brackets_the_estimates():
    rng = np.random.default_rng(0)
    y_true = rng.integers(0, 2, 120)
    y_prob = np.clip(y_true * 0.4 + rng.uniform(0, 0.6, 120), 0, 1)
    report = report_with_ci(y_true, y_prob, ["n", "p"], patient_ids=np.arange(120) // 2, n_boot=50)
    assert {"ci_low", "ci_high"} <= set(report.columns)
    rows = report[report["metric"].isin(["accuracy", "roc_auc", "precision", "recall"])]
    assert (rows["ci_low"] <= rows["value"] + 1e-12).all() and (
        rows["value"] <= rows["ci_high"] + 1e-12
    ).all()
    assert (rows["ci_high"] > rows["ci_low"]).all()


def test_undefined_rates_are_nan_not_zero():
    t = table(
        classification_report_frame([1, 1, 1], [[0.2, 0.8], [0.6, 0.4], [0.1, 0.9]], ["a", "b"])
    )
    assert t.loc["all", "accuracy"] == pytest.approx(2 / 3)
    assert np.isnan(t.loc["b", "specificity"]) and np.isnan(t.loc["all", "fpr"])  # no negatives
    assert np.isnan(t.loc["all", "roc_auc"])
