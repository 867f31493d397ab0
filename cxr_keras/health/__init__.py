"""GAN health: where a GAN's samples sit between "real images" and "one image repeated".

``measure``: embedders, the two references and :func:`gan_health` (one row per GAN);
``fidelity``: probe, class agreement and near duplicates; ``verdict``: the rules and thresholds
(docs/verdicts.md); ``judge``: the kit's chest X-ray feature classifier and
:func:`measure_gan_health`. Builds on :mod:`cxr_keras.metrics`; the reproductions build on it.
"""

from cxr_keras.health.judge import (
    feature_classifier,
    health_embedders,
    judge_report,
    mark_useless,
    measure_gan_health,
)
from cxr_keras.health.measure import (
    GANSamples,
    classifier_embedder,
    collapsed_images,
    gan_health,
    inception_embedder,
    pixel_embedder,
    reference_points,
    remembering,
)

__all__ = ["GANSamples", "classifier_embedder", "collapsed_images", "feature_classifier",
           "gan_health", "health_embedders", "inception_embedder", "judge_report", "mark_useless",
           "measure_gan_health", "pixel_embedder", "reference_points", "remembering"]
