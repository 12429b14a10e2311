"""Langevin dynamics on an energy E(x), and the replay buffer of persistent chains.

- :func:`langevin`: the unadjusted Langevin sampler of theory/ebm.md eq. (eq-langevin),
  ``x <- x - (step_size / 2) * clip(grad_x E(x)) + noise * z``, ``z ~ N(0, I)``, then
  ``x <- clamp(x, data range)``. Gradients are taken with respect to the *input* x
  (``torch.autograd.grad``), never accumulated into the parameters' ``.grad``.
  With ``noise=None`` the noise scale is ``sqrt(step_size)``: the exact discretisation
  whose stationary law approaches ``exp(-E(x)) / Z`` (eq-boltzmann) as the step shrinks.
  Image EBMs use a much smaller noise (Du & Mordatch, 2019): a low-temperature sampler.
- The sampler runs the model inside ``frozen(model, grad=True)`` (genlab.sampling.frozen): eval
  mode, parameters that take no gradient, grad mode on; all restored on exit.
- :class:`ReplayBuffer`: persistent chains (Du & Mordatch, 2019). Each batch starts from
  stored samples, a fraction ``reinit`` of which is replaced by fresh uniform noise.
"""

from __future__ import annotations

from typing import Callable

import torch
from torch import nn

from .frozen import frozen

EnergyFn = Callable[[torch.Tensor], torch.Tensor]


def energy_grad(energy: EnergyFn, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(E(x): B, grad_x sum E: same shape as x) without touching any parameter's ``.grad``.

    ``-grad_x E(x)`` is the score ``grad_x log p(x)`` of the Boltzmann density (theory/ebm.md
    eq. (eq-energy-score)): Z does not depend on x, so it drops out.
    """
    x = x.detach().requires_grad_(True)
    e = energy(x)
    (g,) = torch.autograd.grad(e.sum(), x)
    return e.detach(), g


def langevin(energy: EnergyFn, x: torch.Tensor, steps: int, step_size: float, noise: float | None = None,
             grad_clamp: float | None = None, data_range: tuple[float, float] | None = (-1.0, 1.0),
             mask: torch.Tensor | None = None, every: int = 0, generator: torch.Generator | None = None,
             model: nn.Module | None = None, quench: int = 0) -> torch.Tensor | tuple[torch.Tensor, list[torch.Tensor]]:
    """Run ``steps`` Langevin steps from ``x`` (B x ...) and return the final B x ... samples.

    theory/ebm.md eq. (eq-langevin): ``x <- x - (step_size/2) * g + noise * z`` with
    ``g = clamp(grad_x E(x), -grad_clamp, grad_clamp)`` (no clamp when ``grad_clamp`` is None),
    then ``x`` is clamped to ``data_range`` (None: unbounded). ``noise=None`` means
    ``sqrt(step_size)`` (exact Langevin); ``noise=0`` is plain gradient descent on the input.
    ``mask`` (broadcastable to x, 1 = free, 0 = fixed) restricts updates to some entries
    (in-painting). ``every > 0`` also returns the list of snapshots ``[x_0, x_every, ...,
    x_steps]``. ``generator`` (on x's device) makes the noise reproducible without touching
    the global RNG. If ``energy`` is an ``nn.Module`` (or ``model`` is given) the sampler
    runs inside :func:`genlab.sampling.frozen.frozen` (grad on) for it, so the model is left as it was found.
    The last ``quench`` steps add no noise: a zero-temperature finish that removes the chain's speckle.
    """
    if steps < 0:
        raise ValueError(f"parameter 'steps' = {steps} must be >= 0")
    if step_size < 0:
        raise ValueError(f"parameter 'step_size' = {step_size} must be >= 0")
    if noise is not None and noise < 0:
        raise ValueError(f"parameter 'noise' = {noise} must be >= 0 (or None for sqrt(step_size))")
    sigma = step_size ** 0.5 if noise is None else noise
    if model is None and isinstance(energy, nn.Module):
        model = energy
    x = x.detach().clone()
    if data_range is not None:
        x.clamp_(*data_range)
    snaps = [x.clone()] if every else []
    with frozen(model, grad=True):
        for k in range(1, steps + 1):
            _, g = energy_grad(energy, x)
            if grad_clamp is not None:
                g = g.clamp(-grad_clamp, grad_clamp)
            update = -0.5 * step_size * g
            if sigma > 0 and k <= steps - quench:
                update = update + sigma * torch.randn(x.shape, generator=generator, device=x.device, dtype=x.dtype)
            x = x + (update if mask is None else update * mask)
            if data_range is not None:
                x = x.clamp(*data_range)
            x = x.detach()
            if every and (k % every == 0 or k == steps):
                snaps.append(x.clone())
    return (x, snaps) if every else x


def uniform_noise(shape: tuple[int, ...], device: torch.device | str = "cpu",
                  generator: torch.Generator | None = None, low: float = -1.0, high: float = 1.0) -> torch.Tensor:
    """Fresh chain starts: uniform noise on the data range, float32 of ``shape``."""
    return torch.rand(shape, generator=generator, device=device) * (high - low) + low


class ReplayBuffer:
    """``size`` persistent samples (``images``: size x C x H x W float on the training device).

    :meth:`sample` draws a batch of stored samples and re-initialises each with
    probability ``reinit`` from uniform noise; :meth:`push` writes the chains back after
    Langevin. ``images`` is updated in place, so it can live in ``TrainState.extra``
    (and is therefore checkpointed and restored). Uses the global torch RNG, whose
    state ``genlab.train.fit`` checkpoints, so resumed runs draw the same batches.
    """

    def __init__(self, size: int, shape: tuple[int, ...], reinit: float = 0.05,
                 device: torch.device | str = "cpu", images: torch.Tensor | None = None):
        if size < 1:
            raise ValueError(f"parameter 'buffer_size' = {size} must be >= 1")
        if not 0.0 <= reinit <= 1.0:
            raise ValueError(f"parameter 'reinit' = {reinit} out of range; allowed [0, 1]")
        self.reinit = reinit
        self.images = images if images is not None else uniform_noise((size, *shape), device)

    def __len__(self) -> int:
        return self.images.shape[0]

    def sample(self, batch_size: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(x: B x C x H x W chain starts, idx: B buffer slots, fresh: B bool, True = re-initialised)."""
        device = self.images.device
        if batch_size > len(self):
            raise ValueError(f"a batch of {batch_size} chains needs a replay buffer at least that big "
                             f"(buffer_size = {len(self)}); raise buffer_size or lower batch_size")
        # distinct slots: writing chains back to a repeated slot would keep an arbitrary one of them,
        # and which one is not deterministic (a resumed run would drift from an uninterrupted one)
        idx = torch.randperm(len(self), device=device)[:batch_size]
        x = self.images[idx]
        fresh = torch.rand(batch_size, device=device) < self.reinit
        x = torch.where(fresh.view(-1, *[1] * (x.dim() - 1)), uniform_noise(x.shape, device), x)
        return x, idx, fresh

    @torch.no_grad()
    def push(self, idx: torch.Tensor, x: torch.Tensor) -> None:
        """Store chains ``x`` (B x C x H x W) back into slots ``idx`` (in place)."""
        self.images[idx] = x.detach().to(self.images.dtype)
