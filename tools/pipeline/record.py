"""What a run records: ``run.json`` (how, where and on what) and the attempts behind it.

Each execution is an attempt. It is written as ``running`` when it starts, so one whose
runner was killed (SIGKILL, power loss) is found on the next start and recorded as
``killed``, its end estimated from the last file it wrote.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import platform
import shlex
import socket
import subprocess
import sys
from collections.abc import Sequence
from datetime import datetime, timedelta, timezone
from importlib import metadata
from pathlib import Path
from typing import Any

from cxr_keras.io import write_json
from cxr_keras.paths import REPO_ROOT
from tools.pipeline.execution import eager_functions, keras_backend
from tools.pipeline.parameters import PipelineError

MANIFEST_NAME = "data_manifest.csv"
ATTEMPTS_FILE = ".attempts.json"
VERSIONED_PACKAGES = (
    "tensorflow", "keras", "numpy", "pandas", "scikit-learn", "scipy", "matplotlib",
    "papermill", "cxr-keras", "jax", "torch",
)
RUNNING, KILLED = "running", "killed"


def run_record(
    paper: str,
    profile: str,
    notebook: Path,
    parameters: dict[str, Any],
    out_dir: Path,
    wall_seconds: float,
    attempts: Sequence[dict[str, Any]] | None = None,
    git: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """What ``run.json`` holds: how, where and on what the results were made.

    ``attempts`` lists every execution that led to these results, this one last (by default
    just this one); ``wall_seconds_total`` is their sum. ``git`` is the checkout's state when
    the last execution started (by default, now): a long run must not be credited to commits
    made while it ran.
    """
    manifest = out_dir / MANIFEST_NAME
    git = git if git is not None else git_state()
    if attempts is None:
        started = datetime.now(timezone.utc) - timedelta(seconds=wall_seconds)
        attempts = [finish_attempt(start_attempt(1, git["commit"], utc(started)), "done",
                                   wall_seconds)]
    return {
        "paper": paper,
        "profile": profile,
        "backend": keras_backend(),
        "eager": eager_functions(),
        "notebook": notebook.name,
        "parameters": parameters,
        "finished_utc": utc_now(),
        "wall_seconds": round(wall_seconds, 1),
        "wall_seconds_total": round(sum(a.get("wall_seconds") or 0 for a in attempts), 1),
        "attempts": list(attempts),
        "data_manifest": MANIFEST_NAME if manifest.is_file() else None,
        "data_manifest_sha256": sha256(manifest) if manifest.is_file() else None,
        "versions": {"python": platform.python_version(), **package_versions()},
        "device": device_description(),
        "git": git,
    }


def start_attempt(number: int, git_commit: str | None, started_utc: str | None = None) -> dict:
    """A new attempt, ``running`` until :func:`finish_attempt` closes it."""
    return {
        "number": number,
        "started_utc": started_utc or utc_now(),
        "finished_utc": None,
        "wall_seconds": None,
        "outcome": RUNNING,
        "git_commit": git_commit,
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "command": command_line(),
        "log": f"attempt-{number}.log",
    }


def finish_attempt(attempt: dict[str, Any], outcome: str, wall_seconds: float) -> dict:
    """``attempt`` closed now with ``outcome`` (done, failed, interrupted by SIGTERM, ...)."""
    return {**attempt, "finished_utc": utc_now(), "wall_seconds": round(wall_seconds, 1),
            "outcome": outcome}


def read_attempts(folder: Path) -> list[dict[str, Any]]:
    """The attempts recorded in ``folder``, any left ``running`` (their runner died) marked
    ``killed`` with their end taken from the newest file in ``folder``."""
    path = folder / ATTEMPTS_FILE
    remedy = f"delete {folder} to discard that unfinished run"
    attempts = read_run_file(path, list, remedy) if path.is_file() else []
    if not all(isinstance(attempt, dict) and "started_utc" in attempt for attempt in attempts):
        raise PipelineError(f"{path} does not list attempts; {remedy}")
    last_write = _newest_mtime(folder)
    for index, attempt in enumerate(attempts):
        if attempt.get("outcome") == RUNNING:
            started = datetime.fromisoformat(attempt["started_utc"])
            ended = max(started, last_write)
            attempts[index] = {**attempt, "outcome": KILLED, "finished_utc": utc(ended),
                               "wall_seconds": round((ended - started).total_seconds(), 1)}
    return attempts


def read_run_file(path: Path, kind: type, remedy: str) -> Any:
    """The JSON ``kind`` (dict or list) the runner wrote to ``path``; PipelineError naming
    ``path`` and ``remedy`` when it is unreadable or holds something else."""
    try:
        content = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise PipelineError(f"{path} is unreadable ({error}); {remedy}") from error
    if not isinstance(content, kind):
        raise PipelineError(f"{path} does not hold a JSON {kind.__name__}; {remedy}")
    return content


def write_attempts(folder: Path, attempts: Sequence[dict[str, Any]]) -> None:
    write_json(folder / ATTEMPTS_FILE, list(attempts))


def previous_attempts(run: dict[str, Any]) -> list[dict[str, Any]]:
    """The attempts a ``run.json`` records (one built from its fields when it predates them)."""
    if isinstance(run.get("attempts"), list):
        return run["attempts"]
    started = None
    with contextlib.suppress(KeyError, TypeError, ValueError):
        started = utc(datetime.fromisoformat(run["finished_utc"])
                      - timedelta(seconds=run["wall_seconds"]))
    return [{
        "started_utc": started,
        "finished_utc": run.get("finished_utc"),
        "wall_seconds": run.get("wall_seconds"),
        "outcome": "done",
        "git_commit": (run.get("git") or {}).get("commit"),
    }]


def package_versions(packages: Sequence[str] = VERSIONED_PACKAGES) -> dict[str, str | None]:
    """Installed versions of ``packages`` (None when one is not installed)."""
    versions = {}
    for package in packages:
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = None
    return versions


def device_description() -> dict[str, Any]:
    """The GPUs ``nvidia-smi`` lists (empty when none) and the CPU model and core count."""
    gpus = _command_output(["nvidia-smi", "--query-gpu=name", "--format=csv,noheader"])
    return {
        "gpus": [line.strip() for line in (gpus or "").splitlines() if line.strip()],
        "cpu": _cpu_model(),
        "cpu_count": os.cpu_count(),
    }


def git_state(repo: Path = REPO_ROOT) -> dict[str, Any]:
    """The checked-out commit and whether the working tree had uncommitted changes outside
    ``results/`` (results being rewritten, e.g. by a refresh, do not change the code that ran)."""
    status = _command_output(["git", "-C", str(repo), "status", "--porcelain", "--", ".",
                              ":(exclude)results"])
    commit = _command_output(["git", "-C", str(repo), "rev-parse", "HEAD"])
    return {
        "commit": commit.strip() if commit else None,
        "dirty": bool(status.strip()) if status is not None else None,
    }


def command_line() -> str:
    """How this process was started, e.g. ``python -m tools.pipeline run kermany ...``."""
    return shlex.join(getattr(sys, "orig_argv", sys.argv))


def utc_now() -> str:
    return utc(datetime.now(timezone.utc))


def utc(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds")


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _newest_mtime(folder: Path) -> datetime:
    times = [p.stat().st_mtime for p in folder.rglob("*") if p.is_file()]
    return datetime.fromtimestamp(max(times, default=0), timezone.utc).replace(microsecond=0)


def _command_output(command: list[str]) -> str | None:
    try:
        result = subprocess.run(command, capture_output=True, text=True, timeout=20, check=True)
    except (OSError, subprocess.SubprocessError):
        return None
    return result.stdout


def _cpu_model() -> str:
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()
