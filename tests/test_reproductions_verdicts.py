"""Claims and caveats frames, and the one place their numbers become sentences and cells."""

import numpy as np
import pandas as pd
import pytest

from cxr_keras.reproductions import verdicts


def test_exceeds_needs_separate_intervals():
    assert verdicts.exceeds((0.9, 0.85, 0.95), (0.7, 0.6, 0.8))
    assert not verdicts.exceeds((0.7, 0.6, 0.8), (0.9, 0.85, 0.95))
    assert not verdicts.exceeds((0.82, 0.7, 0.9), (0.78, 0.65, 0.88))


def test_claim_rows_hold_numbers_and_the_lines_say_when_intervals_overlap():
    claims = verdicts.claims_frame([
        verdicts.claim_row("A beats B", "accuracy, A vs B", (0.82, 0.7, 0.9), versus=(0.78, 0.65, 0.88),
                           paper=0.955),
        verdicts.claim_row("A beats C", "accuracy, A vs C", (0.9, 0.85, 0.95), versus=(0.7, 0.6, 0.8)),
        verdicts.claim_row("ratio is small", "label / noise ratio", 0.11, held=True),
    ])
    assert list(claims.columns) == verdicts.CLAIM_COLUMNS + verdicts.PAIRED_COLUMNS
    assert claims["held"].tolist() == [False, True, True]
    assert claims.loc[0, ["ours", "ci_low", "ci_high", "versus", "paper"]].tolist() == [0.82, 0.7, 0.9, 0.78, 0.955]
    assert np.isnan(claims.loc[2, "versus"])
    lines = verdicts.claim_lines(claims)
    assert claims["verdict"].tolist() == [
        "inconclusive: the intervals overlap, so this run does not resolve it", "held", "held"]
    assert lines[0] == ("INCONCLUSIVE: A beats B -- accuracy, A vs B: 0.82 [0.7, 0.9] vs 0.78 [0.65, 0.88] "
                        "(paper 0.955); the intervals overlap, so this run does not resolve it")
    assert lines[1].startswith("HELD: A beats C") and "overlap" not in lines[1]
    assert lines[2] == "HELD: ratio is small -- label / noise ratio: 0.11"
    with pytest.raises(ValueError, match="an estimate is a value or"):
        verdicts.claim_row("x", "y", (1.0, 2.0))


def test_a_claim_resting_on_an_unhealthy_generator_is_inconclusive():
    separated = {"ours": (0.9, 0.85, 0.95), "versus": (0.7, 0.6, 0.8)}
    healthy = verdicts.claim_row("GAN beats flip", "accuracy", generator="healthy", **separated)
    collapsed = verdicts.claim_row("GAN beats flip", "accuracy", generator="mode-collapsed", **separated)
    lost = verdicts.claim_row("GAN beats flip", "accuracy", ours=(0.6, 0.55, 0.65), versus=(0.9, 0.85, 0.95),
                              generator="mode-collapsed")
    plain_loss = verdicts.claim_row("GAN beats flip", "accuracy", ours=(0.6, 0.55, 0.65),
                                    versus=(0.9, 0.85, 0.95))
    assert healthy["verdict"] == "held" and plain_loss["verdict"] == "did not hold"
    assert collapsed["verdict"] == lost["verdict"] == "inconclusive: the generator was mode-collapsed"
    line = verdicts.claim_lines(verdicts.claims_frame([lost]))[0]
    assert line.startswith("INCONCLUSIVE: GAN beats flip") and line.endswith("the generator was mode-collapsed")
    assert verdicts.generator_verdict({"covid": "healthy", "normal": "healthy"}) == "healthy"
    assert (verdicts.generator_verdict({"covid": "healthy", "normal": "mode-collapsed", "virus": "memorizing"})
            == "mode-collapsed (normal); memorizing (virus)")
    with pytest.raises(ValueError, match="no GAN health verdicts"):
        verdicts.generator_verdict({})


def _difference(value, low, high, confidence=0.99):
    return {"difference": value, "low": low, "high": high, "confidence": confidence, "sd_seeds": 0.5,
            "sd_test": 1.25, "detectable": 3.75}


def test_a_paired_claim_is_judged_on_the_interval_of_the_difference():
    estimates = {"ours": (0.9, 0.85, 0.95), "versus": (0.88, 0.83, 0.93)}  # overlapping intervals
    above = verdicts.claim_row("GAN beats flip", "accuracy, gan vs flip", **estimates,
                               difference=_difference(2.0, 0.4, 3.6), paper_difference=0.6)
    below = verdicts.claim_row("GAN beats flip", "accuracy, gan vs flip", **estimates,
                               difference=_difference(-2.0, -3.6, -0.4), paper_difference=0.6)
    straddles = verdicts.claim_row("GAN beats flip", "accuracy, gan vs flip", **estimates,
                                   difference=_difference(0.5, -1.2, 2.25), paper_difference=0.6)
    misses_paper = verdicts.claim_row("synthetic beats classic", "total accuracy", **estimates,
                                      difference=_difference(-0.5, -3.0, 2.0, 0.95), paper_difference=3.8)
    collapsed = verdicts.claim_row("GAN beats flip", "accuracy", **estimates, generator="mode-collapsed",
                                   difference=_difference(2.0, 0.4, 3.6))
    assert (above["held"], above["verdict"], below["verdict"]) == (True, "held", "did not hold")
    assert straddles["verdict"] == ("inconclusive: the interval straddles 0: a gain above +2.2 points is "
                                    "ruled out; the paper's +0.6 lies inside it")
    assert misses_paper["verdict"].endswith("a gain above +2.0 points is ruled out; the paper's +3.8 is ruled out")
    assert collapsed["verdict"] == "inconclusive: the generator was mode-collapsed"
    claims = verdicts.claims_frame([straddles, verdicts.claim_row("plain", "ratio", 0.1, held=True)])
    assert claims.loc[0, verdicts.PAIRED_COLUMNS].tolist() == [0.5, -1.2, 2.25, 0.99, 0.5, 1.25, 3.75, 0.6]
    assert claims.loc[1, verdicts.PAIRED_COLUMNS].isna().all()
    line = verdicts.claim_lines(claims)[0]
    assert line == ("INCONCLUSIVE: GAN beats flip -- accuracy, gan vs flip: 0.9 [0.85, 0.95] vs 0.88 [0.83, 0.93]; "
                    "difference +0.5 points [99% CI -1.2, +2.2] (SD 0.5 from seeds, 1.2 from test images); "
                    "smallest detectable difference 3.8 points (80% power), the paper's +0.6; the interval "
                    "straddles 0: a gain above +2.2 points is ruled out; the paper's +0.6 lies inside it")
    old = claims[verdicts.CLAIM_COLUMNS].iloc[1]  # a claims table written before the paired columns
    assert verdicts.measured_text(old) == "ratio: 0.1"
    with pytest.raises(ValueError, match="difference lacks"):
        verdicts.claim_row("x", "y", 1.0, difference={"difference": 1.0})


def test_caveat_rows_per_group_and_one_line_per_factor():
    caveats = verdicts.caveats_frame(
        verdicts.caveat_rows("GAN training", "optimizer steps", {"Normal": 10, "Mass": 5}, paper=31),
        verdicts.caveat_rows("GAN training", "diversity ratio", pd.Series({"Normal": 0.02})),
        verdicts.caveat_rows("classifier", "accuracy on real test images", (0.44, 0.4, 0.5)),
    )
    assert list(caveats.columns) == verdicts.CAVEAT_COLUMNS
    assert caveats["ours"].tolist() == [10, 5, 0.02, 0.44]
    assert caveats["group"].tolist() == ["Normal", "Mass", "Normal", ""]
    lines = verdicts.caveat_lines(caveats)
    assert len(lines) == 2
    assert lines[0].startswith("- GAN training: optimizer steps: Normal 10, Mass 5 (the paper: 31); "
                               "diversity ratio (spread between samples")
    assert lines[1] == "- classifier: accuracy on real test images: 0.44 [0.4, 0.5]"


def test_paper_vs_ours_cells():
    assert verdicts.paper_vs_ours(0.949, 0.812, 0.77, 0.851, scale=100, places=1) == "94.9 | 81.2 [77.0, 85.1]"
    assert verdicts.paper_vs_ours(np.nan, 0.5, np.nan, np.nan, places=3) == "- | 0.500"
    assert verdicts.number(1341.0) == "1,341" and verdicts.number(np.nan) == "-"
