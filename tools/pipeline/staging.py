"""The folders of a run: staging (``.<profile>.partial``), failed, parked and final results.

A run works in ``results/<paper>/.<profile>.partial/``, stamped with its parameters. A runner
stopped by a signal or a failing cell moves it to ``<profile>.failed/``; one killed outright
(SIGKILL, power loss) leaves it in place. Either way the next run with the same parameters
continues in it, so checkpoints and finished stages are not redone.

A run with other parameters does not discard that unfinished work: it parks it in
``.<profile>.unfinished/<key>/`` (one folder per parameter set), says so with the command
that resumes it, and a later run with those parameters continues from there.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cxr_keras.io import write_json
from cxr_keras.paths import REPO_ROOT
from tools.pipeline.parameters import PHANTOMS, PipelineError, notebook_parameters
from tools.pipeline.record import (
    previous_attempts,
    read_attempts,
    read_run_file,
    write_attempts,
)

PARAMETERS_STAMP = ".parameters.json"

log = logging.getLogger("tools.pipeline")


@dataclass(frozen=True)
class RunFolders:
    """Where one paper's profile keeps its results, its staging, failed and parked runs."""

    final: Path
    staging: Path
    failed: Path
    parked: Path

    @classmethod
    def of(cls, out_root: Path, paper: str, profile: str) -> RunFolders:
        """The folders of ``paper``'s ``profile`` under the results root ``out_root`` (``--out``),
        whose ``<paper>`` folder is created here; PipelineError names a root or folder that
        is a file, cannot be created or is read-only."""
        paper_dir = writable_folder(Path(out_root).resolve(), paper)
        return cls(final=paper_dir / profile, staging=paper_dir / f".{profile}.partial",
                   failed=paper_dir / f"{profile}.failed",
                   parked=paper_dir / f".{profile}.unfinished")

    def parked_run(self, parameters: dict[str, Any]) -> Path:
        """The folder an unfinished run with ``parameters`` is parked in."""
        text = json.dumps(jsonable(parameters), sort_keys=True)
        return self.parked / hashlib.sha256(text.encode()).hexdigest()[:12]


def writable_folder(out_root: Path, name: str) -> Path:
    """Create ``out_root/name`` and check that this process may write in it."""
    if out_root.exists() and not out_root.is_dir():
        raise PipelineError(f"--out {out_root} is a file, not a folder; pass a folder for the "
                            f"results (it is created when missing)")
    folder = out_root / name
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise PipelineError(f"cannot create the results folder {folder}: {error.strerror}; "
                            f"pass --out a folder you can write to") from error
    if not os.access(folder, os.W_OK | os.X_OK):
        raise PipelineError(f"cannot write in the results folder {folder} (read-only); make it "
                            f"writable or pass --out another folder")
    return folder


def prepare_staging(folders: RunFolders, parameters: dict[str, Any]) -> Path:
    """Continue the unfinished run with ``parameters`` (staging, failed or parked), else start
    from scratch; unfinished runs with other parameters are parked, not discarded."""
    park_other_runs(folders, parameters)
    if has_parameters(folders.staging, parameters):
        log.info("resuming the interrupted run in %s (same parameters)", folders.staging)
        return folders.staging
    parked = sorted(folders.parked.iterdir()) if folders.parked.is_dir() else []
    source = next((folder for folder in (folders.failed, folders.parked_run(parameters), *parked)
                   if has_parameters(folder, parameters)), None)
    if source is None:
        folders.staging.mkdir(parents=True)
    else:
        log.info("resuming from %s (same parameters)", source)
        source.rename(folders.staging)
        _remove_if_empty(folders.parked)
    write_json(folders.staging / PARAMETERS_STAMP, parameters)
    return folders.staging


def prepare_refresh(folders: RunFolders, parameters: dict[str, Any]) -> Path:
    """Start from a copy of the last good results, which must have the same parameters."""
    park_other_runs(folders, parameters)
    for unfinished in (folders.staging, folders.failed, folders.parked_run(parameters)):
        if has_parameters(unfinished, parameters):
            raise PipelineError(
                f"{unfinished} holds an unfinished run with these parameters; run without "
                f"--refresh to resume it (or delete it to refresh {folders.final} instead)"
            )
    final_dir, staging = folders.final, folders.staging
    run_json = final_dir / "run.json"
    if not run_json.is_file():
        raise PipelineError(
            f"nothing to refresh: {final_dir} holds no finished run (no run.json); run without "
            f"--refresh"
        )
    previous = read_run_file(run_json, dict, "run without --refresh to start from scratch")
    before = with_executed_defaults(final_dir, previous.get("parameters") or {}, parameters)
    differences = parameter_differences(same_data_path(before), same_data_path(jsonable(parameters)))
    if differences:
        raise PipelineError(
            f"cannot refresh {final_dir}: it was made with other parameters "
            f"({'; '.join(differences)}); run without --refresh to start from scratch"
        )
    log.info("refreshing %s (same parameters)", final_dir)
    shutil.copytree(final_dir, staging, symlinks=True)
    (staging / "run.json").unlink()  # its content lives on in the attempts list
    write_attempts(staging, previous_attempts(previous))
    write_json(staging / PARAMETERS_STAMP, parameters)
    return staging


def with_executed_defaults(folder: Path, stamped: dict[str, Any], names) -> dict[str, Any]:
    """``stamped`` (a run's parameters) plus, for each of ``names`` it left unset, the default
    that the run's executed notebook in ``folder`` shows: the run took that default, so a
    profile that now sets it to the same value made the same run (a notebook's defaults may
    change after it ran)."""
    executed = sorted(folder.glob("*.ipynb"))
    missing = [name for name in names if name not in stamped]
    if len(executed) != 1 or not missing:
        return dict(stamped)
    try:
        defaults = notebook_parameters(executed[0])
    except PipelineError:  # no single parameters cell: nothing to read
        return dict(stamped)
    shown = {name: jsonable(defaults[name]) for name in missing
             if name in defaults and defaults[name] is not Ellipsis}
    return {**shown, **stamped}


def park_other_runs(folders: RunFolders, parameters: dict[str, Any]) -> None:
    """Move the staging and failed runs made with other parameters to their parked folders,
    saying which command resumes each; a folder without a parameter stamp (its run died
    before writing it, so nothing can resume it) is removed, and said so."""
    for unfinished in (folders.staging, folders.failed):
        if not unfinished.exists() or has_parameters(unfinished, parameters):
            continue
        stamped = read_parameters(unfinished)
        if stamped is None:
            log.info("removing %s: it holds no %s, so no run can resume it", unfinished,
                     PARAMETERS_STAMP)
            shutil.rmtree(unfinished)
            continue
        target = folders.parked_run(stamped)
        target.parent.mkdir(parents=True, exist_ok=True)
        replace_dir(unfinished, target)
        attempts = read_attempts(target)
        command = attempts[-1].get("command") if attempts else None
        log.info(
            "kept the unfinished run of %s, made with other parameters (%s), in %s; to resume "
            "it, run: %s", unfinished, "; ".join(parameter_differences(stamped, jsonable(parameters))),
            target, command or "the command that started it",
        )


def read_parameters(folder: Path) -> dict[str, Any] | None:
    """The parameters ``folder`` is stamped with (None when it has no stamp)."""
    stamp = folder / PARAMETERS_STAMP
    if not stamp.is_file():
        return None
    return read_run_file(stamp, dict, f"delete {folder} to discard that unfinished run")


def has_parameters(folder: Path, parameters: dict[str, Any]) -> bool:
    """Whether ``folder`` is stamped as made with ``parameters`` (a name the stamp lacks counts
    at the default its executed notebook shows: :func:`with_executed_defaults`)."""
    stamped = read_parameters(folder)
    if stamped is None:
        return False
    return with_executed_defaults(folder, stamped, parameters) == jsonable(parameters)


def same_data_path(parameters: dict[str, Any]) -> dict[str, Any]:
    """``parameters`` with ``data`` as an absolute path (a relative one is relative to the
    repository root, where runs start), so ``../data`` and ``/abs/data`` match."""
    data = parameters.get("data")
    if not isinstance(data, str) or data == PHANTOMS:
        return parameters
    return {**parameters, "data": str((REPO_ROOT / data).resolve())}


def parameter_differences(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """``["seed: 1 -> 2", "epochs: (unset) -> 3"]`` for the keys whose values differ."""
    def shown(values: dict[str, Any], key: str) -> str:
        return repr(values[key]) if key in values else "(unset)"

    return [
        f"{key}: {shown(old, key)} -> {shown(new, key)}"
        for key in sorted(set(old) | set(new))
        if (key in old, old.get(key)) != (key in new, new.get(key))
    ]


def replace_dir(source: Path, target: Path) -> None:
    """Move ``source`` to ``target``, swapping out any existing ``target`` with two renames."""
    old = target.with_name(f".{target.name}.old")
    shutil.rmtree(old, ignore_errors=True)
    if target.exists():
        target.rename(old)
    source.rename(target)
    shutil.rmtree(old, ignore_errors=True)


def jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))


def _remove_if_empty(folder: Path) -> None:
    if folder.is_dir() and not any(folder.iterdir()):
        folder.rmdir()
