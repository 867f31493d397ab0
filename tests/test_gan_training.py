"""The GAN / ConditionalGAN models: metrics, both networks learning, options, determinism."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras
import numpy as np
import pytest
import tensorflow as tf

from cxr_keras.gan import GAN, ConditionalGAN, EpochProgress
from cxr_keras.gan.training import METRIC_NAMES
from tests.scripts.tiny_gan import (
    LATENT_DIM,
    stripes,
    tiny_conditional_discriminator,
    tiny_conditional_generator,
    tiny_discriminator,
    tiny_gan,
    tiny_generator,
)


def _weights(model):
    return [w.copy() for w in model.get_weights()]


def _changed(before, model):
    return any(not np.allclose(a, b) for a, b in zip(before, model.get_weights()))


def test_fit_updates_both_networks_and_reports_paper_metrics():
    gan = tiny_gan()
    g_before, d_before = _weights(gan.generator), _weights(gan.discriminator)
    dataset = tf.data.Dataset.from_tensor_slices(stripes(32)).batch(16)
    history = gan.fit(dataset, epochs=2, verbose=0, shuffle=False).history
    assert set(METRIC_NAMES) <= set(history)
    assert _changed(g_before, gan.generator), "generator did not learn"
    assert _changed(d_before, gan.discriminator), "discriminator did not learn (Keras 2 freeze bug)"
    for name in ("d_acc_real", "d_acc_fake", "d_x", "d_g_z1", "d_g_z2"):
        assert all(0.0 <= v <= 1.0 for v in history[name]), name
    assert int(gan.d_optimizer.iterations.numpy()) == 4
    assert int(gan.g_optimizer.iterations.numpy()) == 4


def test_epoch_progress_counts_epochs_from_where_a_resumed_fit_starts(capsys):
    dataset = tf.data.Dataset.from_tensor_slices(stripes(32)).batch(16)
    tiny_gan().fit(dataset, epochs=3, initial_epoch=1, verbose=0,
                   callbacks=[EpochProgress("class A", mininterval=0)])
    bar = capsys.readouterr().err.replace("\r", "\n").splitlines()
    shown = [line for line in bar if line.startswith("class A")]
    assert "1/3 [" in shown[0] and "3/3 [" in shown[-1], shown
    assert "d_loss=" in shown[-1] and "g_loss=" in shown[-1]


def test_d_steps_updates_discriminator_more_often():
    gan = tiny_gan(d_steps=3)
    gan.fit(stripes(32), batch_size=16, epochs=1, verbose=0)
    assert int(gan.d_optimizer.iterations.numpy()) == 6
    assert int(gan.g_optimizer.iterations.numpy()) == 2


def test_label_smoothing_and_instance_noise_change_the_losses():
    data = stripes(16)
    plain = tiny_gan().fit(data, batch_size=16, epochs=1, verbose=0, shuffle=False).history
    smooth = tiny_gan(label_smoothing=0.3).fit(data, batch_size=16, epochs=1, verbose=0,
                                               shuffle=False).history
    noisy = tiny_gan(instance_noise=0.5).fit(data, batch_size=16, epochs=1, verbose=0,
                                             shuffle=False).history
    assert smooth["d_loss"][0] != pytest.approx(plain["d_loss"][0], rel=1e-3)
    assert noisy["d_x"][0] != pytest.approx(plain["d_x"][0], rel=1e-3)


def test_same_seed_and_data_give_identical_first_epoch():
    data = tf.data.Dataset.from_tensor_slices(stripes(48)).batch(16)
    first = tiny_gan(seed=3).fit(data, epochs=1, verbose=0, shuffle=False).history
    second = tiny_gan(seed=3).fit(data, epochs=1, verbose=0, shuffle=False).history
    other = tiny_gan(seed=4).fit(data, epochs=1, verbose=0, shuffle=False).history
    assert first == second
    assert first["g_loss"] != other["g_loss"]


def test_generate_is_reproducible_and_in_range():
    gan = tiny_gan()
    images = gan.generate(10, seed=5, batch_size=4)
    assert images.shape == (10, 16, 16, 1) and images.dtype == np.float32
    assert images.min() >= -1.0 and images.max() <= 1.0
    np.testing.assert_array_equal(images, gan.generate(10, seed=5, batch_size=4))
    # the same noise in other batches: equal up to the float rounding of other matmul blockings
    np.testing.assert_allclose(images, gan.generate(10, seed=5, batch_size=7), rtol=0, atol=1e-6)
    assert not np.array_equal(images, gan.generate(10, seed=6))
    with pytest.raises(ValueError, match="only accepted by ConditionalGAN"):
        gan.generate(2, labels=[0, 1])


def test_uniform_latent_distribution_draws_in_range():
    gan = GAN(tiny_generator(), tiny_discriminator(), LATENT_DIM, latent_distribution="uniform")
    z = keras.ops.convert_to_numpy(gan.sample_latent(500))
    assert z.shape == (500, LATENT_DIM)
    assert z.min() >= -1.0 and z.max() <= 1.0 and z.std() > 0.5


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"latent_dim": 0}, "latent_dim must be a positive integer"),
        ({"latent_distribution": "cauchy"}, "unknown latent_distribution 'cauchy'"),
    ],
)
def test_gan_rejects_bad_arguments(kwargs, message):
    args = {"latent_dim": LATENT_DIM, **kwargs}
    with pytest.raises(ValueError, match=message):
        GAN(tiny_generator(), tiny_discriminator(), **args)


def test_gan_rejects_unbuilt_models_and_bad_compile_options():
    unbuilt = keras.Sequential([keras.layers.Dense(4)])
    with pytest.raises(ValueError, match="has no weights yet"):
        GAN(unbuilt, tiny_discriminator(), LATENT_DIM)
    gan = GAN(tiny_generator(), tiny_discriminator(), LATENT_DIM)
    adam = keras.optimizers.Adam()
    with pytest.raises(ValueError, match="two separate optimizer objects"):
        gan.compile(adam, adam)
    with pytest.raises(ValueError, match=r"label_smoothing must be in \[0, 1\)"):
        gan.compile(keras.optimizers.Adam(), keras.optimizers.Adam(), label_smoothing=1.0)
    with pytest.raises(ValueError, match="d_steps must be a positive integer"):
        gan.compile(keras.optimizers.Adam(), keras.optimizers.Adam(), d_steps=0)
    with pytest.raises(ValueError, match="mixed_float16"):
        gan.compile(keras.optimizers.Adam(), keras.optimizers.Adam(), mixed_precision=True)


def _conditional_gan(num_classes=3, label_shape=(), **kwargs):
    keras.utils.set_random_seed(0)
    gan = ConditionalGAN(tiny_conditional_generator(num_classes, label_shape=label_shape),
                         tiny_conditional_discriminator(num_classes, label_shape=label_shape),
                         LATENT_DIM, num_classes, **kwargs)
    gan.compile(keras.optimizers.Adam(1e-3), keras.optimizers.Adam(1e-3), jit_compile=False)
    return gan


@pytest.mark.parametrize("label_shape", [(), (1,)])
def test_conditional_gan_trains_on_image_label_pairs_and_generates_per_label(label_shape):
    gan = _conditional_gan(label_shape=label_shape)
    labels = np.arange(24) % 3
    history = gan.fit(stripes(24), labels, batch_size=8, epochs=1, verbose=0).history
    assert set(METRIC_NAMES) <= set(history)
    images = gan.generate(5, seed=0, labels=2)
    assert images.shape == (5, 16, 16, 1)
    z = np.zeros((2, LATENT_DIM), "float32")
    by_label = gan.generate_from_latent(z, labels=[0, 1])
    assert not np.allclose(by_label[0], by_label[1]), "the label has no effect on G"
    with pytest.raises(ValueError, match=r"labels must be in \[0, 3\)"):
        gan.generate(2, labels=3)
    with pytest.raises(ValueError, match=r"\(images, labels\) batches"):
        gan.fit(stripes(8), batch_size=8, epochs=1, verbose=0)


def test_fake_label_sampling_follows_the_chosen_rule():
    prior = [0.73, 0.2, 0.07]
    empirical = _conditional_gan(label_sampling="empirical", class_prior=prior)
    drawn = keras.ops.convert_to_numpy(empirical.sample_fake_labels(None, 4000))
    np.testing.assert_allclose(np.bincount(drawn, minlength=3) / 4000, prior, atol=0.03)

    uniform = _conditional_gan(label_sampling="uniform")
    drawn = keras.ops.convert_to_numpy(uniform.sample_fake_labels(None, 3000))
    np.testing.assert_allclose(np.bincount(drawn, minlength=3) / 3000, [1 / 3] * 3, atol=0.03)

    batch = _conditional_gan(label_sampling="batch")
    real = tf.constant([2, 0, 2, 1])
    np.testing.assert_array_equal(batch.sample_fake_labels(real, 4), real)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"label_sampling": "empirical"}, "needs class_prior"),
        ({"label_sampling": "empirical", "class_prior": [1, 2]}, "must be 3 non-negative"),
        ({"label_sampling": "uniform", "class_prior": [1, 1, 1]}, "only used with"),
        ({"label_sampling": "stratified"}, "unknown label_sampling 'stratified'"),
    ],
)
def test_conditional_gan_validates_label_sampling(kwargs, message):
    with pytest.raises(ValueError, match=message):
        _conditional_gan(**kwargs)


def test_mixed_precision_builds_and_runs_one_step():
    keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        gan = GAN(tiny_generator(), tiny_discriminator(), LATENT_DIM)
        if keras.backend.backend() == "jax":
            with pytest.raises(NotImplementedError, match="Train in float32 on JAX"):
                gan.compile(keras.optimizers.Adam(), keras.optimizers.Adam(),
                            mixed_precision=True)
            return
        gan.compile(keras.optimizers.Adam(), keras.optimizers.Adam(), mixed_precision=True,
                    jit_compile=False)
    finally:
        keras.mixed_precision.set_global_policy("float32")
    assert isinstance(gan.g_optimizer, keras.optimizers.LossScaleOptimizer)
    history = gan.fit(stripes(8), batch_size=8, epochs=1, verbose=0).history
    assert np.isfinite(history["d_loss"][0]) and np.isfinite(history["g_loss"][0])
    assert gan.generate(2, seed=0).dtype == np.float32


@pytest.mark.filterwarnings("ignore:The model does not have any trainable weights")
def test_keras2_freeze_pattern_leaves_discriminator_untrained_under_keras3():
    """Why the engine exists: compile D, freeze it, compile the combined model, alternate
    train_on_batch. Keras 3 reads ``trainable`` at call time, so D never changes."""
    keras.utils.set_random_seed(0)
    generator, discriminator = tiny_generator(), tiny_discriminator()
    bce = keras.losses.BinaryCrossentropy(from_logits=True)
    discriminator.compile(keras.optimizers.Adam(1e-2), loss=bce)
    discriminator.trainable = False
    z = keras.Input((LATENT_DIM,))
    combined = keras.Model(z, discriminator(generator(z)))
    combined.compile(keras.optimizers.Adam(1e-2), loss=bce)
    d_before, g_before = _weights(discriminator), _weights(generator)
    rng = np.random.default_rng(0)
    real = stripes(16)
    for _ in range(2):
        fake = generator.predict(rng.standard_normal((16, LATENT_DIM)), verbose=0)
        batch = np.concatenate([real, fake])
        discriminator.train_on_batch(batch, np.r_[np.ones(16), np.zeros(16)])
        combined.train_on_batch(rng.standard_normal((16, LATENT_DIM)), np.ones(16))
    assert _changed(g_before, generator)
    assert not _changed(d_before, discriminator)
