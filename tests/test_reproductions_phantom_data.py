"""Every paper's ``load_dataset("phantoms", ...)``: the classes, splits and images its notebook
expects (the phantom path of each notebook, without running the notebook)."""

import numpy as np
import pytest

from cxr_keras.reproductions import davoodi, kora_venu, ng_gubbi, salehinejad

# paper module, its load_dataset arguments, the splits its notebook reads
CASES = {
    "kermany": (kora_venu, {"phantom_counts": {"normal": 12, "consolidation": 30},
                            "max_images_per_split": 20}, {"train", "val", "test"}),
    "salehinejad": (salehinejad, {"phantom_counts": dict.fromkeys(salehinejad.PHANTOM_STAND_INS, 12)},
                    {"train", "val", "test"}),
    "ng-gubbi": (ng_gubbi, {"phantom_counts": 12, "max_train_per_class": 6}, {"train", "val", "test"}),
    "davoodi": (davoodi, {"phantom_counts": 12}, {"train", "test"}),
}


@pytest.mark.parametrize("paper", sorted(CASES))
def test_phantom_datasets_have_the_notebooks_classes_splits_and_images(paper):
    module, kwargs, splits = CASES[paper]
    dataset = module.load_dataset("phantoms", image_size=32, seed=3, **kwargs)
    assert list(dataset.classes) == list(module.PHANTOM_STAND_INS)
    assert set(dataset.frame["split"]) == splits
    for split in splits:
        assert set(dataset.subset(split).labels()) == set(range(len(dataset.classes))), split
    dataset.check_no_patient_overlap()
    images, labels = dataset.to_numpy("train", image_size=32, channels=1)
    assert images.shape == (len(labels), 32, 32, 1) and images.dtype == np.float32
    assert images.min() >= -1.0 and images.max() <= 1.0 and images.std() > 0.05
    again = module.load_dataset("phantoms", image_size=32, seed=3, **kwargs)
    np.testing.assert_array_equal(again.to_numpy("train", image_size=32, channels=1)[0], images)


def test_kermany_phantoms_keep_the_class_ratio_when_subsampled():
    dataset = kora_venu.load_dataset("phantoms", {"normal": 40, "consolidation": 116},
                                     image_size=32, max_images_per_split=30, seed=0)
    for split in ("train", "test"):
        counts = dataset.class_counts(split)
        assert counts.sum() <= 32 and counts["consolidation"] > 2 * counts["normal"], (split, counts)


def test_ng_gubbi_phantoms_cap_the_training_images_per_class():
    dataset = ng_gubbi.load_dataset("phantoms", 12, image_size=32, max_train_per_class=4, seed=0)
    assert dataset.class_counts("train").max() <= 4
    assert dataset.class_counts("test").sum() > 0


def test_images_to_balance_covers_the_split_with_the_widest_gap():
    official = kora_venu.load_dataset("phantoms", {"normal": 20, "consolidation": 58},
                                      image_size=32, seed=0).frame
    moved = official.copy()
    moved.loc[moved.index[moved["split"] == "test"][:10], "split"] = "train"
    expected = []
    for frame in (official, moved):
        counts = frame.loc[frame["split"] == "train", "label"].value_counts()
        expected.append(counts["consolidation"] - counts["normal"])
    assert expected[1] != expected[0]
    assert kora_venu.images_to_balance({"official": official}, "normal") == expected[0]
    assert kora_venu.images_to_balance({"a": official, "b": moved}, "normal") == max(expected)
    with pytest.raises(ValueError, match="split 'empty' has no training images"):
        kora_venu.images_to_balance({"empty": official[official["split"] == "test"]}, "normal")
