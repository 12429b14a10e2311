"""Stop requests: SIGUSR1 (what ``--signal=B:USR1@N`` makes Slurm send before a time limit), SIGTERM (what
Slurm, ``kill`` and container runtimes send before killing: preemption, scancel) or :func:`request_stop`.

Either signal during ``fit`` checkpoints and raises :class:`TrainingInterrupted` (the CLI exits 3, which the
sbatch scripts read as "checkpointed: requeue to resume"). Outside ``fit`` the old handlers apply.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from typing import Any, Iterator

_stop = threading.Event()
STOP_SIGNALS = ("SIGUSR1", "SIGTERM")


class TrainingInterrupted(RuntimeError):
    """Training stopped early (signal or time budget) after saving a checkpoint; rerun to resume."""


def request_stop(*_: Any) -> None:
    """Ask a running ``fit`` to checkpoint and stop (also the SIGUSR1 handler)."""
    _stop.set()


def stop_requested() -> bool:
    return _stop.is_set()


@contextlib.contextmanager
def stop_on_sigusr1() -> Iterator[None]:
    """Within the block SIGUSR1 and SIGTERM request a stop (main thread only); the old handlers come back after."""
    old = {}
    if threading.current_thread() is threading.main_thread():
        for name in STOP_SIGNALS:
            if hasattr(signal, name):
                sig = getattr(signal, name)
                old[sig] = signal.signal(sig, request_stop)
    _stop.clear()
    try:
        yield
    finally:
        for sig, handler in old.items():
            signal.signal(sig, handler)
