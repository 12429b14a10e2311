"""Atomic file writes (temp file in the same folder, fsync, rename: never a half-written file), JSON, and a
lock file for work that processes running side by side must do once (a shared cache)."""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any, Callable, Iterator


TEMP_SUFFIX = ".tmp"


def atomic_write(path: Path, write: Callable[[Any], None], mode: str = "wb") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=TEMP_SUFFIX)
    try:
        with os.fdopen(fd, mode) as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def remove_stale_temps(folder: Path) -> list[Path]:
    """Delete the temp files of writes that a ``kill -9`` interrupted (``.<name>.<random>.tmp``) in ``folder``
    and its sub-folders; the files they were to replace are intact. Only for a folder with one writer,
    called before it writes (a run folder when its training starts), never for shared caches."""
    stale = [p for p in Path(folder).rglob(f".*{TEMP_SUFFIX}") if p.is_file()]
    for p in stale:
        p.unlink(missing_ok=True)
    return stale


def write_json(path: str | Path, data: Any) -> None:
    atomic_write(Path(path), lambda fh: fh.write(json.dumps(data, indent=2, sort_keys=True) + "\n"), "w")


def read_json(path: str | Path) -> Any:
    return json.loads(Path(path).read_text())


@contextlib.contextmanager
def exclusive(lock: Path) -> Iterator[None]:
    """Hold an exclusive ``flock`` on ``lock`` (created if missing): another process waits here until this one
    leaves, e.g. to load what this one put in a cache instead of computing it again."""
    import fcntl
    lock.parent.mkdir(parents=True, exist_ok=True)
    with open(lock, "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)
