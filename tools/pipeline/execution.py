"""Executing a notebook in a kernel of this interpreter, stoppable cleanly by SIGTERM or SIGINT.

The kernel is defined here, not looked up among installed kernel specs: it is this Python
(``sys.executable``), it imports ``cxr_keras`` from this checkout, and its environment keeps
executed copies free of TensorFlow's C++ start-up lines (``TF_CPP_MIN_LOG_LEVEL=3``; the lines
printed before TensorFlow reads it go to the kernel's own stderr, which is the attempt's log,
instead of into the notebook) and of progress widgets (text bars, see ``cxr_keras.progress``).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

from jupyter_core.utils import run_sync

from cxr_keras.io import write_text
from cxr_keras.paths import REPO_ROOT
from cxr_keras.progress import PLAIN_PROGRESS_ENV
from tools.pipeline.parameters import portable_path

KERNEL_NAME = "cxr-keras"
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


class RunInterrupted(Exception):
    """The runner got SIGTERM or SIGINT; the kernel was stopped and partial work kept."""

    def __init__(self, signum: int):
        self.signum = signum
        super().__init__(f"stopped by {signal.Signals(signum).name}")


BACKENDS = ("tensorflow", "jax", "torch")


def keras_backend() -> str:
    """The Keras backend the kernel runs on: ``$KERAS_BACKEND``, TensorFlow when unset."""
    name = os.environ.get("KERAS_BACKEND") or "tensorflow"
    if name not in BACKENDS:
        raise ValueError(f"KERAS_BACKEND={name!r} is not one of {BACKENDS}; set one of them")
    return name


EAGER_ENV = "CXR_KERAS_EAGER"
# What the kernel runs before the first cell under --eager, per backend (torch is eager anyway).
EAGER_LINES = {
    "tensorflow": "import tensorflow as tf; tf.config.run_functions_eagerly(True)",
    "jax": "import jax; jax.config.update('jax_disable_jit', True)",
}


def eager_functions() -> bool:
    """True when ``$CXR_KERAS_EAGER`` (the runner's ``--eager``) asks the kernel to run every
    compiled function eagerly: at smoke size, tracing a graph costs more than it saves."""
    return os.environ.get(EAGER_ENV, "").strip().lower() in ("1", "true", "yes")


def kernel_environment() -> dict[str, str]:
    """The variables the kernel gets on top of the runner's environment."""
    python_path = os.pathsep.join(p for p in (str(REPO_ROOT), os.environ.get("PYTHONPATH")) if p)
    return {"PYTHONPATH": python_path, "TF_CPP_MIN_LOG_LEVEL": "3", PLAIN_PROGRESS_ENV: "1",
            "KERAS_BACKEND": keras_backend(), EAGER_ENV: "1" if eager_functions() else "0"}


# Seconds papermill waits for the kernel to answer, per try: a start that times out (a loaded
# machine) or whose kernel dies before answering is retried with the next, longer wait.
KERNEL_START_TIMEOUTS = (60, 300)
KERNEL_START_FAILURES = ("Kernel didn't respond", "Kernel died before replying to kernel_info")


def execute_notebook(
    notebook: Path,
    executed: Path,
    parameters: dict[str, Any],
    log_file: IO[str],
    on_kernel_start: Callable[[int], None] | None = None,
) -> None:
    """Run ``notebook`` into ``executed`` with ``parameters``; the kernel's output, streams and
    stderr alike, also goes to ``log_file``; ``on_kernel_start`` gets the kernel's pid before
    the first cell runs. A kernel that fails to start is started again with a longer wait
    (:data:`KERNEL_START_TIMEOUTS`), saying so in ``log_file``.

    Raises papermill's PapermillExecutionError when a cell fails, RuntimeError when the kernel
    fails its last start, and RunInterrupted when a SIGTERM or SIGINT stopped the run (the
    kernel is interrupted, so the running cell stops where it is and the executed copy is
    written; a second signal stops at once).
    """
    for number, start_timeout in enumerate(KERNEL_START_TIMEOUTS, start=1):
        try:
            return _execute_once(notebook, executed, parameters, log_file, on_kernel_start,
                                 start_timeout)
        except RuntimeError as error:
            if not str(error).startswith(KERNEL_START_FAILURES) \
                    or number == len(KERNEL_START_TIMEOUTS):
                raise
            print(f"the kernel did not start ({error}); starting it again, waiting up to "
                  f"{KERNEL_START_TIMEOUTS[number]} s", file=log_file, flush=True)


def _execute_once(notebook, executed, parameters, log_file, on_kernel_start,
                  start_timeout: int) -> None:
    """One try of :func:`execute_notebook`, waiting ``start_timeout`` s for the kernel."""
    import papermill

    manager = _kernel_manager(log_file)
    started = []

    def before_each_cell(**_):
        stop.raise_if_requested()
        if not started and on_kernel_start is not None:
            started.append(kernel_pid(manager))
            on_kernel_start(started[0])

    with _stop_on_signals(manager) as stop:
        try:
            papermill.execute_notebook(
                str(notebook), str(executed), parameters=parameters, kernel_name=KERNEL_NAME,
                language="python", start_timeout=start_timeout,
                km=manager, log_output=True, progress_bar=False, cwd=str(REPO_ROOT),
                stdout_file=log_file, stderr_file=log_file,
                on_cell_execute=before_each_cell,
            )
        except BaseException:
            stop.raise_if_requested()
            raise
        finally:
            _shut_down(manager)
            _portable_papermill_paths(Path(executed))


def _portable_papermill_paths(executed: Path) -> None:
    """Write the input and output paths papermill records in the executed notebook's metadata
    relative to the repository (:func:`~tools.pipeline.parameters.portable_path`)."""
    try:
        notebook = json.loads(executed.read_text())
        papermill_metadata = notebook["metadata"]["papermill"]
    except (OSError, ValueError, KeyError):
        return
    for key in ("input_path", "output_path"):
        if papermill_metadata.get(key):
            papermill_metadata[key] = portable_path(papermill_metadata[key])
    write_text(executed, json.dumps(notebook, indent=1, ensure_ascii=False) + "\n")


def _shut_down(manager) -> None:
    """Stop the kernel ``manager`` started: papermill leaves a kernel it was handed running,
    and every notebook a process runs would otherwise keep its kernel (and its memory)."""
    process = getattr(getattr(manager, "provisioner", None), "process", None)
    if process is not None and process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    with contextlib.suppress(Exception):
        run_sync(manager.cleanup_resources)()  # the connection file


def kernel_pid(manager) -> int | None:
    """The pid of the kernel ``manager`` started (None before it starts)."""
    return getattr(getattr(manager, "provisioner", None), "pid", None)


def stop_kernel(pid: int, grace_seconds: float = 5.0) -> bool:
    """Stop the kernel ``pid`` if it still runs (a killed runner's orphan); return whether it
    was running. Checks that the process is an ipykernel, so a reused pid is left alone."""
    try:
        command = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
    if b"ipykernel" not in command:
        return False
    with contextlib.suppress(OSError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace_seconds
    while Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    with contextlib.suppress(OSError):
        os.kill(pid, signal.SIGKILL)
    return True


def _kernel_manager(log_file: IO[str]):
    from jupyter_client.kernelspec import KernelSpec, KernelSpecManager
    from jupyter_client.manager import AsyncKernelManager

    argv = [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}",
            "--IPKernelApp.capture_fd_output=False"]
    if eager_functions() and keras_backend() in EAGER_LINES:
        argv.append(f"--IPKernelApp.exec_lines={EAGER_LINES[keras_backend()]}")
    spec = KernelSpec(
        argv=argv,
        display_name="Python 3 (cxr-keras)", language="python", env=kernel_environment(),
    )

    class ThisKernelSpec(KernelSpecManager):
        def get_kernel_spec(self, kernel_name, *args, **kwargs):
            return spec

    class LoggedKernelManager(AsyncKernelManager):
        async def _async_pre_start_kernel(self, **kwargs):
            kwargs.setdefault("stderr", log_file)  # C++ lines written before TF reads its level
            return await super()._async_pre_start_kernel(**kwargs)

    return LoggedKernelManager(kernel_name=KERNEL_NAME, kernel_spec_manager=ThisKernelSpec())


class _StopRequest:
    def __init__(self, manager):
        self.manager, self.signum = manager, None

    def handle(self, signum, frame):
        if self.signum is not None:  # a second signal: stop now, the kernel is shut down
            raise RunInterrupted(signum)
        self.signum = signum
        print(f"\n{signal.Signals(signum).name}: stopping the notebook (send it again to "
              f"stop at once)", file=sys.stderr, flush=True)
        pid = kernel_pid(self.manager)
        if pid is None:  # the kernel has not started: nothing to stop cleanly
            raise RunInterrupted(signum)
        with contextlib.suppress(OSError):
            os.killpg(pid, signal.SIGINT)  # ipykernel turns it into KeyboardInterrupt

    def raise_if_requested(self) -> None:
        if self.signum is not None:
            raise RunInterrupted(self.signum)


@contextlib.contextmanager
def _stop_on_signals(manager) -> Iterator[_StopRequest]:
    stop = _StopRequest(manager)
    if threading.current_thread() is not threading.main_thread():
        yield stop
        return
    previous = {signum: signal.signal(signum, stop.handle) for signum in STOP_SIGNALS}
    try:
        yield stop
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
