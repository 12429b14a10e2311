"""Conditional flow matching on the straight path (Lipman et al. 2023; Liu et al. 2023): the training side.

**Time convention** (all of genlab's flow code and ``theory/flow.md``): ``t = 0`` is noise, ``t = 1`` is
data. ``x0 ~ N(0, I)`` is the noise, ``x1`` a training image (beware: the DDPM's ``x0`` is the clean
image). The straight (conditional optimal-transport) path and its velocity, eq. (eq-straight-path):

    x_t = (1 - t) x0 + t x1,        u_t(x_t | x0, x1) = x1 - x0.

The network ``v_theta(x_t, t, y)`` regresses that velocity (eq. (eq-cfm-loss)); at sampling time an ODE
solver (:mod:`genlab.sampling.ode`) integrates ``dx/dt = v_theta`` from noise at 0 to an image at 1.

Choices worth measuring rather than assuming:

- time sampling: ``uniform`` t ~ U(0, 1), or ``logit-normal`` t = sigmoid(m + s n), n ~ N(0, 1)
  (Esser et al. 2024), which spends more of the training on the middle of the path;
- coupling: ``independent`` (noise and images paired at random) or ``ot``: each batch's noise is
  re-paired with its images by an exact minimum-cost assignment of squared distances (minibatch OT,
  Tong et al. 2023; Pooladian et al. 2023), which makes the paths cross less and the learned field straighter;
- ``reflow`` (Liu et al. 2023) trains on (noise, sample) pairs of a first flow; the pairs come in as
  ``x0`` and skip the coupling.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from scipy.optimize import linear_sum_assignment
from torch import nn

TIME_SAMPLINGS = ("uniform", "logit-normal")
COUPLINGS = ("independent", "ot")


def straight_path(x0: torch.Tensor, x1: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """x_t = (1 - t) x0 + t x1 with t (B) broadcast over each image; eq. (eq-straight-path)."""
    t = t.reshape(-1, *([1] * (x1.dim() - 1))).to(x1.dtype)
    return (1 - t) * x0 + t * x1


def path_velocity(x0: torch.Tensor, x1: torch.Tensor) -> torch.Tensor:
    """d/dt x_t of the straight path: x1 - x0, the same at every t; eq. (eq-straight-path)."""
    return x1 - x0


def sample_time(n: int, how: str = "uniform", *, device=None, generator: torch.Generator | None = None,
                mean: float = 0.0, std: float = 1.0) -> torch.Tensor:
    """n times in (0, 1): ``uniform`` or ``logit-normal`` (sigmoid of N(mean, std^2), Esser et al. 2024)."""
    if how == "uniform":
        return torch.rand(n, generator=generator, device=device)
    if how == "logit-normal":
        return torch.sigmoid(mean + std * torch.randn(n, generator=generator, device=device))
    raise ValueError(f"parameter 'time_sampling' = {how!r} unknown; choose one of {', '.join(TIME_SAMPLINGS)}")


def ot_pairing(x0: torch.Tensor, x1: torch.Tensor) -> torch.Tensor:
    """Indices ``perm`` so that pairing ``x0[perm[i]]`` with ``x1[i]`` minimises sum_i ||x0 - x1||^2.

    The exact assignment (Hungarian-type solver, ``scipy.optimize.linear_sum_assignment``) on the
    B x B matrix of squared distances, computed in float64 on the CPU: minibatch optimal transport
    with uniform weights, whose optimal plan is a permutation.
    """
    a, b = x0.detach().flatten(1).double().cpu(), x1.detach().flatten(1).double().cpu()
    cost = torch.cdist(b, a).pow(2).numpy()  # rows: images, columns: noise
    rows, cols = linear_sum_assignment(cost)
    perm = np.empty_like(cols)
    perm[rows] = cols
    return torch.as_tensor(perm, device=x0.device)


def couple(x0: torch.Tensor, x1: torch.Tensor, coupling: str) -> torch.Tensor:
    """The noise ``x0`` re-ordered to pair with ``x1`` as ``coupling`` says."""
    if coupling == "independent":
        return x0
    if coupling == "ot":
        return x0[ot_pairing(x0, x1)]
    raise ValueError(f"parameter 'coupling' = {coupling!r} unknown; choose one of {', '.join(COUPLINGS)}")


def cfm_loss(model: nn.Module, x1: torch.Tensor, y: torch.Tensor | None = None, *, time_sampling: str = "uniform",
             coupling: str = "independent", x0: torch.Tensor | None = None, p_uncond: float = 0.0,
             null_class: int | None = None, batch_size: int | None = None, rows: slice | None = None) -> torch.Tensor:
    """E ||v_theta(x_t, t, y) - (x1 - x0)||^2 over t, noise and labels; eq. (eq-cfm-loss), a scalar.

    ``x0``: given noise (reflow pairs; no coupling is applied), else drawn here and coupled.
    Labels are dropped to ``null_class`` with probability ``p_uncond`` (classifier-free guidance).
    Data parallel: ``x1`` (and ``y``) are ``rows`` of a global batch of ``batch_size``; t, the noise
    and the label drops are drawn for the whole global batch and sliced, so with the independent
    coupling the ranks together compute exactly the one-process loss. The OT coupling pairs each
    rank's rows among themselves (an assignment per shard, as multi-GPU OT-CFM does).
    """
    b = x1.shape[0]
    n, rows = (b, slice(0, b)) if batch_size is None else (batch_size, rows or slice(0, batch_size))
    t = sample_time(n, time_sampling, device=x1.device)[rows]
    if x0 is None:
        x0 = couple(torch.randn((n, *x1.shape[1:]), device=x1.device, dtype=x1.dtype)[rows], x1, coupling)
    if y is not None and p_uncond > 0:
        if null_class is None:
            raise ValueError("p_uncond > 0 needs null_class (the model's 'no class' label index)")
        drop = torch.rand((n,), device=y.device)[rows] < p_uncond
        y = torch.where(drop, torch.full_like(y, null_class), y)
    return F.mse_loss(model(straight_path(x0, x1, t), t, y).float(), path_velocity(x0, x1).float())
