"""Energy-based model: Langevin on analytic energies, sampler hygiene, replay buffer, training, guard, notebook."""

from __future__ import annotations

import math

import pytest
import torch

from genlab.models import ebm
from genlab.sampling.frozen import frozen
from genlab.sampling.langevin import ReplayBuffer, langevin
from genlab.models.ebm import ood_auroc
from genlab.train.checkpoint import load_checkpoint
from genlab.train.fit import DivergenceError


def tiny_config(tmp_path, **overrides) -> ebm.EBMConfig:
    values = dict(run="t", base_channels=4, batch_size=8, langevin_steps=3, buffer_size=32, sample_steps=4,
                  epochs=1, max_steps=3, sample_every=0, checkpoint_every=0, device="cpu",
                  output_dir=str(tmp_path))
    values.update(overrides)
    return ebm.EBMConfig(**values)


# ----------------------------------------------------------------------------- Langevin on analytic energies

def test_langevin_recovers_gaussian_mean_and_covariance():
    mu = torch.tensor([1.0, -0.5])
    cov = torch.tensor([[1.0, 0.6], [0.6, 2.0]])
    prec = torch.linalg.inv(cov)

    def energy(x):  # E(x) = (x - mu)^T P (x - mu) / 2, so exp(-E) is N(mu, cov)
        d = x - mu
        return 0.5 * ((d @ prec) * d).sum(1)

    g = torch.Generator().manual_seed(0)
    x0 = torch.rand(4000, 2, generator=g) * 8 - 4
    x = langevin(energy, x0, steps=600, step_size=0.05, noise=None, data_range=None, generator=g)
    assert torch.allclose(x.mean(0), mu, atol=0.08)
    assert torch.allclose(torch.cov(x.T), cov, atol=0.12)


def test_langevin_recovers_two_mode_mixture_weights():
    means = torch.tensor([[-1.5, 0.0], [1.5, 0.0]])
    log_w = torch.tensor([0.3, 0.7]).log()

    def log_joint(x):  # log w_k + log N(x; m_k, I) up to the same constant
        return log_w - 0.5 * ((x[:, None, :] - means) ** 2).sum(-1)

    def energy(x):
        return -torch.logsumexp(log_joint(x), dim=1)

    g = torch.Generator().manual_seed(1)
    x0 = torch.rand(4000, 2, generator=g) * 8 - 4
    x = langevin(energy, x0, steps=600, step_size=0.1, noise=None, data_range=None, generator=g)
    # For exact samples the mean posterior responsibility of component k equals its weight w_k.
    resp = torch.softmax(log_joint(x), dim=1).mean(0)
    assert torch.allclose(resp, torch.tensor([0.3, 0.7]), atol=0.03), resp
    phi = lambda z: 0.5 * (1 + math.erf(z / math.sqrt(2)))  # noqa: E731
    right = 0.3 * phi(-1.5) + 0.7 * phi(1.5)  # P(x_0 > 0) under the mixture
    assert abs((x[:, 0] > 0).float().mean().item() - right) < 0.03


def test_langevin_clamps_gradient_and_data_range():
    x0 = torch.zeros(5, 3)
    steep = lambda x: (100.0 * x).sum(1)  # noqa: E731  gradient 100 everywhere
    x = langevin(steep, x0, steps=1, step_size=1.0, noise=0.0, grad_clamp=0.1)
    assert torch.allclose(x, torch.full_like(x, -0.05))  # -(1/2) * clamp(100, 0.1)
    x = langevin(steep, x0, steps=100, step_size=1.0, noise=0.0, grad_clamp=0.1)
    assert torch.allclose(x, torch.full_like(x, -1.0))  # stopped at the data range
    mask = torch.tensor([1.0, 0.0, 1.0])
    x = langevin(steep, x0, steps=3, step_size=1.0, noise=0.5, mask=mask)
    assert torch.all(x[:, 1] == 0) and torch.all(x[:, 0] != 0)
    with pytest.raises(ValueError, match="steps"):
        langevin(steep, x0, steps=-1, step_size=1.0)


# ----------------------------------------------------------------------------- the sampler leaves the model as it was

@pytest.mark.parametrize("training,grad_mode", [(True, False), (False, True)])
def test_sampler_restores_model_state_and_leaves_grads(training, grad_mode):
    net = ebm.EnergyNet(1, 28, 4, spectral_norm=False)
    params = list(net.parameters())
    params[0].requires_grad_(False)
    params[1].grad = torch.full_like(params[1], 7.0)
    flags = [p.requires_grad for p in params]
    net.train(training)
    with torch.set_grad_enabled(grad_mode):
        x = langevin(net, torch.zeros(4, 1, 28, 28), steps=3, step_size=10.0, noise=0.01, grad_clamp=0.03)
        assert torch.is_grad_enabled() == grad_mode
    assert x.shape == (4, 1, 28, 28) and not x.requires_grad
    assert [p.requires_grad for p in params] == flags
    assert net.training == training
    assert torch.equal(params[1].grad, torch.full_like(params[1], 7.0))
    assert all(p.grad is None for i, p in enumerate(params) if i != 1)


def test_sampler_restores_state_when_energy_raises():
    net = ebm.EnergyNet(1, 28, 4).train()

    def broken(x):
        raise RuntimeError("planted")
    with torch.no_grad():
        with pytest.raises(RuntimeError, match="planted"):
            langevin(broken, torch.zeros(2, 1, 28, 28), steps=2, step_size=1.0, model=net)
        assert not torch.is_grad_enabled()
    assert net.training and all(p.requires_grad for p in net.parameters())
    with frozen(net, grad=True):
        assert torch.is_grad_enabled() and not net.training
        assert not any(p.requires_grad for p in net.parameters())


# ----------------------------------------------------------------------------- replay buffer

def test_replay_buffer_reinitialises_about_five_percent():
    torch.manual_seed(0)
    buf = ReplayBuffer(256, (1, 4, 4), reinit=0.05)
    buf.images.fill_(5.0)  # outside the noise range, so fresh starts are recognisable
    fresh_total, n = 0, 0
    for _ in range(300):
        x, idx, fresh = buf.sample(64)
        recognised = (x.flatten(1).abs() <= 1).all(1)
        assert torch.equal(recognised, fresh)
        fresh_total += int(fresh.sum())
        n += 64
    assert 0.04 < fresh_total / n < 0.06
    x, idx, fresh = buf.sample(16)
    buf.push(idx, torch.zeros_like(x))
    assert (buf.images[idx] == 0).all()
    assert not ReplayBuffer(100, (2,), reinit=0.0).sample(100)[2].any()
    assert ReplayBuffer(100, (2,), reinit=1.0).sample(100)[2].all()
    with pytest.raises(ValueError, match="buffer_size"):
        ReplayBuffer(8, (2,)).sample(9)
    with pytest.raises(ValueError, match="reinit"):
        ReplayBuffer(8, (2,), reinit=1.5)


# ----------------------------------------------------------------------------- network, loss, training

@pytest.mark.parametrize("size,channels", [(28, 1), (32, 3), (64, 3)])
def test_energy_net_sizes(size, channels):
    for sn in (False, True):
        net = ebm.EnergyNet(channels, size, 4, spectral_norm=sn)
        assert net(torch.zeros(2, channels, size, size)).shape == (2,)
    cond = ebm.EnergyNet(1, 28, 4, num_classes=10)
    x, y = torch.randn(3, 1, 28, 28), torch.tensor([0, 4, 9])
    f = cond.logits(x)
    assert torch.allclose(cond(x, y), -f.gather(1, y[:, None])[:, 0])
    assert torch.allclose(cond(x), -torch.logsumexp(f, 1))  # E(x) = -log sum_y exp(-E(x, y))
    with pytest.raises(ValueError, match="image_size"):
        ebm.EnergyNet(1, 30)


def test_cd_loss_and_ood_auroc():
    loss, cd, reg = ebm.cd_loss(torch.tensor([-1.0, -3.0]), torch.tensor([2.0, 0.0]), alpha=0.5)
    assert cd.item() == pytest.approx(-3.0) and reg.item() == pytest.approx(7.0)
    assert loss.item() == pytest.approx(0.5)
    assert ood_auroc(torch.tensor([0.0, 1.0]), torch.tensor([2.0, 3.0])) == 1.0
    assert ood_auroc(torch.tensor([2.0, 3.0]), torch.tensor([0.0, 1.0])) == 0.0


def test_train_finite_resume_generate_options_and_cli(tmp_path):
    from genlab.cli import main
    model = ebm.train(tiny_config(tmp_path))
    run = tmp_path / "t" / "ebm"
    ckpt = load_checkpoint(run / "checkpoint.pt")
    assert ckpt["step"] == 3 and ckpt["extra"]["buffer"].shape == (32, 1, 28, 28)
    assert torch.isfinite(torch.tensor([model.metrics()["train_seconds"]]))
    hist = (run / "history.csv").read_text().splitlines()
    assert hist[0].startswith("step") and "e_pos" in hist[0] and "nan" not in "".join(hist[1:]).lower()
    m = model.metrics()
    assert m["model"] == "ebm" and set(m["seconds_per_100"]) == {"langevin_4_steps_from_noise"}
    # Train-or-resume: more steps continue from the checkpoint, the buffer comes back.
    resumed = ebm.train(tiny_config(tmp_path, max_steps=5))
    assert load_checkpoint(run / "checkpoint.pt")["step"] == 5 and resumed.step == 5
    loaded = ebm.TrainedEBM.from_checkpoint(run / "checkpoint.pt", device="cpu")
    a = loaded.sample(6, seed=3, steps=2)
    assert a.dtype == torch.uint8 and a.shape == (6, 1, 28, 28)
    assert torch.equal(a, loaded.sample(6, seed=3, steps=2))
    assert loaded.sample(4, init="buffer", steps=1).shape == (4, 1, 28, 28)
    with pytest.raises(ValueError, match="eta"):
        loaded.sample(2, eta=0.0)
    with pytest.raises(ValueError, match="init"):
        loaded.sample(2, init="data")
    noisy, restored = loaded.denoise(loaded.test_images(3), steps=2)
    masked, done = loaded.inpaint(loaded.test_images(3), steps=2)
    assert restored.shape == done.shape == (3, 1, 28, 28)
    assert torch.equal(done[..., :14, :], masked[..., :14, :])  # the known half stays as observed
    assert loaded.energies(loaded.test_images(5)).shape == (5,)
    # `genlab sample` passes the EBM options through and rejects options of other models.
    out = tmp_path / "s.pt"
    ckpt_arg = ["sample", "--checkpoint", str(run / "checkpoint.pt"), "--n", "3", "--out", str(out), "--device", "cpu"]
    rc = main(ckpt_arg + ["--steps", "2", "--step-size", "5", "--noise", "0.01", "--init", "buffer"])
    assert rc == 0 and torch.load(out, weights_only=True)["images"].shape == (3, 1, 28, 28)
    assert main(ckpt_arg + ["--guidance", "2"]) == 1


# ----------------------------------------------------------------------------- divergence guard

def test_divergence_guard_stops_and_keeps_last_good_checkpoint(tmp_path):
    ebm.train(tiny_config(tmp_path, max_steps=2))
    path = tmp_path / "t" / "ebm" / "checkpoint.pt"
    good = load_checkpoint(path)

    def blow_up(optimizer, args, kwargs):  # planted: weights explode after the first resumed update
        with torch.no_grad():
            for group in optimizer.param_groups:
                for p in group["params"]:
                    p.mul_(30.0)
    from torch.optim.optimizer import register_optimizer_step_post_hook
    handle = register_optimizer_step_post_hook(blow_up)
    try:
        with pytest.raises(DivergenceError) as info:
            ebm.train(tiny_config(tmp_path, max_steps=6))
    finally:
        handle.remove()
    msg = str(info.value)
    assert "step 4" in msg and "lower lr" in msg and "langevin_steps" in msg and "alpha" in msg
    kept = load_checkpoint(path)
    assert kept["step"] == 2
    for k, v in good["model"]["energy"].items():
        assert torch.equal(kept["model"]["energy"][k], v)


def test_divergence_guard_on_nonfinite_gradients(tmp_path):
    cfg = tiny_config(tmp_path)
    ok = torch.tensor([0.5])
    ebm.check_divergence(1, ok, ok, torch.tensor(1.0), cfg, tmp_path / "c.pt")
    with pytest.raises(DivergenceError, match="gradient norm"):
        ebm.check_divergence(1, ok, ok, torch.tensor(float("nan")), cfg, tmp_path / "c.pt")
    with pytest.raises(DivergenceError, match="max_energy"):
        ebm.check_divergence(1, torch.tensor([2e3]), ok, torch.tensor(1.0), cfg, tmp_path / "c.pt")


def test_config_rejects_bad_values():
    with pytest.raises(ValueError, match="reinit"):
        ebm.EBMConfig(reinit=2.0)
    with pytest.raises(ValueError, match="langevin_steps"):
        ebm.EBMConfig.from_dict({"langevin_step": 3})


# ----------------------------------------------------------------------------- notebook

@pytest.mark.slow  # runs the chapter with papermill
def test_notebook_runs_at_smoke_profile(tmp_path):
    from genlab.book.runner import run_notebooks
    out = run_notebooks(profile="smoke", only=["05_ebm"], parameters={"output_dir": str(tmp_path)},
                        build_dir=str(tmp_path / "_build"), log_output=False)
    assert len(out) == 1 and out[0].exists()
    run = tmp_path / "smoke" / "ebm"
    assert (run / "metrics.json").exists() and (run / "checkpoint.pt").exists()
    assert list((run / "samples").glob("step_*.png"))
