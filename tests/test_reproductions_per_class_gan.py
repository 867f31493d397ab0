"""Per-class GAN training, generation and the sample filters (tiny phantoms, CPU)."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras
import numpy as np
import pytest

from cxr_keras.data.phantoms import phantom_arrays
from cxr_keras.fingerprint import StaleArtefactError
from cxr_keras.gan import GAN
from cxr_keras.metrics import diversity_ratio
from cxr_keras.reproductions import per_class_gan


def test_images_by_class_splits_by_label_and_rejects_bad_labels():
    x = np.arange(5, dtype=np.float32).reshape(5, 1, 1, 1)
    groups = per_class_gan.images_by_class(x, np.array([0, 1, 0, 1, 1]), ["a", "b"])
    assert groups["a"].ravel().tolist() == [0, 2]
    assert groups["b"].ravel().tolist() == [1, 3, 4]
    with pytest.raises(ValueError, match="labels must be in"):
        per_class_gan.images_by_class(x, np.array([0, 1, 2, 0, 0]), ["a", "b"])


def test_distance_filter_drops_planted_copy_and_noise_keeps_new_phantoms():
    real, _ = phantom_arrays({"normal": 24}, size=32, seed=0)
    new, _ = phantom_arrays({"normal": 4}, size=32, seed=1)
    copy = real[:1].copy()
    noise = np.random.default_rng(0).uniform(-1, 1, (1, 32, 32, 1)).astype(np.float32)
    candidates = np.concatenate([new, copy, noise])
    kept, keep = per_class_gan.filter_samples(candidates, "distance", real_images=real)
    assert keep.tolist() == [True] * 4 + [False, False]
    assert len(kept) == 4


def _mean_intensity_discriminator(size):
    model = keras.Sequential([keras.Input((size, size, 1)), keras.layers.GlobalAveragePooling2D(),
                              keras.layers.Dense(1, kernel_initializer="ones")])
    return model


def test_discriminator_filter_keeps_the_highest_logits():
    images = np.full((8, 8, 8, 1), 0.5, np.float32)
    images[[2, 5]] = -0.9  # planted "bad" samples: D scores them lowest
    kept, keep = per_class_gan.filter_samples(images, "discriminator",
                                              discriminator=_mean_intensity_discriminator(8),
                                              keep_fraction=0.75)
    assert keep.sum() == 6 and not keep[2] and not keep[5]
    assert np.all(kept == 0.5)


def test_filter_errors_name_what_is_missing():
    images = np.zeros((2, 8, 8, 1), np.float32)
    with pytest.raises(ValueError, match="unknown filter"):
        per_class_gan.filter_samples(images, "radiologist")
    with pytest.raises(ValueError, match="needs the class's discriminator"):
        per_class_gan.filter_samples(images, "discriminator")
    with pytest.raises(ValueError, match="real training images"):
        per_class_gan.filter_samples(images, "distance")
    with pytest.raises(ValueError, match="keep_fraction"):
        per_class_gan.discriminator_keep_mask(images, None, 0.0)


def _tiny_gan(seed):
    generator = keras.Sequential([keras.Input((4,)), keras.layers.Dense(64, activation="tanh"),
                                  keras.layers.Reshape((8, 8, 1))])
    discriminator = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Flatten(),
                                      keras.layers.Dense(1)])
    gan = GAN(generator, discriminator, latent_dim=4, seed=seed)
    gan.compile(keras.optimizers.Adam(1e-3), keras.optimizers.Adam(1e-3), jit_compile=False)
    return gan


def test_train_generate_and_resume_per_class(tmp_path, capsys):
    rng = np.random.default_rng(0)
    images = {"normal": rng.uniform(-1, 1, (8, 8, 8, 1)).astype(np.float32),
              "pleural effusion": rng.uniform(-1, 1, (8, 8, 8, 1)).astype(np.float32)}
    built = []

    def build(name, recipe):
        assert recipe == {}
        built.append(name)
        return _tiny_gan(seed=len(built))

    gans, history = per_class_gan.train_per_class_gans(images, build, 1, tmp_path, batch_size=4)
    assert set(history["class"]) == {"normal", "pleural effusion"}
    assert history.groupby("class")["epoch"].max().tolist() == [1, 1]
    assert (tmp_path / "pleural_effusion" / "history.csv").is_file()
    progress = capsys.readouterr().err  # one bar over epochs per class, with the losses
    assert "GAN 1/2 (normal)" in progress and "GAN 2/2 (pleural effusion)" in progress
    # each bar ends full (tqdm may redraw it more than once, depending on how long an epoch takes)
    assert "GAN 1/2 (normal): 100%" in progress and "GAN 2/2 (pleural effusion): 100%" in progress
    assert "d_loss=" in progress

    generated, report = per_class_gan.generate_filtered(
        gans, {"normal": 3, "pleural effusion": 0}, method="discriminator", keep_fraction=0.5)
    assert generated["normal"].shape == (3, 8, 8, 1)
    assert generated["pleural effusion"].shape == (0, 8, 8, 1)
    assert np.abs(generated["normal"]).max() <= 1.0
    assert report.set_index("class").loc["normal", "generated"] == 6
    assert report.set_index("class").loc["normal", "passed_filter"] == 3

    # The distance filter against real images the generator cannot reach: every round fails.
    far_away = {"normal": 50.0 + np.arange(4, dtype=np.float32).reshape(4, 1, 1, 1) * np.ones((1, 8, 8, 1), np.float32)}
    with pytest.raises(ValueError, match="passed the distance filter, 3 needed"):
        per_class_gan.generate_filtered(gans, {"normal": 3}, method="distance",
                                        real_images=far_away, max_rounds=2)

    # Same call again: resumes from the checkpoints, so nothing is retrained.
    assert built == ["normal", "pleural effusion"]
    _, again = per_class_gan.train_per_class_gans(images, build, 1, tmp_path, batch_size=4)
    assert again[["epoch", "d_loss"]].equals(history[["epoch", "d_loss"]])


def test_gan_updates_count_full_batches_per_epoch():
    updates = per_class_gan.gan_updates({"large": 70, "small": 8, "empty": 0}, epochs=10, batch_size=32)
    assert updates.to_dict() == {"large": 20, "small": 10, "empty": 0}


def test_distance_ratio_tells_copies_lookalikes_and_noise_apart():
    rng = np.random.default_rng(0)
    real = rng.normal(0.0, 0.1, (40, 8, 8, 1)) + np.linspace(-0.5, 0.5, 8).reshape(1, 8, 1, 1)
    lookalikes = rng.normal(0.0, 0.1, (40, 8, 8, 1)) + np.linspace(-0.5, 0.5, 8).reshape(1, 8, 1, 1)
    noise = rng.uniform(-1.0, 1.0, (40, 8, 8, 1))
    ratio = per_class_gan.distance_ratio(
        {"copies": real[:10], "lookalikes": lookalikes, "noise": noise, "none": real[:0]},
        {"copies": real, "lookalikes": real, "noise": real, "none": real})
    assert ratio["copies"] == 0.0
    assert 0.7 < ratio["lookalikes"] < 1.3
    assert ratio["noise"] > 3.0
    assert np.isnan(ratio["none"])


def test_diversity_ratio_flags_mode_collapse():
    rng = np.random.default_rng(0)
    real = rng.normal(0.0, 0.1, (30, 8, 8, 1))
    varied = rng.normal(0.0, 0.1, (30, 8, 8, 1))
    collapsed = real[:1] + rng.normal(0.0, 0.001, (30, 8, 8, 1))
    ratio = per_class_gan.diversity_ratio({"varied": varied, "collapsed": collapsed, "one": varied[:1]},
                                          {"varied": real, "collapsed": real, "one": real})
    assert 0.8 < ratio["varied"] < 1.25
    assert ratio["collapsed"] < 0.05
    assert np.isnan(ratio["one"])
    assert ratio["varied"] == diversity_ratio(varied, real, statistic="median_nearest")


def test_recipe_sets_batch_size_and_min_updates_and_stamps_checkpoints(tmp_path):
    rng = np.random.default_rng(1)
    images = {"large": rng.uniform(-1, 1, (8, 8, 8, 1)).astype(np.float32),
              "small": rng.uniform(-1, 1, (3, 8, 8, 1)).astype(np.float32)}
    recipes_seen = []

    def build(name, recipe):
        recipes_seen.append(recipe)
        return _tiny_gan(seed=len(recipes_seen))

    recipe = {"batch_size": 4, "min_updates": 6}
    gans, history = per_class_gan.train_per_class_gans(images, build, 1, tmp_path, batch_size=32,
                                                       recipe=recipe)
    assert recipes_seen == [{}, {}]  # the kit's own keys stay here, not in the GAN build
    # large: 2 steps an epoch at batch 4 -> 3 epochs; small: one short batch an epoch -> 6 epochs
    assert history.groupby("class")["epoch"].max().to_dict() == {"large": 3, "small": 6}
    steps = {name: int(gan.g_optimizer.iterations.numpy()) for name, gan in gans.items()}
    assert steps == {"large": 6, "small": 6}
    assert per_class_gan.gan_updates({"large": 8, "small": 3}, 1, 4, min_updates=6).to_dict() == steps
    with pytest.raises(StaleArtefactError):  # the recipe is in the checkpoints' fingerprint
        per_class_gan.train_per_class_gans(images, build, 1, tmp_path, batch_size=32,
                                           recipe={**recipe, "min_updates": 8})
    with pytest.raises(ValueError, match="min_updates"):
        per_class_gan.train_per_class_gans(images, build, 1, tmp_path, 4, recipe={"min_updates": -1})
