"""Davoodi & Lo Giudice: Table 4 arithmetic, 4-fold CV splits, FID logging and a tiny CV run."""

import os
import warnings

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras
import numpy as np
import pandas as pd
import pytest

from cxr_keras.data.davoodi import DAVOODI_CLASSES
from cxr_keras.fingerprint import StaleArtefactError
from cxr_keras.metrics.classification import classification_report_frame
from cxr_keras.reproductions import davoodi as dav


def test_paper_table_4_holds_the_papers_rows():
    assert dav.PAPER_TOTAL_ACCURACY == {"classic": 0.780, "synthetic": 0.818}
    normal = dav.PAPER_TABLE_4.set_index(["train_set", "class"]).loc[("synthetic", "normal")]
    assert normal.tolist() == [0.948, 0.802, 0.997, 0.888]
    assert len(dav.PAPER_TABLE_4) == 8


def test_table_4_from_a_known_confusion_matrix():
    matrix = np.array([[8, 1, 1], [2, 6, 2], [0, 0, 10]])
    true, predicted = np.nonzero(matrix)
    y_true = np.repeat(true, matrix[true, predicted])
    y_pred = np.repeat(predicted, matrix[true, predicted])
    table = dav.table_4(classification_report_frame(y_true, np.eye(3)[y_pred], ["a", "b", "c"]),
                        ["a", "b", "c"])
    values = table.set_index(["class", "metric"])["value"]
    assert values[("a", "accuracy")] == pytest.approx(26 / 30)
    assert values[("a", "sensitivity")] == pytest.approx(0.8)
    assert values[("a", "specificity")] == pytest.approx(0.9)
    assert values[("a", "f1")] == pytest.approx(0.8)
    assert values[("b", "f1")] == pytest.approx(12 / 17)
    assert values[("c", "specificity")] == pytest.approx(17 / 20)
    assert values[("total", "accuracy")] == pytest.approx(24 / 30)
    assert table["class"].tolist()[-1] == "total"


def test_cv_folds_are_disjoint_cover_everything_and_are_stratified():
    y = np.repeat(np.arange(4), [60, 70, 70, 70])
    folds = dav.cv_folds(y, 4, seed=0)
    assert len(folds) == 4
    validation = np.concatenate([val for _, val in folds])
    assert sorted(validation.tolist()) == list(range(len(y)))
    for train, val in folds:
        assert not set(train) & set(val)
        assert len(train) + len(val) == len(y)
        per_class = np.bincount(y[val], minlength=4)
        assert np.all(np.abs(per_class - np.array([60, 70, 70, 70]) / 4) <= 1)
    with pytest.raises(ValueError, match="fewer than n_splits=4"):
        dav.cv_folds(np.array([0, 0, 0, 1, 1, 1, 1, 1]), 4)


def test_paper_names_cover_real_and_phantom_classes():
    assert [dav.paper_class_name(c) for c in ("covid", "normal", "bacteria", "virus")] == list(dav.PAPER_CLASSES)
    assert [dav.paper_class_name(c) for c in dav.PHANTOM_STAND_INS] == list(dav.PAPER_CLASSES)


def _stub_inception():
    image = keras.Input((None, None, 3))
    pooled = keras.layers.GlobalAveragePooling2D()(image)
    return keras.Model(image, [keras.layers.Dense(2048)(pooled), keras.layers.Dense(768)(pooled)])


def test_quality_logger_writes_fid_rows_every_k_epochs_and_rewrites_redone_ones(tmp_path, monkeypatch):
    import cxr_keras.metrics
    from cxr_keras.reproductions import quality_log

    # A 768x768 matrix square root takes seconds on a small CPU; the logger's schedule and
    # bookkeeping are under test here, so FID is replaced by a cheap distance of the means
    # that warns as FID does with fewer images than dimensions.
    def mean_distance(real_features, fake_features):
        warnings.warn("rank-deficient", cxr_keras.metrics.RankDeficientCovarianceWarning)
        return float(np.linalg.norm(real_features.mean(axis=0) - fake_features.mean(axis=0)))

    monkeypatch.setattr(quality_log, "fid_from_features", mean_distance)

    class Generator:  # stands in for the GAN: generate() is all the logger needs
        def generate(self, n, seed=None):
            return np.random.default_rng(seed).uniform(-1, 1, (n, 8, 8, 1)).astype(np.float32)

    real = np.random.default_rng(1).normal(size=(6, 768))
    with pytest.warns(cxr_keras.metrics.RankDeficientCovarianceWarning, match="6 images per side"):
        logger = dav.QualityLogger(tmp_path / "quality.csv", real, every=2, epochs=5, n_fake=6,
                                   fid_model=_stub_inception())
    logger.set_model(Generator())
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for epoch in range(5):
            logger.on_epoch_end(epoch)
    assert not [w for w in caught if issubclass(w.category, cxr_keras.metrics.RankDeficientCovarianceWarning)]
    log = pd.read_csv(tmp_path / "quality.csv")
    assert log["epoch"].tolist() == [2, 4, 5]
    assert (log["fid"] > 0).all() and log["inception_score"].isna().all()
    assert log[["n_real", "n_fake", "fid_dims"]].iloc[0].tolist() == [6, 6, 768]
    with pytest.warns(cxr_keras.metrics.RankDeficientCovarianceWarning):
        resumed = dav.QualityLogger(tmp_path / "quality.csv", real, every=2, epochs=5, n_fake=6,
                                    fid_model=_stub_inception())
    resumed.set_model(Generator())
    resumed.on_epoch_end(3)  # a resumed run redoes epoch 4: its row is replaced, not doubled
    assert pd.read_csv(tmp_path / "quality.csv")["epoch"].tolist() == [2, 4, 5]
    with pytest.warns(cxr_keras.metrics.RankDeficientCovarianceWarning), \
            pytest.raises(StaleArtefactError, match="FID log in .* was made from other inputs"):
        dav.QualityLogger(tmp_path / "quality.csv", real + 1, every=2, epochs=5, n_fake=6)


def test_cross_validation_runs_both_train_sets_and_puts_the_paper_beside(tmp_path):
    rng = np.random.default_rng(0)
    y = np.repeat(np.arange(4), 6)
    x = (rng.normal(size=(24, 16, 16, 1)) * 0.1 + y[:, None, None, None] / 4).clip(-1, 1).astype(np.float32)
    test = (x[::3], y[::3])
    synthetic = {name: x[y == k][:2] for k, name in enumerate(DAVOODI_CLASSES)}
    result = dav.run_cross_validation(x, y, test, list(DAVOODI_CLASSES), tmp_path, synthetic=synthetic,
                                      folds=2, epochs=1, batch_size=8, n_boot=20)
    folds = result["folds"]
    assert folds["train_set"].tolist() == ["classic"] * 2 + ["synthetic"] * 2 + ["oversample"] * 2
    assert folds["n_train"].tolist() == [12, 12, 20, 20, 20, 20]  # 8 synthetic or 8 real repeats added
    table = result["table"].set_index(["train_set", "class", "metric"])
    assert table.loc[("synthetic", "total", "accuracy"), "paper"] == 0.818
    assert table.loc[("classic", "bacteria", "f1"), "paper"] == 0.776
    assert np.isnan(table.loc[("oversample", "total", "accuracy"), "paper"])
    assert ((table["ci_low"] <= table["value"] + 1e-9) & (table["value"] <= table["ci_high"] + 1e-9)).all()
    assert (tmp_path / "oversample" / "fold-1" / "probabilities.npy").is_file()
    predictions = result["predictions"]
    assert len(predictions) == 3 * 2 * len(test[1])
    for train_set in dav.TRAIN_SETS:  # the pooled predictions are the table's total accuracy
        assert dav.fold_scores(predictions, train_set).mean() / 100 == pytest.approx(
            table.loc[(train_set, "total", "accuracy"), "value"])
    claims = dav.claims(result, None, n_boot=50).set_index("claim")
    gain = claims.loc["synthetic augmentation raises total test accuracy over the classic set"]
    totals = result["table"].set_index(["train_set", "class", "metric"])["value"]
    assert gain["ours"] == totals["synthetic", "total", "accuracy"] and gain["paper"] == 0.818
    assert gain["versus"] == totals["classic", "total", "accuracy"]
    assert gain["difference"] == pytest.approx(100 * (gain["ours"] - gain["versus"]))
    assert gain["paper_difference"] == pytest.approx(3.8)
    assert claims.loc["covid has the highest sensitivity (classic)", "paper"] == 0.962
    assert 0 <= claims.loc["synthetic augmentation is better in most folds", "ours"] <= 1
    with pytest.raises(ValueError, match="predictions hold no train set 'mixup'"):
        dav.fold_scores(predictions, "mixup")


def test_caveats_report_test_resolution_fold_spread_and_sample_realism():
    folds = pd.DataFrame({"train_set": ["classic"] * 2 + ["synthetic"] * 2, "fold": [0, 1, 0, 1],
                          "test_accuracy": [0.7, 0.8, 0.6, 0.6]})
    table = pd.DataFrame({"train_set": ["classic", "synthetic"], "class": ["total", "total"],
                          "metric": ["accuracy", "accuracy"], "value": [0.75, 0.6],
                          "ci_low": [0.65, 0.5], "ci_high": [0.85, 0.7]})
    rng = np.random.default_rng(0)
    real = {"covid": rng.normal(0, 0.1, (20, 8, 8, 1))}
    caveats = dav.caveats(folds, table, 40, {"covid": rng.uniform(-1, 1, (6, 8, 8, 1))}, real)
    value = caveats.set_index(["quantity", "group"])["ours"]
    assert value["points of total accuracy one test image is", ""] == 2.5
    assert value["width of the 95% interval of total accuracy (points)", "classic"] == pytest.approx(20)
    assert value["mean test accuracy over the folds", "classic"] == pytest.approx(0.75)
    assert value["std of test accuracy over the folds", "classic"] == pytest.approx(0.0707, abs=1e-4)
    assert value["std of test accuracy over the folds", "synthetic"] == 0
    assert value["synthetic images in each fold's augmented training set", ""] == 6
    assert value["distance ratio", "covid"] > 3  # uniform noise is unlike any real image
    assert caveats.set_index("quantity").loc["test images", "paper"] == 36


def _claim_inputs():
    # 2 folds, 40 test images: classic right on 24, synthetic and oversample on the same 36.
    right = {"classic": 24, "synthetic": 36, "oversample": 36}
    folds = pd.DataFrame({"train_set": np.repeat(list(right), 2), "fold": [0, 1] * 3,
                          "test_accuracy": np.repeat([k / 40 for k in right.values()], 2)})
    predictions = pd.DataFrame([(t, f, i, 1, int(i < k)) for t, k in right.items() for f in (0, 1)
                                for i in range(40)], columns=["train_set", "fold", "image", "y_true", "predicted"])
    rows = [(t, "total", "accuracy", k / 40, k / 40 - 0.05, k / 40 + 0.05) for t, k in right.items()]
    rows += [(t, c, "sensitivity", v, np.nan, np.nan) for t in ("classic", "synthetic")
             for c, v in zip(DAVOODI_CLASSES, (1.0, 0.5, 0.5, 0.5))]
    table = pd.DataFrame(rows, columns=["train_set", "class", "metric", "value", "ci_low", "ci_high"])
    cv = {"folds": folds, "table": table, "predictions": predictions}
    audit = pd.DataFrame({"view": ["full_16x16", "border", "histogram"], "positive_class": "covid",
                          "auc": [0.99, 0.98, 0.6], "auc_low": [0.97, 0.96, 0.5], "auc_high": [1.0, 0.99, 0.7],
                          "source_shortcut": [None, True, False]})
    return cv, audit


def test_claims_resting_on_generated_images_know_the_generator_and_the_shortcut():
    cv, audit = _claim_inputs()
    claims = dav.claims(cv, None, generator="mode-collapsed (covid)", audit=audit, n_boot=200).set_index("claim")
    gain = claims.loc["synthetic augmentation raises total test accuracy over the classic set"]
    assert bool(gain["held"]) and gain["verdict"] == "inconclusive: the generator was mode-collapsed (covid)"
    assert gain["difference"] == pytest.approx(30) and gain["difference_low"] > 0
    assert claims.loc["covid has the highest sensitivity (synthetic)", "verdict"].startswith("inconclusive")
    classic = claims.loc["covid has the highest sensitivity (classic)"]
    assert classic["verdict"] == "held"  # no generated image behind it
    assert "source shortcut" in classic["measure"] and "border AUC 0.980 [0.960, 0.990]" in classic["measure"]
    shortcut = claims.iloc[-1]
    assert shortcut["verdict"] == "did not hold" and shortcut["versus"] == 0.75
    assert (shortcut["ours"], shortcut["ci_low"]) == (0.98, 0.96)  # the border view, not the reference
    assert list(claims.reset_index().columns) == list(dav.claims_frame([]).columns)

    kit = dav.claims_frame(dav.synthetic_claims(cv, "healthy", recipe="kit", n_boot=200)).set_index("measure")
    assert kit.loc["total test accuracy, synthetic vs classic", "verdict"] == "held"
    assert kit.loc["total test accuracy, synthetic vs classic", "claim"] == (
        "synthetic augmentation raises total test accuracy over the classic set (kit recipe's GANs)")
    # The same images right as the oversampling control: a difference of 0, nothing resolved.
    control = kit.loc["total test accuracy, synthetic vs oversample"]
    assert control["difference"] == 0 and np.isnan(control["paper_difference"])
    assert control["verdict"] == "inconclusive: the interval straddles 0: a gain above +0.0 points is ruled out"

    clean = audit.assign(source_shortcut=[None, False, False], auc_low=[0.97, 0.6, 0.5])
    claims = dav.claims(cv, None, generator="healthy", audit=clean, n_boot=50).set_index("claim")
    assert "caveat" not in claims.loc["covid has the highest sensitivity (classic)", "measure"]
    assert claims.iloc[-1]["verdict"] == "held"
    caveats = dav.caveats(cv["folds"], cv["table"], 36, {"covid": np.zeros((3, 4, 4, 1))},
                          {"covid": np.random.default_rng(0).normal(size=(5, 4, 4, 1))}, audit=audit)
    aucs = caveats[caveats["factor"] == "source shortcut"].set_index("group")
    assert aucs.loc["border", "ours"] == 0.98 and "full_16x16" not in aucs.index
    with pytest.raises(ValueError, match="no non-disease view"):
        dav.shortcut_claim_row(audit.iloc[:1])
