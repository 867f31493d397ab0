"""The device script's dry run (JAX on CPU, 32 px) writes its figures."""

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.skipif(importlib.util.find_spec("jax") is None,
                    reason="needs JAX (pip install -e '.[jax]')")
def test_device_script_dry_run_writes_throughput_and_projection(tmp_path):
    env = {**os.environ, "OUT": str(tmp_path), "JAX_PLATFORMS": "cpu", "PYTHON": sys.executable}
    run = subprocess.run(["bash", str(REPO / "benchmarks" / "device" / "run.sh"), "--dry-run"],
                         env=env, capture_output=True, text=True, timeout=600, check=False)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    rows = json.loads((tmp_path / "gan_throughput.json").read_text())["rows"]
    assert [row["paper"] for row in rows] == ["davoodi", "kermany"]
    for row in rows:
        assert row["backend"] == "jax" and row["dry_run"] and row["timed_steps"] >= 1
        assert row["images_per_second"] > 0
        expected = row["paper_gan_epochs"] * row["images_per_epoch"] / row["images_per_second"]
        assert row["projected_gan_seconds"] == pytest.approx(expected, rel=0.01)
    assert json.loads((tmp_path / "wall.json").read_text())["wall_seconds"] >= 0
    assert (tmp_path / "gan_throughput.csv").read_text().startswith("paper,")
