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
from cxr_keras.reproductions.kora_venu_recipes import (
    build_recipe_gan,
    recipe_batch_size,
    recipe_channels,
    recipe_health_samples,
    train_recipe,
    with_channels,
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


def test_controls_train_on_the_set_the_gan_balances_or_with_a_weighted_loss(tmp_path, monkeypatch):
    train, test = separable(40, seed=0), separable(16, seed=1)
    seen, train_classifier = {}, kv.train_classifier

    def spy(model_fn, data, **kwargs):
        seen[kwargs["progress"]] = (np.bincount(data[1]).tolist(), kwargs.get("augmentation"),
                                    kwargs.get("class_weight"))
        return train_classifier(model_fn, data, **kwargs)

    monkeypatch.setattr(kv, "train_classifier", spy)
    generated = np.full((40, SIZE, SIZE, 1), -0.5, np.float32)
    table = compare_augmentations(["none", "oversample", "class_weight", "gan"], chance_model, train, test, CLASSES,
                                  generated=generated, n_boot=10, epochs=1, batch_size=16).set_index("method")
    counts = np.bincount(train[1]).tolist()
    assert seen["classifier (none)"] == (counts, None, None)
    assert seen["classifier (oversample)"][0] == [max(counts)] * 2 == seen["classifier (gan)"][0]
    assert table.loc["oversample", "n_train"] == table.loc["gan", "n_train"] == 2 * max(counts)
    weights = seen["classifier (class_weight)"][2]
    assert weights[0] * counts[0] == pytest.approx(weights[1] * counts[1]) == pytest.approx(20)
    assert seen["classifier (class_weight)"][:2] == (counts, None)


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
    with pytest.raises(ValueError, match="unknown augmentation 'mixup' in methods; choose from .*'oversample'"):
        compare_augmentations(["mixup"], chance_model, data, data, CLASSES)
    with pytest.raises(ValueError, match="methods is empty"):
        compare_augmentations([], chance_model, data, data, CLASSES)
    with pytest.raises(ValueError, match="method 'gan_kit' needs generated images"):
        compare_augmentations(["gan_kit"], chance_model, data, data, CLASSES, generated=data[0])


def _seed_frame(accuracies, half_width):
    return pd.DataFrame({"method": ["flip", "gan"], **{
        column: list(values) for metric in TABLE_METRICS for column, values in (
            (metric, accuracies), (f"{metric}_ci_low", [a - half_width for a in accuracies]),
            (f"{metric}_ci_high", [a + half_width for a in accuracies]))}})


def test_across_seeds_widens_the_bootstrap_interval_by_the_seed_spread():
    single = kv.across_seeds({0: _seed_frame([0.80, 0.90], 0.02)}).set_index("method")
    assert single.loc["gan", ["accuracy", "accuracy_ci_low", "accuracy_ci_high"]].tolist() == pytest.approx([0.90, 0.88, 0.92])
    pooled = kv.across_seeds({0: _seed_frame([0.80, 0.90], 0.02), 1: _seed_frame([0.84, 0.70], 0.04),
                              2: _seed_frame([0.82, 0.80], 0.03)}).set_index("method")
    assert pooled.loc["flip", "accuracy"] == pytest.approx(0.82)
    assert pooled.loc["flip", "accuracy_seed_sd"] == pytest.approx(0.02)
    expected = np.hypot(4.302653 * 0.02 / np.sqrt(3), 0.03)  # t(0.975, 2 df) x SE, bootstrap half-width
    assert pooled.loc["flip", "accuracy_ci_high"] - 0.82 == pytest.approx(expected, rel=1e-5)
    assert (pooled.loc["gan", "accuracy_seed_min"], pooled.loc["gan", "accuracy_seed_max"]) == (0.70, 0.90)
    assert (pooled["n_seeds"] == 3).all()
    with pytest.raises(ValueError, match="per_seed is empty"):
        kv.across_seeds({})


def test_across_seeds_intervals_stay_inside_the_metric_range():
    # Three seeds far apart near both ends: the t-widened interval would pass 1 and 0.
    pooled = kv.across_seeds({0: _seed_frame([0.99, 0.02], 0.01), 1: _seed_frame([0.70, 0.30], 0.01),
                              2: _seed_frame([0.98, 0.01], 0.01)}).set_index("method")
    assert pooled.loc["flip", "accuracy"] == pytest.approx(0.89)
    assert pooled.loc["flip", "accuracy_ci_high"] == 1.0 and pooled.loc["gan", "accuracy_ci_low"] == 0.0
    assert 0.0 < pooled.loc["flip", "accuracy_ci_low"] < 0.89
    for metric in TABLE_METRICS:
        assert pooled[f"{metric}_ci_low"].between(0, 1).all() and pooled[f"{metric}_ci_high"].between(0, 1).all()


def _scores(n=100, right=None):
    """Two seeds' 0/100 scores per method: right on the first ``right[method]`` images."""
    return {method: np.tile(np.where(np.arange(n) < k, 100.0, 0.0), (2, 1)) for method, k in right.items()}


def _comparison(scores):
    accuracy = {method: s.mean() / 100 for method, s in scores.items()}
    return pd.DataFrame({"method": list(accuracy), "accuracy": list(accuracy.values()),
                         "accuracy_ci_low": [a - 0.05 for a in accuracy.values()],
                         "accuracy_ci_high": [a + 0.05 for a in accuracy.values()]})


def test_claims_judge_each_gan_against_each_paper_method_and_each_control_on_the_paired_difference():
    # The GAN is right on the first 80 images; flip on 60 (+20 points), crop on 79 (+1: not
    # resolved), none on 50, oversample on 95 (-15 points).
    scores = _scores(right={"flip": 60, "crop": 79, "none": 50, "oversample": 95, "gan": 80})
    patients = np.repeat(np.arange(50), 2)
    claims = kv.claims(_comparison(scores), scores, patients, {"gan": "healthy"}, n_boot=400).set_index("measure")
    assert list(claims.index) == ["accuracy, gan vs flip", "accuracy, gan vs crop", "accuracy, gan vs none",
                                  "accuracy, gan vs oversample"]
    assert claims.loc["accuracy, gan vs flip", "claim"] == "GAN balancing beats flip augmentation (the paper recipe's GAN)"
    assert claims.loc["accuracy, gan vs oversample", "claim"] == (
        "GAN balancing beats balancing by repeating real Normal images (the paper recipe's GAN)")
    assert claims["difference"].tolist() == pytest.approx([20, 1, 30, -15])
    assert claims["verdict"].tolist()[::2] == ["held", "held"]
    assert claims.loc["accuracy, gan vs crop", "verdict"].startswith("inconclusive: the interval straddles 0")
    assert claims.loc["accuracy, gan vs oversample", "verdict"] == "did not hold"
    # Bonferroni: two paper comparisons, two controls, each family at 97.5% per interval.
    assert claims["confidence"].tolist() == pytest.approx([0.975] * 4)
    assert claims["paper_difference"].iloc[:2].tolist() == pytest.approx([0.6, 0.79])
    assert claims["paper_difference"].iloc[2:].isna().all() and (claims["paper"] == 0.955).all()
    assert (claims["sd_seeds"] == 0).all() and (claims["detectable"] > 2.8 * claims["sd_test"]).all()
    collapsed = kv.claims(_comparison(scores), scores, patients, {"gan": "mode-collapsed"}, n_boot=50)
    assert (collapsed["verdict"] == "inconclusive: the generator was mode-collapsed").all()
    two_gans = {**scores, "gan_kit": scores["gan"]}
    kit = kv.claims(_comparison(two_gans), two_gans, n_boot=50)
    assert kit["claim"].str.endswith("(the kit recipe's GAN)").sum() == 4
    with pytest.raises(ValueError, match=r"scores lack \['gan'\]"):
        kv.claims(_comparison(scores), {m: s for m, s in scores.items() if m != "gan"})


def test_accuracy_scores_read_each_seeds_predictions(tmp_path):
    for seed, prob in enumerate(([0.9, 0.2, 0.6], [0.1, 0.8, 0.7])):
        folder = tmp_path / f"seed-{seed}" / "gan"
        folder.mkdir(parents=True)
        pd.DataFrame({"y_true": [1, 0, 0], "prob_NORMAL": [1 - p for p in prob], "prob_PNEUMONIA": prob}).to_csv(
            folder / "predictions.csv", index=False)
    scores = kv.accuracy_scores([tmp_path / "seed-0", tmp_path / "seed-1"], ["gan"])
    np.testing.assert_array_equal(scores["gan"], [[100, 100, 0], [0, 0, 0]])
    with pytest.raises(FileNotFoundError, match="flip/predictions.csv is missing"):
        kv.accuracy_scores([tmp_path / "seed-0"], ["flip"])


def test_split_shift_is_the_accuracy_change_in_points():
    official, disjoint = _seed_frame([0.80, 0.90], 0.02), _seed_frame([0.75, 0.91], 0.02)
    shift = kv.split_shift(official, disjoint).set_index("method")["shift_points"]
    assert shift.to_dict() == pytest.approx({"flip": -5.0, "gan": 1.0})


def test_recipe_channels_and_grayscale_repeat():
    assert recipe_channels({"channels": 1, "ema_decay": 0.9}, 3) == (1, {"ema_decay": 0.9})
    assert recipe_channels({}, 3) == (3, {})
    with pytest.raises(ValueError, match="recipe channels must be 1"):
        recipe_channels({"channels": 2}, 3)
    gray = np.linspace(-1, 1, 2 * 4 * 4, dtype=np.float32).reshape(2, 4, 4, 1)
    rgb = with_channels(gray, 3)
    assert rgb.shape == (2, 4, 4, 3) and np.array_equal(rgb[..., 2], gray[..., 0])
    with pytest.raises(ValueError, match="images must be grayscale"):
        with_channels(rgb, 3)


def test_kit_recipe_trains_in_grayscale_resumes_and_refuses_other_inputs(tmp_path):
    recipe = {"architecture": "davoodi", "channels": 1, "ema_decay": 0.9, "augment": "translation",
              "augment_p": 1.0}
    images = np.random.default_rng(0).uniform(-1, 1, (12, 32, 32, 1)).astype(np.float32)
    gan, history = train_recipe(recipe, images, 1, 8, tmp_path / "kit", seed=0, verbose=0)
    assert gan.generator.output_shape == (None, 32, 32, 1) and len(history) == 1
    steps = int(gan.g_optimizer.iterations.numpy())
    assert steps == 2  # 12 images at batch 8, the short last batch kept
    again, history = train_recipe(recipe, images, 2, 8, tmp_path / "kit", seed=0, verbose=0)
    assert len(history) == 2 and int(again.g_optimizer.iterations.numpy()) == 4  # resumed, not restarted
    with pytest.raises(StaleArtefactError, match="other inputs"):
        train_recipe({**recipe, "ema_decay": 0.5}, images, 3, 8, tmp_path / "kit", seed=0, verbose=0)
    samples = recipe_health_samples({"kit": again}, images, images[:6], 5, tmp_path)
    assert samples["kit"].generated.shape == (5, 32, 32, 1) and len(samples["kit"].history) == 2


def test_a_recipe_batch_size_gives_more_steps_per_epoch(tmp_path):
    images = np.random.default_rng(0).uniform(-1, 1, (12, 16, 16, 1)).astype(np.float32)
    recipe = {"architecture": "davoodi", "channels": 1, "batch_size": 4}
    gan, _ = train_recipe(recipe, images, 1, 8, tmp_path / "small", seed=0, verbose=0)
    assert int(gan.g_optimizer.iterations.numpy()) == 3  # 12 images at the recipe's batch 4
    assert recipe_batch_size({}, 8) == 8
    with pytest.raises(ValueError, match="recipe batch_size must be a positive integer"):
        recipe_batch_size({"batch_size": 0}, 8)


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
    first, again = (build_recipe_gan({}, 16, channels=1, seed=4) for _ in range(2))
    other = build_recipe_gan({}, 16, channels=1, seed=5)
    weights = [g.generator.get_weights()[0] for g in (first, again, other)]
    np.testing.assert_array_equal(weights[0], weights[1])
    assert not np.allclose(weights[0], weights[2])
    assert first.generator.output_shape == (None, 16, 16, 1) and first.latent_dim == 100


class _MeanColourInception:
    """Stands in for the FID network: its "features" are each image's mean colour, padded."""

    def predict_on_batch(self, batch):
        assert batch.shape[1:] == (299, 299, 3)  # the authors' PIL resize happened first
        means = batch.reshape(len(batch), -1, 3).mean(axis=1)
        return [np.pad(means, ((0, 0), (0, 2045))), np.pad(means, ((0, 0), (0, 765)))]


def test_pil_resized_matches_pillow_and_keeps_the_range():
    from PIL import Image

    images = np.random.default_rng(0).uniform(-1, 1, (2, 20, 20, 1)).astype(np.float32)
    resized = kv.pil_resized(images, size=33)
    assert resized.shape == (2, 33, 33, 3) and resized.min() >= -1 and resized.max() <= 1
    pixels = np.round((images[1, ..., 0] + 1) * 127.5).astype(np.uint8)
    expected = np.asarray(Image.fromarray(pixels).resize((33, 33), Image.BICUBIC), np.float32) / 127.5 - 1
    np.testing.assert_allclose(resized[1, ..., 0], expected, atol=1e-6)


def test_authors_fid_caps_the_counts_and_is_zero_for_one_distribution():
    rng = np.random.default_rng(0)
    real = rng.uniform(-1, 1, (1400, 8, 8, 1)).astype(np.float32)
    result = kv.authors_fid(real, real[::-1][:1100], model=_MeanColourInception(), batch_size=256)
    assert (result["n_real"], result["n_generated"]) == (1341, 1000)
    assert result["fid"] < 0.05
    darker = kv.authors_fid(real[:300], np.clip(real[300:600] - 0.5, -1, 1), model=_MeanColourInception())
    assert darker["fid"] > 100 * max(result["fid"], 1e-4)
