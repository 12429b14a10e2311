"""Fault injection: train a model kind as a subprocess, ``kill -9`` it at chosen moments, resume, and
compare the result with an uninterrupted run of the same config and seed.

Used by ``tests/test_fault_injection.py`` (one kill per kind) and ``benchmarks/fault_injection.py``
(many kills per kind). Every kind comes from the registry, at its ``smoke`` parameters on a tiny
folder dataset: 90 training images make an epoch of a few steps, so ``checkpoint_every = 1`` and
``sample_every = 1`` (both in epochs) write a checkpoint and a grid every few steps, and a kill can land
during a step, during a write or in the end-of-run measurements.
"""

from __future__ import annotations

import csv
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import torch
from PIL import Image

from ..base.files import TEMP_SUFFIX, read_json
from ..base.run_folder import CHECKPOINT, RunFolder
from ..data import load_dataset
from ..models import registry
from ..train.checkpoint import load_checkpoint

# The library this process runs: the training subprocesses import the same one (a worktree's, in tests).
LIB = Path(__file__).resolve().parents[2]
# Columns of history.csv that are wall-clock measurements, not results: they differ between any two runs.
TIMING_COLUMNS = ("seconds",)


def tiny_folder_dataset(root: Path, per_class: int = 10) -> str:
    """Write ``per_class`` mnist5k digits per class as PNGs under ``root/<class>/`` (once); the dataset name.

    The folder loader holds out every 10th image, so 10 per class leave 90 training images.
    """
    root = Path(root)
    if not (root / "9").is_dir():
        data = load_dataset("mnist5k", "train")
        for c in range(10):
            (root / str(c)).mkdir(parents=True, exist_ok=True)
            index = torch.nonzero(data.labels == c).flatten()[:per_class]
            for i, j in enumerate(index.tolist()):
                Image.fromarray(data.images[j, 0].numpy()).save(root / str(c) / f"{i:03d}.png")
    return f"folder:{root}"


def fault_params(kind: str, dataset: str, output_dir: Path, data_dir: Path, epochs: int, **extra: Any) -> dict:
    """The kind's smoke parameters on ``dataset``, ``epochs`` epochs, a checkpoint and a grid every epoch."""
    params = {**registry.get(kind).smoke, "dataset": dataset, "epochs": epochs, "max_steps": 0, "checkpoint_every": 1,
              "sample_every": 1, "seed": 3, "output_dir": str(output_dir), "data_dir": str(data_dir)}
    return {**params, **extra}


def start(kind: str, params: dict[str, Any], log: Path) -> subprocess.Popen:
    """``python -m genlab train KIND -p k=v ...`` in the background; its output is appended to ``log``."""
    args = [sys.executable, "-m", "genlab", "train", kind]
    for k, v in params.items():
        args += ["-p", f"{k}={list(v) if isinstance(v, tuple) else v}"]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(LIB), os.environ.get("PYTHONPATH", "")]),
           "OMP_NUM_THREADS": "1"}  # one thread: identical float sums in every process, and fair to a shared CPU
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("a") as fh:
        return subprocess.Popen(args, env=env, stdout=fh, stderr=subprocess.STDOUT)


def run_dir(kind: str, params: dict[str, Any]) -> Path:
    return Path(params["output_dir"]) / params["run"] / kind


def finish(kind: str, params: dict[str, Any], log: Path, timeout: float = 1800) -> int:
    """Train (or resume) to the end without interruption; the exit code."""
    proc = start(kind, params, log)
    try:
        return proc.wait(timeout)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def kill_after(proc: subprocess.Popen, delay: float) -> bool:
    """SIGKILL ``proc`` ``delay`` seconds from now; False when it ended by itself first."""
    try:
        proc.wait(delay)
        return False
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        return True


def kill_when(proc: subprocess.Popen, ready: Path | Callable[[], bool], timeout: float = 600) -> bool:
    """SIGKILL ``proc`` as soon as ``ready`` (a path that exists, or a predicate) holds, polling every 5 ms;
    False when the process ended by itself first."""
    check = ready.exists if isinstance(ready, Path) else ready
    deadline = time.monotonic() + timeout
    while not check() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.005)
    if proc.poll() is not None:
        return False
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    return True


def writing(folder: Path, name: str = CHECKPOINT) -> Callable[[], bool]:
    """A predicate: an atomic write of ``folder/name`` is under way (its temp file exists)."""
    return lambda: any(folder.glob(f".{name}.*{TEMP_SUFFIX}"))


def history_rows(path: Path) -> list[dict[str, str]]:
    """history.csv without its timing columns."""
    with path.open() as fh:
        return [{k: v for k, v in row.items() if k not in TIMING_COLUMNS} for row in csv.DictReader(fh)]


def folder_problems(path: Path, killed: bool = False) -> list[str]:
    """What is wrong with a run folder (empty: consistent): the checkpoint (if any) loads, history.csv has a
    row at its step, config.json parses, and no temp file is left. ``killed``: right after a ``kill -9``,
    where the temp file of an interrupted write and history rows past the checkpoint are expected (the
    resumed run removes and drops them); at the end the history must stop at the checkpoint's step."""
    folder, problems = RunFolder(path), []
    stale = sorted(p.name for p in path.rglob(f"*{TEMP_SUFFIX}"))
    if stale and not killed:
        problems.append(f"temporary files left: {', '.join(stale)}")
    if folder.config.exists():
        try:
            read_json(folder.config)
        except ValueError as exc:
            problems.append(f"config.json does not parse: {exc}")
    if not folder.checkpoint.exists():
        return problems
    try:
        step = int(load_checkpoint(folder.checkpoint)["step"])
    except Exception as exc:  # noqa: BLE001 - any failure to load is the finding
        return problems + [f"checkpoint does not load: {exc}"]
    if not folder.config.exists():
        problems.append("checkpoint without config.json")
    logged = [int(float(r["step"])) for r in history_rows(folder.history)] if folder.history.exists() else []
    if logged != sorted(set(logged)):
        problems.append(f"history.csv steps out of order: {logged}")
    if step not in logged or (not killed and logged[-1] != step):
        problems.append(f"history.csv steps (... {logged[-3:]}) do not match the checkpoint's step {step}")
    return problems


def differences(reference: Path, other: Path) -> list[str]:
    """How run folder ``other`` differs from ``reference``: weights (model, EMA, optimizer), step, the
    sample grids (bytes) and the logged history (without timings). Empty means bit-identical."""
    ref, got = load_checkpoint(RunFolder(reference).checkpoint), load_checkpoint(RunFolder(other).checkpoint)
    out = []
    if ref["step"] != got["step"]:
        out.append(f"step {got['step']} != {ref['step']}")
    for part in ("model", "ema", "optimizer"):
        if not _equal(ref.get(part), got.get(part)):
            out.append(f"{part} state differs")
    ref_grids, grids = RunFolder(reference).sample_grids(), RunFolder(other).sample_grids()
    if [p.name for p in ref_grids] != [p.name for p in grids]:
        out.append(f"sample grids {[p.name for p in grids]} != {[p.name for p in ref_grids]}")
    else:
        out += [f"grid {a.name} differs" for a, b in zip(ref_grids, grids) if a.read_bytes() != b.read_bytes()]
    if history_rows(RunFolder(reference).history) != history_rows(RunFolder(other).history):
        out.append("history.csv differs (timings aside)")
    return out


def _equal(a: Any, b: Any) -> bool:
    if torch.is_tensor(a) or torch.is_tensor(b):
        return torch.is_tensor(a) and torch.is_tensor(b) and a.dtype == b.dtype and torch.equal(a, b)
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_equal(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(_equal(x, y) for x, y in zip(a, b))
    return a == b


@dataclass
class Report:
    """What a kill-and-resume campaign did to one kind."""

    kind: str
    kills: int = 0
    resumes: int = 0
    runs: int = 0  # runs trained to the end (each compared with the reference)
    failures: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def line(self) -> str:
        verdict = "final weights identical" if not self.failures else "; ".join(self.failures[:3])
        return (f"{self.kind.upper()}: {self.kills} kills, {self.resumes} resumes, {len(self.failures)} failures, "
                f"{verdict} ({self.runs} runs to the end, {self.seconds:.0f} s)")
