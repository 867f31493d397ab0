"""Ng & Gubbi: Table 1 alignment, the label-effect measure and label agreement."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
import pandas as pd
import pytest

from cxr_keras.reproductions import ng_gubbi as ng


def _history(epochs):
    epoch = np.arange(1, epochs + 1)
    return pd.DataFrame({"epoch": epoch, "d_loss": 0.1 * epoch, "g_loss": 2.0 + epoch,
                         "d_acc_real": 0.5 + 0.01 * epoch, "d_acc_fake": 0.6 + 0.01 * epoch})


def test_paper_table_1_is_the_papers_rows():
    last = ng.PAPER_TABLE_1.set_index("epoch").loc[50]
    assert last.tolist() == [0.88, 0.82, 0.465, 2.46]
    assert ng.PAPER_TABLE_1["epoch"].tolist() == [10, 20, 30, 40, 50]


def test_table_1_compares_at_the_same_fraction_of_training_and_halves_d_loss():
    table = ng.table_1(_history(5))
    assert table["kit_epoch"].tolist() == [1, 2, 3, 4, 5]
    assert table["kit_d_loss"].tolist() == pytest.approx([0.05, 0.1, 0.15, 0.2, 0.25])
    assert table["kit_g_loss"].iloc[-1] == 7.0
    assert table["paper_d_loss"].iloc[-1] == 0.465
    short = ng.table_1(_history(2))
    assert short["kit_epoch"].tolist() == [1, 1, 1, 2, 2]
    with pytest.raises(ValueError, match="lacks columns"):
        ng.table_1(_history(3).drop(columns="d_acc_fake"))


def test_label_effect_separates_ignored_from_decisive_labels():
    rng = np.random.default_rng(0)
    noise_only = np.repeat(rng.uniform(-1, 1, (3, 1, 4, 4, 1)), 5, axis=1)  # label ignored
    assert ng.label_effect(noise_only)["ratio"] == 0.0
    label_only = np.repeat(rng.uniform(-1, 1, (1, 5, 4, 4, 1)), 3, axis=0)  # noise ignored
    effect = ng.label_effect(label_only)
    assert effect["noise_change"] == 0.0 and effect["label_change"] > 0 and np.isnan(effect["ratio"])
    with pytest.raises(ValueError, match="n_noise >= 2"):
        ng.label_effect(noise_only[:1])


def test_label_agreement_on_a_known_case():
    requested = np.array([0, 0, 0, 0, 1, 1, 1, 1])
    predicted_fake = np.array([0, 0, 1, 1, 1, 1, 1, 1])
    y_real = np.array([0, 0, 1, 1, 1])
    predicted_real = np.array([0, 1, 1, 1, 1])
    frame = ng.label_agreement(requested, predicted_fake, y_real, predicted_real, ["a", "b"],
                               n_boot=100).set_index("class")
    assert frame.loc["a", "agreement"] == 0.5 and frame.loc["b", "agreement"] == 1.0
    assert frame.loc["all", "agreement"] == 0.75
    assert frame.loc["a", "real_accuracy"] == 0.5 and frame.loc["b", "real_accuracy"] == 1.0
    assert frame.loc["a", "n_fake"] == 4 and frame.loc["a", "n_real"] == 2
    assert frame.loc["b", "agreement_low"] == frame.loc["b", "agreement_high"] == 1.0
    assert frame.loc["a", "agreement_low"] < 0.5 < frame.loc["a", "agreement_high"]
    assert (frame["chance"] == 0.5).all()


def test_label_agreement_gives_nan_for_a_class_without_real_images():
    frame = ng.label_agreement([0, 1], [0, 1], [0, 0], [0, 0], ["a", "b"], n_boot=10).set_index("class")
    assert frame.loc["b", "n_real"] == 0 and np.isnan(frame.loc["b", "real_accuracy"])


def test_claims_read_the_numbers():
    table = ng.table_1(_history(5))
    agreement = pd.DataFrame({"class": ["all"], "agreement": [0.9], "agreement_low": [0.8],
                              "agreement_high": [0.95], "chance": [1 / 7]})
    claims = ng.claims(table, {"ratio": 0.9}, agreement)
    assert claims["held"].tolist() == [True, True, False, True]
    assert claims.loc[2, "ours"] == 0.9
    assert claims.loc[3, ["ours", "ci_low", "ci_high", "versus"]].tolist() == pytest.approx([0.9, 0.8, 0.95, 1 / 7])
    assert claims.loc[1, "paper"] == 2.46


def test_build_gans_and_same_noise_images_share_noise_across_labels():
    gan, cgan = ng.build_gans(16, num_classes=3, label_sampling="empirical", class_prior=[5, 1, 1])
    assert cgan.label_sampling == "empirical" and cgan.class_prior == pytest.approx([5 / 7, 1 / 7, 1 / 7])
    images, labels = ng.same_noise_images(cgan, 2, seed=0)
    assert images.shape == (2, 3, 16, 16, 1) and labels.tolist() == [[0, 1, 2], [0, 1, 2]]
    again, _ = ng.same_noise_images(cgan, 2, seed=0)
    np.testing.assert_allclose(images, again, atol=1e-6)
    assert not np.allclose(images[0, 0], images[1, 0])  # different noise, same label
    assert gan.generate(2, seed=0).shape == (2, 16, 16, 1)


def test_caveats_report_training_scale_classifier_reliability_and_missing_test_classes():
    agreement = pd.DataFrame({
        "class": ["Normal", "Mass", "all"], "n_real": [30, 0, 30], "real_accuracy": [0.5, np.nan, 0.5],
        "real_accuracy_low": [0.3, np.nan, 0.3], "real_accuracy_high": [0.7, np.nan, 0.7],
        "chance": [0.5, 0.5, 0.5]})
    caveats = ng.caveats(agreement, pd.Series({"Normal": 100, "Mass": 28}), gan_epochs=4, batch_size=64)
    rows = caveats.set_index(["quantity", "group"])
    assert rows.loc[("training images", ""), ["ours", "paper"]].tolist() == [128, 50_000]
    assert rows.loc[("optimizer steps", ""), ["ours", "paper"]].tolist() == [8, 50 * (50_000 // 128)]
    assert rows.loc[("training images per class", "Mass"), "ours"] == 28
    assert rows.loc[("accuracy on real test images", ""), ["ours", "ci_low", "ci_high"]].tolist() == [0.5, 0.3, 0.7]
    unmeasured = caveats[caveats["factor"] == "test set"]
    assert unmeasured["group"].tolist() == ["Mass"] and unmeasured["ours"].tolist() == [0]


def test_balanced_indices_repeat_every_class_to_the_largest_count():
    labels = np.array([0, 0, 0, 0, 0, 1, 1, 2])
    keep = ng.balanced_indices(labels, seed=0)
    assert np.bincount(labels[keep]).tolist() == [5, 5, 5]
    assert sorted(keep[labels[keep] == 0].tolist()) == [0, 1, 2, 3, 4]  # the largest class as is
    ones = np.bincount(keep[labels[keep] == 1], minlength=7)[5:7]
    assert sorted(ones.tolist()) == [2, 3]  # 5 = 2 + 3: each image twice, one a third time
    assert (keep[labels[keep] == 2] == 7).all()
    with pytest.raises(ValueError, match="labels is empty"):
        ng.balanced_indices([])


def test_training_batches_balance_the_cgans_batches_only_when_asked():
    images = np.zeros((8, 4, 4, 1), "float32")
    labels = np.array([0, 0, 0, 0, 0, 0, 1, 1])
    plain = ng.training_batches(images, labels, batch_size=4, seed=0)
    assert len(plain.images) == 8 and plain.labels.dtype == np.int32
    balanced = ng.training_batches(images, labels, batch_size=4, seed=0, balanced_batches=True)
    assert np.bincount(balanced.labels).tolist() == [6, 6] and len(balanced) == 3
    assert ng.training_batches(images, None, batch_size=4).labels is None
    with pytest.raises(ValueError, match="balanced_batches needs labels"):
        ng.training_batches(images, None, batch_size=4, balanced_batches=True)


def test_build_gans_apply_a_recipes_label_and_engine_options():
    recipe = {"augment": "translation", "ema_decay": 0.9, "label_sampling": "batch", "balanced_batches": True}
    gan, cgan = ng.build_gans(16, num_classes=3, recipe=recipe)
    assert cgan.label_sampling == "batch"
    for model in (gan, cgan):
        assert model.options.augment == "translation" and model.options.ema_decay == 0.9
    labels, engine = ng.split_label_options(recipe)
    assert labels == {"label_sampling": "batch", "balanced_batches": True} and "label_sampling" not in engine
    with pytest.raises(TypeError, match="balanced_batches must be true or false"):
        ng.split_label_options({"balanced_batches": "yes"})
    with pytest.raises(ValueError, match="unknown GAN recipe option"):
        ng.build_gans(16, num_classes=3, recipe={"label_channels": 4})


def test_image_claims_are_inconclusive_with_an_unhealthy_generator_and_name_the_recipe():
    agreement = pd.DataFrame({"class": ["all"], "agreement": [0.9], "agreement_low": [0.8],
                              "agreement_high": [0.95], "chance": [1 / 7]})
    paper_rows = ng.claims(ng.table_1(_history(5)), {"ratio": 0.9}, agreement,
                           generator="mode-collapsed (cGAN paper / Normal)")
    assert paper_rows["verdict"].tolist()[:2] == ["held", "held"]  # Table 1 claims: no images
    assert paper_rows["verdict"].tolist()[2:] == ["inconclusive: the generator was mode-collapsed (cGAN paper / Normal)"] * 2
    kit = ng.image_claims({"ratio": 0.9}, agreement, "healthy", recipe="kit")
    assert [row["verdict"] for row in kit] == ["did not hold", "held"]
    assert all(row["claim"].endswith("(kit recipe)") for row in kit)


def test_balanced_accuracy_averages_per_class_accuracy_over_the_classes_present():
    y_real = np.array([0, 0, 0, 0, 1, 1])
    predicted = np.array([0, 0, 0, 0, 0, 1])  # class 0: 1.0, class 1: 0.5
    result = ng.balanced_accuracy(y_real, predicted, n_boot=100)
    assert result["balanced_accuracy"] == pytest.approx(0.75)
    assert result["chance"] == 0.5 and result["classes"] == 2
    assert result["low"] <= 0.75 <= result["high"]
    with pytest.raises(ValueError, match="one prediction per real image"):
        ng.balanced_accuracy(y_real, predicted[:3])


def test_cgan_health_samples_pair_each_class_with_its_own_held_out_images():
    rng = np.random.default_rng(0)
    n = ng.MIN_HEALTH_IMAGES
    images = rng.uniform(-1, 1, (6 * n, 4, 4, 1)).astype("float32")
    classes = np.repeat([0, 1, 2], n)
    train = (images[:3 * n], np.where(classes == 2, 1, classes))  # class c: no training images
    holdout = (images[3 * n:], np.concatenate([np.zeros(n), np.ones(n - 1), [2] * (n + 1)]))
    requested = classes  # n asked for of each class
    samples = ng.cgan_health_samples(images[:3 * n], requested, train, holdout, ["a", "b", "c"],
                                     name="cGAN kit")
    assert list(samples) == ["cGAN kit / a"]  # b has one held-out image too few, c no training
    np.testing.assert_array_equal(samples["cGAN kit / a"].holdout, images[3 * n:4 * n])
    np.testing.assert_array_equal(samples["cGAN kit / a"].generated, images[:n])
    np.testing.assert_array_equal(samples["cGAN kit / a"].train, images[:n])
