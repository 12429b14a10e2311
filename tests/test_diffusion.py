"""Diffusion process and U-Net: pinned schedule constants, forward moments, samplers, state, EMA, conditioning."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from genlab.sampling.diffusion import GaussianDiffusion, cosine_betas, drop_labels, linear_betas, timesteps
from genlab.sampling.frozen import frozen
from genlab.sampling.samplers import DDIM, Ancestral, sample
from genlab.train.ema import EMA
from genlab.models.unet import UNet


class Dummy(nn.Module):
    """A cheap, deterministic stand-in for the U-Net: eps_pred = w xt + f(t) (+ label shift)."""

    def __init__(self, num_classes: int = 3):
        super().__init__()
        self.w = nn.Parameter(torch.tensor(0.5))
        self.drop = nn.Dropout(0.5)  # must be inactive while sampling
        self.num_classes = num_classes
        self.seen_labels: list[torch.Tensor] = []

    def forward(self, xt, t, y=None):
        out = self.drop(self.w * xt) + 0.1 * torch.cos(t.float() / 7)[:, None, None, None]
        if y is not None:
            self.seen_labels.append(y.clone())
            out = out + 0.05 * (y.float() - 1)[:, None, None, None]
        return out


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


# ----------------------------------------------------------------------------- schedules (pinned)

def test_linear_schedule_pinned():
    d = GaussianDiffusion(1000, "linear", 1e-4, 0.02)
    assert d.alpha_bar.dtype == torch.float32
    assert d.betas[0].item() == pytest.approx(1e-4, rel=1e-6)
    assert d.betas[-1].item() == pytest.approx(0.02, rel=1e-6)
    assert d.alpha_bar[-1].item() == pytest.approx(4.0358296e-05, rel=1e-5)  # Ho et al.: alpha_bar_T
    assert d.alpha_bar[0].item() == pytest.approx(1 - 1e-4, abs=1e-7)
    # posterior variance beta_tilde_t = (1 - ab_{t-1}) / (1 - ab_t) beta_t
    assert d.posterior_var[0].item() == 0.0
    assert d.posterior_var[1].item() == pytest.approx(5.4531876e-05, rel=1e-5)
    assert d.posterior_var[999].item() == pytest.approx(0.019999983, rel=1e-6)
    assert d.log_snr[0].item() == pytest.approx(9.2102404, rel=1e-6)
    assert d.log_snr[-1].item() == pytest.approx(-10.117673, rel=1e-6)


def test_schedule_math_is_float64_before_storage():
    betas = linear_betas(1000)
    assert betas.dtype == torch.float64
    exact = math.prod(1 - (1e-4 + (0.02 - 1e-4) * i / 999) for i in range(1000))
    assert torch.cumprod(1 - betas, 0)[-1].item() == pytest.approx(exact, rel=1e-12)


def test_cosine_schedule_pinned():
    d = GaussianDiffusion(1000, "cosine")
    f = lambda t: math.cos((t / 1000 + 0.008) / 1.008 * math.pi / 2) ** 2  # noqa: E731
    assert d.alpha_bar[0].item() == pytest.approx(f(1) / f(0), rel=1e-6)
    assert d.alpha_bar[0].item() == pytest.approx(0.99995869, rel=1e-7)
    assert d.alpha_bar[499].item() == pytest.approx(0.49384359, rel=1e-6)
    assert d.betas[-1].item() == pytest.approx(0.999, rel=1e-6)  # clipped last step
    assert cosine_betas(1000).max().item() <= 0.999
    assert d.alpha_bar[-1].item() < 1e-8
    assert (d.log_snr[1:] < d.log_snr[:-1]).all()  # SNR strictly decreasing


def test_buffers_follow_the_module_and_stay_out_of_state_dict():
    d = GaussianDiffusion(10).to(torch.float64)
    assert d.alpha_bar.dtype == torch.float64
    assert d.state_dict() == {}


def test_timesteps_spacing():
    assert timesteps(1000, 10).tolist() == [0, 111, 222, 333, 444, 555, 666, 777, 888, 999]
    assert timesteps(1000, 10, "quadratic").tolist() == [0, 12, 49, 111, 197, 308, 444, 604, 789, 999]
    assert timesteps(10, 10, "quadratic").tolist() == list(range(10))
    q = timesteps(1000, 200, "quadratic")
    assert (q[1:] > q[:-1]).all() and q[-1] == 999
    with pytest.raises(ValueError, match="steps"):
        timesteps(100, 101)
    with pytest.raises(ValueError, match="spacing"):
        timesteps(100, 10, "cubic")


def test_bad_schedule_and_prediction_name_the_parameter():
    with pytest.raises(ValueError, match="schedule"):
        GaussianDiffusion(10, "sigmoid")
    with pytest.raises(ValueError, match="prediction"):
        GaussianDiffusion(10, prediction="x0")


# ----------------------------------------------------------------------------- forward process, loss

def test_q_sample_moments_match_closed_form():
    d = GaussianDiffusion(1000, "linear")
    torch.manual_seed(0)
    n, t_int = 200_000, 300
    x0 = torch.full((n, 1, 1, 1), 0.7)
    t = torch.full((n,), t_int)
    xt = d.q_sample(x0, t, torch.randn_like(x0))
    ab = torch.cumprod(1 - linear_betas(1000), 0)[t_int].item()
    assert xt.mean().item() == pytest.approx(math.sqrt(ab) * 0.7, abs=0.005)
    assert xt.var().item() == pytest.approx(1 - ab, rel=0.01)


def test_v_and_eps_parametrisations_recover_x0():
    torch.manual_seed(1)
    x0, eps = torch.rand(4, 1, 5, 5) * 2 - 1, torch.randn(4, 1, 5, 5)
    t = torch.tensor([0, 10, 500, 999])
    for prediction in ("eps", "v"):
        d = GaussianDiffusion(1000, "cosine", prediction=prediction)
        xt = d.q_sample(x0, t, eps)
        out = eps if prediction == "eps" else d.v_target(x0, t, eps)
        x0_pred, eps_pred = d.predict(out, xt, t, clip=False)
        assert torch.allclose(x0_pred[1:], x0[1:], atol=2e-3)  # t=999 with eps: x0 from eps is ill-conditioned
        assert torch.allclose(eps_pred[:3], eps[:3], atol=2e-3)


def test_loss_is_mse_to_eps_and_drops_labels():
    d = GaussianDiffusion(100)
    perfect = lambda xt, t, y: torch.zeros_like(xt)  # noqa: E731
    torch.manual_seed(0)
    loss = d.loss(perfect, torch.zeros(512, 1, 4, 4))
    assert loss.item() == pytest.approx(1.0, abs=0.02)  # E||eps||^2 per pixel
    y = torch.arange(10).repeat(1000)
    dropped = drop_labels(y, 0.1, null_class=10, generator=gen())
    assert 0.08 < (dropped == 10).float().mean().item() < 0.12
    assert torch.equal(dropped[dropped != 10], y[dropped != 10])
    assert torch.equal(drop_labels(y, 0.0, 10), y)


# ----------------------------------------------------------------------------- samplers

def test_ddpm_loop_pinned_with_dummy_model():
    d = GaussianDiffusion(50, "linear", 1e-3, 0.2)
    x = sample(d, Dummy(), (2, 1, 3, 3), Ancestral(), generator=gen(0))
    assert x.sum().item() == pytest.approx(1.1255022, abs=1e-4)
    assert torch.allclose(x[0, 0, 0], torch.tensor([-0.90974182, 0.68537468, 0.91874540]), atol=1e-5)


def test_ddim_loop_pinned_with_dummy_model():
    d = GaussianDiffusion(50, "linear", 1e-3, 0.2)
    x = sample(d, Dummy(), (2, 1, 3, 3), DDIM(10, 0.0), generator=gen(0))
    assert x.sum().item() == pytest.approx(4.4979954, abs=1e-4)
    assert torch.allclose(x[0, 0, 0], torch.tensor([-1.0, -1.0, 0.95307428]), atol=1e-5)


def test_ddim_eta0_is_deterministic_given_the_start_noise():
    d = GaussianDiffusion(100)
    a = sample(d, Dummy(), (3, 1, 4, 4), DDIM(20, 0.0), generator=gen(5))
    b = sample(d, Dummy(), (3, 1, 4, 4), DDIM(20, 0.0), generator=gen(5))
    c = sample(d, Dummy(), (3, 1, 4, 4), DDIM(20, 1.0), generator=gen(5))
    assert torch.equal(a, b)
    assert not torch.allclose(a, c)


def test_ddim_eta1_with_all_steps_is_the_ddpm_sampler():
    d = GaussianDiffusion(60, "cosine")
    a = sample(d, Dummy(), (2, 1, 4, 4), Ancestral(), generator=gen(3))
    b = sample(d, Dummy(), (2, 1, 4, 4), DDIM(60, 1.0), generator=gen(3))
    assert torch.allclose(a, b, atol=1e-5)


def test_ddim_eta0_step_approaches_the_ddpm_mean_as_steps_grow():
    """One DDIM(eta=0) step from t to t-1 differs from the posterior mean by O(beta_t)."""
    gaps = []
    for num_steps in (100, 1000):
        d = GaussianDiffusion(num_steps, "cosine")
        torch.manual_seed(0)
        x0, eps = torch.rand(8, 1, 4, 4) * 2 - 1, torch.randn(8, 1, 4, 4)
        t_int = num_steps // 2
        t = torch.full((8,), t_int)
        xt = d.q_sample(x0, t, eps)
        mean = d.posterior_mean(x0, xt, t)
        ab_s = d.alpha_bar[t_int - 1]
        ddim = ab_s.sqrt() * x0 + (1 - ab_s).sqrt() * eps
        gaps.append((ddim - mean).abs().max().item())
    assert gaps[1] < gaps[0] / 5


def test_samplers_restore_model_state():
    d = GaussianDiffusion(20)
    model = Dummy()
    model.train()
    model.drop.eval()  # a mixed state must come back exactly
    model.w.requires_grad_(True)
    with torch.enable_grad():
        sample(d, model, (1, 1, 2, 2), Ancestral(), generator=gen())
        assert torch.is_grad_enabled()
    assert model.training and not model.drop.training and model.w.requires_grad
    with torch.no_grad():
        sample(d, model, (1, 1, 2, 2), DDIM(5), generator=gen())
        assert not torch.is_grad_enabled()
    assert model.training and model.w.requires_grad


def test_frozen_restores_after_an_exception():
    model = Dummy()
    model.train()
    with pytest.raises(RuntimeError):
        with frozen(model):
            assert not model.training and not torch.is_grad_enabled() and not model.w.requires_grad
            raise RuntimeError("boom")
    assert model.training and model.w.requires_grad and torch.is_grad_enabled()


def test_conditional_and_guided_paths():
    d = GaussianDiffusion(20)
    y = torch.tensor([0, 2])
    model = Dummy()
    uncond = sample(d, model, (2, 1, 2, 2), DDIM(5), generator=gen())
    cond = sample(d, model, (2, 1, 2, 2), DDIM(5), y=y, guidance=1.0, null_class=3, generator=gen())
    assert not torch.allclose(uncond, cond)
    assert all(torch.equal(s, y) for s in model.seen_labels)  # w = 1: one conditional pass per step
    model.seen_labels.clear()
    sample(d, model, (2, 1, 2, 2), DDIM(5), y=y, guidance=3.0, null_class=3, generator=gen())
    assert all(torch.equal(s, torch.tensor([0, 2, 3, 3])) for s in model.seen_labels)  # cond + null batch
    # w = 0 is the unconditional (null-class) model
    model.eval()
    w0 = d.model_output(model, torch.ones(2, 1, 2, 2), torch.tensor([3, 3]), y, 0.0, 3)
    null = model(torch.ones(2, 1, 2, 2), torch.tensor([3, 3]), torch.tensor([3, 3]))
    assert torch.allclose(w0, null)
    # guided output = uncond + w (cond - uncond)
    x, t = torch.randn(2, 1, 2, 2), torch.tensor([4, 4])
    g = d.model_output(model, x, t, y, 2.5, 3)
    c, u = model(x, t, y), model(x, t, torch.tensor([3, 3]))
    assert torch.allclose(g, u + 2.5 * (c - u), atol=1e-6)


# ----------------------------------------------------------------------------- EMA

def test_ema_update_math():
    net = nn.Linear(1, 1, bias=False)
    nn.init.constant_(net.weight, 0.0)
    ema = EMA(net, decay=0.9, warmup=False)
    with torch.no_grad():
        net.weight.fill_(1.0)
    ema.update(net)
    assert ema.shadow.weight.item() == pytest.approx(0.1)  # 0.9 * 0 + 0.1 * 1
    ema.update(net)
    assert ema.shadow.weight.item() == pytest.approx(0.19)
    warm = EMA(net, decay=0.999)
    assert warm.current_decay() == pytest.approx(0.1)  # (1 + 0) / (10 + 0)
    assert not any(p.requires_grad for p in ema.shadow.parameters())


# ----------------------------------------------------------------------------- U-Net

@pytest.mark.parametrize("size,channels,mults,attn", [(28, 1, (1, 2, 2), (7,)), (32, 3, (1, 2, 2), (8,)),
                                                      (64, 3, (1, 2, 2, 2), (16,))])
def test_unet_shapes(size, channels, mults, attn):
    net = UNet(channels, size, 8, mults, 1, attn, attn_heads=2, num_classes=10)
    x = torch.randn(2, channels, size, size)
    out = net(x, torch.tensor([0, 999]), torch.tensor([3, 10]))
    assert out.shape == x.shape


def test_unet_conditioning_and_errors():
    torch.manual_seed(0)
    net = UNet(1, 28, 8, (1, 2, 2), 1, (7,), attn_heads=2, num_classes=10)
    for p in net.parameters():  # leave the zero-init so the output depends on the input
        nn.init.normal_(p, 0, 0.05)
    net.eval()
    x, t = torch.randn(2, 1, 28, 28), torch.tensor([5, 5])
    a, b = net(x, t, torch.tensor([1, 1])), net(x, t, torch.tensor([2, 2]))
    assert not torch.allclose(a, b)
    assert torch.allclose(net(x, t), net(x, t, torch.tensor([10, 10])))  # no labels = the null class
    with pytest.raises(ValueError, match="unconditional"):
        UNet(1, 28, 8, num_classes=0)(x, t, torch.tensor([1, 1]))
    with pytest.raises(ValueError, match="channel_mults"):
        UNet(1, 28, 8, (1, 2, 2, 2))
    with pytest.raises(ValueError, match="attn_resolutions"):
        UNet(1, 28, 8, (1, 2, 2), attn_resolutions=(8,))


def test_one_group_norm_on_channels_last_is_groupnorm_forward_and_backward():
    # norm_groups = 1 runs a LayerNorm over each image's contiguous H x W x C block: same numbers, same gradients
    from genlab.models.unet import GroupNorm32
    torch.manual_seed(0)
    norm, ref = GroupNorm32(1, 12), nn.GroupNorm(1, 12)
    for p, q in zip(norm.parameters(), ref.parameters()):
        nn.init.normal_(p)
        q.data.copy_(p.data)
    x = torch.randn(3, 12, 7, 5).to(memory_format=torch.channels_last).requires_grad_()
    xr = x.detach().contiguous().requires_grad_()
    out, expected = norm(x), ref(xr)
    assert out.is_contiguous(memory_format=torch.channels_last)
    torch.testing.assert_close(out, expected)
    g = torch.randn_like(expected)
    out.backward(g)
    expected.backward(g)
    torch.testing.assert_close(x.grad, xr.grad)
    for p, q in zip(norm.parameters(), ref.parameters()):
        torch.testing.assert_close(p.grad, q.grad)
    with torch.autocast("cpu", dtype=torch.bfloat16):  # bf16 in and out, float32 statistics
        low = norm(x.to(torch.bfloat16))
    assert low.dtype == torch.bfloat16
    torch.testing.assert_close(low.float(), expected, atol=0.05, rtol=0.02)


def test_unet_norm_groups_changes_the_norms_not_the_parameters():
    wide, one = UNet(1, 28, 16, groups=32), UNet(1, 28, 16, groups=1)
    assert {m.num_groups for m in one.modules() if isinstance(m, nn.GroupNorm)} == {1}
    assert {m.num_groups for m in wide.modules() if isinstance(m, nn.GroupNorm)} == {4, 8, 12, 16}  # 4 channels each
    assert sum(p.numel() for p in wide.parameters()) == sum(p.numel() for p in one.parameters())
