"""Where a GAN step's time goes: each layer's forward + backward pass timed on its own (TF, CPU).

For one paper's networks (``--architecture``, default 64 px, batch 32) every single-input layer
of G and D is run alone on random inputs of its own shape: forward, then the gradients with
respect to its input and its weights, compiled with ``tf.function``. The layer times are
weighted by how often the GAN step runs each network (the FLOP model of ``gan_step.py``: D
forward + backward on 3 B images, G on B images plus a forward pass on B more, so 3 and 4/3
of a forward + backward on B) and set beside one measured ``GAN.train_step`` and the conv
probe, timed in alternation with the layers. The table gives each layer's GFLOP/s as a share
of the probe's rate and of the step's time; the summary gives the share of the step spent in
each kind of layer and what %conv the step would reach if every layer with FLOPs ran at the
probe's rate. That is the measured answer to "why is this paper's step below 70% of conv".
``--tap-blocks`` instead times each ``TapSumConv2D`` of the generator with every block shape
that tiles its kernel (the same weights), marking the one ``tap_block_shape`` chooses.

Usage::

    python benchmarks/layer_speed.py --architecture ng_gubbi
    python benchmarks/layer_speed.py --architecture salehinejad --sub-pixel --steps 5
    python benchmarks/layer_speed.py --architecture ng_gubbi --tap-blocks  # TapSumConv2D blocks
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import keras
import tensorflow as tf
from gan_step import CHANNELS, conv_probe, gan_step_fn, layer_macs, median_step_times
from sub_pixel import with_sub_pixel_upsampling

from cxr_keras.models import GAN_ARCHITECTURES, TapSumConv2D, build_gan_pair
from cxr_keras.models.layers import tap_block_shape, tap_block_shapes

STEP_WEIGHT = {"generator": 4 / 3, "discriminator": 3.0}
TARGET = 0.70


def timed_layers(model):
    """The layers of ``model`` that take one float tensor, so they can be timed alone."""
    chosen = []
    for layer in model.layers:
        if isinstance(layer, keras.layers.InputLayer):
            continue
        inputs = layer.input
        if isinstance(inputs, (list, tuple)) or "int" in str(inputs.dtype):
            continue
        chosen.append(layer)
    return chosen


def layer_step(layer, batch: int):
    """A callable running ``layer`` forward and backward (input and weight gradients)."""
    x = tf.random.normal((batch, *layer.input.shape[1:]))
    upstream = tf.random.normal((batch, *layer.output.shape[1:]))

    @tf.function
    def step():
        with tf.GradientTape() as tape:
            tape.watch(x)
            loss = tf.reduce_sum(layer(x, training=True) * upstream)
        return tape.gradient(loss, [x, *layer.trainable_weights])

    # Every gradient is fetched: one left out would be pruned from the compiled graph.
    return lambda: [gradient.numpy() for gradient in step()]


def layer_table(architecture: str, image_size: int, batch: int, steps: int, sub_pixel: bool):
    """Rows (network, layer, kind, FLOPs, seconds), the step's seconds and FLOPs, the probe's GFLOP/s."""
    generator, discriminator = build_gan_pair(architecture, image_size,
                                              CHANNELS.get(architecture, 1))
    if sub_pixel:
        generator = with_sub_pixel_upsampling(generator)
    contenders, meta = {}, {}
    for role, model in (("generator", generator), ("discriminator", discriminator)):
        for layer in timed_layers(model):
            key = f"{role}/{layer.name}"
            contenders[key] = layer_step(layer, batch)
            meta[key] = (role, layer.name, type(layer).__name__, 6.0 * batch * layer_macs(layer))
    contenders["step"], step_flops = gan_step_fn(architecture, image_size, batch, "auto",
                                                 sub_pixel=sub_pixel)
    probe, probe_flops = conv_probe(16, 64, 128)
    contenders["probe"] = probe
    seconds = median_step_times(contenders, steps)
    rows = [(*meta[key], seconds[key]) for key in meta]
    return rows, seconds["step"], step_flops, probe_flops / seconds["probe"] / 1e9


def tap_block_layers(layer):
    """A copy of the ``TapSumConv2D`` ``layer`` (same weights, same input) for each block shape
    that tiles its kernel, keyed by ``(rows, cols)``."""
    copies = {}
    for block in tap_block_shapes(layer.kernel_size):
        copy = TapSumConv2D.from_config({**layer.get_config(), "block_shape": block,
                                         "name": f"{layer.name}_{block[0]}x{block[1]}"})
        copy(keras.Input(layer.input.shape[1:]))
        copy.set_weights(layer.get_weights())
        copies[block] = copy
    return copies


def tap_block_table(architecture: str, image_size: int, batch: int, steps: int):
    """Rows (layer, block, channels, FLOPs, seconds) for every block shape of every
    ``TapSumConv2D`` in the architecture's generator, and the probe's GFLOP/s."""
    generator, _ = build_gan_pair(architecture, image_size, CHANNELS.get(architecture, 1))
    contenders, meta = {}, {}
    for layer in generator.layers:
        if not isinstance(layer, TapSumConv2D):
            continue
        chosen = tap_block_shape(layer.kernel_size, layer.filters)
        for block, copy in tap_block_layers(layer).items():
            blocks = (layer.kernel_size[0] // block[0]) * (layer.kernel_size[1] // block[1])
            key = (layer.name, block)
            contenders[key] = layer_step(copy, batch)
            meta[key] = (layer.name, f"{block[0]}x{block[1]}{' (chosen)' if block == chosen else ''}",
                         blocks * layer.filters, 6.0 * batch * layer_macs(layer))
    if not contenders:
        raise SystemExit(f"--tap-blocks: {architecture}'s generator has no TapSumConv2D layer "
                         "(ng_gubbi's has one)")
    probe, probe_flops = conv_probe(16, 64, 128)
    contenders["probe"] = probe
    seconds = median_step_times(contenders, steps)
    return [(*meta[key], seconds[key]) for key in meta], probe_flops / seconds["probe"] / 1e9


def summarize(rows, step_seconds: float, step_flops: float, probe_rate: float) -> list[str]:
    """Lines saying which kinds of layer hold the step below the target share of the probe."""
    weighted = [(role, kind, flops * STEP_WEIGHT[role], seconds * STEP_WEIGHT[role])
                for role, _, kind, flops, seconds in rows]
    layer_seconds = sum(seconds for *_, seconds in weighted)
    step_share = 100 * step_flops / step_seconds / 1e9 / probe_rate
    lines = [(f"step: {step_seconds:.3f} s measured, {step_share:.0f}% of conv; layers alone, "
              f"weighted as in the step: {layer_seconds:.3f} s "
              f"({100 * layer_seconds / step_seconds:.0f}% of the step; the rest is the optimizers, "
              "losses and the step's own overhead)")]
    kinds = sorted({(role, kind) for role, kind, *_ in weighted})
    for role, kind in kinds:
        flops = sum(f for r, k, f, _ in weighted if (r, k) == (role, kind))
        seconds = sum(s for r, k, _, s in weighted if (r, k) == (role, kind))
        rate = f"{100 * flops / seconds / 1e9 / probe_rate:5.0f}% of conv" if flops else "  no FLOPs   "
        lines.append(f"  {role:<14}{kind:<26}{100 * seconds / step_seconds:5.1f}% of the step, {rate}")
    ideal = sum(f / 1e9 / probe_rate for *_, f, _ in weighted if f)
    flopless = sum(s for _, _, f, s in weighted if not f)
    rest = step_seconds - layer_seconds
    best = step_flops / 1e9 / probe_rate / (ideal + flopless + max(rest, 0.0))
    lines.append(f"if every layer with FLOPs ran at the probe's rate (the rest unchanged) the step "
                 f"would reach {100 * best:.0f}% of conv (target {100 * TARGET:.0f}%)")
    return lines


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--architecture", default="ng_gubbi",
                        choices=sorted(name for name in GAN_ARCHITECTURES if "cgan" not in name))
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--steps", type=int, default=3, help="timed repeats of each contender")
    parser.add_argument("--sub-pixel", action="store_true",
                        help="generators with sub-pixel transposed convolutions")
    parser.add_argument("--tap-blocks", action="store_true",
                        help="only the generator's TapSumConv2D layers, once per block shape")
    args = parser.parse_args(argv)
    if args.tap_blocks:
        rows, probe_rate = tap_block_table(args.architecture, args.size, args.batch, args.steps)
        print(f"{args.architecture} {args.size} px, batch {args.batch}: TapSumConv2D forward + "
              f"backward per block shape; median of {args.steps} alternating runs; conv probe "
              f"{probe_rate:.1f} GFLOP/s")
        for name, block, channels, flops, seconds in rows:
            print(f"{name:<10}{block:<16}{channels:>4} channels{1000 * seconds:>9.1f} ms"
                  f"{100 * flops / seconds / 1e9 / probe_rate:>6.0f}% of conv")
        return
    rows, step_seconds, step_flops, probe_rate = layer_table(
        args.architecture, args.size, args.batch, args.steps, args.sub_pixel)
    print(f"{args.architecture} {args.size} px, batch {args.batch}, sub-pixel {args.sub_pixel}; "
          f"median of {args.steps} alternating runs; conv probe {probe_rate:.1f} GFLOP/s; "
          f"load average {os.getloadavg()[0]:.2f}")
    header = (f"{'network':<14}{'layer':<22}{'kind':<26}{'GFLOP':>8}{'ms':>9}{'%conv':>7}"
              f"{'%step':>7}")
    print(header)
    print("-" * len(header))
    for role, name, kind, flops, seconds in rows:
        share = 100 * seconds * STEP_WEIGHT[role] / step_seconds
        rate = f"{100 * flops / seconds / 1e9 / probe_rate:6.0f}%" if flops else f"{'-':>7}"
        print(f"{role:<14}{name:<22}{kind:<26}{flops / 1e9:>8.2f}{1000 * seconds:>9.1f}{rate}"
              f"{share:>6.1f}%")
    print("\n".join(summarize(rows, step_seconds, step_flops, probe_rate)))


if __name__ == "__main__":
    main()
