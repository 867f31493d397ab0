"""A strided transposed convolution as one stride-1 conv + depth-to-space, for the speed scripts.

``SubPixelConv2DTranspose`` has the same weights, outputs and gradients as
``keras.layers.Conv2DTranspose``; it measured 0.77x to 0.95x of its GAN-step speed on CPU
(docs/backends-and-speed.md), so the kit's generators keep ``Conv2DTranspose``.
:func:`with_sub_pixel_upsampling` gives a generator's copy that uses it, for
``gan_step.py --sub-pixel`` and ``layer_speed.py --sub-pixel``.
"""

from __future__ import annotations

import keras
import numpy as np
from keras import layers, ops

from cxr_keras.models.layers import _refuse_unsupported


def _phase_taps(kernel_size: int, stride: int):
    """Per-dimension plan of a "same" stride-``stride`` transposed conv as ``stride`` phases.

    Output row ``stride * m + a`` (phase ``a``) sums input rows ``m + offset`` times kernel row
    ``a + pad - stride * offset`` (``pad`` is the "same" padding of the matching forward conv).
    Returns ``(window, starts, taps)``: the stride-1 window that covers every phase, each
    phase's first input offset, and a ``(window, stride)`` array of kernel rows with
    ``kernel_size`` marking a zero tap.
    """
    pad = max(kernel_size - stride, 0) // 2
    offsets = [[(a + pad - t) // stride for t in range(kernel_size) if (a + pad - t) % stride == 0]
               for a in range(stride)]
    starts = [min(phase, default=0) for phase in offsets]  # a phase may have no tap (k < s)
    window = max(max(phase, default=start) - start + 1 for phase, start in zip(offsets, starts))
    taps = np.full((window, stride), kernel_size)
    for a, start in enumerate(starts):
        for u in range(window):
            t = a + pad - stride * (start + u)
            if 0 <= t < kernel_size:
                taps[u, a] = t
    return window, starts, taps


class SubPixelConv2DTranspose(layers.Conv2DTranspose):
    """A "same"-padded strided ``Conv2DTranspose`` computed as one stride-1 conv + depth-to-space.

    Each of the ``s * s`` output phases is an ordinary convolution with a subset of the kernel
    taps; the subsets are laid side by side as ``s * s * filters`` channels of one stride-1
    conv, interleaved back into the ``s``-times larger image. Same weights, outputs and
    gradients as ``keras.layers.Conv2DTranspose`` up to round-off (speed:
    docs/backends-and-speed.md). Only ``padding="same"``, ``dilation_rate=1``, no
    ``output_padding`` and ``channels_last``.
    """

    def __init__(self, filters, kernel_size, **kwargs):
        super().__init__(filters, kernel_size, **kwargs)
        _refuse_unsupported(
            {"padding": self.padding != "same", "dilation_rate": self.dilation_rate != (1, 1),
             "output_padding": self.output_padding is not None,
             "data_format": self.data_format != "channels_last"},
            "SubPixelConv2DTranspose supports only padding='same', dilation_rate=1, "
            "output_padding=None and channels_last", "keras.layers.Conv2DTranspose")
        self._plans = [_phase_taps(k, s) for k, s in zip(self.kernel_size, self.strides)]

    def call(self, inputs):
        outputs = self._transposed_conv(inputs)
        if self.use_bias:
            outputs = ops.add(outputs, self.bias)
        return outputs if self.activation is None else self.activation(outputs)

    def _phase_kernel(self):
        """The ``(window_h, window_w, C_in, s_h * s_w * filters)`` kernel of all phases."""
        (_, _, taps_h), (_, _, taps_w) = self._plans
        kernel = ops.pad(self.kernel, ((0, 1), (0, 1), (0, 0), (0, 0)))  # index k is a zero tap
        kernel = ops.take(kernel, taps_h, axis=0)  # (window_h, s_h, k_w + 1, F, C)
        kernel = ops.take(kernel, taps_w, axis=2)  # (window_h, s_h, window_w, s_w, F, C)
        window_h, s_h, window_w, s_w, filters, c_in = kernel.shape
        kernel = ops.transpose(kernel, (0, 2, 5, 1, 3, 4))
        return ops.reshape(kernel, (window_h, window_w, c_in, s_h * s_w * filters))

    def _transposed_conv(self, inputs):
        height, width = inputs.shape[1], inputs.shape[2]
        if height is None or width is None:
            raise ValueError("SubPixelConv2DTranspose needs a static image height and width")
        (window_h, starts_h, _), (window_w, starts_w, _) = self._plans
        s_h, s_w = self.strides
        # Pad so that every phase's window lies inside; phase a then starts at row start_a + top.
        top, left = max(0, -min(starts_h)), max(0, -min(starts_w))
        bottom = max(0, max(starts_h) + window_h - 1)
        right = max(0, max(starts_w) + window_w - 1)
        padded = ops.pad(inputs, ((0, 0), (top, bottom), (left, right), (0, 0)))
        phases = ops.conv(padded, self._phase_kernel(), strides=1, padding="valid")
        phases = ops.reshape(phases, (-1, *phases.shape[1:3], s_h, s_w, self.filters))
        rows_h = [start + top for start in starts_h]
        rows_w = [start + left for start in starts_w]
        if len(set(rows_h)) == 1 and len(set(rows_w)) == 1:
            phases = phases[:, rows_h[0] : rows_h[0] + height, rows_w[0] : rows_w[0] + width]
        else:  # each phase reads its own crop of the conv output
            phases = ops.stack([
                ops.stack([phases[:, i : i + height, j : j + width, a, b]
                           for b, j in enumerate(rows_w)], axis=3)
                for a, i in enumerate(rows_h)], axis=3)
        # Depth-to-space: (B, H, W, s_h, s_w, F) -> (B, H * s_h, W * s_w, F).
        phases = ops.transpose(phases, (0, 1, 3, 2, 4, 5))
        return ops.reshape(phases, (-1, height * s_h, width * s_w, self.filters))



def with_sub_pixel_upsampling(generator: keras.Model) -> keras.Model:
    """A copy of ``generator`` (same weights) whose ``Conv2DTranspose`` layers are
    :class:`SubPixelConv2DTranspose`."""
    def swap(layer):
        kind = SubPixelConv2DTranspose if type(layer) is layers.Conv2DTranspose else type(layer)
        return kind.from_config(layer.get_config())

    copy = keras.models.clone_model(generator, clone_function=swap)
    copy.set_weights(generator.get_weights())
    return copy
