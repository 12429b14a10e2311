"""genlab.eval.intervals and the random feature space: disjoint blocks, t intervals, paired verdicts."""

from __future__ import annotations

import pytest
import torch

from genlab.eval import intervals
from genlab.eval.randomnet import RandomFeatures


def entry(values, n=100):
    m, (lo, hi) = intervals.mean_ci(values)
    return {"value": m, "ci95": [lo, hi], "n": n, "subsets": len(values), "values": list(values), "space": "x"}


def test_blocks_are_disjoint_and_equal():
    parts = intervals.blocks(1003, 5)
    covered = [i for b in parts for i in range(1003)[b]]
    assert len(covered) == len(set(covered)) == 5 * 200
    with pytest.raises(ValueError, match="n = 12"):
        intervals.blocks(12, 5)


def test_mean_ci_matches_student_t():
    m, (lo, hi) = intervals.mean_ci([1.0, 2.0, 3.0, 4.0, 5.0])
    assert m == 3.0
    assert hi - m == pytest.approx(2.7764451 * (2.5 ** 0.5) / 5 ** 0.5, rel=1e-6)


def test_subset_intervals_use_each_block_once():
    seen = []
    out = intervals.subset_intervals(lambda b: seen.append(b) or {"v": float(b.start)}, 50, "classifier")
    assert len(seen) == 5 and out["v"]["values"] == [0.0, 10.0, 20.0, 30.0, 40.0] and out["v"]["n"] == 10


def test_verdict_needs_interval_and_second_space():
    good, bad = entry([1.0, 1.1, 0.9, 1.05, 0.95]), entry([2.0, 2.2, 1.9, 2.1, 2.05])
    assert intervals.verdict({"a": good, "b": bad}, "low")[0] == "a"
    assert intervals.verdict({"a": good, "b": bad}, "high")[0] == "b"
    # second space says the opposite: no winner
    winner, why = intervals.verdict({"a": good, "b": bad}, "low", check={"a": bad, "b": good})
    assert winner == "" and "second space" in why
    # overlapping, noisy: no reliable difference
    noisy = entry([0.5, 1.6, 0.8, 1.4, 1.0])
    winner, why = intervals.verdict({"a": good, "b": noisy}, "low")
    assert winner == "" and "no reliable difference" in why
    # a different block size cannot be paired
    assert intervals.verdict({"a": good, "b": entry([2.0, 2.1, 2.2, 2.3, 2.4], n=50)}, "low")[0] == ""


def test_random_features_are_fixed_frozen_and_cached():
    images = torch.randint(0, 256, (10, 1, 28, 28), dtype=torch.uint8)
    a, b = RandomFeatures(1, seed=0), RandomFeatures(1, seed=0)
    fa = a.features(images)
    assert fa.shape == (10, a.num_features) and fa.dtype == torch.float64
    assert torch.equal(fa, b.features(images))  # same seed, same space
    assert not torch.equal(fa, RandomFeatures(1, seed=1).features(images))
    a.features(images.clone())
    assert a.passes == 10
    assert not any(p.requires_grad for p in a.parameters())


def test_compare_reads_intervals_and_names_a_winner_only_when_reliable(tmp_path):
    import json
    from genlab.report import intervals, tables
    from genlab.report.runs import CompareConfig, load_runs

    def write(model, fd_c, fd_r, acc):
        run = tmp_path / "quick" / model
        run.mkdir(parents=True)
        iv = {"classifier": {"fd": entry(fd_c), "class_accuracy": entry(acc)}, "random": {"fd": entry(fd_r)}}
        floor = {"intervals": {"classifier": {"fd": entry([0.5, 0.6, 0.55, 0.52, 0.58])}}}
        (run / "metrics.json").write_text(json.dumps({"fd": sum(fd_c) / 5, "intervals": iv, "floor": floor}))
    write("dcgan", [5.0, 5.5, 6.0, 5.2, 5.8], [9.0, 9.5, 9.2, 9.1, 9.4], [0.70, 0.72, 0.74, 0.71, 0.73])
    write("ddpm", [2.0, 2.5, 2.2, 2.1, 2.4], [12.0, 12.5, 12.2, 12.1, 12.4], [0.98, 0.97, 0.99, 0.98, 0.97])
    runs = load_runs(CompareConfig(output_dir=str(tmp_path)))
    v = intervals.verdicts(runs).set_index(["metric", "space"])["verdict"]
    assert v[("FD", "classifier")] == "no reliable difference"  # the random-CNN space disagrees
    assert v[("FD", "random CNN")] == "no reliable difference"
    assert v[("class accuracy", "classifier")] == "DDPM"
    summary = intervals.interval_summary(runs)
    assert summary.loc[("FD", "classifier"), "real floor"].startswith("0.550 [")
    fig = intervals.plot_metric_intervals(runs, space="classifier")
    drawn = [ax for ax in fig.axes if ax.axison]  # one panel per metric with intervals in that space
    assert [ax.get_title() for ax in drawn] == ["FD (lower is better)", "class accuracy (higher is better)"]
    for ax in drawn:  # each model's mean with its interval bar, labelled by the registry's display names
        assert len(ax.containers) == 1 and len(ax.containers[0].lines[0].get_xdata()) == 2
        assert [t.get_text() for t in ax.get_xticklabels()] == ["DCGAN", "DDPM"]
    assert any(line.get_linestyle() == "--" for line in drawn[0].lines)  # FD has a real floor
    assert tables.readable("parameters", 1114209.0) == "1.11 M"
    assert tables.readable("training time (s)", 300.0) == "5.0 min"
