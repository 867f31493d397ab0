"""The health verdict of one GAN from its metrics and its training history.

Verdicts, checked in this order (the first failed check names the verdict; ``reason`` lists
every failed check):

``diverged``
    The history holds a NaN or an infinite value, or a loss above :data:`DIVERGED_LOSS` over
    the last :data:`HISTORY_WINDOW` epochs, or the generated images are not finite. A mean
    binary cross-entropy of 100 needs logits beyond 100 in size, where float32's sigmoid is
    exactly 0 or 1 (exp(-88) is already below float32's normal range): no gradient is left.
``mode-collapsed``
    The diversity ratio (mean pairwise feature distance among generated images over the same
    among held-out real ones) is below :data:`COLLAPSE_DIVERSITY` in any feature space, or
    more than half of the samples have a near-twin (below). A GAN that does no better than the
    collapsed reference (one training image repeated with faint noise, measured the same way)
    in every feature space, where doing better in a space means a lower KID or a higher
    coverage than that reference's, fails too: as ``mode-collapsed`` when its diversity is also
    low, else as ``unfaithful`` (varied samples, but further from real images than one real
    image repeated: the committed Davoodi cpu run's saturated blotches).

    How the thresholds were chosen, from ``benchmarks/gan_health_references.py`` on the
    Kermany sample (NORMAL, 64 px, 308 of the 670 training images or 308 noisy copies of one
    against the 234 test images; the chest X-ray space is the kit's Davoodi CNN trained 3
    epochs on the sample's train split): diversity ratio of the real floor 0.98 / 0.93 / 0.85
    (Inception 2048 / Inception 768 / CXR), of the collapsed reference 0.41 / 0.31 / 0.04 (faint
    noise alone spreads Inception features); issue 11's plausible Davoodi-recipe GAN: 0.90.
    0.6 lies above every collapsed value and below every real and plausible one, near the
    midpoint of the closest pair (0.41 and 0.85). KID alone cannot decide: that plausible
    GAN scored KID(2048) 0.34, worse than one repeated image (0.20 here, 0.245 in the issue),
    since Inception statistics of 64 px images punish GAN texture; and in the classifier's
    space the real floor's KID (1.54) is *above* the collapsed reference's (0.81), its
    training images having been seen by the classifier. Coverage separates floor from
    collapsed in every space (0.86 / 0.72 / 0.48 against 0.02 / 0.01 / 0.06), hence "lower
    KID or higher coverage, in at least one space".
    The first rule also fails a GAN whose samples are *partly* collapsed: in pixel space or any
    feature space, more than :data:`NEAR_DUPLICATE_SHARE` of its samples have a near-twin
    among the others (nearer, relative to the set's spread, than all but the closest 5% of
    held-out real images are to each other: :func:`cxr_keras.metrics.fidelity.near_duplicate_fraction`).
    On the Kermany sample (``benchmarks/gan_fidelity_cases.py``: 154 images offered as Normal
    samples against the 234 test Normal ones, 64 px) real training images score 0.00 (pixels)
    / 0.00 (CXR space), 20 images repeated 1.00 / 1.00, blurred 0.21 / 0.00, phantoms 0.16 /
    0.03, the wrong class 0.07 / 0.01.
    In the "no better than one repeated image" rule a metric counts in a space only where the
    real floor itself beats the collapsed reference on it: a measurement that ranks a collapsed
    set above real images (the old CXR space's KID did, 0.09 against 0.44) cannot tell either.
``memorizing``
    In any feature space, the median distance from a generated image to its nearest training
    image is below :data:`MEMORIZATION_RATIO` times the median distance from a held-out real
    image to its nearest training image (:func:`cxr_keras.metrics.memorization_summary`'s
    ``median_ratio``). Held-out real images score 1 by construction and exact copies 0; 0.5
    means the typical sample sits twice as close to the training set as new real images do.
``wrong-class``
    A judge (a classifier trained on real images of every class) assigns the samples to their
    intended class at less than :data:`CLASS_AGREEMENT_RATIO` times the rate at which it
    assigns held-out real images of that class to it
    (:func:`cxr_keras.metrics.fidelity.class_agreement`). Kermany sample, 64 px, the kit's
    judge (8 epochs on the 1,200 training images; balanced accuracy 0.72 [0.68, 0.75] on the
    624 test images, Normal recall 0.44): real training Normal images 2.2, real Pneumonia
    images offered as Normal 0.03, blurred Normal images 0.02, noise 0, phantoms 2.2 (the judge
    calls them Normal: the probe below catches them).
``unfaithful``
    No better than one repeated real image while as diverse as real images (above), or a
    logistic probe on simple image statistics tells the samples from the GAN's training
    images at ROC AUC :data:`UNFAITHFUL_AUC` or above, out of fold
    (:func:`cxr_keras.metrics.fidelity.two_sample_auc`), while it tells two halves of the
    training images apart at no more than 0.5 + half that margin: the samples are separable
    from real images outright. Kermany sample: real vs real 0.54, blurred (sigma 2 px at 64 px)
    1.00, phantoms 1.00, noise 1.00, Pneumonia 0.99, 20 images repeated 0.94; the committed
    cpu kit-recipe GAN's 32 saved samples 0.98 [0.96, 1.00], the paper recipe's
    (mode-collapsed) 1.00. The threshold catches sets no real
    image resembles; a typical 64 px DCGAN sits just below it, so read the AUC itself too.
``discriminator-wins``
    Over the last :data:`HISTORY_WINDOW` epochs the mean D(G(z)) that the generator's own loss
    is computed on (``d_g_z2``, else ``d_g_z1``) is below :data:`D_WINS_FAKE_SCORE` and the
    mean G loss is above :data:`D_WINS_G_LOSS` = -ln(0.1), the loss of a generator whose
    every sample D scores 0.1. Davoodi at paper scale: D(G(z)) near 0.05, G loss 5 to 15.
``no-utility``
    Set afterwards by :func:`with_utility`: a classifier trained on the samples (train on
    synthetic, test on real) scores no better than chance (its interval reaches chance) and
    below halfway from chance to the same classifier trained on as many real images.
``healthy``
    None of the above.
"""

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
        "history_epochs": 0,
        "history_nonfinite": 0,
        "max_recent_loss": float("nan"),
        "recent_d_g_z": float("nan"),
        "recent_g_loss": float("nan"),
        "g_loss_trend": float("nan"),
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
        "history_epochs": len(history),
        "history_nonfinite": int((~np.isfinite(numeric)).sum()),
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
    """(verdict, reason) for one row of :func:`cxr_keras.metrics.gan_health`.

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
