"""Fingerprints of what made an artefact, so a run never reuses one made from other inputs. Details:
docs/modules.md."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from cxr_keras.io import write_json

STAMP_NAME = ".fingerprint.json"


class StaleArtefactError(ValueError):
    """An artefact on disk was made from other parameters or inputs than the caller's."""


def array_digest(array) -> str:
    """A short hash of an array's dtype, shape and bytes (stands for the array in a stamp)."""
    array = np.ascontiguousarray(np.asarray(array))
    digest = hashlib.sha256(f"{array.dtype.str}{array.shape}".encode())
    digest.update(array.tobytes())
    return f"array:{digest.hexdigest()[:16]}"


def canonical(inputs: Mapping[str, Any]) -> dict[str, Any]:
    """``inputs`` as plain JSON values (arrays become their :func:`array_digest`)."""
    if not isinstance(inputs, Mapping):
        raise TypeError(f"inputs must be a mapping of names to values, got {type(inputs).__name__}")
    return json.loads(json.dumps(dict(inputs), sort_keys=True, default=_jsonable))


def fingerprint(inputs: Mapping[str, Any]) -> str:
    """The SHA-256 of :func:`canonical` ``inputs`` (key order does not matter)."""
    text = json.dumps(canonical(inputs), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def read_stamp(directory: str | os.PathLike) -> dict[str, Any] | None:
    """The stamp in ``directory`` ({"fingerprint", "inputs"}), or None when there is none."""
    path = Path(directory) / STAMP_NAME
    if not path.is_file():
        return None
    try:
        stamp = json.loads(path.read_text())
    except (OSError, ValueError) as error:
        raise StaleArtefactError(
            f"{path} is unreadable ({error}); delete {Path(directory)} to rebuild it"
        ) from error
    if not isinstance(stamp, dict) or "fingerprint" not in stamp:
        raise StaleArtefactError(f"{path} is not a fingerprint stamp; delete {Path(directory)} to rebuild it")
    return stamp


def write_stamp(directory: str | os.PathLike, inputs: Mapping[str, Any]) -> Path:
    """Write ``directory/.fingerprint.json`` for ``inputs`` (atomically)."""
    return write_json(Path(directory) / STAMP_NAME,
                      {"fingerprint": fingerprint(inputs), "inputs": canonical(inputs)})


def check_stamp(directory: str | os.PathLike, inputs: Mapping[str, Any], what: str = "artefact") -> bool:
    """Whether ``directory`` holds an artefact made from exactly ``inputs``.

    False when the folder has no stamp (nothing to reuse: make it and :func:`write_stamp`).
    Raises :class:`StaleArtefactError`, naming the folder and each input that differs, when
    the stamp was made from other inputs.
    """
    stamp = read_stamp(directory)
    if stamp is None:
        return False
    if stamp["fingerprint"] == fingerprint(inputs):
        return True
    raise StaleArtefactError(
        f"{what} in {Path(directory)} was made from other inputs "
        f"({'; '.join(differences(stamp.get('inputs') or {}, canonical(inputs))) or 'unknown'}); "
        f"delete {Path(directory)} to make it again with these inputs, or use the inputs it was made with"
    )


def differences(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    """``["epochs: 3 -> 5", "seed: (unset) -> 1"]`` for the keys whose values differ."""
    def shown(values, key):
        return repr(values[key]) if key in values else "(unset)"

    return [f"{key}: {shown(old, key)} -> {shown(new, key)}"
            for key in sorted(set(old) | set(new))
            if (key in old, old.get(key)) != (key in new, new.get(key))]


def _jsonable(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return array_digest(value)
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (Path, os.PathLike)):
        return str(value)
    if isinstance(value, (set, frozenset)):
        return sorted(value)
    raise TypeError(f"cannot fingerprint a {type(value).__name__}; pass a number, string, list, "
                    "mapping or numpy array")
