"""GAN health: where a GAN's samples sit between "real images" and "one image repeated". Details:
docs/modules.md."""

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
