"""One GAN training engine for every paper: a ``keras.Model`` whose ``fit()`` trains G and D.
Details: docs/modules.md."""

from __future__ import annotations

import keras
import numpy as np
from keras import ops

from cxr_keras.gan import backend

if backend.BACKEND == "tensorflow":
    import tensorflow as tf
elif backend.BACKEND == "jax":
    from cxr_keras.gan import jax_step
elif backend.BACKEND == "torch":
    from cxr_keras.gan import torch_step
from cxr_keras.gan.augmentation import DiscriminatorAugment
from cxr_keras.gan.averaging import GeneratorAverage
from cxr_keras.gan.generate import check_distribution, in_batches, latent_vectors
from cxr_keras.gan.options import TrainingOptions
from cxr_keras.gan.penalty import MODE_SEEKING_EPS, mode_seeking_ratio, r1_penalty
from cxr_keras.gan.steps import (
    bce_logits,
    check_built,
    check_class_prior,
    check_mixed_precision,
    discriminator_metrics,
    label_input,
)

LABEL_SAMPLINGS = ("uniform", "empirical", "batch")
METRIC_NAMES = ("d_loss", "g_loss", "d_acc_real", "d_acc_fake", "d_x", "d_g_z1", "d_g_z2")
AUGMENT_METRICS, R1_METRICS = ("augment_p", "ada_r_t"), ("r1_penalty",)
MODE_SEEKING_METRICS = ("mode_seeking_ratio",)


class GAN(keras.Model):
    """Unconditional GAN trained by ``fit()`` on batches of images in [-1, 1] (NHWC float32).

    Args:
        generator: model mapping ``(batch, latent_dim)`` noise to images in [-1, 1].
        discriminator: model mapping images to one logit per image.
        latent_dim: length of the noise vector.
        latent_distribution: ``"normal"`` (standard normal) or ``"uniform"`` (on [-1, 1]).
        seed: seed of the attached ``keras.random.SeedGenerator`` driving all training noise.
    """

    def __init__(self, generator, discriminator, latent_dim: int,
                 latent_distribution: str = "normal", seed: int = 0, **kwargs):
        super().__init__(**kwargs)
        check_built(generator, "generator")
        check_built(discriminator, "discriminator")
        check_distribution(latent_distribution)
        if int(latent_dim) <= 0:
            raise ValueError(f"latent_dim must be a positive integer, got {latent_dim!r}")
        self.generator = generator
        self.discriminator = discriminator
        self.latent_dim = int(latent_dim)
        self.latent_distribution = latent_distribution
        self.seed = int(seed)
        self.seed_generator = backend.ReplicaSeedGenerator(self.seed)
        self.trackers = {name: keras.metrics.Mean(name=name) for name in METRIC_NAMES}
        self.options, self.augmenter, self.generator_average = TrainingOptions(), None, None
        self.built = True

    def compile(self, d_optimizer, g_optimizer, label_smoothing: float = 0.0,
                instance_noise: float = 0.0, d_steps: int = 1, mixed_precision: bool = False,
                jit_compile="auto", **kwargs):
        """Set the two optimizers and the training tricks.

        Args:
            d_optimizer, g_optimizer: separate Keras optimizers for D and G.
            label_smoothing: one-sided smoothing; D's real targets become ``1 - s``.
            instance_noise: std of Gaussian noise added to every D input (real and fake).
            d_steps: discriminator updates per generator update (same real batch, fresh noise).
            mixed_precision: wrap both optimizers in ``LossScaleOptimizer`` (TensorFlow and
                PyTorch only); the models must have been built under the ``mixed_float16``
                policy (for GPUs).
            jit_compile: passed to ``keras.Model.compile`` ("auto" uses XLA when possible).
            **kwargs: fields of :class:`~cxr_keras.gan.options.TrainingOptions` (augment,
                augment_p, ada_*, ema_*, r1_*; all off by default, documented there) set the
                small-data options; the rest go to ``keras.Model.compile``.
        """
        options = TrainingOptions.pop_from(kwargs)
        if not 0.0 <= label_smoothing < 1.0:
            raise ValueError(f"label_smoothing must be in [0, 1), got {label_smoothing}")
        if instance_noise < 0.0:
            raise ValueError(f"instance_noise must be >= 0, got {instance_noise}")
        if int(d_steps) < 1 or int(d_steps) != d_steps:
            raise ValueError(f"d_steps must be a positive integer, got {d_steps!r}")
        if d_optimizer is g_optimizer:
            raise ValueError("d_optimizer and g_optimizer must be two separate optimizer objects")
        if mixed_precision:
            check_mixed_precision(self.generator, self.discriminator)
            if backend.BACKEND == "jax":
                raise NotImplementedError(
                    "mixed_precision=True trains on TensorFlow and PyTorch; on JAX Keras' "
                    "LossScaleOptimizer updates its scale inside a traced branch of the GAN "
                    "step, which leaks tracers. Train in float32 on JAX")
            d_optimizer = keras.optimizers.LossScaleOptimizer(d_optimizer)
            g_optimizer = keras.optimizers.LossScaleOptimizer(g_optimizer)
        backend.check_supported()
        super().compile(jit_compile=jit_compile, **kwargs)
        self.d_optimizer, self.g_optimizer = d_optimizer, g_optimizer
        self.label_smoothing = float(label_smoothing)
        self.instance_noise = float(instance_noise)
        self.d_steps = int(d_steps)
        self.mixed_precision = bool(mixed_precision)
        # Build the slots and the options' state now, so a checkpoint can be restored at once.
        with backend.strategy_scope(self):
            self.d_optimizer.build(self.discriminator.trainable_variables)
            self.g_optimizer.build(self.generator.trainable_variables)
            self._set_options(options)
        if backend.BACKEND == "jax":
            # Tracked, so that the stateless (JAX) trainer carries them in its state.
            self.engine_state = [*self.d_optimizer.variables, *self.g_optimizer.variables,
                                 *self._option_variables()]

    def _set_options(self, options: TrainingOptions) -> None:
        self.options = options
        self.augmenter = None if options.augment is None else DiscriminatorAugment(
            options.augment, options.augment_p, options.ada_target, options.ada_interval,
            options.ada_ramp_images, seed=self.seed + 1)
        self.generator_average = None if not options.ema_decay else GeneratorAverage(
            self.generator, options.ema_decay, options.ema_warmup)
        extra = ((AUGMENT_METRICS if self.augmenter else ())
                 + (R1_METRICS if options.r1_gamma else ())
                 + (MODE_SEEKING_METRICS if options.mode_seeking else ()))
        self.trackers = {name: keras.metrics.Mean(name=name) for name in METRIC_NAMES + extra}

    def _option_variables(self) -> list:
        parts = (self.augmenter, self.generator_average)
        return [v for part in parts if part is not None for v in part.state().values()]

    @property
    def sampling_generator(self) -> keras.Model:
        """The generator every sample is drawn from: the EMA copy when EMA is on."""
        return self.generator if self.generator_average is None else self.generator_average.model

    @property
    def metrics(self):
        return list(self.trackers.values())

    def call(self, inputs, training=False):
        return self.generator(inputs, training=training)

    def sample_latent(self, batch_size):
        """Draw a ``(batch_size, latent_dim)`` float32 noise batch for training."""
        shape = (batch_size, self.latent_dim)
        if self.latent_distribution == "normal":
            return keras.random.normal(shape, seed=self.seed_generator)
        return keras.random.uniform(shape, -1.0, 1.0, seed=self.seed_generator)

    def _with_instance_noise(self, images):
        if self.instance_noise == 0.0:
            return images
        noise = keras.random.normal(ops.shape(images), seed=self.seed_generator)
        return images + self.instance_noise * ops.cast(noise, images.dtype)

    def _split_batch(self, data):
        if isinstance(data, (tuple, list)):
            data = data[0]
        return data, None

    def sample_fake_labels(self, real_labels, batch_size):
        """Labels for a fake batch; None for an unconditional GAN."""

    def _generate(self, z, labels, training, generator=None):
        return (generator or self.generator)(z, training=training)

    def _call_discriminator(self, images, labels, training):
        return self.discriminator(images, training=training)

    def _d_input(self, images):
        """What D sees of ``images``: augmented (an option, off by default), then with
        instance noise."""
        images = images if self.augmenter is None else self.augmenter(images)
        return self._with_instance_noise(images)

    def _discriminate(self, images, labels, training):
        return self._call_discriminator(self._d_input(images), labels, training)

    def _real_logits(self, real, labels):
        """D's logits on the real batch and the R1 term for D's loss (an option, off by
        default: 0 when off or not due)."""
        gamma, every = self.options.r1_gamma, self.options.r1_every
        inputs = self._d_input(real)

        def plain():
            return self._call_discriminator(inputs, labels, True), ops.zeros(())

        def penalized():  # lazy R1: every `every` D steps, weighted by `every`
            return r1_penalty(lambda x: self._call_discriminator(x, labels, True), inputs,
                              gamma * every)

        if not gamma or every == 1:
            return penalized() if gamma else plain()
        return backend.cond(ops.equal(self.d_optimizer.iterations % every, 0), penalized, plain)

    def train_step(self, data):
        """One step of ``fit()`` on TensorFlow: ``d_steps`` D updates, then one G update.

        The JAX and PyTorch steps (``jax_step.py``, ``torch_step.py``) take the same losses.
        """
        real, real_labels = self._split_batch(data)
        real = ops.cast(real, self.discriminator.compute_dtype)
        batch_size = ops.shape(real)[0]
        d_weights = self.discriminator.trainable_variables
        g_weights = self.generator.trainable_variables

        # 1. Train the discriminator: real images towards "real", G's images towards "fake".
        for _ in range(self.d_steps):
            z = self.sample_latent(batch_size)
            fake_labels = self.sample_fake_labels(real_labels, batch_size)
            fake = self._generate(z, fake_labels, training=True)
            with tf.GradientTape() as tape:
                d_loss, d_outputs = self.discriminator_loss(real, real_labels, fake, fake_labels)
            d_grads = tape.gradient(d_loss, d_weights)
            self.d_optimizer.apply_gradients(zip(d_grads, d_weights))

        # 2. Train the generator to make D call its images real (same noise and labels).
        with tf.GradientTape() as tape:
            g_loss, g_outputs = self.generator_loss(z, fake_labels)
        g_grads = tape.gradient(g_loss, g_weights)
        self.g_optimizer.apply_gradients(zip(g_grads, g_weights))

        # Option (off by default): the EMA generator follows the generator's new weights.
        if self.generator_average is not None:
            self.generator_average.update(self.g_optimizer.iterations)
        return self.record_step(d_outputs, g_outputs, batch_size)

    # On JAX and PyTorch fit() runs that backend's step (one per backend, as keras.io's guides).
    if backend.BACKEND == "jax":
        train_step = jax_step.train_step
    elif backend.BACKEND == "torch":
        train_step = torch_step.train_step

    def discriminator_loss(self, real, real_labels, fake, fake_labels):
        """D's loss to minimize, and ``(d_loss, r1, real_logits, fake_logits)`` for the logs.

        ``d_loss = BCE(D(real), 1 - label_smoothing) + BCE(D(fake), 0)``, plus R1 when on.
        """
        real_logits, r1 = self._real_logits(real, real_labels)
        fake_logits = self._discriminate(fake, fake_labels, training=True)
        d_loss = ops.mean(bce_logits(1.0 - self.label_smoothing, real_logits)
                          + bce_logits(0.0, fake_logits))
        scaled = self.d_optimizer.scale_loss((d_loss + r1) / backend.num_replicas())
        return scaled, (d_loss, r1, real_logits, fake_logits)

    def generator_loss(self, z, fake_labels):
        """G's loss to minimize, and ``(g_loss, after_logits, spread)`` for the logs.

        ``g_loss = BCE(D(G(z)), 1)``, the non-saturating loss, on the noise D just saw.
        """
        fake = self._generate(z, fake_labels, training=True)
        after_logits = self._discriminate(fake, fake_labels, training=True)
        g_loss = ops.mean(bce_logits(1.0, after_logits))
        total, spread = g_loss, ops.zeros(())
        if self.options.mode_seeking:  # Option (off by default): keep G(z) apart as z is apart.
            spread = mode_seeking_ratio(fake, z)
            total = g_loss + self.options.mode_seeking / (spread + MODE_SEEKING_EPS)
        scaled = self.g_optimizer.scale_loss(total / backend.num_replicas())
        return scaled, (g_loss, after_logits, spread)

    def record_step(self, d_outputs, g_outputs, batch_size):
        """Add one step's losses and D's outputs to the metrics; return their running means."""
        d_loss, r1, real_logits, fake_logits = d_outputs
        g_loss, after_logits, spread = g_outputs
        values = {"d_loss": d_loss, "g_loss": g_loss,
                  **discriminator_metrics(real_logits, fake_logits, after_logits)}
        if self.augmenter is not None:  # adaptive augmentation moves p from D's real logits
            values["ada_r_t"] = self.augmenter.observe(real_logits,
                                                       batch_size * backend.num_replicas())
            values["augment_p"] = self.augmenter.probability
        if self.options.r1_gamma:
            values["r1_penalty"] = r1
        if self.options.mode_seeking:
            values["mode_seeking_ratio"] = spread
        for name, value in values.items():
            self.trackers[name].update_state(value)
        return {name: tracker.result() for name, tracker in self.trackers.items()}

    def generate(self, n: int, seed: int | None = None, batch_size: int = 64, labels=None):
        """Return ``n`` generated images in [-1, 1] as a float32 numpy array.

        ``seed`` fixes the noise (``None``: fresh noise); the training random state is untouched.
        """
        if labels is not None:
            raise ValueError("labels are only accepted by ConditionalGAN.generate")
        return self.generate_from_latent(self._latent_for(n, seed), batch_size=batch_size)

    def _latent_for(self, n, seed):
        if int(n) < 1:
            raise ValueError(f"n must be a positive integer, got {n!r}")
        return latent_vectors(int(n), self.latent_dim, self.latent_distribution, seed)

    def generate_from_latent(self, z, labels=None, batch_size: int = 64):
        """Images in [-1, 1] (float32 numpy) for the latent vectors ``z``, in batches."""
        if int(batch_size) < 1:
            raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
        z = np.asarray(z, dtype="float32")
        if z.ndim != 2 or z.shape[1] != self.latent_dim:
            raise ValueError(f"z must have shape (n, {self.latent_dim}), got {z.shape}")
        return in_batches(lambda z_batch, label_batch: self._generate(
            ops.convert_to_tensor(z_batch), label_batch, training=False,
            generator=self.sampling_generator), z, labels, int(batch_size))


class ConditionalGAN(GAN):
    """GAN whose generator takes ``[z, label]`` and discriminator ``[image, label]``.

    Trains on ``(images, labels)`` batches. ``label_sampling`` draws the fake batch's labels:
    ``"uniform"``, ``"empirical"`` (from ``class_prior``) or ``"batch"`` (the real batch's).
    """

    def __init__(self, generator, discriminator, latent_dim: int, num_classes: int,
                 label_sampling: str = "uniform", class_prior=None,
                 latent_distribution: str = "normal", seed: int = 0, **kwargs):
        super().__init__(generator, discriminator, latent_dim, latent_distribution, seed,
                         **kwargs)
        if int(num_classes) < 2:
            raise ValueError(f"num_classes must be at least 2, got {num_classes!r}")
        if label_sampling not in LABEL_SAMPLINGS:
            raise ValueError(
                f"unknown label_sampling {label_sampling!r}; use one of {LABEL_SAMPLINGS}"
            )
        self.num_classes = int(num_classes)
        self.label_sampling = label_sampling
        self.class_prior = check_class_prior(class_prior, self.num_classes, label_sampling)

    def _split_batch(self, data):
        if not isinstance(data, (tuple, list)) or len(data) < 2:
            raise ValueError(
                "ConditionalGAN trains on (images, labels) batches; the dataset yielded a "
                "single tensor"
            )
        return data[0], ops.reshape(ops.cast(data[1], "int32"), (-1,))

    def sample_fake_labels(self, real_labels, batch_size):
        """``batch_size`` int32 labels for a fake batch, drawn by ``label_sampling``."""
        if self.label_sampling == "batch":
            return real_labels
        if self.label_sampling == "uniform":
            return keras.random.randint((batch_size,), 0, self.num_classes, dtype="int32",
                                        seed=self.seed_generator)
        logits = ops.log(ops.convert_to_tensor(self.class_prior))[None, :]
        draws = keras.random.categorical(logits, batch_size, dtype="int32",
                                         seed=self.seed_generator)
        return ops.reshape(draws, (-1,))

    def _generate(self, z, labels, training, generator=None):
        generator = generator or self.generator
        return generator([z, label_input(generator, labels)], training=training)

    def _call_discriminator(self, images, labels, training):
        return self.discriminator([images, label_input(self.discriminator, labels)],
                                  training=training)

    def generate(self, n: int, seed: int | None = None, batch_size: int = 64, labels=None):
        """Return ``n`` images for ``labels`` (an int for all, or ``n`` ints; default: cycle)."""
        z = self._latent_for(n, seed)
        if labels is None:
            labels = np.arange(len(z)) % self.num_classes
        return self.generate_from_latent(z, labels, batch_size)

    def generate_from_latent(self, z, labels=None, batch_size: int = 64):
        """Images in [-1, 1] for latent vectors ``z`` and ``labels`` (an int or one per row)."""
        if labels is None:
            raise ValueError("ConditionalGAN.generate_from_latent needs labels")
        labels = np.broadcast_to(np.asarray(labels, dtype="int32"), (len(z),)).copy()
        if labels.min() < 0 or labels.max() >= self.num_classes:
            raise ValueError(f"labels must be in [0, {self.num_classes}), got {np.unique(labels)}")
        return super().generate_from_latent(z, labels, batch_size)

