"""Callbacks for GAN training: sample grids, a resumable history CSV, checkpoints, NaN guard,
an epoch progress bar.

Epoch numbers written to disk count completed epochs (1-based), unlike Keras' 0-based
callback argument.
"""

from __future__ import annotations

import math
import os
import time
from pathlib import Path

import keras
import numpy as np
import pandas as pd
from tqdm import tqdm

from cxr_keras.gan.checkpoint import latest_checkpoint, prune_checkpoints, save_checkpoint
from cxr_keras.gan.generate import latent_vectors, sample_grid_figure
from cxr_keras.io import save_figure, write_csv
from cxr_keras.progress import plain_progress


def _check_every(every: int) -> int:
    if int(every) < 1 or int(every) != every:
        raise ValueError(f"every must be a positive integer, got {every!r}")
    return int(every)


class SampleGrid(keras.callbacks.Callback):
    """Save a grid of images from fixed noise as ``out_dir/epoch-NNNN.png`` every ``every`` epochs.

    For a ConditionalGAN the grid has ``n`` images per class, one row per class.
    """

    def __init__(self, out_dir: str | os.PathLike, n: int = 16, every: int = 1, seed: int = 1234,
                 class_names=None):
        super().__init__()
        if int(n) < 1:
            raise ValueError(f"n must be a positive integer, got {n!r}")
        self.out_dir = Path(out_dir)
        self.n = int(n)
        self.every = _check_every(every)
        self.seed = seed
        self.class_names = class_names

    def on_epoch_end(self, epoch, logs=None):
        if (epoch + 1) % self.every == 0:
            self.write(epoch + 1)

    def write(self, epoch: int) -> Path:
        """Generate the grid from the fixed noise and save it for ``epoch``."""
        gan = self.model
        z = latent_vectors(self.n, gan.latent_dim, gan.latent_distribution, self.seed)
        num_classes = getattr(gan, "num_classes", None)
        if num_classes is None:
            labels, ncols = None, None
            images = gan.generate_from_latent(z)
        else:  # row k shows class k, with the same noise in every row
            labels, ncols = np.repeat(np.arange(num_classes), self.n), self.n
            images = gan.generate_from_latent(np.tile(z, (num_classes, 1)), labels)
        figure = sample_grid_figure(images, labels, self.class_names, ncols,
                                    title=f"epoch {epoch}")
        return save_figure(self.out_dir / f"epoch-{epoch:04d}.png", figure)


class HistoryCSV(keras.callbacks.Callback):
    """Write one row per epoch (``epoch`` 1-based, the logs, ``seconds``) to ``path``.

    The whole file is rewritten atomically each epoch. Rows already in the file for the
    epoch being written or later ones are dropped first, so a resumed run never duplicates
    an epoch.
    """

    def __init__(self, path: str | os.PathLike):
        super().__init__()
        self.path = Path(path)
        self._started = None

    def read(self) -> pd.DataFrame:
        """The history written so far (empty when the file does not exist)."""
        if not self.path.is_file():
            return pd.DataFrame(columns=["epoch"])
        try:
            return pd.read_csv(self.path)
        except (pd.errors.ParserError, pd.errors.EmptyDataError) as error:
            raise ValueError(
                f"cannot read the training history {self.path} ({error}); delete or repair it "
                "to restart the history"
            ) from error

    def on_epoch_begin(self, epoch, logs=None):
        self._started = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        row = {"epoch": epoch + 1, **{k: float(v) for k, v in (logs or {}).items()}}
        if self._started is not None:
            row["seconds"] = time.perf_counter() - self._started
        history = self.read()
        history = history[history["epoch"] < epoch + 1]
        rows = [history, pd.DataFrame([row])] if len(history) else [pd.DataFrame([row])]
        write_csv(self.path, pd.concat(rows, ignore_index=True))


class GANCheckpoint(keras.callbacks.Callback):
    """Save a full checkpoint (see :mod:`cxr_keras.gan.checkpoint`) every ``every`` epochs.

    The ``keep`` newest checkpoints are kept. The last epoch of a run is always saved.
    """

    def __init__(self, directory: str | os.PathLike, every: int = 1, keep: int = 2):
        super().__init__()
        if int(keep) < 1:
            raise ValueError(f"keep must be at least 1, got {keep!r}")
        self.directory = Path(directory)
        self.every = _check_every(every)
        self.keep = int(keep)
        self._epochs = None

    def on_train_begin(self, logs=None):
        self._epochs = self.params.get("epochs")

    def on_epoch_end(self, epoch, logs=None):
        if (epoch + 1) % self.every == 0 or epoch + 1 == self._epochs:
            save_checkpoint(self.model, self.directory, epoch + 1)
            prune_checkpoints(self.directory, self.keep)


class NonFiniteLossError(RuntimeError):
    """Raised by :class:`StopOnNonFinite` when a GAN loss becomes NaN or infinite."""


class StopOnNonFinite(keras.callbacks.Callback):
    """Stop training at the first batch whose D or G loss is NaN or infinite.

    Raises :class:`NonFiniteLossError` naming the epoch and batch and the last good
    checkpoint in ``checkpoint_dir``; raising (rather than only stopping) keeps the
    end-of-epoch callbacks from saving the broken weights over that checkpoint.
    """

    def __init__(self, checkpoint_dir: str | os.PathLike | None = None,
                 monitor=("d_loss", "g_loss")):
        super().__init__()
        self.checkpoint_dir = None if checkpoint_dir is None else Path(checkpoint_dir)
        self.monitor = tuple(monitor)
        self._epoch = 0

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch + 1

    def on_train_batch_end(self, batch, logs=None):
        bad = {k: float(logs[k]) for k in self.monitor
               if logs and k in logs and not math.isfinite(float(logs[k]))}
        if not bad:
            return
        self.model.stop_training = True
        found = latest_checkpoint(self.checkpoint_dir) if self.checkpoint_dir else None
        last = (f"the last good checkpoint is {found[1]} (epoch {found[0]}), kept unchanged"
                if found else "no checkpoint was saved before it")
        raise NonFiniteLossError(
            f"non-finite loss {bad} at epoch {self._epoch}, batch {batch + 1}; training "
            f"stopped; {last}. Lower the learning rates or check the data for NaNs."
        )


class EpochProgress(keras.callbacks.Callback):
    """Progress over epochs (not batches), with the newest ``monitor`` values: a ``tqdm`` bar, or
    under the runner one stdout line per epoch; a resumed fit counts from its resumed epoch.
    """

    def __init__(self, desc: str = "epochs", monitor=("d_loss", "g_loss"),
                 mininterval: float = 5.0):
        super().__init__()
        self.desc, self.monitor, self.mininterval = desc, tuple(monitor), float(mininterval)
        self.bar, self.epoch_started = None, None

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch_started = time.monotonic()
        if self.bar is None and not plain_progress():
            self.bar = tqdm(total=self.params.get("epochs"), initial=epoch, desc=self.desc,
                            unit="epoch", mininterval=self.mininterval)

    def on_epoch_end(self, epoch, logs=None):
        values = {k: f"{float(logs[k]):.3f}" for k in self.monitor if logs and k in logs}
        if self.bar is None:
            seconds = time.monotonic() - self.epoch_started
            shown = "".join(f", {name}={value}" for name, value in values.items())
            print(f"{self.desc}: epoch {epoch + 1}/{self.params.get('epochs')}, "
                  f"{seconds:.0f} s{shown}", flush=True)
            return
        self.bar.set_postfix(values, refresh=False)
        self.bar.update(1)

    def on_train_end(self, logs=None):
        if self.bar is not None:
            self.bar.close()
            self.bar = None
