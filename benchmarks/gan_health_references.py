"""Where "real" and "one image" sit on the Kermany sample: the two health references, measured.

For the Kermany sample's NORMAL class (train images as the GAN's training set, the official
test images as held-out real images), prints for each count n of generated images the real
floor (n training images vs the held-out ones) and the collapsed reference (one training image
repeated n times with faint noise) in Inception space (2048-d and 768-d): FID, KID, precision,
recall, density, coverage, diversity ratio and nearest-distance ratio, all from
:func:`cxr_keras.health.reference_points`, exactly as :func:`cxr_keras.health.gan_health`
measures a GAN. With ``--cxr-epochs E`` it also trains the kit's Davoodi CNN (grayscale, the
image size given) for E epochs on the sample's train split, NORMAL vs PNEUMONIA, and adds its
penultimate layer as the chest X-ray feature space. With ``--verdicts`` it also runs
:func:`cxr_keras.health.gan_health` on stand-in "GANs" made of real images (half the test
images as samples, the other half held out): the held-out images themselves, with mild
noise, blurred, one of them repeated with faint noise, and copies of training images, and
prints each verdict.
The CPU may be shared: run with ``nice``.

    nice .venv/bin/python benchmarks/gan_health_references.py [--size 64] [--counts 308 234]
        [--cxr-epochs 3] [--verdicts] [--out results/health_references.csv]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np
import pandas as pd

COLUMNS = ["fid", "kid", "precision", "recall", "density", "coverage", "diversity", "nearest_ratio"]


def load_split(base: Path, split: str, label: str, size: int) -> np.ndarray:
    from cxr_keras.data.images import decode_image

    files = sorted((base / split / label).glob("*.png"))
    return np.stack([decode_image(path, size, channels=1) for path in files])


def cxr_classifier(base: Path, size: int, epochs: int, normal_train: np.ndarray):
    """The kit's Davoodi CNN trained on the sample's train split, NORMAL (0) vs PNEUMONIA (1)."""
    import keras

    from cxr_keras.models.classifiers import davoodi_cnn

    pneumonia = load_split(base, "train", "PNEUMONIA", size)
    x = np.concatenate([normal_train, pneumonia]).astype(np.float32)
    y = np.repeat([0, 1], [len(normal_train), len(pneumonia)])
    keras.utils.set_random_seed(0)
    model = davoodi_cnn(num_classes=2, image_size=size, channels=1)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    history = model.fit(x, y, epochs=epochs, batch_size=32, shuffle=True, verbose=0)
    print(
        f"CXR classifier: train accuracy {history.history['accuracy'][-1]:.3f} after {epochs} epochs"
    )
    return model


def stand_in_verdicts(train, test, embedders, kid_subsets: int) -> pd.DataFrame:
    """gan_health on real-image stand-ins whose right verdict is known."""
    from scipy.ndimage import gaussian_filter

    from cxr_keras.health import GANSamples, collapsed_images, gan_health

    half = len(test) // 2
    samples, holdout = test[:half], test[half:]
    noise = np.random.default_rng(0).normal(0.0, 0.05, samples.shape)
    stand_ins = {
        "held-out real": samples,
        "real + noise 0.05": np.clip(samples + noise, -1, 1),
        "real blurred 0.7 px": gaussian_filter(samples, sigma=(0, 0.7, 0.7, 0)),
        "one image + faint noise": collapsed_images(samples, half, seed=1),
        "training copies": train[:half],
    }
    gans = {name: GANSamples(images, train, holdout) for name, images in stand_ins.items()}
    return gan_health(gans, embedders, kid_subsets=kid_subsets)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--counts", type=int, nargs="*", default=[308, 234])
    parser.add_argument("--verdicts", action="store_true")
    parser.add_argument("--cxr-epochs", type=int, default=0)
    parser.add_argument("--kid-subsets", type=int, default=100)
    parser.add_argument("--out", type=Path, default=None, help="also write the table as CSV")
    args = parser.parse_args()

    from cxr_keras.health import (
        classifier_embedder,
        inception_embedder,
        reference_points,
        remembering,
    )
    from cxr_keras.io import write_csv
    from cxr_keras.paths import KERMANY_DIR, shared_data_root

    root = shared_data_root()
    if root is None:
        sys.exit("no real samples: set CXR_KERAS_DATA or provide ../shared/data")
    base = root / KERMANY_DIR / "chest_xray"
    train = load_split(base, "train", "NORMAL", args.size)
    holdout = load_split(base, "test", "NORMAL", args.size)
    print(f"Kermany NORMAL at {args.size} px: {len(train)} train, {len(holdout)} held-out (test)")
    embedders = [remembering(inception_embedder())]
    if args.cxr_epochs:
        embedders.append(
            remembering(
                classifier_embedder(cxr_classifier(base, args.size, args.cxr_epochs, train))
            )
        )
    rows = []
    for n in args.counts:
        start = time.perf_counter()
        points = reference_points(train, holdout, n, embedders, kid_subsets=args.kid_subsets)
        seconds = time.perf_counter() - start
        for space, references in points.items():
            for reference, metrics in references.items():
                rows.append({"n": n, "space": space, "reference": reference, **metrics})
        print(f"n = {n}: {seconds:.0f} s")
    with pd.option_context("display.width", 250, "display.float_format", "{:.3f}".format):
        if rows:
            table = pd.DataFrame(rows)[["n", "space", "reference", *COLUMNS]]
            print(table.to_string(index=False))
            if args.out:
                write_csv(args.out, table)
        if args.verdicts:
            health = stand_in_verdicts(train, holdout, embedders, args.kid_subsets)
            spaces = [c[: -len("_diversity")] for c in health.columns if c.endswith("_diversity")]
            shown = [f"{s}_{m}" for m in ("diversity", "coverage", "kid") for s in spaces]
            print(health[["gan", "verdict", *shown]].to_string(index=False))
            print("\n".join(f"{g}: {r}" for g, r in zip(health["gan"], health["reason"])))


if __name__ == "__main__":
    main()
