"""One GAN per class, synthetic images per class, and a filter for bad samples (:data:`FILTERS`:
``"discriminator"`` keeps the samples D finds most real, ``"distance"`` drops likely copies
and outliers by their distance to the nearest real image). docs/reproductions.md.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from cxr_keras import metrics
from cxr_keras.fingerprint import canonical
from cxr_keras.gan import EpochProgress, train_gan
from cxr_keras.gan.batches import ShuffledBatches
from cxr_keras.health import GANSamples
from cxr_keras.metrics.generative import knn_radii
from cxr_keras.metrics.memorization import nearest_neighbours
from cxr_keras.reproductions.gan_setup import recipe_batch_size

FILTERS = ("none", "discriminator", "distance")


def images_by_class(x: np.ndarray, y: np.ndarray, classes: Sequence[str]) -> dict[str, np.ndarray]:
    """Split images ``x`` by integer labels ``y`` into {class name: images}."""
    x, y = np.asarray(x), np.asarray(y)
    if len(x) != len(y):
        raise ValueError(f"x has {len(x)} images but y has {len(y)} labels")
    if len(y) and (y.min() < 0 or y.max() >= len(classes)):
        raise ValueError(f"labels must be in [0, {len(classes)}), got {np.unique(y)}")
    return {name: x[y == index] for index, name in enumerate(classes)}


TRAINING_KEYS = ("batch_size", "min_updates")  # recipe keys read here, not by the GAN build


def train_per_class_gans(
    images: Mapping[str, np.ndarray], build_gan: Callable[[str, dict], object], epochs: int,
    out_dir: str | os.PathLike, batch_size: int, seed: int = 0, resume: bool = True,
    callbacks: Callable[[str, Path], list] | None = None, sample_every: int | None = None,
    recipe: Mapping | None = None,
) -> tuple[dict[str, object], pd.DataFrame]:
    """Train ``build_gan(class_name, gan_recipe)`` on each class's images in
    ``out_dir/<class>/``, resumable per class; return the GANs by class and their histories
    stacked with a ``class`` column.

    ``recipe``'s own keys ``batch_size`` and ``min_updates`` are read here (docs/reproductions.md),
    the rest goes to ``build_gan``. ``callbacks(class_name, class_dir)`` may return extra
    callbacks; ``sample_every`` defaults to one sample grid at the last epoch.
    """
    recipe = dict(recipe or {})
    gan_recipe = {key: value for key, value in recipe.items() if key not in TRAINING_KEYS}
    batch_size = recipe_batch_size(recipe, batch_size)
    min_updates = int(recipe.get("min_updates", 0))
    if min_updates < 0:
        raise ValueError(f"recipe min_updates must be >= 0, got {min_updates}")
    gans, histories = {}, []
    for index, (name, class_images) in enumerate(images.items()):
        if len(class_images) == 0:
            raise ValueError(f"class {name!r} has no training images; drop it or add images")
        class_dir = Path(out_dir) / class_folder(name)
        class_epochs = class_epochs_for(len(class_images), epochs, batch_size, min_updates)
        gan = build_gan(name, dict(gan_recipe))
        progress = EpochProgress(f"GAN {index + 1}/{len(images)} ({name})")
        history = train_gan(
            gan, image_batches(class_images, batch_size, seed + index), class_epochs, class_dir,
            resume=resume, sample_every=sample_every or class_epochs, verbose=0,
            callbacks=[*(callbacks(name, class_dir) if callbacks else ()), progress],
            fingerprint={"recipe": canonical(recipe)},
        )
        gans[name] = gan
        histories.append(pd.DataFrame(history).assign(**{"class": name}))
    return gans, pd.concat(histories, ignore_index=True)


def class_epochs_for(n_images: int, epochs: int, batch_size: int, min_updates: int = 0) -> int:
    """``epochs``, raised so that a class of ``n_images`` takes at least ``min_updates``
    optimizer steps at ``batch_size`` (full batches, see :func:`gan_updates`)."""
    per_epoch = max(1, int(n_images) // min(int(batch_size), int(n_images)))
    return max(int(epochs), -(-int(min_updates) // per_epoch))


def image_batches(images: np.ndarray, batch_size: int, seed: int = 0):
    """Shuffled batches of ``images`` in an order fixed by ``seed`` and the epoch, so a resumed
    GAN sees the batches of an uninterrupted one (a short last batch is dropped when possible)."""
    return ShuffledBatches(images, batch_size=batch_size, seed=seed)


def gan_updates(train_counts: Mapping[str, int], epochs: int, batch_size: int,
                min_updates: int = 0) -> pd.Series:
    """Optimizer steps each class's GAN took: its epochs (:func:`class_epochs_for`) times the
    full batches of :func:`image_batches` (a class smaller than ``batch_size`` is one batch
    per epoch)."""
    return pd.Series({name: class_epochs_for(n, epochs, batch_size, min_updates)
                      * (int(n) // min(int(batch_size), int(n))) if n else 0
                      for name, n in train_counts.items()}, name="gan_updates")


def class_folder(name: str) -> str:
    """A file-system-safe folder name for a class (spaces and slashes become underscores)."""
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in str(name))


def generate_per_class(
    gans: Mapping[str, object], counts: Mapping[str, int], seed: int = 0, batch_size: int = 64
) -> dict[str, np.ndarray]:
    """Draw ``counts[class]`` images from each class's GAN (classes with 0 get an empty array)."""
    generated = {}
    for index, (name, count) in enumerate(counts.items()):
        if name not in gans:
            raise KeyError(f"no GAN trained for class {name!r}; trained: {list(gans)}")
        if count < 0:
            raise ValueError(f"cannot generate {count} images of class {name!r}")
        gan = gans[name]
        if count == 0:
            shape = tuple(gan.generator.output_shape[1:])
            generated[name] = np.zeros((0, *shape), dtype=np.float32)
        else:
            generated[name] = gan.generate(int(count), seed=seed + index, batch_size=batch_size)
    return generated


def health_samples(
    gans: Mapping[str, object], train: Mapping[str, np.ndarray], holdout: Mapping[str, np.ndarray],
    history: pd.DataFrame, recipe: str, seed: int = 0, labels: Mapping[str, int] | None = None,
) -> dict[str, GANSamples]:
    """What :func:`cxr_keras.health.measure_gan_health` needs of one recipe's
    per-class GANs: ``{"<class> / <recipe>": GANSamples}``, each GAN drawing as many images as
    its class has held-out real ones (``holdout``), with its rows of the stacked ``history``
    and, with ``labels`` ({class: index}), the class index its samples stand for."""
    return {f"{name} / {recipe}": GANSamples(
                gan.generate(len(holdout[name]), seed=seed + index), train[name], holdout[name],
                history[history["class"] == name].drop(columns="class"), (labels or {}).get(name))
            for index, (name, gan) in enumerate(gans.items())}


def recipe_verdicts(health: pd.DataFrame, recipe: str) -> dict[str, str]:
    """{class: health verdict} of one recipe's rows of a :func:`health_samples` health table."""
    suffix = f" / {recipe}"
    rows = health[health["gan"].str.endswith(suffix)]
    if rows.empty:
        raise KeyError(f"no GAN of recipe {recipe!r} in the health table; gans: {list(health['gan'])}")
    return dict(zip(rows["gan"].str[: -len(suffix)], rows["verdict"]))


def discriminator_keep_mask(
    images: np.ndarray, discriminator, keep_fraction: float, batch_size: int = 64
) -> np.ndarray:
    """Boolean mask keeping the ``keep_fraction`` of ``images`` with the highest D logits."""
    if not 0.0 < keep_fraction <= 1.0:
        raise ValueError(f"keep_fraction must be in (0, 1], got {keep_fraction}")
    if len(images) == 0:
        return np.zeros(0, dtype=bool)
    logits = np.asarray(discriminator.predict(images, batch_size=batch_size, verbose=0)).reshape(len(images), -1)
    scores = logits.mean(axis=1)
    n_keep = max(1, round(keep_fraction * len(images)))
    keep = np.zeros(len(images), dtype=bool)
    keep[np.argsort(-scores, kind="stable")[:n_keep]] = True
    return keep


def distance_keep_mask(
    images: np.ndarray, real_images: np.ndarray, copy_factor: float = 0.5,
    outlier_factor: float = 1.5,
) -> np.ndarray:
    """Boolean mask dropping samples too close to (copies) or too far from the real images.

    With ``d`` a sample's pixel distance to its nearest real image and ``r`` the distances of
    each real image to its nearest *other* real image, a sample is kept when
    ``copy_factor * min(r) <= d <= outlier_factor * max(r)``.
    """
    if not 0.0 <= copy_factor <= 1.0 <= outlier_factor:
        raise ValueError(
            f"need 0 <= copy_factor <= 1 <= outlier_factor, got {copy_factor} and {outlier_factor}"
        )
    if len(images) == 0:
        return np.zeros(0, dtype=bool)
    if len(real_images) < 2:
        raise ValueError("the distance filter needs at least 2 real images for a baseline")
    real = np.asarray(real_images, dtype=np.float64).reshape(len(real_images), -1)
    _, distances = nearest_neighbours(np.asarray(images, dtype=np.float64), real)
    baseline = knn_radii(real, k=1)
    return (distances >= copy_factor * baseline.min()) & (distances <= outlier_factor * baseline.max())


def diversity_ratio(images: Mapping[str, np.ndarray], real_images: Mapping[str, np.ndarray]) -> pd.Series:
    """Per class, :func:`cxr_keras.metrics.diversity_ratio` in pixel space with the
    ``"median_nearest"`` statistic (about 1: as varied as the real images; near 0: mode
    collapse). Classes with fewer than 2 samples or real images: NaN."""
    return _per_class(lambda generated, real: metrics.diversity_ratio(
        generated, real, statistic="median_nearest"), images, real_images, "diversity_ratio")


def distance_ratio(images: Mapping[str, np.ndarray], real_images: Mapping[str, np.ndarray]) -> pd.Series:
    """Per class, :func:`cxr_keras.metrics.nearest_distance_ratio` in pixel space (about 1:
    among the real images; well above 1: unlike any; near 0: copies). Classes with fewer than
    2 samples or real images: NaN."""
    return _per_class(metrics.nearest_distance_ratio, images, real_images, "distance_ratio")


def _per_class(ratio, images, real_images, name: str) -> pd.Series:
    return pd.Series({cls: ratio(generated, real_images[cls])
                      if len(generated) >= 2 and len(real_images[cls]) >= 2 else float("nan")
                      for cls, generated in images.items()}, name=name)


def filter_samples(
    images: np.ndarray, method: str = "none", discriminator=None,
    real_images: np.ndarray | None = None, keep_fraction: float = 0.8, copy_factor: float = 0.5,
    outlier_factor: float = 1.5,
) -> tuple[np.ndarray, np.ndarray]:
    """Apply one of :data:`FILTERS` to ``images``; return (kept images, boolean keep mask)."""
    if method not in FILTERS:
        raise ValueError(f"unknown filter {method!r}; use one of {FILTERS}")
    if method == "none":
        keep = np.ones(len(images), dtype=bool)
    elif method == "discriminator":
        if discriminator is None:
            raise ValueError("the discriminator filter needs the class's discriminator")
        keep = discriminator_keep_mask(images, discriminator, keep_fraction)
    else:
        if real_images is None:
            raise ValueError("the distance filter needs the class's real training images")
        keep = distance_keep_mask(images, real_images, copy_factor, outlier_factor)
    return images[keep], keep


def generate_filtered(
    gans: Mapping[str, object], counts: Mapping[str, int], method: str = "none",
    real_images: Mapping[str, np.ndarray] | None = None, keep_fraction: float = 0.8,
    max_rounds: int = 5, seed: int = 0,
) -> tuple[dict[str, np.ndarray], pd.DataFrame]:
    """Generate ``counts[class]`` images per class that pass the filter ``method``.

    Each round draws ``count / keep_fraction`` images (``count`` when unfiltered) with a new
    seed and filters them, until ``count`` have passed; after ``max_rounds`` rounds a
    ValueError says which class falls short. Returns the images by class and a frame
    (class, requested, generated, passed_filter) recording what the filter removed.
    """
    if method not in FILTERS:
        raise ValueError(f"unknown filter {method!r}; use one of {FILTERS}")
    if not 0.0 < keep_fraction <= 1.0:
        raise ValueError(f"keep_fraction must be in (0, 1], got {keep_fraction}")
    kept, rows = {}, []
    for index, (name, count) in enumerate(counts.items()):
        batch = int(np.ceil(count / keep_fraction)) if method != "none" else count
        survivors, generated = [], 0
        for round_ in range(max_rounds):
            if sum(map(len, survivors)) >= count:
                break
            images = generate_per_class(gans, {name: batch}, seed=seed + 7919 * round_ + index)[name]
            generated += len(images)
            passed, _ = filter_samples(
                images, method, discriminator=gans[name].discriminator,
                real_images=None if real_images is None else real_images.get(name),
                keep_fraction=keep_fraction)
            survivors.append(passed)
        pool = np.concatenate(survivors) if survivors else generate_per_class(gans, {name: 0})[name]
        if len(pool) < count:
            raise ValueError(
                f"only {len(pool)} of {generated} generated {name!r} images passed the {method} "
                f"filter, {count} needed; raise max_rounds or loosen the filter"
            )
        kept[name] = pool[:count]
        rows.append({"class": name, "requested": count, "generated": generated,
                     "passed_filter": len(pool)})
    return kept, pd.DataFrame(rows)
