"""Progress bars that suit where the code runs: widgets interactively, plain text under the runner.

The runner (``python -m cxr_keras.pipeline``) sets ``CXR_KERAS_PLAIN_PROGRESS=1`` in the
kernel's environment, so executed notebooks hold text lines rather than widget output that
renders as ``0%| | 0/308`` outside Jupyter; an interactive session keeps notebook widgets.
"""

from __future__ import annotations

import os

PLAIN_PROGRESS_ENV = "CXR_KERAS_PLAIN_PROGRESS"
# Seconds between plain-text updates, so a long loop leaves a few lines, not thousands.
PLAIN_MININTERVAL = 10.0


def plain_progress() -> bool:
    """True when ``CXR_KERAS_PLAIN_PROGRESS`` asks for text bars (set by the runner)."""
    return os.environ.get(PLAIN_PROGRESS_ENV, "").strip().lower() in ("1", "true", "yes")


def progress_bar(*args, **kwargs):
    """A ``tqdm`` bar: plain text under the runner, ``tqdm.auto`` (widgets in Jupyter) otherwise.

    Takes tqdm's arguments; under the runner ``mininterval`` defaults to
    ``PLAIN_MININTERVAL`` seconds.
    """
    if plain_progress():
        from tqdm.std import tqdm

        kwargs.setdefault("mininterval", PLAIN_MININTERVAL)
        return tqdm(*args, **kwargs)
    from tqdm.auto import tqdm

    return tqdm(*args, **kwargs)
