"""The GAN engine on every backend: same seed -> same numbers; JAX and PyTorch train the same
curve as TensorFlow."""

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from cxr_keras.gan import backend, train_gan
from tests.scripts.tiny_gan import stripes, tiny_gan

pytestmark = pytest.mark.skipif(backend.BACKEND not in backend.SUPPORTED,
                                reason=f"the GAN engine has no train step for {backend.BACKEND}")
REPO = Path(__file__).resolve().parents[1]
RECIPE = {"augment": "translation,cutout,color", "augment_p": "adaptive", "ada_interval": 1,
          "ada_ramp_images": 64, "ema_decay": 0.9, "r1_gamma": 1.0, "r1_every": 2,
          "instance_noise": 0.1}
# Largest difference allowed between the TensorFlow curve of the test problem and the JAX or
# PyTorch one (float32 round-off over 12 Adam steps with R1 and EMA: JAX 1.2e-7).
CROSS_BACKEND_TOLERANCE = 1e-5


def _train(seed):
    gan = tiny_gan(seed=seed, **RECIPE)
    history = gan.fit(stripes(48), batch_size=16, epochs=2, verbose=0, shuffle=False).history
    return gan, history


def test_same_seed_on_the_same_backend_gives_the_same_numbers():
    first, first_history = _train(3)
    second, second_history = _train(3)
    _, other_history = _train(4)
    assert first_history == second_history
    assert first_history["d_loss"] != other_history["d_loss"]
    for a, b in zip(first.sampling_generator.get_weights(), second.sampling_generator.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_every_piece_of_training_state_moves_on_this_backend():
    gan, history = _train(0)
    steps = 2 * 3
    assert int(np.asarray(gan.d_optimizer.iterations)) == steps
    assert int(np.asarray(gan.g_optimizer.iterations)) == steps
    assert np.asarray(gan.augmenter.seed_generator.state)[1] > 0, "augmentation seed stuck"
    assert np.asarray(gan.seed_generator.state)[1] > 0, "the noise seed never advanced"
    ema, live = gan.sampling_generator.get_weights(), gan.generator.get_weights()
    assert any(not np.allclose(a, b) for a, b in zip(ema, live)), "EMA equals the generator"
    assert any(v > 0 for v in history["r1_penalty"]), "lazy R1 never applied"


def test_train_gan_on_arrays_resumes_to_the_same_weights(tmp_path):
    whole = tiny_gan(seed=5, **RECIPE)
    train_gan(whole, stripes(32), 3, tmp_path / "whole", sample_every=None, verbose=0,
              batch_size=16)
    first = tiny_gan(seed=5, **RECIPE)
    train_gan(first, stripes(32), 2, tmp_path / "split", sample_every=None, verbose=0,
              batch_size=16)
    resumed = tiny_gan(seed=5, **RECIPE)
    train_gan(resumed, stripes(32), 3, tmp_path / "split", sample_every=None, verbose=0,
              batch_size=16)
    for a, b in zip(whole.sampling_generator.get_weights(),
                    resumed.sampling_generator.get_weights()):
        np.testing.assert_allclose(a, b, atol=1e-6)


@pytest.mark.skipif(backend.BACKEND == "tensorflow", reason="tf.distribute is TensorFlow's")
def test_a_tf_distribute_strategy_is_refused_off_tensorflow(tmp_path):
    with pytest.raises(ValueError, match="strategy is a tf.distribute option"):
        train_gan(tiny_gan(), stripes(16), 1, tmp_path, strategy=object(), verbose=0)


def _curve(backend_name):
    env = {**os.environ, "KERAS_BACKEND": backend_name, "TF_CPP_MIN_LOG_LEVEL": "3",
           "PYTHONPATH": os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH"))
                                         if p)}
    run = subprocess.run([sys.executable, str(REPO / "tests" / "scripts" / "backend_curve.py")],
                         env=env, capture_output=True, text=True, timeout=300, check=False)
    assert run.returncode == 0, run.stderr[-3000:]
    result = json.loads(run.stdout.strip().splitlines()[-1])
    assert result["backend"] == backend_name
    return result


def _installed(package):
    return importlib.util.find_spec(package) is not None


@pytest.mark.parametrize("other", ["jax", "torch"])
def test_another_backend_trains_the_same_curve_as_tensorflow(other):
    if not (_installed("tensorflow") and _installed(other)):
        pytest.skip(f"needs TensorFlow and {other} (pip install -e '.[{other}]')")
    tf_run, other_run = _curve("tensorflow"), _curve(other)
    for name in ("d_loss", "g_loss", "r1_penalty"):
        assert len(tf_run[name]) == 12
        np.testing.assert_allclose(other_run[name], tf_run[name], rtol=0,
                                   atol=CROSS_BACKEND_TOLERANCE, err_msg=name)
    assert tf_run["d_loss"][0] != pytest.approx(tf_run["d_loss"][-1], abs=1e-3), "no learning"
    for a, b in zip(tf_run["generator"], other_run["generator"]):
        np.testing.assert_allclose(b, a, rtol=0, atol=CROSS_BACKEND_TOLERANCE)
