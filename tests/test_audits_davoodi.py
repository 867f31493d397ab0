"""The Davoodi shortcut-audit driver: original sizes from the covid metadata, one audit per mitigation."""

import numpy as np
import pytest

from cxr_keras.audits.davoodi import audit_dataset, original_sizes
from cxr_keras.data.phantom_dataset import PhantomDataset
from cxr_keras.paths import COVID_DIR


@pytest.mark.shared_data
def test_original_sizes_are_known_for_the_covid_images_only(data_root):
    from cxr_keras.reproductions.davoodi import load_dataset

    dataset = load_dataset(str(data_root))
    sizes = original_sizes(dataset.frame, data_root / COVID_DIR / "metadata.csv")
    known = sizes.notna().all(axis=1).to_numpy()
    assert len(sizes) == len(dataset.frame)
    assert np.array_equal(known, (dataset.frame["label"] == "covid").to_numpy())
    assert (sizes.loc[known, "orig_width"] > 128).all()


def test_audit_dataset_has_every_view_for_every_mitigation():
    phantoms = PhantomDataset({"edema": 12, "normal": 12}, size=32, seed=0).subset(classes=["edema", "normal"])
    audit = audit_dataset(phantoms, image_size=32, positive_class="edema", mitigations=("none", "lung_crop"),
                          n_boot=20)
    assert audit.groupby("mitigation", sort=False)["view"].apply(list).to_dict() == {
        m: ["full_16x16", "border", "blur_8x8", "histogram"] for m in ("none", "lung_crop")}
    assert (audit["n_images"] == 24).all() and (audit["image_size"] == 32).all()
    assert audit["auc"].between(0, 1).all()
