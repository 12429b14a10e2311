"""Training an EBM by contrastive divergence with Langevin negatives from a replay buffer.

Each step draws chain starts from a replay buffer (~5 % fresh noise), runs Langevin
(genlab.sampling.langevin, theory/ebm.ipynb eq. (eq-langevin)) to get negatives x-, and minimises
``E(x+) - E(x-) + alpha * (E(x+)^2 + E(x-)^2)`` (eq. (eq-ebm-loss); its gradient is the
contrastive-divergence estimate of eq. (eq-cd-gradient)). Parameter gradients are clipped; the
buffer is checkpointed in ``TrainState.extra``. A divergence guard stops with advice when energies
or gradients blow up, keeping the last good checkpoint.

Data parallel (genlab.train.distributed): each rank keeps its own replay buffer and runs its own
Langevin chains from a rank-local random stream (seeded by seed, step and rank, so a resumed run
draws as an uninterrupted one would); energies' gradients are averaged over ranks before clipping;
the divergence guard decides on the largest |E| over all ranks. The checkpoint holds rank 0's
buffer: on resume (with any number of processes) every rank starts from it, and the ranks'
chains part again at the first step.
"""

from __future__ import annotations

import math
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from ...base.run_folder import RunFolder
from ...data import ImageData, to_uint8
from ...sampling.langevin import ReplayBuffer, langevin, uniform_noise
from ...train import distributed
from ...train.checkpoint import TrainState
from ...train.fit import DivergenceError
from ...train.precision import autocast
from ...train.recipe import Recipe
from ...train.timing import seconds_per_100
from .config import EBMConfig
from .nets import build
from .trained import TrainedEBM, ood_auroc


def cd_loss(e_pos: torch.Tensor, e_neg: torch.Tensor, alpha: float) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """theory/ebm.ipynb eq. (eq-ebm-loss): (loss, cd, reg) for energies e_pos, e_neg (B each).

    ``cd = mean E(x+) - mean E(x-)``: its parameter gradient is the contrastive-divergence
    estimate of the negative log-likelihood gradient (eq. (eq-cd-gradient)): push real
    energies down (positive phase), sampled energies up (negative phase).
    ``reg = mean(E(x+)^2 + E(x-)^2)`` keeps energies near 0 (the loss alone is shift-invariant).
    """
    cd = e_pos.mean() - e_neg.mean()
    reg = (e_pos.pow(2) + e_neg.pow(2)).mean()
    return cd + alpha * reg, cd, reg


def check_divergence(step: int, e_pos: torch.Tensor, e_neg: torch.Tensor, grad_norm: torch.Tensor,
                     config: EBMConfig, checkpoint: Path) -> None:
    """Raise :class:`DivergenceError` when energies or parameter gradients blow up (before the update)."""
    e_max = distributed.max_over_ranks(float(torch.maximum(e_pos.abs().max(), e_neg.abs().max())))
    g = float(grad_norm)
    if math.isfinite(e_max) and math.isfinite(g) and e_max <= config.max_energy:
        return
    what = (f"max |E| = {e_max:.3g} (max_energy = {config.max_energy:g})" if math.isfinite(g)
            else f"parameter gradient norm = {g}")
    raise DivergenceError(f"[ebm] training diverged at step {step}: {what}. Training stopped before this update; "
                          f"the last good checkpoint in {checkpoint} was kept (delete it to start over). "
                          f"Try: {config.divergence_advice()}")


def recipe(config: EBMConfig, data: ImageData, device: torch.device) -> Recipe:
    """The EBM's training: the energy net, Adam, the replay buffer and one contrastive-divergence step."""
    net = build(config, data.channels, data.num_classes).to(device)
    conditional = net.num_classes > 0
    opt = torch.optim.Adam(net.parameters(), lr=config.lr, betas=(config.beta1, config.beta2))
    shape = (data.channels, config.image_size, config.image_size)
    buffer = ReplayBuffer(config.buffer_size, shape, config.reinit, device)
    ckpt_path = RunFolder(config.run_dir).checkpoint

    def step(step: int, x0: torch.Tensor, y: torch.Tensor) -> dict[str, torch.Tensor]:
        with distributed.rank_rng(config.seed, step, device), autocast(device, config.amp):  # Langevin included
            return cd_step(step, x0, y)

    def cd_step(step: int, x0: torch.Tensor, y: torch.Tensor) -> dict[str, torch.Tensor]:
        b = x0.shape[0]
        x_pos = (x0 + config.data_noise * torch.randn_like(x0)).clamp(-1, 1)
        start, idx, fresh = buffer.sample(b)
        y_neg = y if conditional else None  # negatives of the same classes: E(x, y) pushed up where p(x | y) is low
        x_neg = langevin(lambda x: net(x, y_neg), start, config.langevin_steps, config.step_size, config.noise,
                         config.grad_clamp, model=net)
        buffer.push(idx, x_neg)
        f = net.logits(torch.cat([x_pos, x_neg]))
        e = net.energy_from_logits(f, torch.cat([y, y]) if conditional else None)
        e_pos, e_neg = e[:b], e[b:]
        loss, cd, reg = cd_loss(e_pos, e_neg, config.alpha)
        ce = F.cross_entropy(f[:b], y) if conditional else torch.zeros(())
        loss = loss + config.ce_weight * ce
        opt.zero_grad(set_to_none=True)
        loss.backward()
        distributed.average_gradients(net)
        grad_norm = nn.utils.clip_grad_norm_(net.parameters(), config.clip_grad)
        check_divergence(step + 1, e_pos.detach(), e_neg.detach(), grad_norm, config, ckpt_path)
        opt.step()
        return {"loss": loss.detach(), "e_pos": e_pos.mean().detach(), "e_neg": e_neg.mean().detach(),
                "cd": cd.detach(), "reg": reg.detach(), "ce": ce.detach(), "grad_norm": grad_norm.detach(),
                "fresh": fresh.float().mean()}

    def grid(step: int) -> torch.Tensor:
        return to_uint8(buffer.images[:64])  # a fixed slice of the buffer: no RNG consumed

    def trained(step: int) -> TrainedEBM:
        return TrainedEBM(net, config, config.run_dir, data.class_names, device, step, buffer.images)

    def metrics(trained: TrainedEBM) -> dict:
        test = trained.test_images(500)
        auroc = ood_auroc(trained.energies(test), trained.energies(to_uint8(uniform_noise(test.shape))))
        spc = seconds_per_100(lambda n: trained.sample(n, init="noise"), 100, device)
        return dict(langevin_steps_train=config.langevin_steps, sample_steps=config.sample_steps,
                    seconds_per_100={f"langevin_{config.sample_steps}_steps_from_noise": spc},
                    ood_auroc_real_vs_uniform_noise=auroc)

    return Recipe(TrainState({"energy": net}, {"energy": opt}, extra={"buffer": buffer.images}), step, grid,
                  trained, metrics, divergence_hint=config.divergence_advice())
