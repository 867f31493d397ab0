"""The folders of a run: staging (``.<profile>.partial``), failed and final results.

A run works in ``results/<paper>/.<profile>.partial/``, stamped with its parameters. A runner
stopped by a signal or a failing cell moves it to ``<profile>.failed/``; one killed outright
(SIGKILL, power loss) leaves it in place. Either way the next run with the same parameters
continues in it, so checkpoints and finished stages are not redone.
"""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path
from typing import Any

from cxr_keras.io import write_json
from cxr_keras.pipeline.parameters import PHANTOMS, PipelineError
from cxr_keras.pipeline.record import previous_attempts, write_attempts

PARAMETERS_STAMP = ".parameters.json"

log = logging.getLogger("cxr_keras.pipeline")


def prepare_staging(staging: Path, failed_dir: Path, parameters: dict[str, Any]) -> Path:
    """Continue in the staging folder or the failed run when its parameters match, else start
    from scratch."""
    if has_parameters(staging, parameters):
        log.info("resuming the interrupted run in %s (same parameters)", staging)
        return staging
    if staging.exists():
        log.info("discarding %s: it was made with other parameters", staging)
        shutil.rmtree(staging)
    if has_parameters(failed_dir, parameters):
        log.info("resuming from %s (same parameters)", failed_dir)
        failed_dir.rename(staging)
    else:
        staging.mkdir(parents=True)
    write_json(staging / PARAMETERS_STAMP, parameters)
    return staging


def prepare_refresh(
    staging: Path, final_dir: Path, failed_dir: Path, parameters: dict[str, Any]
) -> Path:
    """Start from a copy of the last good results, which must have the same parameters."""
    for unfinished in (staging, failed_dir):
        if has_parameters(unfinished, parameters):
            raise PipelineError(
                f"{unfinished} holds an unfinished run with these parameters; run without "
                f"--refresh to resume it (or delete it to refresh {final_dir} instead)"
            )
    run_json = final_dir / "run.json"
    if not run_json.is_file():
        raise PipelineError(
            f"nothing to refresh: {final_dir} holds no finished run (no run.json); run without "
            f"--refresh"
        )
    previous = json.loads(run_json.read_text())
    differences = parameter_differences(same_data_path(previous.get("parameters") or {}),
                                        same_data_path(jsonable(parameters)))
    if differences:
        raise PipelineError(
            f"cannot refresh {final_dir}: it was made with other parameters "
            f"({'; '.join(differences)}); run without --refresh to start from scratch"
        )
    log.info("refreshing %s (same parameters)", final_dir)
    shutil.rmtree(staging, ignore_errors=True)
    shutil.copytree(final_dir, staging, symlinks=True)
    (staging / "run.json").unlink()  # its content lives on in the attempts list
    write_attempts(staging, previous_attempts(previous))
    write_json(staging / PARAMETERS_STAMP, parameters)
    return staging


def has_parameters(folder: Path, parameters: dict[str, Any]) -> bool:
    """Whether ``folder`` is stamped as made with ``parameters``."""
    stamp = folder / PARAMETERS_STAMP
    return stamp.is_file() and json.loads(stamp.read_text()) == jsonable(parameters)


def same_data_path(parameters: dict[str, Any]) -> dict[str, Any]:
    """``parameters`` with ``data`` as an absolute path, so ``../data`` and ``/abs/data`` match."""
    data = parameters.get("data")
    if not isinstance(data, str) or data == PHANTOMS:
        return parameters
    return {**parameters, "data": str(Path(data).resolve())}


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
