"""Training a flow by conditional flow matching (Lipman et al. 2023) with classifier-free label dropout.

The velocity U-Net regresses x1 - x0 on the straight path (:func:`genlab.sampling.flow_matching.cfm_loss`),
with AdamW and linear warm-up, gradient clipping, bf16 autocast where it pays and an EMA of the weights
(used for every sample). ``reflow_pairs``: (noise, sample) pairs of a first flow (Liu et al. 2023) to
train on instead of fresh noise; the batches then carry the pair's index as their label.
"""

from __future__ import annotations

from typing import Any

import torch

from ...base.paths import resolve_path
from ...base.run_folder import RunFolder
from ...data import DeviceBatches, balanced_labels, load_dataset
from ...plots import save_grid
from ...sampling.flow_matching import cfm_loss
from ...train import distributed
from ...train.checkpoint import TrainState
from ...train.devices import count_parameters, seed_everything
from ...train.ema import EMA
from ...train.fit import fit
from ..ddpm.trained import autocast
from ..ddpm.training import optimizer
from .config import FlowConfig
from .trained import TrainedFlow, build

DIVERGENCE_HINT = "lower lr (e.g. 2e-4), keep grad_clip = 1 and check the data range"


def make_step(config: FlowConfig, net, opt, ema: EMA, device: torch.device, rows: slice):
    """One optimisation step on this rank's rows of a global batch: the CFM loss, averaged gradients, clip, EMA."""
    conditional = bool(net.num_classes)

    def step(step: int, x1: torch.Tensor, y: torch.Tensor) -> dict[str, torch.Tensor]:
        for group in opt.param_groups:  # stateless warm-up: resumes exactly from any step
            group["lr"] = config.lr * min(1.0, (step + 1) / max(1, config.warmup_steps))
        with autocast(device, config.amp):
            loss = cfm_loss(net, x1, y if conditional else None, time_sampling=config.time_sampling,
                            coupling=config.coupling, p_uncond=config.p_uncond if conditional else 0.0,
                            null_class=net.null_class, batch_size=config.batch_size, rows=rows)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        distributed.average_gradients(net)  # before clipping: the clip sees the global gradient
        norm = torch.nn.utils.clip_grad_norm_(net.parameters(), config.grad_clip if config.grad_clip else float("inf"))
        opt.step()
        ema.update(net)
        return {"loss": loss.detach(), "grad_norm": norm.detach()}

    return step


def measure_solvers(trained: TrainedFlow, n: int = 20) -> dict[str, float]:
    """Seconds per 100 images of every evaluated setting (eval_nfe with the default solver); grids saved."""
    out = {}
    for name, options in trained.eval_settings():
        out[name], images = trained.timed_sample(n, seed=trained.config.seed + 2, **options)
        save_grid(images, trained.folder.samples / f"sampler_{name}.png", nrow=min(n, 10))
    return out


def train(config: FlowConfig) -> TrainedFlow:
    """Train (or resume) a flow as ``config`` says; writes config/checkpoint/history/samples/metrics."""
    device = distributed.setup(config.device)
    data = load_dataset(config.dataset, "train", image_size=config.image_size, data_dir=resolve_path(config.data_dir))
    seed_everything(config.seed)
    net = build(config, data.channels, data.num_classes).to(device)
    opt = optimizer(net, config, device)
    ema = EMA(net, config.ema_decay)
    state = TrainState({"velocity": net}, {"velocity": opt}, ema)
    rows = distributed.rows(config.batch_size)  # this process's share of the global batch
    batches = DeviceBatches(data, config.batch_size, device, seed=config.seed, rows=rows)
    num_classes = net.num_classes
    fixed_n = 2 * num_classes if num_classes else 20
    fixed_y = balanced_labels(fixed_n, num_classes) if num_classes else None
    trained = TrainedFlow(ema.shadow, config, config.run_dir, data.class_names, device)

    def grid(step: int) -> torch.Tensor:
        # EMA weights, own generator: the global RNG (batches, noise of the loss) is untouched.
        return trained.sample(fixed_n, labels=fixed_y, seed=config.seed + 1, solver="heun", steps=config.sample_steps)

    result = fit(config, state, make_step(config, net, opt, ema, device, rows), batches, meta=data.meta(),
                 sample_fn=grid, divergence_hint=DIVERGENCE_HINT)
    trained.step = result.step
    if not distributed.is_main():
        return trained  # rank 0 alone measures and writes
    result.finish(RunFolder(config.run_dir).update_metrics(**metrics(trained, result, batches, device)))
    return trained


def metrics(trained: TrainedFlow, result, batches: DeviceBatches, device: torch.device) -> dict[str, Any]:
    c = trained.config
    return dict(model="flow", dataset=c.dataset, conditional=c.conditional, time_sampling=c.time_sampling,
                coupling=c.coupling, steps=result.step, epochs=result.step / batches.steps_per_epoch,
                train_seconds=result.train_seconds, parameters=count_parameters(trained.net),
                guidance=c.guidance if trained.num_classes else None, seconds_per_100=measure_solvers(trained),
                device=str(device))
