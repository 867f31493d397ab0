"""kill -9 mid-run with the EMA generator and adaptive augmentation on, then the same command
resumes with the saved EMA weights and augmentation probability (as tests/test_gan_resume.py
does for the plain GAN)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cxr_keras.gan import latest_checkpoint, restore_checkpoint
from tests.scripts.tiny_gan import kill_after_checkpoint, tiny_gan

REPO = Path(__file__).resolve().parents[1]
RECIPE = {"ema_decay": 0.9, "augment": "translation,color", "augment_p": "adaptive",
          "ada_interval": 1, "ada_ramp_images": 64}


@pytest.mark.faults  # a training process killed with SIGKILL (make test-faults)
def test_ema_weights_and_augment_p_survive_kill_9_and_resume(tmp_path):
    command = [sys.executable, str(REPO / "tests" / "scripts" / "tiny_gan.py"), str(tmp_path),
               "--epochs", "5", "--epoch-sleep", "0.4", "--compile", json.dumps(RECIPE)]
    env = {**os.environ, "PYTHONPATH": str(REPO), "TF_CPP_MIN_LOG_LEVEL": "2"}
    kill_after_checkpoint(command, env, tmp_path / "checkpoints")
    killed_at, path = latest_checkpoint(tmp_path / "checkpoints")
    assert 2 <= killed_at < 5, "the run finished before it could be killed"
    snapshot = tiny_gan(**RECIPE)
    restore_checkpoint(snapshot, path)
    saved_ema = snapshot.sampling_generator.get_weights()
    saved_p = float(snapshot.augmenter.probability.numpy())
    assert any(not np.allclose(a, b) for a, b in zip(saved_ema, snapshot.generator.get_weights()))

    rerun = subprocess.run(command, env=env, capture_output=True, text=True, check=False,
                           timeout=120)
    assert rerun.returncode == 0, rerun.stdout[-2000:] + rerun.stderr[-2000:]
    assert f"(epoch {killed_at} of 5 done)" in rerun.stdout
    history = pd.read_csv(tmp_path / "history.csv")
    assert history["epoch"].tolist() == list(range(1, 6))
    with np.load(tmp_path / "train_begin.npz") as begin:
        assert float(begin["augment_p"]) == saved_p
        for i, weights in enumerate(saved_ema):
            np.testing.assert_array_equal(begin[f"ema_{i}"], weights)
