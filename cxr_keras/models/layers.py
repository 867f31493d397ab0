"""Building blocks shared by the papers' networks. Details: docs/modules.md."""

from __future__ import annotations

import functools
import math

import keras
from keras import layers, ops

LEAKY_SLOPE = 0.2


def dcgan_initializer(seed: int | None = None) -> keras.initializers.Initializer:
    """N(0, 0.02) weights, the DCGAN reference initialisation."""
    return keras.initializers.RandomNormal(mean=0.0, stddev=0.02, seed=seed)


def dcgan_gamma_initializer(seed: int | None = None) -> keras.initializers.Initializer:
    """N(1, 0.02) BatchNorm scales, as in the DCGAN reference code."""
    return keras.initializers.RandomNormal(mean=1.0, stddev=0.02, seed=seed)


def dcgan_batch_norm(name: str | None = None) -> layers.BatchNormalization:
    """BatchNorm with DCGAN-style initialisation (PyTorch's momentum 0.1 and eps 1e-5)."""
    return layers.BatchNormalization(
        momentum=0.9, epsilon=1e-5, gamma_initializer=dcgan_gamma_initializer(), name=name
    )


def check_image_size(image_size: int, multiple_of: int, builder: str) -> int:
    """Return ``image_size`` if it is a positive multiple of ``multiple_of``, else raise."""
    if not isinstance(image_size, int) or image_size <= 0 or image_size % multiple_of:
        raise ValueError(
            f"{builder}: image_size must be a positive multiple of {multiple_of}, "
            f"got {image_size!r}; resize the images (e.g. to {max(multiple_of, 64)}) first"
        )
    return image_size


def power_of_two_steps(image_size: int, start_size: int, builder: str) -> int:
    """Number of stride-2 steps between ``start_size`` and ``image_size`` (a power-of-two ratio)."""
    steps = math.log2(image_size / start_size) if image_size > 0 else -1
    if steps < 1 or not steps.is_integer():
        raise ValueError(
            f"{builder}: image_size must be {start_size} times a power of two "
            f"(e.g. 32, 64, 128, 256), got {image_size!r}"
        )
    return int(steps)


def with_spectral_norm(model: keras.Model, power_iterations: int = 1) -> keras.Model:
    """A copy of ``model`` whose Conv2D and Dense layers are wrapped in SpectralNormalization.

    The copy starts from ``model``'s weights. Each training-mode call runs
    ``power_iterations`` power iterations and rescales the kernels to spectral norm about 1.
    """
    def wrap(layer):
        clone = layer.__class__.from_config(layer.get_config())
        if isinstance(layer, (layers.Conv2D, layers.Dense)):
            return layers.SpectralNormalization(clone, power_iterations=power_iterations,
                                                name=f"{layer.name}_sn")
        return clone

    wrapped = keras.models.clone_model(model, clone_function=wrap)
    for source, target in zip(model.layers, wrapped.layers):
        inner = getattr(target, "layer", target)
        inner.set_weights(source.get_weights())
    return wrapped


@keras.saving.register_keras_serializable(package="cxr_keras")
class MinibatchStdDev(layers.Layer):
    """Progressive GAN's minibatch standard deviation (Karras et al., 2018), one group.

    Appends one channel (or feature) holding the mean over features of each feature's standard
    deviation across the batch, the same value for every image. A collapsed generator's batch
    has a small value there, so D can tell it from a real batch and G is pushed to vary.
    """

    def call(self, inputs):
        values = ops.cast(inputs, "float32")
        spread = ops.mean(ops.sqrt(ops.var(values, axis=0) + 1e-8))
        column = ops.ones_like(values[..., :1]) * spread
        return ops.concatenate([inputs, ops.cast(column, inputs.dtype)], axis=-1)

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], input_shape[-1] + 1)


def with_minibatch_std(model: keras.Model) -> keras.Model:
    """A copy of the Sequential ``model`` with :class:`MinibatchStdDev` before its last
    Conv2D or Dense layer.

    Every other layer keeps ``model``'s weights; that last layer, which now takes one more
    input channel, is built afresh from its configuration (its initializer).
    """
    if not isinstance(model, keras.Sequential):
        raise TypeError(
            f"minibatch_std needs a Sequential discriminator; {model.name!r} is a "
            f"{type(model).__name__} (the conditional discriminators take two inputs)")
    last = max((index for index, layer in enumerate(model.layers)
                if isinstance(layer, (layers.Conv2D, layers.Dense))), default=None)
    if last is None:
        raise ValueError(f"{model.name!r} has no Conv2D or Dense layer to put minibatch_std before")
    copy = keras.Sequential(name=f"{model.name}_mbstd")
    copy.add(keras.Input(model.input_shape[1:], name="image"))
    for index, layer in enumerate(model.layers):
        if index == last:
            copy.add(MinibatchStdDev(name="minibatch_std"))
        copy.add(layer.__class__.from_config(layer.get_config()))
    for index, (source, target) in enumerate(zip(model.layers, copy.layers[:last] + copy.layers[last + 1:])):
        if index != last:
            target.set_weights(source.get_weights())
    return copy


def _refuse_unsupported(unsupported: dict, supported: str, alternative: str) -> None:
    """Raise naming every option of ``unsupported`` ({name: is it set?}) that is set."""
    bad = [name for name, is_bad in unsupported.items() if is_bad]
    if bad:
        raise ValueError(f"{supported}; got unsupported {', '.join(bad)}. Use {alternative}.")


TAP_BLOCK_CHANNELS = 16  # output channels of TapSumConv2D's block convolution (see below)


def tap_block_shape(kernel_size: tuple[int, int], filters: int) -> tuple[int, int]:
    """The ``(rows, cols)`` of kernel-tap blocks that :class:`TapSumConv2D` convolves at once:
    blocks that tile the kernel with blocks x ``filters`` nearest to ``TAP_BLOCK_CHANNELS`` (log
    scale), the squarest among equals, rows <= cols (timings: docs/backends-and-speed.md)."""
    kh, kw = kernel_size

    def cost(block):
        rows, cols = block
        channels = (kh // rows) * (kw // cols) * filters
        return abs(math.log(channels / TAP_BLOCK_CHANNELS)), abs(math.log(cols / rows)), cols < rows

    return min(tap_block_shapes(kernel_size), key=cost)


def tap_block_shapes(kernel_size: tuple[int, int]) -> list[tuple[int, int]]:
    """Every ``(rows, cols)`` block that tiles a ``kernel_size`` kernel."""
    kh, kw = kernel_size
    return [(rows, cols) for rows in range(1, kh + 1) if kh % rows == 0
            for cols in range(1, kw + 1) if kw % cols == 0]


class TapSumConv2D(layers.Conv2D):
    """A stride-1 ``Conv2D`` computed as a small convolution into many channels plus a shift-and-add
    (same weights, outputs and gradients up to round-off; faster on CPU for a large kernel with
    few filters). ``block_shape``: the tap blocks (default :func:`tap_block_shape`). Only
    ``strides=1``, ``dilation_rate=1``, ``groups=1`` and ``channels_last``; docs/modules.md.
    """

    def __init__(self, filters, kernel_size, block_shape=None, **kwargs):
        super().__init__(filters, kernel_size, **kwargs)
        _refuse_unsupported(
            {"strides": self.strides != (1, 1), "dilation_rate": self.dilation_rate != (1, 1),
             "groups": self.groups != 1, "data_format": self.data_format != "channels_last"},
            "TapSumConv2D supports only strides=1, dilation_rate=1, groups=1 and channels_last",
            "keras.layers.Conv2D")
        if block_shape is not None:
            block_shape = tuple(int(size) for size in block_shape)
            if len(block_shape) != 2 or min(block_shape) < 1 or any(
                    size % block for size, block in zip(self.kernel_size, block_shape)):
                raise ValueError(
                    f"block_shape={block_shape!r}: give two positive divisors of kernel_size "
                    f"{self.kernel_size}, or None to let tap_block_shape choose")
        self.block_shape = block_shape

    def get_config(self):
        return {**super().get_config(), "block_shape": self.block_shape}

    def convolution_op(self, inputs, kernel):
        kh, kw, c_in, filters = kernel.shape
        height, width = inputs.shape[1], inputs.shape[2]
        if height is None or width is None:
            raise ValueError("TapSumConv2D needs a static image height and width")
        rows, cols = self.block_shape or tap_block_shape((kh, kw), filters)
        block_rows, block_cols = kh // rows, kw // cols
        (top, bottom), (left, right) = self._padding_amounts()
        out_h, out_w = height + top + bottom - kh + 1, width + left + right - kw + 1
        # Kernel tap (i*rows + u, j*cols + v) -> block kernel tap (u, v), channel (i, j, filter).
        blocks = ops.reshape(kernel, (block_rows, rows, block_cols, cols, c_in, filters))
        blocks = ops.reshape(ops.transpose(blocks, (1, 3, 4, 0, 2, 5)),
                             (rows, cols, c_in, block_rows * block_cols * filters))
        padded = ops.pad(inputs, ((0, 0), (top, bottom), (left, right), (0, 0)))
        maps = ops.conv(padded, blocks, strides=1, padding="valid")
        maps = ops.reshape(maps, (-1, maps.shape[1], maps.shape[2], block_rows, block_cols, filters))
        # Shift-and-add: block columns first, then block rows on the smaller sum.
        summed = functools.reduce(
            ops.add, (maps[:, :, j * cols : j * cols + out_w, :, j] for j in range(block_cols)))
        return functools.reduce(
            ops.add, (summed[:, i * rows : i * rows + out_h, :, i] for i in range(block_rows)))

    def _padding_amounts(self):
        kh, kw = self.kernel_size
        if self.padding == "valid":
            return (0, 0), (0, 0)
        return ((kh - 1) // 2, kh - 1 - (kh - 1) // 2), ((kw - 1) // 2, kw - 1 - (kw - 1) // 2)
