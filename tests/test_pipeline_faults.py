"""Fault injection: the runner as a subprocess, killed, stopped, doubled, misused.

The fixture notebook runs ``stages`` resumable stages (each writes ``stage-<i>.txt`` once and
skips it when present, like a GAN checkpoint), logging each one it computes to
``computed.log``; then it writes ``table.csv`` from the stages. It imports no TensorFlow, so a
run takes a few seconds.
"""

from __future__ import annotations

import io
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest
import yaml
from nbformat.v4 import new_code_cell, new_notebook

from tools.pipeline import REPO_ROOT, execution, lock_path

pytestmark = pytest.mark.faults

STAGES = 4
PARAMETERS = f"""out_dir = "unset"
stages = {STAGES}
stage_seconds = 0.3
value = 1
learning_rate = 0.001
image_size = 8
on_error = "raise"
"""
STAGES_CELL = """import os, time
from pathlib import Path
from cxr_keras.io import write_text
for stage in range(stages):
    done = Path(out_dir, f"stage-{stage}.txt")
    if done.exists():
        print(f"stage {stage}: resumed")
        continue
    time.sleep(stage_seconds)
    write_text(done, f"{stage * value * learning_rate!r} {image_size} {on_error}\\n")
    with open(Path(out_dir, "computed.log"), "a") as computed:
        computed.write(f"{stage} by kernel {os.getpid()}\\n")
    print(f"stage {stage}: computed")
"""
TABLE_CELL = """assert image_size > 0, f"image_size must be positive, got {image_size}"
rows = [Path(out_dir, f"stage-{s}.txt").read_text() for s in range(stages)]
write_text(Path(out_dir, "table.csv"), "stage,row\\n" + "".join(
    f"{s},{row}" for s, row in enumerate(rows)))
"""


def _notebook(folder: Path, parameters: str = PARAMETERS) -> Path:
    cell = new_code_cell(parameters)
    cell.metadata["tags"] = ["parameters"]
    notebook = new_notebook(cells=[cell, new_code_cell(STAGES_CELL), new_code_cell(TABLE_CELL)])
    folder.mkdir(parents=True, exist_ok=True)
    nbformat.write(notebook, folder / "01_stages.ipynb")
    return folder


@pytest.fixture
def runner(tmp_path):
    """``start(*args)`` launches the runner on the fixture notebook; ``paper_dir`` its output."""
    notebooks = _notebook(tmp_path / "notebooks")
    profiles = tmp_path / "profiles"
    profiles.mkdir()
    (profiles / "kermany.yaml").write_text(yaml.safe_dump({"smoke": {"value": 2}}))
    command = [sys.executable, "-m", "tools.pipeline", "run", "kermany", "--profile",
               "smoke", "--out", str(tmp_path / "results"), "--notebooks-dir", str(notebooks),
               "--profiles-dir", str(profiles)]
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}

    def start(*extra: str) -> subprocess.Popen:
        return subprocess.Popen([*command, *extra], cwd=REPO_ROOT, env=env, text=True,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT)

    return start, tmp_path / "results" / "kermany"


def _finish(process: subprocess.Popen, timeout: float = 60) -> tuple[int, str]:
    output, _ = process.communicate(timeout=timeout)
    return process.returncode, output


def _wait_for(path: Path, process: subprocess.Popen, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert process.poll() is None, f"runner ended early: {_finish(process)[1]}"
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.05)


def _outputs(results: Path) -> dict[str, str]:
    files = [*sorted(results.glob("stage-*.txt")), results / "table.csv"]
    return {path.name: path.read_text() for path in files}


def _attempts(results: Path) -> list[dict]:
    return json.loads((results / "run.json").read_text())["attempts"]


def _uninterrupted(value=2, learning_rate=0.001, image_size=8, on_error="raise", stages=STAGES):
    """What an uninterrupted run writes: each stage's row is a function of the parameters only
    (``test_a_second_run...`` checks it against a run that nothing interrupts)."""
    rows = [f"{stage * value * learning_rate!r} {image_size} {on_error}\n" for stage in range(stages)]
    table = "stage,row\n" + "".join(f"{stage},{row}" for stage, row in enumerate(rows))
    return {**{f"stage-{stage}.txt": row for stage, row in enumerate(rows)}, "table.csv": table}


@pytest.mark.parametrize("stop_signal", [signal.SIGKILL, signal.SIGTERM])
def test_a_stopped_runner_resumes_losing_at_most_the_stage_in_progress(
    runner, stop_signal
):
    start, paper_dir = runner
    first = start()
    _wait_for(paper_dir / ".smoke.partial" / "stage-1.txt", first)
    first.send_signal(stop_signal)
    status, output = _finish(first)
    if stop_signal == signal.SIGKILL:
        assert status == -signal.SIGKILL
        assert (paper_dir / ".smoke.partial" / "stage-1.txt").is_file()
    else:
        assert status == 128 + signal.SIGTERM, output
        assert "STOPPED by SIGTERM" in output and "run the same command again" in output
        failed = paper_dir / "smoke.failed"
        executed = nbformat.read(failed / "01_stages.ipynb", as_version=4)
        errors = [o.ename for c in executed.cells for o in c.get("outputs", [])
                  if o.output_type == "error"]
        assert errors == ["KeyboardInterrupt"]  # the kernel stopped inside the cell

    status, output = _finish(start())
    assert status == 0, output
    results = paper_dir / "smoke"
    assert _outputs(results) == _uninterrupted()
    computed = [line.split()[0] for line in (results / "computed.log").read_text().splitlines()]
    assert sorted(set(computed)) == [str(s) for s in range(STAGES)]
    assert len(computed) <= STAGES + 1  # no more than the stage in progress was redone
    attempts = _attempts(results)
    expected = "killed" if stop_signal == signal.SIGKILL else "interrupted by SIGTERM"
    assert [a["outcome"] for a in attempts] == [expected, "done"]
    assert attempts[0]["pid"] == first.pid and attempts[0]["wall_seconds"] >= 0.3
    assert (results / "attempt-1.log").is_file() and (results / "attempt-2.log").is_file()
    assert sorted(p.name for p in paper_dir.iterdir()) == ["smoke"]


def test_a_second_run_into_the_same_folder_is_refused_at_once(runner):
    start, paper_dir = runner
    first = start()
    _wait_for(paper_dir / ".smoke.partial" / "stage-0.txt", first)
    began = time.monotonic()
    status, output = _finish(start())
    assert status == 2 and time.monotonic() - began < 15
    assert f"in use by another run: pid {first.pid}" in output and "tools.pipeline" in output
    assert _finish(first)[0] == 0
    assert _outputs(paper_dir / "smoke") == _uninterrupted()


def test_a_stale_lock_of_a_dead_runner_is_taken_over(runner):
    start, paper_dir = runner
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    stale = {"pid": int(dead.stdout), "host": "elsewhere", "started_utc": "2026-01-01T00:00:00",
             "command": "python -m tools.pipeline run kermany"}
    lock = lock_path(paper_dir / "smoke")
    lock.parent.mkdir(parents=True)
    lock.write_text(json.dumps(stale))
    status, output = _finish(start())
    assert status == 0, output
    assert f"taking over the stale lock {lock} of pid {stale['pid']} on elsewhere" in output
    assert not lock.exists()


@pytest.mark.parametrize(("arguments", "message"), [
    (["-p", "image_size=abc"], "parameter 'image_size' expects int .* got 'abc' \\(str\\)"),
    (["-p", "image_size=1e6"], "parameter 'image_size' expects int .* got 1000000.0 \\(float\\)"),
    (["-p", "stage=3"], "unknown parameter 'stage'.*did you mean 'stages'"),
    (["-p", "learning_rat=2e-4"], "unknown parameter 'learning_rat'.*'learning_rate'"),
    (["-p", "out_dir=/tmp/x"], "'out_dir' is set by the runner; use --out"),
    (["-p", "value"], "-p expects key=value, got 'value'"),
])
def test_bad_parameters_are_refused_naming_them(runner, arguments, message):
    start, paper_dir = runner
    status, output = _finish(start(*arguments))
    assert status == 2
    assert re.search(message, output), output
    assert not paper_dir.exists()


@pytest.mark.parametrize(("section", "message"), [
    ({"value": "two"}, r"kermany.yaml \[smoke\]: parameter 'value' expects int .* got 'two'"),
    ({"valu": 2}, r"kermany.yaml \[smoke\]: unknown parameter 'valu'.*did you mean 'value'"),
    (["value", 2], r"kermany.yaml: the 'smoke' section must map parameter names to values"),
])
def test_bad_profiles_are_refused_naming_the_file_and_key(tmp_path, runner, section, message):
    start, paper_dir = runner
    (tmp_path / "profiles" / "kermany.yaml").write_text(yaml.safe_dump({"smoke": section}))
    status, output = _finish(start())
    assert status == 2
    assert re.search(message, output) and str(tmp_path / "profiles") in output, output
    assert not paper_dir.exists()


def test_a_bad_params_file_is_refused_naming_it(tmp_path, runner):
    start, paper_dir = runner
    params_file = tmp_path / "mine.yaml"
    params_file.write_text("stages: many\n")
    status, output = _finish(start("--params-file", str(params_file)))
    assert status == 2
    assert f"--params-file {params_file}: parameter 'stages' expects int" in output, output
    assert not paper_dir.exists()


def test_floats_in_any_notation_and_on_error_reach_the_notebook(runner):
    start, paper_dir = runner
    status, output = _finish(start("-p", "learning_rate=2e-4", "-p", "stages=2",
                                   "--on-error", "skip"))
    assert status == 0, output
    assert _outputs(paper_dir / "smoke") == _uninterrupted(learning_rate=2e-4, on_error="skip",
                                                           stages=2)


def test_on_error_needs_the_notebook_parameter(tmp_path, runner):
    start, _ = runner
    _notebook(tmp_path / "notebooks", PARAMETERS.replace('on_error = "raise"\n', "on_error_x = 1\n"))
    status, output = _finish(start("--on-error", "skip"))
    assert status == 2
    assert "01_stages.ipynb has no 'on_error' parameter" in output


def test_a_failing_cell_is_reported_with_its_error_and_notebook(runner):
    start, paper_dir = runner
    status, output = _finish(start("-p", "stages=1", "-p", "image_size=0"))
    assert status == 1
    failed_notebook = paper_dir / "smoke.failed" / "01_stages.ipynb"
    assert "raised AssertionError: image_size must be positive, got 0" in output
    assert f"the executed notebook with the error is {failed_notebook}" in output
    assert failed_notebook.is_file()


@pytest.mark.parametrize("stop_signal", [signal.SIGKILL, signal.SIGTERM])
def test_a_failing_run_with_other_parameters_keeps_a_stopped_runs_work_for_its_resume(
    runner, stop_signal
):
    start, paper_dir = runner
    first = start()
    _wait_for(paper_dir / ".smoke.partial" / "stage-1.txt", first)
    first.send_signal(stop_signal)
    _finish(first)
    status, output = _finish(start("-p", "image_size=0"))  # fails in its last cell
    assert status == 1, output
    assert "kept the unfinished run" in output and "image_size: (unset) -> 0" in output
    assert "to resume it, run: " in output and "tools.pipeline run kermany" in output

    status, output = _finish(start())
    assert status == 0, output
    results = paper_dir / "smoke"
    assert _outputs(results) == _uninterrupted()
    computed = [line.split()[0] for line in (results / "computed.log").read_text().splitlines()]
    assert computed[:2] == ["0", "1"] and len(computed) <= STAGES + 1  # stages 0, 1 kept
    expected = "killed" if stop_signal == signal.SIGKILL else "interrupted by SIGTERM"
    assert [a["outcome"] for a in _attempts(results)] == [expected, "done"]
    parked = list((paper_dir / ".smoke.unfinished").iterdir())  # the failed run, parked in turn
    assert len(parked) == 1 and (parked[0] / "stage-3.txt").is_file()


def test_a_file_given_as_out_is_refused_in_one_line(tmp_path, runner):
    start, _ = runner
    (tmp_path / "results").write_text("not a folder")
    status, output = _finish(start())
    assert status == 2
    assert output.strip() == (f"error: --out {tmp_path / 'results'} is a file, not a folder; "
                              f"pass a folder for the results (it is created when missing)")


@pytest.fixture
def read_only(tmp_path):
    """``tmp_path/results/kermany``, created read-only (immutable when run as root)."""
    folder = tmp_path / "results" / "kermany"
    folder.mkdir(parents=True)
    folder.chmod(0o555)
    as_root = os.geteuid() == 0
    if as_root and subprocess.run(["chattr", "+i", str(folder)], check=False,
                                  capture_output=True).returncode:
        pytest.skip("running as root without chattr: no folder is read-only")
    yield folder
    if as_root:
        subprocess.run(["chattr", "-i", str(folder)], check=True)
    folder.chmod(0o755)


def test_a_read_only_results_folder_is_refused_in_one_line(runner, read_only):
    start, _ = runner
    status, output = _finish(start())
    assert status == 2
    assert output.strip() == (f"error: cannot write in the results folder {read_only} "
                              f"(read-only); make it writable or pass --out another folder")


def _fake_papermill(monkeypatch, failures: list[Exception]) -> list[int]:
    """Make papermill raise ``failures`` in turn, then succeed; return the waits it got."""
    import papermill

    waits = []

    def execute(notebook, executed, start_timeout, **_):
        waits.append(start_timeout)
        if len(waits) <= len(failures):
            raise failures[len(waits) - 1]
        Path(executed).write_text("{}")

    monkeypatch.setattr(papermill, "execute_notebook", execute)
    return waits


def test_a_kernel_that_does_not_start_in_time_is_started_again_with_a_longer_wait(
    tmp_path, monkeypatch
):
    waits = _fake_papermill(monkeypatch, [RuntimeError("Kernel didn't respond in 60 seconds")])
    log = io.StringIO()
    execution.execute_notebook(tmp_path / "in.ipynb", tmp_path / "out.ipynb", {}, log)
    assert waits == list(execution.KERNEL_START_TIMEOUTS) and waits[1] > waits[0]
    assert f"starting it again, waiting up to {waits[1]} s" in log.getvalue()
    assert (tmp_path / "out.ipynb").is_file()


@pytest.mark.parametrize("error", [RuntimeError("Kernel didn't respond in 300 seconds"),
                                   RuntimeError("a cell's own error")])
def test_a_kernel_start_is_tried_at_most_twice_and_no_other_error_is_retried(
    tmp_path, monkeypatch, error
):
    waits = _fake_papermill(monkeypatch, [error] * 3)
    with pytest.raises(RuntimeError, match=str(error)):
        execution.execute_notebook(tmp_path / "in.ipynb", tmp_path / "out.ipynb", {},
                                   io.StringIO())
    assert len(waits) == (2 if "Kernel" in str(error) else 1)
