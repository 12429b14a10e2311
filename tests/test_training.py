"""Training utilities: atomic checkpoints, RNG round trip, EMA math, progress lines, device choice."""

import random

import numpy as np
import pytest
import torch
from torch import nn

from genlab.base.run_folder import RunFolder
from genlab.base.runlog import History, Progress
from genlab.train.checkpoint import load_checkpoint, save_checkpoint
from genlab.train.devices import rng_state, select_device, set_rng_state
from genlab.train.ema import EMA


def test_save_is_atomic_when_writing_fails(tmp_path, monkeypatch):
    path = tmp_path / "checkpoint.pt"
    save_checkpoint(path, {"model": {}, "config": {}, "step": 1})
    before = path.read_bytes()

    def boom(*args, **kwargs):
        raise OSError("disk full")
    monkeypatch.setattr(torch, "save", boom)
    with pytest.raises(OSError, match="disk full"):
        save_checkpoint(path, {"model": {}, "config": {}, "step": 2})
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["checkpoint.pt"]  # no temp file left behind


def test_non_genlab_file_is_refused(tmp_path):
    torch.save({"weights": torch.zeros(2)}, tmp_path / "x.pt")
    with pytest.raises(Exception, match="not a genlab checkpoint"):
        load_checkpoint(tmp_path / "x.pt")


def test_rng_state_round_trips_through_a_weights_only_checkpoint(tmp_path):
    torch.manual_seed(1)
    np.random.seed(1)
    random.seed(1)
    save_checkpoint(tmp_path / "c.pt", {"model": {}, "config": {}, "step": 0, "rng": rng_state()})
    expected = (torch.rand(3), np.random.rand(3), random.random())
    set_rng_state(load_checkpoint(tmp_path / "c.pt")["rng"])
    got = (torch.rand(3), np.random.rand(3), random.random())
    assert torch.equal(expected[0], got[0]) and np.array_equal(expected[1], got[1]) and expected[2] == got[2]


def test_ema_update_math():
    model = nn.Linear(2, 1, bias=False)
    with torch.no_grad():
        model.weight.fill_(0.0)
    ema = EMA(model, decay=0.9, warmup=False)
    with torch.no_grad():
        model.weight.fill_(1.0)
    ema.update(model)
    assert torch.allclose(ema.shadow.weight, torch.full((1, 2), 0.1))
    ema.update(model)
    assert torch.allclose(ema.shadow.weight, torch.full((1, 2), 0.19))
    assert not ema.shadow.weight.requires_grad
    warm = EMA(model, decay=0.999)
    assert warm.current_decay() == pytest.approx(0.1)  # (1 + 0) / (10 + 0) early on


def test_ema_decay_range_is_checked():
    with pytest.raises(ValueError, match="parameter 'ema_decay' = 1.0 out of range"):
        EMA(nn.Linear(1, 1), decay=1.0)


def test_progress_prints_a_bounded_number_of_lines():
    lines = []
    progress = Progress(10_000, "x", min_interval_s=0.0, printer=lambda *a, **k: lines.append(a[0]))
    for step in range(1, 10_001):
        progress.update(step, {"loss": 1.0}, force=step == 10_000)
    assert 9 <= len(lines) <= 12
    assert lines[-1].startswith("[x] step 10000/10000 (100%)") and "loss 1" in lines[-1]


def test_history_truncates_rows_after_the_resumed_step(tmp_path):
    h = History(tmp_path / "history.csv")
    for step in (10, 20, 30):
        h.append({"step": step, "loss": step / 10})
    h.save()
    again = History(tmp_path / "history.csv")
    again.truncate(20)
    assert [r["step"] for r in again.rows] == [10, 20]


def test_update_metrics_merges(tmp_path):
    RunFolder(tmp_path).update_metrics(a=1, timing={"x": 1.0})
    merged = RunFolder(tmp_path).update_metrics(b=2, timing={"y": 2.0})
    assert merged == {"a": 1, "b": 2, "timing": {"x": 1.0, "y": 2.0}}


def test_device_selection():
    assert select_device("cpu").type == "cpu"
    assert select_device("auto").type in ("cuda", "mps", "cpu")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="CUDA is not available here; use 'auto' or 'cpu'"):
            select_device("cuda")
