"""``train_gan``: train a compiled GAN into a folder, resumably and exactly.

The run's folder holds ``history.csv``, sample grids and checkpoints; a rerun of the same call
continues from the newest readable checkpoint with the batches and noise an uninterrupted run
would have seen, and refuses checkpoints made from other inputs.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from cxr_keras.gan import backend
from cxr_keras.gan.batches import ShuffledBatches, run_inputs, training_batches
from cxr_keras.gan.callbacks import (
    EpochProgress,
    GANCheckpoint,
    HistoryCSV,
    SampleGrid,
    StopOnNonFinite,
)
from cxr_keras.gan.checkpoint import resume_epoch
from cxr_keras.gan.training import GAN
from cxr_keras.paths import display_path
from cxr_keras.progress import plain_progress


def train_gan(gan: GAN, dataset, epochs: int, out_dir, *, resume: bool = True,
              sample_every: int | None = 1, checkpoint_every: int = 1, keep: int = 2,
              verbose="auto", callbacks=(), strategy=None, batch_size: int = 32,
              seed: int | None = None, fingerprint=None) -> pd.DataFrame:
    """Train a compiled ``gan`` for ``epochs`` epochs, resumably; return the history.

    ``dataset``: images, ``(images, labels)``, a ``ShuffledBatches`` or a ``tf.data.Dataset``.
    Writes ``out_dir/history.csv``, ``samples/`` every ``sample_every`` epochs and
    ``checkpoints/`` every ``checkpoint_every`` (``keep`` newest); ``resume=True`` goes on from
    the newest readable checkpoint whose ``fingerprint`` matches. ``strategy``: the
    ``tf.distribute`` strategy the GAN was built under. Details: docs/modules.md.
    """
    if int(epochs) < 1:
        raise ValueError(f"epochs must be a positive integer, got {epochs!r}")
    if not hasattr(gan, "d_optimizer"):
        raise ValueError("compile the GAN (gan.compile(d_optimizer, g_optimizer)) before train_gan")
    if strategy is not None and backend.BACKEND != "tensorflow":
        raise ValueError(
            f"strategy is a tf.distribute option and the Keras backend is {backend.BACKEND!r}; "
            "leave strategy=None (on JAX, set a keras.distribution before building instead)"
        )
    if strategy is not None and gan.distribute_strategy is not strategy:
        raise ValueError(
            "the GAN was not built under the given strategy; build the generator, the "
            "discriminator and the GAN inside `with strategy.scope():`"
        )
    out_dir = Path(out_dir)
    checkpoint_dir = out_dir / "checkpoints"
    history = HistoryCSV(out_dir / "history.csv")
    batches = training_batches(dataset, batch_size, gan.seed if seed is None else seed)
    inputs = run_inputs(gan, batches, fingerprint)
    initial_epoch = resume_epoch(gan, checkpoint_dir, int(epochs), inputs, resume)
    run_callbacks = [StopOnNonFinite(checkpoint_dir), history]
    if sample_every:
        run_callbacks.append(SampleGrid(out_dir / "samples", every=sample_every))
    # The caller's callbacks (e.g. an FID log) record an epoch before its checkpoint marks it
    # done: a run killed in between redoes that epoch on resume instead of losing the record.
    run_callbacks += [*callbacks, GANCheckpoint(checkpoint_dir, every=checkpoint_every, keep=keep)]
    if plain_progress() and verbose in ("auto", 1, 2):  # one line per epoch, not Keras' two
        verbose = 0
        run_callbacks.append(EpochProgress(display_path(out_dir)))
    if initial_epoch < int(epochs):
        if isinstance(batches, ShuffledBatches):
            batches.start_at(initial_epoch)
        gan.fit(batches, epochs=int(epochs), initial_epoch=initial_epoch, verbose=verbose,
                callbacks=run_callbacks, shuffle=False)
    frame = history.read()
    return frame[frame["epoch"] <= int(epochs)].reset_index(drop=True)
