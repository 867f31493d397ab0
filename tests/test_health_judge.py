import numpy as np
import pandas as pd
import pytest

from cxr_keras.data.phantoms import render_batch
from cxr_keras.fingerprint import StaleArtefactError
from cxr_keras.health import GANSamples
from cxr_keras.health.judge import (
    FEATURE_MODEL,
    feature_classifier,
    health_embedders,
    mark_useless,
    measure_gan_health,
)
from cxr_keras.notebook import show_gan_health


def _images(findings, seed):
    """Phantoms at 32 px, halved to 16 px, in [-1, 1] with one channel."""
    images = render_batch(findings, size=32, seed=seed)
    images = images.reshape(len(images), 16, 2, 16, 2).mean(axis=(2, 4))
    return (images[..., None] * 2 - 1).astype("float32")


def test_feature_classifier_is_trained_once_and_guarded_by_its_inputs(tmp_path):
    x = np.concatenate([_images(["normal"] * 12, 0), _images(["cardiomegaly"] * 12, 1)])
    y = np.repeat([0, 1], 12)
    model = feature_classifier(x, y, tmp_path, epochs=1, batch_size=8)
    assert (tmp_path / FEATURE_MODEL).is_file()
    again = feature_classifier(x, y, tmp_path, epochs=1, batch_size=8)
    np.testing.assert_allclose(model.predict(x[:4], verbose=0), again.predict(x[:4], verbose=0), rtol=1e-6)
    with pytest.raises(StaleArtefactError, match="epochs: 1 -> 2"):
        feature_classifier(x, y, tmp_path, epochs=2, batch_size=8)


def test_health_of_a_collapsed_and_a_real_stand_in(tmp_path):
    train, holdout, other = (_images(["normal"] * 24, seed) for seed in (0, 1, 2))
    x = np.concatenate([train, _images(["effusion"] * 24, 3)])
    model = feature_classifier(x, np.repeat([0, 1], 24), tmp_path / "features", epochs=1, batch_size=8)
    samples = {"real stand-in": GANSamples(other, train, holdout),
               "collapsed": GANSamples(np.repeat(other[:1], 24, axis=0), train, holdout)}
    table = measure_gan_health(samples, health_embedders(model)[:1], tmp_path)
    assert (tmp_path / "gan_health.csv").is_file()
    verdicts = dict(zip(table["gan"], table["verdict"]))
    assert verdicts["collapsed"] == "mode-collapsed" and verdicts["real stand-in"] == "healthy"
    shown = show_gan_health(table).set_index("gan")
    assert len(shown.columns) <= 7  # 8 with the GAN's name
    assert shown.at["collapsed", "near-twins"] == 1.0 and shown.at["collapsed", "diversity"] < 0.1
    assert shown.at["real stand-in", "verdict"] == "healthy"


def test_a_recipe_whose_synthetic_images_teach_nothing_is_marked_no_utility(tmp_path):
    health = pd.DataFrame({"gan": ["paper", "kit"], "verdict": ["mode-collapsed", "healthy"],
                           "reason": ["diversity ratio below 0.6", "every check passed"]})
    rows = [("paper", "synthetic", "accuracy", 0.633, 0.627, 0.640), ("paper", "synthetic", "roc_auc", 0.40, 0.35, 0.45),
            ("kit", "synthetic", "accuracy", 0.70, 0.68, 0.71), ("kit", "synthetic", "roc_auc", 0.91, 0.88, 0.93)]
    rows += [(recipe, "real", metric, value, value - 0.03, value + 0.03)
             for recipe in ("paper", "kit") for metric, value in (("accuracy", 0.85), ("roc_auc", 0.91))]
    utility = pd.DataFrame(rows, columns=["recipe", "trained_on", "metric", "estimate", "ci_low", "ci_high"])
    # Accuracy 0.633 sits just above the majority rate 0.625; the AUC shows the paper recipe's
    # images teach nothing, and it keeps its first verdict with the reason added.
    marked = mark_useless(health, utility, {"paper": ["paper"], "kit": ["kit"]}, 0.625, tmp_path).set_index("gan")
    assert marked.at["paper", "verdict"] == "mode-collapsed"
    assert "teach a classifier nothing (roc_auc 0.400" in marked.at["paper", "reason"]
    assert marked.at["kit", "verdict"] == "healthy"
    weak = utility.assign(estimate=lambda f: f["estimate"].where(f["recipe"].ne("kit") | f["trained_on"].ne("synthetic"), 0.52),
                          ci_low=lambda f: f["ci_low"].where(f["recipe"].ne("kit") | f["trained_on"].ne("synthetic"), 0.45))
    marked = mark_useless(health, weak, {"kit": ["kit"]}, 0.625, tmp_path).set_index("gan")
    assert marked.at["kit", "verdict"] == "no-utility"
    assert pd.read_csv(tmp_path / "gan_health.csv").set_index("gan").at["kit", "verdict"] == "no-utility"
