"""Differentiable augmentation of every discriminator input, with a fixed or adaptive probability.
Details: docs/modules.md."""

from __future__ import annotations

import keras
from keras import ops

AUGMENTATIONS = ("translation", "cutout", "color")
TRANSLATION_RATIO = 0.125
CUTOUT_RATIO = 0.5


def parse_policy(augment) -> tuple[str, ...]:
    """``"translation,cutout"`` (or a list of names) as a tuple of known operation names."""
    names = augment.split(",") if isinstance(augment, str) else list(augment)
    names = tuple(name.strip() for name in names if name.strip())
    unknown = [name for name in names if name not in AUGMENTATIONS]
    if not names or unknown:
        raise ValueError(
            f"augment must name one or more of {AUGMENTATIONS} (comma-separated), got "
            f"{augment!r}"
        )
    return names


def _uniform(batch, low, high, seed_generator, dtype):
    values = keras.random.uniform((batch, 1, 1, 1), low, high, seed=seed_generator)
    return ops.cast(values, dtype)


def _shift_matrices(shifts, size: int, dtype):
    """``(batch, size, size)`` one-hot matrices ``M[b, i, j] = [j == i + shifts[b]]``."""
    rows = ops.arange(size)[None, :, None]
    sources = ops.arange(size)[None, None, :]
    return ops.cast(ops.equal(sources, rows + shifts[:, None, None]), dtype)


def translate(images, seed_generator, ratio: float = TRANSLATION_RATIO):
    """Shift each image by a random whole number of pixels; uncovered pixels become 0."""
    batch, height, width = ops.shape(images)[0], images.shape[1], images.shape[2]
    max_dy, max_dx = int(height * ratio + 0.5), int(width * ratio + 0.5)
    dy = keras.random.randint((batch,), -max_dy, max_dy + 1, seed=seed_generator)
    dx = keras.random.randint((batch,), -max_dx, max_dx + 1, seed=seed_generator)
    rows = ops.einsum("bij,bjwc->biwc", _shift_matrices(dy, height, images.dtype), images)
    return ops.einsum("bkw,bhwc->bhkc", _shift_matrices(dx, width, images.dtype), rows)


def cutout(images, seed_generator, ratio: float = CUTOUT_RATIO):
    """Set a square of ``ratio`` times the image size at a random centre to 0."""
    batch, height, width = ops.shape(images)[0], images.shape[1], images.shape[2]

    def inside(size):  # (batch, size): inside a span of ratio * size around a random centre
        span = int(size * ratio + 0.5)
        start = keras.random.randint((batch, 1), 0, size, seed=seed_generator) - span // 2
        offset = ops.arange(size)[None, :] - start
        return ops.logical_and(offset >= 0, offset < span)

    inside = ops.logical_and(inside(height)[:, :, None, None], inside(width)[:, None, :, None])
    return ops.where(inside, ops.zeros_like(images), images)


def color(images, seed_generator):
    """Random brightness offset in [-0.5, 0.5), then contrast factor in [0.5, 1.5)."""
    batch = ops.shape(images)[0]
    images = images + _uniform(batch, -0.5, 0.5, seed_generator, images.dtype)
    mean = ops.mean(images, axis=(1, 2, 3), keepdims=True)
    return (images - mean) * _uniform(batch, 0.5, 1.5, seed_generator, images.dtype) + mean


OPERATIONS = {"translation": translate, "cutout": cutout, "color": color}


class DiscriminatorAugment:
    """The augmentation of D's inputs: a policy, its probability ``p`` (a non-trainable variable)
    and, when ``adaptive``, ADA's control of ``p`` (docs/modules.md). Draws come from its own
    ``SeedGenerator``, leaving the GAN's latent noise stream unchanged.
    """

    def __init__(self, policy, probability, target: float, interval: int, ramp_images: int,
                 seed: int):
        self.policy = parse_policy(policy)
        self.adaptive = probability == "adaptive"
        self.target, self.interval, self.ramp_images = float(target), int(interval), ramp_images
        start = 0.0 if self.adaptive else float(probability)
        self.probability = keras.Variable(start, trainable=False, dtype="float32",
                                          name="augment_p")
        self.sign_sum = keras.Variable(0.0, trainable=False, dtype="float32", name="ada_sign_sum")
        self.batches = keras.Variable(0.0, trainable=False, dtype="float32", name="ada_batches")
        self.seed_generator = keras.random.SeedGenerator(seed, name="augment_seed")

    def __call__(self, images):
        """Each operation of the policy applied to each image with probability ``p``."""
        batch = ops.shape(images)[0]
        for name in self.policy:
            draws = keras.random.uniform((batch, 1, 1, 1), seed=self.seed_generator)
            chosen = draws < self.probability
            images = ops.where(chosen, OPERATIONS[name](images, self.seed_generator), images)
        return images

    def observe(self, real_logits, batch_size):
        """Return this batch's ``E[sign(D(real))]``; when adaptive, adjust ``p`` if one is due."""
        signs = ops.mean(ops.sign(ops.cast(real_logits, "float32")))
        if not self.adaptive:
            return signs
        self.sign_sum.assign_add(signs)
        self.batches.assign_add(1.0)
        probability, sign_sum, batches = (self.probability.value, self.sign_sum.value,
                                          self.batches.value)
        due = batches >= self.interval
        r_t = sign_sum / ops.maximum(batches, 1.0)
        step = ops.cast(batch_size * self.interval, "float32") / self.ramp_images
        moved = ops.clip(probability + ops.sign(r_t - self.target) * step, 0.0, 1.0)
        self.probability.assign(ops.where(due, moved, probability))
        self.sign_sum.assign(ops.where(due, 0.0, sign_sum))
        self.batches.assign(ops.where(due, 0.0, batches))
        return signs

    def state(self) -> dict:
        """Variables a checkpoint must hold to resume: ``p``, the ADA accumulators, the seed."""
        return {"augment/probability": self.probability, "augment/sign_sum": self.sign_sum,
                "augment/batches": self.batches, "augment/seed_state": self.seed_generator.state}
