import numpy as np
import pytest

from cxr_keras.metrics import frechet
from cxr_keras.metrics.frechet import (
    RankDeficientCovarianceWarning,
    feature_statistics,
    fid,
    fid_from_features,
    frechet_distance,
)


def test_frechet_distance_matches_closed_form_for_diagonal_covariances():
    mu1, mu2 = np.array([0.0, 1.0, 2.0]), np.array([1.0, 1.0, 0.0])
    s1, s2 = np.array([1.0, 4.0, 9.0]), np.array([4.0, 1.0, 1.0])
    # ||mu1 - mu2||^2 = 1 + 0 + 4; trace term = sum(s1 + s2 - 2 sqrt(s1 s2)) = 1 + 1 + 4
    expected = 5.0 + 6.0
    assert frechet_distance(mu1, np.diag(s1), mu2, np.diag(s2)) == pytest.approx(expected, abs=1e-9)


def test_frechet_distance_of_identical_statistics_is_zero():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(5, 5))
    sigma = a @ a.T + np.eye(5)
    mu = rng.normal(size=5)
    assert frechet_distance(mu, sigma, mu, sigma) == pytest.approx(0.0, abs=1e-8)


@pytest.mark.filterwarnings("ignore:Matrix is singular")
def test_frechet_distance_handles_a_singular_product():
    sigma = np.diag([1.0, 0.0])  # rank deficient, as with too few samples
    assert frechet_distance(np.zeros(2), sigma, np.zeros(2), sigma) == pytest.approx(0.0, abs=1e-5)


@pytest.mark.parametrize("method", ["eigh", "sqrtm"])
def test_frechet_distance_refuses_a_complex_square_root(method):
    with pytest.raises(ValueError, match=r"imaginary component of 2.*not positive semi-definite"):
        frechet_distance(np.zeros(2), np.diag([-4.0, 1.0]), np.zeros(2), np.eye(2), method=method)


@pytest.mark.parametrize("n_samples", [40, 400])
def test_eigh_and_sqrtm_methods_agree(n_samples):
    rng = np.random.default_rng(1)
    mixing = rng.normal(size=(64, 64))
    real = rng.normal(size=(n_samples, 64)) @ mixing
    fake = rng.normal(size=(n_samples, 64)) @ (mixing + 0.3 * rng.normal(size=(64, 64))) + 0.5
    stats = [*feature_statistics(real), *feature_statistics(fake)] if n_samples > 64 else None
    if stats is None:
        with pytest.warns(RankDeficientCovarianceWarning):
            stats = [*feature_statistics(real), *feature_statistics(fake)]
    fast = frechet_distance(*stats, method="eigh")
    reference = frechet_distance(*stats, method="sqrtm")
    assert fast == pytest.approx(reference, rel=1e-6)
    assert fast > 1.0


def test_frechet_distance_rejects_unknown_method():
    with pytest.raises(ValueError, match="method must be 'eigh' or 'sqrtm'"):
        frechet_distance(np.zeros(1), np.eye(1), np.zeros(1), np.eye(1), method="svd")


def test_frechet_distance_checks_shapes():
    with pytest.raises(ValueError, match="covariances must be 2x2"):
        frechet_distance(np.zeros(2), np.eye(3), np.zeros(2), np.eye(2))


def test_feature_statistics_too_few_samples_is_an_error():
    with pytest.raises(ValueError, match="at least 2 feature vectors, got 1"):
        feature_statistics(np.zeros((1, 8)))


def test_feature_statistics_rank_deficient_warns_or_raises_when_strict():
    features = np.random.default_rng(0).normal(size=(500, 2048))
    with pytest.warns(
        RankDeficientCovarianceWarning,
        match="2048-d features from 500 images.*use at least 2049 images or dims=768",
    ):
        mu, sigma = feature_statistics(features)
    assert mu.shape == (2048,) and sigma.shape == (2048, 2048)
    with pytest.raises(ValueError, match="rank-deficient"):
        feature_statistics(features, strict=True)


def test_feature_statistics_rejects_nan():
    features = np.ones((4, 2))
    features[1, 1] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        feature_statistics(features)


def test_fid_from_features_approaches_the_population_value():
    rng = np.random.default_rng(1)
    real = rng.normal(size=(20000, 3))
    fake = rng.normal(loc=[1.0, 0.0, 0.0], scale=[1.0, 2.0, 1.0], size=(20000, 3))
    expected = 1.0 + (1 + 4 - 2 * 2)  # mean shift + tr(S1 + S2 - 2 sqrt(S1 S2)) on axis 2
    assert fid_from_features(real, fake) == pytest.approx(expected, abs=0.1)


def test_fid_rejects_mismatched_dimensions():
    with pytest.raises(ValueError, match="differ in dimension: 3 vs 4"):
        fid_from_features(np.zeros((10, 3)), np.zeros((10, 4)))


def test_fid_accepts_features_and_sends_images_through_extract_features(monkeypatch):
    rng = np.random.default_rng(2)
    real, fake = rng.normal(size=(50, 4)), rng.normal(size=(50, 4)) + 1
    assert fid(real, fake) == pytest.approx(fid_from_features(real, fake))

    calls = []

    def fake_extract(images, model=None, dims=(2048, 768), batch_size=32, progress=True,
                     name="images", allow_nonnegative=False):
        calls.append((images.shape, dims, name))
        return {dims[0]: images.reshape(len(images), -1)[:, :4]}

    import sys
    import types

    monkeypatch.setitem(
        sys.modules,
        "cxr_keras.metrics.features",
        types.SimpleNamespace(extract_features=fake_extract),
    )
    images = rng.uniform(-1, 1, size=(30, 4, 4, 1))
    value = fid(images, images[::-1], dims=768)
    assert value == pytest.approx(0.0, abs=1e-6)
    assert calls == [((30, 4, 4, 1), (768,), "real"), ((30, 4, 4, 1), (768,), "fake")]


def test_fid_rejects_unknown_dims_and_shapes():
    with pytest.raises(ValueError, match="dims must be one of"):
        frechet.resolve_features(np.zeros((2, 4, 4, 1)), dims=100)
    with pytest.raises(ValueError, match="NHWC images"):
        frechet.resolve_features(np.zeros((2, 4, 4)))


def _pooling_feature_model():
    """The FID model's contract ([0, 255] RGB in, (2048, 768) features out), tiny and fixed."""
    import keras

    images = keras.Input((None, None, 3))
    pooled = keras.layers.GlobalAveragePooling2D()(images)
    outputs = [keras.layers.Dense(d, kernel_initializer=keras.initializers.RandomNormal(seed=d))(
        pooled) for d in (2048, 768)]
    return keras.Model(images, outputs)


def test_fid_refuses_nan_and_unit_range_images_naming_the_set():
    model = _pooling_feature_model()
    real = np.random.default_rng(0).uniform(-1, 1, (8, 4, 4, 1)).astype(np.float32)
    fake = real.copy()
    fake[3] = np.nan
    with pytest.raises(ValueError, match=r"fake holds NaN or infinite values \(in 1 of 8 images"):
        fid(real, fake, dims=768, model=model, batch_size=2)  # counted over the set, not a batch
    with pytest.raises(ValueError, match=r"real look like \[0, 1\] images.*images \* 2 - 1"):
        fid((real + 1) / 2, real, dims=768, model=model)
    with pytest.warns(frechet.RankDeficientCovarianceWarning):  # 8 images, 768 dims
        value = fid((real + 1) / 2, (real + 1) / 2, dims=768, model=model, allow_nonnegative=True)
    assert abs(value) < 0.01  # same images: 0 up to a rank-deficient sqrtm's rounding


@pytest.mark.parametrize("sizes", [(20, 31), (40, 7), (2, 2)])
def test_fid_of_sets_smaller_than_the_dimension_equals_the_covariance_route(sizes):
    # Fewer samples than dimensions takes the (n1, n2) cross-product route: same number.
    rng = np.random.default_rng(1)
    real = rng.normal(0.0, 1.0, (sizes[0], 64)) @ rng.normal(0.0, 1.0, (64, 64))
    fake = rng.normal(0.3, 1.5, (sizes[1], 64))
    with pytest.warns(RankDeficientCovarianceWarning):
        fast = fid_from_features(real, fake)
    with pytest.warns(RankDeficientCovarianceWarning):
        mu1, sigma1 = feature_statistics(real)
    with pytest.warns(RankDeficientCovarianceWarning):
        mu2, sigma2 = feature_statistics(fake)
    assert fast == pytest.approx(frechet_distance(mu1, sigma1, mu2, sigma2), rel=1e-6)
    with pytest.raises(ValueError, match="rank-deficient"):
        fid_from_features(real, fake, strict=True)
