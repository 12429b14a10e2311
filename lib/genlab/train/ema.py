"""Exponential moving average of a model's weights (used for sampling)."""

from __future__ import annotations

import copy
from typing import Any, Iterable

import torch
from torch import nn


@torch.no_grad()
def recalibrate_batchnorm(model: nn.Module, batches: Iterable[tuple[torch.Tensor, ...]]) -> nn.Module:
    """Recompute every BatchNorm's running statistics for the model's current weights.

    An EMA copy averages the weights but inherits the raw model's running statistics, which do not
    belong to the averaged weights (grey backgrounds, lower accuracy); forward passes over ``batches``
    in train mode (cumulative averages: ``momentum = None``) give the matching ones. The model comes
    back in eval mode.
    """
    norms = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    momenta = [m.momentum for m in norms]
    for m in norms:
        m.reset_running_stats()
        m.momentum = None
    model.train()
    for inputs in batches:
        model(*inputs)
    for m, momentum in zip(norms, momenta):
        m.momentum = momentum
    return model.eval()


class EMA:
    """Exponential moving average of a model's weights: ``shadow = d * shadow + (1 - d) * model``.

    The effective decay warms up as ``min(decay, (1 + n) / (10 + n))`` over the first
    updates so early averages are not dominated by the random initialisation.
    """

    def __init__(self, model: nn.Module, decay: float = 0.999, warmup: bool = True):
        if not 0.0 <= decay < 1.0:
            raise ValueError(f"parameter 'ema_decay' = {decay} out of range; allowed [0, 1)")
        self.decay = decay
        self.warmup = warmup
        self.num_updates = 0
        self.shadow = copy.deepcopy(model).eval()
        self.shadow.requires_grad_(False)

    def current_decay(self) -> float:
        if not self.warmup:
            return self.decay
        return min(self.decay, (1 + self.num_updates) / (10 + self.num_updates))

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        d = self.current_decay()
        for s, p in zip(self.shadow.parameters(), model.parameters()):
            s.lerp_(p.detach(), 1.0 - d)
        for s, b in zip(self.shadow.buffers(), model.buffers()):
            s.copy_(b)
        self.num_updates += 1

    def state_dict(self) -> dict[str, Any]:
        return {"shadow": self.shadow.state_dict(), "num_updates": self.num_updates, "decay": self.decay}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.shadow.load_state_dict(state["shadow"])
        self.num_updates = int(state["num_updates"])
