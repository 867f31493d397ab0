"""Shared fixtures: the real-sample root (skip when absent), tiny synthetic image folders, and
the runner's environment variables restored after every test."""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from cxr_keras.paths import shared_data_root
from tools.pipeline.execution import EAGER_ENV


@pytest.fixture(autouse=True)
def restore_runner_environment(monkeypatch):
    """``pipeline.main`` sets ``$KERAS_BACKEND`` (``--backend``) and ``$CXR_KERAS_EAGER`` for the
    kernels it starts; put both back after each test, so that a ``--backend jax`` run cannot send
    the next test's kernel in the same worker to JAX."""
    for name in ("KERAS_BACKEND", EAGER_ENV):
        present = name in os.environ
        monkeypatch.setenv(name, os.environ.get(name, ""))  # recorded: teardown restores it
        if not present:
            monkeypatch.delenv(name)


@pytest.fixture(scope="session")
def data_root() -> Path:
    """Root of the real samples (../shared/data); skips the test when it is absent."""
    root = shared_data_root()
    if root is None or not Path(root).is_dir():
        pytest.skip("real samples not found (set CXR_KERAS_DATA or provide ../shared/data)")
    return Path(root)


@pytest.fixture
def tmp_image_folder(tmp_path):
    """Factory writing tiny random 8-bit grayscale PNGs.

    ``make({"train/NORMAL": 3, "test/NORMAL": ["IM-0001-0001.png"]}, size=16)`` writes 3
    images named ``img_000.png``... under ``train/NORMAL`` and one named file under
    ``test/NORMAL``; returns the root folder. Pixel values are seeded, so reruns are identical.
    """
    counter = iter(range(10**6))

    def make(spec: dict, size: int = 16, root: Path | None = None) -> Path:
        root = Path(root) if root is not None else tmp_path / f"images_{next(counter)}"
        rng = np.random.default_rng(len(spec))
        for folder, files in spec.items():
            names = [f"img_{i:03d}.png" for i in range(files)] if isinstance(files, int) else files
            (root / folder).mkdir(parents=True, exist_ok=True)
            for name in names:
                pixels = rng.integers(0, 256, size=(size, size), dtype=np.uint8)
                Image.fromarray(pixels).save(root / folder / name, format="PNG")
        return root

    return make
