"""Stop requests: SIGUSR1 (what Slurm sends before a time limit or preemption) or a call to :func:`request_stop`."""

from __future__ import annotations

import contextlib
import signal
import threading
from typing import Any, Iterator

_stop = threading.Event()


class TrainingInterrupted(RuntimeError):
    """Training stopped early (signal or time budget) after saving a checkpoint; rerun to resume."""


def request_stop(*_: Any) -> None:
    """Ask a running ``fit`` to checkpoint and stop (also the SIGUSR1 handler)."""
    _stop.set()


def stop_requested() -> bool:
    return _stop.is_set()


@contextlib.contextmanager
def stop_on_sigusr1() -> Iterator[None]:
    """Within the block SIGUSR1 requests a stop (main thread only); the old handler comes back after."""
    old = None
    if threading.current_thread() is threading.main_thread() and hasattr(signal, "SIGUSR1"):
        old = signal.signal(signal.SIGUSR1, request_stop)
    _stop.clear()
    try:
        yield
    finally:
        if old is not None:
            signal.signal(signal.SIGUSR1, old)
