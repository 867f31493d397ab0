import os

import numpy as np
import pytest

from cxr_keras.metrics.generative import (
    WholeSetSubsetWarning,
    inception_score,
    inception_score_from_images,
    kernel_inception_distance,
    knn_radii,
    load_is_classifier,
    polynomial_mmd2_unbiased,
    precision_recall,
)

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def gaussian(n, dim=8, shift=0.0, seed=0):
    return np.random.default_rng(seed).normal(loc=shift, size=(n, dim))


def test_polynomial_mmd_matches_a_direct_double_sum():
    x, y = gaussian(6, 3, seed=1), gaussian(5, 3, 0.5, seed=2)

    def k(a, b):
        return (a @ b / 3 + 1) ** 3

    xx = np.mean([k(x[i], x[j]) for i in range(6) for j in range(6) if i != j])
    yy = np.mean([k(y[i], y[j]) for i in range(5) for j in range(5) if i != j])
    xy = np.mean([k(a, b) for a in x for b in y])
    assert polynomial_mmd2_unbiased(x, y) == pytest.approx(xx + yy - 2 * xy)


def test_kid_is_near_zero_for_one_distribution_and_grows_with_the_shift():
    real = gaussian(1200, seed=0)
    same, _ = kernel_inception_distance(real, gaussian(1200, seed=1), n_subsets=10, subset_size=300)
    shifts = [
        kernel_inception_distance(
            real, gaussian(1200, shift=s, seed=1), n_subsets=10, subset_size=300
        )[0]
        for s in (0.25, 0.5, 1.0)
    ]
    assert abs(same) < 0.02
    assert 0.02 < shifts[0] < shifts[1] < shifts[2]


def test_kid_is_unbiased_for_identical_distributions():
    # The unbiased estimator averages to 0 over many draws; a biased one stays positive.
    values = [
        polynomial_mmd2_unbiased(gaussian(20, 4, seed=2 * i), gaussian(20, 4, seed=2 * i + 1))
        for i in range(300)
    ]
    standard_error = np.std(values) / np.sqrt(len(values))
    assert abs(np.mean(values)) < 3 * standard_error
    assert np.mean(np.abs(values)) > 10 * standard_error  # single draws are far from 0


def test_kid_returns_a_spread_over_subsets():
    mean, std = kernel_inception_distance(
        gaussian(100), gaussian(100, shift=0.5, seed=3), n_subsets=5, subset_size=50
    )
    assert mean > 0 and std > 0


def test_kid_warns_when_every_subset_is_a_whole_set():
    real, fake = gaussian(64), gaussian(64, shift=0.5, seed=3)
    with pytest.warns(WholeSetSubsetWarning, match=r"subset_size=1000 is not below the real and "
                                                   r"fake set size.*std understates.*e.g. 32"):
        _, std = kernel_inception_distance(real, fake, n_subsets=5, subset_size=1000)
    assert std < 1e-12  # the case warned about: every subset is the same
    with pytest.warns(WholeSetSubsetWarning, match=r"whole real set"):
        _, std = kernel_inception_distance(real[:20], fake, n_subsets=5, subset_size=1000)
    assert std > 0


def test_inception_score_of_uniform_predictions_is_one():
    assert inception_score(np.full((40, 7), 1 / 7), splits=4) == pytest.approx((1.0, 0.0))


@pytest.mark.parametrize("k", [2, 5, 10])
def test_inception_score_of_confident_predictions_spread_over_k_classes_is_k(k):
    probs = np.eye(10)[np.arange(20 * k) % k]
    mean, std = inception_score(probs, splits=4)
    assert mean == pytest.approx(k) and std == pytest.approx(0.0, abs=1e-12)


def test_inception_score_rejects_logits():
    with pytest.raises(ValueError, match="apply softmax"):
        inception_score(np.array([[2.0, -1.0], [0.5, 0.5]]), splits=1)


def test_inception_score_from_images_with_a_keras_head():
    keras = pytest.importorskip("keras")
    # A head that sends each image to the class of its mean brightness: 4 brightness levels
    # spread evenly give 4 confident classes, so the score approaches 4.
    inputs = keras.Input((8, 8, 3))
    brightness = keras.layers.GlobalAveragePooling2D()(inputs)
    brightness = keras.layers.Lambda(lambda t: keras.ops.mean(t, axis=-1, keepdims=True))(
        brightness
    )
    centres = keras.ops.convert_to_tensor(np.array([[-0.75, -0.25, 0.25, 0.75]], dtype="float32"))
    logits = keras.layers.Lambda(lambda t: -200.0 * keras.ops.square(t - centres))(brightness)
    head = keras.Model(inputs, keras.layers.Softmax()(logits))
    levels = np.tile([-0.75, -0.25, 0.25, 0.75], 10).astype("float32")
    images = np.broadcast_to(levels[:, None, None, None], (40, 16, 16, 1))  # resized to 8x8
    mean, _ = inception_score_from_images(images, head, splits=2, batch_size=16)
    assert mean == pytest.approx(4.0, rel=0.02)


def test_load_is_classifier_without_weights_says_what_to_do(tmp_path):
    with pytest.raises(
        FileNotFoundError, match=r"inception_v3_weights_tf_dim_ordering_tf_kernels\.h5"
    ):
        load_is_classifier(tmp_path / "missing.h5")


def test_knn_radii_excludes_the_point_itself():
    points = np.array([[0.0], [1.0], [3.0], [7.0]])
    np.testing.assert_allclose(knn_radii(points, k=1), [1.0, 1.0, 2.0, 4.0])
    np.testing.assert_allclose(knn_radii(points, k=2, batch_size=3), [3.0, 2.0, 3.0, 6.0])


def test_precision_recall_identical_sets_score_high():
    scores = precision_recall(gaussian(600, 4), gaussian(600, 4, seed=5), batch_size=128)
    assert scores["precision"] > 0.9 and scores["recall"] > 0.9


def test_precision_recall_on_half_the_modes():
    rng = np.random.default_rng(0)
    angles = np.arange(8) * np.pi / 4
    modes = 20 * np.column_stack([np.cos(angles), np.sin(angles)])
    real = modes[rng.integers(0, 8, 800)] + rng.normal(size=(800, 2))
    fake = modes[rng.integers(0, 4, 800)] + rng.normal(size=(800, 2))  # modes 0..3 only
    scores = precision_recall(real, fake, k=3)
    assert scores["precision"] > 0.9
    assert scores["recall"] == pytest.approx(0.5, abs=0.08)
