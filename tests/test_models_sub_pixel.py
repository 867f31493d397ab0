"""benchmarks/sub_pixel.py: SubPixelConv2DTranspose against keras.layers.Conv2DTranspose
(values, gradients, weights), and the generators' sub-pixel copies."""

import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras
import numpy as np
import pytest
from keras import ops

from cxr_keras.models import GAN_ARCHITECTURES, build_gan_pair
from tests.scripts.layer_equality import assert_same_tensors, outputs_and_gradients

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
sub_pixel = pytest.importorskip("sub_pixel")
SubPixelConv2DTranspose = sub_pixel.SubPixelConv2DTranspose

TINY = 32


def _layer_pair(filters, kernel_size, strides, use_bias=True, activation=None, seed=0):
    """A Conv2DTranspose and a SubPixelConv2DTranspose from its config, with equal weights."""
    reference = keras.layers.Conv2DTranspose(filters, kernel_size, strides=strides,
                                             padding="same", use_bias=use_bias,
                                             activation=activation)
    fast = SubPixelConv2DTranspose.from_config(reference.get_config())
    shape = (2, 5, 6, 7)
    reference.build(shape)
    fast.build(shape)
    rng = np.random.default_rng(seed)
    weights = [rng.normal(0, 0.1, w.shape).astype("float32") for w in reference.get_weights()]
    reference.set_weights(weights)
    fast.set_weights(weights)
    return reference, fast, rng.normal(size=shape).astype("float32")


# (4, 2): Davoodi, Kora Venu and Ng & Gubbi; (5, 2): Salehinejad; the rest show the general case.
@pytest.mark.parametrize("kernel_size,strides,use_bias,activation", [
    (4, 2, False, None), (4, 2, True, "tanh"), (5, 2, False, None), (5, 2, True, "tanh"),
    ((3, 4), (2, 1), True, None), (3, 3, True, None), (2, 2, False, None), (1, 2, True, None),
])
def test_sub_pixel_equals_conv2d_transpose_in_values_and_gradients(kernel_size, strides,
                                                                    use_bias, activation):
    reference, fast, x = _layer_pair(3, kernel_size, strides, use_bias, activation)
    results = outputs_and_gradients((reference, fast), x)
    assert len(results[0]) == len(results[1]) == 3 + use_bias
    assert_same_tensors(*results)


def test_sub_pixel_matches_on_a_paper_shape_and_the_output_is_not_trivial():
    reference, fast, _ = _layer_pair(64, 4, 2)
    x = np.random.default_rng(3).normal(size=(4, 16, 16, 7)).astype("float32")
    expected = ops.convert_to_numpy(reference(x))
    assert expected.shape == (4, 32, 32, 64) and expected.std() > 0.1
    np.testing.assert_allclose(ops.convert_to_numpy(fast(x)), expected, atol=1e-5)


@pytest.mark.parametrize("kwargs,named", [
    ({"padding": "valid"}, "padding"), ({"dilation_rate": 2, "strides": 1}, "dilation_rate"),
    ({"output_padding": 1}, "output_padding"), ({"data_format": "channels_first"}, "data_format"),
])
def test_sub_pixel_rejects_unsupported_options_by_name(kwargs, named):
    kwargs = {"strides": 2, "padding": "same", **kwargs}
    with pytest.raises(ValueError, match=f"unsupported {named}.*Use keras.layers.Conv2DTranspose"):
        SubPixelConv2DTranspose(3, 4, **kwargs)


@pytest.mark.parametrize("name", sorted(GAN_ARCHITECTURES))
def test_every_generator_gives_the_same_images_with_sub_pixel_upsampling(name):
    size = 64 if name == "salehinejad" else TINY
    plain, _ = build_gan_pair(name, image_size=size)
    fast = sub_pixel.with_sub_pixel_upsampling(plain)
    transposed = [l for l in fast.layers if isinstance(l, keras.layers.Conv2DTranspose)]
    assert transposed and all(isinstance(l, SubPixelConv2DTranspose) for l in transposed)
    assert not any(isinstance(l, SubPixelConv2DTranspose) for l in plain.layers)
    assert [w.shape for w in fast.weights] == [w.shape for w in plain.weights]
    rng = np.random.default_rng(0)
    z = rng.normal(size=(2, plain.inputs[0].shape[-1])).astype("float32")
    inputs = [z, np.array([[1], [4]], "int32")] if len(plain.inputs) == 2 else z
    expected = keras.ops.convert_to_numpy(plain(inputs, training=True))
    assert expected.std() > 1e-3
    np.testing.assert_allclose(keras.ops.convert_to_numpy(fast(inputs, training=True)),
                               expected, atol=1e-5)
