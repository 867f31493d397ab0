"""What every dataset table shares: its core columns, split names and the loaders' error type.

A leaf module (nothing from :mod:`cxr_keras.data` imported here), so that ``base``,
``images`` and ``splits`` can all import it without importing each other in a cycle.
"""

from __future__ import annotations

import os

CORE_COLUMNS = ("path", "label", "split", "patient_id")
SPLITS = ("train", "val", "test")
ON_ERROR = ("raise", "skip")


class DatasetError(ValueError):
    """Bad dataset input; the message names the file or folder and says what to do."""


def printable_path(path: str | os.PathLike) -> str:
    """``path`` as UTF-8 text, with the bytes of a name that is not UTF-8 escaped
    (``bad\\xff.png``): such a name cannot be printed or written to a CSV as it is."""
    return os.fsencode(path).decode("utf-8", "backslashreplace")
