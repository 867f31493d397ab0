"""One GAN step under MirroredStrategy over two logical CPUs equals one single-device step."""

import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_mirrored_step_matches_single_device_step():
    # Logical devices must be set before TensorFlow initializes, hence a fresh process.
    env = {**os.environ, "PYTHONPATH": str(REPO), "TF_CPP_MIN_LOG_LEVEL": "2"}
    run = subprocess.run([sys.executable, str(REPO / "tests" / "scripts" / "mirrored_step.py")],
                         env=env, capture_output=True, text=True, check=False, timeout=180)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    result = json.loads(run.stdout.strip().splitlines()[-1])
    assert result["replicas"] == 2
    assert result["max_step_change"] > 1e-3, "the step did not change the weights"
    # SGD makes a wrong loss scaling (e.g. 2x gradients) show up as a step-sized difference
    assert result["max_weight_diff"] < 1e-5, result
    assert abs(result["d_loss"][0] - result["d_loss"][1]) < 1e-5
    assert abs(result["g_loss"][0] - result["g_loss"][1]) < 1e-5
