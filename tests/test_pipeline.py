import json

import pytest
import yaml

from cxr_keras import pipeline
from cxr_keras.pipeline import PipelineError


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
            assert isinstance(pipeline.load_profile(path.stem, profile), dict)


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


def test_overrides_are_parsed_as_yaml_and_malformed_ones_rejected():
    assert pipeline.parse_overrides(["a=1", "b=0.5", "c=text", "d=", "e=x=y"]) == {
        "a": 1, "b": 0.5, "c": "text", "d": None, "e": "x=y",
    }
    with pytest.raises(PipelineError, match="key=value, got 'epochs'"):
        pipeline.parse_overrides(["epochs"])


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
