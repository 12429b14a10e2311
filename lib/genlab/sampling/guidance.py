"""Classifier-free guidance (Ho & Salimans, 2022), the one rule the diffusion and the flow samplers share.

``out = out_uncond + w * (out_cond - out_uncond)`` for any network output that is linear in the
score (noise eps, v, or a flow velocity): ``w = 0`` is the unconditional model, ``w = 1`` the plain
conditional one, ``w > 1`` guided (Ho & Salimans write the same rule with ``1 + w``). The
unconditional branch is the network with the label set to its learned null class.
"""

from __future__ import annotations

import torch
from torch import nn


def guided(model: nn.Module, x: torch.Tensor, t: torch.Tensor, y: torch.Tensor | None, guidance: float | None,
           null_class: int | None) -> torch.Tensor:
    """model(x, t, y), guided when ``guidance`` is a number other than 1 (one network call in every case).

    Both branches run as one batch of 2B (conditional, then labels set to ``null_class``), so a guided
    evaluation costs one call of the network: the unit in which samplers count their NFE.
    """
    if y is None or guidance is None or guidance == 1.0:
        return model(x, t, y)
    if null_class is None:
        raise ValueError("guidance needs null_class (the model's 'no class' label index)")
    if guidance == 0.0:
        return model(x, t, torch.full_like(y, null_class))
    out = model(torch.cat([x, x]), torch.cat([t, t]), torch.cat([y, torch.full_like(y, null_class)]))
    cond, uncond = out.float().chunk(2)
    return uncond + guidance * (cond - uncond)
