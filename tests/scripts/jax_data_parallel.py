"""GAN training under ``keras.distribution.DataParallel`` (JAX), to compare with one device.

Run in a fresh process (JAX fixes its devices when it starts):

* ``python tests/scripts/jax_data_parallel.py --devices 2 [--recipes '[{}, {"r1_gamma": 1.0}]']
  [--out FILE]`` trains each recipe over 2 host devices of one process, then on one device,
  and prints one JSON line per recipe: the device count, the weights' shardings, the largest
  difference between the two runs' weights, the largest weight change (so a no-op cannot pass)
  and both runs' losses. With ``--out``, the first recipe's one-device weights and losses go to
  FILE (.npz), the reference of a multi-process run.
* ``... --processes 2 --process-id I --port P --out FILE`` is process I of a 2-process run on
  localhost (one device each; ``--processes 1`` trains alone), the plain recipe; it writes the
  trained weights and losses to FILE (.npz) for the caller to compare.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

ARGS = argparse.ArgumentParser()
ARGS.add_argument("--devices", type=int, default=1)
ARGS.add_argument("--processes", type=int, default=None)
ARGS.add_argument("--process-id", type=int, default=0)
ARGS.add_argument("--port", type=int, default=0)
ARGS.add_argument("--out", type=Path, default=None)
ARGS.add_argument("--recipes", type=json.loads, default=[{}])
ARGS.add_argument("--epochs", type=int, default=2)
OPTIONS = ARGS.parse_args()
os.environ["KERAS_BACKEND"] = "jax"
os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "")
                           + f" --xla_force_host_platform_device_count={OPTIONS.devices}")
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import jax
import keras
import numpy as np

from cxr_keras.gan import GAN, ShuffledBatches, data_parallel
from tests.scripts.tiny_gan import LATENT_DIM, stripes, tiny_discriminator, tiny_generator

BATCH = 8


def initial_weights():
    keras.utils.set_random_seed(0)
    return {"g": tiny_generator().get_weights(), "d": tiny_discriminator().get_weights()}


def train(distribution, initial, recipe):
    """Train a tiny GAN with ``recipe`` from ``initial`` weights under ``distribution`` (None:
    one device) on seeded batches (each process serves its slice of every batch)."""
    keras.distribution.set_distribution(distribution)
    try:
        gan = GAN(tiny_generator(), tiny_discriminator(), LATENT_DIM, seed=3)
        gan.generator.set_weights(initial["g"])
        gan.discriminator.set_weights(initial["d"])
        gan.compile(keras.optimizers.Adam(1e-2, beta_1=0.5), keras.optimizers.Adam(1e-2, beta_1=0.5),
                    **recipe)
        batches = ShuffledBatches(stripes(4 * BATCH), batch_size=BATCH, seed=5)
        history = gan.fit(batches, epochs=OPTIONS.epochs, shuffle=False, verbose=0).history
        shardings = {str(v.value.sharding) for v in gan.generator.weights}
        return gan.generator.get_weights() + gan.discriminator.get_weights(), history, shardings
    finally:
        keras.distribution.set_distribution(None)


def one_process_of_several() -> None:
    jax.config.update("jax_cpu_collectives_implementation", "gloo")
    if OPTIONS.processes > 1:
        keras.distribution.initialize(f"localhost:{OPTIONS.port}", num_processes=OPTIONS.processes,
                                      process_id=OPTIONS.process_id)
    distribution = data_parallel() if OPTIONS.processes > 1 else None
    weights, history, _ = train(distribution, initial_weights(), {})
    save_run(OPTIONS.out, weights, history)


def save_run(path, weights, history) -> None:
    np.savez(path, processes=jax.process_count(), devices=len(jax.devices()),
             d_loss=history["d_loss"], g_loss=history["g_loss"],
             **{f"w{i}": w for i, w in enumerate(weights)})


def devices_of_one_process() -> None:
    initial = initial_weights()
    start = initial["g"] + initial["d"]
    for number, recipe in enumerate(OPTIONS.recipes):
        w_parallel, h_parallel, shardings = train(data_parallel(), initial, recipe)
        w_single, h_single, _ = train(None, initial, recipe)
        if OPTIONS.out is not None and number == 0:
            save_run(OPTIONS.out, w_single, h_single)
        print(json.dumps({
            "devices": len(jax.devices()),
            "weight_shardings": sorted(shardings),
            "max_weight_diff": max(float(np.abs(a - b).max()) for a, b in zip(w_parallel, w_single)),
            "max_change": max(float(np.abs(a - b).max()) for a, b in zip(w_single, start)),
            "d_loss": [h_parallel["d_loss"], h_single["d_loss"]],
            "g_loss": [h_parallel["g_loss"], h_single["g_loss"]],
        }))


if __name__ == "__main__":
    one_process_of_several() if OPTIONS.processes else devices_of_one_process()
