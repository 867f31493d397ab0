"""benchmarks/candidates.py: ``--candidate name=JSON`` of the recipe benchmarks."""

import importlib.util
from pathlib import Path

import pytest

SPEC = importlib.util.spec_from_file_location(
    "candidates", Path(__file__).resolve().parents[1] / "benchmarks" / "candidates.py")
candidates = importlib.util.module_from_spec(SPEC)
SPEC.loader.exec_module(candidates)


def test_candidates_parse_by_name_and_bad_ones_exit_naming_the_item():
    parsed = candidates.parse_candidates(['ms3={"mode_seeking": 3.0, "batch_size": 8}', "plain={}"])
    assert parsed == {"ms3": {"mode_seeking": 3.0, "batch_size": 8}, "plain": {}}
    with pytest.raises(SystemExit, match="'ms3=mode_seeking': not name=<JSON recipe>"):
        candidates.parse_candidates(["ms3=mode_seeking"])
    with pytest.raises(SystemExit, match="give a name and a JSON object"):
        candidates.parse_candidates(['=["batch_size"]'])
    with pytest.raises(SystemExit, match="give a name and a JSON object"):
        candidates.parse_candidates(["ms3=[1, 2]"])
