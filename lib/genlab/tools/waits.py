"""Waiting on the event a test or benchmark means (a file appears, a process reaches a state), never a fixed sleep."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path
from typing import Callable


def wait_until(ready: Callable[[], bool], timeout: float, what: str, proc: subprocess.Popen | None = None,
               poll: float = 0.01) -> None:
    """Return as soon as ``ready()`` holds, checking every ``poll`` seconds.

    Raises TimeoutError naming ``what`` after ``timeout`` seconds, and RuntimeError when ``proc`` (the process
    expected to cause the event) ends first: a wait never outlives what it waits for.
    """
    deadline = time.monotonic() + timeout
    while not ready():
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"the process ended (exit {proc.returncode}) before {what}")
        if time.monotonic() > deadline:
            raise TimeoutError(f"no {what} after {timeout:g} s")
        time.sleep(poll)


def written(path: Path) -> Callable[[], bool]:
    """A predicate: ``path`` has been (re)written since this call (it appears, or its modification time moves)."""
    before = path.stat().st_mtime_ns if path.exists() else None
    return lambda: path.exists() and path.stat().st_mtime_ns != before


def any_file(folder: Path, pattern: str) -> Callable[[], bool]:
    """A predicate: ``folder`` holds a file matching ``pattern``."""
    return lambda: any(Path(folder).glob(pattern))
