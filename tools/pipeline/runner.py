"""``run_paper``: one notebook run into ``results/<paper>/<profile>/``, locked and resumable."""

from __future__ import annotations

import logging
import os
import shutil
import signal
import time
from pathlib import Path
from typing import Any

from cxr_keras.io import write_json
from tools.pipeline import execution, record, staging
from tools.pipeline.lock import results_lock
from tools.pipeline.parameters import (
    NOTEBOOKS_DIR,
    PAPERS,
    PipelineError,
    check_data,
    find_notebook,
    portable_path,
)

log = logging.getLogger("tools.pipeline")


class NotebookFailed(RuntimeError):
    """A cell raised; the failed folder holds the executed notebook with the error."""


def run_paper(
    paper: str,
    profile: str,
    parameters: dict[str, Any],
    out_root: str | os.PathLike = "results",
    notebooks_dir: str | os.PathLike = NOTEBOOKS_DIR,
    refresh: bool = False,
) -> Path:
    """Execute ``paper``'s notebook with ``parameters``; return the results folder.

    Holds the results folder's lock throughout. Continues an unfinished run with the same
    ``parameters`` (killed, stopped or failed) where it stopped, and parks unfinished runs with
    other parameters for their own resume (see :mod:`~tools.pipeline.staging`); with
    ``refresh``, starts from a copy of the last good results (which must have been made with
    the same ``parameters``).

    Raises PipelineError when the input is bad or the folder is in use, NotebookFailed when a
    cell fails and execution.RunInterrupted on SIGTERM or SIGINT (the partial work kept, in
    both cases, in the ``.failed`` folder), KeyboardInterrupt likewise.
    """
    notebook = find_notebook(paper, notebooks_dir)
    if notebook is None:
        raise PipelineError(f"no notebook {PAPERS[paper]}_*.ipynb for {paper!r} in {notebooks_dir}")
    check_data(paper, parameters)
    folders = staging.RunFolders.of(Path(out_root), paper, profile)
    final_dir, failed_dir = folders.final, folders.failed
    with results_lock(final_dir):
        # A killed run's kernel may still write into staging: stop it before anything moves.
        _stop_orphan_kernels(record.read_attempts(folders.staging))
        prepare = staging.prepare_refresh if refresh else staging.prepare_staging
        work = prepare(folders, parameters)
        attempts = record.read_attempts(work)
        git = record.git_state()  # taken now: the kernel imports the code as it is at the start
        attempt = record.start_attempt(len(attempts) + 1, git["commit"])
        record.write_attempts(work, [*attempts, attempt])
        log.info("running %s (profile %s, attempt %d) into %s", notebook.name, profile,
                 attempt["number"], work)
        start = time.monotonic()
        try:
            log_path = work / attempt["log"]
            with open(log_path, "a", buffering=1) as log_file:
                execution.execute_notebook(
                    notebook, work / notebook.name,
                    {**parameters, "out_dir": portable_path(work)},
                    log_file, on_kernel_start=_recorder(work, attempts, attempt),
                )
        except BaseException as error:
            outcome = _outcome(error)
            try:
                attempts.append(record.finish_attempt(attempt, outcome, time.monotonic() - start))
                record.write_attempts(work, attempts)
            finally:
                staging.replace_dir(work, failed_dir)
            if isinstance(error, (execution.RunInterrupted, KeyboardInterrupt)):
                raise
            raise NotebookFailed(_failure_message(error, failed_dir / notebook.name, final_dir)) \
                from error
        wall_seconds = time.monotonic() - start
        attempts.append(record.finish_attempt(attempt, "done", wall_seconds))
        run = record.run_record(paper, profile, notebook, parameters, work, wall_seconds,
                                attempts, git)
        record.write_attempts(work, attempts)
        write_json(work / "run.json", run)
        staging.replace_dir(work, final_dir)
        (final_dir / staging.PARAMETERS_STAMP).unlink()
        (final_dir / record.ATTEMPTS_FILE).unlink()
        shutil.rmtree(failed_dir, ignore_errors=True)
    log.info("%s done in %.0f s (%.0f s over %d attempts): %s", paper, wall_seconds,
             run["wall_seconds_total"], len(attempts), final_dir)
    return final_dir


def resume_hint(paper: str, profile: str) -> str:
    """How to continue a stopped run."""
    return (f"the partial work is kept; run the same command again (same parameters, without "
            f"--refresh) to resume {paper} ({profile}) where it stopped")


def _recorder(work: Path, attempts: list[dict], attempt: dict):
    """A callback that records the kernel's pid in the running attempt."""
    def record_kernel(pid: int | None) -> None:
        attempt["kernel_pid"] = pid
        record.write_attempts(work, [*attempts, attempt])

    return record_kernel


def _stop_orphan_kernels(attempts: list[dict]) -> None:
    """Stop kernels that killed attempts left running, before a new kernel writes here."""
    for attempt in attempts:
        pid = attempt.get("kernel_pid")
        if attempt.get("outcome") == record.KILLED and pid and execution.stop_kernel(pid):
            log.info("stopped kernel pid %d, left running by killed attempt %s", pid,
                     attempt.get("number"))


def _outcome(error: BaseException) -> str:
    if isinstance(error, execution.RunInterrupted):
        return f"interrupted by {signal.Signals(error.signum).name}"
    return "interrupted" if isinstance(error, KeyboardInterrupt) else "failed"


def _failure_message(error: BaseException, executed: Path, final_dir: Path) -> str:
    """The failing cell's error type and message, and where the failed notebook is."""
    ename, evalue = getattr(error, "ename", None), getattr(error, "evalue", None)
    cell = getattr(error, "exec_count", None)
    raised = f"{ename}: {evalue}" if ename else f"{type(error).__name__}: {error}"
    where = f"cell [{cell}] raised " if cell is not None else ""
    return (f"{executed.name} failed: {where}{raised}\n  the executed notebook with the error "
            f"is {executed}\n  the last good results in {final_dir} are untouched")
