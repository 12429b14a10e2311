"""Slurm's warning before a time limit (``--signal=B:USR1@N``), passed on to the notebook's kernel.

SIGUSR1 sent to the runner is forwarded to the kernel, where :func:`genlab.train.fit` checkpoints and
raises ``TrainingInterrupted`` (exit code 3: requeue and rerun to resume). The kernel ignores SIGUSR1
outside ``fit`` (:data:`.kernel.KERNEL_BOOT`), so the runner repeats the signal every few seconds until
the notebooks end: a training call that starts after the signal stops too.
"""

from __future__ import annotations

import functools
import signal
import threading
from typing import Any


class StopForwarder:
    """While notebooks run, pass SIGUSR1 on to the kernel, and again every ``repeat_s`` seconds.

    The repeats reach a training call that starts after the signal, also in the next notebook's
    kernel. ``requested`` tells whether a stop was asked for. Only in the main thread (where signal
    handlers live).
    """

    def __init__(self, repeat_s: float = 5.0):
        self.repeat_s = repeat_s
        self.requested = threading.Event()
        self._done = threading.Event()
        self._old: Any = None

    def __enter__(self) -> "StopForwarder":
        if hasattr(signal, "SIGUSR1") and threading.current_thread() is threading.main_thread():
            self._old = signal.signal(signal.SIGUSR1, self._on_signal)
        return self

    def __exit__(self, *exc: Any) -> None:
        self._done.set()
        if self._old is not None:
            signal.signal(signal.SIGUSR1, self._old)

    def _on_signal(self, *_: Any) -> None:
        if not self.requested.is_set():
            self.requested.set()
            print("==> SIGUSR1: asking the notebook to checkpoint and stop", flush=True)
            threading.Thread(target=self._repeat, daemon=True).start()
        self.forward()

    def _repeat(self) -> None:
        while not self._done.wait(self.repeat_s):
            self.forward()

    @staticmethod
    def forward() -> None:
        import psutil
        for child in psutil.Process().children(recursive=True):  # kernels of notebooks run in lanes too
            try:
                if any("ipykernel" in part or "kernelapp" in part for part in child.cmdline()):
                    child.send_signal(signal.SIGUSR1)
            except psutil.Error:
                pass


def forwarding_stop_signal(func):
    """Decorator: run ``func`` with a :class:`StopForwarder` installed."""
    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any):
        with StopForwarder():
            return func(*args, **kwargs)
    return wrapper
