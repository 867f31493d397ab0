"""What every dataset table shares: its core columns, split names and the loaders' error type.

A leaf module (nothing from :mod:`cxr_keras.data` imported here), so that ``base``,
``images`` and ``splits`` can all import it without importing each other in a cycle.
"""

from __future__ import annotations

CORE_COLUMNS = ("path", "label", "split", "patient_id")
SPLITS = ("train", "val", "test")
ON_ERROR = ("raise", "skip")


class DatasetError(ValueError):
    """Bad dataset input; the message names the file or folder and says what to do."""
