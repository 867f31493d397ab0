"""make report: the page built from a constructed results tree, and rendered by headless Chromium."""

import json
import shutil
import subprocess

import nbformat
import numpy as np
import pandas as pd
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook
from PIL import Image

from tools import report


def _results(tmp_path):
    """A results tree: davoodi with claims, caveats, run.json, a figure and a notebook; the
    others without runs."""
    results = tmp_path / "results"
    run = results / "davoodi" / "paper"
    (run / "figures").mkdir(parents=True)
    pd.DataFrame({
        "claim": ["synthetic raises accuracy", "covid has the highest sensitivity", "FID falls"],
        "kit": ["0.785 vs 0.778; the intervals overlap, so this run does not resolve it",
                "covid 0.972 vs 0.806", "FID rose from 4 to 6"],
        "held": [False, True, False],
    }).to_csv(run / "claims.csv", index=False)
    pd.DataFrame({"factor": ["test set"], "note": ["36 test images"]}).to_csv(run / "caveats.csv", index=False)
    (run / "run.json").write_text(json.dumps({
        "parameters": {"image_size": 64, "gan_epochs": 200}, "wall_seconds_total": 5220.7,
        "finished_utc": "2026-12-01T09:46:15+00:00", "device": {"gpus": [], "cpu_count": 2}}))
    pixels = np.zeros((40, 60, 3), np.uint8)
    pixels[:, :30] = (200, 40, 40)
    Image.fromarray(pixels).save(run / "figures" / "real_vs_synthetic.png")
    notebook = new_notebook(cells=[new_markdown_cell("# Davoodi run"), new_code_cell("1 + 1")])
    nbformat.write(notebook, run / "04_davoodi_covid_dcgan.ipynb")
    (results / "davoodi" / "cpu.failed").mkdir()
    (results / "davoodi" / "smoke").mkdir()
    (results / "davoodi" / "smoke" / "claims.csv").write_text("claim,kit,held\nsmoke claim,x,True\n")
    (results / "demo" / "kermany" / "smoke").mkdir(parents=True)
    return results


def test_verdicts_from_held_and_text():
    rows = pd.DataFrame({"kit": ["x", "intervals overlap", "y", "z"], "held": [True, False, False, True],
                         "verdict": [None, None, None, "inconclusive"]})
    assert [report.verdict(r) for _, r in rows.iterrows()] == [
        "held", "inconclusive", "did not hold", "inconclusive"]


def test_report_shows_claims_scale_links_and_missing_papers(tmp_path):
    results = _results(tmp_path)
    index, readme = report.build_report(results)
    page, markdown = index.read_text(), readme.read_text()
    for text in (page, markdown):
        assert "covid has the highest sensitivity" in text
        assert "5,221 s on 2 CPU cores" in text and "gan_epochs=200" in text
        assert "davoodi/paper/04_davoodi_covid_dcgan.html" in text
        assert "davoodi/paper/figures/real_vs_synthetic.png" in text
        assert text.count("No runs committed yet.") == 4  # kermany, salehinejad, ng-gubbi, baseline
        assert text.count("no runs yet") == 4  # the overview table
        assert "1 held, 1 did not hold, 1 inconclusive" in text
        assert "cpu.failed" not in text
        assert "smoke" not in text and "demo" not in text
        assert "36 test images" in text
    assert '<td class="inconclusive">inconclusive</td>' in page
    assert "| synthetic raises accuracy | **inconclusive** |" in markdown
    rendered = results / "davoodi" / "paper" / "04_davoodi_covid_dcgan.html"
    assert rendered.is_file() and "Davoodi run" in rendered.read_text()


def test_report_without_results_folder_says_how_to_get_one(tmp_path):
    with pytest.raises(FileNotFoundError, match="make demo"):
        report.build_report(tmp_path / "nothing")


def _chromium():
    return shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")


@pytest.mark.skipif(_chromium() is None, reason="no Chromium on this machine (Debian: apt-get install chromium)")
def test_index_renders_in_headless_chromium(tmp_path):
    results = _results(tmp_path)
    index, _ = report.build_report(results)
    screenshot = tmp_path / "index.png"
    subprocess.run(
        [_chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
         f"--screenshot={screenshot}", "--window-size=1200,1600", index.as_uri()],
        check=True, capture_output=True, timeout=120,
    )
    pixels = np.asarray(Image.open(screenshot).convert("RGB"), dtype=np.int16)
    assert pixels.shape[:2] == (1600, 1200)
    assert pixels.std() > 10  # text, table and figure, not a blank page
    red = (pixels[..., 0] > 150) & (pixels[..., 1] < 80) & (pixels[..., 2] < 80)
    assert red.sum() > 500  # the figure was loaded and drawn


def test_claims_tables_of_numbers_are_counted_and_shown_with_their_intervals(tmp_path):
    results = tmp_path / "results"
    run = results / "kermany" / "cpu"
    run.mkdir(parents=True)
    pd.DataFrame({
        "claim": ["GAN balancing beats the best classic augmentation"],
        "measure": ["accuracy, gan vs best classic (crop)"], "paper": [0.955], "ours": [0.7095],
        "ci_low": [0.5259], "ci_high": [0.8932], "versus": [0.732], "versus_low": [0.449],
        "versus_high": [1.0145], "held": [False],
        "verdict": ["inconclusive: the generator was mode-collapsed (paper)"],
    }).to_csv(run / "claims.csv", index=False)
    index, readme = report.build_report(results)
    for text in (index.read_text(), readme.read_text()):
        assert "0 held, 0 did not hold, 1 inconclusive" in text
        assert "accuracy, gan vs best classic (crop): 0.71 [0.526, 0.893] vs 0.732 [0.449, 1.01]" in text
        assert "(paper 0.955)" in text


def test_numeric_caveats_are_put_into_words_on_both_pages(tmp_path):
    # The notebooks write caveats as numbers (a caveats frame); the page says them in words.
    results = _results(tmp_path)
    run = results / "davoodi" / "paper"
    pd.DataFrame([
        {"factor": "test set", "quantity": "test images", "group": "", "ours": 36.0,
         "ci_low": np.nan, "ci_high": np.nan, "paper": 36.0},
        {"factor": "GAN training", "quantity": "optimizer steps per class GAN", "group": "covid",
         "ours": 200.0, "ci_low": np.nan, "ci_high": np.nan, "paper": np.nan},
        {"factor": "GAN training", "quantity": "optimizer steps per class GAN", "group": "normal",
         "ours": 20.0, "ci_low": np.nan, "ci_high": np.nan, "paper": np.nan},
    ]).to_csv(run / "caveats.csv", index=False)
    index, readme = report.build_report(results)
    markdown, page = readme.read_text(), index.read_text()
    assert "- test set: test images: 36 (the paper: 36)" in markdown
    assert "- GAN training: optimizer steps per class GAN: covid 200, normal 20" in markdown
    assert "<b>GAN training</b>: optimizer steps per class GAN: covid 200, normal 20" in page
    assert "nan" not in markdown.split("Why the numbers may differ:")[1].split("![")[0]


def test_caveat_notes_of_an_unknown_table_are_none():
    assert report.caveat_notes(None) == []
    assert report.caveat_notes(pd.DataFrame({"x": [1]})) == []
