"""Flow kind: config validation, train-or-resume, load, sampling options and NFE, solvers pinned on the trained net."""

from __future__ import annotations

import shutil

import pytest
import torch

from genlab.models import flow, registry
from genlab.sampling import ode

TINY = dict(run="t", max_steps=3, batch_size=8, base_channels=8, attn_heads=2, sample_steps=2, solver_steps=2,
            eval_nfe=(3,), sample_every=1, epochs=1, amp="off")


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    out = tmp_path_factory.mktemp("flow")
    return flow.train(flow.FlowConfig(output_dir=str(out), **TINY))


def test_registry_and_config_validation():
    assert "flow" in registry.names() and registry.get("flow").trained is flow.TrainedFlow
    for bad, match in [(dict(coupling="sinkhorn"), "coupling"), (dict(time_sampling="beta"), "time_sampling"),
                       (dict(solver="rk4"), "solver"), (dict(eval_nfe=(8,)), "eval_nfe"),
                       (dict(solver="midpoint", eval_nfe=(3,)), "eval_nfe"), (dict(p_uncond=2.0), "p_uncond")]:
        with pytest.raises(ValueError, match=match):
            flow.FlowConfig(**bad)
    assert flow.FlowConfig(solver="euler", eval_nfe=(3,)).eval_nfe == (3,)


def test_train_writes_the_run(trained):
    for name in ("config.json", "checkpoint.pt", "history.csv", "metrics.json"):
        assert (trained.run_dir / name).exists(), name
    m = trained.metrics()
    assert m["model"] == "flow" and m["steps"] == 3 and m["train_seconds"] > 0
    assert set(m["seconds_per_100"]) == {"heun-3"} and m["seconds_per_100"]["heun-3"] > 0
    assert trained.sample_paths and trained.sample_paths[-1].name == "step_000003.png"


def test_resume_continues_and_keeps_ema(trained, tmp_path):
    shutil.copytree(trained.run_dir, tmp_path / "t" / "flow")
    config = flow.FlowConfig.from_dict({**trained.config.to_dict(), "max_steps": 5, "output_dir": str(tmp_path)})
    again = flow.train(config)
    assert again.metrics()["steps"] == 5
    ckpt = torch.load(again.run_dir / "checkpoint.pt", weights_only=True)
    assert ckpt["ema"]["num_updates"] == 5 and ckpt["step"] == 5


def test_sampling_options_nfe_and_determinism(trained):
    labels = torch.tensor([3, 7])
    a = trained.sample(2, labels=labels, seed=4)
    assert a.dtype == torch.uint8 and a.shape == (2, 1, 28, 28)
    assert torch.equal(a, trained.sample(2, labels=labels, seed=4))
    assert trained.last_nfe == 3  # 2 Heun steps, the last one Euler; guided: each evaluation one batch of 2B
    for solver, steps, nfe in (("euler", 3, 3), ("midpoint", 2, 4), ("heun", 5, 9)):
        trained.sample(2, labels=labels, seed=0, solver=solver, steps=steps, grid="late")
        assert trained.last_nfe == nfe
    trained.sample(1, seed=0, solver="dopri5", tolerance=1e-3, guidance=0.0)
    assert trained.last_nfe >= 7  # FSAL: 1 + 6 per attempted step
    for bad, match in [(dict(solver="rk4"), "solver"), (dict(solver="dopri5", steps=4), "steps"),
                       (dict(tolerance=1e-3), "tolerance"), (dict(steps=0), "steps"), (dict(grid="cosine"), "grid"),
                       (dict(guidance=-1.0), "guidance"), (dict(sampler="ddim"), "sampler")]:
        with pytest.raises(ValueError, match=match):
            trained.sample(1, **bad)
    assert set(trained.sampler_options()) == {"solver", "steps", "grid", "tolerance", "guidance"}


def test_load_rebuilds_the_ema_model(trained):
    loaded = flow.TrainedFlow.from_checkpoint(trained.run_dir / "checkpoint.pt", device="cpu")
    assert loaded.num_classes == 10 and loaded.step == 3
    labels = torch.tensor([0, 1, 2])
    assert torch.equal(loaded.sample(3, labels=labels, seed=1, solver="euler", steps=3),
                       trained.sample(3, labels=labels, seed=1, solver="euler", steps=3))


@pytest.mark.parametrize("ours, theirs", [("euler", "euler"), ("midpoint", "midpoint"), ("heun", "heun2")])
def test_solvers_match_torchdiffeq_on_the_trained_network(trained, ours, theirs):
    """The kind's Heun ends with an Euler step (it never evaluates at t = 1): torchdiffeq's Heun up to the
    last grid interval, then one Euler step."""
    torchdiffeq = pytest.importorskip("torchdiffeq")
    labels = torch.tensor([1, 4, 9])
    noise = torch.randn(3, 1, 28, 28, generator=torch.Generator().manual_seed(0))
    got = trained.sample_x(3, labels, 0, solver=ours, steps=4, guidance=2.0, noise=noise)
    field = ode.velocity_field(trained.net, labels, 2.0, trained.net.null_class)
    grid = ode.time_grid(4)
    with torch.no_grad():
        if ours == "heun":
            x = torchdiffeq.odeint(lambda t, x: field(x, float(t)), noise, torch.tensor(grid[:-1]), method=theirs)[-1]
            want = x + (grid[-1] - grid[-2]) * field(x, grid[-2])
        else:
            want = torchdiffeq.odeint(lambda t, x: field(x, float(t)), noise, torch.tensor(grid), method=theirs)[-1]
        moved = field(noise, 0.5).abs().mean()
    assert moved > 1e-3  # the trained field is not the zero-initialised one
    assert (got - want.clamp(-1, 1)).abs().max() < 1e-4


def test_the_comparison_draws_the_flow_and_the_ddpm_against_nfe(tmp_path):
    """report.figures.plot_quality_against_nfe: the flow's solvers and the DDPM's samplers on shared axes."""
    import matplotlib
    matplotlib.use("Agg")
    from genlab.models.ddpm.sweep import sampler_sweep
    from genlab.models.flow.sweep import solver_sweep
    from genlab.report import figures
    from genlab.report.runs import CompareConfig, load_runs
    for name in ("ddpm", "flow"):
        kind = registry.get(name)
        trained = kind.train(kind.config.from_dict({**kind.smoke, "output_dir": str(tmp_path)}))
        (sampler_sweep(trained, steps=(5,), n=30) if name == "ddpm" else solver_sweep(trained, (2,), n=30))
    fig = figures.plot_quality_against_nfe(load_runs(CompareConfig(run="smoke", output_dir=str(tmp_path))))
    labels = [line.get_label() for line in fig.axes[0].get_lines()]
    assert len(fig.axes) == 3 and {"Euler", "DDPM: DDIM (eta 0)", "DDPM: DPM-Solver++(2M)", "real digits"} <= set(labels)
