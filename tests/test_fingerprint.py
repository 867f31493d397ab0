import json

import numpy as np
import pytest

from cxr_keras.fingerprint import (
    STAMP_NAME,
    StaleArtefactError,
    array_digest,
    check_stamp,
    fingerprint,
    write_stamp,
)


def test_fingerprint_ignores_key_order_and_sees_every_value():
    assert fingerprint({"a": 1, "b": [1, 2]}) == fingerprint({"b": [1, 2], "a": 1})
    assert fingerprint({"a": 1}) != fingerprint({"a": 2})
    assert fingerprint({"a": 1}) != fingerprint({"a": 1, "b": None})


def test_array_digest_sees_values_shape_and_dtype():
    x = np.arange(12, dtype="float32")
    assert array_digest(x) == array_digest(x.copy())
    assert array_digest(x) != array_digest(x.reshape(3, 4))
    assert array_digest(x) != array_digest(x.astype("float64"))
    y = x.copy()
    y[5] += 1e-3
    assert array_digest(x) != array_digest(y)
    assert fingerprint({"x": x}) != fingerprint({"x": y})


def test_check_stamp_reuses_only_the_same_inputs(tmp_path):
    inputs = {"epochs": 3, "lr": 2e-4, "images": np.ones((2, 4))}
    assert check_stamp(tmp_path, inputs) is False  # nothing there yet
    write_stamp(tmp_path, inputs)
    assert check_stamp(tmp_path, dict(inputs)) is True
    with pytest.raises(StaleArtefactError, match=r"epochs: 3 -> 5") as caught:
        check_stamp(tmp_path, {**inputs, "epochs": 5}, "GAN checkpoints")
    assert str(tmp_path) in str(caught.value) and "GAN checkpoints" in str(caught.value)


def test_an_unreadable_stamp_is_named(tmp_path):
    (tmp_path / STAMP_NAME).write_text("{not json")
    with pytest.raises(StaleArtefactError, match=STAMP_NAME):
        check_stamp(tmp_path, {"a": 1})
    (tmp_path / STAMP_NAME).write_text(json.dumps([1, 2]))
    with pytest.raises(StaleArtefactError, match="not a fingerprint stamp"):
        check_stamp(tmp_path, {"a": 1})


def test_unfingerprintable_values_are_refused():
    with pytest.raises(TypeError, match="cannot fingerprint a object"):
        fingerprint({"a": object()})
