"""A bounded worker pool: generation runs off the event loop, and a full queue is refused at once.

``workers`` threads sample; at most ``queue`` more requests wait for one. Request number
``workers + queue + 1`` gets :class:`PoolFull` (the app answers 503 with ``Retry-After``) instead of
piling up work whose clients would time out anyway.
"""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable


class PoolFull(RuntimeError):
    """Every worker is busy and the queue is full; ``retry_after`` is a hint in seconds."""

    def __init__(self, retry_after: int):
        super().__init__(f"the server is busy (all workers and queue slots taken); retry in {retry_after} s")
        self.retry_after = retry_after


class WorkerPool:
    def __init__(self, workers: int = 2, queue: int = 4, retry_after: int = 2):
        if workers < 1 or queue < 0:
            raise ValueError(f"workers = {workers}, queue = {queue}: need workers >= 1 and queue >= 0")
        self.workers, self.queue, self.retry_after = workers, queue, retry_after
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="genlab-sample")
        self._slots = threading.BoundedSemaphore(workers + queue)
        self._lock = threading.Lock()
        self.in_flight = 0  # running + waiting
        self.rejected = 0
        self.abandoned = 0  # requests whose client left (counted by the app)

    async def run(self, fn: Callable[..., Any], *args: Any) -> Any:
        """``fn(*args)`` in a worker thread; PoolFull (without waiting) when no slot is free."""
        if not self._slots.acquire(blocking=False):
            with self._lock:
                self.rejected += 1
            raise PoolFull(self.retry_after)
        with self._lock:
            self.in_flight += 1
        try:
            return await asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)
        finally:
            with self._lock:
                self.in_flight -= 1
            self._slots.release()

    def stats(self) -> dict[str, int]:
        return {"workers": self.workers, "queue": self.queue, "in_flight": self.in_flight, "rejected": self.rejected,
                "abandoned": self.abandoned}

    def shutdown(self) -> None:
        """Finish the work already accepted, then stop the threads."""
        self._executor.shutdown(wait=True)
