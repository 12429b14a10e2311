"""Gaussian diffusion: schedules, forward noising, the training loss, and model output -> (x0, eps).

The samplers that run the reverse process live in :mod:`genlab.sampling.samplers`.

The network is separate from the process: :class:`GaussianDiffusion` owns the schedule
constants (computed in float64, stored as float32 buffers so they follow ``.to(device)``)
and takes any ``model(xt, t, y) -> B x C x H x W`` (e.g. :class:`genlab.models.ddpm.unet.UNet`).

Indexing: code timesteps ``t = 0 .. num_steps-1`` are the paper's ``t = 1 .. T``;
``alpha_bar[t]`` is the paper's :math:`\\bar\\alpha_{t+1}`, and "t = -1" is the clean image.
Equation labels refer to ``theory/diffusion.md``.

Classifier-free guidance (eq. (eq-cfg)): ``eps = eps_uncond + w * (eps_cond - eps_uncond)``;
``w = 0`` is the unconditional model, ``w = 1`` the plain conditional one, ``w > 1`` guided
(Ho & Salimans write the same rule with ``1 + w``).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

SCHEDULES = ("linear", "cosine")
PREDICTIONS = ("eps", "v")
SPACINGS = ("uniform", "quadratic", "leading")


def linear_betas(num_steps: int, beta_start: float = 1e-4, beta_end: float = 0.02) -> torch.Tensor:
    """beta_t rising linearly from beta_start to beta_end (Ho et al.), float64; eq. (eq-linear-schedule)."""
    return torch.linspace(beta_start, beta_end, num_steps, dtype=torch.float64)


def cosine_betas(num_steps: int, s: float = 0.008, max_beta: float = 0.999) -> torch.Tensor:
    """Nichol & Dhariwal: alpha_bar(t) = cos^2(((t/T + s)/(1 + s)) pi/2) / f(0), float64; eq. (eq-cosine-schedule).

    beta_t = 1 - alpha_bar(t)/alpha_bar(t-1), clipped at ``max_beta`` to avoid a singular last step.
    """
    steps = torch.arange(num_steps + 1, dtype=torch.float64)
    f = torch.cos((steps / num_steps + s) / (1 + s) * math.pi / 2) ** 2
    alpha_bar = f / f[0]
    return (1 - alpha_bar[1:] / alpha_bar[:-1]).clamp(max=max_beta)


def make_betas(schedule: str, num_steps: int, beta_start: float = 1e-4, beta_end: float = 0.02) -> torch.Tensor:
    if schedule == "linear":
        return linear_betas(num_steps, beta_start, beta_end)
    if schedule == "cosine":
        return cosine_betas(num_steps)
    raise ValueError(f"parameter 'schedule' = {schedule!r} unknown; choose one of {', '.join(SCHEDULES)}")


def timesteps(num_steps: int, steps: int, spacing: str = "uniform") -> torch.Tensor:
    """``steps`` increasing timesteps in [0, num_steps-1].

    ``uniform``: evenly spaced from 0 to num_steps-1 (pure noise); ``quadratic`` (DDIM paper):
    t_i ~ (i/S)^2, denser near t = 0 where the image details are decided; ``leading``: multiples of
    num_steps // steps from 0 (diffusers' default for DDIM; it stops short of num_steps-1).
    ``steps = num_steps`` gives every timestep.
    """
    if not 1 <= steps <= num_steps:
        raise ValueError(f"option 'steps' = {steps} out of range; choose 1..{num_steps} (the model's num_steps)")
    if spacing not in SPACINGS:
        raise ValueError(f"option 'spacing' = {spacing!r} unknown; choose one of {', '.join(SPACINGS)}")
    if spacing == "leading":
        return torch.arange(steps) * (num_steps // steps)
    if steps == 1:
        return torch.tensor([num_steps - 1])
    u = torch.linspace(0, 1, steps, dtype=torch.float64)
    ts = ((num_steps - 1) * (u if spacing == "uniform" else u ** 2)).round().long()
    for i in range(1, steps):  # quadratic spacing rounds several early steps onto one t: push them apart
        ts[i] = max(int(ts[i]), int(ts[i - 1]) + 1)
    return ts


def drop_labels(y: torch.Tensor, p_uncond: float, null_class: int,
                generator: torch.Generator | None = None) -> torch.Tensor:
    """Replace each label by ``null_class`` with probability ``p_uncond`` (trains the unconditional model too)."""
    if p_uncond <= 0:
        return y
    drop = torch.rand(y.shape, generator=generator, device=y.device) < p_uncond
    return torch.where(drop, torch.full_like(y, null_class), y)


class GaussianDiffusion(nn.Module):
    """Schedule constants as buffers (all shaped ``num_steps``), and the maths that uses them."""

    def __init__(self, num_steps: int = 1000, schedule: str = "linear", beta_start: float = 1e-4,
                 beta_end: float = 0.02, prediction: str = "eps"):
        super().__init__()
        if prediction not in PREDICTIONS:
            raise ValueError(f"parameter 'prediction' = {prediction!r} unknown; choose one of {', '.join(PREDICTIONS)}")
        self.num_steps, self.schedule, self.prediction = num_steps, schedule, prediction
        betas = make_betas(schedule, num_steps, beta_start, beta_end)  # float64 throughout
        alphas = 1 - betas
        alpha_bar = torch.cumprod(alphas, 0)  # eq. (eq-forward-marginal)
        alpha_bar_prev = torch.cat([torch.ones(1, dtype=torch.float64), alpha_bar[:-1]])
        posterior_var = betas * (1 - alpha_bar_prev) / (1 - alpha_bar)  # eq. (eq-posterior-var)
        consts = {
            "betas": betas, "alphas": alphas, "alpha_bar": alpha_bar, "alpha_bar_prev": alpha_bar_prev,
            "sqrt_alpha_bar": alpha_bar.sqrt(), "sqrt_one_minus_alpha_bar": (1 - alpha_bar).sqrt(),
            "log_snr": alpha_bar.log() - (1 - alpha_bar).log(),  # eq. (eq-snr)
            "posterior_var": posterior_var,
            # log of the posterior variance with its t = 0 value (0) replaced by the next one
            "posterior_log_var": torch.cat([posterior_var[1:2], posterior_var[1:]]).log(),
            # eq. (eq-posterior-mean): mu = coef_x0 * x0 + coef_xt * xt
            "posterior_coef_x0": betas * alpha_bar_prev.sqrt() / (1 - alpha_bar),
            "posterior_coef_xt": (1 - alpha_bar_prev) * alphas.sqrt() / (1 - alpha_bar),
        }
        for name, value in consts.items():
            self.register_buffer(name, value.float(), persistent=False)

    @staticmethod
    def _at(values: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """Gather per-sample constants at t (B) and shape them B x 1 x 1 x 1 for broadcasting."""
        return values[t][:, None, None, None]

    # ------------------------------------------------------------------ forward process and loss

    def q_sample(self, x0: torch.Tensor, t: torch.Tensor, eps: torch.Tensor) -> torch.Tensor:
        """x_t = sqrt(alpha_bar_t) x0 + sqrt(1 - alpha_bar_t) eps; eq. (eq-forward-marginal). All B x C x H x W."""
        return self._at(self.sqrt_alpha_bar, t) * x0 + self._at(self.sqrt_one_minus_alpha_bar, t) * eps

    def v_target(self, x0: torch.Tensor, t: torch.Tensor, eps: torch.Tensor) -> torch.Tensor:
        """v = sqrt(alpha_bar) eps - sqrt(1 - alpha_bar) x0; eq. (eq-v-param)."""
        return self._at(self.sqrt_alpha_bar, t) * eps - self._at(self.sqrt_one_minus_alpha_bar, t) * x0

    def loss(self, model: nn.Module, x0: torch.Tensor, y: torch.Tensor | None = None, p_uncond: float = 0.0,
             null_class: int | None = None, batch_size: int | None = None,
             rows: slice | None = None) -> torch.Tensor:
        """Simple loss E_{t, eps} ||target - model(x_t, t, y)||^2 (eq. (eq-simple-loss)), a scalar.

        target = eps (or v for ``prediction='v'``); t is uniform over all steps; labels are
        dropped to ``null_class`` with probability ``p_uncond`` for classifier-free guidance.
        Data parallel: x0 (and y) are ``rows`` of a global batch of ``batch_size``; t, eps and the
        label drops are drawn for the whole global batch and sliced, so the ranks together
        compute exactly the one-process loss.
        """
        b = x0.shape[0]
        n, rows = (b, slice(0, b)) if batch_size is None else (batch_size, rows or slice(0, batch_size))
        t = torch.randint(0, self.num_steps, (n,), device=x0.device)[rows]
        eps = torch.randn((n, *x0.shape[1:]), device=x0.device, dtype=x0.dtype)[rows]
        xt = self.q_sample(x0, t, eps)
        if y is not None and p_uncond > 0:
            if null_class is None:
                raise ValueError("p_uncond > 0 needs null_class (the model's 'no class' label index)")
            drop = torch.rand((n,), device=y.device)[rows] < p_uncond
            y = torch.where(drop, torch.full_like(y, null_class), y)
        target = eps if self.prediction == "eps" else self.v_target(x0, t, eps)
        return F.mse_loss(model(xt, t, y).float(), target)

    # ------------------------------------------------------------------ model output -> (x0, eps)

    def predict(self, out: torch.Tensor, xt: torch.Tensor, t: torch.Tensor, clip: bool = True
                ) -> tuple[torch.Tensor, torch.Tensor]:
        """Network output -> (x0_pred, eps_pred). x0 from eps: eq. (eq-x0-from-eps); from v: eq. (eq-v-param).

        With ``clip`` x0_pred is clamped to the data range [-1, 1] and eps_pred recomputed to match it.
        """
        a, s = self._at(self.sqrt_alpha_bar, t), self._at(self.sqrt_one_minus_alpha_bar, t)
        out = out.float()
        if self.prediction == "eps":
            eps, x0 = out, (xt - s * out) / a
        else:
            x0, eps = a * xt - s * out, s * xt + a * out
        if clip:
            x0 = x0.clamp(-1, 1)
            eps = (xt - a * x0) / s
        return x0, eps

    def model_output(self, model: nn.Module, xt: torch.Tensor, t: torch.Tensor, y: torch.Tensor | None,
                     guidance: float | None, null_class: int | None) -> torch.Tensor:
        """model(xt, t, y), guided when ``guidance`` is a number other than 1; eq. (eq-cfg).

        Both branches run as one batch of 2B (conditional, then labels set to ``null_class``).
        """
        if y is None or guidance is None or guidance == 1.0:
            return model(xt, t, y)
        if null_class is None:
            raise ValueError("guidance needs null_class (the model's 'no class' label index)")
        if guidance == 0.0:
            return model(xt, t, torch.full_like(y, null_class))
        out = model(torch.cat([xt, xt]), torch.cat([t, t]), torch.cat([y, torch.full_like(y, null_class)]))
        cond, uncond = out.float().chunk(2)
        return uncond + guidance * (cond - uncond)

    def posterior_mean(self, x0: torch.Tensor, xt: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """Mean of q(x_{t-1} | x_t, x0); eq. (eq-posterior-mean)."""
        return self._at(self.posterior_coef_x0, t) * x0 + self._at(self.posterior_coef_xt, t) * xt
