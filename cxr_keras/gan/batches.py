"""Shuffled training batches whose order is a pure function of (seed, epoch). Details:
docs/modules.md."""

from __future__ import annotations

from collections.abc import Mapping

import keras
import numpy as np

from cxr_keras.fingerprint import array_digest
from cxr_keras.gan.backend import process_shard


def _as_images(images) -> np.ndarray:
    images = np.asarray(images)
    if images.ndim != 4:
        raise ValueError(f"images must be an NHWC array (4 dimensions), got shape {images.shape}")
    if len(images) == 0:
        raise ValueError("images is empty: a GAN needs at least one training image")
    return images.astype("float32", copy=False)


def _as_labels(labels, count: int) -> np.ndarray | None:
    if labels is None:
        return None
    labels = np.asarray(labels)
    if labels.shape != (count,) or not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(
            f"labels must be {count} integer class labels (one per image), got dtype "
            f"{labels.dtype} and shape {labels.shape}"
        )
    return labels.astype("int32", copy=False)


class ShuffledBatches(keras.utils.PyDataset):
    """Batches of ``images`` (and ``labels``, for a conditional GAN) in a per-epoch order.

    Epoch ``e`` uses the permutation drawn from ``(seed, e)``; ``initial_epoch`` (or
    :meth:`start_at`) is the epoch the next ``fit`` starts at; ``shard`` = (index, count) serves
    only that slice of every batch (default: this process's,
    :func:`~cxr_keras.gan.backend.process_shard`).
    How ``on_epoch_begin`` counts epochs on each backend: docs/modules.md.
    """

    def __init__(self, images, labels=None, batch_size: int = 32, seed: int = 0,
                 drop_remainder: bool = True, initial_epoch: int = 0,
                 shard: tuple[int, int] | None = None):
        super().__init__()
        self.images = _as_images(images)
        self.labels = _as_labels(labels, len(self.images))
        if int(batch_size) < 1 or int(batch_size) != batch_size:
            raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
        self.batch_size = min(int(batch_size), len(self.images))
        self.seed = int(seed)
        self.drop_remainder = bool(drop_remainder)
        self.shard_index, self.shard_count = process_shard() if shard is None else map(int, shard)
        if not 0 <= self.shard_index < self.shard_count:
            raise ValueError(f"shard must be (index, count) with 0 <= index < count, got "
                             f"({self.shard_index}, {self.shard_count})")
        if self.batch_size % self.shard_count:
            raise ValueError(
                f"shard {self.shard_index} of {self.shard_count} needs a batch_size divisible by "
                f"{self.shard_count} (got {self.batch_size}): choose a multiple of the process count")
        self.start_at(initial_epoch)

    def start_at(self, epoch: int) -> None:
        """Serve epoch ``epoch``'s batches (0-based) from the next ``fit`` epoch on."""
        if int(epoch) < 0:
            raise ValueError(f"epoch must be >= 0, got {epoch!r}")
        self.epoch = int(epoch)
        self._began = False
        self._served = 0  # batches served since the last on_epoch_begin

    def order(self, epoch: int) -> np.ndarray:
        """The permutation of image indices used in ``epoch`` (0-based)."""
        rng = np.random.default_rng([self.seed, int(epoch)])
        return rng.permutation(len(self.images))

    def __len__(self) -> int:
        full, rest = divmod(len(self.images), self.batch_size)
        return full if self.drop_remainder or not rest else full + 1

    def __getitem__(self, index: int):
        if not 0 <= index < len(self):
            raise IndexError(f"batch index {index} out of range for {len(self)} batches")
        self._served += 1
        chosen = self.order(self.epoch)[index * self.batch_size:(index + 1) * self.batch_size]
        if self.shard_count > 1:
            chosen = np.array_split(chosen, self.shard_count)[self.shard_index]
        if self.labels is None:
            return self.images[chosen]
        return self.images[chosen], self.labels[chosen]

    def on_epoch_begin(self) -> None:
        if self._began and self._served >= len(self):
            self.epoch += 1
        self._began, self._served = True, 0

    def stamp_inputs(self) -> dict:
        """What fixes these batches, for a fingerprint stamp: data digests and the batching."""
        return {"images": array_digest(self.images),
                "labels": None if self.labels is None else array_digest(self.labels),
                "batch_size": self.batch_size, "shuffle_seed": self.seed,
                "drop_remainder": self.drop_remainder}


def training_batches(data, batch_size: int = 32, seed: int = 0):
    """``data`` as something ``fit`` can train a GAN on.

    A ``tf.data.Dataset`` or a ``PyDataset`` is returned as it is; an images array, or an
    ``(images, labels)`` pair of arrays, becomes a :class:`ShuffledBatches` with a
    reproducible per-epoch order.
    """
    if isinstance(data, keras.utils.PyDataset) or not isinstance(data, (np.ndarray, tuple, list)):
        return data
    if isinstance(data, (tuple, list)):
        if len(data) != 2:
            raise ValueError(f"data as a tuple must be (images, labels), got {len(data)} items")
        return ShuffledBatches(data[0], data[1], batch_size=batch_size, seed=seed)
    return ShuffledBatches(data, batch_size=batch_size, seed=seed)


def run_inputs(gan, batches, fingerprint: Mapping | None = None) -> dict:
    """The inputs a GAN run's checkpoints are stamped with: the caller's ``fingerprint``,
    the GAN's class and latent size, and (for :class:`ShuffledBatches`) the data. The GAN's
    seed is left out: a resume restores the noise state from the checkpoint."""
    if fingerprint is not None and not isinstance(fingerprint, Mapping):
        raise TypeError(
            "fingerprint must be a mapping of names to values (recipe, data digest, "
            f"parameters), got {type(fingerprint).__name__}"
        )
    if fingerprint and "epochs" in fingerprint:
        raise ValueError(
            "fingerprint must not hold 'epochs': a run may be continued to more epochs; "
            "leave it out"
        )
    own = {"gan_class": type(gan).__name__, "gan_latent_dim": gan.latent_dim}
    if isinstance(batches, ShuffledBatches):
        own.update({f"data_{key}": value for key, value in batches.stamp_inputs().items()})
    clashes = sorted(set(fingerprint or {}) & set(own))
    if clashes:
        raise ValueError(f"fingerprint keys {clashes} are set by train_gan itself; rename them")
    return {**(fingerprint or {}), **own}
