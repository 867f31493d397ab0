"""Atomic file writing: a result file is either complete or absent, never half-written."""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside `path`; move it into place only if the block succeeds."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=path.suffix, dir=path.parent)
    os.close(fd)
    tmp = Path(tmp)
    try:
        yield tmp
        os.chmod(tmp, 0o666 & ~_current_umask())
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def write_text(path: str | os.PathLike, text: str) -> Path:
    """Write `text` to `path` atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(text)
    return Path(path)


def write_json(path: str | os.PathLike, obj: Any) -> Path:
    """Write `obj` as indented JSON atomically (numpy scalars and arrays become plain lists)."""
    return write_text(path, json.dumps(obj, indent=2, default=_to_builtin) + "\n")


def write_csv(path: str | os.PathLike, frame, **kwargs) -> Path:
    """Write a pandas DataFrame as CSV atomically (index off unless asked for)."""
    kwargs.setdefault("index", False)
    with atomic_path(path) as tmp:
        frame.to_csv(tmp, **kwargs)
    return Path(path)


def save_figure(path: str | os.PathLike, figure, dpi: int = 110) -> Path:
    """Save a matplotlib figure atomically."""
    with atomic_path(path) as tmp:
        figure.savefig(tmp, dpi=dpi, bbox_inches="tight", format=Path(path).suffix.lstrip(".") or "png")
    return Path(path)


def _current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _to_builtin(value: Any) -> Any:
    import numpy as np

    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"cannot write {type(value).__name__} as JSON")


class DamagedFileError(ValueError):
    """A file a run wrote earlier and reads back is unreadable, truncated or incomplete."""


def read_back_csv(path: str | os.PathLike, columns: Sequence[str] = (), rows: int | None = None,
                  remedy: str = "delete it to make it again"):
    """Read back a CSV a run wrote earlier as a pandas DataFrame, checking that it parses and
    has ``columns`` and (when given) ``rows`` rows; else :class:`DamagedFileError` names the
    file, what is wrong and ``remedy``."""
    import pandas as pd

    try:
        frame = pd.read_csv(path)
    except (OSError, UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError) as error:
        raise DamagedFileError(f"{path} is unreadable ({error}); {remedy}") from error
    missing = [column for column in columns if column not in frame.columns]
    if missing:
        raise DamagedFileError(f"{path} lacks the columns {missing}; {remedy}")
    if rows is not None and len(frame) != rows:
        raise DamagedFileError(f"{path} holds {len(frame)} rows where {rows} were written "
                               f"(truncated?); {remedy}")
    if frame[list(columns)].isna().any().any():
        raise DamagedFileError(f"{path} has empty cells in {list(columns)} (truncated?); {remedy}")
    return frame


def load_back_array(path: str | os.PathLike, rows: int | None = None,
                    remedy: str = "delete it to make it again"):
    """Load back a ``.npy`` array a run wrote earlier, checking that it loads and (when given)
    has ``rows`` rows; else :class:`DamagedFileError` names the file and ``remedy``."""
    import numpy as np

    try:
        array = np.load(path)
    except (OSError, ValueError, EOFError) as error:
        raise DamagedFileError(f"{path} is unreadable ({error}); {remedy}") from error
    if rows is not None and len(array) != rows:
        raise DamagedFileError(f"{path} holds {len(array)} rows where {rows} were written; "
                               f"{remedy}")
    return array
