"""ShuffledBatches: a per-epoch order that is a pure function of (seed, epoch)."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
import pytest
import tensorflow as tf

from cxr_keras.gan.batches import ShuffledBatches, training_batches


def _images(n=10):
    return np.arange(n, dtype="float32").reshape(n, 1, 1, 1) * np.ones((1, 2, 2, 1), "float32")


def _epoch(batches):
    return np.concatenate([batches[i][..., 0, 0, 0] for i in range(len(batches))])


def test_each_epoch_is_a_permutation_fixed_by_seed_and_epoch():
    batches = ShuffledBatches(_images(), batch_size=4, seed=7)
    assert len(batches) == 2 and batches[0].shape == (4, 2, 2, 1)
    first = _epoch(batches)  # read before any on_epoch_begin, as TensorFlow's trainer does
    batches.on_epoch_begin()
    assert batches.epoch == 0
    batches[0]
    batches.on_epoch_begin()
    assert batches.epoch == 0, "one batch read between two epochs (a trainer's peek) moved on"
    _epoch(batches)
    batches.on_epoch_begin()
    assert batches.epoch == 1
    second = _epoch(batches)
    assert len(set(first)) == 8 and not np.array_equal(first, second)
    restarted = ShuffledBatches(_images(), batch_size=4, seed=7, initial_epoch=1)
    np.testing.assert_array_equal(_epoch(restarted), second)
    other_seed = ShuffledBatches(_images(), batch_size=4, seed=8)
    assert not np.array_equal(_epoch(other_seed), first)


def test_remainder_labels_and_small_sets():
    kept = ShuffledBatches(_images(), np.arange(10) % 2, batch_size=4, drop_remainder=False)
    images, labels = kept[2]
    assert len(kept) == 3 and images.shape[0] == 2 and labels.dtype == np.int32
    np.testing.assert_array_equal(images[:, 0, 0, 0] % 2, labels)
    assert len(ShuffledBatches(_images(3), batch_size=16)) == 1  # capped at the set size
    with pytest.raises(IndexError, match="out of range for 2 batches"):
        ShuffledBatches(_images(), batch_size=4)[2]


def test_shards_split_every_batch_of_one_global_order():
    whole = ShuffledBatches(_images(), batch_size=4, seed=7, shard=(0, 1))
    halves = [ShuffledBatches(_images(), batch_size=4, seed=7, shard=(i, 2)) for i in range(2)]
    for index in range(len(whole)):
        np.testing.assert_array_equal(np.concatenate([h[index] for h in halves]), whole[index])
    assert ShuffledBatches(_images(), batch_size=4).shard_count == 1  # one process: no split
    with pytest.raises(ValueError, match="batch_size divisible by 3"):
        ShuffledBatches(_images(), batch_size=4, shard=(0, 3))
    with pytest.raises(ValueError, match=r"0 <= index < count, got \(2, 2\)"):
        ShuffledBatches(_images(), batch_size=4, shard=(2, 2))


def test_fit_moves_to_the_next_epoch_order_each_epoch():
    seen = []

    class Recording(ShuffledBatches):
        def __getitem__(self, index):
            seen.append(self.epoch)
            return super().__getitem__(index)

    import keras

    model = keras.Sequential([keras.Input((2, 2, 1)), keras.layers.Flatten(),
                              keras.layers.Dense(1)])
    model.compile("sgd", "mse")
    data = Recording(_images(), np.zeros(10, "int32"), batch_size=5, initial_epoch=4)
    model.fit(data, epochs=3, verbose=0, shuffle=False)
    assert seen[-6:] == [4, 4, 5, 5, 6, 6]


@pytest.mark.parametrize("kwargs, match", [
    ({"images": np.zeros((3, 4, 4))}, "images must be an NHWC array"),
    ({"images": np.zeros((0, 4, 4, 1))}, "images is empty"),
    ({"labels": np.zeros(5)}, "labels must be 10 integer class labels"),
    ({"batch_size": 0}, "batch_size must be a positive integer"),
    ({"initial_epoch": -1}, "epoch must be >= 0"),
])
def test_bad_arguments_are_named(kwargs, match):
    kwargs = {"images": _images(), **kwargs}
    with pytest.raises(ValueError, match=match):
        ShuffledBatches(**kwargs)


def test_training_batches_wraps_arrays_and_passes_datasets_through():
    dataset = tf.data.Dataset.from_tensor_slices(_images()).batch(2)
    assert training_batches(dataset) is dataset
    pair = training_batches((_images(), np.zeros(10, "int32")), batch_size=3, seed=2)
    assert isinstance(pair, ShuffledBatches) and pair.seed == 2 and len(pair) == 3
    assert training_batches(pair) is pair
    with pytest.raises(ValueError, match=r"must be \(images, labels\), got 3 items"):
        training_batches((_images(), _images(), _images()))


def test_train_gan_batches_image_label_arrays_for_a_conditional_gan(tmp_path):
    import keras

    from cxr_keras.gan import ConditionalGAN, train_gan
    from tests.scripts.tiny_gan import (
        LATENT_DIM,
        stripes,
        tiny_conditional_discriminator,
        tiny_conditional_generator,
    )

    def build():
        keras.utils.set_random_seed(0)
        gan = ConditionalGAN(tiny_conditional_generator(2), tiny_conditional_discriminator(2),
                             LATENT_DIM, num_classes=2)
        gan.compile(keras.optimizers.Adam(1e-3), keras.optimizers.Adam(1e-3), jit_compile=False)
        return gan

    images, labels = stripes(24), np.arange(24) % 2
    history = train_gan(build(), (images, labels), 2, tmp_path / "a", batch_size=8, seed=1,
                        sample_every=None, verbose=0)
    assert history["epoch"].tolist() == [1, 2] and np.isfinite(history["g_loss"]).all()
    other_order = train_gan(build(), (images, labels), 2, tmp_path / "b", batch_size=8, seed=2,
                            sample_every=None, verbose=0)
    assert not np.allclose(history["d_loss"], other_order["d_loss"])  # the seed orders the data
