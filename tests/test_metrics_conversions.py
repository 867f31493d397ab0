import numpy as np
import pytest

from cxr_keras.metrics.conversions import (
    check_not_unit_range,
    to_inception_input,
    to_rgb,
    to_uint8_range,
)


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


def test_to_uint8_range_refuses_nan_and_inf_naming_the_argument():
    images = np.zeros((3, 2, 2, 1), np.float32)
    images[1, 0, 0, 0], images[2, 1, 1, 0] = np.nan, np.inf
    with pytest.raises(ValueError, match=r"fake holds NaN or infinite values \(in 2 of 3 images\)"):
        to_uint8_range(images, "fake")
    with pytest.raises(ValueError, match="images holds NaN"):
        to_inception_input(np.full((1, 2, 2, 1), np.nan))


def test_check_not_unit_range_refuses_0_to_1_floats_only():
    with pytest.raises(ValueError, match=r"real look like \[0, 1\] images \(values 0 to 1, none "
                                         r"negative\).*images \* 2 - 1.*allow_nonnegative=True"):
        check_not_unit_range(np.linspace(0, 1, 8).reshape(2, 2, 2, 1), "real")
    check_not_unit_range(np.linspace(-1, 1, 8).reshape(2, 2, 2, 1), "real")  # [-1, 1]: fine
    check_not_unit_range(np.ones((1, 2, 2, 1), np.uint8), "real")  # not float: other checks
