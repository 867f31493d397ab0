"""Files a run reads back (caches, run records) that are damaged: each is named with its path
and what to do, instead of a crash somewhere downstream."""

from __future__ import annotations

import json

import numpy as np
import pytest

from cxr_keras.fingerprint import write_stamp
from cxr_keras.io import DamagedFileError, read_back_csv
from tools import pipeline
from tools.pipeline import PipelineError, staging

pytestmark = pytest.mark.faults


def test_read_back_csv_names_the_file_and_what_is_wrong(tmp_path):
    path = tmp_path / "predictions.csv"
    path.write_text("y_true,prob_a\n0,0.2\n1,0.9\n")
    assert read_back_csv(path, ["y_true", "prob_a"], rows=2)["prob_a"].tolist() == [0.2, 0.9]
    path.write_text("y_true,prob_a\n0,0.2\n1,")  # cut in the last row
    with pytest.raises(DamagedFileError, match=rf"{path} has empty cells .*; delete it"):
        read_back_csv(path, ["y_true", "prob_a"])
    with pytest.raises(DamagedFileError, match=rf"{path} holds 2 rows where 3 were written"):
        read_back_csv(path, ["y_true"], rows=3, remedy="delete it")
    with pytest.raises(DamagedFileError, match=rf"{path} lacks the columns \['prob_b'\]; rerun"):
        read_back_csv(path, ["prob_b"], remedy="rerun")
    path.write_text("")
    with pytest.raises(DamagedFileError, match=rf"{path} is unreadable"):
        read_back_csv(path)


def test_truncated_classifier_predictions_are_named_with_their_folder(tmp_path):
    from cxr_keras.reproductions.kora_venu import compare_augmentations
    from tests.scripts.tiny_classifier import CLASSES, chance_model, separable

    args = {"model_fn": chance_model, "train": separable(24, seed=0),
            "test": separable(16, seed=1), "class_names": CLASSES, "out_dir": tmp_path,
            "n_boot": 10, "epochs": 1, "batch_size": 8}
    compare_augmentations(["none"], **args)
    predictions = tmp_path / "none" / "predictions.csv"
    predictions.write_text("".join(predictions.read_text().splitlines(keepends=True)[:8]))
    with pytest.raises(DamagedFileError, match=rf"{predictions} holds 7 rows where 16 were "
                                               rf"written .*delete {tmp_path / 'none'} to train"):
        compare_augmentations(["none"], **args)


def test_a_damaged_fid_log_is_named_with_the_gan_folder(tmp_path):
    from cxr_keras.reproductions.quality_log import QualityLogger

    csv_path = tmp_path / "normal" / "quality.csv"
    real = np.random.default_rng(0).normal(size=(4, 8))
    with pytest.warns(UserWarning):  # rank-deficient: fewer images than dimensions
        logger = QualityLogger(csv_path, real, every=1, epochs=2, n_fake=4)
    write_stamp(csv_path.parent, logger.stamp_inputs)
    csv_path.write_text("epoch,fid,inception_score\n1,")
    with pytest.raises(DamagedFileError, match=rf"{csv_path} .*delete {csv_path.parent} to "
                                               rf"train and measure this GAN again"), \
            pytest.warns(UserWarning):
        QualityLogger(csv_path, real, every=1, epochs=2, n_fake=4)


@pytest.mark.parametrize("content", ["[{\"number\": 1", "{}", "[1, 2]"])
def test_a_damaged_attempts_list_is_named(tmp_path, content):
    folders = staging.RunFolders.of(tmp_path, "kermany", "smoke")
    staging.prepare_staging(folders, {"seed": 1})
    (folders.staging / pipeline.ATTEMPTS_FILE).write_text(content)
    with pytest.raises(PipelineError, match=rf"{folders.staging / pipeline.ATTEMPTS_FILE} .*"
                                            rf"delete {folders.staging} to discard"):
        pipeline.record.read_attempts(folders.staging)


def test_a_damaged_run_json_is_named_on_refresh(tmp_path):
    folders = staging.RunFolders.of(tmp_path, "kermany", "smoke")
    folders.final.mkdir()
    (folders.final / "run.json").write_text(json.dumps({"parameters": {}})[:10])
    with pytest.raises(PipelineError, match=rf"{folders.final / 'run.json'} is unreadable .*"
                                            rf"run without --refresh"):
        staging.prepare_refresh(folders, {})


def test_truncated_cached_probabilities_are_named_with_their_folder(tmp_path):
    from cxr_keras.classifier_training import train_or_load_classifier
    from tests.scripts.tiny_classifier import separable, tiny_cnn

    train, test = separable(24, seed=0), separable(16, seed=1)
    run = tmp_path / "run"
    train_or_load_classifier(run, tiny_cnn, train, None, test[0], epochs=1, batch_size=8)
    probabilities = run / "probabilities.npy"
    probabilities.write_bytes(probabilities.read_bytes()[:-40])
    with pytest.raises(DamagedFileError, match=rf"{probabilities} is unreadable .*delete {run} "
                                               rf"to train this classifier again"):
        train_or_load_classifier(run, tiny_cnn, train, None, test[0], epochs=1, batch_size=8)
