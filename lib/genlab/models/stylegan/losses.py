"""StyleGAN2's losses: non-saturating logistic, lazy R1 and lazy path length (Karras et al. 2020).

D: softplus(D(G(z))) + softplus(-D(x)); G: softplus(-D(G(z))) (Goodfellow et al. 2014, non-saturating).
R1 (Mescheder et al. 2018): gamma / 2 * E ||grad_x D(x)||^2 on reals, taken w.r.t. the reals BEFORE
augmentation. Path length (StyleGAN2 eq. 4): E (||J_w^T y||_2 - a)^2, y ~ N(0, I) / sqrt(HW), with a
the moving average of the lengths. Lazy regularisation (StyleGAN2 §3.1): evaluated every k steps
and multiplied by k; Adam's lr and betas are rescaled by k / (k + 1) to match.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F


def d_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    return F.softplus(fake_logits).mean() + F.softplus(-real_logits).mean()


def g_loss(fake_logits: torch.Tensor) -> torch.Tensor:
    return F.softplus(-fake_logits).mean()


def r1_penalty(real: torch.Tensor, real_logits: torch.Tensor) -> torch.Tensor:
    """E ||d D / d x||^2 per image (``real`` must require grad); a graph is kept so the penalty is trainable."""
    (grad,) = torch.autograd.grad(real_logits.sum(), real, create_graph=True)
    return grad.square().sum(dim=(1, 2, 3)).mean()


def path_length_penalty(images: torch.Tensor, ws: torch.Tensor, pl_mean: torch.Tensor,
                        decay: float = 0.01) -> torch.Tensor:
    """(||J_w^T y|| - a)^2 with a updated in place as a moving average (StyleGAN2 eq. 4)."""
    noise = torch.randn_like(images) / math.sqrt(images.shape[2] * images.shape[3])
    (grad,) = torch.autograd.grad((images * noise).sum(), ws, create_graph=True)
    lengths = grad.square().sum(dim=2).mean(dim=1).sqrt()
    with torch.no_grad():
        pl_mean.lerp_(lengths.mean().to(pl_mean.dtype), decay)
    return (lengths - pl_mean.to(lengths.dtype)).square().mean()


def lazy_adam(params, lr: float, betas: tuple[float, float], interval: int) -> torch.optim.Adam:
    """Adam for a net regularised every ``interval`` steps: lr and betas rescaled by k / (k + 1)."""
    ratio = interval / (interval + 1) if interval else 1.0
    return torch.optim.Adam(params, lr=lr * ratio, betas=(betas[0] ** ratio, betas[1] ** ratio), eps=1e-8)
