"""Which notebook a paper runs, its profiles, and the parameters a run gets, checked before running."""

from __future__ import annotations

import ast
import difflib
import json
import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from cxr_keras.paths import REPO_ROOT, display_path

NOTEBOOKS_DIR = REPO_ROOT / "notebooks"
# The notebooks' parameter sets ship with the student's package, not with the runner.
PROFILES_DIR = REPO_ROOT / "cxr_keras" / "profiles"
PROFILES = ("smoke", "demo", "cpu", "paper")
FALLBACK_PROFILES = {"demo": "smoke"}  # a paper without a demo section runs its smoke one
# Paper name -> notebook number; `all` runs them in this order.
PAPERS = {"tour": "00", "kermany": "01", "salehinejad": "02", "ng-gubbi": "03", "davoodi": "04",
          "pneumoniamnist": "05"}
PHANTOMS = "phantoms"
# Parameters the runner sets itself: a user value would be overwritten or mislead.
RUNNER_PARAMETERS = {"out_dir": "--out"}
ON_ERROR_CHOICES = ("raise", "skip")
DATA_SOURCES = {
    "kermany": (
        "Kermany pediatric chest X-rays: Mendeley Data doi:10.17632/rscbjbr9sj.2 or Kaggle "
        "'chest-xray-pneumonia'. Unpack it and pass the folder holding train/ and test/, "
        "e.g. DATA=/path/to/chest_xray (make) or --data /path/to/chest_xray"
    ),
    "pneumoniamnist": (
        "PneumoniaMNIST: the official pneumoniamnist.npz of the MedMNIST v2 release. Pass the "
        "file, or a folder holding pneumoniamnist/pneumoniamnist.npz, e.g. DATA=/path/to/data"
    ),
}


class PipelineError(Exception):
    """Bad input to the runner (unknown paper, missing profile or data): nothing was run."""


class _ScalarLoader(yaml.SafeLoader):
    """YAML 1.1 safe loading, except that ``2e-4`` and ``1e6`` are floats (as in YAML 1.2)."""


_ScalarLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:[0-9][0-9_]*(?:\.[0-9_]*)?|\.[0-9_]+)[eE][-+]?[0-9]+$"),
    list("-+0123456789."),
)


def parse_yaml(text: str) -> Any:
    """Parse YAML with floats in any notation (``2e-4`` is a float, not a string)."""
    return yaml.load(text, Loader=_ScalarLoader)


def find_notebook(paper: str, notebooks_dir: str | os.PathLike = NOTEBOOKS_DIR) -> Path | None:
    """Return the notebook numbered for ``paper`` (e.g. ``01_*.ipynb``), or None if absent."""
    if paper not in PAPERS:
        raise PipelineError(f"unknown paper {paper!r}; choose one of {list(PAPERS)} or 'all'")
    matches = sorted(Path(notebooks_dir).glob(f"{PAPERS[paper]}_*.ipynb"))
    return matches[0] if matches else None


def load_profile(
    paper: str, profile: str, profiles_dir: str | os.PathLike = PROFILES_DIR
) -> dict[str, Any]:
    """Read the ``profile`` section of ``<profiles_dir>/<paper>.yaml`` (for a profile of
    :data:`FALLBACK_PROFILES` the YAML lacks, the section it falls back to)."""
    return read_profile(paper, profile, profiles_dir)[1]


def read_profile(
    paper: str, profile: str, profiles_dir: str | os.PathLike = PROFILES_DIR
) -> tuple[str, dict[str, Any]]:
    """``(where, values)`` of :func:`load_profile`: ``where`` names the file and section, e.g.
    ``profile cxr_keras/profiles/kermany.yaml [smoke]``, for error messages."""
    path = Path(profiles_dir) / f"{paper}.yaml"
    if not path.is_file():
        raise PipelineError(
            f"no parameter profiles for {paper!r}: {path} is missing; create it with the "
            f"sections {list(PROFILES)}"
        )
    profiles = read_yaml_mapping(path)
    if profile not in profiles and FALLBACK_PROFILES.get(profile) in profiles:
        profile = FALLBACK_PROFILES[profile]
    if profile not in profiles:
        raise PipelineError(f"{path} has no {profile!r} section (it has {sorted(profiles)})")
    values = profiles[profile] or {}
    if not isinstance(values, dict):
        raise PipelineError(f"{path}: the {profile!r} section must map parameter names to values")
    return f"profile {path} [{profile}]", dict(values)


def parse_overrides(pairs: Sequence[str]) -> dict[str, Any]:
    """Turn ``["epochs=3", "lr=2e-4", "methods=[flip, gan]"]`` into a dict of YAML values."""
    overrides = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise PipelineError(f"-p expects key=value, got {pair!r}")
        try:
            overrides[key.strip()] = parse_yaml(value)
        except yaml.YAMLError as error:
            raise PipelineError(f"-p {pair!r}: the value is not valid YAML ({error})") from error
    return overrides


def merge_parameters(
    profile_params: dict[str, Any],
    params_file: str | os.PathLike | None = None,
    overrides: dict[str, Any] | None = None,
    data: str | None = None,
) -> dict[str, Any]:
    """Merge profile < params file < ``-p`` overrides < ``--data`` (one spelling however it was
    typed: relative to the repository when inside or beside it, ``../shared/data``, else
    absolute; the kernel runs in the repository root)."""
    parameters = dict(profile_params)
    if params_file is not None:
        parameters.update(read_yaml_mapping(Path(params_file)))
    parameters.update(overrides or {})
    if data is not None:
        parameters["data"] = data if data == PHANTOMS else portable_path(data)
    return parameters


def portable_path(path: str | os.PathLike) -> str:
    """``path`` relative to the repository root when inside or beside it, else absolute: no
    run machine's absolute path in parameters, ``run.json`` or executed notebooks."""
    return display_path(Path(path).resolve(), base=REPO_ROOT)


def check_data(paper: str, parameters: dict[str, Any]) -> None:
    """Fail early, saying where to get the data, when ``data`` names a missing folder."""
    data = parameters.get("data", PHANTOMS)
    if data in (None, PHANTOMS) or Path(str(data)).expanduser().exists():
        return
    source = DATA_SOURCES.get(paper, "see the notebook's first cells for the expected layout")
    raise PipelineError(
        f"data folder {data} does not exist. Get the data set from {source}; or pass "
        f"--data {PHANTOMS} to run on the embedded phantoms."
    )


def notebook_parameters(notebook: str | os.PathLike) -> dict[str, Any]:
    """The names the notebook's ``parameters`` cell assigns, each with its literal default
    (``...`` when the default is an expression, so its type is unknown)."""
    return {name: _literal(value) for name, value, _ in _parameter_assignments(notebook)}


def declared_types(notebook: str | os.PathLike) -> dict[str, set[type]]:
    """The types the ``parameters`` cell's annotations allow, for the names annotated with
    built-in types only (``patience: int | None = 10`` gives ``{int, NoneType}``)."""
    declared = {}
    for name, _, annotation in _parameter_assignments(notebook):
        types = _annotation_types(annotation)
        if types:
            declared[name] = _widened(types)
    return declared


def check_parameters(
    notebook: str | os.PathLike, given: Mapping[str, Any], profile_params: Mapping[str, Any],
    source: str | None = None,
) -> None:
    """Refuse a name the notebook does not declare (suggesting the closest ones) and a value
    whose type differs from the notebook's annotation, else from its default and the profile's
    value. ``source`` (a profile or parameters file) starts each error message."""
    if not given:
        return
    notebook = Path(notebook)
    defaults, declared = notebook_parameters(notebook), declared_types(notebook)
    where = f"{source}: " if source else ""
    for name, value in given.items():
        if name in RUNNER_PARAMETERS:
            raise PipelineError(
                f"{where}parameter {name!r} is set by the runner; use "
                f"{RUNNER_PARAMETERS[name]} instead"
            )
        if name not in defaults:
            close = difflib.get_close_matches(name, list(defaults), n=3, cutoff=0.6)
            hint = f"did you mean {' or '.join(map(repr, close))}? " if close else ""
            raise PipelineError(
                f"{where}unknown parameter {name!r}: {notebook.name} has no such parameter; "
                f"{hint}it takes {', '.join(sorted(set(defaults) - set(RUNNER_PARAMETERS)))}"
            )
        expected = declared.get(name) or _expected_types(defaults[name],
                                                         profile_params.get(name, ...))
        if expected and not _has_type(value, expected):
            names = " or ".join(sorted({t.__name__ for t in expected}))
            raise PipelineError(
                f"{where}parameter {name!r} expects {names} (the notebook's default is "
                f"{defaults[name]!r}), got {value!r} ({type(value).__name__})"
            )


def set_on_error(notebook: str | os.PathLike, parameters: dict[str, Any], on_error: str) -> None:
    """Set the notebook parameter ``on_error`` (what loaders do with unreadable images)."""
    notebook = Path(notebook)
    if on_error not in ON_ERROR_CHOICES:
        raise PipelineError(f"--on-error must be one of {ON_ERROR_CHOICES}, got {on_error!r}")
    if "on_error" not in notebook_parameters(notebook):
        raise PipelineError(
            f"--on-error {on_error}: {notebook.name} has no 'on_error' parameter, so its "
            f"loaders cannot be told to skip unreadable images; run without --on-error"
        )
    parameters["on_error"] = on_error


def read_yaml_mapping(path: Path) -> dict[str, Any]:
    """Read a YAML file that must hold a mapping; errors name the file."""
    if not path.is_file():
        raise PipelineError(f"parameters file {path} does not exist")
    try:
        content = parse_yaml(path.read_text())
    except yaml.YAMLError as error:
        raise PipelineError(f"{path} is not valid YAML: {error}") from error
    if not isinstance(content, dict):
        raise PipelineError(f"{path} must hold a mapping of parameter names to values")
    return content


def _literal(node: ast.AST | None) -> Any:
    try:
        return ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError):
        return ...


def _parameter_assignments(notebook: str | os.PathLike):
    """``(name, value node, annotation node or None)`` for each name the notebook's one cell
    tagged ``parameters`` assigns."""
    notebook = Path(notebook)
    try:  # plain JSON: nbformat's validator takes seconds to import
        cells = json.loads(notebook.read_text())["cells"]
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise PipelineError(f"{notebook} is not a readable notebook: {error!r}") from error
    tagged = [cell for cell in cells
              if "parameters" in (cell.get("metadata") or {}).get("tags", [])]
    if len(tagged) != 1:
        raise PipelineError(
            f"{notebook} needs exactly one cell tagged 'parameters' (found {len(tagged)})"
        )
    source = tagged[0].get("source", "")
    for node in ast.parse(source if isinstance(source, str) else "".join(source)).body:
        targets = node.targets if isinstance(node, ast.Assign) else [getattr(node, "target", None)]
        for target in targets:
            if isinstance(target, ast.Name):
                yield target.id, getattr(node, "value", None), getattr(node, "annotation", None)


ANNOTATION_TYPES = {"int": int, "float": float, "str": str, "bool": bool, "list": list,
                    "tuple": tuple, "dict": dict, "None": type(None)}


def _annotation_types(node: ast.AST | None) -> set[type]:
    """The built-in types an annotation such as ``int | None`` names (empty: not one of
    :data:`ANNOTATION_TYPES` or their unions, so anything goes)."""
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr):
        left, right = _annotation_types(node.left), _annotation_types(node.right)
        return left | right if left and right else set()
    if isinstance(node, ast.Constant) and node.value is None:
        return {type(None)}
    if isinstance(node, ast.Name) and node.id in ANNOTATION_TYPES:
        return {ANNOTATION_TYPES[node.id]}
    return set()


def _expected_types(default: Any, profile_value: Any) -> set[type]:
    """Types a value may have, from the default and the profile (empty: anything goes)."""
    known = [v for v in (default, profile_value) if v is not ... and v is not None]
    if not known:
        return set()
    types = _widened({type(v) for v in known})
    if default is None:
        types.add(type(None))
    return types


def _widened(types: set[type]) -> set[type]:
    """``types`` with int where float is allowed and list where tuple is."""
    return types | ({int} if float in types else set()) | ({list} if tuple in types else set())


def _has_type(value: Any, expected: set[type]) -> bool:
    if isinstance(value, bool):
        return bool in expected
    return any(isinstance(value, t) for t in expected if t is not bool)
