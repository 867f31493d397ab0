"""Run All with each notebook's own defaults (phantoms, laptop scale) and print what it took.

    .venv/bin/python benchmarks/notebook_defaults.py [--notebooks 01 04] [--out /tmp/defaults]

Each notebook runs under papermill with only ``out_dir`` changed, as a student's Run All would,
with the runner's plain progress lines. Prints, per notebook, the wall time, the GAN verdicts of
its ``gan_health.csv`` and the verdict counts of its ``claims.csv``.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
import papermill

from cxr_keras.paths import REPO_ROOT
from cxr_keras.progress import PLAIN_PROGRESS_ENV

NOTEBOOKS = sorted((REPO_ROOT / "notebooks").glob("0*.ipynb"))


def summary(out_dir: Path) -> str:
    """The GAN verdicts and the claims' verdict counts a run wrote, as one line."""
    parts = []
    health = out_dir / "gan_health.csv"
    if health.is_file():
        table = pd.read_csv(health)
        parts.append("GANs: " + ", ".join(f"{g} {v}" for g, v in zip(table["gan"], table["verdict"])))
    claims = out_dir / "claims.csv"
    if claims.is_file():
        verdicts = pd.read_csv(claims)["verdict"].str.split(":").str[0].value_counts()
        parts.append("claims: " + ", ".join(f"{n} {v}" for v, n in verdicts.items()))
    return "; ".join(parts) or "no gan_health.csv or claims.csv"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--notebooks", nargs="*", default=[],
                        help="notebook number prefixes (default: all)")
    parser.add_argument("--out", default=None, help="folder for the runs (default: a temp folder)")
    args = parser.parse_args(argv)
    chosen = [nb for nb in NOTEBOOKS if not args.notebooks
              or any(nb.name.startswith(prefix) for prefix in args.notebooks)]
    root = Path(args.out or tempfile.mkdtemp(prefix="notebook-defaults-"))
    os.environ[PLAIN_PROGRESS_ENV] = "1"
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    for notebook in chosen:
        out_dir = root / notebook.stem
        out_dir.mkdir(parents=True, exist_ok=True)
        start = time.monotonic()
        try:
            papermill.execute_notebook(str(notebook), str(out_dir / notebook.name), cwd=str(REPO_ROOT),
                                       parameters={"out_dir": str(out_dir)}, progress_bar=False)
            outcome = summary(out_dir)
        except papermill.PapermillExecutionError as error:
            outcome = f"FAILED: {error.ename}: {error.evalue}"
        print(f"{notebook.stem}: {time.monotonic() - start:.0f} s; {outcome}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
