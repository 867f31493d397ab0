"""The papers' networks: shapes, parameter counts, the fast 16x16 conv, conditioning."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras
import numpy as np
import pytest
from keras import ops

from cxr_keras.models import (
    GAN_ARCHITECTURES,
    TapSumConv2D,
    build_gan_pair,
    classifiers,
    davoodi_cnn,
    davoodi_discriminator,
    davoodi_generator,
    kora_venu_cnn,
    kora_venu_discriminator,
    kora_venu_generator,
    ng_gubbi_conditional_discriminator,
    ng_gubbi_conditional_generator,
    salehinejad_dcnn,
    salehinejad_discriminator,
    salehinejad_generator,
)
from cxr_keras.models.classifiers import BN_MOMENTUM
from cxr_keras.models.layers import tap_block_shape
from tests.scripts.layer_equality import assert_same_tensors, outputs_and_gradients

TINY = 32
PAPER_SIZES = {"salehinejad": (256, 1), "kora_venu": (128, 3), "ng_gubbi": (128, 1),
               "ng_gubbi_cgan": (128, 1), "davoodi": (64, 1)}


def _trainable_count(model):
    return sum(int(np.prod(w.shape)) for w in model.trainable_weights)


def _generator_inputs(name, generator, batch, seed=0):
    z = np.random.default_rng(seed).normal(size=(batch, GAN_ARCHITECTURES[name].latent.dim))
    z = z.astype("float32")
    return [z, np.arange(batch) % 7] if name == "ng_gubbi_cgan" else z


def _discriminator_inputs(name, images):
    return [images, np.arange(len(images)) % 7] if name == "ng_gubbi_cgan" else images


@pytest.mark.parametrize("name", sorted(GAN_ARCHITECTURES))
def test_gan_pair_shapes_at_the_paper_size(name):
    size, channels = PAPER_SIZES[name]
    generator, discriminator = build_gan_pair(name)
    assert generator.output_shape == (None, size, size, channels)
    assert discriminator.output_shape == (None, 1)


@pytest.mark.parametrize("name", sorted(GAN_ARCHITECTURES))
def test_gan_pair_runs_at_a_tiny_size_with_tanh_images_and_unbounded_logits(name):
    channels = PAPER_SIZES[name][1]
    generator, discriminator = build_gan_pair(name, image_size=TINY, channels=channels)
    images = keras.ops.convert_to_numpy(generator(_generator_inputs(name, generator, 4)))
    assert images.shape == (4, TINY, TINY, channels)
    assert np.all(np.abs(images) <= 1.0) and images.std() > 0
    logits = keras.ops.convert_to_numpy(discriminator(_discriminator_inputs(name, images)))
    assert logits.shape == (4, 1)
    # No sigmoid at the end: scaling the last weighted layer scales the logits linearly.
    factor = 10.0 / np.abs(logits).max()
    last = [layer for layer in discriminator.layers if layer.weights][-1]
    last.set_weights([w * factor for w in last.get_weights()])
    scaled = keras.ops.convert_to_numpy(discriminator(_discriminator_inputs(name, images)))
    np.testing.assert_allclose(scaled, factor * logits, rtol=1e-3)
    assert np.abs(scaled).max() > 1.0


def test_salehinejad_uses_six_up_and_six_down_convolutions_at_256_and_fewer_when_smaller():
    def count(model, kind):
        return sum(isinstance(layer, kind) for layer in model.layers)

    assert count(salehinejad_generator(), keras.layers.Conv2DTranspose) == 6
    assert count(salehinejad_discriminator(), keras.layers.Conv2D) == 6
    assert count(salehinejad_generator(image_size=TINY), keras.layers.Conv2DTranspose) == 3
    assert salehinejad_generator().layers[0].units == 4 * 4 * 1024
    assert GAN_ARCHITECTURES["salehinejad"].latent == (128, "uniform")


def test_salehinejad_rejects_sizes_that_are_not_a_power_of_two_times_four():
    with pytest.raises(ValueError, match="salehinejad_generator.*power of two.*100"):
        salehinejad_generator(image_size=100)


def test_davoodi_trainable_parameter_counts_match_the_papers_tables_exactly():
    generator, discriminator = davoodi_generator(), davoodi_discriminator()
    assert _trainable_count(generator) == 3_574_656
    assert _trainable_count(discriminator) == 2_763_520
    # Keras adds BatchNorm moving mean/variance as non-trainable weights.
    assert generator.count_params() - 3_574_656 == 2 * (512 + 256 + 128 + 64)
    assert discriminator.count_params() - 2_763_520 == 2 * (128 + 256 + 512)
    assert generator.output_shape == (None, 64, 64, 1)


def test_davoodi_initialisation_is_dcgan_normal():
    generator = davoodi_generator()
    kernel = generator.layers[0].get_weights()[0]
    gamma = next(layer for layer in generator.layers
                 if isinstance(layer, keras.layers.BatchNormalization)).get_weights()[0]
    assert abs(kernel.mean()) < 2e-3 and kernel.std() == pytest.approx(0.02, rel=0.05)
    assert gamma.mean() == pytest.approx(1.0, abs=0.01) and 0.01 < gamma.std() < 0.03


@pytest.mark.parametrize("variant", ["code", "paper"])
def test_kora_venu_variants_differ_in_batch_norm_and_dropout(variant):
    generator = kora_venu_generator(variant, image_size=TINY)
    discriminator = kora_venu_discriminator(variant, image_size=TINY)
    kinds = [type(layer) for layer in discriminator.layers]
    has_bn = keras.layers.BatchNormalization in kinds
    assert has_bn == (variant == "paper")
    assert any(isinstance(l, keras.layers.BatchNormalization) for l in generator.layers) == has_bn
    dropouts = [l.rate for l in discriminator.layers if isinstance(l, keras.layers.Dropout)]
    assert dropouts == ([0.4] * 5 if variant == "code" else [])
    convs = [l for l in discriminator.layers if isinstance(l, keras.layers.Conv2D)]
    assert [c.filters for c in convs] == [64, 128, 256, 512, 1024]
    assert [c.strides for c in convs] == [(1, 1)] + [(2, 2)] * 4
    # BatchNorm never directly follows the input layer.
    assert kinds[1] is not keras.layers.BatchNormalization


def test_kora_venu_rejects_an_unknown_variant():
    with pytest.raises(ValueError, match="variant 'keras'.*code.*paper"):
        kora_venu_generator("keras")


def test_ng_gubbi_generator_ends_in_a_16x16_conv_from_128_channels():
    generator, discriminator = build_gan_pair("ng_gubbi")
    output = generator.get_layer("image")
    assert isinstance(output, TapSumConv2D)
    assert tuple(output.kernel.shape) == (16, 16, 128, 1)
    downs = [l for l in discriminator.layers if isinstance(l, keras.layers.Conv2D)]
    assert [(c.filters, c.kernel_size, c.strides) for c in downs] == [(128, (5, 5), (2, 2))] * 4
    assert discriminator.get_layer("down_3").output.shape[1:] == (8, 8, 128)


def test_conditional_models_change_output_with_the_label_and_accept_both_label_shapes():
    generator = ng_gubbi_conditional_generator(num_classes=3, image_size=TINY)
    discriminator = ng_gubbi_conditional_discriminator(num_classes=3, image_size=TINY)
    z = np.random.default_rng(0).normal(size=(2, 100)).astype("float32")
    flat = keras.ops.convert_to_numpy(generator([z, np.array([0, 0])]))
    column = keras.ops.convert_to_numpy(generator([z, np.array([[0], [0]])]))
    other = keras.ops.convert_to_numpy(generator([z, np.array([2, 2])]))
    np.testing.assert_allclose(flat, column)
    assert np.abs(flat - other).max() > 1e-4
    logits = [keras.ops.convert_to_numpy(discriminator([flat, np.array([k, k])])) for k in (0, 1)]
    assert np.abs(logits[0] - logits[1]).max() > 1e-6


def _conv_pair(kernel_size, filters, padding, channels, seed=0):
    rng = np.random.default_rng(seed)
    reference = keras.layers.Conv2D(filters, kernel_size, padding=padding)
    fast = TapSumConv2D(filters, kernel_size, padding=padding)
    shape = (2, 20, 24, channels)
    reference.build(shape)
    fast.build(shape)
    weights = [rng.normal(0, 0.02, w.shape).astype("float32") for w in reference.get_weights()]
    reference.set_weights(weights)
    fast.set_weights(weights)
    return reference, fast, rng.normal(size=shape).astype("float32")


@pytest.mark.parametrize("kernel_size,filters,padding",
                         [(16, 1, "same"), ((5, 3), 2, "same"), (4, 3, "valid")])
def test_tapsum_conv_equals_conv2d_in_values_and_gradients(kernel_size, filters, padding):
    reference, fast, x = _conv_pair(kernel_size, filters, padding, channels=8)
    assert_same_tensors(*outputs_and_gradients((reference, fast), x))  # x, kernel and bias


def test_tapsum_conv_matches_conv2d_on_the_ng_gubbi_shape_within_1e_5():
    rng = np.random.default_rng(1)
    x = rng.uniform(-1, 1, (1, 32, 32, 128)).astype("float32")
    reference = keras.layers.Conv2D(1, 16, padding="same", activation="tanh")
    reference.build(x.shape)
    fast = TapSumConv2D.from_config(reference.get_config())
    fast.build(x.shape)
    fast.set_weights(reference.get_weights())
    np.testing.assert_allclose(ops.convert_to_numpy(fast(x)), ops.convert_to_numpy(reference(x)),
                               atol=1e-5)


def test_tapsum_blocks_tile_the_kernel_into_about_16_channels():
    assert tap_block_shape((16, 16), 1) == (4, 4)  # Ng & Gubbi's output conv: 16 blocks
    assert tap_block_shape((16, 16), 3) == (8, 8)  # 4 blocks x 3 filters = 12 channels
    assert tap_block_shape((5, 3), 2) == (1, 3)  # 5 blocks x 2 filters = 10
    assert tap_block_shape((5, 5), 1) == (1, 1)  # a prime kernel: every tap its own channel


def test_tapsum_conv_takes_block_shapes_that_tile_the_kernel_only():
    assert TapSumConv2D(1, 16, block_shape=(2, 8)).block_shape == (2, 8)
    assert TapSumConv2D.from_config(TapSumConv2D(1, 16, block_shape=[2, 8]).get_config()
                                    ).block_shape == (2, 8)
    for bad in ((3, 4), (0, 4), (4,)):
        with pytest.raises(ValueError, match="two positive divisors of kernel_size"):
            TapSumConv2D(1, 16, block_shape=bad)


def test_tapsum_conv_rejects_strides():
    with pytest.raises(ValueError, match="strides.*Use keras.layers.Conv2D"):
        TapSumConv2D(1, 3, strides=2)


def test_build_gan_pair_routes_keywords_and_rejects_unknown_ones():
    generator, discriminator = build_gan_pair("kora_venu", image_size=TINY, variant="paper",
                                              latent_dim=10)
    assert generator.input_shape == (None, 10)
    assert "paper" in generator.name and "paper" in discriminator.name
    with pytest.raises(TypeError, match=r"unexpected keyword\(s\) \['depth'\]"):
        build_gan_pair("davoodi", depth=3)
    with pytest.raises(KeyError, match="unknown GAN architecture 'stylegan'"):
        build_gan_pair("stylegan")


def test_salehinejad_dcnn_flattens_to_4096_features_with_paper_biases():
    for size in (256, TINY):
        model = salehinejad_dcnn(image_size=size)
        assert model.get_layer("features").output.shape == (None, 4096)
        assert model.output_shape == (None, 5)
    conv = model.layers[0]
    assert conv.kernel_size == (5, 5)
    np.testing.assert_allclose(conv.bias.numpy(), 0.1)
    assert model.losses  # L2 penalties are attached


def test_kora_venu_cnn_reaches_7x7x256_at_224_and_works_at_64():
    assert kora_venu_cnn().get_layer("features").input.shape == (None, 7, 7, 256)
    model = kora_venu_cnn(image_size=64)
    probabilities = ops.convert_to_numpy(model(np.zeros((3, 64, 64, 3), "float32")))
    assert probabilities.shape == (3, 2)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)
    separable = [l for l in model.layers if isinstance(l, keras.layers.SeparableConv2D)]
    assert len(separable) == 8


def test_davoodi_cnn_outputs_probabilities_and_learns():
    model = davoodi_cnn(image_size=16)
    rng = np.random.default_rng(0)
    labels = np.arange(32) % 4
    images = rng.normal(0, 0.1, (32, 16, 16, 1)).astype("float32")
    images[:, :4, :4, 0] += labels[:, None, None]  # class written into a corner patch
    model.compile(keras.optimizers.Adam(3e-3), "sparse_categorical_crossentropy")
    history = model.fit(images, labels, epochs=15, batch_size=32, verbose=0)
    assert history.history["loss"][-1] < 0.5 * history.history["loss"][0]
    probabilities = model.predict(images, verbose=0)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)


def test_classifiers_reject_bad_image_sizes_with_the_builder_name():
    with pytest.raises(ValueError, match="kora_venu_cnn: image_size must be a positive multiple of 32"):
        kora_venu_cnn(image_size=100)


@pytest.mark.parametrize("momentum, collapses", [(0.99, True), (BN_MOMENTUM, False)])
def test_kora_venu_cnn_inference_predictions_do_not_collapse_after_short_training(
        monkeypatch, momentum, collapses):
    # Regression: with Keras' default BN momentum, a few dozen steps left the moving statistics
    # so far off that every test image got the same probability.
    monkeypatch.setattr(classifiers, "BN_MOMENTUM", momentum)
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 128)
    x = (rng.normal(0, 0.3, (128, 32, 32, 3)) + (y[:, None, None, None] - 0.5)).astype("float32")
    model = classifiers.kora_venu_cnn(num_classes=2, image_size=32, channels=3)
    model.compile(keras.optimizers.Adam(1e-3), "sparse_categorical_crossentropy")
    model.fit(x, y, batch_size=16, epochs=10, verbose=0)
    probabilities = model.predict(x, verbose=0)[:, 1]
    assert (probabilities.std() < 1e-3) == collapses
    if not collapses:
        assert ((probabilities > 0.5) == y).mean() > 0.9


@pytest.mark.parametrize("name", sorted(GAN_ARCHITECTURES))
def test_every_gan_pair_builds_in_grayscale_with_spectral_norm_on_every_d_layer(name):
    kwargs = {"num_classes": 7} if name == "ng_gubbi_cgan" else {}
    generator, discriminator = build_gan_pair(name, image_size=TINY, channels=1,
                                              spectral_norm=True, **kwargs)
    images = keras.ops.convert_to_numpy(generator(_generator_inputs(name, generator, 2)))
    assert images.shape == (2, TINY, TINY, 1)
    assert discriminator(_discriminator_inputs(name, images)).shape == (2, 1)
    weighted = [layer for layer in discriminator.layers
                if isinstance(layer, (keras.layers.Conv2D, keras.layers.Dense))]
    assert not weighted  # all wrapped
    assert any(isinstance(layer, keras.layers.SpectralNormalization)
               for layer in discriminator.layers)


def test_spectral_norm_bounds_the_kernels_spectral_norm_after_training_calls():
    _, discriminator = build_gan_pair("davoodi", image_size=16, spectral_norm=True)
    images = np.random.default_rng(0).uniform(-1, 1, (2, 16, 16, 1)).astype("float32")
    wrapped = [layer for layer in discriminator.layers
               if isinstance(layer, keras.layers.SpectralNormalization)]
    before = [np.linalg.svd(keras.ops.convert_to_numpy(layer.layer.kernel).reshape(
        -1, layer.layer.kernel.shape[-1]), compute_uv=False)[0] for layer in wrapped]
    for _ in range(20):  # each training-mode call runs one power iteration and rescales
        discriminator(images, training=True)
    for layer, sigma_before in zip(wrapped, before):
        kernel = keras.ops.convert_to_numpy(layer.layer.kernel)
        sigma = np.linalg.svd(kernel.reshape(-1, kernel.shape[-1]), compute_uv=False)[0]
        assert sigma < 1.05 and sigma_before != pytest.approx(sigma, abs=0.05), layer.name


def test_spectral_norm_copy_starts_from_the_same_weights_and_outputs():
    discriminator = davoodi_discriminator(image_size=TINY)
    from cxr_keras.models import with_spectral_norm

    wrapped = with_spectral_norm(discriminator)
    images = np.random.default_rng(0).uniform(-1, 1, (2, TINY, TINY, 1)).astype("float32")
    np.testing.assert_allclose(ops.convert_to_numpy(wrapped(images)),
                               ops.convert_to_numpy(discriminator(images)), rtol=1e-5, atol=1e-6)


def test_minibatch_std_channel_holds_the_batch_spread_and_is_small_for_a_collapsed_batch():
    from cxr_keras.models import MinibatchStdDev

    rng = np.random.default_rng(0)
    varied = rng.normal(0, 1, (8, 4, 4, 3)).astype("float32")
    collapsed = np.repeat(varied[:1], 8, axis=0)
    layer = MinibatchStdDev()
    out = ops.convert_to_numpy(layer(varied))
    assert out.shape == (8, 4, 4, 4) and np.array_equal(out[..., :3], varied)
    np.testing.assert_allclose(out[..., 3], varied.std(axis=0).mean(), rtol=1e-4)
    assert ops.convert_to_numpy(layer(collapsed))[..., 3].max() < 1e-3
    assert layer.compute_output_shape((None, 4, 4, 3)) == (None, 4, 4, 4)


def test_minibatch_std_discriminator_keeps_weights_and_sees_the_rest_of_the_batch():
    from cxr_keras.models import with_minibatch_std

    discriminator = davoodi_discriminator(image_size=TINY)
    copy = with_minibatch_std(discriminator)
    kernels = [layer for layer in copy.layers if isinstance(layer, keras.layers.Conv2D)]
    originals = [layer for layer in discriminator.layers if isinstance(layer, keras.layers.Conv2D)]
    for source, target in zip(originals[:-1], kernels[:-1]):
        np.testing.assert_array_equal(ops.convert_to_numpy(source.kernel),
                                      ops.convert_to_numpy(target.kernel))
    assert kernels[-1].kernel.shape[-2] == originals[-1].kernel.shape[-2] + 1
    # The std channel's kernel slice starts random and can be small enough that its effect on
    # the logit falls below the tolerance (seen once on JAX: 4e-7); give it unit weights.
    kernel = ops.convert_to_numpy(kernels[-1].kernel).copy()
    kernel[:, :, -1, :] = 1.0
    kernels[-1].kernel.assign(kernel)
    rng = np.random.default_rng(1)
    first = rng.uniform(-1, 1, (1, TINY, TINY, 1)).astype("float32")
    others = rng.uniform(-1, 1, (3, TINY, TINY, 1)).astype("float32")
    with_varied = np.concatenate([first, others])
    with_copies = np.repeat(first, 4, axis=0)
    # Inference mode: BatchNorm uses its moving statistics, so only the minibatch-std channel
    # lets the other images change the first image's logit.
    for model, depends in ((discriminator, False), (copy, True)):
        a = ops.convert_to_numpy(model(with_varied))[0, 0]
        b = ops.convert_to_numpy(model(with_copies))[0, 0]
        assert (abs(a - b) > 1e-6) == depends, model.name
    with pytest.raises(TypeError, match="needs a Sequential discriminator"):
        build_gan_pair("ng_gubbi_cgan", image_size=TINY, channels=1, num_classes=3,
                       minibatch_std=True)


def test_a_recipe_sets_the_step_tricks_minibatch_std_and_d_learning_rate():
    from cxr_keras.reproductions.gan_setup import build_compiled_gan

    gan = build_compiled_gan("davoodi", 16, recipe={
        "minibatch_std": True, "label_smoothing": 0.1, "instance_noise": 0.05,
        "d_learning_rate": 1e-4, "learning_rate": 3e-4})
    assert any(layer.name == "minibatch_std" for layer in gan.discriminator.layers)
    assert (gan.label_smoothing, gan.instance_noise) == (0.1, 0.05)
    assert float(gan.d_optimizer.learning_rate) == pytest.approx(1e-4)
    assert float(gan.g_optimizer.learning_rate) == pytest.approx(3e-4)
    with pytest.raises(ValueError, match="label_smoothing must be in"):
        build_compiled_gan("davoodi", 16, recipe={"label_smoothing": 1.5})
