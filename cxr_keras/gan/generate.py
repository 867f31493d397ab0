"""Turning a trained generator into images: noise, PNG files and sample-grid figures."""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np
from keras import ops
from matplotlib.figure import Figure

from cxr_keras.data.images import save_png, to_uint8
from cxr_keras.paths import display_path
from cxr_keras.progress import progress_bar

LATENT_DISTRIBUTIONS = ("normal", "uniform")


def check_distribution(distribution: str) -> None:
    """Raise a ValueError unless ``distribution`` is a known latent distribution."""
    if distribution not in LATENT_DISTRIBUTIONS:
        raise ValueError(
            f"unknown latent_distribution {distribution!r}; use one of {LATENT_DISTRIBUTIONS}"
        )


def latent_vectors(n: int, latent_dim: int, distribution: str = "normal", seed: int | None = 0):
    """Return ``n`` latent vectors as a float32 numpy array, reproducible from ``seed``.

    Used for fixed-noise sample grids and for generation outside training, so drawing them
    never touches the training random state.
    """
    check_distribution(distribution)
    rng = np.random.default_rng(seed)
    if distribution == "normal":
        z = rng.standard_normal((n, latent_dim))
    else:
        z = rng.uniform(-1.0, 1.0, (n, latent_dim))
    return z.astype("float32")


def in_batches(generate, z, labels, batch_size: int) -> np.ndarray:
    """``generate(z_batch, label_batch)`` over ``z`` (labels may be None) as one float32 array."""
    chunks = []
    for start in range(0, len(z), batch_size):
        batch_labels = None if labels is None else labels[start:start + batch_size]
        images = generate(z[start:start + batch_size], batch_labels)
        chunks.append(ops.convert_to_numpy(images).astype("float32"))
    return np.concatenate(chunks, axis=0)


def _images_from_latent(generator_or_gan, z, labels):
    if hasattr(generator_or_gan, "generate_from_latent"):
        return generator_or_gan.generate_from_latent(z, labels, batch_size=len(z))
    if labels is not None:
        raise ValueError("labels need a ConditionalGAN; pass the GAN, not its bare generator")
    return ops.convert_to_numpy(generator_or_gan(z, training=False)).astype("float32")


def write_generated_pngs(generator_or_gan, n: int, out_dir: str | os.PathLike, labels=None,
                         seed: int | None = 0, batch_size: int = 64,
                         latent_distribution: str = "normal") -> list[Path]:
    """Generate ``n`` images (equal to ``gan.generate(n, seed)``) and write them as 8-bit PNGs to
    ``out_dir/NNNNN.png`` (``out_dir/<label>/`` with ``labels``); return the paths.
    ``generator_or_gan``: a GAN or a bare generator (then ``latent_distribution`` applies).
    """
    if int(n) < 1:
        raise ValueError(f"n must be a positive integer, got {n!r}")
    if int(batch_size) < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
    latent_dim = getattr(generator_or_gan, "latent_dim", None)
    if latent_dim is None:
        latent_dim = generator_or_gan.input_shape[-1]
    latent_distribution = getattr(generator_or_gan, "latent_distribution", latent_distribution)
    z = latent_vectors(int(n), latent_dim, latent_distribution, seed)
    if labels is not None:
        labels = np.broadcast_to(np.asarray(labels, dtype="int32"), (int(n),))
    out_dir = Path(out_dir)
    paths = []
    desc = f"writing PNGs to {display_path(out_dir)}"
    with progress_bar(total=int(n), desc=desc, unit="img") as progress:
        for start in range(0, int(n), int(batch_size)):
            stop = min(start + int(batch_size), int(n))
            batch_labels = None if labels is None else labels[start:stop]
            images = _images_from_latent(generator_or_gan, z[start:stop], batch_labels)
            for index, image in enumerate(images, start=start):
                folder = out_dir if labels is None else out_dir / str(labels[index])
                paths.append(save_png(folder / f"{index:05d}.png", image))
            progress.update(stop - start)
    return paths


def sample_grid_figure(images, labels=None, class_names=None, ncols: int | None = None,
                       title: str | None = None) -> Figure:
    """A matplotlib figure showing ``images`` (in [-1, 1], NHWC) in a grid.

    ``labels`` (one int per image) are written above the images, as ``class_names[label]``
    when names are given. ``ncols`` defaults to a near-square grid.
    """
    images = np.asarray(images)
    if images.ndim != 4 or images.shape[-1] not in (1, 3):
        raise ValueError(f"images must be NHWC with 1 or 3 channels, got shape {images.shape}")
    if labels is not None and len(labels) != len(images):
        raise ValueError(f"got {len(labels)} labels for {len(images)} images")
    ncols = int(ncols or math.ceil(math.sqrt(len(images))))
    nrows = math.ceil(len(images) / ncols)
    figure = Figure(figsize=(1.4 * ncols, 1.5 * nrows))
    pixels = to_uint8(images)
    for index in range(nrows * ncols):
        axis = figure.add_subplot(nrows, ncols, index + 1)
        axis.axis("off")
        if index >= len(images):
            continue
        image = pixels[index, ..., 0] if pixels.shape[-1] == 1 else pixels[index]
        axis.imshow(image, cmap="gray", vmin=0, vmax=255)
        if labels is not None:
            label = int(labels[index])
            axis.set_title(class_names[label] if class_names else str(label), fontsize=8)
    if title:
        figure.suptitle(title)
    return figure
