"""The GAN's ``train_step`` on JAX: a pure function of the trainer's state, as in keras.io's
"Customizing what happens in fit() with JAX". Details: docs/modules.md."""

from __future__ import annotations

import jax
import keras

from cxr_keras.gan.backend import merge_scope_updates, run_in_scope_copy
from cxr_keras.gan.steps import train_with_gradients


def gradients(loss_fn, variables):
    """``loss_fn() -> (loss, outputs)``: return ``(d loss / d variables, outputs)``.

    ``loss_fn`` runs in a copy of the step's scope; what it changes besides ``variables``
    (BatchNorm statistics, seeds) is merged back, so no traced value leaks out of ``jax.grad``.
    """
    def loss_of(values):
        (loss, outputs), updates = run_in_scope_copy(loss_fn, variables, values)
        return loss, (outputs, updates)

    grads, (outputs, updates) = jax.grad(loss_of, has_aux=True)([v.value for v in variables])
    merge_scope_updates(updates)
    return grads, outputs


def train_step(self, state, data):
    """The JAX trainer's ``train_step(state, data) -> (logs, new state)``.

    ``state`` holds the values of ``trainable_variables``, ``non_trainable_variables`` (which
    the GAN makes hold both optimizers', the EMA's and the augmentation's variables),
    ``optimizer.variables`` (Keras' unused default optimizer: passed through) and
    ``metrics_variables``; the new values come back in the same order.
    """
    trainable, non_trainable, optimizer_values, metric_values = state
    groups = (self.trainable_variables, self.non_trainable_variables, self.metrics_variables)
    mapping = [pair for variables, values in zip(groups, (trainable, non_trainable, metric_values))
               for pair in zip(variables, values)]
    with keras.StatelessScope(state_mapping=mapping) as scope:
        logs = train_with_gradients(self, data, gradients)
    new = [[scope.get_current_value(v) for v in variables] for variables in groups]
    return logs, (new[0], new[1], optimizer_values, new[2])

