"""Batched FID Inception feature extraction, and an on-disk cache so each real set is embedded once.
Details: docs/modules.md."""

from __future__ import annotations

import functools
import hashlib
import json
import os
import warnings
import zipfile
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from cxr_keras.io import atomic_path
from cxr_keras.metrics.conversions import check_finite, check_not_unit_range, to_inception_input
from cxr_keras.paths import CACHE_DIR
from cxr_keras.progress import progress_bar

FEATURE_DIMS = (2048, 768)  # model outputs, in order: pool3, Mixed_6e averaged over space
DEFAULT_CACHE_DIR = CACHE_DIR / "features"
# Bump when the network port, its preprocessing or the conversion changes: old caches go stale.
FEATURES_VERSION = 2  # 2: cache files carry their key and a checksum


@functools.lru_cache(maxsize=1)
def _default_model(weights_path: str):
    from cxr_keras.metrics.inception import load_fid_inception  # loads TensorFlow: only when used

    return load_fid_inception(weights_path)


def default_model():
    """The FID Inception model with the default weights, built once per process."""
    from cxr_keras.metrics.inception import default_weights_path  # loads TensorFlow: only when used

    return _default_model(str(default_weights_path()))


def _check_dims(dims: Iterable[int]) -> tuple[int, ...]:
    dims = tuple(int(d) for d in dims)
    unknown = [d for d in dims if d not in FEATURE_DIMS]
    if not dims or unknown:
        raise ValueError(f"dims must be a non-empty subset of {FEATURE_DIMS}, got {dims}")
    return dims


def _iter_batches(
    images_or_dataset: Any, batch_size: int, check: Callable[[np.ndarray], None]
) -> tuple[Iterator[np.ndarray], int | None]:
    """Batches of at most `batch_size` images, and the image count when it is known up front.

    ``check`` sees the whole array, or each batch a dataset yields."""
    if isinstance(images_or_dataset, np.ndarray) or hasattr(images_or_dataset, "__array__"):
        images = np.asarray(images_or_dataset)
        if images.ndim != 4:
            raise ValueError(f"expected NHWC images (4 dimensions), got shape {images.shape}")
        check(images)
        return (
            images[start : start + batch_size] for start in range(0, len(images), batch_size)
        ), len(images)

    def rebatch(batches: Iterable) -> Iterator[np.ndarray]:
        for batch in batches:
            batch = np.asarray(
                batch[0] if isinstance(batch, (tuple, list)) else batch
            )  # (images, labels)
            if batch.ndim != 4:
                raise ValueError(
                    f"dataset yielded a batch of shape {batch.shape}; expected NHWC image batches"
                )
            check(batch)
            yield from (
                batch[start : start + batch_size] for start in range(0, len(batch), batch_size)
            )

    return rebatch(images_or_dataset), None


def extract_features(
    images_or_dataset, model=None, dims: Sequence[int] = FEATURE_DIMS, batch_size: int = 32,
    progress: bool = True, name: str = "images", allow_nonnegative: bool = False,
) -> dict[int, np.ndarray]:
    """Inception features ``{2048: (n, 2048), 768: (n, 768)}`` (float64) of [-1, 1] NHWC images.

    `images_or_dataset` is an array or an iterable of image batches (a ``tf.data.Dataset``
    yielding images or ``(images, labels)`` works). `model` defaults to :func:`default_model`.
    The last batch is zero-padded to `batch_size`, so the model is traced for one shape only.
    NaN or infinite values, values outside [-1, 1] and, unless `allow_nonnegative`, float
    images all in [0, 1] raise a ValueError naming `name`.
    """
    dims = _check_dims(dims)
    if batch_size < 1:
        raise ValueError(f"batch_size must be positive, got {batch_size}")
    model = default_model() if model is None else model

    def check(images):
        check_finite(images, name)
        if not allow_nonnegative:
            check_not_unit_range(images, name)

    batches, total = _iter_batches(images_or_dataset, batch_size, check)
    outputs: dict[int, list[np.ndarray]] = {d: [] for d in dims}
    with progress_bar(total=total, unit="img", desc="Inception features",
                      disable=not progress) as bar:
        for batch in batches:
            count = len(batch)
            batch = to_inception_input(batch, name)
            if count < batch_size:
                batch = np.concatenate(
                    [batch, np.zeros((batch_size - count, *batch.shape[1:]), batch.dtype)]
                )
            features = dict(zip(FEATURE_DIMS, model.predict_on_batch(batch)))
            for d in dims:
                outputs[d].append(np.asarray(features[d][:count], dtype=np.float64))
            bar.update(count)
    if not outputs[dims[0]]:
        raise ValueError("no images to extract features from (empty input)")
    return {d: np.concatenate(outputs[d]) for d in dims}


def cache_key(
    file_list_or_key: str | Sequence[str | os.PathLike], preprocessing_key: str | Mapping
) -> str:
    """Hex digest naming a feature set: sorted file list (or a given key) + preprocessing."""
    if isinstance(file_list_or_key, str):
        identity: Any = file_list_or_key
    else:
        identity = sorted(str(path) for path in file_list_or_key)
        if not identity:
            raise ValueError("file list is empty: nothing to extract features from")
    if not isinstance(preprocessing_key, (str, Mapping)):
        raise TypeError(
            f"preprocessing_key must be a str or a mapping, got {type(preprocessing_key).__name__}"
        )
    payload = json.dumps(
        {"set": identity, "preprocessing": preprocessing_key, "features_version": FEATURES_VERSION},
        sort_keys=True, default=str,
    )
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def cached_features(
    file_list_or_key: str | Sequence[str | os.PathLike], loader_fn: Callable[[Any], Any],
    preprocessing_key: str | Mapping, cache_dir: str | os.PathLike = DEFAULT_CACHE_DIR, *,
    model=None, dims: Sequence[int] = FEATURE_DIMS, batch_size: int = 32, progress: bool = True,
) -> dict[int, np.ndarray]:
    """Features of a real image set, computed once and then read from `cache_dir`.

    `loader_fn(file_list_or_key)` must return the images ([-1, 1] NHWC array or batches); it
    is called only on a cache miss. `preprocessing_key` (e.g. ``{"size": 128, "channels": 1}``)
    must name everything the loader does to the pixels, so a change in it misses the cache.
    """
    dims = _check_dims(dims)
    key = cache_key(file_list_or_key, preprocessing_key)
    path = Path(cache_dir) / f"{key}.npz"
    expected = None if isinstance(file_list_or_key, str) else len(file_list_or_key)
    cached = _read_cache(path, key, expected)
    if cached is not None:
        return {d: cached[d] for d in dims}
    features = extract_features(
        loader_fn(file_list_or_key), model=model, dims=FEATURE_DIMS, batch_size=batch_size,
        progress=progress, name="the images loader_fn returned",
    )
    if expected is not None and len(features[FEATURE_DIMS[0]]) != expected:
        raise ValueError(
            f"loader_fn returned {len(features[FEATURE_DIMS[0]])} images for "
            f"{expected} files; "
            "it must load every file in the list, in any order"
        )
    with atomic_path(path) as tmp, open(tmp, "wb") as file:
        np.savez(file, key=np.array(key), checksum=np.array(_checksum(features)),
                 **{f"features_{d}": features[d] for d in FEATURE_DIMS})
    return {d: features[d] for d in dims}


class BadFeatureCacheWarning(UserWarning):
    """A feature cache file was unreadable or did not match its set; it was removed and rebuilt."""


def _checksum(features: Mapping[int, np.ndarray]) -> str:
    digest = hashlib.sha256()
    for d in FEATURE_DIMS:
        array = np.ascontiguousarray(features[d], dtype=np.float64)
        digest.update(f"{d}{array.shape}".encode())
        digest.update(array.tobytes())
    return digest.hexdigest()


def _read_cache(path: Path, key: str, expected: int | None) -> dict[int, np.ndarray] | None:
    """The features in cache file ``path``, or None when it is absent or bad (then removed,
    with a :class:`BadFeatureCacheWarning` naming it and why)."""
    if not path.is_file():
        return None
    try:
        with np.load(path) as data:
            stored = {name: data[name] for name in data.files}
        problem = _cache_problem(stored, key, expected)
    except (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile) as error:
        problem = f"unreadable ({type(error).__name__}: {error})"
    if problem is None:
        return {d: stored[f"features_{d}"] for d in FEATURE_DIMS}
    warnings.warn(f"feature cache {path} is {problem}; removed, the features are computed again",
                  BadFeatureCacheWarning, stacklevel=3)
    path.unlink(missing_ok=True)
    return None


def _cache_problem(stored: Mapping[str, np.ndarray], key: str, expected: int | None) -> str | None:
    """Why a cache file's arrays cannot stand for the set named by ``key``, or None."""
    missing = [name for name in ("key", "checksum", *(f"features_{d}" for d in FEATURE_DIMS))
               if name not in stored]
    if missing:
        return f"missing {missing} (written by an older version, or not a feature cache)"
    if str(stored["key"]) != key:
        return f"the cache of another image set (key {str(stored['key'])[:12]}...)"
    features = {d: stored[f"features_{d}"] for d in FEATURE_DIMS}
    counts = {len(f) for f in features.values()}
    shapes = [f.shape for f in features.values()]
    if len(counts) != 1 or any(f.ndim != 2 or f.shape[1] != d for d, f in features.items()):
        return f"of the wrong shape ({shapes}, expected (n, d) for d in {FEATURE_DIMS})"
    if expected is not None and counts != {expected}:
        return f"for {counts.pop()} images, not the {expected} files of this set"
    if str(stored["checksum"]) != _checksum(features):
        return "corrupt (its checksum does not match its features)"
    return None
