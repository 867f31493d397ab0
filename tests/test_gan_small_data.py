"""Small-data GAN options: augmentation of D's inputs (fixed and adaptive p), EMA generator, R1."""

import keras
import numpy as np
import pytest
import tensorflow as tf
from keras import layers, ops

from cxr_keras.gan import restore_checkpoint, save_checkpoint
from cxr_keras.gan.augmentation import DiscriminatorAugment, parse_policy
from cxr_keras.gan.generate import latent_vectors
from cxr_keras.gan.options import TrainingOptions, split_recipe
from cxr_keras.gan.penalty import mode_seeking_ratio, r1_penalty
from tests.scripts.tiny_gan import LATENT_DIM, SIZE, stripes, tiny_gan

POLICY = "translation,cutout,color"


class SpyDiscriminator(keras.Model):
    """Wraps a discriminator and records every image batch it is called on (eager runs; on
    JAX, whose gradients trace the step, through a host callback)."""

    def __init__(self, inner):
        super().__init__(name="spy")
        self.inner = inner
        self.seen = []
        self(np.zeros((1, SIZE, SIZE, 1), "float32"))
        self.seen.clear()

    def call(self, images, training=False):
        if keras.backend.backend() == "jax":
            import jax

            jax.debug.callback(lambda value: self.seen.append(np.asarray(value)), images)
        else:
            self.seen.append(ops.convert_to_numpy(images))
        return self.inner(images, training=training)


def _constant_generator_gan(**options):
    """A tiny GAN whose generator emits the same image (0.5 everywhere), D spied on."""
    gan = tiny_gan(run_eagerly=True, **options)
    last = gan.generator.layers[-2]
    last.set_weights([np.zeros_like(last.kernel), np.full(last.bias.shape, np.arctanh(0.5))])
    gan.discriminator = SpyDiscriminator(gan.discriminator)
    return gan


@pytest.mark.parametrize("probability", [1.0, 0.0])
def test_augmentation_reaches_real_and_fake_inputs_in_the_d_and_the_g_step(probability):
    gan = _constant_generator_gan(augment=POLICY, augment_p=probability)
    real = stripes(8)
    gan.fit(real, batch_size=8, epochs=1, verbose=0, shuffle=False)
    seen_real, seen_fake_d, seen_fake_g = gan.discriminator.seen  # D step real, fake; G step
    fake = np.full_like(real, 0.5)
    if probability == 0.0:
        np.testing.assert_array_equal(seen_real, real)
        np.testing.assert_allclose(seen_fake_d, fake, atol=1e-6)
        np.testing.assert_allclose(seen_fake_g, fake, atol=1e-6)
        return
    assert not np.allclose(seen_real, real)
    for seen in (seen_fake_d, seen_fake_g):
        assert not np.allclose(seen, fake)
        assert not np.allclose(seen[0], seen[1:])  # draws differ per image


def test_zero_probability_step_equals_the_plain_step_exactly():
    plain = tiny_gan()
    augmented = tiny_gan(augment=POLICY, augment_p=0.0)
    for gan in (plain, augmented):
        gan.fit(stripes(32), batch_size=8, epochs=1, verbose=0, shuffle=False)
    for a, b in zip(plain.generator.get_weights() + plain.discriminator.get_weights(),
                    augmented.generator.get_weights() + augmented.discriminator.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert float(augmented.augmenter.probability.numpy()) == 0.0


def test_augment_ops_translate_and_cut_out_per_image():
    augment = DiscriminatorAugment("translation", 1.0, 0.6, 4, 1000, seed=3)
    images = np.zeros((16, 8, 8, 1), "float32")
    images[:, 4, 4, 0] = 1.0
    moved = ops.convert_to_numpy(augment(images))
    assert moved.shape == images.shape and set(np.unique(moved)) == {0.0, 1.0}
    assert (moved.sum(axis=(1, 2, 3)) == 1).all()  # a 1 px shift keeps the centre pixel in view
    found = np.argwhere(moved[..., 0] == 1.0)[:, 1:]
    assert np.abs(found - 4).max() == 1 and (found != 4).any(axis=1).sum() > 4  # 1/8 of 8 px
    cut = ops.convert_to_numpy(DiscriminatorAugment("cutout", 1.0, 0.6, 4, 1000, 0)(
        np.ones((16, 8, 8, 1), "float32")))
    zeros = (cut == 0).sum(axis=(1, 2, 3))
    assert zeros.max() == 16 and zeros.min() > 0  # a 4x4 square, clipped at the border
    with pytest.raises(ValueError, match="augment must name one or more of"):
        parse_policy("translation,flip")


def test_adaptive_probability_rises_when_d_overfits_a_tiny_set():
    gan = tiny_gan(lr=1e-2, augment=POLICY, augment_p="adaptive", ada_interval=1,
                   ada_ramp_images=400)
    gan.g_optimizer.learning_rate.assign(0.0)  # G frozen: D memorizes the 8 real images
    history = gan.fit(np.tile(stripes(8), (60, 1, 1, 1)), batch_size=8, epochs=3,
                      verbose=0).history
    assert history["augment_p"][-1] > 0.3
    assert history["augment_p"][0] < history["augment_p"][-1]
    assert history["ada_r_t"][-1] > 0.6


def test_adaptive_probability_stays_at_zero_when_d_cannot_tell():
    gan = tiny_gan(augment=POLICY, augment_p="adaptive", ada_interval=1, ada_ramp_images=400)
    gan.discriminator.set_weights([np.zeros_like(w) for w in gan.discriminator.get_weights()])
    gan.d_optimizer.learning_rate.assign(0.0)  # D's logit stays 0: r_t = 0 < target
    history = gan.fit(stripes(64), batch_size=8, epochs=2, verbose=0).history
    assert history["augment_p"] == [0.0, 0.0]
    assert history["ada_r_t"] == [0.0, 0.0]


@pytest.mark.parametrize("warmup", [0, 10])
def test_ema_generator_is_the_moving_average_and_is_what_generate_uses(warmup):
    gan = tiny_gan(ema_decay=0.9, ema_warmup=warmup)
    start = gan.generator.get_weights()
    gan.fit(stripes(8), batch_size=8, epochs=1, verbose=0)
    decay = 0.9 * (1 / warmup if warmup else 1.0)
    for average, w0, w1 in zip(gan.sampling_generator.get_weights(), start,
                               gan.generator.get_weights()):
        np.testing.assert_allclose(average, decay * w0 + (1 - decay) * w1, rtol=1e-5, atol=1e-7)
        assert not np.allclose(average, w1)
    z = latent_vectors(4, LATENT_DIM, "normal", 0)
    np.testing.assert_allclose(gan.generate(4, seed=0), ops.convert_to_numpy(
        gan.sampling_generator(z, training=False)), atol=1e-6)
    assert not np.allclose(gan.generate(4, seed=0),
                           ops.convert_to_numpy(gan.generator(z, training=False)))


def test_ema_weights_and_adaptive_p_survive_save_and_restore(tmp_path):
    recipe = {"ema_decay": 0.9, "augment": "translation", "augment_p": "adaptive",
              "ada_interval": 1, "ada_ramp_images": 64}
    gan = tiny_gan(**recipe)
    gan.augmenter.probability.assign(0.37)
    gan.fit(stripes(32), batch_size=8, epochs=1, verbose=0)
    path = save_checkpoint(gan, tmp_path, 1)
    restored = tiny_gan(seed=5, **recipe)
    restore_checkpoint(restored, path)
    for a, b in zip(gan.sampling_generator.get_weights(),
                    restored.sampling_generator.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert float(restored.augmenter.probability.numpy()) == float(
        gan.augmenter.probability.numpy()) != 0.37
    with pytest.raises(ValueError, match="saved with other training options"):
        restore_checkpoint(tiny_gan(), path)


def _float64_discriminator():
    image = keras.Input((3, 3, 1), dtype="float64")
    x = layers.Flatten(dtype="float64")(image)
    x = layers.Dense(4, activation="tanh", dtype="float64")(x)
    return keras.Model(image, layers.Dense(1, dtype="float64")(x))


@pytest.mark.skipif(keras.backend.backend() != "tensorflow",
                    reason="differentiates with tf.GradientTape; JAX's and PyTorch's R1 are "
                           "compared with TensorFlow's in tests/test_gan_backends.py")
def test_r1_gradient_matches_a_finite_difference_of_the_penalty():
    keras.utils.set_random_seed(1)
    model = _float64_discriminator()
    images = np.random.default_rng(0).normal(size=(5, 3, 3, 1))
    kernel = model.layers[2].kernel

    def penalty():
        return float(r1_penalty(model, images, gamma=2.0)[1])

    with tf.GradientTape() as tape:
        _, value = r1_penalty(model, images, gamma=2.0)
    analytic = tape.gradient(value, kernel).numpy()
    eps, base = 1e-5, kernel.numpy()
    for index in [(0, 0), (4, 1), (8, 3)]:
        estimates = []
        for sign in (1, -1):
            shifted = base.copy()
            shifted[index] += sign * eps
            kernel.assign(shifted)
            estimates.append(penalty())
        kernel.assign(base)
        numeric = (estimates[0] - estimates[1]) / (2 * eps)
        np.testing.assert_allclose(analytic[index], numeric, rtol=1e-5, atol=1e-9)
    assert np.abs(analytic).max() > 1e-3


def test_r1_penalty_of_a_linear_discriminator_is_half_gamma_squared_weight_norm():
    weights = np.arange(1.0, 10.0).reshape(9, 1)
    linear = keras.Sequential([keras.Input((3, 3, 1)), layers.Flatten(),
                               layers.Dense(1, use_bias=False)])
    linear.layers[-1].set_weights([weights])
    _, value = r1_penalty(linear, np.ones((4, 3, 3, 1), "float32"), gamma=0.5)
    assert float(value) == pytest.approx(0.25 * (weights ** 2).sum(), rel=1e-6)


def test_lazy_r1_is_applied_every_k_steps_and_logged():
    gan = tiny_gan(r1_gamma=1.0, r1_every=2)
    history = gan.fit(stripes(8), batch_size=8, epochs=2, verbose=0).history
    first, second = history["r1_penalty"]  # epoch 1: step 0 (due), epoch 2: step 1 (not due)
    assert first > 0 and second == 0.0


def test_mode_seeking_ratio_is_image_gap_over_noise_gap_between_the_batch_halves():
    rng = np.random.default_rng(0)
    images = rng.uniform(-1, 1, (5, 4, 4, 1)).astype("float32")  # the odd fifth is left out
    latents = rng.normal(0, 1, (5, 3)).astype("float32")
    expected = np.mean(np.abs(images[:2] - images[2:4]).mean(axis=(1, 2, 3))
                       / (np.abs(latents[:2] - latents[2:4]).mean(axis=1) + 1e-5))
    assert float(mode_seeking_ratio(images, latents)) == pytest.approx(expected, rel=1e-5)
    assert float(mode_seeking_ratio(np.repeat(images[:1], 4, axis=0), latents[:4])) == 0.0


def test_mode_seeking_spreads_the_generator_and_logs_its_ratio():
    """The same GAN, seed and data: the mode-seeking weight makes two noise vectors' images
    lie further apart after training, and the history carries the ratio."""
    spreads = {}
    for weight in (0.0, 0.5):
        gan = tiny_gan(mode_seeking=weight)
        history = gan.fit(stripes(32), batch_size=16, epochs=6, verbose=0).history
        z = latent_vectors(64, LATENT_DIM, seed=1)
        images = ops.convert_to_numpy(gan.generator(z))
        spreads[weight] = float(mode_seeking_ratio(images, z))
        assert ("mode_seeking_ratio" in history) == bool(weight)
    assert spreads[0.5] > 1.15 * spreads[0.0]  # measured 0.222 against 0.180
    with pytest.raises(ValueError, match="mode_seeking must be >= 0"):
        TrainingOptions(mode_seeking=-1.0)


def test_options_are_validated_and_a_recipe_splits_into_builder_and_compile_kwargs():
    recipe = {"augment": POLICY, "augment_p": "adaptive", "ada_target": 0.6,
              "ema_decay": 0.999, "r1_gamma": 1.0, "spectral_norm": True}
    assert split_recipe(recipe) == ({"spectral_norm": True},
                                    {key: v for key, v in recipe.items() if key != "spectral_norm"})
    with pytest.raises(ValueError, match="unknown GAN recipe option"):
        split_recipe({"ema": 0.9})
    with pytest.raises(ValueError, match="augment_p must be a number in"):
        TrainingOptions(augment="cutout", augment_p=1.5)
    with pytest.raises(ValueError, match="ema_decay must be in"):
        TrainingOptions(ema_decay=1.0)
    with pytest.raises(ValueError, match="r1_every must be a positive integer"):
        TrainingOptions(r1_every=0)
    with pytest.raises(TypeError, match="pass them to build_gan_pair"):
        tiny_gan(spectral_norm=True)
    assert not {"augment_p", "ada_r_t", "r1_penalty"} & set(tiny_gan().trackers)
