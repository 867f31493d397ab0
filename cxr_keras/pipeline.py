"""Run a paper's notebook with papermill under a parameter profile, into ``results/``.

Usage::

    python -m cxr_keras.pipeline run kermany --profile smoke
    python -m cxr_keras.pipeline run all --profile cpu --data /path/to/data -p seed=1
    python -m cxr_keras.pipeline run kermany --profile cpu --refresh
    python -m cxr_keras.pipeline list

Parameters are merged, later winning: the notebook's own defaults < the profile in
``cxr_keras/profiles/<paper>.yaml`` < ``--params-file`` < ``-p key=value`` (values parsed as
YAML, so ``-p epochs=3`` is an int and ``-p 'methods=[flip, gan]'`` a list).

The notebook runs in a staging folder ``results/<paper>/.<profile>.partial/`` and receives it
as ``out_dir``. On success the folder, with ``run.json`` added, atomically replaces
``results/<paper>/<profile>/``. On failure it is renamed ``results/<paper>/<profile>.failed/``
(executed notebook with the error included) and the last good results stay untouched; the
next run with the same parameters starts from the failed folder, so resumable steps (GAN
checkpoints, finished classifier runs) are not redone.

``--refresh`` re-executes the notebook on top of the last good results (same parameters
required), reusing their checkpoints and finished runs, e.g. after a notebook's narrative or
closing cells changed; the results folder is replaced only when that run succeeds.

Each execution (done, failed or interrupted) is recorded in the staging folder, so the record
follows it into ``.failed`` and back; ``run.json`` lists them under ``attempts``, with
``wall_seconds_total`` their sum and ``wall_seconds`` the last execution's time.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import logging
import os
import platform
import shutil
import subprocess
import sys
import time
from collections.abc import Sequence
from datetime import datetime, timedelta, timezone
from importlib import metadata
from pathlib import Path
from typing import Any

import yaml

from cxr_keras.io import write_json
from cxr_keras.paths import REPO_ROOT

NOTEBOOKS_DIR = REPO_ROOT / "notebooks"
PROFILES_DIR = Path(__file__).resolve().parent / "profiles"
PROFILES = ("smoke", "cpu", "paper")
# Paper name -> notebook number; `all` runs them in this order.
PAPERS = {"tour": "00", "kermany": "01", "salehinejad": "02", "ng-gubbi": "03", "davoodi": "04"}
PHANTOMS = "phantoms"
MANIFEST_NAME = "data_manifest.csv"
PARAMETERS_STAMP = ".parameters.json"
ATTEMPTS_FILE = ".attempts.json"
VERSIONED_PACKAGES = (
    "tensorflow", "keras", "numpy", "pandas", "scikit-learn", "scipy", "matplotlib",
    "papermill", "cxr-keras",
)
DATA_SOURCES = {
    "kermany": (
        "Kermany pediatric chest X-rays: Mendeley Data doi:10.17632/rscbjbr9sj.2 or Kaggle "
        "'chest-xray-pneumonia'. Unpack it and pass the folder holding train/ and test/, "
        "e.g. DATA=/path/to/chest_xray (make) or --data /path/to/chest_xray"
    ),
}

log = logging.getLogger("cxr_keras.pipeline")


class PipelineError(Exception):
    """Bad input to the runner (unknown paper, missing profile or data): nothing was run."""


def find_notebook(paper: str, notebooks_dir: str | os.PathLike = NOTEBOOKS_DIR) -> Path | None:
    """Return the notebook numbered for ``paper`` (e.g. ``01_*.ipynb``), or None if absent."""
    if paper not in PAPERS:
        raise PipelineError(f"unknown paper {paper!r}; choose one of {list(PAPERS)} or 'all'")
    matches = sorted(Path(notebooks_dir).glob(f"{PAPERS[paper]}_*.ipynb"))
    return matches[0] if matches else None


def load_profile(
    paper: str, profile: str, profiles_dir: str | os.PathLike = PROFILES_DIR
) -> dict[str, Any]:
    """Read the ``profile`` section of ``<profiles_dir>/<paper>.yaml``."""
    path = Path(profiles_dir) / f"{paper}.yaml"
    if not path.is_file():
        raise PipelineError(
            f"no parameter profiles for {paper!r}: {path} is missing; create it with the "
            f"sections {list(PROFILES)}"
        )
    profiles = _read_yaml_mapping(path)
    if profile not in profiles:
        raise PipelineError(f"{path} has no {profile!r} section (it has {sorted(profiles)})")
    return dict(profiles[profile] or {})


def parse_overrides(pairs: Sequence[str]) -> dict[str, Any]:
    """Turn ``["epochs=3", "methods=[flip, gan]"]`` into a dict, values parsed as YAML."""
    overrides = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise PipelineError(f"-p expects key=value, got {pair!r}")
        overrides[key.strip()] = yaml.safe_load(value)
    return overrides


def merge_parameters(
    profile_params: dict[str, Any],
    params_file: str | os.PathLike | None = None,
    overrides: dict[str, Any] | None = None,
    data: str | None = None,
) -> dict[str, Any]:
    """Merge profile < params file < ``-p`` overrides < ``--data`` (made absolute, so the data
    manifest and ``run.json`` name the same files however the path was spelled)."""
    parameters = dict(profile_params)
    if params_file is not None:
        parameters.update(_read_yaml_mapping(Path(params_file)))
    parameters.update(overrides or {})
    if data is not None:
        parameters["data"] = data if data == PHANTOMS else str(Path(data).resolve())
    return parameters


def check_data(paper: str, parameters: dict[str, Any]) -> None:
    """Fail early, saying where to get the data, when ``data`` names a missing folder."""
    data = parameters.get("data", PHANTOMS)
    if data in (None, PHANTOMS) or Path(str(data)).expanduser().exists():
        return
    source = DATA_SOURCES.get(paper, "see the notebook's first cells for the expected layout")
    raise PipelineError(
        f"data folder {data} does not exist. Get the data set from {source}; or pass "
        f"--data {PHANTOMS} to run on the embedded phantoms."
    )


def run_paper(
    paper: str,
    profile: str,
    parameters: dict[str, Any],
    out_root: str | os.PathLike = "results",
    notebooks_dir: str | os.PathLike = NOTEBOOKS_DIR,
    refresh: bool = False,
) -> Path:
    """Execute ``paper``'s notebook with ``parameters``; return the results folder.

    With ``refresh``, start from a copy of the last good results (which must have been made
    with the same ``parameters``) instead of from scratch or from a failed run.

    Raises PipelineError when the notebook is missing (or there is nothing to refresh) and
    RuntimeError (after saving the ``.failed`` folder) when a cell fails.
    """
    notebook = find_notebook(paper, notebooks_dir)
    if notebook is None:
        raise PipelineError(f"no notebook {PAPERS[paper]}_*.ipynb for {paper!r} in {notebooks_dir}")
    check_data(paper, parameters)
    paper_dir = Path(out_root).resolve() / paper
    final_dir = paper_dir / profile
    failed_dir = paper_dir / f"{profile}.failed"
    staging_dir = paper_dir / f".{profile}.partial"
    if refresh:
        staging = _prepare_refresh(staging_dir, final_dir, failed_dir, parameters)
    else:
        staging = _prepare_staging(staging_dir, failed_dir, parameters)
    run_parameters = {**parameters, "out_dir": str(staging)}
    attempts = _read_attempts(staging)

    log.info("running %s (profile %s) into %s", notebook.name, profile, staging)
    executed = staging / notebook.name
    started_utc = _utc_now()
    git = git_state()  # taken now: the kernel imports the code as it is at the start
    git_commit = git["commit"]
    start = time.monotonic()
    try:
        _execute(notebook, executed, run_parameters)
    except BaseException as error:
        outcome = "failed" if isinstance(error, Exception) else "interrupted"
        try:
            attempts.append(_attempt(started_utc, time.monotonic() - start, outcome, git_commit))
            write_json(staging / ATTEMPTS_FILE, attempts)
        finally:
            _replace_dir(staging, failed_dir)
        if not isinstance(error, Exception):  # Ctrl-C: keep the partial work, then stop
            raise
        raise RuntimeError(
            f"{notebook.name} failed ({type(error).__name__}); the executed notebook with the "
            f"error is {failed_dir / notebook.name}; the last good results in {final_dir} "
            f"are untouched"
        ) from error
    wall_seconds = time.monotonic() - start
    attempts.append(_attempt(started_utc, wall_seconds, "done", git_commit))
    record = run_record(paper, profile, notebook, parameters, staging, wall_seconds, attempts, git)
    write_json(staging / "run.json", record)
    (staging / PARAMETERS_STAMP).unlink()
    (staging / ATTEMPTS_FILE).unlink(missing_ok=True)
    _replace_dir(staging, final_dir)
    shutil.rmtree(failed_dir, ignore_errors=True)
    log.info(
        "%s done in %.0f s (%.0f s over %d attempts): %s",
        paper, wall_seconds, record["wall_seconds_total"], len(attempts), final_dir,
    )
    return final_dir


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
        attempts = [_attempt(_utc(started), wall_seconds, "done", git["commit"])]
    return {
        "paper": paper,
        "profile": profile,
        "notebook": notebook.name,
        "parameters": parameters,
        "finished_utc": _utc_now(),
        "wall_seconds": round(wall_seconds, 1),
        "wall_seconds_total": round(sum(a.get("wall_seconds") or 0 for a in attempts), 1),
        "attempts": list(attempts),
        "data_manifest": MANIFEST_NAME if manifest.is_file() else None,
        "data_manifest_sha256": _sha256(manifest) if manifest.is_file() else None,
        "versions": {"python": platform.python_version(), **package_versions()},
        "device": device_description(),
        "git": git,
    }


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
    return {
        "commit": _git_commit(repo),
        "dirty": bool(status.strip()) if status is not None else None,
    }


def _git_commit(repo: Path = REPO_ROOT) -> str | None:
    commit = _command_output(["git", "-C", str(repo), "rev-parse", "HEAD"])
    return commit.strip() if commit else None


def _prepare_staging(staging: Path, failed_dir: Path, parameters: dict[str, Any]) -> Path:
    """Start from the failed run's folder when its parameters match, else from scratch."""
    shutil.rmtree(staging, ignore_errors=True)
    stamp = failed_dir / PARAMETERS_STAMP
    if stamp.is_file() and json.loads(stamp.read_text()) == _jsonable(parameters):
        log.info("resuming from %s (same parameters)", failed_dir)
        failed_dir.rename(staging)
    else:
        staging.mkdir(parents=True)
    write_json(staging / PARAMETERS_STAMP, parameters)
    return staging


def _prepare_refresh(
    staging: Path, final_dir: Path, failed_dir: Path, parameters: dict[str, Any]
) -> Path:
    """Start from a copy of the last good results, which must have the same parameters."""
    stamp = failed_dir / PARAMETERS_STAMP
    if stamp.is_file() and json.loads(stamp.read_text()) == _jsonable(parameters):
        raise PipelineError(
            f"{failed_dir} holds a failed run with these parameters; run without --refresh to "
            f"resume it (or delete it to refresh {final_dir} instead)"
        )
    run_json = final_dir / "run.json"
    if not run_json.is_file():
        raise PipelineError(
            f"nothing to refresh: {final_dir} holds no finished run (no run.json); run without "
            f"--refresh"
        )
    previous = json.loads(run_json.read_text())
    differences = _parameter_differences(_same_data_path(previous.get("parameters") or {}),
                                         _same_data_path(_jsonable(parameters)))
    if differences:
        raise PipelineError(
            f"cannot refresh {final_dir}: it was made with other parameters "
            f"({'; '.join(differences)}); run without --refresh to start from scratch"
        )
    log.info("refreshing %s (same parameters)", final_dir)
    shutil.rmtree(staging, ignore_errors=True)
    shutil.copytree(final_dir, staging, symlinks=True)
    (staging / "run.json").unlink()  # its content lives on in the attempts list
    write_json(staging / ATTEMPTS_FILE, _previous_attempts(previous))
    write_json(staging / PARAMETERS_STAMP, parameters)
    return staging


def _same_data_path(parameters: dict[str, Any]) -> dict[str, Any]:
    """``parameters`` with ``data`` as an absolute path, so ``../data`` and ``/abs/data`` match."""
    data = parameters.get("data")
    if not isinstance(data, str) or data == PHANTOMS:
        return parameters
    return {**parameters, "data": str(Path(data).resolve())}


def _parameter_differences(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """``["seed: 1 -> 2", "epochs: (unset) -> 3"]`` for the keys whose values differ."""
    def shown(values: dict[str, Any], key: str) -> str:
        return repr(values[key]) if key in values else "(unset)"

    return [
        f"{key}: {shown(old, key)} -> {shown(new, key)}"
        for key in sorted(set(old) | set(new))
        if (key in old, old.get(key)) != (key in new, new.get(key))
    ]


def _previous_attempts(run: dict[str, Any]) -> list[dict[str, Any]]:
    """The attempts a ``run.json`` records (one built from its fields when it predates them)."""
    if isinstance(run.get("attempts"), list):
        return run["attempts"]
    started = None
    with contextlib.suppress(KeyError, TypeError, ValueError):
        started = _utc(datetime.fromisoformat(run["finished_utc"]) - timedelta(seconds=run["wall_seconds"]))
    return [{
        "started_utc": started,
        "finished_utc": run.get("finished_utc"),
        "wall_seconds": run.get("wall_seconds"),
        "outcome": "done",
        "git_commit": (run.get("git") or {}).get("commit"),
    }]


def _read_attempts(staging: Path) -> list[dict[str, Any]]:
    path = staging / ATTEMPTS_FILE
    return json.loads(path.read_text()) if path.is_file() else []


def _attempt(started_utc: str, wall_seconds: float, outcome: str, git_commit: str | None) -> dict[str, Any]:
    return {
        "started_utc": started_utc,
        "finished_utc": _utc_now(),
        "wall_seconds": round(wall_seconds, 1),
        "outcome": outcome,
        "git_commit": git_commit,
    }


def _utc_now() -> str:
    return _utc(datetime.now(timezone.utc))


def _utc(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds")


def _execute(notebook: Path, executed: Path, parameters: dict[str, Any]) -> None:
    import papermill

    with _kernel_environment():
        papermill.execute_notebook(
            str(notebook),
            str(executed),
            parameters=parameters,
            kernel_name="python3",
            log_output=True,
            progress_bar=False,
            cwd=str(REPO_ROOT),
        )


@contextlib.contextmanager
def _kernel_environment():
    """Let the kernel import cxr_keras from this checkout and keep TensorFlow's C++ logs quiet."""
    saved = {name: os.environ.get(name) for name in ("PYTHONPATH", "TF_CPP_MIN_LOG_LEVEL")}
    os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO_ROOT), saved["PYTHONPATH"]) if p)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _replace_dir(source: Path, target: Path) -> None:
    """Move ``source`` to ``target``, swapping out any existing ``target`` with two renames."""
    old = target.with_name(f".{target.name}.old")
    shutil.rmtree(old, ignore_errors=True)
    if target.exists():
        target.rename(old)
    source.rename(target)
    shutil.rmtree(old, ignore_errors=True)


def _read_yaml_mapping(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise PipelineError(f"parameters file {path} does not exist")
    try:
        content = yaml.safe_load(path.read_text())
    except yaml.YAMLError as error:
        raise PipelineError(f"{path} is not valid YAML: {error}") from error
    if not isinstance(content, dict):
        raise PipelineError(f"{path} must hold a mapping of parameter names to values")
    return content


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m cxr_keras.pipeline", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="run one paper's notebook, or all of them")
    run.add_argument("paper", choices=[*PAPERS, "all"])
    run.add_argument("--profile", choices=PROFILES, default="smoke")
    run.add_argument("--data", help=f"data root, or '{PHANTOMS}' for the embedded phantoms")
    run.add_argument("--params-file", help="YAML file of parameters overriding the profile")
    run.add_argument("-p", "--param", action="append", default=[], metavar="KEY=VALUE",
                     help="one parameter (value parsed as YAML); repeatable")
    run.add_argument("--out", default="results", help="results root (default: results)")
    run.add_argument("--refresh", action="store_true",
                     help="re-execute on top of the last good results (same parameters), "
                          "reusing their checkpoints and finished runs")
    run.add_argument("--notebooks-dir", default=str(NOTEBOOKS_DIR), help=argparse.SUPPRESS)
    run.add_argument("--profiles-dir", default=str(PROFILES_DIR), help=argparse.SUPPRESS)
    commands.add_parser("list", help="list the papers and their notebooks")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point; returns the exit status (0 ok, 1 a notebook failed, 2 bad input)."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    if args.command == "list":
        for paper in PAPERS:
            notebook = find_notebook(paper)
            print(f"{paper:12s} {notebook.name if notebook else '(no notebook yet)'}")
        return 0
    if args.paper != "all":
        return _run_one(args.paper, args)
    statuses = {}
    for paper in PAPERS:
        if find_notebook(paper, args.notebooks_dir) is None:
            print(f"note: skipping {paper}: its notebook does not exist yet")
            continue
        statuses[paper] = _run_one(paper, args)
    failed = [paper for paper, status in statuses.items() if status]
    if failed:
        print(f"{len(failed)} of {len(statuses)} notebooks failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


def _run_one(paper: str, args: argparse.Namespace) -> int:
    """Run one paper from parsed arguments; return its exit status."""
    try:
        if find_notebook(paper, args.notebooks_dir) is None:
            raise PipelineError(f"no notebook for {paper!r} in {args.notebooks_dir}")
        parameters = merge_parameters(
            load_profile(paper, args.profile, args.profiles_dir),
            args.params_file,
            parse_overrides(args.param),
            args.data,
        )
        results = run_paper(
            paper, args.profile, parameters, args.out, args.notebooks_dir, refresh=args.refresh
        )
    except PipelineError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except RuntimeError as error:
        print(f"FAILED: {error}", file=sys.stderr)
        return 1
    print(f"{paper}: results in {results}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
