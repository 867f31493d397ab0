import json
import os
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path

import nbformat
import pytest
import yaml
from nbformat.v4 import new_code_cell, new_notebook

from cxr_keras.paths import REPO_ROOT
from tools import pipeline
from tools.pipeline import PipelineError, execution
from tools.pipeline import record as run_records


def _parameters_notebook(path, parameters_source):
    """Write a notebook whose only cell is the tagged parameters cell."""
    cell = new_code_cell(parameters_source)
    cell.metadata["tags"] = ["parameters"]
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(new_notebook(cells=[cell]), path)
    return path


def _write_profiles(folder, sections, paper="kermany"):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{paper}.yaml").write_text(yaml.safe_dump(sections))
    return folder


def test_every_shipped_profile_file_has_the_three_profiles():
    files = sorted(pipeline.PROFILES_DIR.glob("*.yaml"))
    assert {f.stem for f in files} >= {"tour", "kermany"}
    for path in files:
        assert path.stem in pipeline.PAPERS, f"{path.name} is not a known paper"
        for profile in pipeline.PROFILES:
            values = pipeline.load_profile(path.stem, profile)
            pipeline.check_parameters(pipeline.find_notebook(path.stem), values, {},
                                      source=f"{path.name} [{profile}]")


def test_parameters_merge_in_order(tmp_path):
    profiles = _write_profiles(tmp_path / "profiles", {"smoke": {"epochs": 1, "seed": 0, "size": 32}})
    params_file = tmp_path / "mine.yaml"
    params_file.write_text("epochs: 5\nseed: 3\n")
    merged = pipeline.merge_parameters(
        pipeline.load_profile("kermany", "smoke", profiles),
        params_file,
        pipeline.parse_overrides(["seed=7", "methods=[flip, gan]"]),
        data="phantoms",
    )
    assert merged == {"epochs": 5, "seed": 7, "size": 32, "methods": ["flip", "gan"], "data": "phantoms"}


def test_data_paths_are_made_absolute_and_phantoms_kept(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert pipeline.merge_parameters({}, data="../data")["data"] == str(tmp_path.parent / "data")
    assert pipeline.merge_parameters({}, data="phantoms")["data"] == "phantoms"


def test_overrides_are_parsed_as_yaml_and_malformed_ones_rejected():
    assert pipeline.parse_overrides(["a=1", "b=0.5", "c=text", "d=", "e=x=y"]) == {
        "a": 1, "b": 0.5, "c": "text", "d": None, "e": "x=y",
    }
    with pytest.raises(PipelineError, match="key=value, got 'epochs'"):
        pipeline.parse_overrides(["epochs"])


def test_floats_in_any_notation_are_floats():
    assert pipeline.parse_overrides(
        ["lr=2e-4", "big=1e6", "neg=-1.5E+3", "dot=.5e1", "n=7", "version=1.2.3", "name=e5"]
    ) == {"lr": 2e-4, "big": 1e6, "neg": -1500.0, "dot": 5.0, "n": 7, "version": "1.2.3",
          "name": "e5"}
    assert isinstance(pipeline.parse_overrides(["big=1e6"])["big"], float)


def test_annotations_in_the_parameters_cell_set_the_types_a_value_may_have(tmp_path):
    notebook = _parameters_notebook(
        tmp_path / "01_x.ipynb",
        "patience: int | None = 10\nlr: float = 1e-3\nsizes: tuple = (1, 2)\nwhat: 'int' = 3",
    )
    assert pipeline.notebook_parameters(notebook) == {"patience": 10, "lr": 1e-3,
                                                      "sizes": (1, 2), "what": 3}
    pipeline.check_parameters(notebook, {"patience": None, "lr": 2, "sizes": [3]}, {})
    with pytest.raises(PipelineError, match=r"'patience' expects NoneType or int .*got 'x'"):
        pipeline.check_parameters(notebook, {"patience": "x"}, {})
    with pytest.raises(PipelineError, match=r"'what' expects int"):  # unknown annotation
        pipeline.check_parameters(notebook, {"what": "x"}, {})


def test_parameters_are_checked_against_the_notebook_and_the_profile(tmp_path):
    notebook = _parameters_notebook(
        tmp_path / "01_x.ipynb",
        "data = 'phantoms'\nimage_size = 64\nlr = 1e-3\ncap = None\nsizes = [1, 2]\n"
        "flag = False\ncounts = dict(a=1)  # an expression: any type\nout_dir = 'x'",
    )
    assert pipeline.notebook_parameters(notebook) == {
        "data": "phantoms", "image_size": 64, "lr": 1e-3, "cap": None, "sizes": [1, 2],
        "flag": False, "counts": ..., "out_dir": "x",
    }
    ok = {"image_size": 32, "lr": 2, "cap": 5, "sizes": [3], "flag": True, "counts": "any"}
    pipeline.check_parameters(notebook, ok, {})
    pipeline.check_parameters(notebook, {"cap": None}, {"cap": 40})
    with pytest.raises(PipelineError, match=r"'image_size' expects int .*got 'abc' \(str\)"):
        pipeline.check_parameters(notebook, {"image_size": "abc"}, {})
    with pytest.raises(PipelineError, match=r"'image_size' expects int .*got True \(bool\)"):
        pipeline.check_parameters(notebook, {"image_size": True}, {})
    with pytest.raises(PipelineError, match=r"'cap' expects NoneType or int .*got 'x'"):
        pipeline.check_parameters(notebook, {"cap": "x"}, {"cap": 40})
    with pytest.raises(PipelineError, match=r"unknown parameter 'image_sise'.*'image_size'"):
        pipeline.check_parameters(notebook, {"image_sise": 3}, {})
    with pytest.raises(PipelineError, match=r"'out_dir' is set by the runner; use --out"):
        pipeline.check_parameters(notebook, {"out_dir": "/tmp"}, {})


def test_a_second_lock_on_a_results_folder_is_refused_and_names_the_holder(tmp_path):
    results = tmp_path / "kermany" / "smoke"
    with pipeline.results_lock(results) as holder:
        assert json.loads(pipeline.lock_path(results).read_text()) == holder
        busy = f"in use by another run: pid {holder['pid']} on {holder['host']}"
        with pytest.raises(pipeline.ResultsFolderBusy, match=busy), pipeline.results_lock(results):
            pass
    assert not pipeline.lock_path(results).exists()


def test_a_stale_lock_is_taken_over_and_said_so(tmp_path, caplog):
    results = tmp_path / "kermany" / "smoke"
    results.parent.mkdir(parents=True)
    pipeline.lock_path(results).write_text(json.dumps({"pid": 4242, "host": "h", "command": "c"}))
    with caplog.at_level("INFO", logger="tools.pipeline"), pipeline.results_lock(results):
        pass
    assert "taking over the stale lock" in caplog.text and "pid 4242 on h" in caplog.text


def test_an_attempt_left_running_is_read_back_as_killed(tmp_path):
    from tools.pipeline import record

    attempt = record.start_attempt(1, "c" * 40, started_utc="2026-01-01T00:00:00+00:00")
    record.write_attempts(tmp_path, [attempt])
    (tmp_path / "checkpoint.txt").write_text("x")
    [killed] = record.read_attempts(tmp_path)
    assert killed["outcome"] == "killed" and killed["pid"] == attempt["pid"]
    assert killed["finished_utc"] >= "2026-12" and killed["wall_seconds"] > 0


def test_profile_errors_name_the_file(tmp_path):
    with pytest.raises(PipelineError, match=r"kermany.yaml is missing"):
        pipeline.load_profile("kermany", "smoke", tmp_path)
    profiles = _write_profiles(tmp_path / "p", {"smoke": {"epochs": 1}})
    with pytest.raises(PipelineError, match=r"kermany.yaml has no 'paper' section"):
        pipeline.load_profile("kermany", "paper", profiles)
    (profiles / "tour.yaml").write_text("- just\n- a list\n")
    with pytest.raises(PipelineError, match="tour.yaml must hold a mapping"):
        pipeline.load_profile("tour", "smoke", profiles)
    with pytest.raises(PipelineError, match="parameters file .*nothere.yaml does not exist"):
        pipeline.merge_parameters({}, tmp_path / "nothere.yaml")


def test_missing_data_says_where_to_get_it_and_where_to_put_it(tmp_path):
    missing = str(tmp_path / "chest_xray")
    with pytest.raises(PipelineError) as error:
        pipeline.check_data("kermany", {"data": missing})
    message = str(error.value)
    assert missing in message
    assert "10.17632/rscbjbr9sj.2" in message and "chest-xray-pneumonia" in message
    assert "DATA=/path/to/chest_xray" in message
    pipeline.check_data("kermany", {"data": "phantoms"})
    pipeline.check_data("kermany", {"data": str(tmp_path)})


def test_find_notebook_by_number(tmp_path):
    (tmp_path / "01_some_paper.ipynb").write_text("{}")
    assert pipeline.find_notebook("kermany", tmp_path).name == "01_some_paper.ipynb"
    assert pipeline.find_notebook("davoodi", tmp_path) is None
    with pytest.raises(PipelineError, match="unknown paper 'nope'"):
        pipeline.find_notebook("nope", tmp_path)


def test_run_record_describes_the_run(tmp_path):
    (tmp_path / pipeline.MANIFEST_NAME).write_text("path,label\na.png,0\n")
    record = pipeline.run_record(
        "kermany", "smoke", tmp_path / "01_x.ipynb", {"seed": 1}, tmp_path, 12.34
    )
    assert record["parameters"] == {"seed": 1} and record["wall_seconds"] == 12.3
    assert record["wall_seconds_total"] == 12.3
    assert [a["outcome"] for a in record["attempts"]] == ["done"]
    assert record["attempts"][0]["git_commit"] == record["git"]["commit"]
    assert len(record["data_manifest_sha256"]) == 64
    assert record["versions"]["tensorflow"] and record["versions"]["keras"]
    assert record["device"]["cpu_count"] >= 1 and isinstance(record["device"]["gpus"], list)
    assert len(record["git"]["commit"]) == 40
    json.dumps(record)


def test_cli_rejects_bad_input_before_running_anything(tmp_path, capsys):
    notebooks = tmp_path / "notebooks"
    notebooks.mkdir()
    (notebooks / "01_x.ipynb").write_text("{}")
    profiles = _write_profiles(tmp_path / "profiles", {"smoke": {}, "cpu": {}, "paper": {}})
    base = ["run", "kermany", "--notebooks-dir", str(notebooks), "--profiles-dir", str(profiles),
            "--out", str(tmp_path / "results")]
    assert pipeline.main([*base, "--data", str(tmp_path / "absent")]) == 2
    assert "rscbjbr9sj" in capsys.readouterr().err
    assert pipeline.main([*base, "-p", "oops"]) == 2
    assert "key=value" in capsys.readouterr().err
    assert pipeline.main(["run", "davoodi", "--notebooks-dir", str(notebooks)]) == 2
    assert "no notebook for 'davoodi'" in capsys.readouterr().err
    assert not (tmp_path / "results").exists()


@pytest.fixture
def fake_run(tmp_path, monkeypatch):
    """run_paper on a stand-in for the notebook (no kernel): it counts its executions in
    ``executions.txt``, writes ``checkpoint.txt`` only when absent (like a resumable step), and
    raises ``error`` when one is given."""
    notebooks = tmp_path / "notebooks"
    _parameters_notebook(notebooks / "01_fixture.ipynb", "seed = 0\nsize = 64\nepochs = 1\ndata = None")
    raising = {}

    def execute(notebook, executed, parameters, log_file, on_kernel_start=None):
        out_dir = Path(parameters["out_dir"])
        executed.write_text("{}")
        counter = out_dir / "executions.txt"
        count = int(counter.read_text()) + 1 if counter.exists() else 1
        counter.write_text(str(count))
        checkpoint = out_dir / "checkpoint.txt"
        if not checkpoint.exists():
            checkpoint.write_text(f"made by execution {count}")
        time.sleep(0.05)
        if raising.get("error") is not None:
            raise raising["error"]

    monkeypatch.setattr(execution, "execute_notebook", execute)

    def run(parameters=None, refresh=False, error=None):
        raising["error"] = error
        return pipeline.run_paper(
            "kermany", "smoke", parameters or {"seed": 1}, tmp_path / "results", notebooks,
            refresh=refresh,
        )

    return run, tmp_path / "results" / "kermany"


def _run_json(folder):
    return json.loads((folder / "run.json").read_text())


def _attempts(folder):
    return json.loads((folder / pipeline.ATTEMPTS_FILE).read_text())


def _snapshot(folder):
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_every_attempt_is_recorded_and_summed(fake_run):
    run, paper_dir = fake_run
    with pytest.raises(RuntimeError, match="failed"):
        run(error=ValueError("broken"))
    assert [a["outcome"] for a in _attempts(paper_dir / "smoke.failed")] == ["failed"]
    with pytest.raises(KeyboardInterrupt):
        run(error=KeyboardInterrupt())
    assert [a["outcome"] for a in _attempts(paper_dir / "smoke.failed")] == ["failed", "interrupted"]

    results = run()
    record = _run_json(results)
    attempts = record["attempts"]
    assert [a["outcome"] for a in attempts] == ["failed", "interrupted", "done"]
    assert set(attempts[0]) == {"number", "started_utc", "finished_utc", "wall_seconds", "outcome",
                                "git_commit", "pid", "host", "command", "log"}
    assert [a["number"] for a in attempts] == [1, 2, 3]
    assert all(a["wall_seconds"] > 0 and a["started_utc"] <= a["finished_utc"] for a in attempts)
    assert record["wall_seconds"] == attempts[-1]["wall_seconds"]
    assert record["wall_seconds_total"] == pytest.approx(sum(a["wall_seconds"] for a in attempts))
    assert (results / "executions.txt").read_text() == "3"
    assert not (results / pipeline.ATTEMPTS_FILE).exists()
    assert not (results / pipeline.PARAMETERS_STAMP).exists()
    assert sorted(p.name for p in paper_dir.iterdir()) == ["smoke"]


def test_run_json_names_the_checkout_the_run_started_from(fake_run, monkeypatch):
    run, _ = fake_run
    checkout = {"commit": "a" * 40, "dirty": False}
    execute = execution.execute_notebook

    def execute_then_commit(*args, **kwargs):  # someone commits while the notebook runs
        execute(*args, **kwargs)
        checkout.update(commit="b" * 40, dirty=True)

    monkeypatch.setattr(execution, "execute_notebook", execute_then_commit)
    monkeypatch.setattr(run_records, "git_state", lambda repo=None: dict(checkout))
    record = _run_json(run())
    assert record["git"] == {"commit": "a" * 40, "dirty": False}
    assert record["attempts"][-1]["git_commit"] == "a" * 40


def test_refresh_reruns_on_top_of_the_last_good_results(fake_run):
    run, paper_dir = fake_run
    results = run()
    first = _run_json(results)
    assert run(refresh=True) == results
    assert (results / "checkpoint.txt").read_text() == "made by execution 1"
    assert (results / "executions.txt").read_text() == "2"
    record = _run_json(results)
    assert record["attempts"][0] == first["attempts"][0]
    assert [a["outcome"] for a in record["attempts"]] == ["done", "done"]
    assert record["wall_seconds_total"] == pytest.approx(sum(a["wall_seconds"] for a in record["attempts"]))
    assert sorted(p.name for p in paper_dir.iterdir()) == ["smoke"]


def test_refresh_treats_relative_and_absolute_data_paths_alike(fake_run, tmp_path):
    run, _ = fake_run
    (tmp_path / "data").mkdir()
    (tmp_path / "other").mkdir()
    results = run({"data": str(tmp_path / "data")})
    # a relative data path is relative to the repository root, where runs start
    relative = os.path.relpath(tmp_path / "data", REPO_ROOT)
    assert run({"data": relative}, refresh=True) == results
    with pytest.raises(PipelineError, match="data: "):
        run({"data": os.path.relpath(tmp_path / "other", REPO_ROOT)}, refresh=True)


def test_data_and_out_dir_are_recorded_relative_to_the_repository(tmp_path):
    assert pipeline.merge_parameters({}, data=str(REPO_ROOT / "results"))["data"] == "results"
    beside = REPO_ROOT.parent / "shared" / "data"
    assert pipeline.merge_parameters({}, data=str(beside))["data"] == "../shared/data"
    assert pipeline.merge_parameters({}, data=str(tmp_path))["data"] == str(tmp_path.resolve())


def test_refresh_of_a_run_json_without_attempts_counts_that_run(fake_run):
    run, _ = fake_run
    results = run()
    old = _run_json(results)
    del old["attempts"], old["wall_seconds_total"]
    old["wall_seconds"] = 600.0
    (results / "run.json").write_text(json.dumps(old))
    record = _run_json(run(refresh=True))
    assert record["attempts"][0] == {
        "started_utc": (datetime.fromisoformat(old["finished_utc"]) - timedelta(seconds=600)).isoformat(),
        "finished_utc": old["finished_utc"], "wall_seconds": 600.0, "outcome": "done",
        "git_commit": old["git"]["commit"],
    }
    assert record["wall_seconds_total"] == pytest.approx(600.0 + record["wall_seconds"])


def test_refresh_needs_previous_results_with_the_same_parameters(fake_run):
    run, paper_dir = fake_run
    with pytest.raises(PipelineError, match="nothing to refresh.*run without --refresh"):
        run(refresh=True)
    results = run({"seed": 1, "size": 32})
    before = _snapshot(results)
    with pytest.raises(PipelineError) as error:
        run({"seed": 2, "epochs": 3}, refresh=True)
    message = str(error.value)
    assert "other parameters" in message and "without --refresh" in message
    assert "seed: 1 -> 2" in message and "epochs: (unset) -> 3" in message
    assert "size: 32 -> (unset)" in message
    assert _snapshot(results) == before
    assert sorted(p.name for p in paper_dir.iterdir()) == ["smoke"]


def test_refresh_counts_a_parameter_the_run_left_unset_at_its_executed_notebook_default(fake_run):
    run, _ = fake_run
    results = run({"seed": 1})
    # The executed copy shows the defaults of the notebook as it ran (epochs = 3 then); a
    # profile that now pins epochs at 3 made the same run, one at 4 did not.
    _parameters_notebook(results / _run_json(results)["notebook"], "seed = 0\nsize = 64\nepochs = 3")
    assert run({"seed": 1, "epochs": 3}, refresh=True) == results
    with pytest.raises(PipelineError, match="epochs: 3 -> 4"):
        run({"seed": 1, "epochs": 4}, refresh=True)


def test_a_failed_refresh_leaves_the_results_untouched_and_resumes_normally(fake_run):
    run, paper_dir = fake_run
    results = run()
    before = _snapshot(results)
    with pytest.raises(RuntimeError, match="untouched"):
        run(refresh=True, error=ValueError("closing cell broken"))
    assert _snapshot(results) == before
    failed = paper_dir / "smoke.failed"
    assert [a["outcome"] for a in _attempts(failed)] == ["done", "failed"]
    assert not (failed / "run.json").exists()
    with pytest.raises(PipelineError, match="unfinished run with these parameters.*without --refresh"):
        run(refresh=True)

    run()  # the ordinary resume from the failed refresh
    record = _run_json(results)
    assert [a["outcome"] for a in record["attempts"]] == ["done", "failed", "done"]
    assert (results / "executions.txt").read_text() == "3"
    assert (results / "checkpoint.txt").read_text() == "made by execution 1"
    assert sorted(p.name for p in paper_dir.iterdir()) == ["smoke"]


def test_cli_refresh_applies_to_each_paper(fake_run, tmp_path, capsys):
    _write_profiles(tmp_path / "profiles", {"smoke": {"seed": 1}})
    base = ["run", "all", "--notebooks-dir", str(tmp_path / "notebooks"), "--profiles-dir",
            str(tmp_path / "profiles"), "--out", str(tmp_path / "results")]
    assert pipeline.main([*base, "--refresh"]) == 1
    assert "nothing to refresh" in capsys.readouterr().err
    assert pipeline.main(base) == 0
    assert pipeline.main([*base, "--refresh"]) == 0
    results = tmp_path / "results" / "kermany" / "smoke"
    assert (results / "executions.txt").read_text() == "2"
    assert pipeline.main([*base, "--refresh", "-p", "seed=2"]) == 1
    assert "seed: 1 -> 2" in capsys.readouterr().err


def test_git_state_is_dirty_for_code_changes_but_not_for_results(tmp_path):
    import subprocess

    def git(*args):
        subprocess.run(["git", "-C", str(tmp_path), *args], check=True, capture_output=True)

    git("init", "-q")
    (tmp_path / "code.py").write_text("x = 1\n")
    (tmp_path / "results").mkdir()
    (tmp_path / "results" / "table.csv").write_text("a\n1\n")
    git("add", ".")
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "init")
    assert pipeline.git_state(tmp_path)["dirty"] is False
    (tmp_path / "results" / "table.csv").write_text("a\n2\n")
    assert pipeline.git_state(tmp_path)["dirty"] is False
    (tmp_path / "code.py").write_text("x = 2\n")
    state = pipeline.git_state(tmp_path)
    assert state["dirty"] is True and len(state["commit"]) == 40


@pytest.mark.parametrize("paper", ["kermany", "salehinejad", "ng-gubbi", "davoodi", "all"])
def test_make_reproduce_targets_call_the_runner_with_profile_data_and_params(paper):
    import shutil
    import subprocess

    if shutil.which("make") is None:
        pytest.skip("GNU make is not installed")
    dry_run = subprocess.run(  # --no-print-directory: under `make test` this make is nested
        ["make", "-n", "--no-print-directory", f"reproduce-{paper}", "PROFILE=smoke",
         "DATA=/data/x", "PARAMS=-p seed=1"],
        cwd=pipeline.REPO_ROOT, capture_output=True, text=True, check=True,
    ).stdout
    assert (f"-m tools.pipeline run {paper} --profile smoke --data /data/x -p seed=1"
            in dry_run.splitlines()[-1])


@pytest.mark.notebook
def test_the_kernel_keeps_c_level_noise_and_widgets_out_of_the_executed_copy(tmp_path):
    notebooks = tmp_path / "notebooks"
    notebook = _parameters_notebook(notebooks / "01_env.ipynb", "out_dir = 'unset'")
    cells = nbformat.read(notebook, as_version=4)
    cells.cells.append(new_code_cell(
        "import os, sys\n"
        "os.write(2, b'I0000 00:00:1 port.cc:153] oneDNN custom operations are on\\n')\n"
        "print(os.environ['TF_CPP_MIN_LOG_LEVEL'], os.environ['CXR_KERAS_PLAIN_PROGRESS'])\n"
        "print(sys.executable)\n"
        "from cxr_keras.progress import progress_bar\n"
        "for _ in progress_bar(range(3), desc='loop'): pass"
    ))
    nbformat.write(cells, notebook)
    (tmp_path / "profiles").mkdir()
    (tmp_path / "profiles" / "kermany.yaml").write_text("smoke: {}\n")
    assert pipeline.main(["run", "kermany", "--out", str(tmp_path / "results"), "--notebooks-dir",
                          str(notebooks), "--profiles-dir", str(tmp_path / "profiles")]) == 0
    results = tmp_path / "results" / "kermany" / "smoke"
    executed = nbformat.read(results / "01_env.ipynb", as_version=4)
    outputs = [o for cell in executed.cells for o in cell.get("outputs", [])]
    text = "".join(o.get("text", "") for o in outputs)
    assert "oneDNN" not in text and not any("data" in o for o in outputs)
    assert text.startswith(f"3 1\n{sys.executable}\n") and "loop: 100%" in text
    log = (results / "attempt-1.log").read_text()
    assert "oneDNN custom operations" in log and "3 1" in log


def test_runs_with_other_parameters_park_unfinished_work_for_its_own_resume(fake_run, caplog):
    run, paper_dir = fake_run
    with pytest.raises(KeyboardInterrupt):
        run({"seed": 1}, error=KeyboardInterrupt())
    stopped = _snapshot(paper_dir / "smoke.failed")
    with caplog.at_level("INFO", logger="tools.pipeline"):
        run({"seed": 2})  # succeeds, with other parameters
    assert "kept the unfinished run" in caplog.text and "seed: 1 -> 2" in caplog.text
    parked = next((paper_dir / ".smoke.unfinished").iterdir())
    assert _snapshot(parked) == stopped
    with pytest.raises(PipelineError, match=f"{parked} holds an unfinished run"):
        run({"seed": 1}, refresh=True)

    results = run({"seed": 1})  # the resume, from the parked folder
    assert (results / "checkpoint.txt").read_text() == "made by execution 1"
    assert [a["outcome"] for a in _run_json(results)["attempts"]] == ["interrupted", "done"]
    assert sorted(p.name for p in paper_dir.iterdir()) == ["smoke"]


def test_a_parked_run_resumes_when_a_profile_now_pins_the_default_it_ran_with(fake_run):
    run, paper_dir = fake_run
    with pytest.raises(KeyboardInterrupt):
        run({"seed": 1}, error=KeyboardInterrupt())
    executed = next((paper_dir / "smoke.failed").glob("*.ipynb"))
    _parameters_notebook(executed, "seed = 0\nsize = 64\nepochs = 3")  # the defaults it ran with
    run({"seed": 2})  # parks it
    results = run({"seed": 1, "epochs": 3})  # epochs pinned at the default of that run
    assert (results / "checkpoint.txt").read_text() == "made by execution 1"
    assert [a["outcome"] for a in _run_json(results)["attempts"]] == ["interrupted", "done"]


def test_unfinished_work_without_or_with_a_broken_parameter_stamp_is_named(fake_run, caplog):
    run, paper_dir = fake_run
    staging = paper_dir / ".smoke.partial"
    staging.mkdir(parents=True)  # a runner killed before it stamped the folder
    with caplog.at_level("INFO", logger="tools.pipeline"):
        run()
    assert f"removing {staging}: it holds no .parameters.json" in caplog.text
    staging.mkdir()
    (staging / pipeline.PARAMETERS_STAMP).write_text("{truncated")
    with pytest.raises(PipelineError, match=f"{staging}/.parameters.json is unreadable.*delete"):
        run()
