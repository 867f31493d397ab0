import numpy as np
import pytest
from scipy.ndimage import gaussian_filter

from cxr_keras.data.phantoms import render_batch
from cxr_keras.health.fidelity import (
    class_agreement,
    near_duplicate_fraction,
    probe_features,
    two_sample_auc,
)


def phantoms(seed, n=60, size=32):
    return render_batch(["normal"] * n, size=size, seed=seed)[..., None].astype(np.float32)


def test_class_agreement_is_the_ratio_of_the_two_hit_rates():
    target_hits = lambda n, k: np.eye(3)[np.r_[np.zeros(k, int), np.ones(n - k, int)]]
    values = class_agreement(target_hits(40, 10), target_hits(20, 10), target=0, n_boot=200)
    assert values["agreement"] == pytest.approx(0.25)
    assert values["agreement_real"] == pytest.approx(0.5)
    assert values["agreement_ratio"] == pytest.approx(0.5)
    assert values["agreement_ratio_ci_low"] < 0.5 < values["agreement_ratio_ci_high"]
    assert np.isnan(class_agreement(target_hits(4, 4), target_hits(4, 0), target=0)["agreement_ratio"])
    with pytest.raises(ValueError, match="class 3"):
        class_agreement(target_hits(4, 4), target_hits(4, 4), target=3)


def test_probe_cannot_tell_two_real_sets_apart_but_tells_blurred_ones():
    real, other = phantoms(0), phantoms(1)
    floor = two_sample_auc(real, other, n_boot=100)
    assert 0.25 < floor["auc"] < 0.75 and floor["auc_ci_low"] < 0.5 + 0.25
    blurred = two_sample_auc(real, gaussian_filter(other, sigma=(0, 1, 1, 0)), n_boot=100)
    assert blurred["auc"] > 0.95 and blurred["auc_ci_low"] > floor["auc"]


def test_probe_features_are_per_image_and_refuse_bad_input():
    assert probe_features(phantoms(0, n=3)).shape == (3, 8 * 8 + 3 * 16)
    with pytest.raises(ValueError, match="multiple of 8"):
        probe_features(np.zeros((3, 12, 12, 1)))
    with pytest.raises(ValueError, match="NaN or inf"):
        probe_features(np.full((3, 16, 16, 1), np.nan))


def test_near_duplicates_count_repeats_not_a_shrunk_spread():
    real, other = phantoms(0).reshape(60, -1), phantoms(1).reshape(60, -1)
    fresh = near_duplicate_fraction(other, real)
    assert fresh < 0.2
    repeated = np.resize(other[:20], other.shape)  # 20 images repeated to the set size
    assert near_duplicate_fraction(repeated, real) == 1.0
    # Distances are relative to each set's spread: the same set at half the contrast is no
    # more collapsed than it was.
    assert near_duplicate_fraction(0.5 * other, real) == fresh
