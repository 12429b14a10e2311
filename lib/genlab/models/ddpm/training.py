"""Training a DDPM (Ho et al., 2020): the simple loss with classifier-free label dropout (a :class:`Recipe`).

epsilon- (or v-) prediction loss, AdamW with linear warm-up, gradient clipping, bf16 autocast where
it pays, labels dropped with probability ``p_uncond``, an EMA of the weights (used for every sample);
at the end, the wall-clock per 100 images for DDIM {``ddim_steps``} and DDPM-``num_steps``.
"""

from __future__ import annotations

import torch

from ...data import ImageData, balanced_labels
from ...train import distributed
from ...train.checkpoint import TrainState
from ...train.ema import EMA
from ...train.recipe import Recipe
from .config import DDPMConfig
from ...train.precision import autocast
from .trained import TrainedDDPM, build, measure_samplers


def optimizer(net: torch.nn.Module, config: DDPMConfig, device: torch.device) -> torch.optim.AdamW:
    """AdamW; fused on CPU and CUDA (one kernel for all parameters instead of ~10 small ops per tensor:
    the update took 6% of a CPU training step at the quick profile)."""
    return torch.optim.AdamW(net.parameters(), lr=config.lr, weight_decay=config.weight_decay,
                             fused=device.type in ("cpu", "cuda"))


def update(net: torch.nn.Module, opt: torch.optim.Optimizer, ema: EMA, config, device: torch.device, step: int,
           loss_fn) -> dict[str, torch.Tensor]:
    """One regression update (the DDPM's and the flow's): stateless warm-up, ``loss_fn()`` under autocast,
    gradients averaged over ranks before clipping (the clip sees the global gradient), the step, the EMA."""
    for group in opt.param_groups:  # stateless warm-up: resumes exactly from any step
        group["lr"] = config.lr * min(1.0, (step + 1) / max(1, config.warmup_steps))
    with autocast(device, config.amp):
        loss = loss_fn()
    opt.zero_grad(set_to_none=True)
    loss.backward()
    distributed.average_gradients(net)
    norm = torch.nn.utils.clip_grad_norm_(net.parameters(), config.grad_clip if config.grad_clip else float("inf"))
    opt.step()
    ema.update(net)
    return {"loss": loss.detach(), "grad_norm": norm.detach()}


def recipe(config: DDPMConfig, data: ImageData, device: torch.device) -> Recipe:
    """The DDPM's training: the U-Net, AdamW with warm-up, the EMA, the loss step, DDIM grids."""
    net, diffusion = build(config, data.channels, data.num_classes)
    net, diffusion = net.to(device), diffusion.to(device)
    opt = optimizer(net, config, device)
    ema = EMA(net, config.ema_decay)
    rows = distributed.rows(config.batch_size)  # this process's share of the global batch
    num_classes = net.num_classes
    fixed_n = 2 * num_classes if num_classes else 20
    fixed_y = balanced_labels(fixed_n, num_classes) if num_classes else None
    trained = TrainedDDPM(ema.shadow, diffusion, config, config.run_dir, data.class_names, device)

    def step(step: int, x0: torch.Tensor, y: torch.Tensor) -> dict[str, torch.Tensor]:
        return update(net, opt, ema, config, device, step, lambda: diffusion.loss(
            net, x0, y if num_classes else None, config.p_uncond if num_classes else 0.0, net.null_class,
            batch_size=config.batch_size, rows=rows))

    def grid(step: int) -> torch.Tensor:
        # EMA weights, own generator: the global RNG (batches, noise of the loss) is untouched.
        return trained.sample(fixed_n, labels=fixed_y, seed=config.seed + 1, sampler="ddim", steps=config.sample_steps)

    def finished(step: int) -> TrainedDDPM:
        trained.step = step
        return trained

    def metrics(trained: TrainedDDPM) -> dict:
        return dict(schedule=config.schedule, num_steps=config.num_steps,
                    guidance=config.guidance if num_classes else None, seconds_per_100=measure_samplers(trained))

    return Recipe(TrainState({"unet": net}, {"unet": opt}, ema), step, grid, finished, metrics,
                  divergence_hint="lower lr (e.g. 2e-4), keep grad_clip = 1 and check the data range")
