"""One page with the kit's answers: ``results/index.html`` and ``results/README.md``.

Built from the committed runs, ``results/<paper>/<profile>/``: ``claims.csv`` (claim, kit,
held and optionally verdict), ``caveats.csv`` (a caveats frame's numbers, or factor and note),
``run.json`` (parameters, wall time, device), ``summary.json`` (lines), the figures under
``figures/`` and the executed notebook, rendered to HTML beside itself with nbconvert. A missing piece is said to be
missing; a paper without runs says so.

``python -m tools.report [--results results]``
"""

from __future__ import annotations

import argparse
import html
import json
import os
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from cxr_keras.io import write_text
from cxr_keras.reproductions.verdicts import (
    CAVEAT_COLUMNS,
    CLAIM_COLUMNS,
    caveat_lines,
    measured_text,
)

PAPERS = {
    "kermany": "Kora Venu & Ravula 2021: DCGAN augmentation on Kermany pneumonia",
    "salehinejad": "Salehinejad et al. 2018: DCGAN class balancing, 5-class DCNN",
    "ng-gubbi": "Ng & Gubbi: conditional GAN with label-embedding channels on NIH ChestX-ray14",
    "davoodi": "Davoodi & Lo Giudice: per-class DCGANs on a 4-class COVID set",
    "pneumoniamnist": "External baseline: PneumoniaMNIST the MedMNIST v2 way",
}
INTRODUCTION = (
    "Built by `make report` from the committed runs under `results/`. A claim <em>held</em> "
    "when the run supports it, <em>did not hold</em> when it contradicts it, and is "
    "<em>inconclusive</em> when the run cannot resolve it (e.g. the 95% intervals overlap)."
)
PROFILE_ORDER = ("paper", "cpu")
# Left out, as git leaves them out: make demo's folder and smoke runs (not committed runs).
NOT_COMMITTED = ("demo", "smoke")
VERDICTS = ("held", "did not hold", "inconclusive")
# Figures shown per run: these names first where a run has them, then others up to MAX_FIGURES.
HEADLINE_FIGURES = (
    "real_vs_generated", "real_vs_synthetic", "acc_auc_vs_medmnist", "same_noise_grid",
    "validation_accuracy", "roc_gan", "fid_during_training", "training",
)
MAX_FIGURES = 3
NUMBERS = set(CLAIM_COLUMNS) - {"held", "generator"}  # what a claims table of numbers needs here


def verdict(row: pd.Series) -> str:
    """held / did not hold / inconclusive: the ``verdict`` column when present, else from
    ``held``, with a False claim whose text says the run does not resolve it (intervals
    overlap) counted as inconclusive."""
    given = row.get("verdict")
    if isinstance(given, str) and given.partition(":")[0] in VERDICTS:
        return given.partition(":")[0]  # "inconclusive: the generator was ..." counts as inconclusive
    held = str(row.get("held", "")).strip().lower()
    text = str(row.get("kit", "")).lower()
    if held == "true":
        return "held"
    if "does not resolve" in text or "intervals overlap" in text or "inconclusive" in text:
        return "inconclusive"
    return "did not hold" if held == "false" else "inconclusive"


def _read_csv(path: Path) -> pd.DataFrame | None:
    try:
        return pd.read_csv(path) if path.is_file() else None
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError):
        return None


def caveat_notes(caveats: pd.DataFrame | None) -> list[tuple[str, str]]:
    """(factor, note) pairs of a ``caveats.csv``: a caveats frame's numbers (the notebooks'
    format) put into words as the notebooks print them, or a factor / note table as it is;
    none for a missing or unrecognised table."""
    if caveats is None:
        return []
    if set(CAVEAT_COLUMNS) <= set(caveats.columns):
        frame = caveats.assign(group=caveats["group"].fillna("").astype(str))
        return [tuple(line.removeprefix("- ").split(": ", 1)) for line in caveat_lines(frame)]
    if {"factor", "note"} <= set(caveats.columns):
        return [(str(row.factor), str(row.note)) for row in caveats.itertuples()]
    return []


def _read_json(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text()) if path.is_file() else None
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None


def render_notebook(notebook: Path) -> Path | None:
    """The notebook as HTML beside it (rebuilt when older than the notebook); None on failure."""
    target = notebook.with_suffix(".html")
    if target.is_file() and target.stat().st_mtime >= notebook.stat().st_mtime:
        return target
    try:
        import nbformat
        from nbconvert import HTMLExporter

        body, _ = HTMLExporter().from_notebook_node(nbformat.read(notebook, as_version=4))
    except (OSError, ValueError, KeyError, ImportError):  # reported as not rendered
        return None
    return write_text(target, body)


def collect_run(run_dir: Path, results: Path) -> dict:
    """Everything the page shows about one ``results/<paper>/<profile>/`` folder."""
    claims = _read_csv(run_dir / "claims.csv")
    if claims is not None and "kit" not in claims.columns and NUMBERS <= set(claims.columns):
        claims = claims.assign(kit=claims.apply(measured_text, axis=1))  # a claims_frame's numbers
    if claims is not None and {"claim", "kit"} <= set(claims.columns):
        claims = claims.assign(verdict=claims.apply(verdict, axis=1))
    else:
        claims = None
    notebooks = sorted(run_dir.glob("*.ipynb"))
    rendered = [render_notebook(nb) for nb in notebooks]
    rank = {name: i for i, name in enumerate(HEADLINE_FIGURES)}
    figures = sorted((run_dir / "figures").glob("*.png"),
                     key=lambda f: (rank.get(f.stem, len(rank)), f.name))
    return {
        "profile": run_dir.name,
        "path": run_dir.relative_to(results).as_posix(),
        "run": _read_json(run_dir / "run.json"),
        "claims": claims,
        "caveats": caveat_notes(_read_csv(run_dir / "caveats.csv")),
        "summary": (_read_json(run_dir / "summary.json") or {}).get("lines", []),
        "figures": [f.relative_to(results).as_posix() for f in figures[:MAX_FIGURES]],
        "readme": (run_dir / "README.md").relative_to(results).as_posix()
        if (run_dir / "README.md").is_file() else None,
        "notebooks": [
            (nb.relative_to(results).as_posix(), None if html_path is None else html_path.relative_to(results).as_posix())
            for nb, html_path in zip(notebooks, rendered)
        ],
    }


def collect(results: str | os.PathLike) -> dict[str, list[dict]]:
    """Paper -> its runs (paper profile first, then cpu, then others), known papers first;
    ``NOT_COMMITTED`` folders and failed or partial runs are left out."""
    results = Path(results)
    if not results.is_dir():
        raise FileNotFoundError(f"{results}: no results folder; run a notebook first (make demo)")
    papers = list(PAPERS) + sorted(
        p.name for p in results.iterdir()
        if p.is_dir() and p.name not in (*PAPERS, *NOT_COMMITTED) and not p.name.startswith(".")
    )
    order = {name: i for i, name in enumerate(PROFILE_ORDER)}
    runs = {}
    for paper in papers:
        folders = [
            d for d in (results / paper).glob("*")
            if d.is_dir() and not d.name.startswith(".") and not d.name.endswith(".failed")
            and d.name not in NOT_COMMITTED
            and (any(d.glob("*.ipynb")) or (d / "run.json").is_file() or any(d.glob("*.csv")))
        ] if (results / paper).is_dir() else []
        runs[paper] = [collect_run(d, results) for d in sorted(folders, key=lambda d: (order.get(d.name, 9), d.name))]
    return runs


def _scale(run: dict | None) -> str:
    if not run:
        return "no run.json (scale and wall time unknown)"
    parameters = run.get("parameters", {})
    device = run.get("device", {})
    where = ", ".join(device.get("gpus") or []) or f"{device.get('cpu_count', '?')} CPU cores"
    wall = run.get("wall_seconds_total", run.get("wall_seconds"))
    shown = ", ".join(f"{k}={v}" for k, v in parameters.items() if k != "out_dir")
    wall_text = f"{wall:,.0f} s" if isinstance(wall, (int, float)) else "unknown"
    return f"wall time {wall_text} on {where}; finished {run.get('finished_utc', '?')}; parameters: {shown}"


def _counts(claims: pd.DataFrame | None) -> str:
    if claims is None:
        return "no claims table"
    counts = claims["verdict"].value_counts()
    return ", ".join(f"{counts.get(v, 0)} {v}" for v in VERDICTS)


def overview(runs: dict[str, list[dict]]) -> list[tuple[str, str]]:
    """(paper title, its runs with their verdict counts, or "no runs yet") per paper."""
    return [
        (PAPERS.get(paper, paper),
         "; ".join(f"{run['profile']}: {_counts(run['claims'])}" for run in paper_runs) or "no runs yet")
        for paper, paper_runs in runs.items()
    ]


def build_markdown(runs: dict[str, list[dict]]) -> str:
    """The page as Markdown (links relative to the results folder)."""
    lines = ["# What the kit concluded", "", INTRODUCTION.replace("<em>", "*").replace("</em>", "*"), "",
             "| paper | runs |", "|---|---|"]
    lines += [f"| {_cell(title)} | {_cell(text)} |" for title, text in overview(runs)] + [""]
    for paper, paper_runs in runs.items():
        lines += [f"## {PAPERS.get(paper, paper)}", ""]
        if not paper_runs:
            lines += ["No runs committed yet.", ""]
            continue
        for run in paper_runs:
            lines += [f"### `{run['path']}/` ({_counts(run['claims'])})", "", _scale(run["run"]), ""]
            for path, rendered in run["notebooks"]:
                lines.append(f"- notebook: [{path}]({rendered or path})" + ("" if rendered else " (not rendered)"))
            if run["readme"]:
                lines.append(f"- notes: [{run['readme']}]({run['readme']})")
            lines.append("")
            if run["claims"] is not None:
                lines += ["| claim | verdict | kit |", "|---|---|---|"]
                lines += [f"| {_cell(c.claim)} | **{c.verdict}** | {_cell(c.kit)} |" for c in run["claims"].itertuples()]
                lines.append("")
            lines += [f"- {line}" for line in run["summary"]]
            if run["caveats"]:
                lines += ["", "Why the numbers may differ:", ""]
                lines += [f"- {factor}: {note}" for factor, note in run["caveats"]]
            lines += [""] + [f"![{Path(f).stem}]({f})" for f in run["figures"]] + [""]
    return "\n".join(lines).rstrip() + "\n"


def _cell(text) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def build_html(runs: dict[str, list[dict]]) -> str:
    """The same content as :func:`build_markdown`, as one self-contained HTML page."""
    e = html.escape
    parts = ["<table><tr><th>paper</th><th>runs</th></tr>"]
    parts += [f"<tr><td>{e(title)}</td><td>{e(text)}</td></tr>" for title, text in overview(runs)]
    parts.append("</table>")
    for paper, paper_runs in runs.items():
        parts.append(f"<section><h2>{e(PAPERS.get(paper, paper))}</h2>")
        if not paper_runs:
            parts.append('<p class="missing">No runs committed yet.</p></section>')
            continue
        for run in paper_runs:
            parts.append(f"<h3><code>{e(run['path'])}/</code> <small>{e(_counts(run['claims']))}</small></h3>")
            parts.append(f'<p class="scale">{e(_scale(run["run"]))}</p><ul>')
            for path, rendered in run["notebooks"]:
                note = "" if rendered else " (not rendered)"
                parts.append(f'<li>notebook: <a href="{e(rendered or path)}">{e(path)}</a>{note}</li>')
            if run["readme"]:
                parts.append(f'<li>notes: <a href="{e(run["readme"])}">{e(run["readme"])}</a></li>')
            parts.append("</ul>")
            if run["claims"] is not None:
                parts.append("<table><tr><th>claim</th><th>verdict</th><th>kit</th></tr>")
                for c in run["claims"].itertuples():
                    css = c.verdict.replace(" ", "-")
                    parts.append(f'<tr><td>{e(str(c.claim))}</td><td class="{css}">{e(c.verdict)}</td>'
                                 f"<td>{e(str(c.kit))}</td></tr>")
                parts.append("</table>")
            if run["summary"]:
                parts.append("<ul>" + "".join(f"<li>{e(str(line))}</li>" for line in run["summary"]) + "</ul>")
            if run["caveats"]:
                parts.append("<p>Why the numbers may differ:</p><ul>" + "".join(
                    f"<li><b>{e(factor)}</b>: {e(note)}</li>" for factor, note in run["caveats"]) + "</ul>")
            parts.append('<div class="figures">' + "".join(
                f'<img src="{e(f)}" alt="{e(Path(f).stem)}">' for f in run["figures"]) + "</div>")
        parts.append("</section>")
    introduction = INTRODUCTION.replace("`make report`", "<code>make report</code>").replace(
        "`results/`", "<code>results/</code>")
    return _PAGE.format(introduction=introduction, body="\n".join(parts))


_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>cxr-keras: what the kit concluded</title>
<style>
body {{ font-family: sans-serif; max-width: 1100px; margin: 2em auto; padding: 0 1em; color: #222; }}
h2 {{ border-bottom: 2px solid #446; padding-bottom: .2em; margin-top: 2em; }}
h3 small {{ font-weight: normal; color: #555; }}
table {{ border-collapse: collapse; width: 100%; margin: .5em 0; }}
th, td {{ border: 1px solid #ccc; padding: .3em .5em; text-align: left; vertical-align: top; font-size: 14px; }}
th {{ background: #eef; }}
td.held {{ background: #d8f0d8; font-weight: bold; }}
td.did-not-hold {{ background: #f6d6d6; font-weight: bold; }}
td.inconclusive {{ background: #f4ecc8; font-weight: bold; }}
.scale {{ color: #444; font-size: 13px; }}
.missing {{ color: #a00; }}
.figures {{ display: flex; flex-wrap: wrap; gap: .5em; align-items: flex-start; }}
.figures img {{ max-height: 300px; max-width: 100%; border: 1px solid #ddd; }}
</style></head><body>
<h1>What the kit concluded</h1>
<p>{introduction}</p>
{body}
</body></html>
"""


def build_report(results: str | os.PathLike = "results") -> tuple[Path, Path]:
    """Write ``index.html`` and ``README.md`` into ``results``; return their paths."""
    runs = collect(results)
    results = Path(results)
    return (write_text(results / "index.html", build_html(runs)),
            write_text(results / "README.md", build_markdown(runs)))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Build results/index.html and results/README.md")
    parser.add_argument("--results", default="results", help="the results folder (default: results)")
    args = parser.parse_args(argv)
    for path in build_report(args.results):
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
