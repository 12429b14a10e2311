"""Data-parallel training with 2 gloo processes on the CPU (torchrun), against one process.

- the first update of 2 processes equals one process with the same global batch (DDPM: GroupNorm,
  so the split batch computes the same function; DCGAN's BatchNorm statistics are per rank, as in DDP);
- a 2-process run resumed by 2 processes ends where an uninterrupted 2-process run ends;
- a 2-process run resumed by 1 process finishes (the checkpoint does not depend on the world size).
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from genlab.models import registry
from genlab.tools.waits import any_file, wait_until
from genlab.train import distributed
from genlab.train.checkpoint import load_checkpoint

# the tests above the launcher's section launch torchrun with 2 training processes
slow = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
# Tolerance of the 1-vs-2-process comparison: float32 sums in another order (the all-reduce of the
# two half-batch gradients vs one full-batch backward) differ in the last bits only.
RTOL, ATOL = 1e-5, 1e-6  # measured: |dw| <= 1.5e-8, |d exp_avg| <= 1.3e-7 after 4 updates


def train(kind: str, nproc: int, out: Path, run: str = "r", **params) -> subprocess.CompletedProcess:
    params = {**registry.get(kind).smoke, "output_dir": str(out), "run": run, **params}
    args = [a for k, v in params.items() for a in ("-p", f"{k}={json.dumps(list(v) if isinstance(v, tuple) else v)}")]
    launch = ([sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={nproc}"]
              if nproc > 1 else [sys.executable])
    env = {**os.environ, "PYTHONPATH": str(ROOT / "lib"), "OMP_NUM_THREADS": "1"}
    for k in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "SLURM_STEP_NUM_TASKS"):
        env.pop(k, None)
    proc = subprocess.run(launch + ["-m", "genlab", "train", kind, *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc


def ckpt(out: Path, kind: str, run: str = "r") -> dict:
    return load_checkpoint(out / run / kind / "checkpoint.pt")


def assert_close_state(a: dict, b: dict, exact: bool = False) -> None:
    for name in a:
        for k, t in a[name].items():
            if exact:
                assert torch.equal(t, b[name][k]), f"{name}.{k} differs"
            else:
                torch.testing.assert_close(t, b[name][k], rtol=RTOL, atol=ATOL, msg=f"{name}.{k} differs")


@slow
def test_first_updates_of_two_processes_equal_one_process(tmp_path):
    # Dropout masks are drawn per rank (like BatchNorm statistics) and bf16 rounds differently per
    # batch shape: both off, so that the two runs compute the same function.
    # Four updates: the U-Net zero-initialises its output and residual convolutions, so gradients reach
    # every layer only after a few steps.
    exact = dict(max_steps=4, dropout=0.0, amp="off")
    train("ddpm", 1, tmp_path / "one", **exact)
    train("ddpm", 2, tmp_path / "two", **exact)
    one, two = ckpt(tmp_path / "one", "ddpm"), ckpt(tmp_path / "two", "ddpm")
    assert one["step"] == two["step"] == 4
    # Adam's first moment is a running mean of the gradients: the averaged gradients agree ...
    g1, g2 = one["optimizer"]["unet"]["state"], two["optimizer"]["unet"]["state"]
    assert len(g1) == len(g2) > 0
    for i in g1:
        torch.testing.assert_close(g1[i]["exp_avg"], g2[i]["exp_avg"], rtol=RTOL, atol=ATOL)
    assert sum(bool(s["exp_avg"].abs().max() > 0) for s in g1.values()) > 0.9 * len(g1)  # real gradients
    # ... and so do the weights after the update (and their EMA).
    assert_close_state(one["model"], two["model"])
    assert_close_state({"ema": one["ema"]["shadow"]}, {"ema": two["ema"]["shadow"]})


@slow
def test_resumed_two_process_run_matches_an_uninterrupted_one(tmp_path):
    train("ddpm", 2, tmp_path / "straight", max_steps=4)
    train("ddpm", 2, tmp_path / "resumed", max_steps=2)
    proc = train("ddpm", 2, tmp_path / "resumed", max_steps=4)
    assert "resuming" in proc.stdout and "from step 2" in proc.stdout
    a, b = ckpt(tmp_path / "straight", "ddpm"), ckpt(tmp_path / "resumed", "ddpm")
    assert a["step"] == b["step"] == 4
    assert_close_state(a["model"], b["model"], exact=True)


@slow
@pytest.mark.parametrize("kind", registry.names())
def test_two_process_run_then_one_process_resume_both_finish(kind, tmp_path):
    """Every registered kind trains data-parallel: one run folder written by rank 0, loadable, resumable by 1."""
    proc = train(kind, 2, tmp_path, max_steps=2)
    assert proc.stdout.count("data parallel: 2 processes") == 1  # rank 0 alone reports (and writes)
    assert ckpt(tmp_path, kind)["step"] == 2
    run = tmp_path / "r" / kind
    assert json.loads((run / "metrics.json").read_text())["processes"] == 2
    steps = [line.split(",")[0] for line in (run / "history.csv").read_text().splitlines()[1:]]
    assert len(steps) == len(set(steps)) > 0  # one writer: no row twice
    assert registry.load_trained(run / "checkpoint.pt", "cpu").sample(2, seed=0).shape[0] == 2
    proc = train(kind, 1, tmp_path, max_steps=4)
    assert "from step 2" in proc.stdout
    c = ckpt(tmp_path, kind)
    assert c["step"] == 4
    assert all(torch.isfinite(t).all() for m in c["model"].values() for t in m.values() if t.is_floating_point())
    assert json.loads((run / "metrics.json").read_text())["processes"] == 1


@slow
def test_sigusr1_on_one_rank_stops_all_ranks_with_one_checkpoint(tmp_path):
    params = {**registry.get("dcgan").smoke, "output_dir": str(tmp_path), "run": "r", "max_steps": 0, "epochs": 50}
    args = [a for k, v in params.items() for a in ("-p", f"{k}={json.dumps(v)}")]
    env = {**os.environ, "PYTHONPATH": str(ROOT / "lib"), "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
                             "-m", "genlab", "train", "dcgan", *args], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        # the first sample grid: both ranks are in the training loop (its signal handler set), past the
        # collectives of its first epoch
        wait_until(any_file(tmp_path / "r" / "dcgan" / "samples", "*.png"), 300, "first sample grid", proc)
        ranks = [int(p) for p in Path(f"/proc/{proc.pid}/task/{proc.pid}/children").read_text().split()]
        assert len(ranks) == 2
        os.kill(max(ranks), signal.SIGUSR1)  # one rank only (the later-started one)
        out, _ = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert "stopped at step" in out and "SIGUSR1" in out, out[-3000:]
    stopped = ckpt(tmp_path, "dcgan")["step"]
    assert 0 < stopped < 50 * 250
    assert out.count("checkpoint saved in") == 2  # both ranks stop at the same step; rank 0 wrote the file
    assert set(re.findall(r"stopped at step (\d+)/", out)) == {str(stopped)}


# ----------------------------------------------------------------------------- the launcher's environment

def test_world_from_torchrun_and_slurm_environments(monkeypatch):
    for k in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT", "SLURM_STEP_NUM_TASKS",
              "SLURM_PROCID", "SLURM_LOCALID", "SLURM_JOB_NODELIST", "SLURM_JOB_ID"):
        monkeypatch.delenv(k, raising=False)
    assert distributed.env_world() == (distributed.World(), {})
    monkeypatch.setenv("SLURM_PROCID", "0")  # inside a batch script, no srun: one process
    assert not distributed.env_world()[0].distributed
    monkeypatch.setenv("SLURM_STEP_NUM_TASKS", "8")
    monkeypatch.setenv("SLURM_PROCID", "5")
    monkeypatch.setenv("SLURM_LOCALID", "1")
    monkeypatch.setenv("SLURM_JOB_NODELIST", "gpu[07-08]")
    monkeypatch.setenv("SLURM_JOB_ID", "1234")
    w, extra = distributed.env_world()
    assert w == distributed.World(5, 8, 1)
    assert extra["MASTER_ADDR"] in ("gpu07",) and extra["WORLD_SIZE"] == "8" and extra["MASTER_PORT"] == "29734"
    monkeypatch.setenv("RANK", "1")  # torchrun (also under srun torchrun) wins
    monkeypatch.setenv("WORLD_SIZE", "4")
    monkeypatch.setenv("LOCAL_RANK", "1")
    assert distributed.env_world() == (distributed.World(1, 4, 1), {})


@pytest.mark.parametrize("nodelist, host", [("node1", "node1"), ("gpu[03-05,09],cpu1", "gpu03"), ("a[1,2]", "a1")])
def test_first_host_of_a_slurm_nodelist(nodelist, host, monkeypatch):
    monkeypatch.setenv("PATH", "/nonexistent")  # the parser, not scontrol
    assert distributed.first_host(nodelist) == host


def test_batch_size_must_split_evenly_over_processes(monkeypatch):
    monkeypatch.setattr(distributed, "_world", distributed.World(1, 3, 1))
    assert distributed.rows(12) == slice(4, 8)
    with pytest.raises(ValueError, match="'batch_size' = 16 must be divisible by the number of processes"):
        distributed.rows(16)
