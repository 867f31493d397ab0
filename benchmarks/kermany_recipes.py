"""A paper's plain GAN recipe against a kit recipe on the shared Kermany Normal images.

Both recipes train the same networks (``--architecture``, default Davoodi's DCGAN; Kora
Venu's took about 8 s a step here, too slow for a trial on 2 shared cores) in grayscale
(64 px, ``channels=1``) on the Normal training images for the same number of optimizer steps
(batch 32, Adam 2e-4, beta1 0.5, as the Kermany notebook and Davoodi's paper); the kit recipe
adds differentiable augmentation of every D input, an EMA generator and lazy R1
(``KIT_RECIPE``). Each GAN then generates as many images
as there are held-out test Normal images, and the script prints, per recipe:

* KID(2048) (mean and std over 100 subsets) against the test Normal images, beside the
  real floor (training Normal images against the same test images);
* the pixel diversity ratio: mean pairwise pixel distance among the generated images over
  the same among the test images (1 for real-like variety, near 0 for mode collapse);
* the seconds of training.

Usage::

    python benchmarks/kermany_recipes.py --steps 300 [--architecture kora_venu]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import keras
import numpy as np
from scipy.spatial.distance import pdist

from cxr_keras.data.images import decode_image, list_images
from cxr_keras.gan.training import GAN
from cxr_keras.metrics import kernel_inception_distance, resolve_features
from cxr_keras.models import GAN_ARCHITECTURES, build_gan_pair
from cxr_keras.paths import shared_data_root

IMAGE_SIZE, BATCH = 64, 32
KIT_RECIPE = {"augment": "translation,cutout,color", "augment_p": 1.0, "ema_decay": 0.99,
              "ema_warmup": 100, "r1_gamma": 1.0, "r1_every": 16}
RECIPES = {"paper": {}, "kit": KIT_RECIPE}


def load_normal(split: str) -> np.ndarray:
    """The shared Kermany Normal images of ``split`` at 64 px, grayscale, in [-1, 1]."""
    root = shared_data_root()
    if root is None:
        raise FileNotFoundError("shared data not found; set CXR_KERAS_DATA or provide ../shared/data")
    folder = Path(root) / "kermany_chest_xray" / "chest_xray" / split / "NORMAL"
    return np.stack([decode_image(path, IMAGE_SIZE, 1) for path in list_images(folder)])


def train(architecture: str, recipe: dict, images: np.ndarray, steps: int,
          seed: int = 0) -> tuple[GAN, float]:
    """Train ``architecture``'s pair with ``recipe`` for about ``steps`` steps (whole epochs);
    return the GAN and the seconds it took."""
    keras.utils.set_random_seed(seed)
    builder_kwargs = {key: recipe[key] for key in ("spectral_norm",) if key in recipe}
    generator, discriminator = build_gan_pair(architecture, IMAGE_SIZE, 1, **builder_kwargs)
    latent = GAN_ARCHITECTURES[architecture].latent
    gan = GAN(generator, discriminator, latent.dim, latent.distribution, seed=seed)
    gan.compile(keras.optimizers.Adam(2e-4, beta_1=0.5), keras.optimizers.Adam(2e-4, beta_1=0.5),
                **{key: value for key, value in recipe.items() if key != "spectral_norm"})
    batches_per_epoch = len(images) // BATCH
    epochs = -(-steps // batches_per_epoch)
    started = time.perf_counter()
    gan.fit(images[: batches_per_epoch * BATCH], batch_size=BATCH, epochs=epochs,
            verbose=0, shuffle=True)
    return gan, time.perf_counter() - started


def diversity(images: np.ndarray) -> float:
    """Mean pairwise Euclidean distance between flattened images."""
    return float(pdist(images.reshape(len(images), -1)).mean())


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=300, help="optimizer steps per recipe")
    parser.add_argument("--architecture", default="davoodi", choices=sorted(GAN_ARCHITECTURES))
    args = parser.parse_args(argv)
    train_images, test_images = load_normal("train"), load_normal("test")
    test_features = resolve_features(test_images, 2048)
    floor = kernel_inception_distance(resolve_features(train_images, 2048), test_features)
    print(f"{args.architecture}: {len(train_images)} train / {len(test_images)} test Normal "
          f"images, 64 px, gray; "
          f"load average {os.getloadavg()[0]:.2f}")
    print(f"real floor (train vs test): KID(2048) {floor[0]:.4f} +- {floor[1]:.4f}, "
          f"diversity ratio {diversity(train_images) / diversity(test_images):.2f}")
    for name, recipe in RECIPES.items():
        gan, seconds = train(args.architecture, recipe, train_images, args.steps)
        fake = gan.generate(len(test_images), seed=1)
        kid = kernel_inception_distance(resolve_features(fake, 2048), test_features)
        ratio = diversity(fake) / diversity(test_images)
        steps = int(gan.g_optimizer.iterations.numpy())
        print(f"{name:<6} {steps} steps in {seconds:.0f} s: KID(2048) {kid[0]:.4f} +- "
              f"{kid[1]:.4f}, diversity ratio {ratio:.2f}; recipe {recipe}", flush=True)


if __name__ == "__main__":
    main()
