"""What the GAN engine does differently on each Keras backend, besides the step itself. Details:
docs/modules.md."""

from __future__ import annotations

import contextlib

import keras
from keras import ops
from keras.src.backend.common.stateless_scope import get_stateless_scope

BACKEND = keras.backend.backend()
REPLICA_SEED_STRIDE = 7919
SUPPORTED = ("tensorflow", "jax", "torch")


def check_supported() -> None:
    """Raise unless the GAN engine can train on the active Keras backend."""
    if BACKEND not in SUPPORTED:
        raise NotImplementedError(
            f"the GAN engine trains on the {SUPPORTED} Keras backends, not {BACKEND!r}; set "
            "KERAS_BACKEND to one of them")


def num_replicas() -> int:
    """Replicas of the current ``tf.distribute`` strategy (1 without one, or off TensorFlow)."""
    if BACKEND != "tensorflow":
        return 1
    import tensorflow as tf

    return tf.distribute.get_strategy().num_replicas_in_sync


def replica_id():
    """This replica's index within its sync group (0 outside a replica, or off TensorFlow)."""
    if BACKEND != "tensorflow":
        return 0
    import tensorflow as tf

    context = tf.distribute.get_replica_context()
    return context.replica_id_in_sync_group if context is not None else 0


class ReplicaSeedGenerator(keras.random.SeedGenerator):
    """A ``SeedGenerator`` whose seeds are offset by the ``tf.distribute`` replica id, so that
    the replicas of one step draw different noise (the offset is 0 on a single device)."""

    def next(self, ordered=True):
        seed = super().next(ordered)
        offset = REPLICA_SEED_STRIDE * replica_id()
        return seed + ops.cast(ops.stack([0, offset]), seed.dtype)


def data_parallel(devices=None):
    """A ``keras.distribution.DataParallel`` over ``devices`` (default: every device JAX sees), for
    ``keras.distribution.set_distribution`` before the GAN is built. JAX only; each process
    feeds its own slice of every batch, so tf.data auto-sharding is off. Details: docs/modules.md.
    """
    if BACKEND != "jax":
        raise NotImplementedError(
            f"keras.distribution data parallelism is the JAX backend's, not {BACKEND!r}'s; on "
            "TensorFlow build the GAN under tf.distribute.MirroredStrategy and pass strategy=")
    distribution = keras.distribution.DataParallel(devices=devices or keras.distribution.list_devices())
    if process_shard()[1] > 1:
        distribution.auto_shard_dataset = False
    return distribution


def process_shard() -> tuple[int, int]:
    """(this process's index, the number of processes) of a multi-process JAX run; (0, 1)
    otherwise."""
    if BACKEND != "jax":
        return 0, 1
    import jax

    return jax.process_index(), jax.process_count()


def strategy_scope(model):
    """``model.distribute_strategy.scope()`` under TensorFlow; nothing to enter elsewhere."""
    if BACKEND == "tensorflow":
        return model.distribute_strategy.scope()
    return contextlib.nullcontext()


# ----- running a function in a copy of the current stateless scope (JAX) ---------------------
def _scope_values():
    scope = get_stateless_scope()
    if scope is None:
        raise RuntimeError("the JAX GAN step runs inside jax_step.train_step's StatelessScope")
    return scope


def run_in_scope_copy(function, variables=(), values=()):
    """``function()`` in a copy of the current scope with ``variables`` set to ``values``;
    return its result and the copy's values by variable id, ``variables`` left out."""
    outer = _scope_values()
    inner = keras.StatelessScope()
    replaced = {id(variable): value for variable, value in zip(variables, values)}
    inner.state_mapping = {**outer.state_mapping, **replaced}
    with inner:
        result = function()
    return result, {key: value for key, value in inner.state_mapping.items()
                    if key not in replaced}


def merge_scope_updates(values) -> None:
    """Write ``values`` (by variable id, from :func:`run_in_scope_copy`) into the current scope."""
    _scope_values().state_mapping.update(values)


# ----- the backend-specific operations inside the losses (R1's lazy branch and gradient) ------
def input_gradient(function, inputs):
    """``(function(inputs), d sum(function(inputs)) / d inputs)``, the sum taken in float32;
    differentiable again."""
    if BACKEND == "tensorflow":
        import tensorflow as tf

        with tf.GradientTape() as tape:
            tape.watch(inputs)
            outputs = function(inputs)
            total = ops.sum(ops.cast(outputs, "float32"))
        return outputs, tape.gradient(total, inputs)
    check_supported()
    if BACKEND == "torch":
        import torch

        inputs = inputs if inputs.requires_grad else inputs.detach().requires_grad_(True)
        outputs = function(inputs)
        total = ops.sum(ops.cast(outputs, "float32"))
        return outputs, torch.autograd.grad(total, inputs, create_graph=True)[0]
    import jax

    if get_stateless_scope() is None:  # outside a train step: ``function`` is a plain call
        def plain_total_of(x):
            outputs = function(x)
            return ops.sum(ops.cast(outputs, "float32")), outputs

        grads, outputs = jax.grad(plain_total_of, has_aux=True)(inputs)
        return outputs, grads

    def total_of(x):
        outputs, updates = run_in_scope_copy(lambda: function(x))
        return ops.sum(ops.cast(outputs, "float32")), (outputs, updates)

    grads, (outputs, updates) = jax.grad(total_of, has_aux=True)(inputs)
    merge_scope_updates(updates)
    return outputs, grads


def cond(predicate, true_fn, false_fn):
    """``ops.cond`` whose branches may update variables (BatchNorm statistics, seeds)."""
    if BACKEND in ("tensorflow", "torch"):
        return ops.cond(predicate, true_fn, false_fn)
    check_supported()
    import jax

    result, updates = jax.lax.cond(predicate, lambda: run_in_scope_copy(true_fn),
                                   lambda: run_in_scope_copy(false_fn))
    merge_scope_updates(updates)
    return result

