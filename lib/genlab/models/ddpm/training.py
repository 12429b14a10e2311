"""Training a DDPM (Ho et al., 2020): the simple loss with classifier-free label dropout, via :func:`genlab.train.fit`.

epsilon- (or v-) prediction loss, AdamW with linear warm-up, gradient clipping, bf16 autocast where
it pays, labels dropped with probability ``p_uncond``, an EMA of the weights (used for every sample);
at the end, the wall-clock per 100 images for DDIM {``ddim_steps``} and DDPM-``num_steps``.
"""

from __future__ import annotations

import torch

from ...base.paths import resolve_path
from ...base.run_folder import RunFolder
from ...data import DeviceBatches, balanced_labels, load_dataset
from ...train import distributed
from ...train.checkpoint import TrainState
from ...train.devices import count_parameters, seed_everything
from ...train.ema import EMA
from ...train.fit import fit
from .config import DDPMConfig
from .trained import TrainedDDPM, autocast, build, measure_samplers


def optimizer(net: torch.nn.Module, config: DDPMConfig, device: torch.device) -> torch.optim.AdamW:
    """AdamW; fused on CPU and CUDA (one kernel for all parameters instead of ~10 small ops per tensor:
    the update took 6% of a CPU training step at the quick profile)."""
    return torch.optim.AdamW(net.parameters(), lr=config.lr, weight_decay=config.weight_decay,
                             fused=device.type in ("cpu", "cuda"))


def train(config: DDPMConfig) -> TrainedDDPM:
    """Train (or resume) a DDPM as ``config`` says; writes config/checkpoint/history/samples/metrics."""
    device = distributed.setup(config.device)
    data = load_dataset(config.dataset, "train", image_size=config.image_size, data_dir=resolve_path(config.data_dir))
    seed_everything(config.seed)
    net, diffusion = build(config, data.channels, data.num_classes)
    net, diffusion = net.to(device), diffusion.to(device)
    opt = optimizer(net, config, device)
    ema = EMA(net, config.ema_decay)
    state = TrainState({"unet": net}, {"unet": opt}, ema)
    rows = distributed.rows(config.batch_size)  # this process's share of the global batch
    batches = DeviceBatches(data, config.batch_size, device, seed=config.seed, rows=rows)
    num_classes = net.num_classes
    fixed_n = 2 * num_classes if num_classes else 20
    fixed_y = balanced_labels(fixed_n, num_classes) if num_classes else None
    trained = TrainedDDPM(ema.shadow, diffusion, config, config.run_dir, data.class_names, device)

    def step_fn(step: int, x0: torch.Tensor, y: torch.Tensor) -> dict[str, torch.Tensor]:
        for group in opt.param_groups:  # stateless warm-up: resumes exactly from any step
            group["lr"] = config.lr * min(1.0, (step + 1) / max(1, config.warmup_steps))
        with autocast(device, config.amp):
            loss = diffusion.loss(net, x0, y if num_classes else None, config.p_uncond if num_classes else 0.0, net.null_class,
                                  batch_size=config.batch_size, rows=rows)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        distributed.average_gradients(net)  # before clipping: the clip sees the global gradient
        norm = torch.nn.utils.clip_grad_norm_(net.parameters(), config.grad_clip if config.grad_clip else float("inf"))
        opt.step()
        ema.update(net)
        return {"loss": loss.detach(), "grad_norm": norm.detach()}

    def sample_fn(step: int) -> torch.Tensor:
        # EMA weights, own generator: the global RNG (batches, noise of the loss) is untouched.
        return trained.sample(fixed_n, labels=fixed_y, seed=config.seed + 1, sampler="ddim", steps=config.sample_steps)

    result = fit(config, state, step_fn, batches, meta=data.meta(), sample_fn=sample_fn,
                 divergence_hint="lower lr (e.g. 2e-4), keep grad_clip = 1 and check the data range")
    trained.step = result.step
    if not distributed.is_main():
        return trained  # rank 0 alone measures and writes
    result.finish(RunFolder(config.run_dir).update_metrics(
        model="ddpm", dataset=config.dataset, conditional=config.conditional, schedule=config.schedule,
        num_steps=config.num_steps, steps=result.step, epochs=result.step / batches.steps_per_epoch,
        train_seconds=result.train_seconds, parameters=count_parameters(net),
        guidance=config.guidance if num_classes else None, seconds_per_100=measure_samplers(trained),
        device=str(device)))
    return trained
