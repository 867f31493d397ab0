"""Claims, caveats and "paper | ours [CI]" cells: numbers in frames, prose in one place. Details:
docs/modules.md."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

CLAIM_COLUMNS = ["claim", "measure", "paper", "ours", "ci_low", "ci_high",
                 "versus", "versus_low", "versus_high", "held", "generator", "verdict"]
# A paired comparison's numbers, in the units of the difference (accuracy points): A - B with
# its interval at ``confidence``, the bootstrap SD from seeds alone and from test images alone,
# the smallest difference detectable at 80% power and the paper's own difference. NaN in
# claims that are not paired comparisons (and absent from claims tables written before them).
PAIRED_COLUMNS = ["difference", "difference_low", "difference_high", "confidence", "sd_seeds",
                  "sd_test", "detectable", "paper_difference"]
HEALTHY = "healthy"  # the GAN health verdict (cxr_keras.health.verdict) a claim can rest on
CAVEAT_COLUMNS = ["factor", "quantity", "group", "ours", "ci_low", "ci_high", "paper"]
# What a caveat quantity means, said once after its name (quantities not listed need none).
QUANTITY_NOTES = {
    "covid-vs-rest AUC from a non-disease view": "image border, 8x8 blur or intensity histogram "
                      "only; chance 0.5, a 95% interval above 0.75 flags a source shortcut",
    "distance ratio": "a sample's pixel distance to its nearest real image over a real image's to "
                      "its nearest other real image; about 1: like a real image, well above 1: unlike any",
    "diversity ratio": "spread between samples over spread between real images; about 1: as "
                       "varied, near 0: mode collapse",
    "patients in train and test": "the official split the paper used has such patients too, "
                                  "which can flatter every method alike",
}
NOT_RESOLVED = "the intervals overlap, so this run does not resolve it"


def exceeds(a: Sequence[float], b: Sequence[float]) -> bool:
    """Whether estimate ``a`` is shown to exceed ``b``, each (value, ci_low, ci_high): only when
    ``a``'s interval lies wholly above ``b``'s (a higher value inside overlapping ones is not)."""
    (_, a_low, _), (_, _, b_high) = a, b
    return bool(a_low > b_high)


def claim_row(claim: str, measure: str, ours: Sequence[float] | float, held: bool | None = None,
              versus: Sequence[float] | float = np.nan, paper: float = np.nan,
              generator: str | None = None, difference: Mapping | None = None,
              paper_difference: float = np.nan) -> dict:
    """One claim: ``ours`` (and ``versus``) as a value or (value, ci_low, ci_high); without
    ``held`` it holds when ``ours`` :func:`exceeds` ``versus``, or, with a paired ``difference``,
    when its interval lies above 0. A ``generator`` health verdict other than "healthy" makes
    the claim inconclusive. Details: docs/modules.md.
    """
    ours, versus = _triple(ours), _triple(versus)
    paired = _paired(difference, paper_difference)
    if held is None:
        held = paired[1] > 0 if difference is not None else exceeds(ours, versus)
    if difference is not None and (generator is None or generator == HEALTHY) and not held:
        verdict = _paired_verdict(paired)
    else:
        verdict = _verdict(bool(held), ours, versus, generator)
    return dict(zip(CLAIM_COLUMNS + PAIRED_COLUMNS, [claim, measure, paper, *ours, *versus, bool(held),
                                                     generator or "", verdict, *paired]))


def generator_verdict(verdicts: Mapping[str, str] | pd.Series) -> str:
    """One verdict for a claim resting on several GANs (e.g. one per class): "healthy" only
    when every GAN is, else ``"<verdict> (<gan>)"`` for each GAN that is not."""
    verdicts = dict(verdicts)
    if not verdicts:
        raise ValueError("no GAN health verdicts given; pass {gan name: verdict}")
    failed = [f"{verdict} ({name})" for name, verdict in verdicts.items() if verdict != HEALTHY]
    return "; ".join(failed) if failed else HEALTHY


def _verdict(held: bool, ours: list[float], versus: list[float], generator: str | None) -> str:
    if generator is not None and generator != HEALTHY:
        return f"inconclusive: the generator was {generator}"
    if held:
        return "held"
    (_, low, high), (_, versus_low, versus_high) = ours, versus
    overlapping = not any(pd.isna([low, high, versus_low, versus_high])) and high >= versus_low
    return f"inconclusive: {NOT_RESOLVED}" if overlapping else "did not hold"


def _paired(difference: Mapping | None, paper_difference: float) -> list[float]:
    if difference is None:
        return [np.nan] * (len(PAIRED_COLUMNS) - 1) + [float(paper_difference)]
    keys = ["difference", "low", "high", "confidence", "sd_seeds", "sd_test", "detectable"]
    missing = [key for key in keys if key not in difference]
    if missing:
        raise ValueError(f"difference lacks {missing}; pass cxr_keras.metrics.paired_difference(...)")
    return [float(difference[key]) for key in keys] + [float(paper_difference)]


def _paired_verdict(paired: list[float]) -> str:
    _, low, high, *_, paper_difference = paired
    if high < 0:
        return "did not hold"
    why = f"the interval straddles 0: a gain above {points(high)} points is ruled out"
    if not pd.isna(paper_difference):
        where = "lies inside it" if low <= paper_difference <= high else "is ruled out"
        why += f"; the paper's {points(paper_difference)} {where}"
    return f"inconclusive: {why}"


def points(value: float) -> str:
    """A signed difference as the claims print it: ``"+0.6"``."""
    return f"{value:+.1f}"


def claims_frame(rows: Sequence[dict]) -> pd.DataFrame:
    """:func:`claim_row` rows as a frame with :data:`CLAIM_COLUMNS` and :data:`PAIRED_COLUMNS`."""
    return pd.DataFrame(list(rows), columns=CLAIM_COLUMNS + PAIRED_COLUMNS)


def caveat_rows(factor: str, quantity: str, ours: Mapping | pd.Series | Sequence[float] | float,
                paper: float = np.nan) -> list[dict]:
    """Caveat rows of one quantity: one per group when ``ours`` is a mapping or Series (e.g.
    per class), else one row of a value or a (value, ci_low, ci_high) estimate."""
    values = dict(ours) if isinstance(ours, (Mapping, pd.Series)) else {"": ours}
    return [dict(zip(CAVEAT_COLUMNS, [factor, quantity, str(group), *_triple(value), float(paper)]))
            for group, value in values.items()]


def caveats_frame(*parts: list[dict]) -> pd.DataFrame:
    """Concatenated :func:`caveat_rows` as a frame with :data:`CAVEAT_COLUMNS`."""
    return pd.DataFrame([row for part in parts for row in part], columns=CAVEAT_COLUMNS)


def number(value: float) -> str:
    """A value as the tables print it: "-" when missing, whole numbers without decimals,
    else three significant digits."""
    if value is None or pd.isna(value):
        return "-"
    value = float(value)
    if value == round(value) and abs(value) >= 1:
        return f"{value:,.0f}"
    return f"{value:.1f}" if abs(value) >= 100 else f"{value:.3g}"


def with_interval(value: float, low: float = np.nan, high: float = np.nan, scale: float = 1.0,
                  places: int | None = None) -> str:
    """``"81.2 [77.0, 85.1]"``: a value and its 95% interval (the interval left out when missing)."""
    def shown(v):
        if pd.isna(v):
            return "-"
        return number(v * scale) if places is None else f"{v * scale:.{places}f}"

    interval = "" if pd.isna(low) or pd.isna(high) else f" [{shown(low)}, {shown(high)}]"
    return shown(value) + interval


def paper_vs_ours(paper: float, value: float, low: float = np.nan, high: float = np.nan,
                  scale: float = 1.0, places: int | None = None) -> str:
    """A table cell ``"paper | ours [95% CI]"``; "-" marks a value that does not exist."""
    paper_text = "-" if pd.isna(paper) else with_interval(paper, scale=scale, places=places)
    return f"{paper_text} | {with_interval(value, low, high, scale, places)}"


def measured_text(row) -> str:
    """One claim's numbers: "<measure>: ours [CI] vs the compared value [CI] (paper <value>)",
    then for a paired comparison :func:`difference_text`; ``row`` is a row of a
    :func:`claims_frame` (a tuple or a Series; the paired columns may be absent)."""
    text = f"{row.measure}: {with_interval(row.ours, row.ci_low, row.ci_high)}"
    if not pd.isna(row.versus):
        text += f" vs {with_interval(row.versus, row.versus_low, row.versus_high)}"
    if not pd.isna(row.paper):
        text += f" (paper {number(row.paper)})"
    if not pd.isna(getattr(row, "difference", np.nan)):
        text += f"; {difference_text(row)}"
    return text


def difference_text(row) -> str:
    """A paired comparison's numbers: "difference +5.0 points [99% CI +2.1, +7.9] (SD 1.2 from
    seeds, 1.1 from test images); smallest detectable difference 4.1 points (80% power), the
    paper's +0.6"."""
    level = f"{100 * row.confidence:.3g}%"
    text = (f"difference {points(row.difference)} points [{level} CI {points(row.difference_low)}, "
            f"{points(row.difference_high)}] (SD {row.sd_seeds:.1f} from seeds, {row.sd_test:.1f} from "
            f"test images); smallest detectable difference {row.detectable:.1f} points (80% power)")
    if not pd.isna(row.paper_difference):
        text += f", the paper's {points(row.paper_difference)}"
    return text


def claim_lines(claims: pd.DataFrame) -> list[str]:
    """One sentence per claim: verdict, claim, our numbers (and the paper's)."""
    lines = []
    for row in claims.itertuples(index=False):
        text = measured_text(row)
        outcome, _, why = row.verdict.partition(": ")
        lines.append(f"{outcome.upper()}: {row.claim} -- {text}" + (f"; {why}" if why else ""))
    return lines


def caveat_lines(caveats: pd.DataFrame) -> list[str]:
    """One sentence per factor: each quantity with its meaning, per group, beside the paper's."""
    lines = []
    for factor, rows in caveats.groupby("factor", sort=False):
        parts = []
        for quantity, values in rows.groupby("quantity", sort=False):
            note = f" ({QUANTITY_NOTES[quantity]})" if quantity in QUANTITY_NOTES else ""
            shown = ", ".join(f"{row.group} {with_interval(row.ours, row.ci_low, row.ci_high)}".strip()
                              for row in values.itertuples(index=False))
            paper = values["paper"].dropna().unique()
            paper_text = f" (the paper: {number(paper[0])})" if len(paper) == 1 else ""
            parts.append(f"{quantity}{note}: {shown}{paper_text}")
        lines.append(f"- {factor}: " + "; ".join(parts))
    return lines


def _triple(value) -> list[float]:
    if np.ndim(value) == 0:
        return [float(value), np.nan, np.nan]
    values = [float(v) for v in value]
    if len(values) != 3:
        raise ValueError(f"an estimate is a value or (value, ci_low, ci_high), got {value!r}")
    return values
