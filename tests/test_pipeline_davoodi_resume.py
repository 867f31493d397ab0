"""Fault injection at full size: the Davoodi smoke (2 GAN epochs, so FID is logged twice a GAN
and the claim "FID falls as the DCGANs train" is made) killed mid-GAN and resumed must equal an
uninterrupted run file by file, timing aside. About 10 minutes on 2 idle cores (27.5 when
shared with other test runs)."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pandas as pd
import pytest

from cxr_keras.metrics.inception import default_weights_path
from tools.pipeline import REPO_ROOT

pytestmark = pytest.mark.faults

PARAMETERS = ["-p", "gan_epochs=2"]
# Not compared: how the run went rather than what it made.
RUN_RECORDS = {"run.json",  # timings, attempts, git state
               "04_davoodi_covid_dcgan.ipynb"}  # outputs: progress bars, timings, "Resumed from"
TIMING_COLUMNS = ["seconds"]  # per-epoch wall time in the GAN histories


def _start(out: Path) -> subprocess.Popen:
    command = [sys.executable, "-m", "tools.pipeline", "run", "davoodi", "--profile", "smoke",
               "--eager", "--out", str(out), *PARAMETERS]
    return subprocess.Popen(command, cwd=REPO_ROOT, text=True, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT)


def _finish(process: subprocess.Popen) -> None:
    output, _ = process.communicate(timeout=1500)
    assert process.returncode == 0, output[-3000:]


def _kill_after_first_checkpoint(process: subprocess.Popen, staging: Path) -> None:
    deadline = time.monotonic() + 900
    while not list(staging.glob("gans/paper/*/checkpoints/epoch-0001")):
        assert process.poll() is None, process.communicate()[0][-3000:]
        assert time.monotonic() < deadline, "no GAN checkpoint within 15 minutes"
        time.sleep(0.1)
    process.send_signal(signal.SIGKILL)
    process.wait()


def _compared_files(results: Path) -> set[str]:
    return {str(path.relative_to(results)) for path in results.rglob("*")
            if path.is_file() and path.name not in RUN_RECORDS
            and not path.name.startswith("attempt-")}


def _assert_same_content(clean: Path, resumed: Path) -> None:
    """CSVs equal but for timing columns, Keras archives equal in their weights (their
    metadata holds the save time), every other file byte for byte."""
    if clean.suffix == ".csv":
        tables = [pd.read_csv(path).drop(columns=TIMING_COLUMNS, errors="ignore")
                  for path in (clean, resumed)]
        pd.testing.assert_frame_equal(*tables, check_exact=True, obj=str(clean))
    elif clean.suffix == ".keras":
        weights = []
        for path in (clean, resumed):
            with zipfile.ZipFile(path) as archive:
                weights.append(archive.read("model.weights.h5"))
        assert weights[0] == weights[1], clean
    else:
        assert clean.read_bytes() == resumed.read_bytes(), clean


def test_a_killed_and_resumed_davoodi_smoke_equals_an_uninterrupted_one(tmp_path):
    if not default_weights_path().is_file():
        pytest.skip("no FID weights (make fid-weights): the smoke would log no FID to compare")
    _finish(_start(tmp_path / "clean"))
    first = _start(tmp_path / "killed")
    _kill_after_first_checkpoint(first, tmp_path / "killed" / "davoodi" / ".smoke.partial")
    _finish(_start(tmp_path / "killed"))

    clean, resumed = (tmp_path / run / "davoodi" / "smoke" for run in ("clean", "killed"))
    assert "Resumed from" in (resumed / "attempt-2.log").read_text()
    assert _compared_files(clean) == _compared_files(resumed)
    for name in sorted(_compared_files(clean)):
        _assert_same_content(clean / name, resumed / name)
    quality = pd.read_csv(resumed / "gan_quality.csv")
    assert quality.groupby(["recipe", "class"])["epoch"].agg(tuple).tolist() == [(1, 2)] * 8
    assert "FID falls as the DCGANs train" in set(pd.read_csv(resumed / "claims.csv")["claim"])
