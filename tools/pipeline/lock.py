"""One run per results folder: an exclusive lock beside ``results/<paper>/<profile>/``.

The lock is an ``flock`` on ``results/<paper>/.<profile>.lock``, which holds who took it (pid,
host, start time, command). The kernel releases an ``flock`` when its holder dies however it
dies, so a lock file left by a dead runner is free to take: the next run takes it over and
says whose it was.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import socket
from collections.abc import Iterator
from pathlib import Path

from tools.pipeline.parameters import PipelineError
from tools.pipeline.record import command_line, utc_now

log = logging.getLogger("tools.pipeline")


class ResultsFolderBusy(PipelineError):
    """Another run holds the results folder's lock."""


def lock_path(results_dir: Path) -> Path:
    """Where the lock of ``results/<paper>/<profile>`` lives (beside it, not in it)."""
    return results_dir.with_name(f".{results_dir.name}.lock")


@contextlib.contextmanager
def results_lock(results_dir: Path) -> Iterator[dict]:
    """Hold the lock of ``results_dir`` for the block; yield the holder's description.

    Raises ResultsFolderBusy, naming the running holder, when another process holds it.
    """
    path = lock_path(results_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = _locked_descriptor(path, results_dir)
    try:
        previous = _holder(os.read(descriptor, 64 * 1024))
        if previous:
            log.info(
                "taking over the stale lock %s of pid %s on %s (started %s: %s), which no "
                "longer runs", path, previous.get("pid"), previous.get("host"),
                previous.get("started_utc"), previous.get("command"),
            )
        holder = {"pid": os.getpid(), "host": socket.gethostname(), "started_utc": utc_now(),
                  "command": command_line()}
        os.ftruncate(descriptor, 0)
        os.pwrite(descriptor, json.dumps(holder).encode(), 0)
        os.fsync(descriptor)
        yield holder
    finally:
        path.unlink(missing_ok=True)  # while still held, so no one locks a removed file
        os.close(descriptor)


def _locked_descriptor(path: Path, results_dir: Path) -> int:
    """Open and lock ``path``; retry when the file was replaced between the open and the lock."""
    while True:
        descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _holder(os.pread(descriptor, 64 * 1024, 0))
            os.close(descriptor)
            raise ResultsFolderBusy(
                f"{results_dir} is in use by another run: pid {holder.get('pid', '?')} on "
                f"{holder.get('host', '?')}, started {holder.get('started_utc', '?')}: "
                f"{holder.get('command', '?')}. Wait for it to finish, or stop it first "
                f"(kill {holder.get('pid', '<pid>')}); its lock is {path}"
            ) from None
        with contextlib.suppress(FileNotFoundError):
            if os.stat(path).st_ino == os.fstat(descriptor).st_ino:
                return descriptor
        os.close(descriptor)  # the holder removed it as we opened it: lock the new one


def _holder(content: bytes) -> dict:
    try:
        holder = json.loads(content.decode() or "{}")
    except (UnicodeDecodeError, json.JSONDecodeError):
        return {"pid": "?", "command": "(unreadable lock file)"}
    return holder if isinstance(holder, dict) else {}
