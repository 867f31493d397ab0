"""The dataset interface every loader shares (one small class per dataset, same methods)."""

from __future__ import annotations

import copy
import os
import warnings
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from cxr_keras.data.images import check_image_file, decode_image
from cxr_keras.data.schema import CORE_COLUMNS, ON_ERROR, SPLITS, DatasetError, printable_path
from cxr_keras.data.splits import check_no_patient_overlap, read_manifest, write_manifest

__all__ = ["CORE_COLUMNS", "ON_ERROR", "SPLITS", "CXRDataset", "DatasetError"]


class CXRDataset:
    """A table of chest X-ray images with labels, splits and patient ids.

    ``frame`` has one row per image with columns ``path``, ``label`` (one of ``classes``),
    ``split`` ("train", "val", "test" or "") and ``patient_id`` (str or missing), plus
    dataset-specific columns. With ``multi_label=True`` the frame also has one 0/1 column per
    class and ``label`` joins the positive classes with "|".
    ``on_error="skip"`` drops unreadable images (recorded in ``skipped`` with a warning)
    instead of raising DatasetError.
    """

    name = "cxr"

    def __init__(
        self, frame: pd.DataFrame, classes: Sequence[str], root: str | os.PathLike | None = None,
        on_error: str = "raise", multi_label: bool = False, source: str | os.PathLike = "frame",
    ):
        if on_error not in ON_ERROR:
            raise ValueError(f"on_error must be one of {ON_ERROR}, got {on_error!r}")
        self.classes = list(classes)
        if not self.classes or len(set(self.classes)) != len(self.classes):
            raise DatasetError(
                f"{source}: classes must be a non-empty list of unique names, got {classes}"
            )
        self.multi_label = multi_label
        self.frame = normalize_frame(frame, self.classes, multi_label, source)
        self.root = Path(root) if root is not None else None
        self.on_error = on_error
        self.skipped: list[tuple[str, str]] = []
        self._drop_names_not_utf8()

    def __len__(self) -> int:
        return len(self.frame)

    def __repr__(self) -> str:
        counts = ", ".join(f"{c}={n}" for c, n in self.class_counts().items())
        return f"{type(self).__name__}({len(self)} images: {counts})"

    @property
    def label_index(self) -> dict[str, int]:
        """Class name -> integer label."""
        return {name: i for i, name in enumerate(self.classes)}

    def class_counts(self, split: str | None = None) -> pd.Series:
        """Images per class (positives per class when multi-label), zeros included."""
        frame = self._rows(split)
        if self.multi_label:
            counts = frame[self.classes].sum(axis=0)
        else:
            counts = frame["label"].value_counts()
        return counts.reindex(self.classes, fill_value=0).astype("int64").rename("count")

    def subset(self, split: str | None = None, classes: Sequence[str] | None = None) -> CXRDataset:
        """A view of the same type restricted to one split and/or some classes.

        With ``classes``, the view's ``classes`` become that list (in that order), so integer
        labels are renumbered 0..len(classes)-1.
        """
        view = copy.copy(self)
        view.skipped = []
        frame = self._rows(split)
        if classes is not None:
            unknown = [c for c in classes if c not in self.classes]
            if unknown:
                raise DatasetError(f"{self.name}: unknown classes {unknown}; known: {self.classes}")
            view.classes = list(classes)
            if self.multi_label:
                frame = frame[frame[list(classes)].sum(axis=1) > 0].copy()
                frame["label"] = join_positive_classes(frame, list(classes))
            else:
                frame = frame[frame["label"].isin(classes)]
        view.frame = frame.reset_index(drop=True)
        return view

    def labels(self, split: str | None = None) -> np.ndarray:
        """int32 class indices, or a float32 multi-hot matrix when multi-label."""
        frame = self._rows(split)
        if self.multi_label:
            return frame[self.classes].to_numpy(dtype=np.float32)
        return frame["label"].map(self.label_index).to_numpy(dtype=np.int32)

    def load_image(self, i: int, image_size: int = 64, channels: int = 1) -> np.ndarray:
        """Image of row ``i`` as float32 (image_size, image_size, channels) in [-1, 1]."""
        return decode_image(self.frame["path"].iat[i], image_size, channels)

    def validate(self) -> list[tuple[str, str]]:
        """Open every image once; return the bad ones as (path, reason).

        With on_error="raise" any bad image raises DatasetError listing them; with "skip" the
        bad rows are dropped from ``frame``, recorded in ``skipped`` and a warning gives the count.
        """
        bad = [(self.frame["path"].iat[i], reason) for i, reason in self._check_rows()]
        if bad and self.on_error == "raise":
            listed = "; ".join(f"{path} ({reason})" for path, reason in bad[:5])
            raise DatasetError(
                f"{len(bad)} unreadable image(s) in {self.name}: {listed}. Replace or delete "
                "them, or load with on_error='skip'"
            )
        if bad:
            bad_paths = {path for path, _ in bad}
            self.frame = self.frame[~self.frame["path"].isin(bad_paths)].reset_index(drop=True)
            self._record_skipped(bad)
        return bad

    def to_numpy(self, split: str | None = None, image_size: int = 64, channels: int = 1):
        """Load a split into memory: (x float32 NHWC in [-1, 1], y labels)."""
        rows = np.asarray(self._row_numbers(split), dtype=np.int64)
        x = np.zeros((len(rows), image_size, image_size, channels), np.float32)
        loaded = np.zeros(len(rows), dtype=bool)
        bad = []
        for k, row in enumerate(rows):
            try:
                x[k] = self.load_image(int(row), image_size, channels)
                loaded[k] = True
            except DatasetError as error:
                if self.on_error == "raise":
                    raise
                bad.append((self.frame["path"].iat[row], str(error)))
        self._record_skipped(bad)
        return x[loaded], self.labels()[rows][loaded]

    def to_tf_dataset(
        self, split: str | None = None, image_size: int = 64, channels: int = 1,
        batch_size: int | None = None, shuffle: bool = False, seed: int = 0,
        cache: bool | str = False, prefetch: bool = True, drop_remainder: bool = False,
    ):
        """A tf.data pipeline of (image float32 HxWxC in [-1, 1], label int32 or multi-hot).

        Images are decoded in parallel (``num_parallel_calls=AUTOTUNE``) by the same Pillow
        code as ``load_image``. ``cache`` may be True (memory) or a file prefix; with
        ``shuffle`` the order changes every epoch (seeded). With on_error="raise" an unreadable
        image stops iteration with a TensorFlow error whose message holds the DatasetError.
        """
        import tensorflow as tf  # here, not at the top: importing the data package loads no TensorFlow

        rows = np.asarray(self._row_numbers(split), dtype=np.int64)
        labels = self.labels()[rows]
        label_shape = (len(self.classes),) if self.multi_label else ()
        skipping = self.on_error == "skip"

        def load(row):
            try:
                return self.load_image(int(row), image_size, channels), True
            except DatasetError as error:
                if not skipping:
                    raise
                self._record_skipped([(self.frame["path"].iat[int(row)], str(error))])
                return np.zeros((image_size, image_size, channels), np.float32), False

        def tf_load(row, label):
            image, ok = tf.numpy_function(load, [row], [tf.float32, tf.bool], stateful=False)
            image.set_shape((image_size, image_size, channels))
            ok.set_shape(())
            label.set_shape(label_shape)
            return image, label, ok

        def shuffled(data):
            return data.shuffle(max(len(rows), 1), seed=seed, reshuffle_each_iteration=True)

        data = tf.data.Dataset.from_tensor_slices((rows, labels))
        if shuffle and not cache:  # cheap: shuffle row numbers before decoding
            data = shuffled(data)
        data = data.map(tf_load, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
        if skipping:
            data = data.filter(lambda image, label, ok: ok)
        data = data.map(lambda image, label, ok: (image, label))
        if cache:  # decoded images are cached, then reshuffled every epoch
            data = data.cache("" if cache is True else str(cache))
            data = shuffled(data) if shuffle else data
        if batch_size:
            data = data.batch(batch_size, drop_remainder=drop_remainder)
        if prefetch:
            data = data.prefetch(tf.data.AUTOTUNE)
        return data

    def write_manifest(self, path: str | os.PathLike) -> Path:
        """Write the frame as CSV (path, label, split, patient_id, extras) atomically."""
        return write_manifest(self.frame, path)

    @classmethod
    def from_manifest(
        cls, path: str | os.PathLike, classes: Sequence[str] | None = None,
        multi_label: bool = False, on_error: str = "raise",
    ) -> CXRDataset:
        """Rebuild a dataset of this type from a manifest written by ``write_manifest``."""
        frame = read_manifest(path)
        if classes is None:
            classes = _classes_in(frame, multi_label)
        dataset = cls.__new__(cls)
        CXRDataset.__init__(dataset, frame, classes, None, on_error, multi_label, source=path)
        return dataset

    def check_no_patient_overlap(self) -> None:
        """Raise DatasetError when a patient has images in two splits."""
        check_no_patient_overlap(self.frame, source=self.name)

    def _rows(self, split: str | None) -> pd.DataFrame:
        if split is None:
            return self.frame
        if split not in set(self.frame["split"]) and split not in SPLITS:
            raise DatasetError(
                f"{self.name}: no split {split!r}; splits here: {sorted(set(self.frame['split']))}"
            )
        return self.frame[self.frame["split"] == split]

    def _row_numbers(self, split: str | None) -> list[int]:
        if split is None:
            return list(range(len(self.frame)))
        return np.flatnonzero((self.frame["split"] == split).to_numpy()).tolist()

    def _drop_names_not_utf8(self) -> None:
        """Refuse (on_error="raise") or skip the files whose names are not valid UTF-8: no
        manifest or results file could name them. Each is named with its odd bytes escaped; a
        class so named is refused either way (skipping its images would leave it empty)."""
        odd_classes = [printable_path(name) for name in self.classes
                       if printable_path(name) != name]
        if odd_classes:
            raise DatasetError(
                f"class name(s) {', '.join(odd_classes)} in {self.name} are not valid UTF-8; "
                "rename those folders to UTF-8 (e.g. convmv -f latin1 -t utf8)"
            )
        paths = self.frame["path"]
        shown = paths.map(printable_path)
        odd = shown != paths
        if not odd.any():
            return
        bad = [(path, "file name is not valid UTF-8") for path in shown[odd]]
        if self.on_error == "raise":
            raise DatasetError(
                f"{len(bad)} file name(s) in {self.name} are not valid UTF-8, so no manifest "
                f"can name them: {'; '.join(path for path, _ in bad[:5])}. Rename them to "
                "UTF-8 (e.g. convmv -f latin1 -t utf8), or load with on_error='skip'"
            )
        self.frame = self.frame[~odd].reset_index(drop=True)
        self._record_skipped(bad)

    def _check_rows(self) -> Iterable[tuple[int, str]]:
        for i, path in enumerate(self.frame["path"]):
            reason = check_image_file(path)
            if reason:
                yield i, reason

    def _record_skipped(self, bad: list[tuple[str, str]]) -> None:
        if bad:
            self.skipped.extend(bad)
            warnings.warn(
                f"{self.name}: skipped {len(bad)} unreadable image(s), e.g. {bad[0][0]}; "
                "see dataset.skipped",
                stacklevel=3,
            )


def normalize_frame(
    frame: pd.DataFrame, classes: Sequence[str], multi_label: bool = False,
    source: str | os.PathLike = "frame",
) -> pd.DataFrame:
    """Check the frame (columns, duplicate paths, labels) and give the core columns fixed dtypes."""
    missing = [c for c in CORE_COLUMNS if c not in frame.columns]
    if multi_label:
        missing += [c for c in classes if c not in frame.columns]
    if missing:
        raise DatasetError(f"{source}: missing column(s) {missing}; found {list(frame.columns)}")
    frame = frame.reset_index(drop=True).copy()
    frame["path"] = frame["path"].astype(str)
    frame["label"] = frame["label"].astype(str)
    frame["split"] = frame["split"].fillna("").astype(str)
    frame["patient_id"] = frame["patient_id"].astype("str")
    for column in frame.columns.drop(list(CORE_COLUMNS)):
        if pd.api.types.is_string_dtype(frame[column]):
            frame[column] = frame[column].astype("str")
    duplicated = frame["path"][frame["path"].duplicated()]
    if len(duplicated):
        raise DatasetError(
            f"{source}: {len(duplicated)} duplicate image path(s), e.g. {duplicated.iloc[0]}; "
            "each image must appear once"
        )
    labels = frame["label"].str.split("|").explode() if multi_label else frame["label"]
    unknown = sorted(set(labels) - set(classes))
    if unknown:
        raise DatasetError(
            f"{source}: label(s) {unknown} not in classes {list(classes)}; fix the labels or pass classes"
        )
    return frame


def join_positive_classes(frame: pd.DataFrame, classes: list[str]) -> pd.Series:
    """The "|"-joined names of the classes whose 0/1 column is set, per row."""
    positive = frame[classes].to_numpy().astype(bool)
    return pd.Series(
        ["|".join(c for c, p in zip(classes, row) if p) for row in positive], index=frame.index,
        dtype="str",
    )


def _classes_in(frame: pd.DataFrame, multi_label: bool) -> list[str]:
    labels = frame["label"].astype(str)
    if multi_label:
        labels = labels.str.split("|").explode()
    return sorted(set(labels))
