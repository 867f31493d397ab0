"""GAN training throughput of the papers' networks at their paper-profile size, on any backend.

For each paper: build its GAN pair at the ``paper`` profile's image size and batch, train
one step (compilation), then time whole steps (D step + G step) for ``--seconds``; write
img/s, the wall times and the projected GAN wall time of the paper profile
(``gan_epochs * images_per_epoch / img_s``) to ``OUT/gan_throughput.csv`` and ``.json``.
Images are random in [-1, 1]: the networks' cost does not depend on the pixels.

    KERAS_BACKEND=jax python benchmarks/device/gan_throughput.py --out results/device
    KERAS_BACKEND=jax JAX_PLATFORMS=cpu python benchmarks/device/gan_throughput.py --dry-run
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import keras
import numpy as np
import pandas as pd
import yaml

from cxr_keras.gan import GAN
from cxr_keras.io import write_csv, write_json
from cxr_keras.models import GAN_ARCHITECTURES, build_gan_pair
from cxr_keras.paths import REPO_ROOT

# paper -> (architecture, real images one GAN epoch sees in the paper profile, where from)
PAPERS = {
    "davoodi": ("davoodi", 270 * 4, "270 training images, 4 folds (one per-class GAN each)"),
    "kermany": ("kora_venu", 1341, "the 1,341 Normal training images of the full Kermany set"),
}


def paper_profile(paper: str) -> dict:
    with open(REPO_ROOT / "cxr_keras" / "profiles" / f"{paper}.yaml", encoding="utf-8") as file:
        return yaml.safe_load(file)["paper"]


MAX_STEPS = 100_000


class SameBatch(keras.utils.PyDataset):
    """One batch served ``steps`` times: the step's cost without a data pipeline."""

    def __init__(self, batch, steps: int):
        super().__init__()
        self.batch, self.steps = batch, steps

    def __len__(self):
        return self.steps

    def __getitem__(self, index):
        return self.batch


class StepTimer(keras.callbacks.Callback):
    """Times the steps after the first (which compiles); stops ``fit`` after ``seconds``."""

    def __init__(self, seconds: float):
        super().__init__()
        self.seconds, self.steps = seconds, 0
        self.first_step_end = self.last_step_end = None

    def on_train_batch_end(self, batch, logs=None):
        float(logs["d_loss"])  # wait for the step (JAX dispatches asynchronously)
        now = time.perf_counter()
        if self.first_step_end is None:
            self.first_step_end = now
            return
        self.steps, self.last_step_end = self.steps + 1, now
        if now - self.first_step_end >= self.seconds:
            self.model.stop_training = True


def measure(paper: str, seconds: float, dry_run: bool) -> dict:
    """Time the paper's GAN steps; return one row of figures."""
    architecture, images_per_epoch, source = PAPERS[paper]
    profile = paper_profile(paper)
    size, batch = int(profile["image_size"]), int(profile["gan_batch_size"])
    if dry_run:
        size, batch = 32, 4
    generator, discriminator = build_gan_pair(architecture, image_size=size, channels=1)
    latent = GAN_ARCHITECTURES[architecture].latent
    gan = GAN(generator, discriminator, latent.dim, latent.distribution, seed=0)
    gan.compile(keras.optimizers.Adam(2e-4, beta_1=0.5), keras.optimizers.Adam(2e-4, beta_1=0.5))
    images = np.random.default_rng(0).uniform(-1, 1, (batch, size, size, 1)).astype("float32")
    timer = StepTimer(seconds)
    start = time.perf_counter()
    gan.fit(SameBatch(images, MAX_STEPS), epochs=1, verbose=0, callbacks=[timer])
    first_step = timer.first_step_end - start
    steps, timed = timer.steps, timer.last_step_end - timer.first_step_end
    img_s = steps * batch / timed
    epochs = int(profile["gan_epochs"])
    return {"paper": paper, "architecture": architecture, "backend": keras.backend.backend(),
            "image_size": size, "batch_size": batch, "dry_run": dry_run,
            "first_step_seconds": round(first_step, 2), "timed_steps": steps,
            "timed_seconds": round(timed, 2), "images_per_second": round(img_s, 4),
            "paper_gan_epochs": epochs, "images_per_epoch": images_per_epoch,
            "images_per_epoch_source": source,
            "projected_gan_seconds": round(epochs * images_per_epoch / img_s, 1)}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "results" / "device")
    parser.add_argument("--seconds", type=float, default=60.0, help="timed seconds per paper")
    parser.add_argument("--papers", nargs="+", choices=sorted(PAPERS), default=sorted(PAPERS))
    parser.add_argument("--dry-run", action="store_true",
                        help="32 px, batch 4: checks the script, not the machine")
    args = parser.parse_args(argv)
    if args.seconds <= 0:
        parser.error(f"--seconds must be positive, got {args.seconds}")
    args.out.mkdir(parents=True, exist_ok=True)
    rows = []
    for paper in args.papers:
        rows.append(measure(paper, args.seconds, args.dry_run))
        print(json.dumps(rows[-1]), flush=True)
    write_csv(args.out / "gan_throughput.csv", pd.DataFrame(rows))
    write_json(args.out / "gan_throughput.json", {"rows": rows})


if __name__ == "__main__":
    main()
