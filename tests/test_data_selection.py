import pytest

from cxr_keras.data import selection
from cxr_keras.data.phantom_dataset import PhantomDataset


def test_cap_per_class_samples_each_split_and_class():
    dataset = PhantomDataset({"normal": 20, "consolidation": 40}, size=32, seed=0)
    capped = selection.cap_per_class(dataset, 5, seed=1)
    sizes = capped.frame.groupby(["split", "label"]).size()
    assert sizes.max() == 5 and len(sizes) == 6
    assert set(capped.frame["path"]) <= set(dataset.frame["path"])
    assert len(dataset.frame) == 60
    again = selection.cap_per_class(dataset, 5, seed=1)
    assert list(again.frame["path"]) == list(capped.frame["path"])
    assert selection.cap_per_class(dataset, None) is dataset
    with pytest.raises(ValueError, match="max_per_class must be a positive integer"):
        selection.cap_per_class(dataset, 0)


def test_stratified_subsample_keeps_the_class_ratio():
    dataset = PhantomDataset({"normal": 30, "consolidation": 90}, size=32, seed=0,
                             splits={"train": 0.8, "test": 0.2})
    subsample = selection.stratified_subsample(dataset, 40, seed=0)
    train = subsample.class_counts("train")
    assert train.sum() == 40 and train["consolidation"] == 3 * train["normal"]
    assert subsample.class_counts("test").to_dict() == dataset.class_counts("test").to_dict()
    assert selection.stratified_subsample(dataset, None) is dataset
    with pytest.raises(ValueError, match="max_per_split must be a positive integer"):
        selection.stratified_subsample(dataset, -3)




def test_cap_training_images_leaves_the_other_splits_whole():
    dataset = PhantomDataset({"normal": 20, "consolidation": 40}, size=32, seed=0)
    capped = selection.cap_training_images(dataset, 3, seed=0)
    assert capped.class_counts("train")[["normal", "consolidation"]].tolist() == [3, 3]
    assert capped.class_counts("test").to_dict() == dataset.class_counts("test").to_dict()
    assert selection.cap_training_images(dataset, None) is dataset


def test_resolve_root_finds_the_folder_under_a_shared_root(tmp_path):
    (tmp_path / "nih").mkdir()
    assert selection.resolve_root(tmp_path, "nih") == tmp_path / "nih"
    assert selection.resolve_root(tmp_path / "nih", "nih") == tmp_path / "nih"


def test_drop_small_classes_names_what_it_dropped_and_refuses_to_leave_one():
    dataset = PhantomDataset({"normal": 20, "consolidation": 40, "edema": 2}, size=32, seed=0)
    kept, dropped = selection.drop_small_classes(dataset, 5)
    assert kept.classes == ["normal", "consolidation"] and "edema" in dropped
    with pytest.raises(ValueError, match="fewer than 2 classes have 100 training images"):
        selection.drop_small_classes(dataset, 100)
