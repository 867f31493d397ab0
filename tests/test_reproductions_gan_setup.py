import keras
import numpy as np
import pytest

from cxr_keras.reproductions.gan_setup import build_compiled_gan


def test_the_paper_recipe_is_the_plain_gan_and_a_recipe_sets_options_and_optimizer():
    paper = build_compiled_gan("davoodi", image_size=16, channels=1, seed=3)
    kit = build_compiled_gan("davoodi", image_size=16, channels=1, seed=3, recipe={
        "learning_rate": 1e-3, "betas": [0.0, 0.99], "augment": "translation", "ema_decay": 0.9,
        "r1_gamma": 1.0, "spectral_norm": True})
    assert paper.generator_average is None and paper.augmenter is None
    assert kit.generator_average is not None and kit.augmenter is not None
    assert float(kit.d_optimizer.learning_rate) == pytest.approx(1e-3)
    assert float(kit.g_optimizer.beta_1) == 0.0 and float(paper.g_optimizer.beta_1) == 0.5
    assert any(isinstance(layer, keras.layers.SpectralNormalization) for layer in kit.discriminator.layers)
    assert not any(isinstance(layer, keras.layers.SpectralNormalization) for layer in paper.discriminator.layers)
    again = build_compiled_gan("davoodi", image_size=16, channels=1, seed=3)
    for a, b in zip(paper.generator.weights, again.generator.weights):
        np.testing.assert_array_equal(a.numpy(), b.numpy())


def test_a_recipe_can_swap_the_architecture_and_unknown_options_are_named():
    gan = build_compiled_gan("kora_venu", image_size=16, channels=1, recipe={"architecture": "davoodi"})
    assert gan.generator.output_shape == (None, 16, 16, 1)
    with pytest.raises(ValueError, match=r"unknown GAN recipe option\(s\) \['agument'\]"):
        build_compiled_gan("davoodi", image_size=16, channels=1, recipe={"agument": "cutout"})
