"""What the notebooks show, written once: figures saved *and* displayed, the GAN's training read
back from the files its run wrote, models as summaries, the package's own source, and the claims
and caveats of a paper. Details: docs/modules.md.
"""

from __future__ import annotations

import inspect
import os
import re
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from IPython.display import Image, Markdown, display

from cxr_keras.gan.checkpoint import UnreadableCheckpointWarning
from cxr_keras.io import save_figure, write_csv
from cxr_keras.metrics.features import BadFeatureCacheWarning
from cxr_keras.metrics.frechet import RankDeficientCovarianceWarning
from cxr_keras.metrics.generative import WholeSetSubsetWarning
from cxr_keras.metrics.plots import plot_gan_history, plot_sample_progression
from cxr_keras.paths import display_path
from cxr_keras.reproductions.verdicts import caveat_lines, claim_lines

FIGURES_DIR = "figures"  # each run's figures: <out_dir>/figures/<name>.png
KIT_WARNINGS = (RankDeficientCovarianceWarning, WholeSetSubsetWarning, BadFeatureCacheWarning,
                UnreadableCheckpointWarning)


def show_kit_warnings_once() -> None:
    """From now on show each of the kit's own warnings (``KIT_WARNINGS``) once, however often a
    loop raises it (the FID log warns for every GAN), and every warning with the file that
    raised it relative to the working directory.

    Python's ``"once"`` filter is not enough: the registry it keeps is cleared whenever the
    filters change, as every ``warnings.catch_warnings()`` block changes them.
    """
    shown, show = set(), warnings.showwarning

    def show_kit_warning_once(message, category, filename, lineno, file=None, line=None):
        if issubclass(category, KIT_WARNINGS):
            if (category, str(message)) in shown:
                return
            shown.add((category, str(message)))
        show(message, category, display_path(filename), lineno, file, line)

    warnings.showwarning = show_kit_warning_once


def show_figure(name: str, figure, out_dir: str | os.PathLike) -> None:
    """Save ``figure`` atomically as ``out_dir/figures/<name>.png``, display that PNG inline
    and close the figure (so pyplot does not show it a second time). Returns None, so a cell
    ending in this call shows the image only."""
    if not re.fullmatch(r"[\w.-]+", str(name)):
        raise ValueError(f"figure name {name!r} must be a file name (letters, digits, _ . -)")
    path = save_figure(Path(out_dir) / FIGURES_DIR / f"{name}.png", figure)
    import matplotlib.pyplot as plt  # here: pyplot picks its backend when first imported

    plt.close(figure)
    display(Image(filename=str(path)))


def show_gan_training(run_dir: str | os.PathLike, name: str, out_dir: str | os.PathLike,
                      title: str | None = None, max_snapshots: int = 6) -> pd.DataFrame:
    """Show a GAN run's whole training from the files it wrote, so a resumed or refreshed run
    still shows every epoch: the curves of ``run_dir/history.csv`` and the sample grids
    ``run_dir/samples/epoch-*.png`` (at most ``max_snapshots``, first and last kept).

    Saves ``out_dir/figures/<name>_history.png`` and ``<name>_samples.png``; returns the
    history.
    """
    run_dir = Path(run_dir)
    history_path = run_dir / "history.csv"
    if not history_path.is_file():
        raise FileNotFoundError(f"{history_path} does not exist; train the GAN with train_gan(out_dir={run_dir})")
    history = pd.read_csv(history_path)
    figure = plot_gan_history(history)
    if title:
        figure.suptitle(title)
    show_figure(f"{name}_history", figure, out_dir)
    snapshots = sorted((run_dir / "samples").glob("epoch-*.png"))
    if snapshots:
        show_figure(f"{name}_samples", plot_sample_progression(_spread(snapshots, max_snapshots)), out_dir)
    return history


def show_model(model) -> None:
    """Print ``model.summary()``: each layer's type, output shape and parameters, once."""
    model.summary(print_fn=print)


def show_source(obj) -> str:
    """Display the source of a package function, class or method as a Python code block: what
    the notebook shows is what runs. Returns the source."""
    source = inspect.getsource(obj)
    where = f"{inspect.getmodule(obj).__name__}.{obj.__qualname__}"
    display(Markdown(f"`{where}`\n\n```python\n{source}```"))
    return source


def report_claims(claims: pd.DataFrame, out_dir: str | os.PathLike) -> None:
    """Write ``out_dir/claims.csv`` and print one sentence per claim
    (:func:`~cxr_keras.reproductions.verdicts.claim_lines`)."""
    write_csv(Path(out_dir) / "claims.csv", claims)
    print("\n".join(claim_lines(claims)))




def show_gan_health(table: pd.DataFrame) -> pd.DataFrame:
    """The health of each GAN at a glance, in at most 8 columns (the full table is
    ``gan_health.csv``): verdict; the judge's class agreement ratio; the probe's AUC against
    real images beside real vs real; the largest near-twin share and the smallest diversity
    ratio over the feature spaces; the reason."""
    def over_spaces(suffix, how):
        columns = [c for c in table.columns if c.endswith(suffix)]
        return getattr(table[columns], how)(axis=1) if columns else np.nan

    summary = pd.DataFrame({
        "gan": table["gan"], "verdict": table["verdict"],
        "class agreement": table.get("agreement_ratio", np.nan),
        "probe AUC": table.get("probe_auc", np.nan), "probe AUC real": table.get("probe_auc_floor", np.nan),
        "near-twins": over_spaces("_near_duplicates", "max"),
        "diversity": over_spaces("_diversity", "min"), "reason": table["reason"],
    })
    return summary.round(3)


def report_caveats(caveats: pd.DataFrame, out_dir: str | os.PathLike) -> None:
    """Write ``out_dir/caveats.csv`` and print one sentence per factor
    (:func:`~cxr_keras.reproductions.verdicts.caveat_lines`)."""
    write_csv(Path(out_dir) / "caveats.csv", caveats)
    print("\n".join(caveat_lines(caveats)))


def _spread(paths: list[Path], count: int) -> list[Path]:
    if len(paths) <= count:
        return paths
    step = (len(paths) - 1) / (count - 1)
    return [paths[round(i * step)] for i in range(count)]


show_kit_warnings_once()
