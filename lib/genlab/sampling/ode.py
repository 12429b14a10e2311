"""ODE solvers for flows: integrate dx/dt = v(x, t) from t = 0 (noise) to t = 1 (data), one step object each.

Like the diffusion samplers' ``step`` (:mod:`genlab.sampling.samplers`), a solver holds only maths and
never the network: :func:`solve` hands it a velocity field ``f(x, t) -> dx/dt`` and a time grid.

- :class:`Euler` (1st order, 1 evaluation per step), :class:`Midpoint` and :class:`Heun` (2nd order,
  2 per step) on a fixed grid (theory/flow.md, eq. (eq-euler-error));
- :class:`Dopri5`: the adaptive Dormand-Prince 5(4) pair with error control (``rtol``, ``atol``), the
  "exact" reference a fixed-step sample is compared with.

**NFE** (number of function evaluations) counts calls of the field. With classifier-free guidance one
call evaluates the network on one batch of 2B (conditional and null labels together,
:func:`genlab.sampling.guidance.guided`), so NFE counts network evaluations on a guided batch, the
unit in which flow and diffusion samplers are compared.
"""

from __future__ import annotations

from typing import Callable

import torch

from .frozen import frozen
from .guidance import guided

Field = Callable[[torch.Tensor, float], torch.Tensor]
SOLVERS = ("euler", "midpoint", "heun", "dopri5")
GRIDS = ("uniform", "late")


class Counted:
    """A velocity field that counts its evaluations (``nfe``)."""

    def __init__(self, f: Field):
        self.f, self.nfe = f, 0

    def __call__(self, x: torch.Tensor, t: float) -> torch.Tensor:
        self.nfe += 1
        return self.f(x, t)


def time_grid(steps: int, spacing: str = "uniform") -> list[float]:
    """``steps + 1`` increasing times from 0 to 1: ``uniform``, or ``late`` (t_i = 1 - (1 - i/N)^2: finer
    steps near the data end, where the field of a few-step sample curves most)."""
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise ValueError(f"option 'steps' = {steps!r} must be a whole number >= 1")
    if spacing not in GRIDS:
        raise ValueError(f"option 'grid' = {spacing!r} unknown; choose one of {', '.join(GRIDS)}")
    u = torch.linspace(0, 1, steps + 1, dtype=torch.float64)
    return (u if spacing == "uniform" else 1 - (1 - u) ** 2).tolist()


class Euler:
    """x_s = x_t + (s - t) v(x_t, t); local error O(h^2), eq. (eq-euler-error)."""

    evals_per_step = 1

    def step(self, f: Field, t: float, s: float, x: torch.Tensor) -> torch.Tensor:
        return x + (s - t) * f(x, t)


class Midpoint:
    """x_s = x_t + h v(x_t + h/2 v(x_t, t), t + h/2), h = s - t (explicit midpoint, 2nd order)."""

    evals_per_step = 2

    def step(self, f, t, s, x):
        h = s - t
        return x + h * f(x + 0.5 * h * f(x, t), t + 0.5 * h)


class Heun:
    """x_s = x_t + h/2 (v(x_t, t) + v(x_t + h v(x_t, t), s)) (explicit trapezoid, 2nd order).

    ``euler_last`` (Karras et al. 2022's sampler): the step that ends at the data (s = 1) is an Euler step,
    so the field is never evaluated at t = 1, where a network trained on logit-normal times has seen almost
    no data and where one evaluation is saved: ``steps`` steps cost ``2 steps - 1`` evaluations.
    """

    evals_per_step = 2

    def __init__(self, euler_last: bool = False):
        self.euler_last = euler_last

    def step(self, f, t, s, x):
        h = s - t
        k1 = f(x, t)
        if self.euler_last and s >= 1.0:
            return x + h * k1
        k2 = f(x + h * k1, s)
        return x + 0.5 * h * (k1 + k2)


class Dopri5:
    """Adaptive Dormand-Prince 5(4) with first-same-as-last; ``step`` integrates the whole interval.

    A step is accepted when the RMS of ``err / (atol + rtol * max(|x|, |x_new|))`` over all elements is
    at most 1 (the rule of common ODE libraries); the next step size is ``h * clip(0.9 err^(-1/5), 0.2, 10)``.
    """

    evals_per_step = None  # decided by the tolerances
    C = (0.0, 1 / 5, 3 / 10, 4 / 5, 8 / 9, 1.0, 1.0)
    A = ((), (1 / 5,), (3 / 40, 9 / 40), (44 / 45, -56 / 15, 32 / 9),
         (19372 / 6561, -25360 / 2187, 64448 / 6561, -212 / 729),
         (9017 / 3168, -355 / 33, 46732 / 5247, 49 / 176, -5103 / 18656),
         (35 / 384, 0.0, 500 / 1113, 125 / 192, -2187 / 6784, 11 / 84))
    B5 = (35 / 384, 0.0, 500 / 1113, 125 / 192, -2187 / 6784, 11 / 84, 0.0)
    B4 = (5179 / 57600, 0.0, 7571 / 16695, 393 / 640, -92097 / 339200, 187 / 2100, 1 / 40)

    def __init__(self, rtol: float = 1e-5, atol: float = 1e-5, first_step: float = 0.05, max_steps: int = 10_000):
        if rtol <= 0 or atol <= 0:
            raise ValueError(f"options 'rtol' = {rtol} and 'atol' = {atol} must be > 0")
        self.rtol, self.atol, self.first_step, self.max_steps = rtol, atol, first_step, max_steps
        self.accepted = self.rejected = 0

    def step(self, f, t, s, x):
        h, k1 = min(self.first_step, s - t), f(x, t)
        for _ in range(self.max_steps):
            if t >= s:
                return x
            h = min(h, s - t)
            ks = [k1]
            for i in range(1, 7):
                xi = x + h * sum(a * k for a, k in zip(self.A[i], ks) if a)
                ks.append(f(xi, t + self.C[i] * h))
            x5 = xi  # the 7th stage point is the 5th-order solution (A[6] = B5)
            err = h * sum((b5 - b4) * k for b5, b4, k in zip(self.B5, self.B4, ks) if b5 != b4)
            scale = self.atol + self.rtol * torch.maximum(x.abs(), x5.abs())
            ratio = float((err / scale).float().pow(2).mean().sqrt())
            if ratio <= 1.0:
                t, x, k1 = t + h, x5, ks[6]
                self.accepted += 1
            else:
                self.rejected += 1
            h *= min(10.0, max(0.2, 0.9 * max(ratio, 1e-10) ** -0.2))
        raise RuntimeError(f"dopri5: no solution within {self.max_steps} steps; loosen 'rtol'/'atol'")


def make_solver(name: str, **options) -> Euler | Midpoint | Heun | Dopri5:
    """A solver by name (:data:`SOLVERS`); ``options`` go to its class (Dopri5: rtol, atol; Heun: euler_last)."""
    classes = {"euler": Euler, "midpoint": Midpoint, "heun": Heun, "dopri5": Dopri5}
    if name not in classes:
        raise ValueError(f"option 'solver' = {name!r} unknown; choose one of {', '.join(SOLVERS)}")
    return classes[name](**options)


def nfe_of(solver: str, steps: int, euler_last: bool = False) -> int:
    """Evaluations a fixed-step solver spends on ``steps`` steps from 0 to 1 (Heun and midpoint: 2 per step;
    Heun with ``euler_last``: one fewer)."""
    per = make_solver(solver).evals_per_step
    if per is None:
        raise ValueError("dopri5 chooses its own steps: read the NFE off a Counted field after solving")
    return per * steps - (1 if solver == "heun" and euler_last else 0)


def steps_for(solver: str, nfe: int) -> int:
    """Solver steps that spend exactly ``nfe`` evaluations (Heun's last step is Euler: 2 steps - 1)."""
    steps = (nfe + 1) // 2 if solver == "heun" else nfe // nfe_of(solver, 1)
    if steps < 1 or nfe_of(solver, steps, euler_last=True) != nfe:
        raise ValueError(f"{solver} cannot spend exactly {nfe} evaluations "
                         f"({'odd NFE only' if solver == 'heun' else 'even NFE only'})")
    return steps


def reachable_nfe(solver: str, nfe: int) -> int:
    """The largest NFE <= ``nfe`` that ``solver`` spends exactly (0 when none)."""
    per = nfe_of(solver, 1)
    if solver == "heun":
        return nfe if nfe % 2 else nfe - 1
    return nfe - nfe % per


def solve(f: Field, x: torch.Tensor, solver, grid: list[float],
          callback: Callable[[int, float, torch.Tensor], None] | None = None) -> torch.Tensor:
    """x at ``grid[-1]`` from x at ``grid[0]``, one ``solver.step`` per interval; ``callback(i, t, x)`` sees
    the state at every grid time (for trajectories)."""
    for i, (t, s) in enumerate(zip(grid[:-1], grid[1:])):
        if callback is not None:
            callback(i, t, x)
        x = solver.step(f, t, s, x)
    if callback is not None:
        callback(len(grid) - 1, grid[-1], x)
    return x


def velocity_field(model: torch.nn.Module, y: torch.Tensor | None = None, guidance: float | None = None,
                   null_class: int | None = None) -> Field:
    """f(x, t) = the (guided) network velocity at scalar time t, as float32."""
    def f(x: torch.Tensor, t: float) -> torch.Tensor:
        tb = torch.full((x.shape[0],), float(t), device=x.device)
        return guided(model, x, tb, y, guidance, null_class).float()
    return f


def sample_flow(model: torch.nn.Module, shape: tuple[int, ...], solver, grid: list[float], *,
                y: torch.Tensor | None = None, guidance: float | None = None, null_class: int | None = None,
                generator: torch.Generator | None = None, device=None, noise: torch.Tensor | None = None,
                callback=None) -> tuple[torch.Tensor, int]:
    """(x at t = 1, NFE) from noise x0 ~ N(0, I) (drawn on the CPU from ``generator``, or ``noise``).

    The model is frozen while sampling and handed back as it was.
    """
    x = noise if noise is not None else torch.randn(shape, generator=generator)
    f = Counted(velocity_field(model, y, guidance, null_class))
    with frozen(model):
        x = solve(f, x.to(device), solver, grid, callback)
    return x, f.nfe
