import numpy as np
import pytest

from cxr_keras.metrics.memorization import (
    distance_blocks,
    memorization_audit,
    memorization_summary,
    nearest_neighbours,
    real_to_real_distances,
)
from cxr_keras.paths import KERMANY_DIR, shared_data_root

COPIED = np.array([3, 17, 42, 58, 90])


def planted_sets(train):
    """Generated set: fresh samples plus slightly noisy copies of training items COPIED."""
    rng = np.random.default_rng(1)
    fresh = rng.uniform(-1, 1, size=(25, *train.shape[1:]))
    copies = np.clip(
        train[COPIED] + rng.normal(scale=0.01, size=(len(COPIED), *train.shape[1:])), -1, 1
    )
    return np.concatenate([fresh, copies])


def test_nearest_neighbours_matches_brute_force_across_batches():
    rng = np.random.default_rng(0)
    queries, references = rng.normal(size=(23, 5)), rng.normal(size=(40, 5))
    index, distance = nearest_neighbours(queries, references, batch_size=7)
    full = np.linalg.norm(queries[:, None] - references[None], axis=-1)
    np.testing.assert_array_equal(index, full.argmin(axis=1))
    np.testing.assert_allclose(distance, full.min(axis=1))
    assert [start for start, _ in distance_blocks(queries, references, batch_size=7)] == [
        0,
        7,
        14,
        21,
    ]


def test_nearest_neighbours_flattens_images_and_checks_sizes():
    images = np.zeros((3, 4, 4, 1))
    index, _ = nearest_neighbours(
        images, images + np.arange(3)[:, None, None, None], metric="cityblock"
    )
    np.testing.assert_array_equal(index, [0, 0, 0])
    with pytest.raises(ValueError, match="differ in size per item: 16 vs 9"):
        nearest_neighbours(images, np.zeros((2, 3, 3)))


def test_audit_finds_planted_copies_in_both_spaces():
    rng = np.random.default_rng(0)
    train = rng.uniform(-1, 1, size=(100, 8, 8, 1))
    generated = planted_sets(train)
    # "Features": a fixed random projection, so copies stay close in feature space too.
    projection = rng.normal(size=(64, 16))
    train_feats, generated_feats = (
        train.reshape(100, -1) @ projection,
        generated.reshape(30, -1) @ projection,
    )
    audit = memorization_audit(generated_feats, train_feats, generated, train)
    assert list(audit.columns) == [
        "generated_index",
        "feature_nn_index",
        "feature_distance",
        "pixel_nn_index",
        "pixel_distance",
    ]
    copies = audit.iloc[25:]
    np.testing.assert_array_equal(copies["feature_nn_index"], COPIED)
    np.testing.assert_array_equal(copies["pixel_nn_index"], COPIED)
    assert set(audit.nsmallest(5, "pixel_distance")["generated_index"]) == set(range(25, 30))

    holdout = rng.uniform(-1, 1, size=(50, 8, 8, 1))
    baseline = real_to_real_distances(train, holdout)
    summary = memorization_summary(audit, baseline, percentile=5, space="pixel")
    flagged = audit["pixel_distance"] < summary["threshold"]
    assert flagged.iloc[25:].all()  # every copy; fresh samples only by chance (about 5 %)
    assert flagged.iloc[:25].sum() <= 3
    assert summary["n_below_threshold"] == flagged.sum()
    assert summary["fraction_below_threshold"] == pytest.approx(flagged.mean())
    assert summary["threshold"] == pytest.approx(np.percentile(baseline, 5))
    assert 0.5 < summary["median_ratio"] < 1.5  # most generated images are ordinary


def test_audit_validates_its_inputs():
    feats = np.zeros((4, 3))
    with pytest.raises(ValueError, match="pass both generated_pixels and train_pixels"):
        memorization_audit(feats, feats, generated_pixels=np.zeros((4, 2, 2)))
    with pytest.raises(ValueError, match="same images as the feature arrays"):
        memorization_audit(feats, feats, np.zeros((3, 2, 2)), np.zeros((4, 2, 2)))
    audit = memorization_audit(feats, feats)
    with pytest.raises(ValueError, match="no 'pixel_distance' column"):
        memorization_summary(audit, np.ones(3), space="pixel")


@pytest.mark.shared_data
def test_audit_on_real_chest_xrays_finds_flipped_copies():
    root = shared_data_root()
    if root is None:
        pytest.skip("no shared data root")
    from PIL import Image

    files = sorted((root / KERMANY_DIR / "chest_xray" / "test" / "NORMAL").glob("*.png"))[:60]
    if len(files) < 60:
        pytest.skip("Kermany test images not found")
    images = np.stack([np.asarray(Image.open(f).resize((32, 32))) for f in files]).astype(
        np.float32
    )
    images = images[..., None] / 127.5 - 1
    train, holdout = images[:40], images[40:]
    generated = np.concatenate([holdout[:10], train[[5, 25]] * 0.98])  # two near copies
    audit = memorization_audit(generated.reshape(12, -1), train.reshape(40, -1))
    summary = memorization_summary(
        audit, real_to_real_distances(train.reshape(40, -1), holdout.reshape(20, -1))
    )
    np.testing.assert_array_equal(audit["feature_nn_index"].iloc[10:], [5, 25])
    assert summary["n_below_threshold"] == 2
