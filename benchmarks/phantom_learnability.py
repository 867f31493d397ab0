"""Is the phantom task learnable but not trivial? Train a small CNN and print its test figures.

    .venv/bin/python benchmarks/phantom_learnability.py [--per-class 300] [--epochs 10]
    .venv/bin/python benchmarks/phantom_learnability.py --figure   # writes docs/phantoms_vs_real.png

Prints render time, then test accuracy after each epoch, the final per-class accuracy and the
macro one-vs-rest AUC. Chance is 1/6.
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np

from cxr_keras.data.phantoms import PHANTOM_CLASSES, phantom_arrays, plot_phantoms_vs_real
from cxr_keras.paths import KERMANY_DIR, NIH_DIR, REPO_ROOT, shared_data_root

FIGURE_PATH = REPO_ROOT / "docs" / "phantoms_vs_real.png"
BATCH_SIZE = 32


def small_cnn(size: int, n_classes: int):
    """Three blocks of two conv-BN-ReLU and a max-pool, global average pooling, softmax (~70k)."""
    import keras
    from keras import layers

    inputs = keras.Input((size, size, 1))
    x = inputs
    for filters in (16, 32, 64):
        for _ in range(2):
            x = layers.Conv2D(filters, 3, padding="same", use_bias=False)(x)
            x = layers.Activation("relu")(layers.BatchNormalization(momentum=0.9)(x))
        x = layers.MaxPooling2D()(x)
    x = layers.GlobalAveragePooling2D()(x)
    x = layers.Dropout(0.2)(x)
    outputs = layers.Dense(n_classes, activation="softmax")(x)
    return keras.Model(inputs, outputs, name="phantom_cnn")


def measure_learnability(
    per_class: int, test_per_class: int, epochs: int, size: int, seed: int
) -> dict:
    """Train `small_cnn` on phantoms and return test accuracy per epoch, per class and macro AUC."""
    import keras
    from sklearn.metrics import roc_auc_score

    keras.utils.set_random_seed(seed)
    start = time.perf_counter()
    x_train, y_train = phantom_arrays(per_class, size, seed=seed)
    x_test, y_test = phantom_arrays(test_per_class, size, seed=seed + 10_000)
    render_s = time.perf_counter() - start

    model = small_cnn(size, len(PHANTOM_CLASSES))
    model.compile(
        optimizer=keras.optimizers.Adam(
            keras.optimizers.schedules.CosineDecay(2e-3, epochs * -(-len(y_train) // BATCH_SIZE))
        ),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    per_epoch = []
    for _ in range(epochs):
        model.fit(x_train, y_train, batch_size=BATCH_SIZE, epochs=1, verbose=0)
        per_epoch.append(float(model.evaluate(x_test, y_test, verbose=0)[1]))
    scores = model.predict(x_test, verbose=0)
    predicted = scores.argmax(axis=1)
    per_class_accuracy = {
        name: float((predicted[y_test == k] == k).mean()) for k, name in enumerate(PHANTOM_CLASSES)
    }
    return {
        "n_train": len(y_train),
        "n_test": len(y_test),
        "render_seconds": render_s,
        "params": model.count_params(),
        "accuracy_per_epoch": per_epoch,
        "per_class_accuracy": per_class_accuracy,
        "macro_auc": float(roc_auc_score(y_test, scores, multi_class="ovr", average="macro")),
    }


def real_examples(n_each: int = 3) -> list[np.ndarray]:
    """A few real radiographs (Kermany normal, NIH) read with Pillow; empty without the samples."""
    from PIL import Image

    root = shared_data_root()
    if root is None:
        return []
    folders = [
        root / KERMANY_DIR / "chest_xray" / "train" / "NORMAL",
        root / NIH_DIR / "train" / "1_abnormal",
    ]
    files = [f for folder in folders for f in sorted(folder.glob("*.png"))[:n_each]]
    return [np.asarray(Image.open(f).convert("L"), dtype=np.float32) for f in files]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-class", type=int, default=300)
    parser.add_argument("--test-per-class", type=int, default=100)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--figure", action="store_true", help=f"write {FIGURE_PATH.relative_to(REPO_ROOT)} instead"
    )
    args = parser.parse_args()
    if args.figure:
        print("wrote", plot_phantoms_vs_real(real_examples(), FIGURE_PATH, size=128))
        return
    result = measure_learnability(
        args.per_class, args.test_per_class, args.epochs, args.size, args.seed
    )
    print(
        f"train {result['n_train']} / test {result['n_test']} phantoms at {args.size} px, "
        f"rendered in {result['render_seconds']:.1f} s; CNN with {result['params']:,} parameters"
    )
    for epoch, accuracy in enumerate(result["accuracy_per_epoch"], 1):
        print(f"epoch {epoch}: test accuracy {accuracy:.3f}")
    for name, accuracy in result["per_class_accuracy"].items():
        print(f"  {name:<14s} {accuracy:.3f}")
    print(
        f"macro AUC (one-vs-rest) {result['macro_auc']:.3f}; chance accuracy {1 / len(PHANTOM_CLASSES):.3f}"
    )


if __name__ == "__main__":
    main()
