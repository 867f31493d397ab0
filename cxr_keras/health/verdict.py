"""The health verdict of one GAN from its metrics and its training history. Details:
docs/modules.md."""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
import pandas as pd

VERDICTS = ("healthy", "mode-collapsed", "discriminator-wins", "diverged", "memorizing",
            "wrong-class", "unfaithful", "no-utility")
COLLAPSE_DIVERSITY = 0.6
NEAR_DUPLICATE_SHARE = 0.5
CLASS_AGREEMENT_RATIO = 0.5
UNFAITHFUL_AUC = 0.99
MEMORIZATION_RATIO = 0.5
D_WINS_FAKE_SCORE = 0.1
D_WINS_G_LOSS = -math.log(D_WINS_FAKE_SCORE)
DIVERGED_LOSS = 100.0
HISTORY_WINDOW = 3
LOSS_COLUMNS = ("d_loss", "g_loss")
FAKE_SCORE_COLUMNS = ("d_g_z2", "d_g_z1")  # the score G's loss is computed on comes first
CHECK_ORDER = ("diverged", "mode-collapsed", "memorizing", "wrong-class", "unfaithful",
               "discriminator-wins", "no-utility")


def training_signals(history: pd.DataFrame | None, window: int = HISTORY_WINDOW) -> dict:
    """What the verdict reads from a per-epoch GAN history (``HistoryCSV``'s columns).

    Returns ``history_epochs``, ``history_nonfinite`` (how many NaN or inf values the numeric
    columns hold),
    ``max_recent_loss`` (largest d/g loss over the last ``window`` epochs), ``recent_d_g_z``
    and ``recent_g_loss`` (their means over that window; NaN where a column is missing) and
    ``g_loss_trend`` (last minus first G loss of the window). NaN (counts 0) for no history.
    """
    if window < 1:
        raise ValueError(f"window must be a positive number of epochs, got {window}")
    empty = {
        "history_epochs": 0, "history_nonfinite": 0, "max_recent_loss": float("nan"),
        "recent_d_g_z": float("nan"), "recent_g_loss": float("nan"), "g_loss_trend": float("nan"),
    }
    if history is None or len(history) == 0:
        return empty
    if not isinstance(history, pd.DataFrame) or "g_loss" not in history.columns:
        raise ValueError(
            "history must be a DataFrame of per-epoch GAN metrics with a 'g_loss' column "
            "(the history.csv that HistoryCSV writes)"
        )
    numeric = history.select_dtypes("number").to_numpy(dtype=np.float64)
    recent = history.tail(window)
    losses = recent[[c for c in LOSS_COLUMNS if c in recent.columns]].to_numpy(np.float64)
    score_column = next((c for c in FAKE_SCORE_COLUMNS if c in recent.columns), None)
    return {
        "history_epochs": len(history), "history_nonfinite": int((~np.isfinite(numeric)).sum()),
        "max_recent_loss": float(np.max(losses)),
        "recent_d_g_z": float(recent[score_column].mean()) if score_column else float("nan"),
        "recent_g_loss": float(recent["g_loss"].mean()),
        "g_loss_trend": float(recent["g_loss"].iloc[-1] - recent["g_loss"].iloc[0]),
    }


def _decides(row: Mapping, space: str, metric: str, lower_is_better: bool) -> bool:
    """Whether ``metric`` may decide in ``space``: it is measured, and the real floor beats the
    collapsed reference on it (or no floor was measured)."""
    floor, collapsed = row.get(f"{space}_{metric}_floor", np.nan), row.get(f"{space}_{metric}_collapsed", np.nan)
    if not np.isfinite(row.get(f"{space}_{metric}", np.nan)) or not np.isfinite(collapsed):
        return False
    return not np.isfinite(floor) or (floor < collapsed if lower_is_better else floor > collapsed)


def _beats_collapsed(row: Mapping, space: str) -> bool:
    """A lower KID or a higher coverage than the collapsed reference's in ``space``, counting
    only a metric on which the real floor itself beats that reference."""
    return bool(
        (_decides(row, space, "kid", True) and row[f"{space}_kid"] < row[f"{space}_kid_collapsed"])
        or (_decides(row, space, "coverage", False)
            and row[f"{space}_coverage"] > row[f"{space}_coverage_collapsed"])
    )


def gan_verdict(row: Mapping, spaces) -> tuple[str, str]:
    """(verdict, reason) for one row of :func:`cxr_keras.health.gan_health`.

    ``row`` holds :func:`training_signals`' keys, ``samples_finite`` and, per feature space
    name in ``spaces``, ``{space}_diversity``, ``{space}_kid``, ``{space}_kid_collapsed``,
    ``{space}_coverage``, ``{space}_coverage_collapsed`` and ``{space}_memorization_ratio``
    (NaN where not measured).
    """
    spaces = list(spaces)
    failures: list[tuple[str, str]] = []

    def fail(verdict: str, text: str) -> None:
        failures.append((verdict, text))

    def listed(names, column: str, fmt: str) -> str:
        return ", ".join(f"{s} {row[f'{s}_{column}']:{fmt}}" for s in names)

    if not row["samples_finite"]:
        fail("diverged", "generated images contain NaN or inf")
    if row["history_nonfinite"]:
        fail("diverged", f"the training history holds {row['history_nonfinite']} NaN or inf values")
    if row["max_recent_loss"] > DIVERGED_LOSS:
        fail("diverged", f"a loss of {row['max_recent_loss']:.3g} > {DIVERGED_LOSS:g} lately")
    low = [s for s in spaces if row.get(f"{s}_diversity", np.nan) < COLLAPSE_DIVERSITY]
    if low:
        fail(
            "mode-collapsed",
            f"diversity ratio below {COLLAPSE_DIVERSITY} ({listed(low, 'diversity', '.2f')})",
        )
    twins = [s for s in dict.fromkeys(["pixel", *spaces]) if row.get(f"{s}_near_duplicates", np.nan) > NEAR_DUPLICATE_SHARE]
    if twins:
        fail(
            "mode-collapsed",
            f"more than {NEAR_DUPLICATE_SHARE:.0%} of samples have a near-twin among the others "
            f"({listed(twins, 'near_duplicates', '.0%')})",
        )
    measured = [s for s in spaces if _decides(row, s, "kid", True) or _decides(row, s, "coverage", False)]
    if measured and not any(_beats_collapsed(row, s) for s in measured):
        fail(
            "mode-collapsed" if low else "unfaithful",
            "no better than one repeated real image in any space (KID "
            f"{listed(measured, 'kid', '.3g')} vs {listed(measured, 'kid_collapsed', '.3g')}; "
            f"coverage {listed(measured, 'coverage', '.2f')} vs "
            f"{listed(measured, 'coverage_collapsed', '.2f')})",
        )
    copying = [s for s in spaces if row.get(f"{s}_memorization_ratio", np.nan) < MEMORIZATION_RATIO]
    if copying:
        fail(
            "memorizing",
            f"median distance to the nearest training image below {MEMORIZATION_RATIO} of "
            f"held-out real images' ({listed(copying, 'memorization_ratio', '.2f')})",
        )
    if row.get("agreement_ratio", np.nan) < CLASS_AGREEMENT_RATIO:
        fail(
            "wrong-class",
            f"the judge assigns {row['agreement']:.0%} of samples to their class against "
            f"{row['agreement_real']:.0%} of held-out real ones (ratio {row['agreement_ratio']:.2f} < "
            f"{CLASS_AGREEMENT_RATIO})",
        )
    floor_ok = row.get("probe_auc_floor", np.nan) <= 0.5 + (UNFAITHFUL_AUC - 0.5) / 2
    if row.get("probe_auc", np.nan) >= UNFAITHFUL_AUC and floor_ok:
        fail(
            "unfaithful",
            f"a probe tells samples from real training images at AUC {row['probe_auc']:.3f} >= "
            f"{UNFAITHFUL_AUC} (real vs real {row['probe_auc_floor']:.2f})",
        )
    if row["recent_d_g_z"] < D_WINS_FAKE_SCORE and row["recent_g_loss"] > D_WINS_G_LOSS:
        fail(
            "discriminator-wins",
            f"D(G(z)) {row['recent_d_g_z']:.3g} < {D_WINS_FAKE_SCORE} and G loss "
            f"{row['recent_g_loss']:.3g} > {D_WINS_G_LOSS:.2f} over the last epochs",
        )
    if not failures:
        given = "" if row["history_epochs"] else " (no training history given)"
        return "healthy", "every check passed" + given
    verdict = min((v for v, _ in failures), key=CHECK_ORDER.index)
    return verdict, "; ".join(text for _, text in failures)


def at_chance(synthetic: tuple[float, float], real: float, chance: float) -> bool:
    """Whether a train-on-synthetic score (``(estimate, ci_low)``) is no better than
    ``chance``: its interval reaches chance and the estimate lies below halfway from chance to
    the same classifier trained on real images (``real``)."""
    estimate, low = synthetic
    return bool(low <= chance and estimate < chance + (real - chance) / 2)


def with_utility(health: pd.DataFrame, useless: Mapping[str, str]) -> pd.DataFrame:
    """``health`` with the GANs named in ``useless`` ({gan: reason}, e.g. from
    :func:`at_chance` on the utility table) marked ``no-utility``; a GAN already failing
    another check keeps that verdict and gains the reason."""
    health = health.copy()
    for index, row in health.iterrows():
        if row["gan"] not in useless:
            continue
        text = f"trained on alone, its samples teach a classifier nothing ({useless[row['gan']]})"
        if row["verdict"] == "healthy":
            health.loc[index, ["verdict", "reason"]] = ["no-utility", text]
        else:
            health.loc[index, "reason"] = f"{row['reason']}; {text}"
    return health
