"""Progress that suits where the code runs: bars interactively, plain lines under the runner.
Details: docs/modules.md."""

from __future__ import annotations

import os
import time

PLAIN_PROGRESS_ENV = "CXR_KERAS_PLAIN_PROGRESS"


def plain_progress() -> bool:
    """True when ``CXR_KERAS_PLAIN_PROGRESS`` asks for plain lines (set by the runner)."""
    return os.environ.get(PLAIN_PROGRESS_ENV, "").strip().lower() in ("1", "true", "yes")


class LineProgress:
    """A stand-in for a ``tqdm`` bar (iterate it, or ``update`` it in a ``with`` block) that prints
    one plain stdout line when it closes, ``desc: 100% 12/12 img in 0.4 s``, and nothing before."""

    def __init__(self, iterable=None, total=None, desc: str = "", unit: str = "it",
                 disable: bool = False):
        if total is None and hasattr(iterable, "__len__"):
            total = len(iterable)
        self.iterable, self.total, self.desc, self.unit = iterable, total, desc, unit
        self.disable, self.n, self.closed, self.started = disable, 0, False, time.monotonic()

    def __iter__(self):
        with self:
            for item in self.iterable:
                yield item
                self.update()

    def update(self, n: int = 1) -> None:
        self.n += n

    def close(self) -> None:
        if not (self.closed or self.disable):
            done = (f"{100 * self.n // self.total}% {self.n}/{self.total}" if self.total
                    else f"{self.n}")
            seconds = time.monotonic() - self.started
            print(f"{self.desc}: {done} {self.unit} in {seconds:.1f} s", flush=True)
        self.closed = True

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()


def progress_bar(iterable=None, total=None, desc: str = "", unit: str = "it",
                 disable: bool = False):
    """A progress bar over ``iterable`` or ``total`` steps: a :class:`LineProgress` under the
    runner, a ``tqdm.auto`` bar (widgets in Jupyter) otherwise."""
    if plain_progress():
        return LineProgress(iterable, total, desc, unit, disable)
    from tqdm.auto import tqdm

    return tqdm(iterable, total=total, desc=desc, unit=unit, disable=disable)
