"""Restarting the same train_gan command after kill -9 continues where it stopped."""

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
SCRIPT = REPO / "tests" / "scripts" / "tiny_gan.py"


def _run_script(out_dir, *extra):
    return [sys.executable, str(SCRIPT), str(out_dir), "--epochs", "5", *extra]


@pytest.mark.faults  # a training process killed with SIGKILL (make test-faults)
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

    rerun = subprocess.run(command, env=env, capture_output=True, text=True, check=False,
                           timeout=120)
    assert rerun.returncode == 0, rerun.stdout[-2000:] + rerun.stderr[-2000:]
    assert f"(epoch {killed_at} of 5 done)" in rerun.stdout
    history = pd.read_csv(tmp_path / "history.csv")
    assert history["epoch"].tolist() == list(range(1, 6))

    with np.load(tmp_path / "train_begin.npz") as begin:
        assert int(begin["g_iterations"]) == saved_iterations == killed_at * 2
        for i, weights in enumerate(saved_generator):
            np.testing.assert_array_equal(begin[f"arr_{i}"], weights)


def _dropout_gan(seed: int = 0):
    """A tiny GAN whose discriminator has a dropout layer (its own SeedGenerator)."""
    import keras

    from cxr_keras.gan import GAN
    from tests.scripts.tiny_gan import LATENT_DIM, SIZE, tiny_generator

    keras.utils.set_random_seed(seed)
    image = keras.Input((SIZE, SIZE, 1))
    x = keras.layers.Dropout(0.3)(keras.layers.Flatten()(image))
    discriminator = keras.Model(image, keras.layers.Dense(1)(x))
    gan = GAN(tiny_generator(), discriminator, LATENT_DIM, seed=seed)
    gan.compile(keras.optimizers.Adam(2e-3, beta_1=0.5), keras.optimizers.Adam(2e-3, beta_1=0.5),
                jit_compile=False)
    return gan


def _losses(history):
    return history.drop(columns="seconds")


@pytest.mark.faults  # a stopped run resumed in a fresh process (make test-faults)
def test_resume_in_a_new_process_matches_an_uninterrupted_run_exactly(tmp_path):
    from cxr_keras.gan import train_gan
    from tests.scripts.tiny_gan import stripes

    whole = tiny_gan()
    whole_history = train_gan(whole, stripes(64), 4, tmp_path / "whole", sample_every=None,
                              verbose=0)
    train_gan(tiny_gan(), stripes(64), 2, tmp_path / "split", sample_every=None, verbose=0)
    env = {**os.environ, "PYTHONPATH": str(REPO), "TF_CPP_MIN_LOG_LEVEL": "3"}
    rerun = subprocess.run([sys.executable, str(SCRIPT), str(tmp_path / "split"), "--epochs", "4"],
                           env=env, capture_output=True, text=True, check=False, timeout=120)
    assert rerun.returncode == 0, rerun.stdout[-2000:] + rerun.stderr[-2000:]
    assert "(epoch 2 of 4 done)" in rerun.stdout
    split_history = pd.read_csv(tmp_path / "split" / "history.csv")
    pd.testing.assert_frame_equal(_losses(split_history), _losses(whole_history), check_exact=True)
    resumed = tiny_gan(seed=3)
    restore_checkpoint(resumed, tmp_path / "split" / "checkpoints" / "epoch-0004")
    for a, b in zip(whole.generator.get_weights(), resumed.generator.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_resume_restores_the_dropout_noise_of_the_models(tmp_path):
    from cxr_keras.gan import train_gan
    from tests.scripts.tiny_gan import stripes

    whole = _dropout_gan()
    whole_history = train_gan(whole, stripes(48), 3, tmp_path / "whole", batch_size=16,
                              sample_every=None, verbose=0)
    train_gan(_dropout_gan(), stripes(48), 1, tmp_path / "split", batch_size=16,
              sample_every=None, verbose=0)
    resumed = _dropout_gan()
    split_history = train_gan(resumed, stripes(48), 3, tmp_path / "split", batch_size=16,
                              sample_every=None, verbose=0)
    pd.testing.assert_frame_equal(_losses(split_history), _losses(whole_history), check_exact=True)
    for a, b in zip(whole.discriminator.get_weights(), resumed.discriminator.get_weights()):
        np.testing.assert_array_equal(a, b)
