"""Notebook 01's two GANs: the paper's recipe and the kit's, trained and judged the same way.
Details: docs/modules.md."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from cxr_keras.fingerprint import array_digest
from cxr_keras.gan import ShuffledBatches, train_gan
from cxr_keras.health import GANSamples
from cxr_keras.reproductions.gan_setup import build_compiled_gan, recipe_batch_size

PAPER_ARCHITECTURE = "kora_venu"


def recipe_channels(recipe: Mapping | None, channels: int) -> tuple[int, dict]:
    """``(channels the recipe generates, the recipe without its "channels" key)``."""
    recipe = dict(recipe or {})
    channels = int(recipe.pop("channels", channels))
    if channels not in (1, 3):
        raise ValueError(f"recipe channels must be 1 (grayscale) or 3, got {channels}")
    return channels, recipe


def with_channels(images: np.ndarray, channels: int) -> np.ndarray:
    """Grayscale NHWC ``images`` (one channel) as ``channels`` channels (repeated for 3)."""
    images = np.asarray(images, dtype=np.float32)
    if images.ndim != 4 or images.shape[-1] != 1:
        raise ValueError(f"images must be grayscale NHWC (last axis 1), got shape {images.shape}")
    return np.repeat(images, channels, axis=-1) if channels == 3 else images


def build_recipe_gan(recipe: Mapping | None, image_size: int, channels: int = 3,
                     variant: str = "code", latent_dim: int = 100, learning_rate: float = 2e-4,
                     seed: int = 0):
    """The compiled GAN of ``recipe`` (``{}``: the paper's DCGAN of the published code or
    journal text ``variant``, Adam(``learning_rate``, beta1 0.5)); ``variant`` and
    ``latent_dim`` apply to the paper's networks only."""
    channels, recipe = recipe_channels(recipe, channels)
    recipe.pop("batch_size", None)  # read by train_recipe
    paper_networks = recipe.get("architecture", PAPER_ARCHITECTURE) == PAPER_ARCHITECTURE
    model_kwargs = {"variant": variant, "latent_dim": latent_dim} if paper_networks else {}
    return build_compiled_gan(PAPER_ARCHITECTURE, image_size, channels, learning_rate,
                              (0.5, 0.999), seed, recipe=recipe, **model_kwargs)


def train_recipe(recipe: Mapping | None, gray_images: np.ndarray, epochs: int, batch_size: int,
                 out_dir: str | os.PathLike, channels: int = 3, variant: str = "code",
                 latent_dim: int = 100, learning_rate: float = 2e-4, seed: int = 0,
                 sample_every: int | None = None, verbose="auto"):
    """Build ``recipe``'s GAN and train it for ``epochs`` on ``gray_images`` (grayscale NHWC in
    [-1, 1], repeated to the recipe's channels), resumably in ``out_dir``.

    Batches are ``ShuffledBatches(..., drop_remainder=False)`` of ``seed``, and the
    checkpoints carry a fingerprint of the recipe, the images and every setting but
    ``epochs``, so a rerun with more epochs continues and one with other inputs raises.
    Returns ``(gan, history)``.
    """
    gan_channels, _ = recipe_channels(recipe, channels)
    batch_size = recipe_batch_size(recipe, batch_size)
    images = with_channels(gray_images, gan_channels)
    gan = build_recipe_gan(recipe, images.shape[1], channels, variant, latent_dim, learning_rate, seed)
    fingerprint = {"recipe": dict(recipe or {}), "images": array_digest(images),
                   "batch_size": int(batch_size), "variant": variant, "latent_dim": int(latent_dim),
                   "learning_rate": float(learning_rate), "seed": int(seed)}
    batches = ShuffledBatches(images, batch_size=batch_size, seed=seed, drop_remainder=False)
    history = train_gan(gan, batches, epochs=epochs, out_dir=out_dir, seed=seed,
                        sample_every=sample_every or max(1, epochs // 10), verbose=verbose,
                        fingerprint=fingerprint)
    return gan, history


def train_recipes(recipes: Mapping[str, Mapping], gray_images: np.ndarray, epochs: int,
                  batch_size: int, out_dir: str | os.PathLike, **train_kwargs) -> dict:
    """:func:`train_recipe` for each of ``recipes`` ({name: recipe}) in ``out_dir/<name>``;
    returns ``{name: gan}``."""
    if not recipes:
        raise ValueError("gan_recipes is empty: give at least the paper's recipe, {'paper': {}}")
    return {name: train_recipe(recipe, gray_images, epochs, batch_size, Path(out_dir) / name,
                               **train_kwargs)[0]
            for name, recipe in recipes.items()}


def recipe_health_samples(gans: Mapping, gray_train: np.ndarray, gray_holdout: np.ndarray,
                          n_generated: int, histories_dir: str | os.PathLike,
                          seed: int = 0, label: int | None = None) -> dict[str, GANSamples]:
    """``{name: GANSamples}`` for :func:`~cxr_keras.health.measure_gan_health`:
    ``n_generated`` samples of each GAN of ``gans`` ({name: gan}), its training images
    ``gray_train`` and the held-out ``gray_holdout`` (grayscale, repeated to the GAN's channels)
    and its history from ``histories_dir/<name>/history.csv``; ``label``: the class index the
    samples stand for (for the judge's class check)."""
    samples = {}
    for name, gan in gans.items():
        channels = gan.generator.output_shape[-1]
        history_path = Path(histories_dir) / name / "history.csv"
        samples[name] = GANSamples(
            generated=gan.generate(n_generated, seed=seed),
            train=with_channels(gray_train, channels), holdout=with_channels(gray_holdout, channels),
            history=pd.read_csv(history_path) if history_path.is_file() else None, label=label)
    return samples
