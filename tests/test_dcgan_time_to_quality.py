"""``benchmarks/dcgan_time_to_quality.py`` on tiny settings: both recipes train in turns, are scored and give a
well-formed result. No timing is asserted (the measured figures are the benchmark's own, in the README)."""

from __future__ import annotations

from pathlib import Path

import torch

from genlab.eval.featurenet import FeatureNetConfig, feature_net

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"
TINY = FeatureNetConfig(width=4, feature_dim=16, epochs=1, batch_size=64, max_train=256)


def test_both_recipes_train_are_scored_and_compared(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    import dcgan_time_to_quality as ttq
    net = feature_net("mnist5k", 28, 1, config=TINY, cache=tmp_path, verbose=False)
    # the CPU clock: a loaded test machine slows the wall clock, not the work counted
    run = dict(max_seconds=1.0, eval_every=0.5, samples=20, clock="cpu", net=net, verbose=False)
    # an unreachable target: both sides train to the cap, evaluated at every slice
    out = ttq.time_to_quality(torch.device("cpu"), target=1.01, **run)
    for name in ("genlab", "standard"):
        curve = out[name]["curve"]
        assert 1 <= len(curve) <= 2 and curve[-1][0] >= 1.0  # two evaluations unless one step took 0.5 s
        seconds, steps, accuracy = zip(*curve)
        assert seconds[0] >= 0.5 and list(seconds) == sorted(set(seconds)) and list(steps) == sorted(set(steps))
        assert steps[0] > 0 and all(0.0 <= a <= 1.0 for a in accuracy)
        assert out[name]["reached"] is None
    assert out["ratio"] is None
    # target 0: the first evaluation reaches it, which ends the run and defines the ratio
    out = ttq.time_to_quality(torch.device("cpu"), target=0.0, **run)
    for name in ("genlab", "standard"):
        [(s1, step1, _)] = out[name]["curve"]
        assert out[name]["reached"] == (s1, step1)
    assert out["ratio"] == out["standard"]["reached"][0] / out["genlab"]["reached"][0]
