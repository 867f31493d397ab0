import numpy as np
import pandas as pd
import pytest
from scipy.ndimage import gaussian_filter

from cxr_keras.data.phantoms import render_batch
from cxr_keras.health.measure import (
    COMPARED_METRICS,
    GANSamples,
    collapsed_images,
    compare_sets,
    embed,
    gan_health,
    pixel_embedder,
    reference_points,
)
from cxr_keras.health.verdict import (
    COLLAPSE_DIVERSITY,
    D_WINS_G_LOSS,
    gan_verdict,
    training_signals,
)

N = 40
SIZE = 8
PROJECTION = np.random.default_rng(9).normal(size=(SIZE * SIZE, 12))


def projection_embedder(images):
    """A second, fixed feature space (a random linear projection), standing in for a network."""
    return {"projection": np.asarray(images).reshape(len(images), -1) @ PROJECTION}


def normal_phantoms(seed, n=N):
    """``n`` normal chest phantoms at 8 x 8 (rendered at 32 and averaged 4 x 4)."""
    images = render_batch(["normal"] * n, size=32, seed=seed)[..., None]
    return images.reshape(n, SIZE, 4, SIZE, 4, 1).mean(axis=(2, 4))


@pytest.fixture(scope="module")
def real_sets():
    """Three disjoint sets of real images: train, held-out, and fresh ones to offer as samples."""
    return normal_phantoms(0), normal_phantoms(1), normal_phantoms(2)


def history(d_g_z, g_loss, d_loss=None):
    d_loss = np.full(len(g_loss), 0.5) if d_loss is None else d_loss
    return pd.DataFrame(
        {
            "epoch": np.arange(1, len(g_loss) + 1),
            "d_loss": d_loss,
            "g_loss": g_loss,
            "d_g_z1": d_g_z,
            "d_g_z2": d_g_z,
        }
    )


def health_of(real_sets, generated, gan_history=None, embedders=(pixel_embedder,)):
    train, holdout, _ = real_sets
    table = gan_health({"gan": GANSamples(generated, train, holdout, gan_history)}, embedders, 20)
    return table.iloc[0]


def test_held_out_real_images_offered_as_generated_are_healthy(real_sets):
    row = health_of(real_sets, real_sets[2], embedders=(pixel_embedder, projection_embedder))
    assert row["verdict"] == "healthy", row["reason"]
    for space in ("pixel", "projection"):
        assert row[f"{space}_diversity"] == pytest.approx(row[f"{space}_diversity_floor"], rel=0.15)
        assert row[f"{space}_kid"] < row[f"{space}_kid_collapsed"] / 5
        assert row[f"{space}_coverage"] > 0.8
        assert 0.7 < row[f"{space}_memorization_ratio"] < 1.4


def test_one_image_repeated_is_mode_collapsed(real_sets):
    row = health_of(real_sets, np.repeat(real_sets[2][:1], N, axis=0))
    assert row["verdict"] == "mode-collapsed"
    assert row["pixel_diversity"] == 0.0
    assert "diversity ratio below" in row["reason"]


@pytest.mark.parametrize(
    "distort",
    [
        lambda x: np.clip(x + np.random.default_rng(0).normal(0, 0.05, x.shape), -1, 1),
        lambda x: gaussian_filter(x, sigma=(0, 0.5, 0.5, 0)),
    ],
    ids=["noise", "blur"],
)
def test_real_images_with_mild_noise_or_blur_are_not_collapsed(real_sets, distort):
    row = health_of(real_sets, distort(real_sets[2]))
    assert row["verdict"] != "mode-collapsed", row["reason"]
    assert row["pixel_diversity"] > COLLAPSE_DIVERSITY


def test_exact_copies_of_training_images_are_memorizing(real_sets):
    row = health_of(real_sets, real_sets[0][::-1])
    assert row["verdict"] == "memorizing"
    assert row["pixel_memorization_ratio"] == 0.0
    assert row["pixel_near_copy_fraction"] == 1.0


def test_low_fake_score_and_rising_generator_loss_is_discriminator_wins(real_sets):
    epochs = 6
    gan_history = history(np.full(epochs, 0.05), np.linspace(4.0, 9.0, epochs))
    row = health_of(real_sets, real_sets[2], gan_history)
    assert row["verdict"] == "discriminator-wins"
    assert row["recent_d_g_z"] == pytest.approx(0.05)
    assert row["recent_g_loss"] > D_WINS_G_LOSS and row["g_loss_trend"] > 0


def test_nan_in_history_is_diverged(real_sets):
    gan_history = history(np.full(4, 0.4), np.array([1.0, 1.2, np.nan, np.nan]))
    row = health_of(real_sets, real_sets[2], gan_history)
    assert row["verdict"] == "diverged"
    assert row["history_nonfinite"] == 2


def test_non_finite_samples_are_diverged_with_nan_metrics(real_sets):
    generated = real_sets[2].copy()
    generated[3] = np.nan
    row = health_of(real_sets, generated)
    assert row["verdict"] == "diverged"
    assert np.isnan(row["pixel_kid"]) and np.isfinite(row["pixel_kid_floor"])


def test_references_sit_at_real_and_at_one_image(real_sets):
    row = health_of(real_sets, real_sets[2])
    assert row["n_floor"] == N and row["n_generated"] == N
    assert row["pixel_kid_floor"] < row["pixel_kid_collapsed"] / 5
    assert row["pixel_diversity_collapsed"] < COLLAPSE_DIVERSITY < row["pixel_diversity_floor"]
    assert row["pixel_coverage_collapsed"] < 0.2 < row["pixel_coverage_floor"]


def test_reference_points_alone_match_the_health_table(real_sets):
    train, holdout, fresh = real_sets
    references = reference_points(train, holdout, N, [pixel_embedder], kid_subsets=20)["pixel"]
    row = health_of(real_sets, fresh)
    for reference in ("floor", "collapsed"):
        for metric, value in references[reference].items():
            assert row[f"pixel_{metric}_{reference}"] == pytest.approx(value)
    # The floor at n >= len(train) uses every training image; FID ignores their order.
    floor_fid = compare_sets(holdout.reshape(N, -1), train.reshape(N, -1), kid_subsets=2)["fid"]
    assert references["floor"]["fid"] == pytest.approx(floor_fid)


def test_collapse_check_needs_no_space_better_than_the_collapsed_reference():
    base = {**training_signals(None), "samples_finite": True}
    spaces = ("inception_2048", "cxr")
    # Issue 11's plausible Davoodi GAN: worse than one image on Inception KID; in the
    # classifier's space the measured floor's KID was worse too, but its coverage was not.
    row = {
        **base,
        "inception_2048_diversity": 0.9,
        "inception_2048_kid": 0.34,
        "inception_2048_kid_collapsed": 0.20,
        "inception_2048_coverage": 0.0,
        "inception_2048_coverage_collapsed": 0.02,
        "cxr_diversity": 0.9,
        "cxr_kid": 1.5,
        "cxr_kid_collapsed": 0.8,
        "cxr_coverage": 0.4,
        "cxr_coverage_collapsed": 0.06,
    }
    assert gan_verdict(row, spaces) == ("healthy", "every check passed (no training history given)")
    assert gan_verdict({**row, "cxr_kid": 0.5, "cxr_coverage": 0.0}, spaces)[0] == "healthy"
    # Varied samples that do no better than one repeated image are unfaithful, not collapsed;
    # with low diversity as well, collapsed.
    verdict, reason = gan_verdict({**row, "cxr_coverage": 0.05}, spaces)
    assert verdict == "unfaithful"
    assert "no better than one repeated real image in any space" in reason
    verdict, reason = gan_verdict({**row, "cxr_coverage": 0.05, "cxr_diversity": 0.5}, spaces)
    assert verdict == "mode-collapsed" and "no better than one repeated" in reason
    assert gan_verdict({**row, "cxr_diversity": 0.5}, spaces)[0] == "mode-collapsed"
    # A metric on which the real floor itself loses to the collapsed reference cannot decide:
    # the CXR KID below the collapsed one counts no more once the floor's is above it.
    low_kid = {**row, "cxr_kid": 0.5, "cxr_coverage": 0.0, "cxr_coverage_collapsed": 0.06}
    assert gan_verdict({**low_kid, "cxr_kid_floor": 0.3}, spaces)[0] == "healthy"
    verdict, reason = gan_verdict({**low_kid, "cxr_kid_floor": 1.54}, spaces)
    assert verdict == "unfaithful", reason


def test_every_failed_check_is_in_the_reason_and_the_first_names_the_verdict():
    row = {
        **training_signals(history(np.full(3, 0.02), np.full(3, 6.0))),
        "samples_finite": True,
        "pixel_diversity": 0.1,
        "pixel_memorization_ratio": 0.2,
    }
    verdict, reason = gan_verdict(row, ["pixel"])
    assert verdict == "mode-collapsed"
    assert "diversity" in reason and "nearest training image" in reason and "D(G(z))" in reason


def test_training_signals_read_the_last_epochs():
    signals = training_signals(history(np.array([0.5, 0.4, 0.1, 0.05, 0.03]), np.arange(1.0, 6.0)))
    assert signals["history_epochs"] == 5 and signals["history_nonfinite"] == 0
    assert signals["recent_d_g_z"] == pytest.approx(0.06)
    assert signals["recent_g_loss"] == pytest.approx(4.0)
    assert signals["g_loss_trend"] == pytest.approx(2.0)
    exploding = training_signals(history(np.full(3, 0.3), np.array([1.0, 50.0, 400.0])))
    assert gan_verdict({**exploding, "samples_finite": True}, [])[0] == "diverged"
    with pytest.raises(ValueError, match="'g_loss' column"):
        training_signals(pd.DataFrame({"loss": [1.0]}))


def test_collapsed_images_are_one_image_with_faint_noise(real_sets):
    copies = collapsed_images(real_sets[0], 50, noise=0.02, index=3)
    assert copies.shape == (50, SIZE, SIZE, 1) and copies.dtype == np.float32
    assert copies.min() >= -1 and copies.max() <= 1
    assert np.abs(copies - real_sets[0][3]).mean() == pytest.approx(
        0.02 * np.sqrt(2 / np.pi), rel=0.2
    )
    with pytest.raises(ValueError, match="need n >= 2 copies"):
        collapsed_images(real_sets[0], 1)


def test_compare_sets_accepts_plain_feature_matrices():
    rng = np.random.default_rng(0)
    real, fake = rng.normal(size=(80, 6)), rng.normal(size=(60, 6))
    same = compare_sets(real, fake, kid_subsets=10)
    shifted = compare_sets(real, fake + 1.5, kid_subsets=10)
    assert tuple(same) == COMPARED_METRICS
    assert same["kid"] < shifted["kid"] / 5 and same["fid"] < shifted["fid"] / 5
    assert same["coverage"] > 0.8 and shifted["coverage"] < 0.5
    assert 0.8 < same["diversity"] < 1.2 and 0.8 < shifted["diversity"] < 1.2


def test_inputs_are_validated(real_sets):
    train, holdout, fresh = real_sets
    with pytest.raises(ValueError, match="generated must be an NHWC array"):
        GANSamples(fresh[0], train, holdout)
    with pytest.raises(ValueError, match="generated and holdout images differ in shape"):
        GANSamples(fresh[:, :4], train, holdout)
    with pytest.raises(TypeError, match=r"gans\['x'\] must be a GANSamples"):
        gan_health({"x": (fresh, train, holdout)}, [pixel_embedder])
    with pytest.raises(ValueError, match="two embedders produce the feature space 'pixel'"):
        embed(fresh, [pixel_embedder, pixel_embedder])


def tiny_classifier(channels):
    import keras

    return keras.Sequential(
        [
            keras.Input((8, 8, channels)),
            keras.layers.Flatten(),
            keras.layers.Dense(5, activation="relu", name="hidden"),
            keras.layers.Dense(2, activation="softmax"),
        ]
    )


def test_penultimate_features_are_the_classification_heads_input():
    from cxr_keras.health.measure import classifier_embedder, penultimate_features

    images = np.random.default_rng(0).uniform(-1, 1, size=(7, 8, 8, 1)).astype(np.float32)
    classifier = tiny_classifier(1)
    kernel, bias = classifier.get_layer("hidden").get_weights()
    expected = np.maximum(images.reshape(7, -1) @ kernel + bias, 0.0)
    np.testing.assert_allclose(penultimate_features(classifier, images), expected, atol=1e-5)
    rgb = tiny_classifier(3)
    features = classifier_embedder(rgb, space="cxr")(images)["cxr"]
    assert features.shape == (7, 5)
    np.testing.assert_allclose(features, penultimate_features(rgb, np.repeat(images, 3, -1)))
    with pytest.raises(TypeError, match="classifier must be a keras.Model"):
        penultimate_features("not a model", images)


def test_remembering_embeds_each_image_array_once(real_sets):
    from cxr_keras.health.measure import remembering

    calls = []

    def counting(images):
        calls.append(len(images))
        return pixel_embedder(images)

    embedder = remembering(counting)
    train, holdout, fresh = real_sets
    gans = {
        name: GANSamples(images, train, holdout)
        for name, images in {"a": fresh, "b": fresh[::-1]}.items()
    }
    table = gan_health(gans, [embedder], kid_subsets=5)
    assert len(calls) == 5  # train, holdout, collapsed, a, b
    assert table.loc[0, "pixel_fid"] == pytest.approx(table.loc[1, "pixel_fid"])
    assert np.array_equal(embedder(train.copy())["pixel"], pixel_embedder(train)["pixel"])
    assert len(calls) == 5


def test_inception_embedder_names_both_layers_from_one_pass():
    from cxr_keras.health.measure import inception_embedder

    class FakeInception:
        """Stands in for the FID network: 2048-d and 768-d outputs, counting its batches."""

        batches = 0

        def predict_on_batch(self, batch):
            self.batches += 1
            flat = batch.reshape(len(batch), -1)
            return np.tile(flat[:, :1], (1, 2048)), np.tile(flat[:, :1], (1, 768))

    model = FakeInception()
    images = np.linspace(-1, 1, 5 * 4 * 4).reshape(5, 4, 4, 1)
    features = inception_embedder(model, batch_size=8)(images)
    assert set(features) == {"inception_2048", "inception_768"} and model.batches == 1
    assert features["inception_2048"].shape == (5, 2048)
    assert features["inception_768"].shape == (5, 768)
