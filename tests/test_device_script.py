"""The device script's dry run (JAX on CPU, 32 px, TensorFlow hidden) writes its figures; its
second stage runs the Davoodi notebook through the runner, so the test is a notebook run."""

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.notebook
@pytest.mark.skipif(importlib.util.find_spec("jax") is None,
                    reason="needs JAX (pip install -e '.[jax]')")
def test_device_script_dry_run_writes_throughput_projection_and_a_notebook_run(tmp_path):
    hidden = tmp_path / "hide-tensorflow" / "tensorflow"  # the device machine has none
    hidden.mkdir(parents=True)
    (hidden / "__init__.py").write_text("raise ImportError('TensorFlow is hidden')\n")
    out = tmp_path / "out"
    env = {**os.environ, "OUT": str(out), "JAX_PLATFORMS": "cpu", "PYTHON": sys.executable,
           "PYTHONPATH": str(hidden.parent), "PAPER_SECONDS": "20"}
    run = subprocess.run(["bash", str(REPO / "benchmarks" / "device" / "run.sh"), "--dry-run"],
                         env=env, capture_output=True, text=True, timeout=1200, check=False)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    rows = json.loads((out / "gan_throughput.json").read_text())["rows"]
    assert [row["paper"] for row in rows] == ["davoodi", "kermany"]
    for row in rows:
        assert row["backend"] == "jax" and row["dry_run"] and row["timed_steps"] >= 1
        assert row["images_per_second"] > 0
        expected = row["paper_gan_epochs"] * row["images_per_epoch"] / row["images_per_second"]
        assert row["projected_gan_seconds"] == pytest.approx(expected, rel=0.01)
    assert json.loads((out / "wall.json").read_text())["wall_seconds"] >= 0
    assert (out / "gan_throughput.csv").read_text().startswith("paper,")
    # Stage 2, time-boxed to 20 s here: the Davoodi notebook on JAX either ends or is stopped
    # with its partial work kept for a resume, the attempt recorded either way.
    notebook_run = json.loads((out / "davoodi_smoke.json").read_text())
    log = (out / "davoodi_smoke.log").read_text()
    folder = out / "runs" / "davoodi" / ("smoke" if notebook_run["exit_code"] == 0 else "smoke.failed")
    assert notebook_run["exit_code"] in (0, 124) and notebook_run["timed_out"] == (notebook_run["exit_code"] == 124), log[-3000:]
    if notebook_run["timed_out"]:
        assert "the partial work is kept" in log
        attempts = json.loads((folder / ".attempts.json").read_text())
    else:
        attempts = json.loads((folder / "run.json").read_text())["attempts"]
    assert len(attempts) == 1 and "--backend jax" in attempts[0]["command"]
    assert (folder / "attempt-1.log").is_file()
