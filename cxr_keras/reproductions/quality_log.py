"""FID (and IS) of a GAN's samples logged during training, reusable only from the same inputs."""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import keras
import numpy as np
import pandas as pd

from cxr_keras.fingerprint import array_digest, check_stamp, write_stamp
from cxr_keras.io import read_back_csv, write_csv
from cxr_keras.metrics import extract_features, fid_from_features, inception_score_from_images
from cxr_keras.metrics.frechet import RankDeficientCovarianceWarning


class QualityLogger(keras.callbacks.Callback):
    """Every ``every`` epochs (and at the last), FID (and IS when possible) of ``n_fake``
    generated images against ``real_features``; rows go to ``csv_path`` and are kept on resume
    only when the folder's stamp matches. Details: docs/modules.md.
    """

    def __init__(self, csv_path: str | os.PathLike, real_features: np.ndarray, every: int,
                 epochs: int, n_fake: int, fid_model=None, is_classifier=None, seed: int = 0):
        super().__init__()
        if every < 1 or n_fake < 2:
            raise ValueError(f"need every >= 1 and n_fake >= 2, got {every} and {n_fake}")
        self.csv_path = Path(csv_path)
        self.real_features = np.asarray(real_features)
        self.every, self.epochs, self.n_fake, self.seed = int(every), int(epochs), int(n_fake), seed
        self.fid_model, self.is_classifier = fid_model, is_classifier
        n_min, dims = min(len(self.real_features), self.n_fake), self.real_features.shape[1]
        if n_min <= dims:
            warnings.warn(f"FID every {self.every} epochs from {n_min} images per side with {dims}-d "
                          "features: the covariances are rank-deficient, so the values are biased "
                          "and comparable only at equal image counts", RankDeficientCovarianceWarning,
                          stacklevel=2)
        self.stamp_inputs = {"real_features": array_digest(self.real_features), "n_fake": self.n_fake,
                             "every": self.every, "seed": seed, "inception_score": is_classifier is not None}
        reuse = check_stamp(self.csv_path.parent, self.stamp_inputs, "FID log") and self.csv_path.is_file()
        self.rows = read_back_csv(
            self.csv_path, ("epoch", "fid"),
            remedy=f"delete {self.csv_path.parent} to train and measure this GAN again",
        ).set_index("epoch").to_dict("index") if reuse else {}

    def on_epoch_end(self, epoch, logs=None):
        done = epoch + 1
        if done % self.every == 0 or done == self.epochs:
            self.rows[done] = self.measure()
            self.write()

    def measure(self) -> dict:
        fake = self.model.generate(self.n_fake, seed=self.seed)
        dims = self.real_features.shape[1]
        fake_features = extract_features(fake, self.fid_model, dims=(dims,), progress=False)[dims]
        score, score_std = (np.nan, np.nan)
        if self.is_classifier is not None:
            score, score_std = inception_score_from_images(fake, self.is_classifier,
                                                           splits=min(10, self.n_fake))
        with warnings.catch_warnings():  # said once, in __init__
            warnings.simplefilter("ignore", RankDeficientCovarianceWarning)
            fid = fid_from_features(self.real_features, fake_features)
        return {"fid": fid,
                "inception_score": score, "inception_score_std": score_std,
                "n_real": len(self.real_features), "n_fake": self.n_fake, "fid_dims": dims}

    def write(self) -> None:
        frame = pd.DataFrame.from_dict(self.rows, orient="index").rename_axis("epoch").reset_index()
        write_csv(self.csv_path, frame.sort_values("epoch"))
        write_stamp(self.csv_path.parent, self.stamp_inputs)
