"""GAN health on constructed cases from the real Kermany sample (issue 35): held-out real
images pass; the wrong class, the wrong domain, blurred images, a partly collapsed set and
noise each fail with their reason. 64 px, as the cpu profile's health check."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
import pytest

from cxr_keras.data.phantom_dataset import PhantomDataset
from cxr_keras.health import (
    GANSamples,
    feature_classifier,
    gan_health,
    judge_report,
    pixel_embedder,
)
from cxr_keras.health.fidelity import constructed_failures
from cxr_keras.health.measure import classifier_embedder
from cxr_keras.reproductions import kora_venu as paper

SIZE = 64
N = 96


@pytest.fixture(scope="module")
def kermany(data_root, tmp_path_factory):
    dataset = paper.load_dataset(str(data_root), None, SIZE, 600, seed=0)
    x_train, y_train = dataset.to_numpy("train", image_size=SIZE, channels=1)
    x_test, y_test = dataset.to_numpy("test", image_size=SIZE, channels=1)
    judge = feature_classifier(x_train, y_train, tmp_path_factory.mktemp("judge"), epochs=4)
    return dataset.classes, (x_train, y_train), (x_test, y_test), judge


def test_the_judge_is_reported_and_sorts_held_out_real_images_above_chance(kermany):
    classes, _, (x_test, y_test), judge = kermany
    report = judge_report(judge, x_test, y_test, classes, n_boot=200).set_index(["class", "metric"])
    balanced = report.loc[("all", "balanced_accuracy")]
    assert balanced["ci_low"] > 0.55 and balanced["n"] == len(y_test)
    assert set(report.index.get_level_values("class")) == {*classes, "all"}


def test_real_images_pass_and_every_constructed_failure_fails_with_its_reason(kermany):
    _, (x_train, y_train), (x_test, y_test), judge = kermany
    normal = x_train[y_train == 0]
    order = np.random.default_rng(0).permutation(len(normal))
    gan_train, offered = normal[order[:N]], normal[order[N:2 * N]]
    phantoms = PhantomDataset({"normal": N}, size=SIZE, seed=0, splits={"train": 1.0})
    cases = {"real": offered, **constructed_failures(
        offered, x_train[y_train == 1], phantoms.to_numpy("train", image_size=SIZE, channels=1)[0])}
    holdout = x_test[y_test == 0][:N]
    gans = {case: GANSamples(images, gan_train, holdout, label=0) for case, images in cases.items()}
    health = gan_health(gans, [pixel_embedder, classifier_embedder(judge)], kid_subsets=10,
                        judge=lambda images: judge.predict(images, verbose=0)).set_index("gan")
    verdicts = health["verdict"].to_dict()
    assert verdicts["real"] == "healthy", health.at["real", "reason"]
    judged, probed, twins = "the judge assigns", "a probe tells samples", "have a near-twin"
    expected = {"wrong class": judged, "wrong domain": probed, "blurred": probed,
                "partly collapsed": twins, "noise": probed}
    for case, reason in expected.items():
        assert verdicts[case] != "healthy", case
        assert reason in health.at[case, "reason"], (case, health.at[case, "reason"])
