"""Every paper's networks, and a registry so notebooks pick a GAN by name; docs/modules.md."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import NamedTuple

import keras

from cxr_keras.models import davoodi, kora_venu, ng_gubbi, salehinejad
from cxr_keras.models.classifiers import davoodi_cnn, kora_venu_cnn, salehinejad_dcnn
from cxr_keras.models.davoodi import davoodi_discriminator, davoodi_generator
from cxr_keras.models.kora_venu import kora_venu_discriminator, kora_venu_generator
from cxr_keras.models.layers import (
    MinibatchStdDev,
    TapSumConv2D,
    with_minibatch_std,
    with_spectral_norm,
)
from cxr_keras.models.ng_gubbi import (
    ng_gubbi_conditional_discriminator,
    ng_gubbi_conditional_generator,
    ng_gubbi_discriminator,
    ng_gubbi_generator,
)
from cxr_keras.models.salehinejad import salehinejad_discriminator, salehinejad_generator


class LatentSpec(NamedTuple):
    """The paper's latent vector: its length and ``"normal"`` or ``"uniform"`` distribution."""

    dim: int
    distribution: str


class GanSpec(NamedTuple):
    """A paper's generator builder, discriminator builder and latent specification."""

    generator: Callable[..., keras.Model]
    discriminator: Callable[..., keras.Model]
    latent: LatentSpec


GAN_ARCHITECTURES: dict[str, GanSpec] = {
    "salehinejad": GanSpec(salehinejad_generator, salehinejad_discriminator,
                           LatentSpec(salehinejad.LATENT_DIM, salehinejad.LATENT_DISTRIBUTION)),
    "kora_venu": GanSpec(kora_venu_generator, kora_venu_discriminator,
                         LatentSpec(kora_venu.LATENT_DIM, kora_venu.LATENT_DISTRIBUTION)),
    "ng_gubbi": GanSpec(ng_gubbi_generator, ng_gubbi_discriminator,
                        LatentSpec(ng_gubbi.LATENT_DIM, ng_gubbi.LATENT_DISTRIBUTION)),
    "ng_gubbi_cgan": GanSpec(ng_gubbi_conditional_generator, ng_gubbi_conditional_discriminator,
                             LatentSpec(ng_gubbi.LATENT_DIM, ng_gubbi.LATENT_DISTRIBUTION)),
    "davoodi": GanSpec(davoodi_generator, davoodi_discriminator,
                       LatentSpec(davoodi.LATENT_DIM, davoodi.LATENT_DISTRIBUTION)),
}


def build_gan_pair(name: str, image_size: int | None = None, channels: int | None = None,
                   spectral_norm: bool = False, minibatch_std: bool = False,
                   **kwargs) -> tuple[keras.Model, keras.Model]:
    """Build ``(generator, discriminator)`` of the paper ``name`` (a key of GAN_ARCHITECTURES).

    ``spectral_norm`` / ``minibatch_std`` change the discriminator (off by default); other
    keyword arguments go to the builder(s) that accept them (e.g. ``variant``, ``latent_dim``,
    ``num_classes``). Details: docs/modules.md.
    """
    if name not in GAN_ARCHITECTURES:
        raise KeyError(f"unknown GAN architecture {name!r}; choose from {sorted(GAN_ARCHITECTURES)}")
    spec = GAN_ARCHITECTURES[name]
    shared = {key: value for key, value in (("image_size", image_size), ("channels", channels))
              if value is not None}
    builders = (spec.generator, spec.discriminator)
    accepted = [set(inspect.signature(builder).parameters) for builder in builders]
    unknown = set(kwargs) - set.union(*accepted)
    if unknown:
        raise TypeError(
            f"build_gan_pair({name!r}) got unexpected keyword(s) {sorted(unknown)}; "
            f"accepted: {sorted(set.union(*accepted) - {'image_size', 'channels'})}"
        )
    generator, discriminator = (
        builder(**shared, **{key: value for key, value in kwargs.items() if key in names})
        for builder, names in zip(builders, accepted)
    )
    if minibatch_std:
        discriminator = with_minibatch_std(discriminator)
    return generator, (with_spectral_norm(discriminator) if spectral_norm else discriminator)


__all__ = [
    "GAN_ARCHITECTURES", "GanSpec", "LatentSpec", "MinibatchStdDev", "TapSumConv2D",
    "build_gan_pair", "davoodi_cnn", "davoodi_discriminator", "davoodi_generator", "kora_venu_cnn",
    "kora_venu_discriminator", "kora_venu_generator", "ng_gubbi_conditional_discriminator",
    "ng_gubbi_conditional_generator", "ng_gubbi_discriminator", "ng_gubbi_generator",
    "salehinejad_dcnn", "salehinejad_discriminator", "salehinejad_generator",
    "with_minibatch_std", "with_spectral_norm",
]
