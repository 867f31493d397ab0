"""Reproductions of Salehinejad et al., Ng & Gubbi and Davoodi & Lo Giudice.

One module per paper (:mod:`~cxr_keras.reproductions.salehinejad`,
:mod:`~cxr_keras.reproductions.ng_gubbi`, :mod:`~cxr_keras.reproductions.davoodi`) holds the
paper's table as a constant, the protocol's steps as small functions, a ``claims``
function that checks the paper's statements against the kit's numbers and a ``caveats``
function that measures, on the run itself, why its numbers may differ from the paper's. The per-class GAN
both Salehinejad and Davoodi use is in :mod:`~cxr_keras.reproductions.per_class_gan`.
The notebooks ``02``-``04`` call these; importing this package loads no TensorFlow.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd


def train_or_load_classifier(
    run_dir: str | os.PathLike,
    model_fn: Callable,
    train: tuple[np.ndarray, np.ndarray],
    val: tuple[np.ndarray, np.ndarray] | None,
    x_test: np.ndarray,
    **train_kwargs,
) -> tuple[np.ndarray, pd.DataFrame]:
    """Train with :func:`cxr_keras.experiments.train_classifier` and predict ``x_test``, or read
    both back from ``run_dir`` when an earlier run finished there.

    Training shows a progress bar named after ``run_dir`` unless ``progress`` says otherwise.
    Returns (test probabilities (n, C), history). ``run_dir`` gets ``history.csv`` and
    ``probabilities.npy``, the latter written last so its presence marks a finished run.
    """
    from cxr_keras.experiments import train_classifier
    from cxr_keras.io import atomic_path, write_csv

    run_dir = Path(run_dir)
    done = run_dir / "probabilities.npy"
    if done.is_file():
        return np.load(done), pd.read_csv(run_dir / "history.csv")
    train_kwargs.setdefault("progress", f"classifier {run_dir.parent.name}/{run_dir.name}")
    model, history = train_classifier(model_fn, train, val, **train_kwargs)
    probabilities = model.predict(x_test, batch_size=256, verbose=0)
    write_csv(run_dir / "history.csv", history)
    with atomic_path(done) as tmp, open(tmp, "wb") as handle:
        np.save(handle, probabilities)
    return probabilities, history


def by_class_text(values, fmt: Callable = str) -> str:
    """``"A 1, B 2"`` from per-class values (a Series or mapping), each formatted by ``fmt``."""
    return ", ".join(f"{name} {fmt(value)}" for name, value in dict(values).items())


def exceeds(a: Sequence[float], b: Sequence[float]) -> tuple[bool, str]:
    """Whether estimate ``a`` is shown to exceed ``b``: each is (value, ci_low, ci_high).

    True only when ``a``'s interval lies wholly above ``b``'s; a higher point estimate inside
    overlapping intervals is not evidence, and the returned note (else empty) says so, for
    the claim's text.
    """
    (_, a_low, a_high), (_, b_low, b_high) = a, b
    if a_low > b_high:
        return True, ""
    if b_low > a_high:
        return False, ""
    return False, "; the intervals overlap, so this run does not resolve it"
