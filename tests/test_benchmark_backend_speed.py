"""benchmarks/backend_speed.py rebuilds every paper's GAN pair in PyTorch with the same layers.

Run in subprocesses on the PyTorch Keras backend: TensorFlow and PyTorch in one process crash.
"""

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(importlib.util.find_spec("torch") is None,
                                reason="PyTorch is not installed (pip install -e '.[torch]')")
REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "benchmarks" / "backend_speed.py"
ENV = {**os.environ, "KERAS_BACKEND": "torch", "PYTHONPATH": f"{REPO}:{REPO / 'benchmarks'}"}

COUNTS = """
import json, numpy as np, keras, backend_speed
rows = {}
for name in backend_speed.ARCHITECTURES:
    generator, discriminator, latent = backend_speed.keras_models(name, 32)
    for model, shape in ((generator, (latent.dim,)), (discriminator, (32, 32, 1))):
        network = backend_speed.to_torch(model, shape)  # raises unless the shapes agree
        rows[model.name] = [sum(p.numel() for p in network.parameters()),
                            sum(int(np.prod(w.shape)) for w in model.trainable_weights)]
odd = keras.Sequential([keras.layers.GaussianNoise(0.1)], name="odd")
try:
    backend_speed.to_torch(odd, (4, 4, 1))
except TypeError as error:
    rows["error"] = str(error)
print(json.dumps(rows))
"""


def _python(*args):
    done = subprocess.run([sys.executable, *args], env=ENV, capture_output=True, text=True,
                          timeout=600, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_pytorch_networks_have_the_keras_shapes_and_trainable_parameter_counts():
    rows = _python("-c", COUNTS)
    assert "GaussianNoise" in rows.pop("error")
    assert len(rows) == 8
    for name, (torch_count, keras_count) in rows.items():
        assert torch_count == keras_count > 0, name


def test_the_pytorch_worker_times_every_paper():
    medians = _python(str(SCRIPT), "--worker", "pytorch-eager", "--size", "32", "--batch", "4",
                      "--steps", "1")
    assert set(medians) == {"davoodi", "kora_venu", "salehinejad", "ng_gubbi"}
    assert all(seconds > 0 for seconds in medians.values())
