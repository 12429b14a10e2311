"""Training as a subprocess, stopped from outside: SIGTERM/SIGUSR1 checkpoint and exit 3 (what the sbatch
scripts requeue on); ``kill -9`` at a random moment, then resume, ends bit-identical to an uninterrupted run."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from genlab.cli import EXIT_INTERRUPTED
from genlab.train.checkpoint import load_checkpoint

ROOT = Path(__file__).resolve().parents[1]
# Three short epochs (checkpoint after each): kills land before, between and after checkpoints.
PARAMS = {"device": "cpu", "base_channels": 8, "latent_dim": 8, "batch_size": 128, "epochs": 3,
          "checkpoint_every": 1, "sample_every": 1, "eval_samples": 32, "seed": 3}


def train(out: Path, run: str, **extra) -> subprocess.Popen:
    args = [sys.executable, "-m", "genlab", "train", "dcgan"]
    for k, v in {**PARAMS, **extra, "run": run, "output_dir": str(out)}.items():
        args += ["-p", f"{k}={v}"]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "lib"), os.environ.get("PYTHONPATH", "")]),
           "OMP_NUM_THREADS": "1"}
    return subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def wait_started(proc: subprocess.Popen, run_dir: Path, timeout: float = 120) -> None:
    t0 = time.time()
    while not (run_dir / "config.json").exists():
        assert proc.poll() is None, proc.stdout.read()
        assert time.time() - t0 < timeout
        time.sleep(0.05)


@pytest.mark.parametrize("sig", ["SIGTERM", "SIGUSR1"])
def test_stop_signal_checkpoints_and_exits_3(tmp_path, sig):
    run_dir = tmp_path / "r" / "dcgan"
    proc = train(tmp_path, "r", epochs=50)
    wait_started(proc, run_dir)
    time.sleep(1.0)
    proc.send_signal(getattr(signal, sig))
    out, _ = proc.communicate(timeout=120)
    assert proc.returncode == EXIT_INTERRUPTED, out
    assert sig in out or "stop signal" in out
    ckpt = load_checkpoint(run_dir / "checkpoint.pt")
    assert 0 < ckpt["step"]


def final_state(run_dir: Path) -> tuple[dict, bytes]:
    ckpt = load_checkpoint(run_dir / "checkpoint.pt")
    grids = sorted((run_dir / "samples").glob("*.png"))
    return ckpt["model"], grids[-1].read_bytes()


def test_kill_9_then_resume_is_bit_identical(tmp_path):
    reference = train(tmp_path, "ref")
    out, _ = reference.communicate(timeout=600)
    assert reference.returncode == 0, out
    rng = random.Random(0)
    kills = 0
    for attempt in range(6):
        proc = train(tmp_path, "killed")
        wait_started(proc, tmp_path / "killed" / "dcgan")
        time.sleep(rng.uniform(0.5, 6.0))
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            kills += 1
        proc.communicate(timeout=600)
        if (tmp_path / "killed" / "dcgan" / "checkpoint.pt").exists():
            load_checkpoint(tmp_path / "killed" / "dcgan" / "checkpoint.pt")  # always loadable
        if kills == 2:
            break
    assert kills >= 1
    last = train(tmp_path, "killed")
    out, _ = last.communicate(timeout=600)
    assert last.returncode == 0, out
    assert not [p for p in (tmp_path / "killed").rglob("*") if p.name.endswith(".tmp")]
    ref_weights, ref_grid = final_state(tmp_path / "ref" / "dcgan")
    weights, grid = final_state(tmp_path / "killed" / "dcgan")
    for net in ref_weights:
        for k in ref_weights[net]:
            assert torch.equal(ref_weights[net][k], weights[net][k]), (net, k)
    assert grid == ref_grid
