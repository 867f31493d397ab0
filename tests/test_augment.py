import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import math

import numpy as np
import pytest

from cxr_keras import augment
from cxr_keras.augment import METHODS, augment_images, balance_gap, gan_balance, oversample
from cxr_keras.metrics.conversions import resize_images

try:
    import tensorflow as tf
except ImportError:  # a JAX or PyTorch machine without TensorFlow
    tf = None
needs_tensorflow = pytest.mark.skipif(tf is None, reason="TensorFlow is not installed")


@pytest.fixture
def augment_with():
    return augment_images


def resize_bilinear(image: np.ndarray, height: int, width: int) -> np.ndarray:
    """Reference: bilinear resize of one (h, w, c) image with half-pixel centres, as
    ``tf.image.resize``, in numpy."""
    def taps(size_in, size_out):
        centres = np.clip((np.arange(size_out) + 0.5) * size_in / size_out - 0.5, 0, size_in - 1)
        low = np.floor(centres).astype(int)
        return low, np.minimum(low + 1, size_in - 1), (centres - low).astype(np.float32)

    (top, bottom, dy), (left, right, dx) = taps(image.shape[0], height), taps(image.shape[1], width)
    rows = image[top] * (1 - dy)[:, None, None] + image[bottom] * dy[:, None, None]
    return rows[:, left] * (1 - dx)[None, :, None] + rows[:, right] * dx[None, :, None]


def _images(n=6, size=16, channels=1, seed=0):
    rng = np.random.default_rng(seed)
    ramp = np.linspace(-1, 1, size, dtype=np.float32)[None, None, :, None]
    noise = rng.uniform(-0.3, 0.3, size=(n, size, size, channels)).astype(np.float32)
    return np.clip(ramp + noise, -1, 1)


@pytest.mark.parametrize("method", METHODS)
def test_shape_dtype_and_range_are_kept(method, augment_with):
    x = _images(channels=3)
    out = augment_with(x, method, seed=1)
    assert out.shape == x.shape
    assert out.dtype == np.float32
    assert out.min() >= -1 and out.max() <= 1


@pytest.mark.parametrize("method", METHODS)
def test_same_seed_same_result_other_seed_other_result(method, augment_with):
    x = _images(n=8)
    first = augment_with(x, method, seed=3)
    np.testing.assert_array_equal(first, augment_with(x, method, seed=3))
    if method in {"flip", "crop", "brightness", "contrast"}:
        assert not np.array_equal(first, augment_with(x, method, seed=4))


def test_flip_mirrors_some_images_and_leaves_the_rest(augment_with):
    x = _images(n=16)
    out = augment_with(x, "flip", seed=0)
    flipped = [np.array_equal(o, i[:, ::-1]) for o, i in zip(out, x)]
    kept = [np.array_equal(o, i) for o, i in zip(out, x)]
    assert all(f or k for f, k in zip(flipped, kept))
    assert 0 < sum(flipped) < len(x)


def test_crop_zooms_in(augment_with):
    # A centred bright square grows when zoomed in, and a constant image stays constant.
    x = -np.ones((4, 32, 32, 1), np.float32)
    x[:, 12:20, 12:20] = 1.0
    out = augment_with(x, "crop", seed=2)
    assert (out > 0).sum() > (x > 0).sum()
    constant = np.full((2, 16, 16, 1), 0.25, np.float32)
    np.testing.assert_allclose(augment_with(constant, "crop", seed=0), constant, atol=1e-6)


def test_clip_saturates_extremes_only(augment_with):
    x = _images()
    out = augment_with(x, "clip", seed=0)
    low, high = augment.CLIP_RANGE
    assert out.min() >= low and out.max() <= high
    inside = (x > low) & (x < high)
    np.testing.assert_array_equal(out[inside], x[inside])


def test_brightness_shifts_every_pixel_by_one_offset(augment_with):
    x = np.zeros((8, 16, 16, 1), np.float32)
    out = augment_with(x, "brightness", seed=0)
    offsets = out.reshape(len(x), -1)
    np.testing.assert_allclose(offsets, offsets[:, :1].repeat(offsets.shape[1], axis=1))
    assert np.all(np.abs(offsets[:, 0]) <= augment.BRIGHTNESS_DELTA)
    assert len(np.unique(offsets[:, 0])) > 1


def test_contrast_scales_spread_around_the_mean(augment_with):
    x = _images(n=8) * 0.5
    out = augment_with(x, "contrast", seed=0)
    ratio = out.std(axis=(1, 2, 3)) / x.std(axis=(1, 2, 3))
    low, high = augment.CONTRAST_RANGE
    assert np.all((ratio >= low - 1e-4) & (ratio <= high + 1e-4))
    np.testing.assert_allclose(out.mean(axis=(1, 2, 3)), x.mean(axis=(1, 2, 3)), atol=1e-5)
    assert ratio.max() - ratio.min() > 0.05


def test_unknown_method_and_bad_shapes_are_refused():
    with pytest.raises(ValueError, match="unknown augmentation 'rotate'.*flip"):
        augment_images(_images(), "rotate", seed=0)
    with pytest.raises(ValueError, match=r"\(N, H, W, C\)"):
        augment_images(_images()[0], "flip", seed=0)


@pytest.mark.parametrize("shape", [(3, 16, 16, 1), (2, 9, 7, 3)])
def test_crop_is_a_bilinear_zoom_cropped_back_with_the_seeded_draws(shape):
    # The reference: tf.image.resize to the ceiled zoomed size, then a crop, with the draws
    # (zoom, top, left) that image i takes from the generator seeded (seed, first_index + i).
    x = np.random.default_rng(1).uniform(-1, 1, shape).astype(np.float32)
    height, width = shape[1:3]
    expected = []
    for i, image in enumerate(x):
        rng = np.random.default_rng((7, 3 + i))
        zoom = rng.uniform(1.0, augment.CROP_MAX_ZOOM)
        zoomed = resize_bilinear(image, math.ceil(zoom * height), math.ceil(zoom * width))
        top = rng.integers(0, zoomed.shape[0] - height + 1)
        left = rng.integers(0, zoomed.shape[1] - width + 1)
        expected.append(zoomed[top:top + height, left:left + width])
    np.testing.assert_allclose(augment_images(x, "crop", seed=7, first_index=3), expected, atol=1e-5)


def test_stream_offsets_give_the_draws_of_one_long_batch():
    x = _images(n=8)
    for method in ("contrast", "crop", "flip"):
        whole = augment_images(x, method, seed=2)
        np.testing.assert_array_equal(augment_images(x[5:], method, seed=2, first_index=5), whole[5:])


@needs_tensorflow
@pytest.mark.parametrize("shape, size", [((3, 9, 7, 2), (16, 12)), ((2, 32, 32, 1), (20, 20))])
def test_resizes_match_tf_image_resize(shape, size):
    x = np.random.default_rng(0).uniform(-1, 1, shape).astype(np.float32)
    expected = tf.image.resize(x, size, method="bilinear").numpy()
    np.testing.assert_allclose(np.stack([resize_bilinear(i, *size) for i in x]), expected, atol=1e-5)
    np.testing.assert_allclose(resize_images(x, size), expected, atol=1e-6)
    np.testing.assert_array_equal(resize_images(x, shape[1:3]), x)


def test_gan_balance_adds_exactly_the_missing_minority_images():
    x = _images(n=10)
    y = np.array([0, 0, 1, 1, 1, 1, 1, 1, 1, 1])
    generated = np.full((20, 16, 16, 1), 0.5, np.float32)
    xb, yb = gan_balance(x, y, generated, target_class=0)
    assert np.bincount(yb).tolist() == [8, 8]
    np.testing.assert_array_equal(xb[:10], x)
    np.testing.assert_array_equal(xb[10:], generated[:6])


def test_gan_balance_errors():
    x = _images(n=4)
    y = np.array([0, 1, 1, 1])
    with pytest.raises(ValueError, match="needs 2 generated images.*raise n_generated"):
        gan_balance(x, y, np.zeros((1, 16, 16, 1), np.float32), target_class=0)
    with pytest.raises(ValueError, match="classifier's image size"):
        gan_balance(x, y, np.zeros((5, 8, 8, 1), np.float32), target_class=0)
    with pytest.raises(ValueError, match=r"\[-1, 1\]"):
        gan_balance(x, y, np.full((5, 16, 16, 1), 255.0, np.float32), target_class=0)


def test_oversample_repeats_each_real_image_as_evenly_as_the_count_allows():
    x = np.arange(10, dtype=np.float32).reshape(10, 1, 1, 1)
    y = np.array([0, 0, 0, 1, 1, 1, 1, 1, 1, 1])
    assert balance_gap(y, 0) == 4 and balance_gap(y, 1) == 0
    xb, yb = oversample(x, y, {0: balance_gap(y, 0)}, seed=3)
    assert np.bincount(yb).tolist() == [7, 7]
    np.testing.assert_array_equal(xb[:10], x)
    repeats = np.bincount(xb[10:, 0, 0, 0].astype(int), minlength=3)[:3]
    assert sorted(repeats) == [1, 1, 2] and (yb[10:] == 0).all()  # 4 repeats of 3 images
    again, _ = oversample(x, y, {0: 4}, seed=3)
    np.testing.assert_array_equal(again, xb)  # the draw follows the seed
    both, labels = oversample(x, y, {0: 2, 1: 7}, seed=0)
    assert np.bincount(labels).tolist() == [5, 14]
    assert sorted(both[10 + 2:, 0, 0, 0].astype(int)) == list(range(3, 10))  # each class-1 image once
    with pytest.raises(ValueError, match="class 2 has no images to repeat"):
        oversample(x, y, {2: 1}, seed=0)
    with pytest.raises(ValueError, match=r"added\[0\] must be a count"):
        oversample(x, y, {0: -1}, seed=0)


@pytest.mark.parametrize("size", [(16, 12), (20, 20)])
def test_resize_images_on_the_backend_matches_the_array_resize(size):
    x = np.random.default_rng(1).uniform(-1, 1, (2, 9, 7, 1)).astype(np.float32)
    expected = np.stack([resize_bilinear(i, *size) for i in x])
    np.testing.assert_allclose(resize_images(x, size), expected, atol=1e-5)
    with pytest.raises(ValueError, match="NHWC"):
        resize_images(x[0], size)
