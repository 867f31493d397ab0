import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
import pytest

from cxr_keras import augment
from cxr_keras.augment import METHODS, augment_images, balance_gap, gan_balance, oversample
from cxr_keras.augment.array_ops import augment_array_batch, resize_bilinear
from cxr_keras.metrics.conversions import resize_images

try:
    import tensorflow as tf

    from cxr_keras.augment.tensorflow_ops import augment_dataset, augment_images_tf
except ImportError:  # a JAX or PyTorch machine without TensorFlow: the numpy forms alone
    tf = augment_dataset = augment_images_tf = None
needs_tensorflow = pytest.mark.skipif(tf is None, reason="TensorFlow is not installed")

# Every property holds for both forms: TensorFlow's ops and the numpy ones used off TensorFlow.
IMPLEMENTATIONS = {"array": augment_array_batch, **({"tensorflow": augment_images_tf} if tf else {})}


@pytest.fixture(params=sorted(IMPLEMENTATIONS))
def augment_with(request):
    return IMPLEMENTATIONS[request.param]


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


@needs_tensorflow
def test_augment_dataset_keeps_labels_and_rejects_batches():
    x = _images(n=4)
    y = np.arange(4)
    ds = tf.data.Dataset.from_tensor_slices((x, y))
    images, labels = zip(*augment_dataset(ds, "brightness", seed=0).as_numpy_iterator())
    assert list(labels) == [0, 1, 2, 3]
    assert np.stack(images).shape == x.shape
    with pytest.raises(ValueError, match="before dataset.batch"):
        augment_dataset(ds.batch(2), "flip", seed=0)


def test_unknown_method_names_the_choices():
    with pytest.raises(ValueError, match="unknown augmentation 'rotate'.*flip"):
        augment_images(_images(), "rotate", seed=0)
    with pytest.raises(ValueError, match="unknown augmentation 'rotate'"):
        augment_array_batch(_images(), "rotate", seed=0)


def test_augment_images_uses_the_ops_of_the_backend():
    import keras

    x = _images(n=8)
    if keras.backend.backend() == "tensorflow":
        expected = augment_images_tf
    else:
        expected = augment_array_batch
    np.testing.assert_array_equal(augment_images(x, "crop", seed=5), expected(x, "crop", seed=5))
    with pytest.raises(ValueError, match=r"\(N, H, W, C\)"):
        augment_images(x[0], "flip", seed=0)


def test_array_stream_offsets_give_the_draws_of_one_long_batch():
    x = _images(n=8)
    whole = augment_array_batch(x, "contrast", seed=2)
    np.testing.assert_array_equal(augment_array_batch(x[5:], "contrast", seed=2, first_index=5), whole[5:])


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
