"""The reverse process: one loop, and one ``step`` per sampler (in the spirit of diffusers' schedulers).

:func:`sample` draws x_T ~ N(0, I), then for each of the sampler's timesteps t (descending)
asks the network for (x0_pred, eps_pred) and lets the sampler move x_t to x_s at the next
timestep s (``s = -1``: the clean image). Samplers only hold maths, never the network:

- :class:`Ancestral` (DDPM, Ho et al. 2020): every timestep, eq. (eq-reverse).
- :class:`DDIM` (Song et al. 2021): any subset of timesteps, eq. (eq-ddim-step); eta in [0, 1].
- :class:`DPMSolverPP` (Lu et al. 2022, DPM-Solver++(2M)): a second-order multistep solver of the
  probability-flow ODE in the data prediction x0; good images in 10-20 steps.

Equation labels refer to ``theory/diffusion.md``. All noise is drawn on the CPU from one
``torch.Generator`` so a seed gives the same images on every device.
"""

from __future__ import annotations

from typing import Callable, Protocol

import torch
from torch import nn

from .diffusion import GaussianDiffusion, timesteps
from .frozen import frozen

Callback = Callable[[int, int, torch.Tensor, torch.Tensor], None]
Noise = Callable[[], torch.Tensor]


class Sampler(Protocol):
    def timesteps(self, diffusion: GaussianDiffusion) -> list[int]:
        """Increasing timesteps the loop visits (it runs them from the last to the first)."""

    def step(self, diffusion: GaussianDiffusion, t: int, s: int, xt: torch.Tensor, x0: torch.Tensor,
             eps: torch.Tensor, noise: Noise) -> torch.Tensor:
        """x_s from x_t and the network's (x0_pred, eps_pred) at t; ``noise()`` draws z ~ N(0, I)."""


class Ancestral:
    """x_{t-1} = mu(x_t, x0_pred) + sigma_t z, sigma_t^2 = beta_tilde_t (eq. (eq-posterior-var)); no noise at t = 0.

    ``noise_scale = 0`` follows the mean path.
    """

    def __init__(self, noise_scale: float = 1.0):
        self.noise_scale = noise_scale

    def timesteps(self, diffusion: GaussianDiffusion) -> list[int]:
        return list(range(diffusion.num_steps))

    def step(self, diffusion, t, s, xt, x0, eps, noise):
        t_b = torch.full((xt.shape[0],), t, device=xt.device, dtype=torch.long)
        mean = diffusion.posterior_mean(x0, xt, t_b)
        if t == 0:
            return mean
        return mean + self.noise_scale * diffusion._at(diffusion.posterior_log_var, t_b).mul(0.5).exp() * noise()


class DDIM:
    """x_s = sqrt(ab_s) x0_pred + sqrt(1 - ab_s - sigma^2) eps_pred + sigma z, eq. (eq-ddim-step).

    sigma^2 = eta^2 (1 - ab_s)/(1 - ab_t) (1 - ab_t/ab_s): ``eta = 0`` is deterministic given x_T,
    ``eta = 1`` over all timesteps is the ancestral sampler. Timesteps: :func:`timesteps`.
    """

    def __init__(self, steps: int = 50, eta: float = 0.0, spacing: str = "uniform"):
        if eta < 0:
            raise ValueError(f"option 'eta' = {eta} must be >= 0 (0 = deterministic DDIM, 1 = DDPM-like)")
        self.steps, self.eta, self.spacing = steps, eta, spacing

    def timesteps(self, diffusion: GaussianDiffusion) -> list[int]:
        return timesteps(diffusion.num_steps, self.steps, self.spacing).tolist()

    def step(self, diffusion, t, s, xt, x0, eps, noise):
        ab_t = diffusion.alpha_bar[t]
        ab_s = diffusion.alpha_bar[s] if s >= 0 else torch.ones((), device=ab_t.device)
        sigma = self.eta * ((1 - ab_s) / (1 - ab_t) * (1 - ab_t / ab_s)).clamp(min=0).sqrt()
        x = ab_s.sqrt() * x0 + (1 - ab_s - sigma ** 2).clamp(min=0).sqrt() * eps
        if s >= 0 and self.eta > 0:
            x = x + sigma * noise()
        return x


class DPMSolverPP:
    """DPM-Solver++(2M), Lu et al. 2022 ("DPM-Solver++: Fast Solver for Guided Sampling of Diffusion
    Probabilistic Models", Algorithm 2), with the midpoint form of the second-order correction.

    With alpha = sqrt(ab), sigma = sqrt(1 - ab) and lambda = log(alpha / sigma) (half the log-SNR,
    eq. (eq-snr)), one step from t to s (h = lambda_s - lambda_t > 0) is

        x_s = (sigma_s / sigma_t) x_t - alpha_s (e^{-h} - 1) D,
        D = x0_t                                     (first order: the first step and the last),
        D = x0_t + (x0_t - x0_prev) / (2 r),  r = (lambda_t - lambda_prev) / h   (second order).

    The last step goes to the clean image (sigma = 0), where the update is x0_t itself. The solver
    keeps the previous x0 prediction between steps; :meth:`timesteps` starts a fresh solve.
    """

    def __init__(self, steps: int = 20, spacing: str = "uniform"):
        self.steps, self.spacing = steps, spacing
        self._prev: tuple[torch.Tensor, torch.Tensor] | None = None

    def timesteps(self, diffusion: GaussianDiffusion) -> list[int]:
        self._prev = None
        return timesteps(diffusion.num_steps, self.steps, self.spacing).tolist()

    @staticmethod
    def _alpha_sigma_lambda(diffusion: GaussianDiffusion, t: int) -> tuple[torch.Tensor, ...]:
        ab = diffusion.alpha_bar[t]
        alpha, sigma = ab.sqrt(), (1 - ab).sqrt()
        return alpha, sigma, alpha.log() - sigma.log()

    def step(self, diffusion, t, s, xt, x0, eps, noise):
        if s < 0:
            return x0
        _, sigma_t, lam_t = self._alpha_sigma_lambda(diffusion, t)
        alpha_s, sigma_s, lam_s = self._alpha_sigma_lambda(diffusion, s)
        h = lam_s - lam_t
        d = x0
        if self._prev is not None:
            lam_prev, x0_prev = self._prev
            r = (lam_t - lam_prev) / h
            d = x0 + (x0 - x0_prev) / (2 * r)
        self._prev = (lam_t, x0)
        return (sigma_s / sigma_t) * xt - alpha_s * torch.expm1(-h) * d


def sample(diffusion: GaussianDiffusion, model: nn.Module, shape: tuple[int, ...], sampler: Sampler, *,
           y: torch.Tensor | None = None, guidance: float | None = None, null_class: int | None = None,
           generator: torch.Generator | None = None, device=None, clip: bool = True,
           callback: Callback | None = None) -> torch.Tensor:
    """x_0 (``shape``, B x C x H x W float32) from the reverse process run by ``sampler``.

    ``y``/``guidance``/``null_class``: classifier-free guidance (:meth:`GaussianDiffusion.model_output`).
    ``callback(i, t, xt, x0_pred)`` sees every step (for trajectories). The model is frozen
    while sampling and handed back as it was.
    """
    device = device or diffusion.betas.device

    def noise() -> torch.Tensor:
        return torch.randn(shape, generator=generator).to(device)

    ts = sampler.timesteps(diffusion)
    with frozen(model):
        x = noise()
        for i in reversed(range(len(ts))):
            t = torch.full((shape[0],), ts[i], device=device, dtype=torch.long)
            out = diffusion.model_output(model, x, t, y, guidance, null_class)
            x0, eps = diffusion.predict(out, x, t, clip)
            if callback is not None:
                callback(len(ts) - 1 - i, ts[i], x, x0)
            x = sampler.step(diffusion, ts[i], ts[i - 1] if i > 0 else -1, x, x0, eps, noise)
    return x
