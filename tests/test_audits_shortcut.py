"""Shortcut audit and mitigations on constructed images whose sources differ in known ways."""

import numpy as np
import pandas as pd
import pytest

from cxr_keras.audits import (
    SHORTCUT_AUC,
    histogram_match,
    lung_field_crop,
    mitigate,
    shortcut_audit,
    shortcut_caveat,
    shortcut_claim,
    view_features,
)
from cxr_keras.audits.shortcut import border_features, lung_field_mask

N, SIZE = 80, 32


def _images(marker: bool, seed: int = 0):
    """Noise images in [-1, 1]; class 0 images carry a bright corner marker when ``marker``."""
    rng = np.random.default_rng(seed)
    images = rng.uniform(-0.5, 0.5, (N, SIZE, SIZE, 1)).astype(np.float32)
    labels = np.repeat([0, 1], N // 2)
    if marker:
        images[labels == 0, :4, :4] = 1.0
    return images, labels


def test_a_border_marker_is_flagged_as_a_source_shortcut():
    images, labels = _images(marker=True)
    audit = shortcut_audit(images, labels, ["covid", "normal"], n_boot=50).set_index("view")
    assert list(audit.index) == ["full_16x16", "border", "blur_8x8", "histogram"]
    assert audit.at["border", "auc"] > 0.95 and audit.at["border", "auc_low"] > SHORTCUT_AUC
    assert bool(audit.at["border", "source_shortcut"])
    assert audit.at["border", "balanced_accuracy"] > 0.9
    assert pd.isna(audit.at["full_16x16", "source_shortcut"])
    assert audit.at["border", "auc_chance"] == 0.5
    assert audit.at["border", "balanced_accuracy_chance"] == 0.5
    assert "border AUC" in shortcut_caveat(audit.reset_index())
    claim = shortcut_claim(audit.reset_index()).iloc[0]
    assert claim["verdict"] == "did not hold" and not claim["held"] and "border AUC" in claim["kit"]


def test_no_difference_between_classes_stays_near_chance():
    images, labels = _images(marker=False)
    audit = shortcut_audit(images, labels, ["covid", "normal"], n_boot=50)
    assert not audit["source_shortcut"].fillna(False).astype(bool).any()
    assert (audit["auc"].between(0.2, 0.8)).all()
    assert shortcut_caveat(audit).startswith("no source shortcut")
    assert shortcut_claim(audit)["verdict"].iat[0] == "held"


def test_lung_field_crop_removes_a_border_marker():
    images, labels = _images(marker=True)
    cropped = lung_field_crop(images)
    assert cropped.shape == images.shape and cropped.dtype == np.float32
    audit = shortcut_audit(cropped, labels, ["covid", "normal"], n_boot=50).set_index("view")
    assert not audit.at["border", "source_shortcut"]


def test_histogram_match_gives_every_image_the_reference_histogram():
    rng = np.random.default_rng(1)
    bright = rng.uniform(0.2, 1.0, (10, SIZE, SIZE, 1))
    dark = rng.uniform(-1.0, -0.2, (10, SIZE, SIZE, 1))
    matched = histogram_match(np.concatenate([bright, dark]), reference=bright)
    assert matched.shape == (20, SIZE, SIZE, 1)
    means = matched.reshape(20, -1).mean(axis=1)
    assert np.allclose(means, means[0], atol=1e-3) and means[0] > 0.5
    # ranks are kept: the brightest pixel stays the brightest
    assert np.argmax(matched[15]) == np.argmax(dark[5])


def test_mitigate_by_name_and_unknown_name():
    images, _ = _images(marker=True)
    assert np.array_equal(mitigate(images, "none"), images)
    both = mitigate(images, "lung_crop+histogram_match")
    assert both.shape == images.shape
    with pytest.raises(ValueError, match="method must be one of"):
        mitigate(images, "blur")


def test_size_view_only_when_every_size_is_known():
    images, labels = _images(marker=False)
    known = pd.DataFrame({"orig_width": np.where(labels == 0, 2000, 1000), "orig_height": 1500})
    views = view_features(images, known)
    assert views["original_size"].shape == (N, 3)
    audit = shortcut_audit(images, labels, ["covid", "normal"], metadata=known, n_boot=50)
    assert audit.set_index("view").at["original_size", "auc"] == pytest.approx(1.0)
    partial = known.astype(float).assign(orig_width=lambda f: f["orig_width"].where(labels == 0))
    assert "original_size" not in view_features(images, partial)


def test_border_view_leaves_out_the_lung_field():
    mask = lung_field_mask(16)
    assert mask[8, 8] and not mask[0, 0] and not mask[15, 8]
    images, _ = _images(marker=False)
    assert border_features(images).shape == (N, int((~mask).sum()))


def test_bad_inputs_name_the_parameter():
    images, labels = _images(marker=False)
    with pytest.raises(ValueError, match="positive_class"):
        shortcut_audit(images, labels, ["a", "b"], positive_class="covid")
    with pytest.raises(ValueError, match=r"\[-1, 1\]"):
        shortcut_audit(images * 300, labels, ["covid", "b"])
    with pytest.raises(ValueError, match="NHWC"):
        shortcut_audit(images[..., 0], labels, ["covid", "b"])
    with pytest.raises(ValueError, match="labels must be 1-d integer"):
        shortcut_audit(images, labels.astype(float), ["covid", "b"])
    with pytest.raises(ValueError, match="metadata has"):
        view_features(images, pd.DataFrame({"orig_width": [1]}))
    with pytest.raises(ValueError, match="folds"):
        shortcut_audit(images[:6], labels[:6] * 0 + np.array([0, 0, 0, 0, 0, 1]), ["covid", "b"])
