"""Run notebooks through the papermill pipeline: the real ones in `smoke`, and fixture ones."""

import ast
import json
import os
from pathlib import Path

import nbformat
import numpy as np
import pandas as pd
import pytest
import yaml
from nbformat.v4 import new_code_cell, new_notebook

from cxr_keras.health.verdict import VERDICTS
from cxr_keras.metrics.inception import default_weights_path
from cxr_keras.paths import shared_data_root
from tools import pipeline
from tools.pipeline.parameters import portable_path

pytestmark = pytest.mark.notebook

# Files each notebook must leave in its results folder, beside run.json and itself.
KEY_OUTPUTS = {
    "tour": ["class_counts.csv", "figures/phantoms.png", "figures/class_counts.png"],
    "kermany": [
        "data_manifest.csv", "class_counts.csv", "patient_overlap.json", "gan/paper/history.csv",
        "gan/kit/history.csv", "gan_health.csv", "utility.csv", "comparison.csv",
        "comparison_by_split.csv", "paper_vs_ours.csv", "summary.json",
        "figures/gan_paper_history.png", "figures/gan_kit_history.png",
        "figures/real_vs_generated.png",
    ],
    "salehinejad": [
        "data_manifest.csv", "table_1_paper_vs_kit.csv", "runs.csv", "claims.csv",
        "figures/validation_accuracy.png", "figures/real_vs_synthetic.png",
    ],
    "ng-gubbi": [
        "data_manifest.csv", "table_1_paper_vs_kit.csv", "label_agreement.csv",
        "label_effect.json", "claims.csv", "figures/same_noise_grid_paper.png",
        "figures/one_per_class_kit.png", "gan_health.csv", "synthetic_utility.csv",
        "classifier_separability.json", "paper/cgan/history.csv", "kit/cgan/history.csv",
    ],
    "davoodi": [
        "data_manifest.csv", "table_4.csv", "table_4_paper_vs_kit.csv", "folds.csv", "claims.csv",
        "gan_history.csv", "figures/real_vs_synthetic.png",
    ],
    "pneumoniamnist": [
        "baseline_table.csv", "claims.csv", "caveats.csv", "history.csv", "class_counts.csv",
        "figures/acc_auc_vs_medmnist.png", "figures/training.png",
    ],
}
EXISTING = [paper for paper in pipeline.PAPERS if pipeline.find_notebook(paper) is not None]


# A table of numbers each smoke run must fill: (file, value column, low, high, rows expected).
NUMBERS = {
    "kermany": ("comparison.csv", "accuracy", 0.0, 1.0, 4),  # smoke: flip, oversample and a GAN per recipe
    "salehinejad": ("table.csv", "kit_mean", 0.0, 100.0, None),
    "ng-gubbi": ("table_1_paper_vs_kit.csv", "kit_d_acc_fake", 0.0, 1.0, 20),  # 5 x 2 GANs x 2 recipes
    "davoodi": ("table_4.csv", "value", 0.0, 1.0, 3 * (4 * 4 + 1)),  # 3 train sets, 4 classes
    "pneumoniamnist": ("baseline_table.csv", "acc", 0.0, 1.0, 7 + 2),  # MedMNIST's 7 rows + ours
}
FIGURE_CALLS = ("show_figure(", "show_gan_training(")
BASELINES = ("pneumoniamnist",)


def _check_numbers(results, paper):
    if paper not in NUMBERS:
        return
    name, column, low, high, rows = NUMBERS[paper]
    table = pd.read_csv(results / name)
    assert rows is None or len(table) == rows, f"{paper}: {name} has {len(table)} rows, not {rows}"
    values = table[column].dropna()
    assert len(values) and values.between(low, high).all(), f"{paper}: {name} {column} outside [{low}, {high}]"
    claims = pd.read_csv(results / "claims.csv")
    assert len(claims) and claims["held"].isin([True, False]).all()
    if paper in BASELINES:  # a baseline's claims and caveats are sentences, not paper-vs-kit numbers
        ours = table[table["source"] == "kit"]
        assert ((ours["acc_low"] <= ours["acc"]) & (ours["acc"] <= ours["acc_high"])).all()
        assert set(claims["verdict"]) <= {"held", "did not hold"}
        return
    assert np.isfinite(claims["ours"]).all()
    caveats = pd.read_csv(results / "caveats.csv")
    assert len(caveats) and caveats["ours"].notna().all()


# GANs of two recipes: (classes, recipes) the smoke run's health table must cover (None: the
# classes with 6 held-out images; the Salehinejad smoke phantoms have none, so no table there).
HEALTH = {"davoodi": (4, 2), "salehinejad": (None, 2), "ng-gubbi": (None, 2)}


def _check_health_and_utility(results, paper):
    """gan_health.csv: a row per GAN with a documented verdict; the utility table in [0, 1]."""
    if paper not in HEALTH:
        return
    classes, recipes = HEALTH[paper]
    if classes is not None or paper == "ng-gubbi" or (results / "gan_health.csv").is_file():
        health = pd.read_csv(results / "gan_health.csv")
        assert health["verdict"].isin(VERDICTS).all(), f"{paper}: {set(health['verdict'])}"
        if paper == "ng-gubbi":  # the unconditional GAN once, the cGAN per class
            assert {"GAN paper", "GAN kit"} <= set(health["gan"])
            assert health["gan"].str.startswith("cGAN kit / ").any()
        else:
            assert health["gan"].str.split(" / ").str[1].nunique() == recipes
        assert classes is None or len(health) == classes * recipes
    utility = pd.read_csv(results / "synthetic_utility.csv")
    assert set(utility["trained_on"]) == {"synthetic", "real"} and utility["recipe"].nunique() == recipes
    values = utility[["estimate", "ci_low", "ci_high"]].to_numpy()
    assert np.isfinite(values).all() and ((values >= 0) & (values <= 1)).all()


def _check_inline_figures(results, paper):
    """Every cell that makes a figure has an image/png output in the executed copy."""
    executed = nbformat.read(results / pipeline.find_notebook(paper).name, as_version=4)
    figure_cells = [cell for cell in executed.cells if cell.cell_type == "code"
                    and any(call in cell.source for call in FIGURE_CALLS)]
    assert figure_cells, f"{paper}: no figure cells"
    for cell in figure_cells:
        images = [o for o in cell.outputs if "image/png" in o.get("data", {})]
        assert images, f"{paper}: a figure cell shows no image: {cell.source[:80]!r}"


def _run(paper, out, *extra):
    # --eager: at smoke size tracing graphs costs more than it saves (graph mode: unit tests)
    return pipeline.main(["run", paper, "--profile", "smoke", "--eager", "--out", str(out), *extra])


def _check_results(results, paper):
    run = json.loads((results / "run.json").read_text())
    assert run["paper"] == paper and run["profile"] == "smoke"
    assert run["versions"]["tensorflow"] and run["git"]["commit"]
    assert (results / pipeline.find_notebook(paper).name).is_file()
    for name in KEY_OUTPUTS.get(paper, []):
        assert (results / name).is_file(), f"{paper} smoke run did not write {name}"
    if default_weights_path().is_file():
        quality_table = {"kermany": "gan_health.csv", "davoodi": "gan_quality.csv"}.get(paper)
        assert quality_table is None or (results / quality_table).is_file()
        if paper == "davoodi":  # the smoke profile's quality_images cap reaches the FID log
            quality = pd.read_csv(results / quality_table)
            assert quality["n_real"].max() <= 16 and np.isfinite(quality["fid"]).all()
    _check_numbers(results, paper)
    _check_health_and_utility(results, paper)
    if paper == "kermany":
        _check_kermany_gan_tables(results)
    _check_inline_figures(results, paper)
    return run


def _check_kermany_gan_tables(results):
    """A health row per recipe with a documented verdict, a utility table in [0, 1], and
    claims judged once per recipe's GAN."""
    health = pd.read_csv(results / "gan_health.csv")
    assert sorted(health["gan"]) == ["kit", "paper"]
    assert health["verdict"].isin(VERDICTS).all()
    utility = pd.read_csv(results / "utility.csv")
    assert set(utility["recipe"]) == {"kit", "paper"} and set(utility["trained_on"]) == {"real", "synthetic"}
    assert np.isfinite(utility[["estimate", "ci_low", "ci_high"]]).all().all()
    assert utility[["estimate", "ci_low", "ci_high"]].stack().between(0, 1).all()
    claims = pd.read_csv(results / "claims.csv")  # each GAN vs the smoke's classic method and control
    assert sorted(claims.loc[claims["measure"].str.contains("gan_kit vs"), "measure"]) == [
        "accuracy, gan_kit vs flip", "accuracy, gan_kit vs oversample"]
    assert np.isfinite(claims[["difference", "difference_low", "difference_high", "detectable"]]).all().all()
    assert json.loads((results / "patient_overlap.json").read_text())["patients_in_several_splits"] >= 0


# Phantom smokes `make test` always runs: the tour (phantoms are its subject) and PneumoniaMNIST
# (seconds). The other notebooks run the same cells in their real-sample smoke, and their
# phantom loading is tests/test_reproductions_phantom_data.py (Kermany's, make demo's data, too);
# their phantom smokes run when there are no real samples, or with CXR_KERAS_ALL_SMOKES=1
# (`make test-phantoms`).
ALWAYS_ON_PHANTOMS = ("tour", "pneumoniamnist")


@pytest.mark.parametrize("paper", EXISTING)
def test_smoke_profile_on_phantoms(paper, tmp_path):
    if (paper not in ALWAYS_ON_PHANTOMS and shared_data_root() is not None
            and not os.environ.get("CXR_KERAS_ALL_SMOKES")):
        pytest.skip(f"{paper}: its real-sample smoke runs these cells; `make test-phantoms` "
                    "runs it on phantoms too")
    assert _run(paper, tmp_path, "--data", "phantoms") == 0
    run = _check_results(tmp_path / paper / "smoke", paper)
    assert run["parameters"]["data"] == "phantoms"
    assert not (tmp_path / paper / "smoke.failed").exists()


@pytest.mark.shared_data
@pytest.mark.parametrize("paper", EXISTING)
def test_smoke_profile_on_the_real_samples(paper, tmp_path):
    root = shared_data_root()
    if root is None:
        pytest.skip("no real data samples (../shared/data or $CXR_KERAS_DATA)")
    assert _run(paper, tmp_path, "--data", str(root)) == 0
    run = _check_results(tmp_path / paper / "smoke", paper)
    if paper == "kermany":
        assert run["data_manifest_sha256"]
        manifest = (tmp_path / paper / "smoke" / "data_manifest.csv").read_text()
        # the runner records --data in one portable form: relative to the repository when
        # inside or beside it (../shared/data), else absolute
        data = portable_path(root)
        assert run["parameters"]["data"] == data and f"{data}/" in manifest


# The notebook `make test` also runs on JAX, with TensorFlow hidden from its kernel as on a
# GPU machine without it: the cheapest smoke (86 s here); Kermany's and Ng & Gubbi's run so too
# (README, Backends).
JAX_SMOKE = "pneumoniamnist"


def test_a_smoke_run_on_jax_without_tensorflow(tmp_path, monkeypatch):
    pytest.importorskip("jax", reason="the JAX backend is not installed (pip install -e '.[jax]')")
    hidden = tmp_path / "hide-tensorflow" / "tensorflow"
    hidden.mkdir(parents=True)
    (hidden / "__init__.py").write_text(
        "raise ImportError('TensorFlow is hidden: this run checks the kit without it')\n")
    monkeypatch.setenv("PYTHONPATH", str(hidden.parent))
    data = shared_data_root() or "phantoms"
    # jitted, not --eager: op by op, JAX is slower than compiling even at smoke size
    assert pipeline.main(["run", JAX_SMOKE, "--profile", "smoke", "--backend", "jax", "--out",
                          str(tmp_path), "--data", str(data)]) == 0
    run = _check_results(tmp_path / JAX_SMOKE / "smoke", JAX_SMOKE)
    assert run["backend"] == "jax"  # and no cell imported TensorFlow: that raises, and fails the run


def _fixture_notebook(folder, body):
    """Write notebooks/01_fixture.ipynb: a tagged parameters cell, then `body`."""
    parameters = new_code_cell("out_dir = 'unset'\nvalue = 1")
    parameters.metadata["tags"] = ["parameters"]
    notebook = new_notebook(cells=[parameters, new_code_cell(body)])
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    folder.mkdir(parents=True, exist_ok=True)
    nbformat.write(notebook, folder / "01_fixture.ipynb")
    return folder


WRITE_TABLE = (
    "from pathlib import Path\n"
    "Path(out_dir, 'table.csv').write_text(f'value\\n{value}\\n')\n"
    "Path(out_dir, 'data_manifest.csv').write_text('path,label\\nx.png,0\\n')"
)


@pytest.fixture
def fixture_run(tmp_path):
    profiles = tmp_path / "profiles"
    profiles.mkdir()
    (profiles / "kermany.yaml").write_text(yaml.safe_dump({"smoke": {"value": 2}}))

    def run(body, *extra, paper="kermany"):
        notebooks = _fixture_notebook(tmp_path / "notebooks", body)
        return pipeline.main([
            "run", paper, "--profile", "smoke", "--out", str(tmp_path / "results"),
            "--notebooks-dir", str(notebooks), "--profiles-dir", str(profiles), *extra,
        ])

    return run, tmp_path / "results" / "kermany"


def test_parameters_reach_the_notebook_and_results_are_recorded(fixture_run, capsys):
    run, paper_dir = fixture_run
    assert run(WRITE_TABLE, "-p", "value=7", paper="all") == 0
    assert "skipping davoodi: its notebook does not exist yet" in capsys.readouterr().out
    results = paper_dir / "smoke"
    assert (results / "table.csv").read_text() == "value\n7\n"
    record = json.loads((results / "run.json").read_text())
    assert record["parameters"] == {"value": 7}
    assert record["data_manifest"] == "data_manifest.csv" and len(record["data_manifest_sha256"]) == 64
    assert record["wall_seconds"] > 0
    assert sorted(p.name for p in paper_dir.iterdir()) == ["smoke"]


def _kernel_children() -> list[int]:
    """Pids of this process's children that are ipykernels (from /proc)."""
    children = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            parent = int(stat.read_text().rsplit(")", 1)[1].split()[1])
            command = (stat.parent / "cmdline").read_bytes()
        except (OSError, IndexError, ValueError):
            continue
        if parent == os.getpid() and b"ipykernel" in command:
            children.append(int(stat.parent.name))
    return children


def test_every_run_shuts_down_its_kernel(fixture_run):
    run, _ = fixture_run
    assert run(WRITE_TABLE) == 0
    assert run("raise ValueError('broken on purpose')") == 1
    assert _kernel_children() == []


def test_eager_runs_every_tensorflow_function_eagerly_and_is_recorded(fixture_run):
    run, paper_dir = fixture_run
    body = ("import tensorflow as tf\nfrom pathlib import Path\n"
            "Path(out_dir, 'table.csv').write_text(str(tf.config.functions_run_eagerly()))")
    assert run(body, "--eager") == 0
    assert (paper_dir / "smoke" / "table.csv").read_text() == "True"
    assert json.loads((paper_dir / "smoke" / "run.json").read_text())["eager"] is True
    assert run(body, "--refresh") == 0  # graph mode again without the flag
    assert (paper_dir / "smoke" / "table.csv").read_text() == "False"


def test_a_failing_cell_keeps_the_last_good_results(fixture_run, capsys):
    run, paper_dir = fixture_run
    assert run(WRITE_TABLE) == 0
    good = {p.name: p.read_bytes() for p in (paper_dir / "smoke").iterdir()}

    assert run("raise ValueError('broken on purpose')") == 1
    assert "FAILED" in capsys.readouterr().err
    assert {p.name: p.read_bytes() for p in (paper_dir / "smoke").iterdir()} == good
    failed = nbformat.read(paper_dir / "smoke.failed" / "01_fixture.ipynb", as_version=4)
    errors = [o for cell in failed.cells for o in cell.get("outputs", []) if o.output_type == "error"]
    assert errors and errors[0].evalue == "broken on purpose"

    assert run(WRITE_TABLE, "-p", "value=3") == 0
    assert (paper_dir / "smoke" / "table.csv").read_text() == "value\n3\n"
    assert not (paper_dir / "smoke.failed").exists()


def test_a_rerun_with_the_same_parameters_resumes_from_the_failed_run(fixture_run):
    run, paper_dir = fixture_run
    flaky = (
        "from pathlib import Path\n"
        "attempts = Path(out_dir, 'attempts.txt')\n"
        "attempts.write_text(str(int(attempts.read_text()) + 1 if attempts.exists() else 1))\n"
        "assert int(attempts.read_text()) >= 2, 'first attempt fails'"
    )
    assert run(flaky) == 1
    assert (paper_dir / "smoke.failed" / "attempts.txt").read_text() == "1"
    assert run(flaky) == 0
    assert (paper_dir / "smoke" / "attempts.txt").read_text() == "2"
    # Other parameters start from scratch rather than from stale partial work.
    assert run(flaky, "-p", "value=5") == 1
    assert (paper_dir / "smoke.failed" / "attempts.txt").read_text() == "1"


@pytest.mark.parametrize("paper", EXISTING)
def test_profiles_only_set_parameters_the_notebook_declares(paper):
    notebook = nbformat.read(pipeline.find_notebook(paper), as_version=4)
    tagged = [cell for cell in notebook.cells if "parameters" in cell.metadata.get("tags", [])]
    assert len(tagged) == 1, f"{paper}: expected one cell tagged 'parameters'"
    declared = {target.id for node in ast.parse(tagged[0].source).body
                if isinstance(node, (ast.Assign, ast.AnnAssign))
                for target in getattr(node, "targets", [getattr(node, "target", None)])
                if isinstance(target, ast.Name)}
    assert {"data", "out_dir"} <= declared
    for profile in pipeline.PROFILES:
        unknown = set(pipeline.load_profile(paper, profile)) - declared
        assert not unknown, f"{paper}.yaml [{profile}] sets {sorted(unknown)}, not notebook parameters"
