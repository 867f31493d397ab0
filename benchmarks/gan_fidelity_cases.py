"""Calibrate the fidelity checks of GAN health on constructed cases (issue 35).

Offers image sets that stand in for a GAN's Normal samples on the Kermany sample (real
training Normal images and :func:`cxr_keras.health.fidelity.constructed_failures`) and prints
each fidelity figure: the judge's class agreement ratio against the held-out test Normal
images, the two-sample probe AUC against the other half of the training Normal images, and
the near-duplicate fraction (pixels and the judge's penultimate space). Usage:

    .venv/bin/python benchmarks/gan_fidelity_cases.py --data ../shared/data [--image-size 64]
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np
import pandas as pd

from cxr_keras.data.phantom_dataset import PhantomDataset
from cxr_keras.health import feature_classifier, judge_report
from cxr_keras.health.fidelity import (
    class_agreement,
    constructed_failures,
    near_duplicate_fraction,
    two_sample_auc,
)
from cxr_keras.health.measure import penultimate_features
from cxr_keras.reproductions import kora_venu as paper


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="../shared/data")
    parser.add_argument("--image-size", type=int, default=64)
    parser.add_argument("--max-images", type=int, default=1200)
    parser.add_argument("--judge-epochs", type=int, default=8)
    parser.add_argument("--out", default="/tmp/gan_fidelity_cases")
    args = parser.parse_args()
    size = args.image_size
    dataset = paper.load_dataset(args.data, None, size, args.max_images, seed=0)
    x_train, y_train = dataset.to_numpy("train", image_size=size, channels=1)
    x_test, y_test = dataset.to_numpy("test", image_size=size, channels=1)
    start = time.time()
    judge = feature_classifier(x_train, y_train, args.out, epochs=args.judge_epochs)
    print(f"judge trained in {time.time() - start:.0f} s")
    print(judge_report(judge, x_test, y_test, dataset.classes).round(3).to_string(index=False))
    holdout = x_test[y_test == 0]
    real_probabilities = judge.predict(holdout, verbose=0)
    normal = x_train[y_train == 0]
    order = np.random.default_rng(0).permutation(len(normal))
    target, real = normal[order[: len(normal) // 2]], normal[order[len(normal) // 2:]]
    phantoms = PhantomDataset({"normal": len(real)}, size=size, seed=0, splits={"train": 1.0})
    cases = {"real (train Normal)": real, **constructed_failures(
        real, x_train[y_train == 1], phantoms.to_numpy("train", image_size=size, channels=1)[0])}
    rows = []
    for case, images in cases.items():
        agreement = class_agreement(judge.predict(images, verbose=0), real_probabilities, 0)
        probe = two_sample_auc(target, images)
        rows.append({"case": case, **{k: agreement[k] for k in ("agreement", "agreement_ratio")},
                     **probe,
                     "near_twins_pixel": near_duplicate_fraction(images.reshape(len(images), -1),
                                                               holdout.reshape(len(holdout), -1)),
                     "near_twins_cxr": near_duplicate_fraction(penultimate_features(judge, images),
                                                             penultimate_features(judge, holdout))})
    print(pd.DataFrame(rows).round(3).to_string(index=False))


if __name__ == "__main__":
    main()
