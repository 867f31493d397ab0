"""Paired bootstrap of A - B over seeds and test clusters, and the detectable difference."""

import numpy as np
import pytest

from cxr_keras.metrics import bonferroni, cluster_codes, detectable_difference, paired_difference


def _right_on_k_more(n=200, k=20, seeds=3):
    """A and B right on the same 150 images; A also right on ``k`` more: A - B = k / n."""
    b = np.zeros((seeds, n))
    b[:, :150] = 100
    a = b.copy()
    a[:, 150:150 + k] = 100
    return a, b


def test_a_right_on_k_more_images_is_a_gain_of_k_over_n_points_with_an_interval_above_0():
    a, b = _right_on_k_more()
    result = paired_difference(a, b, n_boot=500, seed=0)
    assert result["difference"] == pytest.approx(10.0)
    assert 0 < result["low"] < 10 < result["high"]
    assert result["sd_seeds"] == 0  # every seed agrees: all the spread is test resampling
    assert result["sd_test"] == pytest.approx(result["sd"], rel=0.2)
    # A binomial share of 20/200 discordant images: SE = 100 * sqrt(p (1 - p) / n).
    assert result["sd"] == pytest.approx(100 * np.sqrt(0.1 * 0.9 / 200), rel=0.15)
    assert result["detectable"] == pytest.approx(2.8016 * result["sd"], rel=1e-3)
    assert (result["n_seeds"], result["n_clusters"]) == (3, 200)
    flipped = paired_difference(b, a, n_boot=500, seed=0)
    assert flipped["difference"] == -10.0 and flipped["high"] < 0


def test_seed_spread_and_test_resampling_are_told_apart():
    rng = np.random.default_rng(0)
    b = np.zeros((4, 100))
    a = np.tile([[3.0], [-3.0], [2.0], [-2.0]], (1, 100))  # seeds disagree, images do not
    result = paired_difference(a, b, n_boot=400, seed=1)
    assert result["difference"] == 0
    assert result["sd_test"] == 0 and result["sd_seeds"] > 1
    noisy = paired_difference(rng.normal(size=(1, 100)), np.zeros((1, 100)), n_boot=400)
    assert noisy["sd_seeds"] == 0 and noisy["sd_test"] > 0.05


def test_patients_are_resampled_as_clusters():
    # 10 patients of 10 images each, A right on every image of 5 of them and B on none:
    # resampled as patients the spread is that of 10 units, much wider than that of 100.
    a = np.repeat([100.0] * 5 + [0.0] * 5, 10)[None]
    b = np.zeros_like(a)
    patients = np.repeat(np.arange(10), 10)
    clustered = paired_difference(a, b, patients, n_boot=800)
    single = paired_difference(a, b, n_boot=800)
    assert clustered["difference"] == single["difference"] == 50
    assert clustered["n_clusters"] == 10 and clustered["sd"] > 2.5 * single["sd"]


def test_a_wider_confidence_widens_the_interval_and_the_detectable_difference():
    a, b = _right_on_k_more()
    plain, strict = (paired_difference(a, b, n_boot=500, confidence=c) for c in (0.95, bonferroni(0.95, 5)))
    assert strict["confidence"] == pytest.approx(0.99)
    assert strict["high"] - strict["low"] > plain["high"] - plain["low"]
    assert strict["detectable"] > plain["detectable"]


def test_detectable_difference_and_bonferroni():
    assert detectable_difference(1.0) == pytest.approx(1.959964 + 0.841621)
    assert bonferroni(0.95, 1) == pytest.approx(0.95) and bonferroni(0.95, 5) == pytest.approx(0.99)
    with pytest.raises(ValueError, match="comparisons must be a positive integer"):
        bonferroni(0.95, 0)
    with pytest.raises(ValueError, match="alpha and power"):
        detectable_difference(1.0, alpha=0)


def test_cluster_codes_give_missing_ids_their_own_cluster():
    codes = cluster_codes(["p1", None, "p2", "p1", np.nan], 5)
    assert codes[0] == codes[3] and len(set(codes)) == 4
    assert list(cluster_codes(None, 3)) == [0, 1, 2]
    with pytest.raises(ValueError, match="one id per test image"):
        cluster_codes(["p1"], 2)


def test_paired_difference_argument_errors():
    with pytest.raises(ValueError, match="the same seeds and the same test images"):
        paired_difference(np.zeros((2, 5)), np.zeros((3, 5)))
    with pytest.raises(ValueError, match="scores_a has non-finite"):
        paired_difference([np.nan, 1.0], [0.0, 1.0])
    with pytest.raises(ValueError, match="n_boot must be an integer"):
        paired_difference([1.0, 0.0], [0.0, 1.0], n_boot=1)
    with pytest.raises(ValueError, match="confidence must be in"):
        paired_difference([1.0, 0.0], [0.0, 1.0], confidence=95)
