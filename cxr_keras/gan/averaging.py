"""An exponential moving average of the generator's weights, used for every sample drawn.

Averaging the generator over training steps (Karras et al., 2018; Yazici et al., 2019)
smooths out the oscillation of adversarial training; samples, sample grids, FID and
synthetic training sets are then drawn from the average rather than the last step.
"""

from __future__ import annotations

import keras
from keras import ops


class GeneratorAverage:
    """A clone of ``generator`` whose trainable weights track an exponential moving average of its
    weights (decay ramped up over ``warmup_steps``); non-trainable ones are copied. Formula:
    docs/modules.md.
    """

    def __init__(self, generator: keras.Model, decay: float, warmup_steps: int = 0):
        try:
            self.model = keras.models.clone_model(generator)
        except ValueError as error:
            raise ValueError(
                f"ema_decay needs a functional or Sequential generator that keras.models."
                f"clone_model can copy; {generator.name!r} cannot be cloned ({error})"
            ) from error
        self.model.set_weights(generator.get_weights())
        self.model.trainable = False
        self.generator = generator
        self.decay, self.warmup_steps = float(decay), int(warmup_steps)
        trainable = {id(weight) for weight in generator.trainable_weights}
        self._averaged = [id(weight) in trainable for weight in generator.weights]

    def update(self, step) -> None:
        """Move the average towards the generator's current weights after update ``step``."""
        decay = ops.convert_to_tensor(self.decay, "float32")
        if self.warmup_steps:
            ramp = ops.cast(step, "float32") / float(self.warmup_steps)
            decay = decay * ops.minimum(ramp, 1.0)
        for average, weight, averaged in zip(self.model.weights, self.generator.weights,
                                             self._averaged):
            if averaged:
                mixed = decay * ops.cast(average, "float32") + (1.0 - decay) * ops.cast(
                    weight, "float32")
                average.assign(ops.cast(mixed, average.dtype))
            else:
                average.assign(weight)

    def state(self) -> dict:
        """The averaged weights by checkpoint key (``ema_generator/NNNN``)."""
        return {f"ema_generator/{i:04d}": weight for i, weight in enumerate(self.model.weights)}
