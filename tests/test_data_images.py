"""Decoding every pixel format to [-1, 1], quantization back to uint8, and unreadable files."""

import numpy as np
import pytest
from PIL import Image

from cxr_keras.data import DatasetError, decode_image, save_png, to_uint8
from cxr_keras.data.images import check_image_file, prepare_array


def _save(path, array):
    image = Image.fromarray(array)
    image.save(path)
    return path


def test_8bit_gray_maps_v_over_127_5_minus_1(tmp_path):
    pixels = np.array([[0, 51], [128, 255]], dtype=np.uint8)
    image = decode_image(_save(tmp_path / "g.png", pixels), image_size=None)
    assert image.dtype == np.float32 and image.shape == (2, 2, 1)
    np.testing.assert_allclose(image[..., 0], pixels / 127.5 - 1, atol=1e-6)


def test_16bit_scales_by_bit_depth_not_min_max(tmp_path):
    pixels = np.array([[0, 16384], [32768, 49152]], dtype=np.uint16)  # never reaches 65535
    path = tmp_path / "deep.png"
    Image.fromarray(pixels).save(path)
    assert Image.open(path).mode.startswith("I")
    image = decode_image(path, image_size=None)
    np.testing.assert_allclose(image[..., 0], pixels / 32767.5 - 1, atol=1e-5)
    assert image.max() < 0.51  # a per-image min-max would have stretched it to 1


def test_rgba_alpha_is_composited_on_black(tmp_path):
    rgba = np.zeros((2, 2, 4), dtype=np.uint8)
    rgba[..., :3] = 200
    rgba[..., 3] = [[255, 0], [102, 51]]
    image = decode_image(_save(tmp_path / "a.png", rgba), image_size=None, channels=3)
    expected = 200 * np.array([[255, 0], [102, 51]]) / 255
    for c in range(3):
        np.testing.assert_allclose(image[..., c], expected / 127.5 - 1, atol=1e-5)


def test_la_and_palette_images_decode(tmp_path):
    la = np.stack([np.full((2, 2), 100, np.uint8), np.full((2, 2), 255, np.uint8)], axis=-1)
    np.testing.assert_allclose(
        decode_image(_save(tmp_path / "la.png", la), None), 100 / 127.5 - 1, atol=1e-5
    )
    gray = np.full((3, 3), 60, np.uint8)
    palette = tmp_path / "p.png"
    Image.fromarray(np.stack([gray] * 3, axis=-1)).quantize(colors=4).save(palette)
    assert Image.open(palette).mode == "P"
    np.testing.assert_allclose(decode_image(palette, None), 60 / 127.5 - 1, atol=1e-5)


def test_rgb_to_one_channel_uses_luma_and_gray_to_three_repeats(tmp_path):
    rgb = np.zeros((2, 2, 3), dtype=np.uint8)
    rgb[..., 0] = 255
    gray = decode_image(_save(tmp_path / "red.png", rgb), None, channels=1)
    np.testing.assert_allclose(gray, 0.299 * 255 / 127.5 - 1, atol=1e-5)
    three = decode_image(_save(tmp_path / "g.png", np.full((2, 2), 10, np.uint8)), None, channels=3)
    assert three.shape == (2, 2, 3) and np.all(three == three[..., :1])


def test_resize_gives_requested_square_and_averages_when_shrinking(tmp_path):
    stripes = np.tile(np.array([0, 255], np.uint8), (32, 16))  # 32 x 32 alternating columns
    image = decode_image(_save(tmp_path / "s.png", stripes), image_size=8)
    assert image.shape == (8, 8, 1)
    np.testing.assert_allclose(image[:, 1:-1], 0.0, atol=0.02)  # area-like: stripes average to gray
    wide = decode_image(
        _save(tmp_path / "w.png", np.zeros((10, 30), np.uint8)), image_size=12, channels=3
    )
    assert wide.shape == (12, 12, 3)


@pytest.mark.parametrize("content", [b"", b"not an image at all", b"\x89PNG\r\n\x1a\n\x00\x00"])
def test_non_image_files_raise_naming_the_path(tmp_path, content):
    path = tmp_path / "bad.png"
    path.write_bytes(content)
    with pytest.raises(DatasetError, match=r"bad\.png.*on_error='skip'"):
        decode_image(path, 16)
    assert check_image_file(path)


def test_truncated_png_raises(tmp_path):
    path = _save(
        tmp_path / "whole.png", np.random.default_rng(0).integers(0, 255, (64, 64), dtype=np.uint8)
    )
    truncated = tmp_path / "cut.png"
    truncated.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(DatasetError, match="cut.png"):
        decode_image(truncated, 16)
    assert check_image_file(path) is None and "cut" not in str(check_image_file(path))


def test_to_uint8_rounds_and_inverts_the_8bit_mapping():
    values = np.arange(256, dtype=np.uint8)
    np.testing.assert_array_equal(to_uint8(values / 127.5 - 1), values)
    assert to_uint8(np.array([-1.0 + 0.6 / 127.5]))[0] == 1  # 0.6 rounds up, truncation gives 0
    np.testing.assert_array_equal(to_uint8(np.array([-3.0, 3.0])), [0, 255])


def test_save_png_round_trips(tmp_path):
    image = np.random.default_rng(1).uniform(-1, 1, (8, 8, 1)).astype(np.float32)
    path = save_png(tmp_path / "out" / "x.png", image)
    np.testing.assert_array_equal(to_uint8(decode_image(path, None)), to_uint8(image))
    with pytest.raises(ValueError, match="HxW"):
        save_png(tmp_path / "y.png", np.zeros((4, 4, 2)))


def test_channels_and_shapes_are_validated():
    with pytest.raises(ValueError, match="channels must be 1 or 3"):
        prepare_array(np.zeros((4, 4)), 4, channels=2)
    with pytest.raises(DatasetError, match="shape"):
        prepare_array(np.zeros((4, 4, 2)), 4)
