"""Writing generated PNGs, sample-grid figures and the SampleGrid callback."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras
import numpy as np
import pytest
from matplotlib.figure import Figure
from PIL import Image

from cxr_keras.data.images import to_uint8
from cxr_keras.gan import ConditionalGAN, SampleGrid, sample_grid_figure, write_generated_pngs
from tests.scripts.tiny_gan import (
    LATENT_DIM,
    stripes,
    tiny_conditional_discriminator,
    tiny_conditional_generator,
    tiny_gan,
)


def _read(path):
    return np.asarray(Image.open(path))


def test_pngs_match_generate_with_the_real_quantization(tmp_path):
    gan = tiny_gan()
    paths = write_generated_pngs(gan, 5, tmp_path, seed=3, batch_size=2)
    assert [p.name for p in paths] == [f"{i:05d}.png" for i in range(5)]
    expected = to_uint8(gan.generate(5, seed=3))[..., 0]
    for path, pixels in zip(paths, expected):
        image = _read(path)
        assert image.dtype == np.uint8 and image.shape == (16, 16)
        np.testing.assert_array_equal(image, pixels)
    assert not list(tmp_path.glob(".*")), "temporary files left behind"


def test_bare_generator_gives_the_same_images_as_its_gan(tmp_path):
    gan = tiny_gan()
    from_gan = write_generated_pngs(gan, 3, tmp_path / "gan", seed=1)
    from_generator = write_generated_pngs(gan.generator, 3, tmp_path / "bare", seed=1)
    for a, b in zip(from_gan, from_generator):
        np.testing.assert_array_equal(_read(a), _read(b))
    with pytest.raises(ValueError, match="labels need a ConditionalGAN"):
        write_generated_pngs(gan.generator, 2, tmp_path / "x", labels=1)


def _conditional_gan():
    keras.utils.set_random_seed(0)
    gan = ConditionalGAN(tiny_conditional_generator(3), tiny_conditional_discriminator(3),
                         LATENT_DIM, num_classes=3)
    gan.compile(keras.optimizers.Adam(), keras.optimizers.Adam(), jit_compile=False)
    return gan


def test_labelled_pngs_go_to_one_folder_per_label(tmp_path):
    paths = write_generated_pngs(_conditional_gan(), 4, tmp_path, labels=[0, 2, 2, 1])
    assert [p.relative_to(tmp_path).as_posix() for p in paths] == [
        "0/00000.png", "2/00001.png", "2/00002.png", "1/00003.png"]


def test_sample_grid_figure_lays_out_images_with_class_names():
    images = np.linspace(-1, 1, 5 * 8 * 8).reshape(5, 8, 8, 1)
    figure = sample_grid_figure(images, labels=[0, 1, 0, 1, 1], class_names=["normal", "covid"],
                                ncols=2)
    assert isinstance(figure, Figure)
    axes = figure.get_axes()
    assert len(axes) == 6  # 3 rows x 2 columns, last one blank
    assert [a.get_title() for a in axes[:5]] == ["normal", "covid", "normal", "covid", "covid"]
    assert not axes[5].images
    with pytest.raises(ValueError, match="NHWC with 1 or 3 channels"):
        sample_grid_figure(images[..., 0])
    with pytest.raises(ValueError, match="got 2 labels for 5 images"):
        sample_grid_figure(images, labels=[0, 1])


def test_sample_grid_callback_writes_a_png_per_epoch_with_fixed_noise(tmp_path):
    gan = _conditional_gan()
    grid = SampleGrid(tmp_path, n=2, every=1, seed=7)
    gan.fit(stripes(8), np.arange(8) % 3, batch_size=8, epochs=2, verbose=0, callbacks=[grid])
    written = sorted(p.name for p in tmp_path.iterdir())
    assert written == ["epoch-0001.png", "epoch-0002.png"]
    first = _read(tmp_path / "epoch-0001.png")
    assert first.ndim == 3 and first.shape[0] > 50 and first.shape[1] > 50
    # the noise is fixed: the same weights draw the same grid again
    last = _read(tmp_path / "epoch-0002.png")
    grid.write(2)
    np.testing.assert_array_equal(_read(tmp_path / "epoch-0002.png"), last)
    assert not np.array_equal(first, last), "the grid did not change while training"
