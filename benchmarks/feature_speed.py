"""How fast the FID Inception port extracts features, against what this machine's convs allow.

Prints (1) the machine's conv2d rate in GFLOP/s (a large 3x3 conv, best of a few runs),
(2) the port's FLOPs per 299x299 image, counted from its conv layers, (3) images/s for each
batch size with XLA on and off (channels_last, TensorFlow's layout on CPU), with the fraction
of the conv limit reached (each batch paired with an equally long conv-rate run), and
(4) FID(2048) and FID(768) between the Kermany sample's train NORMAL and test NORMAL images
(real vs real: a floor for generated-image FIDs at this sample size).
The CPU may be shared: run with ``nice`` and read timings as noisy.

    nice .venv/bin/python benchmarks/feature_speed.py [--batch-sizes 32 64] [--no-fid]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np


def conv_rate_gflops(repeats: int = 5, seconds: float | None = None) -> float:
    """GFLOP/s of a Mixed_5-sized 3x3 conv (8x35x35x288 -> 384 channels) in TensorFlow.

    The best of `repeats` runs, or, with `seconds`, the average over that long a stretch (to
    compare with a timed batch of the same length on a shared CPU).
    """
    import tensorflow as tf

    images = tf.random.normal((8, 35, 35, 288))
    kernel = tf.random.normal((3, 3, 288, 384))
    conv = tf.function(lambda x: tf.nn.conv2d(x, kernel, 1, "SAME"))
    flops = 2 * 8 * 35 * 35 * 288 * 384 * 9
    conv(images).numpy()
    if seconds is None:
        return flops / min(_timed(lambda: conv(images).numpy()) for _ in range(repeats)) / 1e9
    runs, start = 0, time.perf_counter()
    while runs == 0 or time.perf_counter() - start < seconds:
        conv(images).numpy()
        runs += 1
    return runs * flops / (time.perf_counter() - start) / 1e9


def model_gflops_per_image(model) -> float:
    """Multiply-adds x 2 of every conv at 299x299 (pools, resize and ReLUs are negligible)."""
    import keras

    total = 0
    for layer in model.layers:
        if isinstance(layer, keras.layers.Conv2D):
            _, height, width, filters = layer.output.shape
            kh, kw, channels_in, _ = layer.kernel.shape
            total += 2 * height * width * filters * kh * kw * channels_in
    return total / 1e9


def _timed(function) -> float:
    start = time.perf_counter()
    function()
    return time.perf_counter() - start


def paired_speed(batch_size: int, jit_compile: bool, batches: int, per_image: float) -> dict:
    """Median img/s of extract_features on 128x128 grayscale images (the Kermany format), and
    the median fraction of the conv limit, each batch paired with a conv-rate run of the same
    length right after it (the CPU is shared: the two compare only when measured side by side)."""
    from cxr_keras.metrics.features import extract_features
    from cxr_keras.metrics.inception import load_fid_inception

    model = load_fid_inception()
    model.compile(jit_compile=jit_compile)
    rng = np.random.default_rng(0)
    images = rng.uniform(-1, 1, (batch_size, 128, 128, 1)).astype(np.float32)

    def run():
        return extract_features(images, model=model, batch_size=batch_size, progress=False)

    run()  # trace / compile
    speeds, rates = [], []
    for _ in range(batches):
        seconds = _timed(run)
        speeds.append(batch_size / seconds)
        rates.append(conv_rate_gflops(seconds=seconds))
    fractions = np.array(speeds) * per_image / np.array(rates)
    return {"img_s": np.median(speeds), "rate": np.median(rates), "fraction": np.median(fractions)}


def kermany_normal_fid(data_root: Path, batch_size: int) -> dict[str, float]:
    """FID(2048) and FID(768) of train vs test NORMAL; features cached in .cache/features."""
    from cxr_keras.data.images import decode_image
    from cxr_keras.metrics.features import cached_features
    from cxr_keras.metrics.frechet import fid_from_features

    base = data_root / "kermany_chest_xray" / "chest_xray"
    preprocessing = {
        "image_size": 128,
        "channels": 1,
        "decode": "cxr_keras.data.images.decode_image",
    }

    def load(files):
        return np.stack([decode_image(path, 128, channels=1) for path in files])

    features = {
        split: cached_features(
            sorted(map(str, (base / split / "NORMAL").glob("*.png"))),
            load,
            preprocessing,
            batch_size=batch_size,
        )
        for split in ("train", "test")
    }
    counts = {split: len(f[2048]) for split, f in features.items()}
    return {
        "n_train": counts["train"],
        "n_test": counts["test"],
        **{
            f"fid_{dims}": fid_from_features(features["train"][dims], features["test"][dims])
            for dims in (2048, 768)
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[32, 64])
    parser.add_argument("--batches", type=int, default=3, help="timed batches per setting")
    parser.add_argument("--no-fid", action="store_true", help="skip the Kermany FID")
    args = parser.parse_args()

    import tensorflow as tf

    from cxr_keras.metrics.inception import FIDInceptionV3
    from cxr_keras.paths import shared_data_root

    print(
        f"TensorFlow {tf.__version__}, {os.cpu_count()} CPUs visible, "
        f"load average {os.getloadavg()[0]:.2f}"
    )
    rate = conv_rate_gflops()
    per_image = model_gflops_per_image(FIDInceptionV3())
    print(f"machine conv rate: {rate:.1f} GFLOP/s (3x3 conv, 8x35x35x288 -> 384)")
    print(
        f"FID Inception: {per_image:.2f} GFLOP per 299x299 image "
        f"-> conv limit {rate / per_image:.2f} img/s"
    )
    print(f"{'batch':>5} {'jit':>5} {'img/s':>7} {'conv GFLOP/s':>13} {'of limit':>9}  (medians)")
    for batch_size in args.batch_sizes:
        for jit in (False, True):
            result = paired_speed(batch_size, jit, args.batches, per_image)
            print(
                f"{batch_size:5d} {jit!s:>5} {result['img_s']:7.2f} {result['rate']:13.1f} "
                f"{result['fraction']:8.0%}",
                flush=True,
            )
    root = shared_data_root()
    if args.no_fid or root is None:
        print("Kermany FID skipped" + ("" if args.no_fid else ": no shared data root"))
        return
    start = time.perf_counter()
    result = kermany_normal_fid(root, batch_size=args.batch_sizes[0])
    print(
        f"Kermany NORMAL train ({result['n_train']}) vs test ({result['n_test']}) at 128 px: "
        f"FID(2048) {result['fid_2048']:.2f}, FID(768) {result['fid_768']:.3f} "
        f"({time.perf_counter() - start:.0f} s)"
    )


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    main()
