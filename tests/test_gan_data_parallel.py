"""Data-parallel GAN training on JAX with keras.distribution: several host devices of one
process, and two processes on localhost, each equal to training on one device."""

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("jax", reason="the JAX backend is not installed (pip install -e '.[jax]')")

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "tests" / "scripts" / "jax_data_parallel.py"
ENV = {**os.environ, "PYTHONPATH": str(REPO), "TF_CPP_MIN_LOG_LEVEL": "3", "KERAS_BACKEND": "jax"}


def _script(*args):
    return subprocess.Popen([sys.executable, str(SCRIPT), *map(str, args)], env=ENV,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _finish(process, timeout=300):
    out, err = process.communicate(timeout=timeout)
    assert process.returncode == 0, out[-2000:] + err[-3000:]
    return out


RECIPES = [{}, {"r1_gamma": 1.0, "augment": "translation,cutout,color", "augment_p": 0.5,
                "ema_decay": 0.9, "mode_seeking": 1.0}]


def _free_port():
    with socket.socket() as probe:
        probe.bind(("localhost", 0))
        return probe.getsockname()[1]


def test_data_parallel_over_host_devices_and_over_processes_matches_one_device(tmp_path):
    # One process over 2 host devices (each recipe, against one device of the same process),
    # and 2 processes on localhost against that one-device run of the plain recipe: all at once.
    devices = _script("--devices", 2, "--recipes", json.dumps(RECIPES), "--out", tmp_path / "alone.npz")
    port = _free_port()
    workers = [_script("--processes", 2, "--process-id", i, "--port", port, "--out", tmp_path / f"p{i}.npz")
               for i in range(2)]
    lines = _finish(devices).splitlines()[-len(RECIPES):]
    for worker in workers:
        _finish(worker)
    for recipe, line in zip(RECIPES, lines):
        result = json.loads(line)
        assert result["devices"] == 2
        assert all("'batch': 2" in sharding and "P(None" in sharding
                   for sharding in result["weight_shardings"])
        assert result["max_change"] > 1e-2, f"training did not change the weights ({recipe})"
        assert result["max_weight_diff"] < 1e-5, (recipe, result)
        np.testing.assert_allclose(*result["d_loss"], atol=1e-5)
        np.testing.assert_allclose(*result["g_loss"], atol=1e-5)

    runs = [np.load(tmp_path / name) for name in ("p0.npz", "p1.npz", "alone.npz")]
    assert [int(r["processes"]) for r in runs] == [2, 2, 1] and int(runs[0]["devices"]) == 2
    weights = sorted(key for key in runs[2].files if key.startswith("w"))
    assert weights
    for run in runs[:2]:
        np.testing.assert_allclose(run["d_loss"], runs[2]["d_loss"], atol=1e-5)
        for key in weights:
            np.testing.assert_allclose(run[key], runs[2][key], atol=1e-5)


def test_data_parallel_is_refused_off_jax_with_the_tensorflow_way():
    import keras

    from cxr_keras.gan import data_parallel

    if keras.backend.backend() == "jax":
        assert data_parallel().auto_shard_dataset  # one process: Keras may shard tf.data itself
    else:
        with pytest.raises(NotImplementedError, match="MirroredStrategy"):
            data_parallel()
