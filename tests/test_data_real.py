"""The loaders on the real samples in ../shared/data: counts from its README and metadata."""

import numpy as np
import pandas as pd
import pytest

from cxr_keras.data import (
    CovidChestXrayDataset,
    DavoodiCovidDataset,
    KermanyDataset,
    NIHChestXray14Dataset,
    PneumoniaMNISTDataset,
)
from cxr_keras.data.covid import COVID_FRONTAL_VIEWS
from cxr_keras.paths import COVID_DIR, KERMANY_DIR, NIH_DIR, PNEUMONIAMNIST_FILE

pytestmark = [pytest.mark.shared_data, pytest.mark.filterwarnings("ignore::UserWarning")]


def test_kermany_counts_images_and_manifest(data_root, tmp_path):
    dataset = KermanyDataset(data_root / KERMANY_DIR)
    assert dataset.class_counts("test").tolist() == [234, 390]
    assert dataset.class_counts("train").tolist() == [670, 1937]
    labels = pd.read_csv(data_root / KERMANY_DIR / "labels.csv")
    subtypes = dataset.frame.assign(
        png_path=dataset.frame["path"].str.split(f"{KERMANY_DIR}/").str[1]
    )
    merged = subtypes.merge(labels, on="png_path", suffixes=("", "_readme"))
    assert len(merged) == len(dataset) and (merged["subtype"] == merged["subtype_readme"]).all()
    x, y = dataset.subset("test").to_numpy(image_size=32)
    assert (
        x.shape == (624, 32, 32, 1)
        and x.min() >= -1
        and x.max() <= 1
        and np.bincount(y).tolist() == [234, 390]
    )
    again = KermanyDataset.from_manifest(
        dataset.write_manifest(tmp_path / "kermany.csv"), classes=dataset.classes
    )
    pd.testing.assert_frame_equal(again.frame, dataset.frame)


def test_kermany_val_split_is_patient_level(data_root):
    dataset = KermanyDataset(data_root / KERMANY_DIR, val_fraction=0.1, seed=0)
    val = dataset.frame[dataset.frame["split"] == "val"]
    train_patients = set(dataset.frame.loc[dataset.frame["split"] == "train", "patient_id"])
    assert not train_patients & set(val["patient_id"])
    share = val["label"].value_counts(normalize=True)["normal"]
    assert abs(share - 670 / 2607) < 0.05  # stratified: the class balance of train holds


def test_pneumoniamnist_counts(data_root):
    dataset = PneumoniaMNISTDataset(data_root / PNEUMONIAMNIST_FILE)
    assert [len(dataset.subset(s)) for s in ("train", "val", "test")] == [4708, 524, 624]
    assert dataset.class_counts("train").tolist() == [1214, 3494]
    x, _ = dataset.subset("test").to_numpy(image_size=64, channels=3)
    assert x.shape == (624, 64, 64, 3) and x.min() >= -1 and x.max() <= 1


def test_nih_multi_label_counts_and_folder_split(data_root, tmp_path):
    dataset = NIHChestXray14Dataset(data_root / NIH_DIR, single_label=False)
    assert dataset.class_counts().to_dict() == {
        "Normal": 499,
        "Cardiomegaly": 83,
        "Effusion": 170,
        "Edema": 31,
        "Pneumothorax": 40,
    }
    labels = pd.read_csv(data_root / NIH_DIR / "labels.csv")
    expected_split = labels.set_index("Image Index")["split"].replace("valid", "val")
    names = dataset.frame["path"].str.rsplit("/", n=1).str[1]
    assert (names.map(expected_split).to_numpy() == dataset.frame["split"].to_numpy()).all()
    again = NIHChestXray14Dataset.from_manifest(
        dataset.write_manifest(tmp_path / "nih.csv"), classes=dataset.classes, multi_label=True
    )
    pd.testing.assert_frame_equal(again.frame, dataset.frame)
    x, y = dataset.subset("test").to_numpy(image_size=64)
    assert x.shape[1:] == (64, 64, 1) and y.shape == (len(x), 5)


def test_nih_single_label_matches_label_file(data_root):
    dataset = NIHChestXray14Dataset(data_root / NIH_DIR, views=["PA"])
    labels = pd.read_csv(data_root / NIH_DIR / "labels.csv")
    labels = labels[labels["View Position"] == "PA"]
    wanted = {
        "No Finding": "Normal",
        "Cardiomegaly": "Cardiomegaly",
        "Effusion": "Effusion",
        "Edema": "Edema",
        "Pneumothorax": "Pneumothorax",
    }
    expected = labels["Finding Labels"].map(wanted).value_counts()
    assert (
        dataset.class_counts().to_dict()
        == expected.reindex(dataset.classes, fill_value=0).to_dict()
    )


def test_covid_frontal_finding_counts_match_metadata(data_root):
    root = data_root / COVID_DIR
    dataset = CovidChestXrayDataset(root)
    metadata = pd.read_csv(root / "metadata.csv")
    frontal = metadata[metadata["view"].isin(COVID_FRONTAL_VIEWS)].drop_duplicates("png_filename")
    frontal = frontal[frontal["png_filename"].map(lambda name: (root / "images" / name).is_file())]
    assert (
        dataset.class_counts().to_dict()
        == frontal["finding"].value_counts().reindex(dataset.classes).to_dict()
    )
    covid = CovidChestXrayDataset(root, findings={"covid": "COVID-19"})
    assert covid.class_counts()["covid"] == frontal["finding"].str.contains("COVID-19").sum()


def test_davoodi_composite_counts_and_patients(data_root):
    make = lambda: DavoodiCovidDataset(data_root / COVID_DIR, data_root / KERMANY_DIR, seed=0)
    dataset = make()
    assert dataset.class_counts("train").tolist() == [60, 70, 70, 70]
    assert dataset.class_counts("test").tolist() == [9, 9, 9, 9]
    dataset.check_no_patient_overlap()
    pd.testing.assert_frame_equal(make().frame, dataset.frame)
    x, y = dataset.subset("test").to_numpy(image_size=64)
    assert x.shape == (36, 64, 64, 1) and np.bincount(y).tolist() == [9, 9, 9, 9]
