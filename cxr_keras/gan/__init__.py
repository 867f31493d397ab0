"""GAN training engine shared by the four papers: model, callbacks, checkpoints, generation."""

from cxr_keras.gan.backend import data_parallel
from cxr_keras.gan.batches import ShuffledBatches
from cxr_keras.gan.callbacks import EpochProgress, NonFiniteLossError, SampleGrid
from cxr_keras.gan.checkpoint import latest_checkpoint, restore_checkpoint, save_checkpoint
from cxr_keras.gan.fit import train_gan
from cxr_keras.gan.generate import latent_vectors, sample_grid_figure, write_generated_pngs
from cxr_keras.gan.options import TrainingOptions, split_recipe
from cxr_keras.gan.training import GAN, ConditionalGAN

__all__ = [
    "GAN", "ConditionalGAN", "EpochProgress", "NonFiniteLossError", "SampleGrid", "ShuffledBatches",
    "TrainingOptions", "data_parallel", "latent_vectors", "latest_checkpoint", "restore_checkpoint",
    "sample_grid_figure", "save_checkpoint", "split_recipe", "train_gan", "write_generated_pngs",
]
