"""Where the real chest X-ray samples live ($CXR_KERAS_DATA, else ../shared/data beside the repo),
and how the kit's messages show a path."""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
CACHE_DIR = Path(os.environ.get("CXR_KERAS_CACHE", REPO_ROOT / ".cache"))

# Folder names inside the data root, as laid out in ../shared/data.
KERMANY_DIR = "kermany_chest_xray"
PNEUMONIAMNIST_FILE = "pneumoniamnist/pneumoniamnist.npz"
COVID_DIR = "covid_chestxray"
NIH_DIR = "nih_cxr14_nih1000"


def shared_data_root() -> Path | None:
    """Return the root of the real-data samples, or None when none is present.

    The environment variable CXR_KERAS_DATA wins; otherwise ``../shared/data`` beside the
    repository is used when it exists.
    """
    env = os.environ.get("CXR_KERAS_DATA")
    if env:
        return Path(env)
    candidate = REPO_ROOT.parent / "shared" / "data"
    return candidate if candidate.is_dir() else None


def display_path(path: str | os.PathLike, base: str | os.PathLike | None = None) -> str:
    """``path`` as the kit's messages show it: relative to ``base`` (default: the working
    directory) when inside it or beside it (``results/kermany/...``, ``../shared/data/...``,
    not the run machine's ``/work/...``), else as given."""
    here, resolved = Path(base or Path.cwd()).resolve(), Path(path).resolve()
    for root, prefix in ((here, ""), (here.parent, "../")):
        if root != root.parent and resolved.is_relative_to(root):
            return prefix + str(resolved.relative_to(root))
    return str(path)
