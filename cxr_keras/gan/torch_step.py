"""The GAN's ``train_step`` on PyTorch, as in keras.io's "Customizing what happens in fit() with
PyTorch": the step runs eagerly, ``torch.autograd.grad`` stands for TensorFlow's tape and each
optimizer applies its gradients with ``optimizer.apply``. The losses are the GAN's own, so the
numbers are TensorFlow's.
"""

from __future__ import annotations

import torch

from cxr_keras.gan.steps import train_with_gradients


def gradients(loss_fn, variables):
    """``loss_fn() -> (loss, outputs)``: return ``(d loss / d variables, outputs)``."""
    loss, outputs = loss_fn()
    return torch.autograd.grad(loss, [variable.value for variable in variables]), outputs


def train_step(self, data):
    """``d_steps`` D updates, then one G update on the last D step's noise and labels."""
    return train_with_gradients(self, data, gradients)
