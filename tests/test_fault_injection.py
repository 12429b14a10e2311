"""Training as a subprocess, stopped from outside: SIGTERM/SIGUSR1 checkpoint and exit 3 (what the sbatch
scripts requeue on); ``kill -9`` at a random moment, then resume, ends bit-identical to an uninterrupted run,
for every registered model kind. The machinery is :mod:`genlab.train.faults`, shared with the long
campaign in ``benchmarks/fault_injection.py``."""

from __future__ import annotations

import random
import signal
import time
from pathlib import Path

import pytest

from genlab.base.run_folder import RunFolder
from genlab.cli import EXIT_INTERRUPTED
from genlab.models import names
from genlab.train import faults
from genlab.train.checkpoint import load_checkpoint

# Three short epochs of mnist5k (checkpoint after each): kills land before, between and after checkpoints.
PARAMS = {"device": "cpu", "base_channels": 8, "latent_dim": 8, "batch_size": 128, "epochs": 3,
          "checkpoint_every": 1, "sample_every": 1, "eval_samples": 32, "seed": 3}


def dcgan_params(out: Path, run: str, **extra) -> dict:
    return {**PARAMS, **extra, "run": run, "output_dir": str(out)}


def wait_started(proc, run_dir: Path, log: Path, timeout: float = 120) -> None:
    t0 = time.time()
    while not (run_dir / "config.json").exists():
        assert proc.poll() is None, log.read_text()
        assert time.time() - t0 < timeout
        time.sleep(0.05)


@pytest.mark.parametrize("sig", ["SIGTERM", "SIGUSR1"])
def test_stop_signal_checkpoints_and_exits_3(tmp_path, sig):
    params, log = dcgan_params(tmp_path, "r", epochs=50), tmp_path / "train.log"
    run_dir = faults.run_dir("dcgan", params)
    proc = faults.start("dcgan", params, log)
    wait_started(proc, run_dir, log)
    time.sleep(1.0)
    proc.send_signal(getattr(signal, sig))
    assert proc.wait(120) == EXIT_INTERRUPTED, log.read_text()
    out = log.read_text()
    assert sig in out or "stop signal" in out
    ckpt = load_checkpoint(run_dir / "checkpoint.pt")
    assert 0 < ckpt["step"]


def test_kill_9_then_resume_is_bit_identical(tmp_path):
    """DCGAN on mnist5k, killed after random delays (before, between and after checkpoints)."""
    ref, killed, log = dcgan_params(tmp_path, "ref"), dcgan_params(tmp_path, "killed"), tmp_path / "train.log"
    assert faults.finish("dcgan", ref, log) == 0, log.read_text()
    run_dir = faults.run_dir("dcgan", killed)
    rng = random.Random(0)
    kills = 0
    for attempt in range(6):
        proc = faults.start("dcgan", killed, log)
        wait_started(proc, run_dir, log)
        kills += faults.kill_after(proc, rng.uniform(0.5, 6.0))
        assert faults.folder_problems(run_dir, killed=True) == []  # the checkpoint always loads
        if kills == 2:
            break
    assert kills >= 1
    assert faults.finish("dcgan", killed, log) == 0, log.read_text()
    assert faults.folder_problems(run_dir) == []  # no temp file left, history ends at the checkpoint
    assert faults.differences(faults.run_dir("dcgan", ref), run_dir) == []


@pytest.mark.parametrize("kind", names())
def test_every_kind_resumes_bit_identical_after_kill_9(tmp_path, kind):
    """Each registered kind on a 90-image folder (a checkpoint and a grid every few steps), killed twice:
    in training right after the first checkpoint, and in the resumed run as soon as the last grid is
    written (the final checkpoint and end-of-run measurements still to come); then resumed to the end."""
    dataset = faults.tiny_folder_dataset(tmp_path / "digits")
    ref = faults.fault_params(kind, dataset, tmp_path / "out", tmp_path / "data", epochs=6, run="ref")
    killed, log = {**ref, "run": "killed"}, tmp_path / "train.log"
    assert faults.finish(kind, ref, log) == 0, log.read_text()
    ref_dir, run_dir = faults.run_dir(kind, ref), faults.run_dir(kind, killed)
    last_grid = RunFolder(ref_dir).sample_grids()[-1].name
    for moment in (run_dir / "checkpoint.pt", run_dir / "samples" / last_grid):
        proc = faults.start(kind, killed, log)
        assert faults.kill_when(proc, moment), f"the run ended before {moment.name} appeared:\n{log.read_text()}"
        assert faults.folder_problems(run_dir, killed=True) == []
    assert faults.finish(kind, killed, log) == 0, log.read_text()
    assert faults.folder_problems(run_dir) == []
    assert faults.differences(ref_dir, run_dir) == []
