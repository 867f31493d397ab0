"""The runner's Keras backend choice: --backend / $KERAS_BACKEND reach the kernel and run.json."""

import shutil
import subprocess

import pytest

from tools import pipeline
from tools.pipeline import execution


def test_backend_defaults_to_tensorflow_and_follows_keras_backend(monkeypatch):
    monkeypatch.delenv("KERAS_BACKEND", raising=False)
    assert execution.kernel_environment()["KERAS_BACKEND"] == "tensorflow"
    monkeypatch.setenv("KERAS_BACKEND", "jax")
    assert execution.kernel_environment()["KERAS_BACKEND"] == "jax"


def test_run_json_records_the_backend(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_BACKEND", "jax")
    record = pipeline.run_record("kermany", "smoke", tmp_path / "01_x.ipynb", {}, tmp_path, 1.0)
    assert record["backend"] == "jax"
    assert "jax" in record["versions"]


def test_cli_backend_option_sets_the_kernel_backend(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("KERAS_BACKEND", "tensorflow")
    status = pipeline.main(["run", "kermany", "--backend", "jax", "--notebooks-dir",
                            str(tmp_path), "--out", str(tmp_path / "results")])
    assert status == 2 and "no notebook for 'kermany'" in capsys.readouterr().err
    assert execution.kernel_environment()["KERAS_BACKEND"] == "jax"


def test_an_unknown_keras_backend_is_refused_before_running(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("KERAS_BACKEND", "theano")
    assert pipeline.main(["run", "kermany", "--out", str(tmp_path / "results")]) == 2
    assert "KERAS_BACKEND='theano' is not one of" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        pipeline.main(["run", "kermany", "--backend", "theano"])
    assert not (tmp_path / "results").exists()


def test_make_backend_variable_reaches_the_runner():
    if shutil.which("make") is None:
        pytest.skip("GNU make is not installed")
    dry_run = subprocess.run(
        ["make", "-n", "--no-print-directory", "reproduce-davoodi", "PROFILE=smoke",
         "BACKEND=jax"], cwd=pipeline.REPO_ROOT, capture_output=True, text=True, check=True,
    ).stdout
    assert "-m tools.pipeline run davoodi --profile smoke --backend jax" in dry_run
