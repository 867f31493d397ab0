"""Tests of the procedural chest X-ray phantoms (the embedded default dataset)."""

import numpy as np
import pytest
from scipy import ndimage

from cxr_keras.data.phantoms import (
    NORMAL_CTR_RANGE,
    PHANTOM_CLASSES,
    describe_phantom,
    phantom_arrays,
    plot_phantoms_vs_real,
    render_batch,
    render_phantom,
)

SEEDS = range(12)


def test_classes_start_with_normal():
    assert PHANTOM_CLASSES[0] == "normal"
    assert len(set(PHANTOM_CLASSES)) == 6


def test_same_seed_is_identical_and_seeds_differ():
    a = render_phantom("effusion", 64, seed=5)
    np.testing.assert_array_equal(a, render_phantom("effusion", 64, seed=5))
    assert np.abs(a - render_phantom("effusion", 64, seed=6)).mean() > 0.01
    np.testing.assert_array_equal(
        render_batch(["normal", "edema"], 32, 3), render_batch(["normal", "edema"], 32, 3)
    )


@pytest.mark.parametrize("size", [32, 64, 256])
@pytest.mark.parametrize("finding", PHANTOM_CLASSES)
def test_shape_dtype_and_range(finding, size):
    image = render_phantom(finding, size, seed=1)
    assert image.shape == (size, size)
    assert image.dtype == np.float32
    assert image.min() >= -1.0 and image.max() <= 1.0
    assert image.std() > 0.2  # a real picture, not a flat field


@pytest.mark.parametrize("finding", ["normal", "consolidation"])
def test_anatomy_is_the_same_at_every_size(finding):
    small = render_phantom(finding, 64, seed=2, noise=0.0)
    large = render_phantom(finding, 256, seed=2, noise=0.0)
    downsampled = large.reshape(64, 4, 64, 4).mean(axis=(1, 3))
    assert np.corrcoef(small.ravel(), downsampled.ravel())[0, 1] > 0.99
    assert np.abs(small - downsampled).mean() < 0.03


def test_radiograph_layout_air_dark_mediastinum_bright():
    info = describe_phantom("normal", 64, seed=0)
    image = render_phantom("normal", 64, seed=0)
    lungs = info["lung_mask"]
    assert lungs[:, :32].sum() > 100 and lungs[:, 32:].sum() > 100  # two lung fields
    mediastinum = image[20:40, 30:34]
    assert image[lungs].mean() < mediastinum.mean() - 0.4
    assert image[:4, :4].mean() < -0.8  # air outside the body


def test_cardiomegaly_ctr_above_half_and_normal_ctr_in_normal_range():
    normal = [describe_phantom("normal", 64, s)["ctr"] for s in range(40)]
    enlarged = [describe_phantom("cardiomegaly", 64, s)["ctr"] for s in range(40)]
    assert min(enlarged) > 0.5
    low, high = NORMAL_CTR_RANGE
    assert all(low <= ctr <= high for ctr in normal)
    info = describe_phantom("cardiomegaly", 128, 4)
    assert info["ctr"] == pytest.approx(info["heart_width"] / info["thorax_width"])


def test_bigger_heart_shows_as_a_wider_bright_shadow():
    def bright_width(ctr):
        """Width of the bright run through the image centre on a row crossing the heart."""
        row = render_phantom("normal", 128, seed=3, ctr=ctr, noise=0.0, rotation_deg=0.0)[82]
        dark = np.flatnonzero(row < 0.3)
        return int(dark[dark > 64].min() - dark[dark < 64].max())

    assert bright_width(0.62) > bright_width(0.4) + 5


def test_effusion_base_is_brighter_than_the_same_patient_without_it():
    differences = []
    for seed in SEEDS:
        region = describe_phantom("effusion", 64, seed)["finding_mask"]
        assert region.any()
        effusion = render_phantom("effusion", 64, seed)
        normal = render_phantom("normal", 64, seed)
        differences.append(effusion[region].mean() - normal[region].mean())
    assert np.mean(differences) > 0.2
    assert min(differences) > 0.0


def _fine_texture_variance(image, mask):
    return float((image - ndimage.gaussian_filter(image, 1.0))[mask].var())


def test_pneumothorax_rim_has_no_lung_markings():
    rim_texture, lung_texture = [], []
    for seed in SEEDS:
        info = describe_phantom("pneumothorax", 128, seed, severity=1.0)
        rim = ndimage.binary_erosion(info["finding_mask"], iterations=2)  # away from its edges
        assert rim.sum() > 20
        pneumothorax = render_phantom("pneumothorax", 128, seed, severity=1.0, noise=0.0)
        normal = render_phantom("normal", 128, seed, noise=0.0)
        rim_texture.append(_fine_texture_variance(pneumothorax, rim))
        lung_texture.append(_fine_texture_variance(normal, rim))
    # Ribs stay visible through the rim; the vessels and interstitial markings are gone.
    assert np.mean(rim_texture) < 0.8 * np.mean(lung_texture)


def test_findings_change_the_lungs_of_the_same_patient():
    normal = render_phantom("normal", 64, seed=9)
    for finding in PHANTOM_CLASSES[1:]:
        assert 0.0 <= describe_phantom(finding, 64, seed=9)["severity"] <= 1.0
        mild = np.abs(render_phantom(finding, 64, seed=9, severity=0.1) - normal).sum()
        marked = np.abs(render_phantom(finding, 64, seed=9, severity=0.9) - normal)
        assert (marked > 0.1).sum() > 15, finding
        assert marked.sum() > 1.5 * mild, finding  # severity matters


def test_phantom_arrays_honours_class_counts():
    counts = {"normal": 5, "effusion": 2, "edema": 1}
    x, y = phantom_arrays(counts, size=32, seed=0)
    assert x.shape == (8, 32, 32, 1) and x.dtype == np.float32
    assert y.dtype == np.int64
    assert np.bincount(y, minlength=6).tolist() == [5, 0, 2, 0, 0, 1]
    assert not np.array_equal(y, np.sort(y))  # shuffled
    _, y2 = phantom_arrays(1, size=32, seed=0)
    assert sorted(y2.tolist()) == list(range(6))


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: render_phantom("pneumonia"), "valid findings are normal, cardiomegaly"),
        (lambda: render_phantom("normal", size=16), "between 32 and 256"),
        (lambda: render_phantom("normal", size=300), "between 32 and 256"),
        (lambda: render_phantom("normal", colour=1), "unknown phantom parameters ['colour']"),
        (lambda: render_phantom("effusion", side="middle"), "side must be one of"),
        (lambda: render_phantom("edema", severity=2.0), "severity must be in [0, 1]"),
        (lambda: render_batch(["normal", "flu"]), "unknown finding 'flu'"),
        (lambda: phantom_arrays({"normal": 2, "covid": 1}), "unknown classes ['covid']"),
        (lambda: phantom_arrays({"normal": -1}), "non-negative integers"),
    ],
)
def test_bad_arguments_raise_clear_errors(call, message):
    with pytest.raises(ValueError) as error:
        call()
    assert message in str(error.value)


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: render_phantom("normal", size=64.0), "size must be an integer"),
        (lambda: phantom_arrays("ten"), "counts must be an int or a dict"),
    ],
)
def test_arguments_of_the_wrong_type_raise_type_errors(call, message):
    with pytest.raises(TypeError, match=message):
        call()


def test_plot_phantoms_vs_real_writes_a_png(tmp_path):
    real = [np.linspace(0, 255, 64 * 64).reshape(64, 64)]
    path = plot_phantoms_vs_real(real, tmp_path / "grid.png", size=32)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert [p.name for p in tmp_path.iterdir()] == ["grid.png"]  # no temporary left behind
    with pytest.raises(ValueError, match="real image 0 has shape"):
        plot_phantoms_vs_real([np.zeros((8, 8, 3))], tmp_path / "bad.png", size=32)
