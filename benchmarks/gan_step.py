"""Speed of one full GAN training step (D step + G step) for every paper's networks.

Prints one table. For each configuration it reports images/s (real images consumed per
second), the estimated FLOPs per step, the achieved GFLOP/s as a fraction of this machine's
measured conv2d peak (a 3x3 128->128 conv probe timed in alternation with the steps,
since the machine may be shared), and the same networks trained by the legacy Keras ``train_on_batch``
loop on equal work, with the speedup of :class:`cxr_keras.gan.training.GAN` over it.

FLOPs are counted analytically from layer shapes: multiply-accumulates of Conv2D (output
pixels x kernel x C_in x C_out), Conv2DTranspose (input pixels x kernel x C_in x C_out) and
Dense layers, 2 FLOPs per MAC; a backward pass is counted as twice the forward pass
(forward + backward = 3x forward). One step on a batch of B real images:

* D step: G forward on B, D forward + backward on B real and B fake -> B (G + 6 D);
* G step: G and D forward + backward on B -> 3 B (G + D)  (D's weight gradient is not
  needed here, so this slightly overstates the work).

``--sub-pixel`` also times every row with generators whose transposed convolutions are
``sub_pixel.SubPixelConv2DTranspose`` (same weights and images), alternating with
the plain step, and prints its img/s, %conv and speed relative to the plain step.
``--architectures`` limits the rows to some papers' networks.

``--small-data`` instead times the Davoodi 64 px step (batch 32) plain, with augmentation
of every D input (p = 1), with augmentation plus R1 on every D step, and with augmentation
plus lazy R1 (every 16 steps), in alternation, and prints each one's cost relative to the
plain step.

Usage::

    python benchmarks/gan_step.py                  # batch 32 at 64 px, plus paper sizes
    python benchmarks/gan_step.py --quick          # a fast pass at 32 px
    python benchmarks/gan_step.py --no-legacy --sub-pixel   # transposed conv vs sub-pixel
    python benchmarks/gan_step.py --small-data --steps 10   # overhead of augment + R1
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import keras
import numpy as np
import tensorflow as tf
from sub_pixel import with_sub_pixel_upsampling

from cxr_keras.gan.training import GAN, ConditionalGAN
from cxr_keras.models import GAN_ARCHITECTURES, build_gan_pair

NUM_CLASSES = 7
CHANNELS = {"kora_venu": 3}


# ----- machine peak --------------------------------------------------------------------
def _best_rate(function, flops: float, reps: int) -> float:
    """Best GFLOP/s of ``reps`` timed calls of a compiled ``function`` (after one warm-up)."""
    function()
    times = []
    for _ in range(reps):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return flops / min(times) / 1e9


def matmul_peak(size: int, reps: int) -> float:
    """GFLOP/s of a ``size x size`` float32 matmul."""
    a = tf.random.normal((size, size))
    step = tf.function(lambda: tf.matmul(a, a))
    return _best_rate(lambda: step().numpy(), 2.0 * size**3, reps)


def conv_probe(batch: int, size: int, channels: int):
    """A compiled 3x3, stride-1, ``channels -> channels`` float32 conv2d and its FLOPs."""
    x = tf.random.normal((batch, size, size, channels))
    kernel = tf.random.normal((3, 3, channels, channels))
    step = tf.function(lambda: tf.nn.conv2d(x, kernel, 1, "SAME"))
    return (lambda: step().numpy()), 2.0 * batch * size * size * 9 * channels**2


# ----- FLOP counting -------------------------------------------------------------------
def layer_macs(layer) -> int:
    """Multiply-accumulates of one forward pass of ``layer`` for a single example."""
    if isinstance(layer, keras.layers.Conv2D):
        height, width, c_out = layer.output.shape[1:]
        kh, kw = layer.kernel_size
        return height * width * kh * kw * layer.input.shape[-1] * c_out
    if isinstance(layer, keras.layers.Conv2DTranspose):
        height, width, c_in = layer.input.shape[1:]
        kh, kw = layer.kernel_size
        return height * width * kh * kw * c_in * layer.filters
    if isinstance(layer, keras.layers.Dense):
        leading = int(np.prod(layer.input.shape[1:-1]))
        return leading * layer.input.shape[-1] * layer.units
    return 0


def model_macs(model) -> int:
    return sum(layer_macs(layer) for layer in model.layers)


def step_flops(generator, discriminator, batch: int) -> float:
    """FLOPs of one D step + G step (see the module docstring)."""
    g, d = model_macs(generator), model_macs(discriminator)
    return 2.0 * batch * (4 * g + 9 * d)


# ----- the two training loops ----------------------------------------------------------
def _data(name, generator, batch, rng):
    size, channels = generator.output_shape[1], generator.output_shape[-1]
    images = rng.uniform(-1, 1, (batch, size, size, channels)).astype("float32")
    labels = rng.integers(0, NUM_CLASSES, (batch, 1)).astype("int32")
    return images, (labels if name == "ng_gubbi_cgan" else None)


def median_step_times(steps: dict, repeats: int, warmup: int = 2) -> dict:
    """Median seconds of each callable in ``steps``, timed in alternation so that a machine
    shared with other jobs slows every contender alike."""
    for step in steps.values():
        for _ in range(warmup):
            step()
    times = {name: [] for name in steps}
    for _ in range(repeats):
        for name, step in steps.items():
            start = time.perf_counter()
            step()
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(values) for name, values in times.items()}


SMALL_DATA_RECIPES = {
    "plain": {},
    "augment": {"augment": "translation,cutout,color", "augment_p": 1.0},
    "augment + R1": {"augment": "translation,cutout,color", "augment_p": 1.0, "r1_gamma": 1.0},
    "augment + lazy R1 (16)": {"augment": "translation,cutout,color", "augment_p": 1.0,
                               "r1_gamma": 1.0, "r1_every": 16},
}


def gan_step_fn(name, image_size, batch, jit_compile, recipe=None, sub_pixel=False,
                **build_options):
    """A callable running one ``GAN.train_step`` on a fixed batch, and that step's FLOPs.

    ``recipe`` holds extra ``GAN.compile`` options (see :mod:`cxr_keras.gan.options`);
    ``build_options`` go to :func:`cxr_keras.models.build_gan_pair`; ``sub_pixel`` swaps the
    generator's transposed convolutions for sub-pixel ones."""
    generator, discriminator = build_gan_pair(name, image_size, CHANNELS.get(name, 1),
                                              **build_options)
    if sub_pixel:
        generator = with_sub_pixel_upsampling(generator)
    latent = GAN_ARCHITECTURES[name].latent
    if name == "ng_gubbi_cgan":
        gan = ConditionalGAN(generator, discriminator, latent.dim, NUM_CLASSES,
                             latent_distribution=latent.distribution)
    else:
        gan = GAN(generator, discriminator, latent.dim, latent_distribution=latent.distribution)
    gan.compile(d_optimizer=keras.optimizers.Adam(2e-4, beta_1=0.5),
                g_optimizer=keras.optimizers.Adam(2e-4, beta_1=0.5), jit_compile=jit_compile,
                **(recipe or {}))
    images, labels = _data(name, generator, batch, np.random.default_rng(0))
    return (lambda: gan.train_on_batch(images, labels)), step_flops(generator, discriminator, batch)


def legacy_models(generator, discriminator, conditional):
    """The Keras 2 recipe made correct for Keras 3: D and a combined G->D, each compiled
    with D's ``trainable`` flag as that model must see it, and the flag set again before each
    ``train_on_batch`` so every train function is traced with the right variables."""
    bce = keras.losses.BinaryCrossentropy(from_logits=True)
    discriminator.trainable = True
    discriminator.compile(keras.optimizers.Adam(2e-4, beta_1=0.5), bce)
    discriminator.trainable = False
    if conditional:
        z, label = generator.inputs
        combined = keras.Model([z, label], discriminator([generator([z, label]), label]))
    else:
        combined = keras.Sequential([generator, discriminator])
    combined.compile(keras.optimizers.Adam(2e-4, beta_1=0.5), bce)
    return combined


def legacy_step(generator, discriminator, combined, images, labels, latent, rng):
    """One legacy iteration: D on B real and B fake, then G through the frozen D."""
    batch = len(images)
    z = rng.uniform(-1, 1, (batch, latent.dim)) if latent.distribution == "uniform" \
        else rng.standard_normal((batch, latent.dim))
    z = z.astype("float32")
    g_inputs = z if labels is None else [z, labels]
    fake = generator.predict_on_batch(g_inputs)
    discriminator.trainable = True
    real_in, fake_in = (images, fake) if labels is None else ([images, labels], [fake, labels])
    discriminator.train_on_batch(real_in, np.ones((batch, 1), "float32"))
    discriminator.train_on_batch(fake_in, np.zeros((batch, 1), "float32"))
    discriminator.trainable = False
    combined.train_on_batch(g_inputs, np.ones((batch, 1), "float32"))


def legacy_step_fn(name, image_size, batch):
    """A callable running one legacy ``train_on_batch`` iteration on fresh copies of the nets."""
    generator, discriminator = build_gan_pair(name, image_size, CHANNELS.get(name, 1))
    combined = legacy_models(generator, discriminator, name == "ng_gubbi_cgan")
    rng = np.random.default_rng(0)
    images, labels = _data(name, generator, batch, rng)
    latent = GAN_ARCHITECTURES[name].latent
    return lambda: legacy_step(generator, discriminator, combined, images, labels, latent, rng)


# ----- report --------------------------------------------------------------------------
def configurations(quick: bool, names=None) -> list[tuple[str, int, int]]:
    """(architecture, image size, batch) rows to time, for ``names`` (default: every pair)."""
    names = sorted(names or GAN_ARCHITECTURES)
    if quick:
        return [(name, 32, 8) for name in names]
    rows = [(name, 64, 32) for name in names]
    # Each paper's own size (Davoodi's is 64), at a batch one small CPU affords; Salehinejad
    # also at 128, the size its rows had before 256 was added.
    larger = [("kora_venu", 128, 8), ("ng_gubbi", 128, 8), ("ng_gubbi_cgan", 128, 8),
              ("salehinejad", 128, 8), ("salehinejad", 256, 4)]
    return rows + [row for row in larger if row[0] in names]


def small_data_overhead(steps: int, jit) -> None:
    """Print the Davoodi 64 px step time with each of SMALL_DATA_RECIPES, timed alternately."""
    contenders = {label: gan_step_fn("davoodi", 64, 32, jit, recipe)[0]
                  for label, recipe in SMALL_DATA_RECIPES.items()}
    seconds = median_step_times(contenders, steps)
    print(f"davoodi 64 px, batch 32, median of {steps} alternating steps after 2 warm-up; "
          f"load average {os.getloadavg()[0]:.2f}")
    for label, value in seconds.items():
        print(f"{label:<24}{value:>8.3f} s/step{value / seconds['plain']:>8.2f}x plain")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="32 px, batch 8, few steps")
    parser.add_argument("--steps", type=int, default=None, help="timed steps per row")
    parser.add_argument("--no-legacy", action="store_true", help="skip the legacy loop")
    parser.add_argument("--jit", choices=["auto", "true", "false"], default="auto",
                        help="jit_compile of GAN.compile; 'auto' (default) is Keras' choice, "
                             "no XLA on a CPU-only machine, where XLA convolutions are slower")
    parser.add_argument("--sub-pixel", action="store_true",
                        help="also time each row with sub-pixel transposed convolutions")
    parser.add_argument("--architectures", type=lambda text: text.split(","), default=None,
                        help=f"comma-separated subset of {','.join(sorted(GAN_ARCHITECTURES))}")
    parser.add_argument("--small-data", action="store_true",
                        help="only the overhead of augmentation + R1 on the Davoodi 64 px step")
    args = parser.parse_args(argv)
    unknown = set(args.architectures or ()) - set(GAN_ARCHITECTURES)
    if unknown:
        parser.error(f"--architectures: unknown {sorted(unknown)}; "
                     f"choose from {sorted(GAN_ARCHITECTURES)}")
    steps = args.steps or (2 if args.quick else 3)
    jit = {"auto": "auto", "true": True, "false": False}[args.jit]
    if args.small_data:
        small_data_overhead(steps, jit)
        return

    reps = 2 if args.quick else 3
    matmul = matmul_peak(1024 if args.quick else 2048, reps)
    probe, probe_flops = conv_probe(8 if args.quick else 16, 32 if args.quick else 64, 128)
    conv = _best_rate(probe, probe_flops, reps)
    print(f"machine: {os.cpu_count()} CPU threads, TF {tf.__version__}, Keras {keras.__version__}, "
          f"load average {os.getloadavg()[0]:.2f}")
    print(f"peak: matmul {matmul:.1f} GFLOP/s, conv2d 3x3 128->128 {conv:.1f} GFLOP/s")
    print(f"GAN.compile(jit_compile={args.jit}); median of {steps} steps after 2 warm-up; GAN, "
          "legacy and the conv probe alternate, and %conv is against the probe of that row")
    header = (f"{'architecture':<14}{'size':>5}{'batch':>6}{'GFLOP/step':>11}{'img/s':>8}"
              f"{'GFLOP/s':>9}{'conv':>8}{'%conv':>7}")
    if not args.no_legacy:
        header += f"{'legacy img/s':>13}{'speedup':>9}"
    if args.sub_pixel:
        header += f"{'sub-px img/s':>13}{'%conv':>7}{'vs ConvT':>9}"
    print(header)
    print("-" * len(header))
    for name, size, batch in configurations(args.quick, args.architectures):
        step, flops = gan_step_fn(name, size, batch, jit)
        contenders = {"gan": step, "conv": probe}
        if not args.no_legacy:
            contenders["legacy"] = legacy_step_fn(name, size, batch)
        if args.sub_pixel:
            contenders["sub_pixel"] = gan_step_fn(name, size, batch, jit, sub_pixel=True)[0]
        seconds = median_step_times(contenders, steps)
        rate, peak = flops / seconds["gan"] / 1e9, probe_flops / seconds["conv"] / 1e9
        row = (f"{name:<14}{size:>5}{batch:>6}{flops / 1e9:>11.1f}{batch / seconds['gan']:>8.1f}"
               f"{rate:>9.1f}{peak:>8.1f}{100 * rate / peak:>6.0f}%")
        if not args.no_legacy:
            row += (f"{batch / seconds['legacy']:>13.1f}"
                    f"{seconds['legacy'] / seconds['gan']:>8.2f}x")
        if args.sub_pixel:
            sub_rate = flops / seconds["sub_pixel"] / 1e9
            row += (f"{batch / seconds['sub_pixel']:>13.1f}{100 * sub_rate / peak:>6.0f}%"
                    f"{seconds['gan'] / seconds['sub_pixel']:>8.2f}x")
        print(row, flush=True)
        keras.backend.clear_session()


if __name__ == "__main__":
    main()
