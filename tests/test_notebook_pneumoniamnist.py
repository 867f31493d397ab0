"""Notebook 05 (PneumoniaMNIST baseline) at smoke scale on the real sample, through papermill."""

import pandas as pd
import papermill
import pytest
import yaml

from cxr_keras.paths import REPO_ROOT

pytestmark = [pytest.mark.notebook, pytest.mark.shared_data]
NOTEBOOK = REPO_ROOT / "notebooks" / "05_pneumoniamnist_baseline.ipynb"


def test_smoke_run_writes_the_table_beside_medmnist(data_root, tmp_path):
    profiles = yaml.safe_load((REPO_ROOT / "cxr_keras" / "profiles" / "pneumoniamnist.yaml").read_text())
    assert set(profiles) == {"smoke", "cpu", "paper"}
    parameters = {**profiles["smoke"], "resnet_width": 4, "max_train_images": 256, "n_bootstrap": 20,
                  "data": str(data_root), "out_dir": str(tmp_path / "out")}
    papermill.execute_notebook(str(NOTEBOOK), str(tmp_path / "executed.ipynb"), parameters=parameters,
                               kernel_name="python3", progress_bar=False, cwd=str(REPO_ROOT))
    out = tmp_path / "out"
    table = pd.read_csv(out / "baseline_table.csv")
    kit = table[table["source"] == "kit"]
    assert kit["model"].tolist() == ["ResNet-18 (28)", "kora_venu_cnn (32)"]
    assert (kit["test_images"] == 624).all() and (kit["train_images"] == 256).all()
    assert ((kit["acc_low"] <= kit["acc"]) & (kit["acc"] <= kit["acc_high"])).all()
    assert (table["source"] == "MedMNIST v2").sum() == 7
    claims = pd.read_csv(out / "claims.csv")
    assert set(claims["verdict"]) <= {"held", "did not hold"} and len(claims) == 4
    for name in ("history.csv", "caveats.csv", "class_counts.csv", "figures/acc_auc_vs_medmnist.png",
                 "figures/training.png"):
        assert (out / name).is_file(), name
