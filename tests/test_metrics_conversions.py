import numpy as np
import pytest

from cxr_keras.metrics.conversions import to_inception_input, to_rgb, to_uint8_range


def test_to_uint8_range_quantizes_like_a_saved_png():
    images = np.array([-1.0, -0.5, 0.0, 0.999, 1.0], dtype=np.float32).reshape(1, 5, 1, 1)
    expected = np.round((images + 1) * 127.5)
    out = to_uint8_range(images)
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, expected)
    assert out.min() == 0 and out.max() == 255


def test_to_uint8_range_is_a_fixed_map_not_per_image_stretching():
    dim_image = np.full((1, 4, 4, 1), -0.5, dtype=np.float32)
    dim_image[0, 0, 0, 0] = 0.0
    out = to_uint8_range(dim_image)
    assert out.max() == 128 and out.min() == 64  # a stretched image would span 0..255


def test_to_uint8_range_rejects_uint8_style_input():
    with pytest.raises(ValueError, match=r"expected images in \[-1, 1\].*127.5"):
        to_uint8_range(np.full((1, 2, 2, 1), 200.0))


def test_to_rgb_repeats_grayscale_and_keeps_rgb():
    gray = np.arange(8, dtype=np.float32).reshape(2, 2, 2, 1)
    rgb = to_rgb(gray)
    assert rgb.shape == (2, 2, 2, 3)
    for channel in range(3):
        np.testing.assert_array_equal(rgb[..., channel], gray[..., 0])
    three = np.zeros((1, 2, 2, 3))
    assert to_rgb(three) is three


@pytest.mark.parametrize(
    "shape, message", [((2, 2, 2), "add a channel axis"), ((1, 2, 2, 2), "1 or 3 channels")]
)
def test_to_rgb_rejects_bad_shapes(shape, message):
    with pytest.raises(ValueError, match=message):
        to_rgb(np.zeros(shape))


def test_to_inception_input_combines_both_steps():
    images = np.linspace(-1, 1, 16, dtype=np.float32).reshape(1, 4, 4, 1)
    out = to_inception_input(images)
    assert out.shape == (1, 4, 4, 3) and out.dtype == np.float32
    np.testing.assert_array_equal(out[..., 2], to_uint8_range(images)[..., 0])
