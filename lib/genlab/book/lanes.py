"""Several notebooks at once, each in a child process whose kernel gets its share of the CPU cores.

Why: the chapters' training steps are small, and two threads on one step do not do twice the work of one.
Two chapters side by side at one thread each finish 1.15-1.36x more training steps per second than one
chapter after the other at two threads (``benchmarks/lanes.py``, 2-core AMD EPYC), and the quick book took
19 min 43 s instead of 26 min 21 s there.

Notebooks start in ``_toc.yml`` order as lanes free up. A notebook in :data:`BARRIERS` reads what every
earlier one wrote (the comparison loads every model): it starts when all before it have ended, runs
alone with every core, and those after it wait for it. Each child's output goes to
``<build>/logs/<page>.log`` and (``echo``) to our output with the page's name in front of each line. After a
failure no new notebook starts; the running ones finish (their results stay valid), then the first
failure is raised.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from ..base.files import read_json, write_json
from ..base.runlog import format_seconds
from .execute import NotebookFailed

# Notebooks that read the results of all others: the comparison (also the last Slurm job, ``.slurm``).
BARRIERS = ("notebooks/06_compare",)


@dataclass
class Job:
    """A notebook to execute: its page, papermill's input and output, parameters and working folder."""
    nb: Path
    source: Path
    out: Path
    params: dict[str, Any]
    cwd: Path
    announce: str = ""  # the line printed when it starts
    barrier: bool = field(init=False)

    def __post_init__(self) -> None:
        self.barrier = self.nb.with_suffix("").as_posix() in BARRIERS


def cpu_count() -> int:
    """The cores this process may use (Slurm's and taskset's limits included)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def default_jobs() -> int:
    """Notebooks at once when not asked: 2 on a CPU-only machine with at least 2 cores, else 1 (a GPU is
    not shared between chapters)."""
    import torch
    return 1 if torch.cuda.is_available() or cpu_count() < 2 else 2


class _Child:
    """One running notebook: the child process and the thread that relays its output."""

    def __init__(self, job: Job, threads: int, kernel: str, build: Path, echo: bool):
        self.job, self.t0 = job, time.perf_counter()
        name = job.nb.with_suffix("").as_posix()
        self.request, self.failure = build / "lanes" / f"{name}.json", build / "lanes" / f"{name}.failure.json"
        self.log = build / "logs" / f"{name}.log"
        self.log.parent.mkdir(parents=True, exist_ok=True)
        self.failure.unlink(missing_ok=True)
        write_json(self.request, {"nb": str(job.nb), "source": str(job.source), "out": str(job.out),
                                  "params": job.params, "kernel": kernel, "cwd": str(job.cwd),
                                  "failure": str(self.failure)})
        env = {**os.environ, "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads)}
        self.process = subprocess.Popen([sys.executable, "-m", "genlab.book.execute", str(self.request)], env=env,
                                        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1)
        self.relay = threading.Thread(target=self._relay, args=(f"[{job.nb.stem}] ", echo), daemon=True)
        self.relay.start()

    def _relay(self, prefix: str, echo: bool) -> None:
        with self.log.open("w") as log:
            for line in self.process.stdout:
                log.write(line)
                log.flush()
                if echo:
                    sys.stdout.write(prefix + line)
                    sys.stdout.flush()

    def result(self) -> NotebookFailed | None:
        """After the process ended: None, or the failure it reported."""
        self.relay.join()
        if self.process.returncode == 0:
            return None
        if self.failure.exists():
            reported = read_json(self.failure)
            return NotebookFailed(f"{reported['message']}\nIts output: {self.log}", reported["ename"])
        return NotebookFailed(f"{self.job.nb}: the process executing it exited with code {self.process.returncode}; "
                              f"its output: {self.log}")

    def interrupt(self) -> None:
        """SIGINT, so papermill shuts its kernel down; a kill if that takes too long."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()


def run_lanes(jobs: list[Job], lanes: int, kernel: str, build: Path, on_start: Callable[[Job], None],
              on_done: Callable[[Job], None], echo: bool = True) -> None:
    """Execute ``jobs`` at most ``lanes`` at a time (see the module docstring); ``on_start(job)`` before each
    starts, ``on_done(job)`` after each success; ``echo=False`` keeps the notebooks' output in their logs only.
    Raises the first :class:`NotebookFailed` once the running notebooks have ended."""
    threads = max(1, cpu_count() // lanes)
    pending, running, failure = list(jobs), [], None
    try:
        while pending or running:
            while pending and failure is None and len(running) < lanes and not any(c.job.barrier for c in running):
                job = pending[0]
                if job.barrier and running:
                    break
                pending.pop(0)
                on_start(job)
                share = cpu_count() if job.barrier else threads
                running.append(_Child(job, share, kernel, build, echo))
                print(f"{job.announce}; {share} thread{'s' if share > 1 else ''}, output also in {running[-1].log})",
                      flush=True)
            time.sleep(0.2)
            for child in [c for c in running if c.process.poll() is not None]:
                running.remove(child)
                problem = child.result()
                if problem is None:
                    print(f"<== {child.job.nb} done in {format_seconds(time.perf_counter() - child.t0)}", flush=True)
                    on_done(child.job)
                elif failure is None:
                    failure = problem
                    print(f"<== {child.job.nb} FAILED; no new notebook starts"
                          + (f", waiting for {', '.join(str(c.job.nb) for c in running)}" if running else ""),
                          flush=True)
            if failure is not None and not running:
                break
    finally:
        for child in running:  # only on an exception here (Ctrl-C): stop the others cleanly
            child.interrupt()
    if failure is not None:
        raise failure
