"""Data-efficient GAN training options, all off by default, and how a recipe dict splits. Details:
docs/modules.md."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from cxr_keras.gan.augmentation import parse_policy

BUILDER_OPTIONS = ("spectral_norm", "minibatch_std")
STEP_OPTIONS = ("label_smoothing", "instance_noise", "d_steps")  # GAN.compile's own arguments


@dataclass(frozen=True)
class TrainingOptions:
    """Small-data training options of :class:`cxr_keras.gan.training.GAN`; defaults are off.

    Attributes:
        augment: differentiable augmentation of every D input, real and fake, in the D and
            the G step (DiffAugment): ``None`` (off) or comma-separated names from
            ``"translation", "cutout", "color"``.
        augment_p: probability of each operation per image: a number in [0, 1] (default 1,
            DiffAugment's "always") or ``"adaptive"`` (ADA: start at 0, adapt to D's overfitting).
        ada_target: target of the overfitting signal ``r_t = E[sign(D(real))]`` (ADA: 0.6).
        ada_interval: batches between two adjustments of an adaptive ``p`` (default 4).
        ada_ramp_images: real images over which a steadily overfitting D moves ``p`` from 0
            to 1 (default 20,000; ADA's 500k suits far larger runs than the kit's).
        ema_decay: decay of an exponential moving average of G's weights, used for all
            sampling (progressive GAN's averaged generator); 0 is off, e.g. 0.999.
        ema_warmup: G steps over which the EMA decay ramps up from 0 (default 0: no ramp).
        r1_gamma: weight of the R1 penalty ``gamma/2 E||grad_x D(x)||^2`` on real images
            (Mescheder et al., 2018); 0 is off.
        r1_every: apply R1 every this many D steps, scaled by it (StyleGAN2's lazy
            regularization); default 1.
        mode_seeking: weight ``w`` of MSGAN's mode-seeking term ``w / (ratio + 1e-5)`` added to
            G's loss, ``ratio`` being image distance over noise distance between the two halves
            of the fake batch (:func:`cxr_keras.gan.penalty.mode_seeking_ratio`); 0 is off.

    With augmentation on, the history gains ``augment_p`` (the epoch's mean ``p``) and
    ``ada_r_t`` (the epoch's mean of ``E[sign(D(real))]``); with R1 on, ``r1_penalty`` (the
    mean R1 term added to D's loss, 0 on steps where lazy R1 is not due); with mode seeking,
    ``mode_seeking_ratio`` (the epoch's mean ratio).
    """

    augment: str | None = None
    augment_p: float | str = 1.0
    ada_target: float = 0.6
    ada_interval: int = 4
    ada_ramp_images: int = 20_000
    ema_decay: float = 0.0
    ema_warmup: int = 0
    r1_gamma: float = 0.0
    r1_every: int = 1
    mode_seeking: float = 0.0

    def __post_init__(self):
        if self.augment is not None:
            parse_policy(self.augment)
        if self.augment_p != "adaptive" and not (
                isinstance(self.augment_p, (int, float)) and 0.0 <= self.augment_p <= 1.0):
            raise ValueError(
                f"augment_p must be a number in [0, 1] or 'adaptive', got {self.augment_p!r}")
        if not 0.0 < self.ada_target < 1.0:
            raise ValueError(f"ada_target must be in (0, 1), got {self.ada_target!r}")
        for name in ("ada_interval", "ada_ramp_images", "r1_every"):
            _check_positive_int(name, getattr(self, name))
        if self.ema_warmup != 0:
            _check_positive_int("ema_warmup", self.ema_warmup)
        if not 0.0 <= self.ema_decay < 1.0:
            raise ValueError(f"ema_decay must be in [0, 1) (0 is off), got {self.ema_decay!r}")
        for name in ("r1_gamma", "mode_seeking"):
            if not getattr(self, name) >= 0.0:
                raise ValueError(f"{name} must be >= 0 (0 is off), got {getattr(self, name)!r}")

    @classmethod
    def pop_from(cls, kwargs: dict) -> TrainingOptions:
        """Remove the option keys from ``kwargs`` and return them as options."""
        misplaced = [key for key in BUILDER_OPTIONS if key in kwargs]
        if misplaced:
            raise TypeError(
                f"{misplaced} are model-builder options: pass them to build_gan_pair (see "
                "cxr_keras.gan.options.split_recipe), not to GAN.compile")
        return cls(**{name: kwargs.pop(name) for name in option_names() if name in kwargs})


def _check_positive_int(name: str, value) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")


def option_names() -> tuple[str, ...]:
    """Names of the keyword arguments ``GAN.compile`` accepts as :class:`TrainingOptions`."""
    return tuple(field.name for field in dataclasses.fields(TrainingOptions))


def split_recipe(recipe: dict | None) -> tuple[dict, dict]:
    """Split a recipe into ``(build_gan_pair kwargs, GAN.compile kwargs)``; unknown keys raise."""
    recipe = dict(recipe or {})
    accepted = BUILDER_OPTIONS + STEP_OPTIONS + option_names()
    unknown = sorted(set(recipe) - set(accepted))
    if unknown:
        raise ValueError(f"unknown GAN recipe option(s) {unknown}; accepted: {sorted(accepted)}")
    builder = {key: recipe.pop(key) for key in BUILDER_OPTIONS if key in recipe}
    TrainingOptions(**{key: value for key, value in recipe.items() if key not in STEP_OPTIONS})
    return builder, recipe
