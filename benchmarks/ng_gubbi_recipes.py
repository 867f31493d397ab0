"""Ng & Gubbi's cGAN under the paper's recipe and the kit's, on the shared NIH sample.

Data and settings are the ``cpu`` profile's (``cxr_keras/profiles/ng-gubbi.yaml``: 64 px,
training images capped per class, batch, classifier epochs, cGAN images per class) and its
``gan_recipes``. First a real-image classifier (``salehinejad_dcnn``, as in notebook 03) is
trained on the real training images; the script prints the images per class and split and
how well that classifier separates the classes on the real test images at all (accuracy per
class, balanced accuracy with a 95% bootstrap CI, chance). Then each recipe's cGAN trains for
the same number of optimizer steps (``--steps``, rounded up to whole epochs) and the script
prints, per recipe: the label agreement of that classifier with the requested label (95% CI,
chance 1/7) overall and per class, the label / noise pixel-change ratio, and per class with
at least 2 held-out images (validation + test, never seen by the cGAN) the health verdict and
the diversity ratio and KID in the classifier's feature space (its penultimate layer; the
notebook uses the kit's feature classifier and Inception as well).

Usage::

    python benchmarks/ng_gubbi_recipes.py --steps 75 [--recipes paper,kit]
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np
import pandas as pd
import yaml

from cxr_keras.classifier_training import train_classifier
from cxr_keras.health import classifier_embedder, gan_health
from cxr_keras.models import salehinejad_dcnn
from cxr_keras.paths import shared_data_root
from cxr_keras.reproductions import ng_gubbi as paper

PROFILES = Path(__file__).resolve().parent.parent / "cxr_keras" / "profiles" / "ng-gubbi.yaml"


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=75, help="cGAN optimizer steps per recipe")
    parser.add_argument("--recipes", default="paper,kit", help="comma-separated gan_recipes names")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    profile = yaml.safe_load(PROFILES.read_text())["cpu"]
    root = shared_data_root()
    if root is None:
        raise FileNotFoundError("shared data not found; set CXR_KERAS_DATA or provide ../shared/data")
    size, seed = profile["image_size"], args.seed
    dataset = paper.load_dataset(str(root), None, size, profile["max_train_per_class"], seed)
    names = dataset.classes
    x_train, y_train = dataset.to_numpy("train", image_size=size)
    x_val, y_val = dataset.to_numpy("val", image_size=size)
    x_test, y_test = dataset.to_numpy("test", image_size=size)
    print(pd.DataFrame({split: dataset.class_counts(split) for split in ("train", "val", "test")})
          .fillna(0).astype(int).T.to_string(), flush=True)

    started = time.perf_counter()
    classifier, _ = train_classifier(lambda: salehinejad_dcnn(len(names), size, 1), (x_train, y_train),
                                     (x_val, y_val), epochs=profile["classifier_epochs"],
                                     batch_size=profile["classifier_batch_size"], seed=seed)
    predicted_real = classifier.predict(x_test, verbose=0).argmax(axis=1)
    separability = paper.balanced_accuracy(y_test, predicted_real, n_boot=500, seed=seed)
    per_class = {names[k]: f"{np.mean(predicted_real[y_test == k] == k):.2f} (n={np.sum(y_test == k)})"
                 for k in np.unique(y_test)}
    print(f"real-image classifier ({time.perf_counter() - started:.0f} s): accuracy "
          f"{np.mean(predicted_real == y_test):.2f} on {len(y_test)} real test images "
          f"(always-majority {np.bincount(y_test).max() / len(y_test):.2f}); balanced accuracy "
          f"{separability['balanced_accuracy']:.2f} [{separability['low']:.2f}, {separability['high']:.2f}] "
          f"vs chance {separability['chance']:.2f} over {separability['classes']} classes; per class {per_class}",
          flush=True)

    embedders = [classifier_embedder(classifier, "cxr")]
    holdout = (np.concatenate([x_val, x_test]), np.concatenate([y_val, y_test]))
    requested = paper.requested_labels(len(names), profile["agreement_per_class"])
    for name in args.recipes.split(","):
        recipe = profile["gan_recipes"][name]
        labels, _ = paper.split_label_options(recipe)
        _, cgan = paper.build_gans(size, len(names), seed=seed, recipe=recipe)
        batches = paper.training_batches(x_train, y_train, profile["gan_batch_size"], seed,
                                         labels.get("balanced_batches", False))
        started = time.perf_counter()
        history = cgan.fit(batches, epochs=math.ceil(args.steps / len(batches)), verbose=0)
        seconds = time.perf_counter() - started
        history = pd.DataFrame(history.history).assign(epoch=lambda h: np.arange(1, len(h) + 1))
        fake = cgan.generate(len(requested), seed=seed + 1, labels=requested)
        agreement = paper.label_agreement(requested, classifier.predict(fake, verbose=0).argmax(axis=1),
                                          y_test, predicted_real, names, n_boot=500, seed=seed)
        effect = paper.label_effect(paper.same_noise_images(cgan, 4, seed=seed)[0])
        overall = agreement.set_index("class").loc["all"]
        print(f"\n{name}: {int(cgan.g_optimizer.iterations.numpy())} steps in {seconds:.0f} s; recipe {recipe}\n"
              f"  label agreement {overall['agreement']:.3f} [{overall['agreement_low']:.3f}, "
              f"{overall['agreement_high']:.3f}] vs chance {overall['chance']:.3f}; per class "
              f"{dict(zip(agreement['class'][:-1], agreement['agreement'][:-1].round(2)))}\n"
              f"  label / noise pixel-change ratio {effect['ratio']:.3f}", flush=True)
        health = gan_health(paper.cgan_health_samples(fake, requested, (x_train, y_train), holdout,
                                                      names, history, name), embedders, seed=seed)
        columns = ["gan", "verdict", "cxr_diversity", "cxr_kid", "cxr_kid_floor", "cxr_kid_collapsed"]
        print(health[columns].round(3).to_string(index=False), flush=True)


if __name__ == "__main__":
    main()
