"""Checkpoints, the history CSV and the NaN guard of train_gan."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
import pandas as pd
import pytest
import tensorflow as tf

from cxr_keras.fingerprint import StaleArtefactError
from cxr_keras.gan import (
    NonFiniteLossError,
    latest_checkpoint,
    restore_checkpoint,
    save_checkpoint,
    train_gan,
)
from cxr_keras.gan import checkpoint as checkpoint_module
from cxr_keras.gan.checkpoint import UnreadableCheckpointWarning, restore_newest
from tests.scripts.tiny_gan import stripes, tiny_gan


def _all_weights(gan):
    return gan.generator.get_weights() + gan.discriminator.get_weights()


def _optimizer_state(gan):
    return [v.numpy() for v in gan.d_optimizer.variables + gan.g_optimizer.variables]


def test_checkpoint_round_trip_restores_weights_optimizers_and_noise(tmp_path):
    trained = tiny_gan(seed=0)
    trained.fit(stripes(32), batch_size=16, epochs=1, verbose=0)
    path = save_checkpoint(trained, tmp_path, epoch=1)
    assert path.name == "epoch-0001" and latest_checkpoint(tmp_path) == (1, path)

    fresh = tiny_gan(seed=1)
    assert restore_checkpoint(fresh, path) == 1
    for a, b in zip(_all_weights(trained), _all_weights(fresh)):
        np.testing.assert_array_equal(a, b)
    for a, b in zip(_optimizer_state(trained), _optimizer_state(fresh)):
        np.testing.assert_array_equal(a, b)
    assert int(fresh.g_optimizer.iterations.numpy()) == 2
    np.testing.assert_array_equal(fresh.seed_generator.state.numpy(),
                                  trained.seed_generator.state.numpy())
    # same state -> the next step is identical
    a = trained.fit(stripes(16), batch_size=16, epochs=1, verbose=0, shuffle=False).history
    b = fresh.fit(stripes(16), batch_size=16, epochs=1, verbose=0, shuffle=False).history
    assert a == b


def test_crash_while_saving_keeps_the_last_good_checkpoint(tmp_path, monkeypatch):
    gan = tiny_gan()
    good = save_checkpoint(gan, tmp_path, epoch=1)

    def crash(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(checkpoint_module.np, "savez", crash)
    with pytest.raises(OSError, match="disk full"):
        save_checkpoint(gan, tmp_path, epoch=2)
    assert latest_checkpoint(tmp_path) == (1, good)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["epoch-0001"]
    restore_checkpoint(tiny_gan(), good)


def test_restore_rejects_incomplete_folder(tmp_path):
    (tmp_path / "epoch-0003").mkdir()
    assert latest_checkpoint(tmp_path) is None
    with pytest.raises(FileNotFoundError, match="not a complete GAN checkpoint"):
        restore_checkpoint(tiny_gan(), tmp_path / "epoch-0003")


def test_train_gan_writes_history_samples_and_keeps_newest_checkpoints(tmp_path):
    history = train_gan(tiny_gan(), stripes(32), 3, tmp_path, sample_every=2, verbose=0, keep=2)
    assert history["epoch"].tolist() == [1, 2, 3]
    assert {"d_loss", "g_loss", "d_x", "d_g_z1", "d_g_z2", "seconds"} <= set(history.columns)
    pd.testing.assert_frame_equal(history, pd.read_csv(tmp_path / "history.csv"))
    assert sorted(p.name for p in (tmp_path / "checkpoints").iterdir()) == [
        ".fingerprint.json", "epoch-0002", "epoch-0003"]
    assert sorted(p.name for p in (tmp_path / "samples").iterdir()) == ["epoch-0002.png"]
    with pytest.raises(ValueError, match="already holds checkpoints"):
        train_gan(tiny_gan(), stripes(32), 4, tmp_path, resume=False, verbose=0)


def test_non_finite_loss_stops_and_names_epoch_batch_and_checkpoint(tmp_path):
    # tf.data datasets carry no data digest, so the NaN data may resume the clean run
    def batches(images):
        return tf.data.Dataset.from_tensor_slices(images).batch(16)

    gan = tiny_gan()
    train_gan(gan, batches(stripes(32)), 1, tmp_path, sample_every=None, verbose=0)
    good = gan.generator.get_weights()
    broken = stripes(32)
    broken[:] = np.nan
    with pytest.raises(NonFiniteLossError, match=r"epoch 2, batch 1.*epoch-0001 \(epoch 1\), kept"):
        train_gan(tiny_gan(), batches(broken), 3, tmp_path, sample_every=None, verbose=0)
    assert latest_checkpoint(tmp_path / "checkpoints")[0] == 1
    restored = tiny_gan(seed=5)
    restore_checkpoint(restored, tmp_path / "checkpoints" / "epoch-0001")
    for a, b in zip(good, restored.generator.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert pd.read_csv(tmp_path / "history.csv")["epoch"].tolist() == [1]


def _train(out_dir, epochs, images=None, **kwargs):
    gan = tiny_gan()
    images = stripes(32) if images is None else images
    history = train_gan(gan, images, epochs, out_dir, batch_size=16, sample_every=None,
                        verbose=0, **kwargs)
    return gan, history


def test_fewer_epochs_than_the_checkpoints_hold_is_refused_not_returned(tmp_path):
    _train(tmp_path, 3)
    with pytest.raises(ValueError, match=r"checkpoints holds a run trained to epoch 3, past "
                                         r"epochs=1; pass epochs >= 3.*new out_dir"):
        _train(tmp_path, 1)
    _, history = _train(tmp_path, 3)  # the full run is still there
    assert history["epoch"].tolist() == [1, 2, 3]


def test_checkpoints_of_other_data_or_parameters_are_refused(tmp_path):
    _train(tmp_path / "data", 1)
    with pytest.raises(StaleArtefactError,
                       match=r"GAN checkpoints in .*data.*data_images: 'array:"):
        _train(tmp_path / "data", 2, images=stripes(32, seed=1))
    _train(tmp_path / "recipe", 1, fingerprint={"recipe": "kora_venu", "lr": 2e-4})
    with pytest.raises(StaleArtefactError, match=r"lr.*0.0002 -> 0.001"):
        _train(tmp_path / "recipe", 2, fingerprint={"recipe": "kora_venu", "lr": 1e-3})
    _, history = _train(tmp_path / "recipe", 2, fingerprint={"recipe": "kora_venu", "lr": 2e-4})
    assert history["epoch"].tolist() == [1, 2]


def test_fingerprint_must_be_a_mapping_without_epochs(tmp_path):
    with pytest.raises(TypeError, match="fingerprint must be a mapping"):
        _train(tmp_path, 1, fingerprint="abc")
    with pytest.raises(ValueError, match="must not hold 'epochs'"):
        _train(tmp_path, 1, fingerprint={"epochs": 3})
    with pytest.raises(ValueError, match=r"\['gan_class'\] are set by train_gan"):
        _train(tmp_path, 1, fingerprint={"gan_class": "GAN"})


def test_unstamped_checkpoints_are_refused(tmp_path):
    save_checkpoint(tiny_gan(), tmp_path / "checkpoints", epoch=1)
    with pytest.raises(StaleArtefactError, match="without a fingerprint stamp"):
        _train(tmp_path, 2)


@pytest.mark.parametrize("damaged", ["generator.weights.h5", "state.npz"])
def test_truncated_newest_checkpoint_is_named_and_the_previous_one_used(tmp_path, damaged):
    _train(tmp_path, 2)
    newest = tmp_path / "checkpoints" / "epoch-0002"
    data = (newest / damaged).read_bytes()
    (newest / damaged).write_bytes(data[: len(data) // 2])
    snapshot = tiny_gan(seed=4)
    restore_checkpoint(snapshot, tmp_path / "checkpoints" / "epoch-0001")
    with pytest.warns(UnreadableCheckpointWarning, match=r"epoch-0002 cannot be restored"):
        assert restore_newest(tiny_gan(seed=5), tmp_path / "checkpoints") == 1
    with pytest.warns(UnreadableCheckpointWarning, match=damaged.split(".")[0] + "|epoch-0002"):
        _, history = _train(tmp_path, 3)
    assert history["epoch"].tolist() == [1, 2, 3]
    restore_checkpoint(tiny_gan(), newest)  # epoch 2 was trained again and is readable


def test_no_readable_checkpoint_names_every_one(tmp_path):
    _train(tmp_path, 1)
    (tmp_path / "checkpoints" / "epoch-0001" / "state.npz").write_bytes(b"garbage")
    with pytest.warns(UnreadableCheckpointWarning), \
            pytest.raises(ValueError, match=r"no checkpoint in .* can be restored.*epoch-0001"):
        _train(tmp_path, 2)
