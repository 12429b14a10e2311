"""DDPM model module: config validation, train-or-resume, load, generate options, CLI sampling, notebook 02."""

from __future__ import annotations

import json
import shutil

import pytest
import torch

from genlab.models import ddpm
from genlab.cli import main as cli_main

TINY = dict(run="t", max_steps=3, batch_size=8, base_channels=8, attn_heads=2, num_steps=20, sample_steps=3,
            ddim_steps=(3, 5), timing_images=2, ddpm_images=1, sample_every=1, epochs=1, sweep_steps=(3,))


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    out = tmp_path_factory.mktemp("ddpm")
    return ddpm.train(ddpm.DDPMConfig(output_dir=str(out), **TINY))


def test_config_rejects_bad_values_naming_the_parameter():
    with pytest.raises(ValueError, match="schedule"):
        ddpm.DDPMConfig(schedule="sigmoid")
    with pytest.raises(ValueError, match="ddim_steps"):
        ddpm.DDPMConfig(num_steps=50, ddim_steps=(10, 100))
    with pytest.raises(ValueError, match="beta_end"):
        ddpm.DDPMConfig(schedule="linear", beta_start=0.02, beta_end=0.01)
    with pytest.raises(ValueError, match="p_uncond"):
        ddpm.DDPMConfig(p_uncond=1.5)
    with pytest.raises(ValueError, match="did you mean 'guidance'"):
        ddpm.DDPMConfig.from_dict({"guidence": 2.0})


def test_train_writes_the_run(trained):
    run = trained.run_dir
    for name in ("config.json", "checkpoint.pt", "history.csv", "metrics.json"):
        assert (run / name).exists(), name
    m = trained.metrics()
    assert m["model"] == "ddpm" and m["steps"] == 3 and m["train_seconds"] > 0
    assert set(m["seconds_per_100"]) == {"ddim-3", "ddim-5", "ddpm-20"}
    assert all(v > 0 for v in m["seconds_per_100"].values())
    assert set(trained.sampler_paths()) == {"ddim-3", "ddim-5", "ddpm-20"}
    assert trained.sample_paths and trained.sample_paths[-1].name == "step_000003.png"


def test_resume_continues_and_keeps_ema(trained, tmp_path):
    shutil.copytree(trained.run_dir, tmp_path / "t" / "ddpm")
    config = ddpm.DDPMConfig.from_dict({**trained.config.to_dict(), "max_steps": 5, "ddpm_images": 0,
                                        "output_dir": str(tmp_path)})
    again = ddpm.train(config)
    assert again.metrics()["steps"] == 5
    ckpt = torch.load(again.run_dir / "checkpoint.pt", weights_only=True)
    assert ckpt["ema"]["num_updates"] == 5 and ckpt["step"] == 5


def test_generate_options_and_determinism(trained):
    labels = torch.tensor([3, 7])
    a = trained.sample(2, labels=labels, seed=4, steps=5)
    b = trained.sample(2, labels=labels, seed=4, steps=5)
    assert a.dtype == torch.uint8 and a.shape == (2, 1, 28, 28)
    assert torch.equal(a, b)
    assert trained.sample(2, labels=labels, seed=4, sampler="ddpm").shape == (2, 1, 28, 28)
    assert trained.sample(1, seed=0, sampler="ddim", steps=5, eta=1.0, spacing="quadratic", guidance=0.0).shape[0] == 1
    assert trained.sample(2, labels=labels, seed=4, sampler="dpm++", steps=5).shape == (2, 1, 28, 28)
    for bad, match in [(dict(sampler="euler"), "sampler"), (dict(step_size=0.1), "step_size"),
                       (dict(sampler="ddpm", steps=5), "steps"), (dict(sampler="dpm++", eta=0.5), "eta"),
                       (dict(steps=0), "steps"), (dict(guidance=float("nan")), "guidance"), (dict(spacing="cubic"), "spacing"),
                       (dict(guidance=-1.0), "guidance"), (dict(steps=21), "steps")]:
        with pytest.raises(ValueError, match=match):
            trained.sample(1, **bad)
    with pytest.raises(ValueError, match="labels"):
        trained.sample(2, labels=torch.tensor([1, 11]))


def test_load_rebuilds_the_ema_model(trained):
    loaded = ddpm.TrainedDDPM.from_checkpoint(trained.run_dir / "checkpoint.pt", device="cpu")
    assert loaded.num_classes == 10 and loaded.class_names[3] == "3"
    labels = torch.tensor([0, 1, 2])
    assert torch.equal(loaded.sample(3, labels=labels, seed=1, steps=3),
                       trained.sample(3, labels=labels, seed=1, steps=3))


def test_unconditional_model(tmp_path):
    from test_metrics import TINY as TINY_NET
    from genlab.models.ddpm import sweep
    model = ddpm.train(ddpm.DDPMConfig(output_dir=str(tmp_path), **{**TINY, "conditional": False, "ddpm_images": 0}))
    assert model.num_classes == 0
    assert model.sample(2, steps=3).shape == (2, 1, 28, 28)
    with pytest.raises(ValueError, match="guidance"):
        model.sample(1, steps=3, guidance=2.0)
    table = sweep.sampler_sweep(model, steps=(3,), samplers=("ddim", "dpm++"), n=30, feature_config=TINY_NET)
    assert len(table) == 2 and table["class accuracy"].isna().all()  # nothing to classify against
    fd_ax = sweep.plot_sampler_sweep(table).axes[0]  # one FD curve per sampler, one point per step count
    assert [len(line.get_xdata()) for line in fd_ax.lines if line.get_linestyle() == "-"] == [1, 1]
    assert len(sweep.summary(table)) == 2
    assert list(sweep.head_to_head(model.metrics(), "dpm++-3", "ddim-3").index) == ["fd", "fd (30 samples)"]


def test_cli_sample(trained, tmp_path):
    out = tmp_path / "s.pt"
    ckpt = str(trained.run_dir / "checkpoint.pt")
    rc = cli_main(["sample", "--checkpoint", ckpt, "--n", "4", "--out", str(out), "--labels", "5",
                   "--sampler", "ddim", "--steps", "3", "--guidance", "2", "--device", "cpu"])
    assert rc == 0
    data = torch.load(out, weights_only=True)
    assert data["images"].shape == (4, 1, 28, 28) and data["labels"].tolist() == [5, 5, 5, 5]
    assert cli_main(["sample", "--checkpoint", ckpt, "--n", "2", "--out", str(out), "--step-size", "0.1"]) == 1


@pytest.mark.notebook
def test_notebook_runs_at_smoke_profile(tmp_path):
    from genlab.book.runner import run_notebooks
    [executed] = run_notebooks("smoke", only=["03_ddpm"], parameters={"output_dir": str(tmp_path)},
                               build_dir=tmp_path / "_build", log_output=False)
    nb = json.loads(executed.read_text())
    errors = [o for c in nb["cells"] for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert not errors
    images = sum("image/png" in o.get("data", {}) for c in nb["cells"] for o in c.get("outputs", []))
    assert images >= 8  # every figure rendered
    metrics = json.loads((tmp_path / "smoke" / "ddpm" / "metrics.json").read_text())
    assert set(metrics["seconds_per_100"]) == {"ddim-5", "ddim-10", "ddpm-50"}


def test_sampler_sweep_scores_each_setting_once_and_feeds_the_known_order(trained, tmp_path, monkeypatch):
    from test_metrics import TINY as TINY_NET
    from genlab.eval import evaluation, ladder
    from genlab.models.ddpm import sweep
    run = tmp_path / "t" / "ddpm"
    shutil.copytree(trained.run_dir, run)
    model = ddpm.TrainedDDPM.from_checkpoint(run / "checkpoint.pt", device="cpu")
    model.config = model.config.replace(output_dir=str(tmp_path))  # feature-net cache in tmp
    table = sweep.sampler_sweep(model, steps=(3, 10, 20), n=30, feature_config=TINY_NET, verbose=False)
    assert list(zip(table["sampler"], table["steps"])) == [(s, k) for s in ("ddim", "ddpm", "dpm++")
                                                          for k in (3, 10, 20)]
    assert ((table["FD blocks lo"] <= table["FD blocks"]) & (table["FD blocks"] <= table["FD blocks hi"])).all()
    assert ((table["acc lo"] <= table["class accuracy"]) & (table["class accuracy"] <= table["acc hi"])).all()
    assert (table["seconds per 100"] > 0).all() and (table["n"] == 30).all()
    stored = model.metrics()["sampler_sweep"]
    assert stored["ddpm-20"]["options"] == {"sampler": "ddpm"}  # all T = 20 steps: Ho et al.'s sampler
    assert stored["ddpm-3"]["options"] == {"sampler": "ddim", "steps": 3, "eta": 1.0}  # respaced ancestral
    # a second run, and the known-order rung with the same options, n and seed, sample nothing again
    calls = []
    monkeypatch.setattr(evaluation, "evaluate", lambda *a, **k: calls.append(k) or pytest.fail("sampled again"))
    again = sweep.sampler_sweep(model, steps=(3, 10, 20), n=30, feature_config=TINY_NET, verbose=False)
    pd_equal = again.equals(table)
    order = ladder.known_order(model, steps=(3, 10), n=30, sampler_options={"eta": 1.0}, feature_config=TINY_NET)
    assert pd_equal and not calls
    assert order.loc[3, "FD"] == round(stored["ddpm-3"]["fd"], 4)
    h2h = sweep.head_to_head(model.metrics(), "dpm++-3", "ddim-20")
    assert list(h2h.index) == ["fd", "class_accuracy", "fd (30 samples)"] and set(h2h.iloc[:2, 2]) <= {"yes", "no"}
    fig = sweep.plot_sampler_sweep(table)
    assert len(fig.axes) == 4 and (table["floor FD"] > 0).all()
    fd_ax = fig.axes[0]  # three sampler curves of three step counts each, and the real floor dashed
    assert [len(line.get_xdata()) for line in fd_ax.lines if line.get_linestyle() == "-"] == [3, 3, 3]
    assert [line.get_linestyle() for line in fd_ax.lines].count("--") == 1
    assert len(sweep.summary(table)) == 9
    assert "not in the sampler sweep" in sweep.head_to_head(model.metrics(), "dpm++-20", "ddim-50")
    with pytest.raises(ValueError, match="sweep_steps"):
        sweep.sampler_sweep(model, steps=(3, 21), n=30)
    with pytest.raises(ValueError, match="sweep_samples"):
        sweep.sampler_sweep(model, steps=(3,), n=10)
    assert sweep.sampler_sweep(model, n=0).empty
