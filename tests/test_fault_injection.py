"""Training as a subprocess, stopped from outside: SIGTERM/SIGUSR1 checkpoint and exit 3 (what the sbatch
scripts requeue on); ``kill -9`` at chosen events of the run (a grid, a checkpoint written), then resume, ends bit-identical to an uninterrupted run,
for every registered model kind. The machinery is :mod:`genlab.tools.faults`, shared with the long
campaign in ``benchmarks/fault_injection.py``."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

from genlab.base.run_folder import RunFolder
from genlab.cli import EXIT_INTERRUPTED
from genlab.models import names
from genlab.tools import faults
from genlab.tools.waits import any_file, wait_until, written
from genlab.train.checkpoint import load_checkpoint

pytestmark = pytest.mark.slow  # each test trains (and kills) DCGAN subprocesses

# Three short epochs of mnist5k (checkpoint after each): kills land before, between and after checkpoints.
PARAMS = {"device": "cpu", "base_channels": 8, "latent_dim": 8, "batch_size": 128, "epochs": 3,
          "checkpoint_every": 1, "sample_every": 1, "eval_samples": 32, "seed": 3}


def dcgan_params(out: Path, run: str, **extra) -> dict:
    return {**PARAMS, **extra, "run": run, "output_dir": str(out)}


@pytest.mark.parametrize("sig", ["SIGTERM", "SIGUSR1"])
def test_stop_signal_checkpoints_and_exits_3(tmp_path, sig):
    params, log = dcgan_params(tmp_path, "r", epochs=50), tmp_path / "train.log"
    run_dir = faults.run_dir("dcgan", params)
    proc = faults.start("dcgan", params, log)
    try:  # the first sample grid: the training loop (and its signal handler) runs and has taken steps
        wait_until(any_file(run_dir / "samples", "*.png"), 300, "first sample grid", proc)
    except (RuntimeError, TimeoutError):
        proc.kill()
        raise AssertionError(log.read_text())
    proc.send_signal(getattr(signal, sig))
    assert proc.wait(120) == EXIT_INTERRUPTED, log.read_text()
    out = log.read_text()
    assert sig in out or "stop signal" in out
    ckpt = load_checkpoint(run_dir / "checkpoint.pt")
    assert 0 < ckpt["step"]


def test_kill_9_then_resume_is_bit_identical(tmp_path):
    """DCGAN on mnist5k (3 epochs, a grid and a checkpoint after each), killed three times, each at an event
    of the run it kills: its first sample grid (before the first checkpoint lands), its first checkpoint
    (mid-run, resumed from it), its last sample grid (the final checkpoint and measurements still to come)."""
    ref, killed, log = dcgan_params(tmp_path, "ref"), dcgan_params(tmp_path, "killed"), tmp_path / "train.log"
    assert faults.finish("dcgan", ref, log) == 0, log.read_text()
    run_dir = faults.run_dir("dcgan", killed)
    last_grid = RunFolder(faults.run_dir("dcgan", ref)).sample_grids()[-1].name
    moments = (lambda: any_file(run_dir / "samples", "*.png"), lambda: written(run_dir / "checkpoint.pt"),
               lambda: written(run_dir / "samples" / last_grid))
    for moment in moments:
        proc = faults.start("dcgan", killed, log)
        assert faults.kill_when(proc, moment()), f"the run ended before it was killed:\n{log.read_text()}"
        assert faults.folder_problems(run_dir, killed=True) == []  # the checkpoint always loads
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
