"""Every loader on tiny synthetic copies of its dataset's layout, including bad layouts."""

import numpy as np
import pandas as pd
import pytest

from cxr_keras.data import (
    CovidChestXrayDataset,
    DatasetError,
    DavoodiCovidDataset,
    FolderDataset,
    KermanyDataset,
    NIHChestXray14Dataset,
    PhantomDataset,
    PneumoniaMNISTDataset,
)

KERMANY_NAMES = {
    "train/NORMAL": [
        "IM-0115-0001.jpeg",
        "IM-0115-0002.jpeg",
        "NORMAL2-IM-0115-0001.jpeg",
        "IM-0011-0001-0002.jpeg",
        "IM-0200-0001.jpeg",
        "IM-0201-0001.jpeg",
    ],
    "train/PNEUMONIA": [
        "person1_bacteria_1.jpeg",
        "person1_bacteria_2.jpeg",
        "person2_virus_5.jpeg",
        "person447_virus_921_1.jpeg",
        "person3_bacteria_9.jpeg",
        "person4_virus_7.jpeg",
    ],
    "val/NORMAL": ["NORMAL2-IM-1427-0001.jpeg"],
    "val/PNEUMONIA": ["person1946_bacteria_4874.jpeg"],
    "test/NORMAL": ["IM-0001-0001.jpeg"],
    "test/PNEUMONIA": ["person100_virus_184.jpeg", "person101_bacteria_485.jpeg"],
}


@pytest.fixture
def kermany_root(tmp_image_folder, tmp_path):
    tmp_image_folder(
        {f"chest_xray/{k}": v for k, v in KERMANY_NAMES.items()}, root=tmp_path / "kermany"
    )
    return tmp_path / "kermany"


def test_kermany_parses_names_and_accepts_both_roots(kermany_root):
    dataset = KermanyDataset(kermany_root)
    by_name = dataset.frame.assign(
        name=dataset.frame["path"].str.rsplit("/", n=1).str[1]
    ).set_index("name")
    assert by_name.loc["person447_virus_921_1.jpeg", ["patient_id", "subtype"]].tolist() == [
        "person447",
        "virus",
    ]
    assert by_name.loc["IM-0011-0001-0002.jpeg", "patient_id"] == "IM-0011"
    assert by_name.loc["NORMAL2-IM-0115-0001.jpeg", "patient_id"] == "NORMAL2-IM-0115"
    assert by_name.loc["IM-0115-0002.jpeg", ["patient_id", "subtype", "label"]].tolist() == [
        "IM-0115",
        "normal",
        "normal",
    ]
    assert dataset.frame["split"].value_counts().to_dict() == {"train": 12, "test": 3, "val": 2}
    pd.testing.assert_frame_equal(KermanyDataset(kermany_root / "chest_xray").frame, dataset.frame)
    x, y = dataset.to_numpy("test", image_size=8, channels=3)
    assert x.shape == (3, 8, 8, 3) and y.tolist() == [0, 1, 1]


def test_kermany_val_fraction_merges_official_val_and_splits_by_patient(kermany_root):
    dataset = KermanyDataset(kermany_root, val_fraction=0.3, seed=0)
    counts = dataset.frame["split"].value_counts().to_dict()
    assert counts["test"] == 3 and counts["train"] + counts["val"] == 14 and counts["val"] > 0
    dataset.check_no_patient_overlap()  # IM-0115 and person1 have two images each
    assert (
        dataset.frame.loc[dataset.frame["split"] == "val", "label"].nunique() == 2
    )  # both classes


def test_kermany_bad_layouts(tmp_path, tmp_image_folder):
    with pytest.raises(DatasetError, match="Kermany folder not found.*mendeley"):
        KermanyDataset(tmp_path / "nowhere")
    (tmp_path / "other").mkdir()
    with pytest.raises(
        DatasetError, match=r"not a Kermany chest_xray folder; expected chest_xray/\{train,test\}"
    ):
        KermanyDataset(tmp_path / "other")
    root = tmp_image_folder(
        {"chest_xray/train/NORMAL": 1, "chest_xray/test/NORMAL": 1, "chest_xray/test/PNEUMONIA": 1}
    )
    with pytest.raises(DatasetError, match=r"train/PNEUMONIA: class folder missing"):
        KermanyDataset(root)
    (root / "chest_xray/train/PNEUMONIA").mkdir()
    with pytest.raises(DatasetError, match=r"train/PNEUMONIA: no images in this class folder"):
        KermanyDataset(root)


def _npz(path, sizes=(6, 2, 3)):
    rng = np.random.default_rng(0)
    arrays = {}
    for split, n in zip(("train", "val", "test"), sizes):
        arrays[f"{split}_images"] = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
        arrays[f"{split}_labels"] = (np.arange(n) % 2).reshape(-1, 1).astype(np.uint8)
    np.savez(path, **arrays)
    return arrays


def test_pneumoniamnist_on_a_synthetic_npz(tmp_path):
    arrays = _npz(tmp_path / "pneumoniamnist.npz")
    dataset = PneumoniaMNISTDataset(tmp_path)
    assert dataset.class_counts("train").to_dict() == {"normal": 3, "pneumonia": 3}
    assert [len(dataset.subset(s)) for s in ("train", "val", "test")] == [6, 2, 3]
    x, _ = dataset.to_numpy("val", image_size=28)
    np.testing.assert_array_equal(
        np.rint((x[..., 0] + 1) * 127.5).astype(np.uint8), arrays["val_images"]
    )
    assert dataset.to_numpy("test", image_size=64, channels=3)[0].shape == (3, 64, 64, 3)
    manifest = dataset.write_manifest(tmp_path / "manifest.csv")
    again = PneumoniaMNISTDataset.from_manifest(manifest, classes=dataset.classes)
    pd.testing.assert_frame_equal(again.frame, dataset.frame)
    np.testing.assert_array_equal(again.to_numpy("val", image_size=28)[0], x)


def test_pneumoniamnist_bad_files(tmp_path):
    with pytest.raises(DatasetError, match="pneumoniamnist.npz: PneumoniaMNIST file not found"):
        PneumoniaMNISTDataset(tmp_path)
    np.savez(tmp_path / "partial.npz", train_images=np.zeros((1, 28, 28), np.uint8))
    with pytest.raises(
        DatasetError, match=r"partial\.npz: missing array\(s\) \['train_labels', 'val_images'"
    ):
        PneumoniaMNISTDataset(tmp_path / "partial.npz")
    (tmp_path / "text.npz").write_text("hello")
    with pytest.raises(DatasetError, match="text.npz: not a readable .npz"):
        PneumoniaMNISTDataset(tmp_path / "text.npz")


NIH_ROWS = [  # image, findings, patient, view
    ("00000001_000.png", "No Finding", "1", "PA"),
    ("00000001_001.png", "Cardiomegaly", "1", "PA"),
    ("00000002_000.png", "Cardiomegaly|Effusion", "2", "AP"),
    ("00000003_000.png", "Edema", "3", "PA"),
    ("00000004_000.png", "Pneumothorax", "4", "AP"),
    ("00000005_000.png", "Infiltration", "5", "PA"),
    ("00000006_000.png", "No Finding", "6", "PA"),
    ("00000007_000.png", "Effusion", "7", "PA"),
    ("00000008_000.png", "No Finding", "8", "AP"),  # image absent
]


@pytest.fixture
def nih_root(tmp_image_folder, tmp_path):
    root = tmp_path / "nih"
    names = [row[0] for row in NIH_ROWS[:-1]]
    tmp_image_folder({"images_001/images": names[:5], "images_002/images": names[5:]}, root=root)
    pd.DataFrame(
        NIH_ROWS, columns=["Image Index", "Finding Labels", "Patient ID", "View Position"]
    ).to_csv(root / "Data_Entry_2017.csv", index=False)
    return root


def test_nih_single_label_filter_views_and_missing_images(nih_root):
    with pytest.warns(UserWarning, match=r"1 of 9 label row\(s\) in Data_Entry_2017.csv have "
                                         r"no image under the root \(e.g. 00000008_000.png\); "
                                         r"dropped, 8 kept"):
        dataset = NIHChestXray14Dataset(nih_root, val_fraction=None, test_fraction=0.3)
    assert dataset.missing_count == 1 and dataset.unknown_label_count == 0
    assert dataset.excluded_counts.to_dict() == {"Cardiomegaly|Effusion": 1, "Infiltration": 1}
    assert dataset.class_counts().to_dict() == {
        "Normal": 2,
        "Cardiomegaly": 1,
        "Effusion": 1,
        "Edema": 1,
        "Pneumothorax": 1,
    }
    assert set(dataset.frame["split"]) == {"train", "test"}
    dataset.check_no_patient_overlap()
    with pytest.warns(UserWarning):
        pa = NIHChestXray14Dataset(nih_root, views=["PA"], val_fraction=None)
    assert set(pa.frame["view"]) == {"PA"} and len(pa) == 5


def test_nih_multi_label_columns_and_official_lists(nih_root):
    (nih_root / "train_val_list.txt").write_text("\n".join(r[0] for r in NIH_ROWS[:4]) + "\n")
    (nih_root / "test_list.txt").write_text("\n".join(r[0] for r in NIH_ROWS[4:]) + "\n")
    with pytest.warns(UserWarning):
        dataset = NIHChestXray14Dataset(nih_root, single_label=False, val_fraction=None)
    assert dataset.class_counts().to_dict() == {
        "Normal": 2,
        "Cardiomegaly": 2,
        "Effusion": 2,
        "Edema": 1,
        "Pneumothorax": 1,
    }
    row = dataset.frame.set_index(dataset.frame["path"].str[-16:]).loc["00000002_000.png"]
    assert row["label"] == "Cardiomegaly|Effusion" and row[
        ["Cardiomegaly", "Effusion", "Edema"]
    ].tolist() == [1, 1, 0]
    assert dataset.frame.groupby("split").size().to_dict() == {"test": 3, "train": 4}
    assert "00000005_000.png" not in " ".join(dataset.frame["path"])  # Infiltration: no class here


def test_nih_bad_inputs(nih_root, tmp_path):
    with pytest.raises(DatasetError, match="NIH ChestX-ray14 folder not found"):
        NIHChestXray14Dataset(tmp_path / "absent")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DatasetError, match=r"no Data_Entry_2017\*\.csv"):
        NIHChestXray14Dataset(tmp_path / "empty")
    entries = pd.read_csv(nih_root / "Data_Entry_2017.csv")
    entries.drop(columns=["View Position"]).to_csv(nih_root / "Data_Entry_2017.csv", index=False)
    with pytest.raises(
        DatasetError, match=r"Data_Entry_2017\.csv: missing column\(s\) \['View Position'\]"
    ):
        NIHChestXray14Dataset(nih_root)
    pd.concat([entries, entries[:1]]).to_csv(nih_root / "Data_Entry_2017.csv", index=False)
    with pytest.raises(DatasetError, match="00000001_000.png is listed more than once"):
        NIHChestXray14Dataset(nih_root)
    with pytest.raises(DatasetError, match=r"'Efusion' \(did you mean 'Effusion'\?\)"):
        NIHChestXray14Dataset(nih_root, classes=["Normal", "Efusion"])
    with pytest.raises(ValueError, match="on_unknown_label must be one of"):
        NIHChestXray14Dataset(nih_root.parent / "empty", on_unknown_label="warn")


@pytest.mark.filterwarnings("ignore:.*have no image under the root")  # tested above
def test_nih_rows_with_unknown_findings_are_counted_or_refused(nih_root):
    entries = pd.read_csv(nih_root / "Data_Entry_2017.csv")
    entries.loc[[1, 3], "Finding Labels"] = ["Cardiomegally", "Edema|Pneumonia "]
    entries.to_csv(nih_root / "Data_Entry_2017.csv", index=False)
    with pytest.warns(UserWarning, match=r"2 of 8 row\(s\) name finding\(s\) that ChestX-ray14 "
                                         r"does not have, e.g. \['Cardiomegally', 'Pneumonia '\]"):
        dataset = NIHChestXray14Dataset(nih_root, val_fraction=None)
    assert dataset.unknown_label_count == 2
    assert dataset.class_counts().to_dict() == {
        "Normal": 2, "Cardiomegaly": 0, "Effusion": 1, "Edema": 0, "Pneumothorax": 1}
    with pytest.raises(DatasetError, match=r"2 of 8 row.*fix the label file, or pass "
                                           r"on_unknown_label='skip'"):
        NIHChestXray14Dataset(nih_root, val_fraction=None, on_unknown_label="raise")


COVID_ROWS = [  # patientid, finding, view, file
    ("1", "COVID-19", "PA", "a.png"),
    ("1", "Pneumonia/Viral/COVID-19", "AP", "b.png"),
    ("2", "COVID-19, ARDS", "AP Supine", "c.png"),
    ("3", "No Finding", "PA", "d.png"),
    ("4", "Pneumonia/Bacterial/Streptococcus", "PA", "e.png"),
    ("5", "COVID-19", "L", "f.png"),
    ("6", "COVID-19", "PA", "gone.png"),
]


@pytest.fixture
def covid_root(tmp_image_folder, tmp_path):
    root = tmp_path / "covid"
    tmp_image_folder({"images": [r[3] for r in COVID_ROWS[:-1]]}, root=root)
    metadata = pd.DataFrame(COVID_ROWS, columns=["patientid", "finding", "view", "filename"])
    metadata.assign(modality="X-ray").to_csv(root / "metadata.csv", index=False)
    return root


def test_covid_hierarchical_findings_views_and_missing(covid_root):
    with pytest.warns(UserWarning, match=r"of \d+ row\(s\) \(X-ray, requested views\), "
                                         r"dropped 1 whose image is missing \(e.g. .*gone.png\)"):
        dataset = CovidChestXrayDataset(
            covid_root, findings={"covid": "COVID-19", "normal": "No Finding"}
        )
    assert dataset.missing[0].endswith("gone.png")
    assert dataset.class_counts().to_dict() == {"covid": 3, "normal": 1}  # lateral f.png left out
    assert dataset.frame["patient_id"].tolist() == ["1", "1", "2", "3"]
    with pytest.warns(UserWarning):
        every = CovidChestXrayDataset(covid_root, views=None)
    assert "Pneumonia/Bacterial/Streptococcus" in every.classes and len(every) == 6


def test_covid_bad_inputs(covid_root, tmp_path):
    with pytest.raises(
        DatasetError, match="not a COVID-19 image data collection folder.*metadata.csv"
    ):
        CovidChestXrayDataset(tmp_path)
    pd.read_csv(covid_root / "metadata.csv").drop(columns=["view", "filename"]).to_csv(
        covid_root / "metadata.csv"
    )
    with pytest.raises(
        DatasetError,
        match=r"metadata\.csv: missing column\(s\) \['view', 'filename \(or png_filename\)'\]",
    ):
        CovidChestXrayDataset(covid_root)


def test_folder_dataset_flat_layout_and_errors(tmp_image_folder, tmp_path):
    root = tmp_image_folder({"b": 2, "a": 1})
    (root / "a" / "notes.txt").write_text("ignored: not an image extension")
    dataset = FolderDataset(root)
    assert dataset.classes == ["a", "b"] and dataset.frame["split"].unique().tolist() == [""]
    with pytest.raises(DatasetError, match=r"c: class folder missing"):
        FolderDataset(root, classes=["a", "c"])
    (root / "empty").mkdir()
    with pytest.raises(DatasetError, match=r"empty: no images in this class folder"):
        FolderDataset(root)
    with pytest.raises(DatasetError, match="folder not found"):
        FolderDataset(tmp_path / "absent")
    with pytest.raises(DatasetError, match="no 'val' split folder"):
        FolderDataset(root, split="val")


def test_davoodi_composite_on_synthetic_sources(tmp_image_folder, tmp_path):
    covid = tmp_path / "covid"
    covid_rows = [(str(p), "COVID-19", "PA", f"c{p}.png") for p in range(8)]
    tmp_image_folder({"images": [r[3] for r in covid_rows]}, root=covid)
    pd.DataFrame(covid_rows, columns=["patientid", "finding", "view", "filename"]).to_csv(
        covid / "metadata.csv", index=False
    )
    kermany = tmp_path / "kermany"
    tmp_image_folder(
        {
            "train/NORMAL": [f"IM-{p:04d}-0001.png" for p in range(8)],
            "train/PNEUMONIA": [f"person{p}_bacteria_{k}.png" for p in range(1, 7) for k in (1, 2)]
            + [
                f"person{p}_virus_{k}.png" for p in range(6, 12) for k in (1, 2)
            ],  # person6: both subtypes
            "test/NORMAL": ["IM-0001-0002.png"],
            "test/PNEUMONIA": ["person9_virus_1.png"],
        },
        root=kermany,
    )
    make = lambda seed: DavoodiCovidDataset(
        covid, kermany, counts_train=(4, 4, 3, 3), counts_test=(2, 2, 2, 2), seed=seed
    )
    dataset = make(0)
    assert dataset.class_counts("train").tolist() == [4, 4, 3, 3]
    assert dataset.class_counts("test").tolist() == [2, 2, 2, 2]
    dataset.check_no_patient_overlap()
    assert dataset.frame["patient_id"].str.match(r"^(covid|kermany):").all()
    pd.testing.assert_frame_equal(make(0).frame, dataset.frame)
    assert not make(1).frame["path"].equals(dataset.frame["path"])
    with pytest.raises(DatasetError, match=r"only 8 'covid' images .* 20 requested"):
        DavoodiCovidDataset(covid, kermany, counts_train=(20, 1, 1, 1), counts_test=(0, 0, 0, 0))


def test_phantom_dataset_counts_splits_images_and_manifest(tmp_path):
    dataset = PhantomDataset({"normal": 10, "effusion": 4}, size=32, seed=0)
    assert (
        dataset.class_counts().to_dict()["normal"] == 10
        and dataset.class_counts()["cardiomegaly"] == 0
    )
    assert dataset.frame["patient_id"].is_unique and dataset.frame["seed"].is_unique
    assert dataset.frame.query("label == 'normal'")["split"].value_counts().to_dict() == {
        "train": 7,
        "val": 1,
        "test": 2,
    }
    assert dataset.frame["path"].iat[0] == "phantom://normal/000000"
    image = dataset.load_image(0, image_size=16, channels=3)
    assert image.shape == (16, 16, 3) and -1 <= image.min() < image.max() <= 1
    again = PhantomDataset.from_manifest(
        dataset.write_manifest(tmp_path / "phantoms.csv"), classes=dataset.classes
    )
    pd.testing.assert_frame_equal(again.frame, dataset.frame)
    np.testing.assert_array_equal(again.load_image(5, 32), dataset.load_image(5, 32))
    with pytest.raises(ValueError, match="splits must map"):
        PhantomDataset(2, splits={"train": 0.5})
    with pytest.raises(ValueError, match="counts must map"):
        PhantomDataset({"tumour": 3})


def _npz_with_train_images(path, images):
    arrays = {}
    for split, n in zip(("train", "val", "test"), (4, 2, 2)):
        arrays[f"{split}_images"] = np.zeros((n, 28, 28), np.uint8)
        arrays[f"{split}_labels"] = (np.arange(n) % 2).reshape(-1, 1)
    arrays["train_images"] = images
    np.savez(path, **arrays)
    return path


@pytest.mark.parametrize("images, match", [
    (np.full((4, 28, 28), 0.5, np.float32),
     (r"train_images is float32 \(values 0.5 to 0.5\) but PneumoniaMNIST pixels are uint8.*"
      r"np.round\(x \* 255\)")),
    (np.full((4, 28, 28), np.nan),
     r"train_images is float64 with NaN or infinite values \(values nan to nan\)"),
    (np.full((4, 28, 28), 300, np.int16),
     r"train_images holds int16 values 300 to 300, outside the 0..255"),
    (np.full((4, 28, 28), -1, np.int32), r"values -1 to -1, outside the 0..255"),
])
def test_pneumoniamnist_refuses_pixels_that_are_not_0_to_255(tmp_path, images, match):
    path = _npz_with_train_images(tmp_path / "bad.npz", images)
    with pytest.raises(DatasetError, match=match):
        PneumoniaMNISTDataset(path)


def test_pneumoniamnist_accepts_integer_pixels_in_range_as_uint8(tmp_path):
    images = np.arange(4 * 28 * 28).reshape(4, 28, 28) % 256
    dataset = PneumoniaMNISTDataset(_npz_with_train_images(tmp_path / "int64.npz", images))
    x, _ = dataset.to_numpy("train", image_size=28)
    np.testing.assert_array_equal(np.rint((x[..., 0] + 1) * 127.5), images)
