"""Restarting the same train_gan command after kill -9 continues where it stopped."""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from cxr_keras.gan import latest_checkpoint, restore_checkpoint
from tests.scripts.tiny_gan import kill_after_checkpoint, tiny_gan

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "tests" / "scripts" / "tiny_gan.py"


def _run_script(out_dir, *extra):
    return [sys.executable, str(SCRIPT), str(out_dir), "--epochs", "5", *extra]


def test_rerun_after_kill_9_continues_from_the_last_checkpoint(tmp_path):
    command = _run_script(tmp_path, "--epoch-sleep", "0.4")
    env = {**os.environ, "PYTHONPATH": str(REPO), "TF_CPP_MIN_LOG_LEVEL": "2"}
    kill_after_checkpoint(command, env, tmp_path / "checkpoints")
    killed_at, path = latest_checkpoint(tmp_path / "checkpoints")
    assert 2 <= killed_at < 5, "the run finished before it could be killed"
    with np.load(path / "state.npz") as state:
        saved_iterations = int(state["g_optimizer/0000"])
    snapshot = tiny_gan()
    restore_checkpoint(snapshot, path)
    saved_generator = snapshot.generator.get_weights()

    rerun = subprocess.run(command, env=env, capture_output=True, text=True, check=False, timeout=120)
    assert rerun.returncode == 0, rerun.stdout[-2000:] + rerun.stderr[-2000:]
    assert f"(epoch {killed_at} of 5 done)" in rerun.stdout
    history = pd.read_csv(tmp_path / "history.csv")
    assert history["epoch"].tolist() == list(range(1, 6))

    with np.load(tmp_path / "train_begin.npz") as begin:
        assert int(begin["g_iterations"]) == saved_iterations == killed_at * 2
        for i, weights in enumerate(saved_generator):
            np.testing.assert_array_equal(begin[f"arr_{i}"], weights)
