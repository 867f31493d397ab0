"""Fault injection: an image whose file name is not UTF-8, through the runner. The run stops
naming the file (its odd bytes escaped), or with --on-error skip leaves it out and counts it."""

from __future__ import annotations

import os
import subprocess
import sys

import nbformat
import numpy as np
import pandas as pd
import pytest
from nbformat.v4 import new_code_cell
from PIL import Image
from test_pipeline_faults import _finish, _notebook

from cxr_keras.data.folder import FolderDataset
from cxr_keras.data.schema import DatasetError
from tools.pipeline import REPO_ROOT

pytestmark = pytest.mark.faults

PARAMETERS = """out_dir = "unset"
data = "phantoms"
on_error = "raise"
"""
MANIFEST_CELL = """from pathlib import Path
from cxr_keras.data.folder import FolderDataset
dataset = FolderDataset(data, on_error=on_error)
dataset.write_manifest(Path(out_dir) / "data_manifest.csv")
print(f"{len(dataset)} images, {len(dataset.skipped)} skipped")
"""
ODD_NAME = b"odd-\xff.png"  # Latin-1 bytes: no UTF-8 text names them


@pytest.fixture
def image_folder(tmp_path):
    """``tmp_path/data/{NORMAL,PNEUMONIA}/`` of 2 images each, one NORMAL one oddly named."""
    image = Image.fromarray(np.full((8, 8), 128, np.uint8))
    for label in ("NORMAL", "PNEUMONIA"):
        folder = tmp_path / "data" / label
        folder.mkdir(parents=True)
        image.save(folder / "fine.png")
        image.save(os.fsdecode(os.fsencode(folder) + b"/" + (ODD_NAME if label == "NORMAL"
                                                             else b"also-fine.png")))
    return tmp_path / "data"


def test_a_file_name_that_is_not_utf8_is_named_or_skipped_and_counted(image_folder):
    with pytest.raises(DatasetError, match=r"1 file name\(s\) in folder are not valid UTF-8.*"
                                           r"NORMAL/odd-\\xff\.png.*on_error='skip'"):
        FolderDataset(image_folder)
    with pytest.warns(UserWarning, match="skipped 1"):
        dataset = FolderDataset(image_folder, on_error="skip")
    assert len(dataset) == 3 and dataset.skipped[0][0].endswith("NORMAL/odd-\\xff.png")


@pytest.mark.parametrize("on_error", ["raise", "skip"])
def test_the_runner_names_or_skips_a_file_name_that_is_not_utf8(tmp_path, image_folder, on_error):
    notebooks = tmp_path / "notebooks"
    notebook = _notebook(notebooks, PARAMETERS) / "01_stages.ipynb"
    fixture = nbformat.read(notebook, as_version=4)
    fixture.cells = [fixture.cells[0], new_code_cell(MANIFEST_CELL)]
    nbformat.write(fixture, notebook)
    (tmp_path / "profiles").mkdir()
    (tmp_path / "profiles" / "kermany.yaml").write_text("smoke: {}\n")
    command = [sys.executable, "-m", "tools.pipeline", "run", "kermany", "--out",
               str(tmp_path / "results"), "--notebooks-dir", str(notebooks), "--profiles-dir",
               str(tmp_path / "profiles"), "--data", str(image_folder), "--on-error", on_error]
    status, output = _finish(subprocess.Popen(command, cwd=REPO_ROOT, text=True,
                                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT))
    if on_error == "raise":
        assert status == 1
        assert "DatasetError: 1 file name(s) in folder are not valid UTF-8" in output, output
        assert "NORMAL/odd-\\xff.png" in output
        return
    assert status == 0, output
    results = tmp_path / "results" / "kermany" / "smoke"
    manifest = pd.read_csv(results / "data_manifest.csv")
    assert sorted(manifest["path"].map(lambda p: p.split("/data/")[1])) == [
        "NORMAL/fine.png", "PNEUMONIA/also-fine.png", "PNEUMONIA/fine.png"]
    assert "3 images, 1 skipped" in (results / "attempt-1.log").read_text()


def test_a_class_folder_whose_name_is_not_utf8_is_refused_even_when_skipping(tmp_path):
    folder = os.fsdecode(os.fsencode(tmp_path) + b"/cl\xe9ar")
    os.mkdir(folder)
    Image.fromarray(np.zeros((8, 8), np.uint8)).save(os.path.join(folder, "fine.png"))
    with pytest.raises(DatasetError, match=r"class name\(s\) cl\\xe9ar in folder are not valid"):
        FolderDataset(tmp_path, on_error="skip")
