"""Crash-safe GAN checkpoints: G and D weights, both optimizers, the noise state, the epoch.
Details: docs/modules.md."""

from __future__ import annotations

import os
import re
import shutil
import tempfile
import warnings
import zipfile
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from cxr_keras.fingerprint import StaleArtefactError, check_stamp, write_stamp
from cxr_keras.gan import backend
from cxr_keras.io import write_json
from cxr_keras.paths import display_path

CHECKPOINT_PATTERN = re.compile(r"^epoch-(\d{4,})$")
FILES = ("generator.weights.h5", "discriminator.weights.h5", "state.npz", "meta.json")
# What reading a truncated or garbled checkpoint file raises (h5py and zip errors included).
UNREADABLE_ERRORS = (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile)


class UnreadableCheckpointWarning(UserWarning):
    """A GAN checkpoint could not be read; the one before it is tried instead."""


def checkpoint_name(epoch: int) -> str:
    """Folder name of the checkpoint taken after ``epoch`` completed epochs."""
    return f"epoch-{int(epoch):04d}"


def list_checkpoints(directory: str | os.PathLike) -> list[tuple[int, Path]]:
    """Complete checkpoints in ``directory`` as ``(epoch, path)``, oldest first."""
    directory = Path(directory)
    if not directory.is_dir():
        return []
    found = []
    for path in directory.iterdir():
        match = CHECKPOINT_PATTERN.match(path.name)
        if match and path.is_dir() and all((path / name).is_file() for name in FILES):
            found.append((int(match.group(1)), path))
    return sorted(found)


def latest_checkpoint(directory: str | os.PathLike) -> tuple[int, Path] | None:
    """The newest complete checkpoint as ``(epoch, path)``, or None when there is none."""
    found = list_checkpoints(directory)
    return found[-1] if found else None


def _optimizer_arrays(prefix: str, optimizer) -> dict[str, np.ndarray]:
    return {f"{prefix}/{i:04d}": np.asarray(v.numpy()) for i, v in enumerate(optimizer.variables)}


def resumable_state(gan) -> dict:
    """Variables of ``gan`` beyond the models and optimizers that a checkpoint holds, by key."""
    state = {"seed_state": gan.seed_generator.state}
    for part in (getattr(gan, "augmenter", None), getattr(gan, "generator_average", None)):
        state.update(part.state() if part is not None else {})
    return state


def save_checkpoint(gan, directory: str | os.PathLike, epoch: int) -> Path:
    """Save ``gan`` after ``epoch`` completed epochs; return the checkpoint folder."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    final = directory / checkpoint_name(epoch)
    tmp = Path(tempfile.mkdtemp(prefix=f".tmp-{final.name}-", dir=directory))
    try:
        gan.generator.save_weights(tmp / "generator.weights.h5")
        gan.discriminator.save_weights(tmp / "discriminator.weights.h5")
        arrays = {**_optimizer_arrays("d_optimizer", gan.d_optimizer),
                  **_optimizer_arrays("g_optimizer", gan.g_optimizer),
                  **_layer_seed_arrays(gan),
                  **_global_random_arrays(),
                  **{key: np.asarray(variable.numpy())
                     for key, variable in resumable_state(gan).items()}}
        np.savez(tmp / "state.npz", **arrays)
        write_json(tmp / "meta.json", {"epoch": int(epoch), "class": type(gan).__name__,
                                       "latent_dim": gan.latent_dim})
        if final.exists():
            stale = Path(tempfile.mkdtemp(prefix=f".old-{final.name}-", dir=directory))
            os.replace(final, stale / final.name)
            os.replace(tmp, final)
            shutil.rmtree(stale, ignore_errors=True)
        else:
            os.replace(tmp, final)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return final


def _restore_optimizer(optimizer, arrays, prefix: str, path: Path) -> None:
    keys = sorted(k for k in arrays.files if k.startswith(prefix + "/"))
    variables = optimizer.variables
    if len(keys) != len(variables):
        raise ValueError(
            f"checkpoint {path} holds {len(keys)} {prefix} variables but the optimizer has "
            f"{len(variables)}; compile the GAN with the same optimizer classes it was saved with"
        )
    for key, variable in zip(keys, variables):
        value = arrays[key]
        if tuple(value.shape) != tuple(variable.shape):
            raise ValueError(
                f"checkpoint {path}: {prefix} variable {variable.path} has shape "
                f"{tuple(variable.shape)}, saved {value.shape}; the models differ from the saved ones"
            )
        variable.assign(value)


def _restore_state(gan, arrays, path: Path) -> None:
    state = resumable_state(gan)
    saved = {key for key in arrays.files
             if not key.startswith(("d_optimizer/", "g_optimizer/", "layer_seeds/", GLOBAL_RANDOM))}
    missing, extra = sorted(set(state) - saved), sorted(saved - set(state))
    if missing or extra:
        raise ValueError(
            f"checkpoint {path} was saved with other training options (missing "
            f"{missing or 'nothing'}, unexpected {extra or 'nothing'}); compile the GAN with the "
            "recipe it was trained with (augment, ema_decay), or start a new out_dir"
        )
    for key, variable in state.items():
        if tuple(arrays[key].shape) != tuple(variable.shape):
            raise ValueError(f"checkpoint {path}: {key} has shape {arrays[key].shape}, the GAN "
                             f"expects {tuple(variable.shape)}; the models differ from the saved ones")
        variable.assign(arrays[key])


def restore_checkpoint(gan, path: str | os.PathLike) -> int:
    """Load a checkpoint folder into a compiled ``gan``; return its epoch."""
    path = Path(path)
    missing = [name for name in FILES if not (path / name).is_file()]
    if missing:
        raise FileNotFoundError(
            f"{path} is not a complete GAN checkpoint (missing {', '.join(missing)}); "
            "pass a folder written by save_checkpoint"
        )
    if not hasattr(gan, "d_optimizer"):
        raise ValueError("compile the GAN (with its optimizers) before restoring a checkpoint")
    gan.generator.load_weights(path / "generator.weights.h5")
    gan.discriminator.load_weights(path / "discriminator.weights.h5")
    with np.load(path / "state.npz") as arrays:
        _restore_optimizer(gan.d_optimizer, arrays, "d_optimizer", path)
        _restore_optimizer(gan.g_optimizer, arrays, "g_optimizer", path)
        _restore_state(gan, arrays, path)
        _restore_layer_seeds(gan, arrays, path)
        _restore_global_random(arrays)
    return checkpoint_epoch(path)


def _layer_seed_variables(gan) -> dict[str, object]:
    """The ``SeedGenerator`` states of G's and D's layers (dropout...), which
    ``save_weights`` leaves out, keyed by role and position."""
    return {f"layer_seeds/{role}/{i:04d}": variable
            for role, model in (("generator", gan.generator), ("discriminator", gan.discriminator))
            for i, variable in enumerate(v for v in model.variables
                                         if v.name == "seed_generator_state")}


def _layer_seed_arrays(gan) -> dict[str, np.ndarray]:
    return {key: np.asarray(v.numpy()) for key, v in _layer_seed_variables(gan).items()}


GLOBAL_RANDOM = "global_random/"


def _global_random_arrays() -> dict[str, np.ndarray]:
    """PyTorch's global random states (CPU, and the current CUDA device's when there is one):
    Keras draws a dropout layer's mask from them on PyTorch when the layer has no seed."""
    if backend.BACKEND != "torch":
        return {}
    import torch

    arrays = {f"{GLOBAL_RANDOM}cpu": torch.get_rng_state().numpy()}
    if torch.cuda.is_available():
        arrays[f"{GLOBAL_RANDOM}cuda"] = torch.cuda.get_rng_state().numpy()
    return arrays


def _restore_global_random(arrays) -> None:
    if backend.BACKEND != "torch":
        return
    import torch

    if f"{GLOBAL_RANDOM}cpu" in arrays.files:
        torch.set_rng_state(torch.from_numpy(arrays[f"{GLOBAL_RANDOM}cpu"]))
    if f"{GLOBAL_RANDOM}cuda" in arrays.files and torch.cuda.is_available():
        torch.cuda.set_rng_state(torch.from_numpy(arrays[f"{GLOBAL_RANDOM}cuda"]))


def _restore_layer_seeds(gan, arrays, path: Path) -> None:
    variables = _layer_seed_variables(gan)
    saved = {key for key in arrays.files if key.startswith("layer_seeds/")}
    if saved and saved != set(variables):
        raise ValueError(
            f"checkpoint {path} holds {len(saved)} layer seed states but the models have "
            f"{len(variables)}; the models differ from the saved ones"
        )
    for key in saved:
        variables[key].assign(arrays[key])


def restore_newest(gan, directory: str | os.PathLike) -> int:
    """Restore the newest checkpoint in ``directory`` that can be read; return its epoch.

    An unreadable checkpoint (truncated, garbled) is named in an
    :class:`UnreadableCheckpointWarning` and the one before it is tried. Raises
    ``FileNotFoundError`` when there is no checkpoint and ``ValueError``, naming every
    checkpoint and its error, when none can be restored.
    """
    found = list_checkpoints(directory)
    if not found:
        raise FileNotFoundError(f"no complete GAN checkpoint in {directory}")
    failures = []
    for _, path in reversed(found):
        try:
            return restore_checkpoint(gan, path)
        except UNREADABLE_ERRORS as error:
            failures.append(f"{path}: {type(error).__name__}: {error}")
            warnings.warn(
                f"GAN checkpoint {display_path(path)} cannot be restored "
                f"({type(error).__name__}: {error}); trying the previous checkpoint (training "
                "will overwrite this one)",
                UnreadableCheckpointWarning, stacklevel=2)
    raise ValueError(
        f"no checkpoint in {directory} can be restored ({'; '.join(failures)}); delete "
        f"{directory} to train from scratch, or fix the models or optimizers to match"
    )


def resume_epoch(gan, directory: str | os.PathLike, epochs: int, inputs: Mapping,
                 resume: bool = True) -> int:
    """Prepare ``directory`` for a run of ``epochs`` epochs made from ``inputs``.

    Returns the epoch to continue from: 0 when there is no checkpoint (the fingerprint stamp
    of ``inputs`` is then written), else the epoch of the newest readable checkpoint, restored
    into ``gan`` (see :func:`restore_newest`) and printed. Raises :class:`StaleArtefactError`
    when the checkpoints were made from other ``inputs`` (or carry no stamp), and
    ``ValueError`` when ``resume`` is False or the run already went past ``epochs``.
    """
    directory = Path(directory)
    found = list_checkpoints(directory)
    if not found:
        write_stamp(directory, inputs)
        return 0
    newest = found[-1][0]
    if not resume:
        raise ValueError(
            f"{directory} already holds checkpoints (newest: epoch {newest}); pass "
            "resume=True to continue that run, or choose a new out_dir"
        )
    if not check_stamp(directory, inputs, "GAN checkpoints"):
        raise StaleArtefactError(
            f"{directory} holds checkpoints (newest: epoch {newest}) without a fingerprint "
            "stamp, so what made them is unknown; delete it to train again, or choose a new out_dir"
        )
    if newest > int(epochs):
        raise ValueError(
            f"{directory} holds a run trained to epoch {newest}, past epochs={int(epochs)}; "
            f"pass epochs >= {newest} to continue it, or choose a new out_dir for a "
            f"{int(epochs)}-epoch run"
        )
    epoch = restore_newest(gan, directory)
    print(f"Resumed from {display_path(directory / checkpoint_name(epoch))} "
          f"(epoch {epoch} of {int(epochs)} done)")
    return epoch


def checkpoint_epoch(path: str | os.PathLike) -> int:
    """Epoch number of a checkpoint folder, read from its name."""
    match = CHECKPOINT_PATTERN.match(Path(path).name)
    if not match:
        raise ValueError(f"{path} is not named like a checkpoint folder (epoch-NNNN)")
    return int(match.group(1))


def prune_checkpoints(directory: str | os.PathLike, keep: int) -> None:
    """Delete all but the ``keep`` newest checkpoints and any leftover temporary folders."""
    if keep < 1:
        raise ValueError(f"keep must be at least 1, got {keep}")
    directory = Path(directory)
    for _, path in list_checkpoints(directory)[:-keep]:
        shutil.rmtree(path, ignore_errors=True)
    for path in directory.glob(".tmp-epoch-*"):
        shutil.rmtree(path, ignore_errors=True)
