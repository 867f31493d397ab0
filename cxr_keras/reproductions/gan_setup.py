"""The one way the four papers build and compile a GAN: :func:`build_compiled_gan`. Details:
docs/modules.md."""

from __future__ import annotations

import numbers
from collections.abc import Mapping, Sequence

import keras

from cxr_keras.gan import GAN, ConditionalGAN, split_recipe
from cxr_keras.models import GAN_ARCHITECTURES, build_gan_pair
from cxr_keras.seeding import seeded_build


def recipe_batch_size(recipe: Mapping | None, batch_size: int) -> int:
    """The recipe's own ``batch_size`` if it sets one (the notebooks' GAN batch size
    otherwise): the one reading of that key, checked to be a positive integer."""
    value = (recipe or {}).get("batch_size", batch_size)
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"recipe batch_size must be a positive integer, got {value!r}")
    return int(value)


def build_compiled_gan(architecture: str, image_size: int, channels: int = 1,
                       learning_rate: float = 2e-4, betas: tuple[float, float] = (0.5, 0.999),
                       seed: int = 0, num_classes: int | None = None,
                       label_sampling: str = "uniform", class_prior: Sequence[float] | None = None,
                       recipe: Mapping | None = None, **model_kwargs):
    """A compiled :class:`~cxr_keras.gan.GAN` (with ``num_classes``, a ``ConditionalGAN``) of
    ``architecture`` with the paper's latent vector and Adam(``learning_rate``, ``betas``) for
    both networks, built from ``seed``; ``recipe`` overrides architecture, optimizer and training
    options, ``model_kwargs`` go to ``build_gan_pair``. Details: docs/modules.md.
    """
    recipe = dict(recipe or {})
    architecture = recipe.pop("architecture", architecture)
    learning_rate = float(recipe.pop("learning_rate", learning_rate))
    d_learning_rate = float(recipe.pop("d_learning_rate", learning_rate))
    betas = tuple(float(beta) for beta in recipe.pop("betas", betas))
    builder_options, training_options = split_recipe(recipe)
    model_kwargs.update(builder_options)
    if architecture not in GAN_ARCHITECTURES:
        raise KeyError(f"unknown GAN architecture {architecture!r}; choose from {sorted(GAN_ARCHITECTURES)}")
    latent = GAN_ARCHITECTURES[architecture].latent
    latent_dim = model_kwargs.get("latent_dim", latent.dim)
    if num_classes is not None:
        model_kwargs["num_classes"] = num_classes
    with seeded_build(seed):
        generator, discriminator = build_gan_pair(architecture, image_size, channels, **model_kwargs)
    if num_classes is None:
        gan = GAN(generator, discriminator, latent_dim, latent.distribution, seed=seed)
    else:
        gan = ConditionalGAN(generator, discriminator, latent_dim, num_classes,
                             label_sampling=label_sampling, class_prior=class_prior,
                             latent_distribution=latent.distribution, seed=seed)
    gan.compile(*(keras.optimizers.Adam(rate, beta_1=betas[0], beta_2=betas[1])
                  for rate in (d_learning_rate, learning_rate)), **training_options)
    return gan
