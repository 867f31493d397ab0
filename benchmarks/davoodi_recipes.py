"""Candidate GAN recipes per Davoodi class on the shared samples: health figures per class.

Rebuilds the Davoodi set from ``../shared/data`` (the paper's training counts, 60 / 70 / 70 /
70) with ``--holdout`` test images per class instead of the paper's 9, so that the held-out
real images the health metrics need are not 9 points in 2,048 dimensions; those test images
are the GANs' held-out set (no patient is in both splits). Every recipe trains one Davoodi
DCGAN per class (grayscale, 64 px) through ``per_class_gan.train_per_class_gans`` for
``--epochs`` epochs (the cpu profile's 40 by default), so every recipe sees the same images
the same number of times; a recipe's ``batch_size`` changes how many optimizer steps that
takes. Each GAN then draws as many images as there are held-out ones and
``gan_health.measure_gan_health`` scores it in the kit's CXR space (the Davoodi CNN trained on
the real training images of all four classes) and Inception's two spaces.

Prints, per class and recipe: optimizer steps, seconds, verdict, KID(2048), FID(768 and
2048), precision, recall, density, coverage, the diversity ratio in both spaces, each with
the real floor and the collapsed reference; then issue 11's test per class: kit diversity >=
0.7 in both spaces, kit KID(2048) at most half the paper's and below the collapsed
reference's. The full table goes to ``--out/gan_health.csv``. The CPU may be shared: run with
``nice``.

    nice .venv/bin/python benchmarks/davoodi_recipes.py [--epochs 40] [--holdout 40]
        [--recipes paper kit] [--classes covid normal] [--out /tmp/davoodi_recipes]
        [--candidate ms3='{"batch_size": 8, "mode_seeking": 3.0}' --kit ms3]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np
import pandas as pd
import yaml
from candidates import parse_candidates

from cxr_keras.data import DavoodiCovidDataset
from cxr_keras.data.davoodi import DAVOODI_TRAIN_COUNTS
from cxr_keras.health import (
    GANSamples,
    feature_classifier,
    health_embedders,
    measure_gan_health,
)
from cxr_keras.paths import COVID_DIR, KERMANY_DIR, shared_data_root
from cxr_keras.reproductions import davoodi, per_class_gan

PROFILE = Path(__file__).resolve().parent.parent / "cxr_keras" / "profiles" / "davoodi.yaml"
SHOWN = ("cxr_diversity", "inception_2048_diversity", "inception_2048_kid", "inception_768_fid",
         "inception_2048_fid", "inception_2048_precision", "inception_2048_recall",
         "inception_2048_density", "inception_2048_coverage")


def cpu_recipes() -> dict[str, dict]:
    """The cpu profile's ``gan_recipes`` (the candidates measured here)."""
    return yaml.safe_load(PROFILE.read_text())["cpu"]["gan_recipes"]


def load(holdout: int, image_size: int = 64, seed: int = 0):
    root = shared_data_root()
    if root is None:
        raise FileNotFoundError("shared data not found; set CXR_KERAS_DATA or provide ../shared/data")
    dataset = DavoodiCovidDataset(Path(root) / COVID_DIR, Path(root) / KERMANY_DIR,
                                  counts_test=(holdout,) * 4, seed=seed)
    return dataset.classes, dataset.to_numpy("train", image_size=image_size), \
        dataset.to_numpy("test", image_size=image_size)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=40, help="GAN epochs per class (cpu profile: 40)")
    parser.add_argument("--holdout", type=int, default=40, help="held-out test images per class")
    parser.add_argument("--recipes", nargs="+", default=None, help="names in the cpu profile's gan_recipes or given with --candidate")
    parser.add_argument("--classes", nargs="+", default=None, help="train and measure only these classes")
    parser.add_argument("--feature-epochs", type=int, default=5, help="CXR feature classifier epochs")
    parser.add_argument("--candidate", action="append", default=[],
                        help="name=JSON: one more recipe to try (repeatable)")
    parser.add_argument("--kit", default="kit",
                        help="the recipe held against the paper's in issue 11's test (default kit)")
    parser.add_argument("--out", default="/tmp/davoodi_recipes")
    args = parser.parse_args(argv)
    recipes = {**cpu_recipes(), **parse_candidates(args.candidate)}
    names = args.recipes or list(recipes)
    if unknown := sorted(set(names) - set(recipes)):
        raise SystemExit(f"--recipes: unknown {unknown}; choose from {sorted(recipes)} or add "
                         "one with --candidate name=JSON")
    out = Path(args.out)
    classes, (x_train, y_train), (x_test, y_test) = load(args.holdout)
    train = per_class_gan.images_by_class(x_train, y_train, classes)
    # The collapsed reference repeats a class's first training image; Inception refuses images
    # with no negative pixel (they look like [0, 1] images), so a darkest-pixel image goes first.
    health_train = {name: images[np.argsort(images.min(axis=(1, 2, 3)), kind="stable")]
                    for name, images in train.items()}
    holdout = per_class_gan.images_by_class(x_test, y_test, classes)
    if args.classes:
        unknown = sorted(set(args.classes) - set(classes))
        if unknown:
            raise SystemExit(f"--classes: unknown {unknown}; choose from {classes}")
        classes = list(args.classes)
        train = {name: train[name] for name in classes}
    print(f"train {dict(zip(classes, DAVOODI_TRAIN_COUNTS))}, held out {args.holdout} per class, "
          f"64 px gray, {args.epochs} epochs; load average {os.getloadavg()[0]:.2f}", flush=True)
    embedders = health_embedders(feature_classifier(x_train, y_train, out / "features",
                                                    epochs=args.feature_epochs))
    samples, timing = {}, []
    for name in names:
        started = time.perf_counter()
        gans, history, _ = davoodi.train_class_gans(train, args.epochs, out / name, seed=0,
                                                    recipe=recipes[name])
        seconds = time.perf_counter() - started
        for cls in classes:
            generated = gans[cls].generate(len(holdout[cls]), seed=1)
            samples[f"{cls} / {name}"] = GANSamples(generated, health_train[cls], holdout[cls],
                                                    history[history["class"] == cls])
            steps = int(gans[cls].g_optimizer.iterations.numpy())
            timing.append({"gan": f"{cls} / {name}", "steps": steps, "seconds": seconds / len(classes)})
        print(f"{name}: trained in {seconds:.0f} s; recipe {recipes[name]}", flush=True)
    table = measure_gan_health(samples, embedders, out).merge(pd.DataFrame(timing), on="gan")
    report(table, classes, names, args.kit)


def report(table: pd.DataFrame, classes, names, kit_name: str = "kit") -> None:
    """Print the per-class figures and issue 11's test for the ``kit_name`` recipe."""
    pd.set_option("display.width", 250)
    pd.set_option("display.max_columns", 40)
    rows = []
    for _, row in table.iterrows():
        for kind in ("", "_floor", "_collapsed"):
            label = {"": row["gan"], "_floor": "  real floor", "_collapsed": "  collapsed"}[kind]
            rows.append({"gan": label, "verdict": row["verdict"] if not kind else "",
                         "steps": row["steps"] if not kind else "",
                         **{metric.replace("inception_", "i"): row[f"{metric}{kind}"] for metric in SHOWN}})
    print(pd.DataFrame(rows).round(3).to_string(index=False))
    indexed = table.set_index("gan")
    if not {"paper", kit_name} <= set(names):
        return
    for cls in classes:
        kit, paper = indexed.loc[f"{cls} / {kit_name}"], indexed.loc[f"{cls} / paper"]
        diverse = min(kit["cxr_diversity"], kit["inception_2048_diversity"]) >= 0.7
        kid = kit["inception_2048_kid"]
        met = (diverse and kid <= 0.5 * paper["inception_2048_kid"]
               and kid < kit["inception_2048_kid_collapsed"])
        print(f"{cls}: {kit_name} {kit['verdict']} / paper {paper['verdict']}; {kit_name} diversity "
              f"cxr {kit['cxr_diversity']:.2f} inception {kit['inception_2048_diversity']:.2f}; "
              f"KID(2048) {kit_name} {kid:.3f} paper {paper['inception_2048_kid']:.3f} collapsed "
              f"{kit['inception_2048_kid_collapsed']:.3f} floor {kit['inception_2048_kid_floor']:.3f}"
              f"; done-when {'met' if met and kit['verdict'] == 'healthy' else 'NOT met'}")
    print(table.groupby(table["gan"].str.split(" / ").str[1])["seconds"].sum().round(0).to_string())


if __name__ == "__main__":
    main()
