"""benchmarks/layer_speed.py: which layers it times alone, and how it sums them into the step."""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
layer_speed = pytest.importorskip("layer_speed")


def test_the_summary_weights_layers_as_the_step_runs_them_and_projects_the_probe_rate():
    probe = 100.0  # GFLOP/s
    # G: one 8-GFLOP conv at half the probe's rate; D: one 6-GFLOP conv at the probe's rate
    # and a LeakyReLU without FLOPs. Weighted: G 4/3, D 3 (gan_step.py's FLOP model).
    rows = [("generator", "up", "Conv2DTranspose", 8e9, 0.16),
            ("discriminator", "down", "Conv2D", 6e9, 0.06),
            ("discriminator", "act", "LeakyReLU", 0.0, 0.01)]
    step_flops = 8e9 * 4 / 3 + 6e9 * 3
    layer_seconds = 0.16 * 4 / 3 + 0.06 * 3 + 0.01 * 3
    step_seconds = layer_seconds + 0.05  # 0.05 s of optimizer and overhead
    lines = layer_speed.summarize(rows, step_seconds, step_flops, probe)
    assert f"{100 * layer_seconds / step_seconds:.0f}% of the step" in lines[0]
    by_kind = {line.split()[1]: line for line in lines[1:-1]}
    assert "50% of conv" in by_kind["Conv2DTranspose"]
    assert "100% of conv" in by_kind["Conv2D"]
    assert "no FLOPs" in by_kind["LeakyReLU"]
    ideal = step_flops / 1e9 / probe
    best = step_flops / 1e9 / probe / (ideal + 0.03 + 0.05)
    assert lines[-1].endswith(f"would reach {100 * best:.0f}% of conv (target 70%)")


def test_only_single_float_input_layers_are_timed_and_their_step_runs():
    from cxr_keras.models import build_gan_pair

    generator, discriminator = build_gan_pair("ng_gubbi_cgan", 32, 1)
    for model in (generator, discriminator):
        names = [layer.name for layer in layer_speed.timed_layers(model)]
        kinds = {type(layer).__name__ for layer in layer_speed.timed_layers(model)}
        assert not kinds & {"InputLayer", "Embedding", "Concatenate"}, names
    assert "down_0" in [layer.name for layer in layer_speed.timed_layers(discriminator)]
    layer = next(layer for layer in generator.layers if layer.name == "up_0")
    gradients = layer_speed.layer_step(layer, 2)()
    assert [g.shape for g in gradients] == [(2, *layer.input.shape[1:]),
                                            *(tuple(w.shape) for w in layer.trainable_weights)]
    assert all(abs(g).sum() > 0 for g in gradients)


def test_every_tap_block_copy_keeps_the_weights_and_the_outputs():
    import numpy as np
    from keras import ops

    from cxr_keras.models import build_gan_pair

    generator, _ = build_gan_pair("ng_gubbi", 32, 1)
    layer = generator.get_layer("image")
    copies = layer_speed.tap_block_layers(layer)
    assert len(copies) == 25  # 5 divisors of 16 for rows, 5 for cols
    # inputs in [-1, 1] as Ng & Gubbi's activations; sums of 32,768 float32 products in other
    # orders differ by about 1e-5 (measured up to 1.02e-5 with normal inputs)
    x = np.random.default_rng(0).uniform(-1, 1, (2, *layer.input.shape[1:])).astype("float32")
    expected = ops.convert_to_numpy(layer(x))
    for block, copy in copies.items():
        assert copy.block_shape == block
        np.testing.assert_allclose(ops.convert_to_numpy(copy(x)), expected, atol=5e-5)
