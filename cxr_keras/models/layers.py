"""Building blocks shared by the papers' networks.

Conventions used by every builder in :mod:`cxr_keras.models`:

* images are ``channels_last`` and scaled to [-1, 1]; generators end in ``tanh``;
* discriminators return one **logit** per image. The papers end their discriminators in a
  sigmoid; here it is folded into the loss (``from_logits=True``), which is numerically safer
  and gives identical probabilities through ``keras.ops.sigmoid``.
"""

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


class TapSumConv2D(layers.Conv2D):
    """A stride-1 ``Conv2D`` computed as one matmul plus a shift-and-add of its kernel taps.

    For a large kernel with few output filters (Ng & Gubbi's 16x16 conv from 128 channels to
    1), a direct convolution runs far below the CPU's peak because the output channel dimension
    is too small to vectorise. Here every pixel is first multiplied by the whole kernel at once
    (``(pixels, C_in) @ (C_in, kh*kw*filters)``, a large efficient matmul), giving one "tap map"
    per kernel position; the output is the sum of these maps shifted by the tap offsets,
    done as ``kw`` column shifts followed by ``kh`` row shifts (cheap element-wise adds).

    Same weights (``kernel`` of shape ``(kh, kw, C_in, filters)`` and ``bias``), same outputs and
    gradients as ``keras.layers.Conv2D`` up to float round-off, so weights are interchangeable.
    Only ``strides=1``, ``dilation_rate=1``, ``groups=1`` and ``channels_last`` are supported.
    """

    def __init__(self, filters, kernel_size, **kwargs):
        super().__init__(filters, kernel_size, **kwargs)
        unsupported = {
            "strides": self.strides != (1, 1),
            "dilation_rate": self.dilation_rate != (1, 1),
            "groups": self.groups != 1,
            "data_format": self.data_format != "channels_last",
        }
        bad = [name for name, is_bad in unsupported.items() if is_bad]
        if bad:
            raise ValueError(
                f"TapSumConv2D supports only strides=1, dilation_rate=1, groups=1 and "
                f"channels_last; got unsupported {', '.join(bad)}. Use keras.layers.Conv2D."
            )

    def convolution_op(self, inputs, kernel):
        kh, kw, c_in, filters = kernel.shape
        height, width = inputs.shape[1], inputs.shape[2]
        if height is None or width is None:
            raise ValueError("TapSumConv2D needs a static image height and width")
        (top, bottom), (left, right) = self._padding_amounts()
        out_h, out_w = height + top + bottom - kh + 1, width + left + right - kw + 1
        # One matmul: every pixel times every tap of the kernel.
        kernel_matrix = ops.reshape(ops.transpose(kernel, (2, 0, 1, 3)), (c_in, kh * kw * filters))
        taps = ops.matmul(inputs, kernel_matrix)
        taps = ops.reshape(taps, (-1, height, width, kh, kw, filters))
        # Shift-and-add: columns first (kw adds), then rows (kh adds) on the smaller sum.
        taps = ops.pad(taps, ((0, 0), (0, 0), (left, right), (0, 0), (0, 0), (0, 0)))
        rows = functools.reduce(ops.add, (taps[:, :, j : j + out_w, :, j] for j in range(kw)))
        rows = ops.pad(rows, ((0, 0), (top, bottom), (0, 0), (0, 0), (0, 0)))
        return functools.reduce(ops.add, (rows[:, i : i + out_h, :, i] for i in range(kh)))

    def _padding_amounts(self):
        kh, kw = self.kernel_size
        if self.padding == "valid":
            return (0, 0), (0, 0)
        return ((kh - 1) // 2, kh - 1 - (kh - 1) // 2), ((kw - 1) // 2, kw - 1 - (kw - 1) // 2)
