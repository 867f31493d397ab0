"""Notebook 01's GAN recipes on the shared Kermany sample, judged by the kit's GAN-health table.

Loads the shared Kermany sample the way the cpu profile does (``cxr_keras/profiles/kermany.yaml``:
64 px, at most 1,200 images per split), trains each named recipe on the Normal training images
with the cpu profile's batch size for the epochs asked (``--recipes name@N``; default the
cpu profile's ``gan_epochs``), generates as many images as there are held-out test Normal images,
and prints per recipe the verdict and, per feature space (the kit's CXR feature classifier
trained on the real training images of both classes; Inception 2048 and 768), FID, KID,
precision, recall, density, coverage and diversity beside the real floor and the collapsed
reference. The table is also written to ``<out>/gan_health.csv``.

Candidates (``CANDIDATES``; ``paper`` and ``kit`` are the profile's):

* ``paper``: the paper's DCGAN (published-code variant), RGB, Adam 2e-4 / 0.5;
* ``davoodi_plain``: Davoodi's smaller DCGAN in grayscale, no small-data options;
* ``kit``: the profile's kit recipe (Davoodi's DCGAN in grayscale, batch 8, mode seeking, D at
  a quarter of G's learning rate, an EMA generator; the profile's comment says how it was chosen);
* any other, named with ``--candidate name='{"architecture": "davoodi", ...}'`` (a recipe as
  the profile's ``gan_recipes`` hold them, ``batch_size`` included).

Usage::

    python benchmarks/kermany_gan_health.py --recipes kit,davoodi_plain,kit@10,paper@10 \\
        --out /tmp/kermany_health
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import pandas as pd
from candidates import parse_candidates

from cxr_keras.health import (
    feature_classifier,
    health_embedders,
    measure_gan_health,
)
from cxr_keras.paths import shared_data_root
from cxr_keras.reproductions import kora_venu as paper
from cxr_keras.reproductions.kora_venu_recipes import (
    recipe_health_samples,
    train_recipe,
)
from tools.pipeline.parameters import load_profile

SHOWN = ("fid", "kid", "precision", "recall", "density", "coverage", "diversity")


def candidates(profile: dict, extra=()) -> dict:
    """The profile's recipes, ``davoodi_plain`` and each ``name=JSON`` of ``extra``."""
    return {**profile["gan_recipes"], "davoodi_plain": {"architecture": "davoodi", "channels": 1},
            **parse_candidates(extra)}


def parse_runs(text: str, recipes: dict, default_epochs: int) -> list[tuple[str, int]]:
    """``"kit@50,paper@10,kit"`` as [(recipe name, epochs)]; no ``@N``: ``default_epochs``."""
    runs = []
    for item in filter(None, text.split(",")):
        name, _, epochs = item.partition("@")
        if name not in recipes or (epochs and not epochs.isdigit()):
            raise SystemExit(f"--recipes: {item!r} is not <name>[@epochs] with a name in {sorted(recipes)}")
        runs.append((name, int(epochs or default_epochs)))
    return runs


def print_table(table: pd.DataFrame) -> None:
    spaces = sorted({column.rsplit("_diversity", 1)[0] for column in table.columns
                     if column.endswith("_diversity")})
    for row in table.itertuples(index=False):
        row = row._asdict()
        print(f"\n{row['gan']}: {row['verdict']} ({row['reason'] or 'no failed check'})")
        for space in spaces:
            for label, suffix in (("gan", ""), ("floor", "_floor"), ("collapsed", "_collapsed")):
                figures = " ".join(f"{metric} {row.get(f'{space}_{metric}{suffix}', float('nan')):.3f}"
                                   for metric in SHOWN)
                print(f"  {space:<15} {label:<9} {figures}")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipes", default="kit,paper",
                        help="comma-separated name[@epochs] (default epochs: the profile's)")
    parser.add_argument("--profile", default="cpu")
    parser.add_argument("--out", default="/tmp/kermany_gan_health")
    parser.add_argument("--feature-epochs", type=int, default=3)
    parser.add_argument("--no-inception", action="store_true",
                        help="judge in the CXR feature space only (much faster on CPU)")
    parser.add_argument("--data", default=None,
                        help="data root (default: the shared samples), or 'phantoms' (the "
                             "profile's phantom_counts, as make demo uses)")
    parser.add_argument("--candidate", action="append", default=[],
                        help="name=JSON: one more recipe to try (repeatable)")
    args = parser.parse_args(argv)
    profile = load_profile("kermany", args.profile)
    recipes = candidates(profile, args.candidate)
    runs = parse_runs(args.recipes, recipes, profile["gan_epochs"])
    size, batch = profile["image_size"], profile["gan_batch_size"]
    dataset = paper.load_dataset(args.data or str(shared_data_root()), profile.get("phantom_counts"),
                                 image_size=size, max_images_per_split=profile["max_images_per_split"])
    normal = dataset.classes[0]
    gray_train, _ = dataset.subset("train", [normal]).to_numpy(image_size=size, channels=1)
    gray_test, _ = dataset.subset("test", [normal]).to_numpy(image_size=size, channels=1)
    x_all, y_all = dataset.to_numpy("train", image_size=size, channels=3)
    print(f"{len(gray_train)} train / {len(gray_test)} held-out test {normal} images, {size} px, "
          f"batch {batch}; load average {os.getloadavg()[0]:.2f}", flush=True)
    out = Path(args.out)
    started = time.perf_counter()
    embedders = health_embedders(feature_classifier(x_all, y_all, out / "features",
                                                    epochs=args.feature_epochs),
                                 inception=not args.no_inception)
    print(f"feature classifier: {time.perf_counter() - started:.0f} s", flush=True)
    gans = {}
    for name, epochs in runs:
        label = f"{name}@{epochs}ep"
        started = time.perf_counter()
        gans[label], _ = train_recipe(recipes[name], gray_train, epochs, batch,
                                            out / "gans" / label, channels=profile["channels"],
                                            verbose=0)
        steps = int(gans[label].g_optimizer.iterations.numpy())
        print(f"{label}: {steps} steps in {time.perf_counter() - started:.0f} s "
              f"(load {os.getloadavg()[0]:.2f}); recipe {recipes[name]}", flush=True)
    samples = recipe_health_samples(gans, gray_train, gray_test, len(gray_test), out / "gans")
    print_table(measure_gan_health(samples, embedders, out))


if __name__ == "__main__":
    main()
