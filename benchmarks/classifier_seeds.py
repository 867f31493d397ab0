"""How much a Kermany classifier moves with its seed, with and without the BatchNorm fix.

Trains the cpu profile's classifier (kora_venu_cnn, 64 px, 8 epochs, batch 32) on the
Kermany sample once per seed and prints test accuracy and per-class recall twice: as the fit
left its BatchNorm moving statistics, and after :func:`recalibrate_batchnorm`. Usage:

    .venv/bin/python benchmarks/classifier_seeds.py --data ../shared/data --seeds 4 [--constant]

``--constant`` holds Adam's rate at 1e-3 instead of the kit's cosine decay. (Issue 35's
figures came from ``train_classifier`` with the recalibration toggled by hand; this script
makes the same comparison with a plain ``fit``, so its numbers differ in detail.)
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras
import numpy as np

from cxr_keras.classifier_training import recalibrate_batchnorm
from cxr_keras.models import kora_venu_cnn
from cxr_keras.reproductions import kora_venu as paper
from cxr_keras.seeding import seeded_build


def scores(model, x, y) -> str:
    predicted = model.predict(x, verbose=0).argmax(axis=1)
    recalls = [np.mean(predicted[y == k] == k) for k in range(2)]
    return f"accuracy {np.mean(predicted == y):.3f}, Normal recall {recalls[0]:.2f}, Pneumonia recall {recalls[1]:.2f}"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="../shared/data")
    parser.add_argument("--seeds", type=int, default=4)
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--constant", action="store_true", help="no cosine decay of the rate")
    args = parser.parse_args()
    dataset = paper.load_dataset(args.data, None, 64, 1200, seed=0)
    x_train, y_train = dataset.to_numpy("train", image_size=64, channels=3)
    x_test, y_test = dataset.to_numpy("test", image_size=64, channels=3)
    steps = args.epochs * int(np.ceil(len(x_train) / 32))
    for seed in range(args.seeds):
        start = time.time()
        rate = 1e-3 if args.constant else keras.optimizers.schedules.CosineDecay(1e-3, steps)
        with seeded_build(seed):
            model = kora_venu_cnn(2, 64, 3)
        model.compile(keras.optimizers.Adam(rate), "sparse_categorical_crossentropy")
        keras.utils.set_random_seed(seed)
        model.fit(x_train, y_train, epochs=args.epochs, batch_size=32, verbose=0)
        print(f"seed {seed} as trained:  {scores(model, x_test, y_test)}")
        recalibrate_batchnorm(model, x_train)
        print(f"seed {seed} recalibrated: {scores(model, x_test, y_test)} ({time.time() - start:.0f} s)")


if __name__ == "__main__":
    main()
