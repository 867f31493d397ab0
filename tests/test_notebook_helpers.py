"""The notebook display helpers: figures saved and displayed, training read from its files."""

import inspect
import itertools
import json
import os
import re
import warnings
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras
import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

from cxr_keras import notebook
from cxr_keras.io import save_figure
from cxr_keras.reproductions import verdicts


@pytest.fixture
def shown(monkeypatch):
    displayed = []
    monkeypatch.setattr(notebook, "display", displayed.append)
    return displayed


def _figure():
    figure = Figure()
    figure.add_subplot().plot([0, 1], [1, 0])
    return figure


def test_show_figure_saves_the_png_and_displays_that_file(tmp_path, shown):
    assert notebook.show_figure("curve", _figure(), tmp_path) is None
    path = tmp_path / "figures" / "curve.png"
    assert path.read_bytes()[:4] == b"\x89PNG"
    assert len(shown) == 1 and shown[0].data == path.read_bytes()
    with pytest.raises(ValueError, match="figure name 'a/b' must be a file name"):
        notebook.show_figure("a/b", _figure(), tmp_path)


def test_gan_training_is_shown_from_the_files_of_the_run(tmp_path, shown):
    run = tmp_path / "gan"
    (run / "samples").mkdir(parents=True)
    pd.DataFrame({"epoch": [1, 2, 3], "d_loss": [1.4, 1.2, 1.1], "g_loss": [0.7, 0.9, 1.0]}).to_csv(
        run / "history.csv", index=False)
    for epoch in (1, 2, 3):
        save_figure(run / "samples" / f"epoch-{epoch:04d}.png", _figure())
    history = notebook.show_gan_training(run, "gan", tmp_path, max_snapshots=2)
    assert history["epoch"].tolist() == [1, 2, 3]
    assert [p.name for p in sorted((tmp_path / "figures").iterdir())] == ["gan_history.png", "gan_samples.png"]
    assert len(shown) == 2
    assert notebook._spread(list(range(10)), 4) == [0, 3, 6, 9]
    with pytest.raises(FileNotFoundError, match="history.csv does not exist"):
        notebook.show_gan_training(tmp_path / "none", "x", tmp_path)


def test_show_model_prints_one_summary_and_displays_no_table(shown, capsys):
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, name="hidden"),
                              keras.layers.Dense(2, name="out")])
    notebook.show_model(model)
    printed = capsys.readouterr().out
    assert "hidden (Dense)" in printed and "Total params: 23" in printed
    assert printed.count("Total params") == 1
    assert shown == []


def test_show_source_shows_the_package_code(shown):
    source = notebook.show_source(verdicts.exceeds)
    assert source.startswith("def exceeds(") and "a_low > b_high" in source
    assert "cxr_keras.reproductions.verdicts.exceeds" in shown[0].data


def test_claims_and_caveats_are_written_and_printed(tmp_path, capsys):
    claims = verdicts.claims_frame([verdicts.claim_row("a claim", "ratio", 0.1, held=True)])
    caveats = verdicts.caveats_frame(verdicts.caveat_rows("test set", "test images", 36))
    notebook.report_claims(claims, tmp_path)
    notebook.report_caveats(caveats, tmp_path)
    assert capsys.readouterr().out == "HELD: a claim -- ratio: 0.1\n- test set: test images: 36\n"
    assert pd.read_csv(tmp_path / "claims.csv")["ours"].tolist() == [0.1]
    assert np.isclose(pd.read_csv(tmp_path / "caveats.csv")["ours"], 36).all()


def _shown_sources(notebook_name, heading, namespace):
    """The sources that the code cells under markdown ``heading`` pass to show_source."""
    path = Path(__file__).resolve().parents[1] / "notebooks" / notebook_name
    cells = json.loads(path.read_text())["cells"]
    index = next(i for i, cell in enumerate(cells) if "".join(cell["source"]).startswith(heading))
    section = itertools.takewhile(lambda cell: cell["cell_type"] == "code", cells[index + 1:])
    code = "".join("".join(cell["source"]) + "\n" for cell in section)
    targets = re.findall(r"notebook\.show_source\(([\w.]+)\)", code)
    return [inspect.getsource(eval(target, namespace)) for target in targets]


@pytest.mark.skipif(keras.backend.backend() != "tensorflow",
                    reason="GAN.train_step is the TensorFlow step on TensorFlow only")
def test_notebook_01_shows_the_training_step_fit_runs_with_both_updates():
    from cxr_keras.gan import GAN

    sources = _shown_sources("01_kora_venu_2021_kermany_dcgan.ipynb", "### The training step",
                             {"GAN": GAN})
    step = sources[0]
    assert step.startswith("    def train_step(self, data):")
    assert "self.d_optimizer.apply_gradients(zip(d_grads, d_weights))" in step
    assert "self.g_optimizer.apply_gradients(zip(g_grads, g_weights))" in step
    assert "self.discriminator_loss(" in step and "self.generator_loss(" in step
    assert any(source.lstrip().startswith("def discriminator_loss(") for source in sources)
    assert any(source.lstrip().startswith("def generator_loss(") for source in sources)


def test_notebook_01_shows_the_source_of_both_builders():
    from cxr_keras.models import kora_venu

    sources = _shown_sources("01_kora_venu_2021_kermany_dcgan.ipynb",
                             "## Models (the paper's recipe)", {"kora_venu_models": kora_venu})
    assert [source.split("(")[0] for source in sources] == [
        "def kora_venu_generator", "def kora_venu_discriminator"]


def test_a_kit_warning_raised_in_a_loop_is_shown_once_with_a_relative_file(monkeypatch):
    from cxr_keras.metrics.frechet import RankDeficientCovarianceWarning
    from cxr_keras.metrics.generative import WholeSetSubsetWarning

    monkeypatch.chdir(Path(__file__).parents[1])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        notebook.show_kit_warnings_once()
        for _ in range(3):
            warnings.warn("a kit warning", RankDeficientCovarianceWarning)
            with warnings.catch_warnings():  # a filter change resets Python's "once" registry
                warnings.simplefilter("ignore", WholeSetSubsetWarning)
            warnings.warn("not the kit's", UserWarning)
    assert [str(w.message) for w in caught] == ["a kit warning"] + ["not the kit's"] * 3
    assert {w.filename for w in caught} == {"tests/test_notebook_helpers.py"}
