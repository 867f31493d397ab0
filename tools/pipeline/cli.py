"""The command line: ``python -m tools.pipeline run|list``."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
from collections.abc import Sequence
from pathlib import Path

from tools.pipeline.execution import BACKENDS, EAGER_ENV, RunInterrupted, keras_backend
from tools.pipeline.parameters import (
    NOTEBOOKS_DIR,
    ON_ERROR_CHOICES,
    PAPERS,
    PHANTOMS,
    PROFILES,
    PROFILES_DIR,
    PipelineError,
    check_parameters,
    find_notebook,
    merge_parameters,
    parse_overrides,
    read_profile,
    read_yaml_mapping,
    set_on_error,
)
from tools.pipeline.runner import NotebookFailed, resume_hint, run_paper

# Exit statuses: a notebook failed, bad input, and 128 + the signal that stopped the run.
FAILED, BAD_INPUT = 1, 2


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m tools.pipeline",
        description="Run a paper's notebook with papermill under a parameter profile.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="run one paper's notebook, or all of them")
    run.add_argument("paper", choices=[*PAPERS, "all"])
    run.add_argument("--profile", choices=PROFILES, default="smoke")
    run.add_argument("--data", help=f"data root, or '{PHANTOMS}' for the embedded phantoms")
    run.add_argument("--params-file", help="YAML file of parameters overriding the profile")
    run.add_argument("-p", "--param", action="append", default=[], metavar="KEY=VALUE",
                     help="one notebook parameter, the value parsed as YAML (2e-4 is a float); "
                          "repeatable")
    run.add_argument("--on-error", choices=ON_ERROR_CHOICES,
                     help="what the notebook's loaders do with an unreadable image "
                          "(sets its on_error parameter)")
    run.add_argument("--backend", choices=BACKENDS,
                     help="Keras backend of the notebook's kernel (default: $KERAS_BACKEND, "
                          "else tensorflow); run.json records it")
    run.add_argument("--eager", action="store_true",
                     help="run compiled functions eagerly (TensorFlow, JAX): on TensorFlow "
                          "faster for the tiny smoke profile, where tracing costs more than it "
                          "saves (on JAX slower: the PneumoniaMNIST smoke took 209 s eager, 86 s "
                          "jitted); run.json records it")
    run.add_argument("--out", default="results", help="results root (default: results)")
    run.add_argument("--refresh", action="store_true",
                     help="re-execute on top of the last good results (same parameters), "
                          "reusing their checkpoints and finished runs")
    run.add_argument("--notebooks-dir", default=str(NOTEBOOKS_DIR), help=argparse.SUPPRESS)
    run.add_argument("--profiles-dir", default=str(PROFILES_DIR), help=argparse.SUPPRESS)
    commands.add_parser("list", help="list the papers and their notebooks")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point; returns the exit status (0 ok, 1 a notebook failed, 2 bad
    input, 128 + signal number when SIGTERM or SIGINT stopped the run)."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    if args.command == "list":
        for paper in PAPERS:
            notebook = find_notebook(paper)
            print(f"{paper:12s} {notebook.name if notebook else '(no notebook yet)'}")
        return 0
    if args.backend is not None:
        os.environ["KERAS_BACKEND"] = args.backend
    os.environ[EAGER_ENV] = "1" if args.eager else "0"
    try:
        keras_backend()
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return BAD_INPUT
    if args.paper != "all":
        return _run_one(args.paper, args)
    statuses = {}
    for paper in PAPERS:
        if find_notebook(paper, args.notebooks_dir) is None:
            print(f"note: skipping {paper}: its notebook does not exist yet")
            continue
        statuses[paper] = _run_one(paper, args)
        if statuses[paper] > 128:  # stopped by a signal: do not start the next paper
            return statuses[paper]
    failed = [paper for paper, status in statuses.items() if status]
    if failed:
        print(f"{len(failed)} of {len(statuses)} notebooks failed: {', '.join(failed)}",
              file=sys.stderr)
    return FAILED if failed else 0


def _run_one(paper: str, args: argparse.Namespace) -> int:
    """Run one paper from parsed arguments; return its exit status."""
    try:
        notebook = find_notebook(paper, args.notebooks_dir)
        if notebook is None:
            raise PipelineError(f"no notebook for {paper!r} in {args.notebooks_dir}")
        where, profile = read_profile(paper, args.profile, args.profiles_dir)
        check_parameters(notebook, profile, {}, source=where)
        if args.params_file:
            check_parameters(notebook, read_yaml_mapping(Path(args.params_file)), profile,
                             source=f"--params-file {args.params_file}")
        overrides = parse_overrides(args.param)
        check_parameters(notebook, overrides, profile)
        parameters = merge_parameters(profile, args.params_file, overrides, args.data)
        if args.on_error is not None:
            set_on_error(notebook, parameters, args.on_error)
        results = run_paper(
            paper, args.profile, parameters, args.out, args.notebooks_dir, refresh=args.refresh
        )
    except PipelineError as error:
        print(f"error: {error}", file=sys.stderr)
        return BAD_INPUT
    except NotebookFailed as error:
        print(f"FAILED: {error}", file=sys.stderr)
        return FAILED
    except (RunInterrupted, KeyboardInterrupt) as error:
        signum = getattr(error, "signum", signal.SIGINT)
        print(f"STOPPED by {signal.Signals(signum).name}: {resume_hint(paper, args.profile)}",
              file=sys.stderr)
        return 128 + signum
    print(f"{paper}: results in {results}")
    return 0
