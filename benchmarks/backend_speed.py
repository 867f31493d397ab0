"""GAN step speed side by side: the kit on each Keras backend against the same networks
written for PyTorch eager, and against the machine's conv rate.

For each paper's unconditional GAN pair (grayscale, ``--size`` px, ``--batch``): one full
step (D step on real + fake, then G step, Adam, BCE on logits) on a fixed batch. Contenders:

* ``kit-tensorflow``, ``kit-jax``, ``kit-torch``: :class:`cxr_keras.gan.GAN` ``train_on_batch``
  on that Keras backend (the kit's own step, compiled as the backend does by default);
* ``pytorch-eager``: the same layers rebuilt as ``torch.nn`` modules from the Keras models'
  configs (:func:`to_torch`), trained by the plain PyTorch-DCGAN-tutorial loop (the G step
  runs G again on the same noise, as the kit's does), ``torch.set_num_threads(cores)``.

Each contender runs in its own process (one Keras backend per process) and times every
architecture after warm-up steps; the processes run in alternation for ``--rounds`` rounds so
that a machine shared with other jobs slows each alike, and the best round's median counts.
A TensorFlow 3x3 128->128 conv probe (``benchmarks/gan_step.py``) gives the machine's conv
rate between rounds; FLOPs per step are counted as there. Prints one table: img/s, GFLOP/s,
%conv and each kit backend's speed over PyTorch eager. Contenders whose backend is not
installed are skipped with a note (PyTorch: ``pip install -e '.[torch]'``).

    python benchmarks/backend_speed.py                       # 64 px, batch 32, all papers
    python benchmarks/backend_speed.py --architectures davoodi --rounds 3
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
ARCHITECTURES = ("davoodi", "kora_venu", "salehinejad", "ng_gubbi")
CONTENDERS = {"kit-tensorflow": "tensorflow", "kit-jax": "jax", "kit-torch": "torch",
              "pytorch-eager": "torch"}
BACKEND_MODULE = {"tensorflow": "tensorflow", "jax": "jax", "torch": "torch"}


# ----- the same networks in PyTorch ------------------------------------------------------
def to_torch(model, input_shape):
    """A ``torch.nn.Sequential`` with the layers of a single-input chain Keras ``model``
    (Dense, Reshape, Flatten, Conv2D, Conv2DTranspose, BatchNormalization, ReLU, LeakyReLU,
    Dropout, Activation) taking ``input_shape`` (channels last, no batch axis), NCHW, padding
    chosen so every output has the Keras shape."""
    import keras
    import torch
    from torch import nn

    activations = {"linear": None, "tanh": nn.Tanh, "sigmoid": nn.Sigmoid, "relu": nn.ReLU}

    class NCHWReshape(nn.Module):
        def __init__(self, height, width, channels):
            super().__init__()
            self.shape = (channels, height, width)

        def forward(self, x):
            return x.reshape(x.shape[0], *self.shape)

    modules, in_shape = [], tuple(input_shape)
    for layer in model.layers:
        if isinstance(layer, keras.layers.InputLayer):
            continue
        config, out_shape = layer.get_config(), tuple(layer.compute_output_shape((None, *in_shape))[1:])
        if isinstance(layer, (keras.layers.Conv2D, keras.layers.Conv2DTranspose)):
            (k, _), (s, _) = config["kernel_size"], config["strides"]
            same = config["padding"] == "same"
            if isinstance(layer, keras.layers.Conv2DTranspose):
                pad = -(-(k - s) // 2) if same else 0
                extra = s + 2 * pad - k if same else 0
                modules.append(nn.ConvTranspose2d(in_shape[-1], config["filters"], k, s, pad, extra,
                                                  bias=config["use_bias"]))
            else:
                padding = ("same" if s == 1 else (k - 1) // 2) if same else 0
                modules.append(nn.Conv2d(in_shape[-1], config["filters"], k, s, padding,
                                         bias=config["use_bias"]))
        elif isinstance(layer, keras.layers.Dense):
            modules.append(nn.Linear(in_shape[-1], config["units"], bias=config["use_bias"]))
        elif isinstance(layer, keras.layers.Reshape):
            modules.append(NCHWReshape(*config["target_shape"]))
        elif isinstance(layer, keras.layers.Flatten):
            modules.append(nn.Flatten())
        elif isinstance(layer, keras.layers.BatchNormalization):
            norm = nn.BatchNorm2d if len(in_shape) == 3 else nn.BatchNorm1d
            modules.append(norm(in_shape[-1], eps=config["epsilon"], momentum=1 - config["momentum"]))
        elif isinstance(layer, keras.layers.LeakyReLU):
            modules.append(nn.LeakyReLU(config["negative_slope"]))
        elif isinstance(layer, keras.layers.ReLU):
            modules.append(nn.ReLU())
        elif isinstance(layer, keras.layers.Dropout):
            modules.append(nn.Dropout(config["rate"]))
        elif not isinstance(layer, keras.layers.Activation):
            raise TypeError(f"to_torch: no PyTorch counterpart for {type(layer).__name__} "
                            f"({layer.name}) in {model.name}")
        activation = config.get("activation", "linear")
        if activation not in activations:
            raise TypeError(f"to_torch: no PyTorch counterpart for activation {activation!r} "
                            f"({layer.name}) in {model.name}")
        activation = activations[activation]
        if activation is not None:
            modules.append(activation())
        in_shape = out_shape
    network = nn.Sequential(*modules)
    with torch.no_grad():  # the shapes must be the Keras model's, channels first
        out = network(torch.zeros(2, *_channels_first(tuple(input_shape))))
    expected = _channels_first(in_shape)
    if tuple(out.shape[1:]) != expected:
        raise ValueError(f"to_torch({model.name}): output {tuple(out.shape[1:])}, Keras {expected}")
    return network


def _channels_first(shape):
    return (shape[-1], *shape[:-1]) if len(shape) == 3 else shape


# ----- one contender's process -----------------------------------------------------------
def keras_models(architecture, size):
    from cxr_keras.models import GAN_ARCHITECTURES, build_gan_pair

    generator, discriminator = build_gan_pair(architecture, size, 1)
    return generator, discriminator, GAN_ARCHITECTURES[architecture].latent


def kit_step(architecture, size, batch):
    import keras
    import numpy as np

    from cxr_keras.gan import GAN

    generator, discriminator, latent = keras_models(architecture, size)
    gan = GAN(generator, discriminator, latent.dim, latent_distribution=latent.distribution)
    gan.compile(keras.optimizers.Adam(2e-4, beta_1=0.5), keras.optimizers.Adam(2e-4, beta_1=0.5))
    images = np.random.default_rng(0).uniform(-1, 1, (batch, size, size, 1)).astype("float32")
    return lambda: float(gan.train_on_batch(images, return_dict=True)["d_loss"])


def pytorch_step(architecture, size, batch):
    import torch
    from torch import nn

    torch.manual_seed(0)
    generator, discriminator, latent = keras_models(architecture, size)
    g = to_torch(generator, (latent.dim,))
    d = to_torch(discriminator, (size, size, 1))
    g_opt = torch.optim.Adam(g.parameters(), 2e-4, betas=(0.5, 0.999))
    d_opt = torch.optim.Adam(d.parameters(), 2e-4, betas=(0.5, 0.999))
    bce = nn.BCEWithLogitsLoss()
    real = torch.rand(batch, 1, size, size) * 2 - 1
    ones, zeros = torch.ones(batch, 1), torch.zeros(batch, 1)

    def step():
        z = torch.randn(batch, latent.dim)
        d_opt.zero_grad()
        d_loss = bce(d(real).reshape(batch, 1), ones) + bce(d(g(z).detach()).reshape(batch, 1), zeros)
        d_loss.backward()
        d_opt.step()
        g_opt.zero_grad()
        g_loss = bce(d(g(z)).reshape(batch, 1), ones)
        g_loss.backward()
        g_opt.step()
        return float(d_loss)

    return step


def worker(contender, architectures, size, batch, steps, warmup) -> dict:
    """Median seconds per step of each architecture for ``contender`` (in this process)."""
    if contender == "pytorch-eager":
        import torch

        torch.set_num_threads(os.cpu_count() or 1)
    make = pytorch_step if contender == "pytorch-eager" else kit_step
    medians = {}
    for architecture in architectures:
        step = make(architecture, size, batch)
        for _ in range(warmup):
            step()
        times = []
        for _ in range(steps):
            start = time.perf_counter()
            step()
            times.append(time.perf_counter() - start)
        medians[architecture] = statistics.median(times)
    return medians


def probe_worker(architectures, size, batch) -> dict:
    """The conv probe's GFLOP/s and each architecture's FLOPs per step (TensorFlow)."""
    sys.path.insert(0, str(REPO / "benchmarks"))
    from gan_step import _best_rate, conv_probe, step_flops

    function, flops = conv_probe(16, 32, 128)
    rate = _best_rate(function, flops, 5)
    counted = {}
    for architecture in architectures:
        generator, discriminator, _ = keras_models(architecture, size)
        counted[architecture] = step_flops(generator, discriminator, batch)
    return {"conv_gflops": rate, "step_flops": counted}


# ----- the orchestration -----------------------------------------------------------------
def run_process(args, *worker_args, backend="tensorflow") -> dict:
    env = {**os.environ, "KERAS_BACKEND": backend, "TF_CPP_MIN_LOG_LEVEL": "3",
           "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
    command = [sys.executable, __file__, "--architectures", *args.architectures, "--size",
               str(args.size), "--batch", str(args.batch), "--steps", str(args.steps), *worker_args]
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(worker_args)} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--architectures", nargs="+", default=list(ARCHITECTURES),
                        choices=ARCHITECTURES)
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--steps", type=int, default=5, help="timed steps per architecture")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--contenders", nargs="+", default=list(CONTENDERS), choices=CONTENDERS)
    parser.add_argument("--worker", choices=[*CONTENDERS, "probe"], help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker == "probe":
        print(json.dumps(probe_worker(args.architectures, args.size, args.batch)))
        return
    if args.worker:
        print(json.dumps(worker(args.worker, args.architectures, args.size, args.batch,
                                args.steps, warmup=2)))
        return

    contenders = [c for c in args.contenders if importlib.util.find_spec(BACKEND_MODULE[CONTENDERS[c]])]
    for skipped in sorted(set(args.contenders) - set(contenders)):
        print(f"skipping {skipped}: {BACKEND_MODULE[CONTENDERS[skipped]]} is not installed")
    seconds = {c: {a: [] for a in args.architectures} for c in contenders}
    probes = []
    for _ in range(args.rounds):
        probes.append(run_process(args, "--worker", "probe"))
        for contender in contenders:
            for architecture, value in run_process(args, "--worker", contender,
                                                   backend=CONTENDERS[contender]).items():
                seconds[contender][architecture].append(value)
    conv = max(p["conv_gflops"] for p in probes)
    print(f"machine: {os.cpu_count()} CPU threads; conv probe (TF 3x3 128->128) {conv:.1f} GFLOP/s; "
          f"{args.size} px, batch {args.batch}, best of {args.rounds} rounds of {args.steps} steps")
    header = f"{'architecture':<13}{'contender':<16}{'img/s':>8}{'GFLOP/s':>9}{'%conv':>7}{'vs PyTorch':>12}"
    print(header + "\n" + "-" * len(header))
    for architecture in args.architectures:
        flops = probes[0]["step_flops"][architecture]
        best = {c: min(seconds[c][architecture]) for c in contenders}
        for contender in contenders:
            rate = flops / best[contender] / 1e9
            versus = (f"{best['pytorch-eager'] / best[contender]:.2f}x"
                      if "pytorch-eager" in best and contender != "pytorch-eager" else "")
            print(f"{architecture:<13}{contender:<16}{args.batch / best[contender]:>8.1f}"
                  f"{rate:>9.1f}{100 * rate / conv:>6.0f}%{versus:>12}")


if __name__ == "__main__":
    main()
