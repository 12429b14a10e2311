"""The flow's ODE solvers pinned against torchdiffeq, their orders, NFE counting, and the CFM training maths."""

from __future__ import annotations

import math

import pytest
import torch

from genlab.models.unet import UNet
from genlab.sampling import flow_matching as fm
from genlab.sampling import ode

torchdiffeq = pytest.importorskip("torchdiffeq")


class Zero(torch.nn.Module):
    def forward(self, x, t, y=None):
        return torch.zeros_like(x)


@pytest.fixture(scope="module")
def field():
    """A small conditional U-Net with random (not zero-initialised) weights: a curved, guided field."""
    torch.manual_seed(0)
    net = UNet(1, 8, 8, (1, 2), 1, (4,), attn_heads=2, num_classes=3, groups=1)
    with torch.no_grad():
        for p in net.parameters():
            p.normal_(0, 0.2)
    net.eval()
    x0 = torch.randn(4, 1, 8, 8, generator=torch.Generator().manual_seed(1))
    return ode.velocity_field(net, torch.tensor([0, 1, 2, 0]), 2.0, 3), x0


@pytest.mark.parametrize("ours, theirs", [("euler", "euler"), ("midpoint", "midpoint"), ("heun", "heun2")])
@pytest.mark.parametrize("spacing", ["uniform", "late"])
def test_fixed_step_solvers_match_torchdiffeq(field, ours, theirs, spacing):
    f, x0 = field
    grid = ode.time_grid(6, spacing)
    with torch.no_grad():
        got = ode.solve(f, x0, ode.make_solver(ours), grid)
        want = torchdiffeq.odeint(lambda t, x: f(x, float(t)), x0, torch.tensor(grid), method=theirs)[-1]
        moved = (got - x0).abs().max()
    assert moved > 0.1  # the field does move the state: the comparison is not between two copies of x0
    assert (got - want).abs().max() < 1e-4


def test_dopri5_matches_torchdiffeq_and_orders_hold(field):
    f, x0 = field
    with torch.no_grad():
        counted, solver = ode.Counted(f), ode.make_solver("dopri5", rtol=1e-6, atol=1e-6)
        exact = ode.solve(counted, x0, solver, [0.0, 1.0])
        want = torchdiffeq.odeint(lambda t, x: f(x, float(t)), x0, torch.tensor([0.0, 1.0]), method="dopri5",
                                  rtol=1e-6, atol=1e-6)[-1]
        assert (exact - want).abs().max() < 1e-4
        assert counted.nfe == 1 + 6 * (solver.accepted + solver.rejected)  # FSAL: 6 new stages per try
        # global error ~ h^order: doubling the steps halves Euler's error and quarters Heun's and midpoint's
        for name, order in (("euler", 1), ("heun", 2), ("midpoint", 2)):
            errors = [(ode.solve(f, x0, ode.make_solver(name), ode.time_grid(k)) - exact).abs().max() for k in (6, 24)]
            assert math.log2(errors[0] / errors[1]) / 2 == pytest.approx(order, abs=0.2)


def test_nfe_counts_guided_batches(field):
    f, x0 = field
    for name, steps in (("euler", 5), ("heun", 4), ("midpoint", 3)):
        counted = ode.Counted(f)
        with torch.no_grad():
            ode.solve(counted, x0, ode.make_solver(name), ode.time_grid(steps))
        assert counted.nfe == ode.nfe_of(name, steps)
    assert ode.nfe_of("heun", 4) == 8 and ode.nfe_of("heun", 4, euler_last=True) == 7
    counted = ode.Counted(f)
    with torch.no_grad():
        ode.solve(counted, x0, ode.Heun(euler_last=True), ode.time_grid(4))
    assert counted.nfe == 7
    assert [ode.reachable_nfe("heun", k) for k in (1, 2, 8)] == [1, 1, 7]
    assert [ode.reachable_nfe("midpoint", k) for k in (1, 2, 9)] == [0, 2, 8]
    assert ode.steps_for("heun", 9) == 5 and ode.steps_for("midpoint", 8) == 4 and ode.steps_for("euler", 3) == 3
    with pytest.raises(ValueError, match="odd NFE"):
        ode.steps_for("heun", 8)
    calls = []
    net = lambda x, t, y: calls.append(x.shape[0]) or torch.zeros_like(x)  # noqa: E731
    f2 = ode.Counted(ode.velocity_field(net, torch.tensor([0, 1, 2]), 2.0, 3))
    ode.solve(f2, torch.zeros(3, 1, 2, 2), ode.Euler(), ode.time_grid(4))
    assert f2.nfe == 4 and calls == [6] * 4  # one call per evaluation, on the 2B guided batch
    calls.clear()
    _, nfe = ode.sample_flow(Zero(), (3, 1, 2, 2), ode.Heun(), ode.time_grid(2), noise=torch.zeros(3, 1, 2, 2))
    assert nfe == 4


def test_solver_options_are_checked():
    with pytest.raises(ValueError, match="'solver'"):
        ode.make_solver("rk4")
    with pytest.raises(ValueError, match="'steps'"):
        ode.time_grid(0)
    with pytest.raises(ValueError, match="'grid'"):
        ode.time_grid(4, "cosine")
    assert ode.time_grid(4) == [0.0, 0.25, 0.5, 0.75, 1.0]
    late = ode.time_grid(4, "late")
    assert late[0] == 0.0 and late[-1] == 1.0 and late[1] - late[0] > late[-1] - late[-2]


def test_straight_path_and_time_sampling():
    x0, x1 = torch.randn(5, 1, 3, 3), torch.randn(5, 1, 3, 3)
    t = torch.tensor([0.0, 1.0, 0.5, 0.25, 0.75])
    xt = fm.straight_path(x0, x1, t)
    assert torch.equal(xt[0], x0[0]) and torch.equal(xt[1], x1[1])  # t = 0 noise, t = 1 data
    assert torch.allclose(xt[2], (x0[2] + x1[2]) / 2)
    h = 1e-3  # the path's time derivative is the target velocity
    assert torch.allclose((fm.straight_path(x0, x1, t + h) - fm.straight_path(x0, x1, t - h)) / (2 * h),
                          fm.path_velocity(x0, x1), atol=1e-3)
    g = torch.Generator().manual_seed(0)
    u, ln = fm.sample_time(20_000, "uniform", generator=g), fm.sample_time(20_000, "logit-normal", generator=g)
    assert 0 < u.min() and u.max() < 1 and 0 < ln.min() and ln.max() < 1
    assert abs(ln.mean() - 0.5) < 0.01 and ln.std() < u.std()  # symmetric, concentrated on the middle
    with pytest.raises(ValueError, match="'time_sampling'"):
        fm.sample_time(3, "beta")


def test_ot_pairing_is_the_cheapest_permutation():
    g = torch.Generator().manual_seed(0)
    x0, x1 = torch.randn(64, 1, 4, 4, generator=g), torch.randn(64, 1, 4, 4, generator=g)
    perm = fm.ot_pairing(x0, x1)
    assert sorted(perm.tolist()) == list(range(64))
    cost = lambda p: ((x0[p] - x1) ** 2).sum()  # noqa: E731
    assert cost(perm) < cost(torch.arange(64))
    for _ in range(20):  # no random transposition improves it
        i, j = torch.randint(0, 64, (2,), generator=g).tolist()
        swapped = perm.clone()
        swapped[[i, j]] = perm[[j, i]]
        assert cost(swapped) >= cost(perm) - 1e-9
    a, b = torch.randn(50, 1), torch.randn(50, 1)  # in 1-D the optimal plan pairs in sorted order
    paired = a[fm.ot_pairing(a, b)]
    assert torch.equal(paired[b.flatten().argsort()].flatten(), a.flatten().sort().values)
    with pytest.raises(ValueError, match="'coupling'"):
        fm.couple(x0, x1, "sinkhorn")


def test_cfm_loss_shards_add_up_to_the_one_process_loss():
    torch.manual_seed(0)
    net = UNet(1, 8, 8, (1, 2), 1, (4,), attn_heads=2, num_classes=3, groups=1)
    x1, y = torch.randn(8, 1, 8, 8), torch.randint(0, 3, (8,))
    kw = dict(time_sampling="logit-normal", p_uncond=0.3, null_class=3)
    torch.manual_seed(5)
    full = fm.cfm_loss(net, x1, y, **kw)
    halves = []
    for rows in (slice(0, 4), slice(4, 8)):
        torch.manual_seed(5)
        halves.append(fm.cfm_loss(net, x1[rows], y[rows], batch_size=8, rows=rows, **kw))
    assert torch.allclose(full, sum(halves) / 2, rtol=1e-5)
    with pytest.raises(ValueError, match="null_class"):
        fm.cfm_loss(net, x1, y, p_uncond=0.5)


def test_cfm_loss_is_zero_for_the_exact_velocity_of_one_pair():
    """With x0 given (reflow pairs) and a model that returns x1 - x0, the loss vanishes at every t."""
    x0, x1 = torch.randn(4, 1, 2, 2), torch.randn(4, 1, 2, 2)
    model = lambda xt, t, y: x1 - x0  # noqa: E731
    assert fm.cfm_loss(model, x1, x0=x0, time_sampling="uniform") == 0
