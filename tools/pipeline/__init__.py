"""Run a paper's notebook with papermill under a parameter profile, into ``results/``.

Usage::

    python -m tools.pipeline run kermany --profile smoke
    python -m tools.pipeline run all --profile cpu --data /path/to/data -p seed=1
    python -m tools.pipeline run kermany --profile cpu -p gan_learning_rate=2e-4
    python -m tools.pipeline run kermany --profile cpu --refresh
    python -m tools.pipeline list

From the repository root: ``tools`` is the lab's side and is not installed with ``cxr_keras``.

Parameters are merged, later winning: the notebook's own defaults < the profile in
``cxr_keras/profiles/<paper>.yaml`` < ``--params-file`` < ``-p key=value``. Values are YAML
(``-p epochs=3`` an int, ``-p lr=2e-4`` a float, ``-p 'methods=[flip, gan]'`` a list); each
name, in the profile, the file or ``-p``, must be one the notebook's ``parameters`` cell
assigns, and each value of the type its annotation names (``patience: int | None = 10``), else
of its default's type, or nothing runs: the error names the file and key. ``--on-error skip`` sets the notebook's ``on_error`` parameter.

One run at a time per results folder: the runner holds a lock on it (``lock``); a second one
stops at once, naming the first.

The notebook runs in a staging folder ``results/<paper>/.<profile>.partial/`` and receives it
as ``out_dir``. On success the folder, with ``run.json`` added, atomically replaces
``results/<paper>/<profile>/``. A failing cell, SIGTERM or SIGINT (the kernel is interrupted,
the executed copy written) moves it to ``results/<paper>/<profile>.failed/``; SIGKILL or a
power loss leaves it where it is. The next run with the same parameters continues in it, so
resumable steps (GAN checkpoints, finished classifier runs) are not redone; the last good
results stay untouched throughout. A run with other parameters parks such unfinished work in
``results/<paper>/.<profile>.unfinished/<key>/``, naming the command that resumes it, and
that command, run again, continues from there.

``--refresh`` re-executes the notebook on top of the last good results (same parameters
required), reusing their checkpoints and finished runs, e.g. after a notebook's narrative or
closing cells changed; the results folder is replaced only when that run succeeds.

Every execution is an attempt, recorded when it starts (so a killed one is found and recorded
as ``killed`` on the next start) and closed as done, failed or interrupted; ``run.json`` lists
them under ``attempts``, with ``wall_seconds_total`` their sum and ``wall_seconds`` the last
one's time. Each attempt's kernel output is kept in ``attempt-<n>.log`` in the run folder.

Modules: ``parameters`` (papers, profiles, checks), ``staging`` (folders), ``lock``,
``record`` (run.json and attempts), ``execution`` (kernel and signals), ``runner``
(``run_paper``), ``cli``.
"""

from cxr_keras.paths import REPO_ROOT
from tools.pipeline.cli import build_parser, main
from tools.pipeline.execution import KERNEL_NAME, RunInterrupted
from tools.pipeline.lock import ResultsFolderBusy, lock_path, results_lock
from tools.pipeline.parameters import (
    DATA_SOURCES,
    NOTEBOOKS_DIR,
    PAPERS,
    PHANTOMS,
    PROFILES,
    PROFILES_DIR,
    PipelineError,
    check_data,
    check_parameters,
    find_notebook,
    load_profile,
    merge_parameters,
    notebook_parameters,
    parse_overrides,
    parse_yaml,
)
from tools.pipeline.record import (
    ATTEMPTS_FILE,
    MANIFEST_NAME,
    VERSIONED_PACKAGES,
    device_description,
    git_state,
    package_versions,
    run_record,
)
from tools.pipeline.runner import NotebookFailed, run_paper
from tools.pipeline.staging import PARAMETERS_STAMP

__all__ = [
    "ATTEMPTS_FILE", "DATA_SOURCES", "KERNEL_NAME", "MANIFEST_NAME", "NOTEBOOKS_DIR", "PAPERS",
    "PARAMETERS_STAMP", "PHANTOMS", "PROFILES", "PROFILES_DIR", "REPO_ROOT",
    "VERSIONED_PACKAGES", "NotebookFailed", "PipelineError", "ResultsFolderBusy",
    "RunInterrupted", "build_parser", "check_data", "check_parameters", "device_description",
    "find_notebook", "git_state", "load_profile", "lock_path", "main", "merge_parameters",
    "notebook_parameters", "package_versions", "parse_overrides", "parse_yaml", "results_lock",
    "run_paper", "run_record",
]
