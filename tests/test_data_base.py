"""The shared dataset interface: frame checks, counts, views, loading, manifests, bad images."""

import numpy as np
import pandas as pd
import pytest

from cxr_keras.data import CXRDataset, DatasetError, FolderDataset


def _frame(paths, labels, splits=None, patients=None):
    n = len(paths)
    return pd.DataFrame(
        {
            "path": [str(p) for p in paths],
            "label": labels,
            "split": splits or [""] * n,
            "patient_id": patients or [None] * n,
        }
    )


@pytest.fixture
def folder(tmp_image_folder):
    root = tmp_image_folder({"train/cat": 4, "train/dog": 2, "test/cat": 1, "test/dog": 3}, size=20)
    return FolderDataset(root)


def test_class_counts_include_zero_classes(folder):
    assert folder.classes == ["cat", "dog"]
    assert folder.class_counts().to_dict() == {"cat": 5, "dog": 5}
    assert folder.class_counts("test").to_dict() == {"cat": 1, "dog": 3}
    assert folder.subset(classes=["dog"]).class_counts("test").to_dict() == {"dog": 3}
    empty = CXRDataset(_frame(folder.frame["path"][:1], ["cat"]), ["cat", "bird"])
    assert empty.class_counts().to_dict() == {"cat": 1, "bird": 0}


def test_subset_keeps_type_and_renumbers_labels(folder):
    view = folder.subset(split="train", classes=["dog", "cat"])
    assert isinstance(view, FolderDataset) and len(view) == 6 and len(folder) == 10
    assert view.label_index == {"dog": 0, "cat": 1}
    np.testing.assert_array_equal(np.sort(view.labels()), [0, 0, 1, 1, 1, 1])
    with pytest.raises(DatasetError, match="unknown classes"):
        folder.subset(classes=["bird"])
    with pytest.raises(DatasetError, match="no split 'holdout'"):
        folder.subset(split="holdout")


def test_to_numpy_shapes_range_and_labels(folder):
    x, y = folder.to_numpy("test", image_size=12, channels=3)
    assert x.shape == (4, 12, 12, 3) and x.dtype == np.float32
    assert -1.0 <= x.min() < x.max() <= 1.0
    assert y.dtype == np.int32 and sorted(y.tolist()) == [0, 1, 1, 1]
    np.testing.assert_allclose(
        x[0], folder.load_image(int(np.flatnonzero(folder.frame["split"] == "test")[0]), 12, 3)
    )


def test_to_tf_dataset_matches_to_numpy(folder):
    x, y = folder.to_numpy("train", image_size=16)
    data = folder.to_tf_dataset("train", image_size=16, batch_size=4, cache=True)
    batches = list(data.as_numpy_iterator())
    assert [len(b[0]) for b in batches] == [4, 2]
    np.testing.assert_allclose(np.concatenate([b[0] for b in batches]), x)
    np.testing.assert_array_equal(np.concatenate([b[1] for b in batches]), y)
    shuffled = folder.to_tf_dataset(
        "train", image_size=16, batch_size=4, shuffle=True, drop_remainder=True
    )
    assert [b[0].shape for b in shuffled.as_numpy_iterator()] == [(4, 16, 16, 1)]
    cached = folder.to_tf_dataset("train", image_size=16, shuffle=True, cache=True, seed=2)
    epochs = [[float(image.sum()) for image, _ in cached.as_numpy_iterator()] for _ in range(3)]
    assert sorted(epochs[0]) == sorted(epochs[1]) and len({tuple(e) for e in epochs}) > 1


def test_manifest_round_trip_is_identical(folder, tmp_path):
    path = folder.write_manifest(tmp_path / "run" / "manifest.csv")
    assert list(pd.read_csv(path).columns[:4]) == ["path", "label", "split", "patient_id"]
    again = FolderDataset.from_manifest(path, classes=folder.classes)
    pd.testing.assert_frame_equal(again.frame, folder.frame)
    assert isinstance(again, FolderDataset) and again.classes == folder.classes


def test_manifest_errors_name_the_file(tmp_path, folder):
    with pytest.raises(DatasetError, match="missing.csv.*not found"):
        CXRDataset.from_manifest(tmp_path / "missing.csv")
    bad = tmp_path / "bad.csv"
    folder.frame.drop(columns=["split", "patient_id"]).to_csv(bad, index=False)
    with pytest.raises(DatasetError, match=r"bad\.csv.*\['split', 'patient_id'\]"):
        CXRDataset.from_manifest(bad)
    doubled = tmp_path / "doubled.csv"
    pd.concat([folder.frame, folder.frame[:1]]).to_csv(doubled, index=False)
    with pytest.raises(DatasetError, match=r"doubled\.csv: 1 duplicate image path"):
        CXRDataset.from_manifest(doubled)
    with pytest.raises(DatasetError, match=r"label\(s\) \['dog'\] not in classes \['cat'\]"):
        CXRDataset.from_manifest(folder.write_manifest(tmp_path / "ok.csv"), classes=["cat"])


def test_frame_and_classes_are_validated(folder):
    with pytest.raises(DatasetError, match="missing column"):
        CXRDataset(folder.frame.drop(columns=["label"]), ["cat", "dog"])
    with pytest.raises(DatasetError, match="unique"):
        CXRDataset(folder.frame, ["cat", "cat"])
    with pytest.raises(ValueError, match="on_error"):
        CXRDataset(folder.frame, ["cat", "dog"], on_error="ignore")


def _with_bad_files(tmp_image_folder):
    root = tmp_image_folder({"a": 3, "b": 2}, size=16)
    (root / "a" / "img_001.png").write_bytes(b"garbage")
    good = (root / "b" / "img_000.png").read_bytes()
    (root / "b" / "img_001.png").write_bytes(good[: len(good) // 2])
    return root


def test_validate_raises_listing_unreadable_images(tmp_image_folder):
    dataset = FolderDataset(_with_bad_files(tmp_image_folder))
    with pytest.raises(
        DatasetError, match=r"2 unreadable image\(s\).*a/img_001\.png.*b/img_001\.png"
    ):
        dataset.validate()
    with pytest.raises(DatasetError, match="img_001.png"):
        dataset.to_numpy(image_size=8)
    with pytest.raises(Exception, match=r"img_001\.png.*on_error='skip'"):
        list(dataset.to_tf_dataset(image_size=8).as_numpy_iterator())


def test_skip_mode_drops_and_reports_unreadable_images(tmp_image_folder):
    dataset = FolderDataset(_with_bad_files(tmp_image_folder), on_error="skip")
    with pytest.warns(UserWarning, match="skipped 2 unreadable"):
        x, y = dataset.to_numpy(image_size=8)
    assert x.shape == (3, 8, 8, 1) and y.tolist() == [0, 0, 1]
    assert sorted(p.split("/")[-2] for p, _ in dataset.skipped) == ["a", "b"]
    with pytest.warns(UserWarning, match="skipped"):
        tf_images = [image for image, _ in dataset.to_tf_dataset(image_size=8).as_numpy_iterator()]
    assert len(tf_images) == 3
    upfront = FolderDataset(dataset.root, on_error="skip")
    with pytest.warns(UserWarning, match="skipped 2"):
        bad = upfront.validate()
    assert len(bad) == 2 and len(upfront) == 3 and upfront.to_numpy(image_size=8)[0].shape[0] == 3


def test_multi_label_counts_positives_and_gives_multi_hot(tmp_image_folder):
    root = tmp_image_folder({"x": 3}, size=8)
    frame = _frame(sorted((root / "x").iterdir()), ["a|b", "b", "a"])
    frame["a"], frame["b"] = [1, 0, 1], [1, 1, 0]
    dataset = CXRDataset(frame, ["a", "b"], multi_label=True)
    assert dataset.class_counts().to_dict() == {"a": 2, "b": 2}
    np.testing.assert_array_equal(dataset.labels(), [[1, 1], [0, 1], [1, 0]])
    only_b = dataset.subset(classes=["b"])
    assert only_b.frame["label"].tolist() == ["b", "b"] and only_b.labels().shape == (2, 1)
    ((_, labels),) = dataset.to_tf_dataset(image_size=8, batch_size=3).as_numpy_iterator()
    assert labels.shape == (3, 2) and labels.dtype == np.float32
