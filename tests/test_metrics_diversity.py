import numpy as np
import pytest

from cxr_keras.metrics.diversity import (
    density_coverage,
    diversity_ratio,
    nearest_distance_ratio,
    spread,
)


def brute_force_density_coverage(real, fake, k):
    """Naeem et al.'s definitions written out with loops, to check the vectorized version."""
    radii = []
    for i, x in enumerate(real):
        others = sorted(np.linalg.norm(x - y) for j, y in enumerate(real) if j != i)
        radii.append(others[k - 1])
    inside = [[np.linalg.norm(y - x) < r for x, r in zip(real, radii)] for y in fake]
    inside = np.array(inside)
    return inside.sum() / (k * len(fake)), inside.any(axis=0).mean()


def test_spread_statistics_on_known_points():
    points = np.array([[0.0], [1.0], [3.0]])
    assert spread(points) == pytest.approx(2.0)  # pairs 1, 3, 2
    assert spread(points, "median_nearest") == pytest.approx(1.0)  # nearest 1, 1, 2


def test_diversity_ratio_of_a_shrunk_copy_is_the_shrink_factor():
    real = np.random.default_rng(0).normal(size=(30, 6))
    for statistic in ("mean_pairwise", "median_nearest"):
        assert diversity_ratio(0.25 * real, real, statistic) == pytest.approx(0.25)
        assert diversity_ratio(real + 7.0, real, statistic) == pytest.approx(1.0)


def test_diversity_ratio_flattens_images_and_sees_collapse():
    images = np.random.default_rng(1).uniform(-1, 1, size=(20, 8, 8, 1))
    assert diversity_ratio(np.repeat(images[:1], 20, axis=0), images) == 0.0


def test_nearest_distance_ratio_copies_real_and_far_away():
    rng = np.random.default_rng(2)
    real, fresh = rng.normal(size=(200, 4)), rng.normal(size=(200, 4))
    assert nearest_distance_ratio(real[:50], real) == 0.0
    assert 0.8 < nearest_distance_ratio(fresh, real) < 1.6
    assert nearest_distance_ratio(fresh + 20.0, real) > 10


def test_density_and_coverage_of_a_set_against_itself_are_one():
    real = np.random.default_rng(3).normal(size=(60, 5))
    assert density_coverage(real, real) == {"density": 1.0, "coverage": 1.0}


def test_density_and_coverage_are_zero_far_from_the_real_set():
    real = np.random.default_rng(4).normal(size=(40, 3))
    assert density_coverage(real, real[:10] + 100.0) == {"density": 0.0, "coverage": 0.0}


def test_collapse_onto_one_real_item_has_full_density_but_one_ball_of_coverage():
    real = np.array([[0.0], [1.0], [2.5], [4.5], [7.0]])
    collapsed = np.repeat(real[:1], 8, axis=0)
    result = density_coverage(real, collapsed, k=1)
    assert result["density"] == pytest.approx(1.0)  # each copy lies in X_0's ball only
    assert result["coverage"] == pytest.approx(1 / 5)


def test_density_coverage_match_the_definitions_across_blocks():
    rng = np.random.default_rng(5)
    real, fake = rng.normal(size=(35, 3)), rng.normal(0.3, 1.2, size=(27, 3))
    density, coverage = brute_force_density_coverage(real, fake, k=4)
    result = density_coverage(real, fake, k=4, batch_size=7)
    assert result["density"] == pytest.approx(density)
    assert result["coverage"] == pytest.approx(coverage)


def test_bad_inputs_name_the_parameter():
    real = np.random.default_rng(6).normal(size=(5, 2))
    with pytest.raises(ValueError, match="real must be an array of at least 6"):
        density_coverage(real, real)
    with pytest.raises(ValueError, match="generated contains NaN"):
        density_coverage(np.vstack([real, real + 1]), np.full((2, 2), np.nan))
    with pytest.raises(ValueError, match="statistic must be one of"):
        spread(real, "max")
    with pytest.raises(ValueError, match="real items are all identical"):
        diversity_ratio(real, np.zeros((4, 2)))
