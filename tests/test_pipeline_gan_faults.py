"""Fault injection with a real GAN: the runner killed mid-training, then rerun, must end with
exactly the numbers of an uninterrupted run; bad input arrays stop a run with their name.

The fixture notebook trains the Davoodi DCGAN on 32 px phantoms through the package
(``build_compiled_gan``, ``ShuffledBatches``, ``train_gan``), a checkpoint per epoch, and
writes its history and a checksum of generated images as the run's tables.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import nbformat
import numpy as np
import pandas as pd
import pytest
import yaml
from test_pipeline_faults import _finish, _notebook, _wait_for

from tools.pipeline import REPO_ROOT

pytestmark = pytest.mark.faults

PARAMETERS = """out_dir = "unset"
epochs = 4
seed = 0
on_error = "raise"
"""
GAN_CELL = """import time
from pathlib import Path
import keras
import numpy as np
import pandas as pd
from cxr_keras.data.phantoms import render_batch
from cxr_keras.gan import ShuffledBatches, train_gan
from cxr_keras.io import write_csv
from cxr_keras.reproductions.gan_setup import build_compiled_gan

images = render_batch(["normal"] * 16, size=32, seed=seed)[..., None]
gan = build_compiled_gan("davoodi", image_size=32, channels=1, seed=seed,
                         recipe={"augment": "translation,cutout", "ema_decay": 0.9})
pause = keras.callbacks.LambdaCallback(on_epoch_end=lambda epoch, logs: time.sleep(1.0))
history = train_gan(gan, ShuffledBatches(images, batch_size=8, seed=seed), epochs,
                    Path(out_dir) / "gan", sample_every=0, verbose=0, callbacks=[pause],
                    fingerprint={"seed": seed, "recipe": "fixture"})
write_csv(Path(out_dir) / "history_table.csv", history)
samples = gan.generate(8, seed=1)
write_csv(Path(out_dir) / "samples.csv", pd.DataFrame({"mean": samples.mean(axis=(1, 2, 3))}))
"""


@pytest.fixture
def gan_runner(tmp_path):
    """``start(out)`` runs the GAN fixture notebook into ``tmp_path/out``; also ``tmp_path``."""
    notebooks = tmp_path / "notebooks"
    notebook = _notebook(notebooks, PARAMETERS) / "01_stages.ipynb"
    fixture = nbformat.read(notebook, as_version=4)
    fixture.cells = [fixture.cells[0], nbformat.v4.new_code_cell(GAN_CELL)]
    nbformat.write(fixture, notebook)
    profiles = tmp_path / "profiles"
    profiles.mkdir()
    (profiles / "kermany.yaml").write_text(yaml.safe_dump({"smoke": {"epochs": 4}}))

    def start(out: str) -> subprocess.Popen:
        command = [sys.executable, "-m", "tools.pipeline", "run", "kermany", "--profile",
                   "smoke", "--out", str(tmp_path / out), "--notebooks-dir", str(notebooks),
                   "--profiles-dir", str(profiles)]
        return subprocess.Popen(command, cwd=REPO_ROOT, text=True, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT,
                                env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})

    return start, tmp_path


def test_a_runner_killed_mid_gan_resumes_to_the_numbers_of_an_uninterrupted_run(gan_runner):
    start, root = gan_runner
    status, output = _finish(start("clean"), timeout=300)
    assert status == 0, output
    first = start("killed")
    _wait_for(root / "killed" / "kermany" / ".smoke.partial" / "gan" / "checkpoints" / "epoch-0002",
              first, timeout=240)
    first.send_signal(signal.SIGKILL)
    assert _finish(first)[0] == -signal.SIGKILL
    status, output = _finish(start("killed"), timeout=300)
    assert status == 0, output
    clean, resumed = root / "clean" / "kermany" / "smoke", root / "killed" / "kermany" / "smoke"
    assert "Resumed from" in (resumed / "attempt-2.log").read_text()
    for table in ("history_table.csv", "samples.csv"):
        tables = [pd.read_csv(run / table).drop(columns="seconds", errors="ignore")  # wall time
                  for run in (clean, resumed)]
        pd.testing.assert_frame_equal(*tables, check_exact=True)
    history = pd.read_csv(resumed / "history_table.csv")
    assert history["epoch"].tolist() == [1, 2, 3, 4] and np.isfinite(history["d_loss"]).all()


def test_a_callbacks_record_of_an_epoch_is_written_before_its_checkpoint(tmp_path):
    """A run killed between the two would resume after the epoch and lose the record (an FID
    row, say); written first, the epoch is redone and its record rewritten instead."""
    import keras

    from cxr_keras.gan import train_gan
    from cxr_keras.gan.checkpoint import list_checkpoints
    from tests.scripts.tiny_gan import SIZE, tiny_gan

    checkpointed_when_recorded = []
    record = keras.callbacks.LambdaCallback(on_epoch_end=lambda epoch, logs: (
        checkpointed_when_recorded.append(
            [e for e, _ in list_checkpoints(tmp_path / "checkpoints")][-1:] == [epoch + 1])))
    images = np.random.default_rng(0).uniform(-1, 1, (16, SIZE, SIZE, 1)).astype("float32")
    train_gan(tiny_gan(), images, 3, tmp_path, sample_every=0, verbose=0, batch_size=8,
              callbacks=[record])
    assert checkpointed_when_recorded == [False, False, False]
