"""Training a flow by conditional flow matching (Lipman et al. 2023) with classifier-free label dropout (a :class:`Recipe`).

The velocity U-Net regresses x1 - x0 on the straight path (:func:`genlab.sampling.flow_matching.cfm_loss`),
with AdamW and linear warm-up, gradient clipping, bf16 autocast where it pays and an EMA of the weights
(used for every sample). At the end, the seconds per 100 images of every evaluated setting.
"""

from __future__ import annotations

import torch

from ...data import ImageData, balanced_labels
from ...plots import save_grid
from ...sampling.flow_matching import cfm_loss
from ...train import distributed
from ...train.checkpoint import TrainState
from ...train.ema import EMA
from ...train.recipe import Recipe
from ..ddpm.training import optimizer, update
from .config import FlowConfig
from .trained import TrainedFlow, build


def measure_solvers(trained: TrainedFlow, n: int = 20) -> dict[str, float]:
    """Seconds per 100 images of every evaluated setting (eval_nfe with the default solver); grids saved."""
    out = {}
    for name, options in trained.eval_settings():
        out[name], images = trained.timed_sample(n, seed=trained.config.seed + 2, **options)
        save_grid(images, trained.folder.samples / f"sampler_{name}.png", nrow=min(n, 10))
    return out


def recipe(config: FlowConfig, data: ImageData, device: torch.device) -> Recipe:
    """The flow's training: the velocity U-Net, AdamW with warm-up, the EMA, the CFM step, Heun grids."""
    net = build(config, data.channels, data.num_classes).to(device)
    opt = optimizer(net, config, device)
    ema = EMA(net, config.ema_decay)
    rows = distributed.rows(config.batch_size)  # this process's share of the global batch
    num_classes = net.num_classes
    fixed_n = 2 * num_classes if num_classes else 20
    fixed_y = balanced_labels(fixed_n, num_classes) if num_classes else None
    trained = TrainedFlow(ema.shadow, config, config.run_dir, data.class_names, device)

    def step(step: int, x1: torch.Tensor, y: torch.Tensor) -> dict[str, torch.Tensor]:
        return update(net, opt, ema, config, device, step, lambda: cfm_loss(
            net, x1, y if num_classes else None, time_sampling=config.time_sampling, coupling=config.coupling,
            p_uncond=config.p_uncond if num_classes else 0.0, null_class=net.null_class,
            batch_size=config.batch_size, rows=rows))

    def grid(step: int) -> torch.Tensor:
        # EMA weights, own generator: the global RNG (batches, noise of the loss) is untouched.
        return trained.sample(fixed_n, labels=fixed_y, seed=config.seed + 1, solver="heun", steps=config.sample_steps)

    def finished(step: int) -> TrainedFlow:
        trained.step = step
        return trained

    def metrics(trained: TrainedFlow) -> dict:
        return dict(time_sampling=config.time_sampling, coupling=config.coupling,
                    guidance=config.guidance if num_classes else None, seconds_per_100=measure_solvers(trained))

    return Recipe(TrainState({"velocity": net}, {"velocity": opt}, ema), step, grid, finished, metrics,
                  divergence_hint="lower lr (e.g. 2e-4), keep grad_clip = 1 and check the data range")
