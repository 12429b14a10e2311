"""The mechanics of StyleGAN2-ADA, pinned (fast: tiny nets, CPU)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from genlab.models.stylegan import StyleGANConfig, StyleGANStep, build, train
from genlab.models.stylegan import augment as aug
from genlab.models.stylegan.ada import AdaController
from genlab.models.minibatch_std import minibatch_std
from genlab.models.stylegan.discriminator import Discriminator
from genlab.models.stylegan.layers import (EqualConv2d, EqualLinear, modulated_conv2d, modulated_conv2d_on_activations,
                                           modulated_conv2d_unfused)
from genlab.models.stylegan.losses import lazy_adam, r1_penalty
from genlab.models.stylegan.training import StyleGANEMA

TINY = dict(z_dim=8, w_dim=8, channel_base=64, channel_max=8, batch_size=8, mbstd_group=4, device="cpu")


def test_demodulated_conv_has_unit_variance_whatever_the_style():
    torch.manual_seed(0)
    x = torch.randn(4, 64, 16, 16)
    weight = torch.randn(32, 64, 3, 3)
    for scale in (0.01, 1.0, 100.0):
        s = torch.rand(4, 64) * scale + 1e-3 * scale
        out = modulated_conv2d(x, weight, s)
        assert abs(out[:, :, 1:-1, 1:-1].var().item() - 1.0) < 0.1, scale
    # and invariant to scaling the style
    s = torch.rand(4, 64) + 0.1
    assert torch.allclose(modulated_conv2d(x, weight, s), modulated_conv2d(x, weight, 7.0 * s), atol=1e-4)


def test_grouped_and_activation_modulated_convs_equal_unfused():
    """Sampling's grouped form and training's activation form both equal the per-image reference."""
    torch.manual_seed(1)
    x, weight, s = torch.randn(3, 5, 8, 8), torch.randn(6, 5, 3, 3), torch.randn(3, 5)
    for demod in (True, False):
        reference = modulated_conv2d_unfused(x, weight, s, demod)
        assert torch.allclose(modulated_conv2d(x, weight, s, demod), reference, atol=1e-5)
        assert torch.allclose(modulated_conv2d_on_activations(x, weight, s, demod), reference, atol=1e-5)


def test_equalized_lr_scaling():
    torch.manual_seed(0)
    fc = EqualLinear(256, 64, lr_mul=0.01)
    assert abs(fc.weight.std().item() - 100.0) < 5  # stored as randn / lr_mul
    assert fc.weight_gain == pytest.approx(0.01 / 16)
    x = torch.randn(4096, 256)
    assert abs(fc(x).std().item() - 1.0) < 0.05  # unit-std output at init
    conv = EqualConv2d(32, 16, 3)
    assert conv.weight_gain == pytest.approx(1 / math.sqrt(32 * 9))
    assert abs(conv(torch.randn(64, 32, 16, 16))[:, :, 1:-1, 1:-1].std().item() - 1.0) < 0.05


def test_minibatch_std_matches_a_reference_and_rejects_bad_groups():
    torch.manual_seed(0)
    x = torch.randn(8, 3, 4, 4)
    out = minibatch_std(x, 4)
    assert out.shape == (8, 4, 4, 4) and torch.equal(out[:, :3], x)
    for n in range(8):  # image n is in the group of images n % 2, n % 2 + 2, ...
        group = x[n % 2::2]
        ref = group.std(dim=0, unbiased=False).mean()
        assert torch.allclose(out[n, 3], torch.full((4, 4), ref.item()), atol=1e-5)
    with pytest.raises(ValueError, match="does not divide the batch"):
        minibatch_std(torch.randn(6, 3, 4, 4), 4)
    with pytest.raises(ValueError, match="mbstd_group"):
        StyleGANStep(StyleGANConfig(**{**TINY, "batch_size": 6}), *build(StyleGANConfig(**TINY), 1, 0))


def test_minibatch_std_within_each_label_sees_one_image_per_class():
    torch.manual_seed(0)
    y = torch.arange(32) % 8
    varied = torch.randn(32, 3, 4, 4)
    collapsed = torch.randn(8, 3, 4, 4)[y]  # one image per class: as varied as the data over the whole batch
    out = minibatch_std(varied, 32, y, 8)
    for c in range(8):  # each image gets its label's std over the group
        ref = varied[y == c].std(dim=0, unbiased=False).mean()
        assert torch.allclose(out[y == c, 3], torch.full((4, 4, 4), ref.item()), atol=1e-5)
    assert minibatch_std(collapsed, 32)[:, 3].mean() > 0.5  # mixed classes: the collapse is hidden
    assert minibatch_std(collapsed, 32, y, 8)[:, 3].max() < 1e-3  # within labels: it is plain
    labels = torch.randint(0, 3, (32,))
    grouped = minibatch_std(varied, 8, labels, 3)  # groups of 8 (image n in group n % 4), each split by label
    for n in range(32):
        part = varied[(torch.arange(32) % 4 == n % 4) & (labels == labels[n])]
        assert torch.allclose(grouped[n, 3], part.std(dim=0, unbiased=False).mean().expand(4, 4), atol=1e-4)


def test_r1_equals_a_finite_difference_estimate():
    torch.manual_seed(0)
    disc = Discriminator(1, 32, channel_base=64, channel_max=8, mbstd_group=1).double()
    x = torch.randn(2, 1, 32, 32, dtype=torch.float64, requires_grad=True)
    r1 = r1_penalty(x, disc(x))
    # central differences of sum_i D(x_i) along random directions estimate <grad, v>; E_v <grad, v>^2 = ||grad||^2
    g = torch.Generator().manual_seed(1)
    h, est = 1e-5, []
    with torch.no_grad():
        for _ in range(200):
            v = torch.randn(x.shape, generator=g, dtype=torch.float64)
            est.append(((disc(x + h * v) - disc(x - h * v)) / (2 * h)).numpy())
    est = np.stack(est)  # directions x images
    fd = float((est ** 2).mean(axis=0).mean())
    assert abs(fd - float(r1.detach())) / float(r1.detach()) < 0.2
    # exact check per coordinate on a few pixels
    (grad,) = torch.autograd.grad(disc(x).sum(), x)
    with torch.no_grad():
        for idx in [(0, 0, 3, 4), (1, 0, 20, 7)]:
            e = torch.zeros_like(x)
            e[idx] = h
            fd_i = (disc(x + e).sum() - disc(x - e).sum()) / (2 * h)
            assert abs(float(fd_i) - float(grad[idx])) < 1e-6 + 1e-4 * abs(float(grad[idx]))


def test_augmentation_identity_at_p0_and_every_op_at_p1():
    torch.manual_seed(0)
    x = torch.rand(16, 3, 32, 32) * 2 - 1
    assert aug.augment(x, 0.0) is x
    params = aug.sample_params(16, 1.0, 32, 3, cutout=True)
    assert set(params["fires"]) == set(aug.GEOMETRIC + aug.COLOR + ("cutout",))
    assert all(m.all() for m in params["fires"].values())
    y = aug.apply(x, params)
    assert y.shape == x.shape and not torch.allclose(y, x)
    # identity matrix warp is exact; a 90 degree rotation and an integer shift are pixel permutations
    eye = torch.eye(3).repeat(16, 1, 1)
    assert torch.allclose(aug.warp(x, eye), x, atol=1e-6)
    shifted = aug.warp(x, aug._translate(torch.full((16,), 2.0), torch.zeros(16)))
    assert torch.allclose(shifted[..., :-2], x[..., 2:], atol=1e-6)
    rot = aug.warp(x, aug._rotate(torch.full((16,), math.pi / 2)))
    assert torch.allclose(rot.abs().sum(), x.abs().sum(), rtol=1e-5)  # a permutation of the pixels
    assert torch.allclose(torch.sort(rot.flatten(1)).values, torch.sort(x.flatten(1)).values, atol=1e-5)
    # grey images get no saturation op
    assert "saturation" not in aug.sample_params(4, 1.0, 32, 1)["fires"]


def test_augmentation_keeps_statistics_in_range():
    torch.manual_seed(0)
    x = torch.rand(256, 1, 32, 32) * 2 - 1
    for p in (0.2, 0.6, 1.0):
        y = aug.augment(x, p)
        assert torch.isfinite(y).all()
        assert abs(y.mean().item() - x.mean().item()) < 0.1
        assert 0.5 < y.std().item() / x.std().item() < 1.6
        assert y.abs().max().item() < 6


def test_r1_flows_through_the_augmentation_twice_differentiable():
    torch.manual_seed(0)
    disc = Discriminator(1, 32, channel_base=64, channel_max=8)
    x = torch.randn(4, 1, 32, 32, requires_grad=True)
    penalty = r1_penalty(x, disc(aug.augment(x, 1.0)))
    penalty.backward()  # the second derivative through the warp and the colour ops
    grads = [p.grad for p in disc.parameters() if p.grad is not None]
    assert grads and all(torch.isfinite(g).all() for g in grads)
    assert disc.from_rgb.weight.grad is not None and disc.from_rgb.weight.grad.abs().sum() > 0
    assert torch.autograd.gradcheck(lambda t: aug.warp(t, aug._rotate(torch.tensor([0.3]))),
                                    torch.randn(1, 1, 6, 6, dtype=torch.float64, requires_grad=True))
    assert torch.autograd.gradgradcheck(lambda t: aug.warp(t, aug._rotate(torch.tensor([0.3]))) ** 2,
                                        torch.randn(1, 1, 6, 6, dtype=torch.float64, requires_grad=True))


def test_ada_p_rises_by_the_step_for_positive_d_and_stays_at_zero_for_negative():
    ada = AdaController(target=0.6, interval=4, ada_kimg=2.0, batch_size=16)
    step = 16 * 4 / 2000
    for t in range(12):
        ada.accumulate(torch.ones(16))
        ada.update(t)
        assert float(ada.p) == pytest.approx(step * ((t + 1) // 4))
    assert float(ada.rt) == 1.0
    neg = AdaController(target=0.6, interval=4, ada_kimg=2.0, batch_size=16)
    for t in range(12):
        neg.accumulate(-torch.ones(16))
        neg.update(t)
        assert float(neg.p) == 0.0
    assert float(neg.rt) == -1.0
    frozen = AdaController(interval=1, ada_kimg=2.0, batch_size=16, p=0.3, enabled=False)
    frozen.accumulate(torch.ones(16))
    frozen.update(0)
    assert float(frozen.p) == pytest.approx(0.3) and float(frozen.rt) == 1.0


def test_the_same_p_reaches_reals_and_fakes_in_both_passes(monkeypatch):
    config = StyleGANConfig(**TINY, ada_interval=1, ada_kimg=0.008, r1_interval=1)
    torch.manual_seed(0)
    gen, disc = build(config, 1, 10)
    stepper = StyleGANStep(config, gen, disc)
    seen = []
    monkeypatch.setattr(aug, "augment", lambda x, p, cutout=False: (seen.append(p), x)[1])
    x, y = torch.rand(8, 1, 32, 32) * 2 - 1, torch.arange(8)
    disc_forward = disc.forward

    def always_real(img, yy, with_classes=False):
        logit = torch.full((img.shape[0],), 5.0) + 0 * disc_forward(img, yy)
        return (logit, None) if with_classes else logit
    monkeypatch.setattr(disc, "forward", always_real)
    stepper(0, x, y)
    assert len(seen) == 3 and len(set(seen)) == 1  # G pass fakes, D pass reals and fakes
    seen.clear()
    stepper(1, x, y)
    assert len(seen) == 3 and len(set(seen)) == 1 and seen[0] > 0  # p rose after the first update


def _p_and_rt_against_a_perfect_generator(n_real: int, steps: int = 200) -> tuple[list[float], list[float]]:
    """Real D, real step and ADA; G replaced by held-out digits, so that D can tell its reals from the fakes
    only by memorising them: the overfitting r_t measures, with none of a young G's flaws to hide it."""
    from genlab.data import load_dataset, resize_images, to_float
    torch.manual_seed(0)
    config = StyleGANConfig(**{**TINY, "batch_size": 16}, conditional=False, ada_interval=4, ada_kimg=1.0,
                            pl_weight=0.0)
    gen, disc = build(config, 1, 10)
    real = to_float(resize_images(load_dataset("mnist5k", "train").images[:n_real], 32))
    other = to_float(resize_images(load_dataset("mnist5k", "test").images, 32))
    g = torch.Generator().manual_seed(0)

    def perfect(ws, *args, **kwargs):  # keeps a graph to G so that G's step runs unchanged
        return other[torch.randint(0, len(other), (ws.shape[0],), generator=g)] + 0 * ws.sum()
    gen.synthesis, gen.forward = perfect, lambda z, y=None, **kwargs: perfect(z)
    stepper = StyleGANStep(config, gen, disc)
    ps, rts = [], []
    for t in range(steps):
        out = stepper(t, real[torch.randint(0, len(real), (16,), generator=g)], torch.zeros(16, dtype=torch.long))
        ps.append(float(out["p"]))
        rts.append(float(out["r_t"]))
    return ps, rts


def test_ada_p_rises_on_64_repeated_digits_and_stays_near_zero_on_the_full_set():
    ps, rts = _p_and_rt_against_a_perfect_generator(64)
    late = slice(100, None)
    assert np.mean(ps[late]) >= 0.1 and np.mean(rts[late]) >= 0.4, (ps[::10], rts[::10])  # D memorises 64
    ps, rts = _p_and_rt_against_a_perfect_generator(4000)
    assert np.mean(ps[late]) <= 0.03 and np.mean(rts[late]) <= 0.25, (ps[::10], rts[::10])  # 4,000: it cannot


def test_lazy_adam_rescales_lr_and_betas():
    opt = lazy_adam([torch.nn.Parameter(torch.zeros(1))], 0.0025, (0.0, 0.99), 16)
    group = opt.param_groups[0]
    assert group["lr"] == pytest.approx(0.0025 * 16 / 17)
    assert group["betas"][1] == pytest.approx(0.99 ** (16 / 17)) and group["betas"][0] == 0.0


def test_ema_follows_the_official_formula():
    net = torch.nn.Linear(2, 2)
    ema = StyleGANEMA(net, batch_size=32, ema_kimg=1.0, rampup=0.05)
    # first update: ema_nimg = min(1000, 32 * 0.05) = 1.6 -> beta = 0.5 ** (32 / 1.6)
    assert ema.current_decay() == pytest.approx(0.5 ** 20)
    before = ema.shadow.weight.clone()
    with torch.no_grad():
        net.weight.add_(1.0)
    beta = ema.current_decay()
    ema.update(net)
    assert torch.allclose(ema.shadow.weight, beta * before + (1 - beta) * net.weight)
    ema.num_updates = 10_000
    assert ema.current_decay() == pytest.approx(0.5 ** (32 / 1000))


def test_truncation_and_deterministic_sampling(tmp_path):
    config = StyleGANConfig(**TINY, max_steps=2, output_dir=str(tmp_path), run="t", sample_every=0,
                            checkpoint_every=0, eval_samples=8)
    trained = train(config)
    gen = trained.generator
    z = torch.randn(5, gen.z_dim)
    y = torch.arange(5)
    w = gen.mapping(z, y)
    assert torch.equal(gen.mapping.truncate(w, 1.0), w)
    assert torch.allclose(gen.mapping.truncate(w, 0.0), gen.mapping.w_avg.expand_as(w))
    a = trained.sample(6, seed=4, psi=0.7)
    assert torch.equal(a, trained.sample(6, seed=4, psi=0.7)) and not torch.equal(a, trained.sample(6, seed=5))
    with pytest.raises(ValueError, match="psi"):
        trained.sample(2, psi=1.5)


def test_sampler_never_augments(tmp_path, monkeypatch):
    trained = train(StyleGANConfig(**TINY, max_steps=1, output_dir=str(tmp_path), run="s", sample_every=0,
                                   checkpoint_every=0, augment_p=1.0, ada=False))
    monkeypatch.setattr(aug, "augment", lambda *a, **k: pytest.fail("sampling called the augmentation"))
    monkeypatch.setattr(aug, "apply", lambda *a, **k: pytest.fail("sampling called the augmentation"))
    trained.sample(4, seed=0)
    trained.interpolate(3, space="w")
    trained.style_mix(2, 2, cutoff=2)


def test_a_64px_rgb_folder_trains_a_few_steps(tmp_path):
    from PIL import Image
    folder = tmp_path / "faces"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for i in range(20):
        Image.fromarray(rng.integers(0, 256, (80, 72, 3), dtype=np.uint8)).save(folder / f"{i:02d}.png")
    config = StyleGANConfig(**{**TINY, "batch_size": 4}, dataset=f"folder:{folder}", image_size=64,
                            conditional=False, max_steps=3, output_dir=str(tmp_path), data_dir=str(tmp_path / "d"),
                            run="f", sample_every=0, checkpoint_every=0, augment_p=0.5, cutout=True,
                            pl_weight=2.0, pl_interval=1, r1_interval=1)
    trained = train(config)
    assert trained.step == 3 and trained.image_shape() == (3, 64, 64)
    assert trained.sample(2, seed=0).shape == (2, 3, 64, 64)
    import pandas as pd
    hist = pd.read_csv(trained.history_path)
    assert {"p", "r_t", "loss_g", "loss_d"} <= set(hist.columns) and np.isfinite(hist[["loss_g", "loss_d"]]).all().all()


def test_ada_experiment_arms_differ_only_in_ada(tmp_path):
    from genlab.models.stylegan import ada_experiment
    config = StyleGANConfig(**TINY, output_dir=str(tmp_path), run="q", ada_demo_images=64, ada_demo_steps=3,
                            r1_gamma=5.0, ada_demo_r1_gamma=0.01)
    arms = ada_experiment.arms(config)
    assert set(arms) == {"off", "on"}
    off, on = arms["off"].to_dict(), arms["on"].to_dict()
    assert {k for k in off if off[k] != on[k]} == {"ada", "run"}
    assert on["ada"] and not off["ada"] and on["max_train"] == 64 and on["max_steps"] == 3 and on["augment_p"] == 0
    assert on["ada_kimg"] == config.ada_demo_kimg and on["run"] == "q_ada_on"
    assert on["r1_gamma"] == 0.01, "both arms take the experiment's weak R1, not the model's"
    with pytest.raises(ValueError, match="ada_demo_images"):
        ada_experiment.arms(config.replace(ada_demo_images=0))



def test_the_auxiliary_classifier_head_exists_only_with_ac_weight_and_trains_both_players():
    plain = build(StyleGANConfig(**TINY), 1, 10)[1]
    assert plain.classify is None and plain(torch.zeros(8, 1, 32, 32), torch.arange(8), with_classes=True)[1] is None
    config = StyleGANConfig(**TINY, ac_weight=0.5)
    torch.manual_seed(0)
    gen, disc = build(config, 1, 10)
    logits, classes = disc(torch.zeros(8, 1, 32, 32), torch.arange(8), with_classes=True)
    assert logits.shape == (8,) and classes.shape == (8, 10)
    head = disc.classify.weight.detach().clone()
    StyleGANStep(config, gen, disc)(0, torch.rand(8, 1, 32, 32) * 2 - 1, torch.arange(8))
    assert not torch.equal(head, disc.classify.weight)  # D's head learned from the reals
