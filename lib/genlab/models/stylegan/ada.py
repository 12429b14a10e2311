"""Adaptive discriminator augmentation: the controller of p (ADA paper §3, eq. 1's r_t heuristic).

r_t = E[sign(D_train)] over the reals D saw since the last update (on every rank); every ``interval`` minibatches
p <- clamp(p + sign(r_t - target) * (batch * interval) / (ada_kimg * 1000), 0, 1), so p can move
from 0 to 1 in ada_kimg thousand images (the official default 500 kimg is far too slow for short runs).
Its state lives in tensors so that it is checkpointed with the run and resumes exactly.
"""

from __future__ import annotations

import torch

from ...train import distributed


class AdaController:
    def __init__(self, target: float = 0.6, interval: int = 4, ada_kimg: float = 20.0, batch_size: int = 32,
                 p: float = 0.0, enabled: bool = True):
        self.target, self.interval, self.enabled = target, interval, enabled
        self.step_size = batch_size * interval / (ada_kimg * 1000)
        self.p = torch.tensor(float(p), dtype=torch.float64)
        self.sums = torch.zeros(2, dtype=torch.float64)  # (sum of sign(D(real)), count) since the last update
        self.rt = torch.tensor(0.0, dtype=torch.float64)  # the last r_t

    def state(self) -> dict[str, torch.Tensor]:
        """The tensors to keep in the checkpoint (``TrainState.extra``; updated in place)."""
        return {"ada_p": self.p, "ada_sums": self.sums, "ada_rt": self.rt}

    def accumulate(self, real_logits: torch.Tensor) -> None:
        self.sums += torch.stack([real_logits.detach().sign().sum().double().cpu(),
                                  torch.tensor(float(real_logits.numel()), dtype=torch.float64)])

    def update(self, step: int) -> None:
        """After minibatch ``step`` (0-based): every ``interval`` minibatches, move p toward r_t = target."""
        if (step + 1) % self.interval or self.sums[1] == 0:
            return
        sums = distributed.sum_over_ranks(self.sums)  # r_t over every rank's reals: one p for all ranks
        self.rt.fill_(sums[0] / sums[1])
        if self.enabled:
            self.p.add_(torch.sign(self.rt - self.target) * self.step_size).clamp_(0.0, 1.0)
        self.sums.zero_()
