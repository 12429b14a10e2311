"""DDPM (Ho et al., 2020) with a class-conditional U-Net and classifier-free guidance.

- :class:`DDPMConfig`: every parameter of a run (the notebook's ``parameters`` cell).
- :func:`train`: epsilon- (or v-) prediction loss, AdamW with linear warm-up, gradient clipping,
  bf16 autocast on CUDA, labels dropped with probability ``p_uncond``, EMA of the weights
  (used for every sample), train-or-resume via :func:`genlab.training.fit`; at the end, a sample
  grid and the wall-clock per 100 images for DDIM {``ddim_steps``} and DDPM-``num_steps``.
- :func:`load`: rebuild a trained model from its checkpoint (config inside).
- :class:`TrainedDDPM`: ``generate(n, labels, seed, sampler='ddim'|'ddpm', steps, eta, guidance, spacing)``.

Figures for the notebook live in :mod:`genlab.ddpm_plots`.
"""

from __future__ import annotations

import contextlib
import functools
from dataclasses import dataclass
from pathlib import Path

import torch

from .config import Config, param
from .data import DeviceBatches, balanced_labels, check_dataset, load_dataset, to_uint8
from .diffusion import PREDICTIONS, SCHEDULES, SPACINGS, GaussianDiffusion
from .plots import save_grid
from .runlog import RunFiles
from .training import (EMA, TrainState, check_device, count_parameters, fit, load_checkpoint,
                       resolve_path, seconds_per_100, seed_everything, select_device, update_metrics)
from .unet import UNet

SAMPLERS = ("ddim", "ddpm")
GENERATE_OPTIONS = ("sampler", "steps", "eta", "guidance", "spacing")
AMP = ("auto", "bf16", "off")


@dataclass(frozen=True)
class DDPMConfig(Config):
    run: str = param("quick", help="run name: results go to <output_dir>/<run>/ddpm")
    dataset: str = param("mnist5k", check=check_dataset, help="mnist5k, mnist, fashion_mnist, cifar10, folder:<path>")
    image_size: int = param(28, choices=(28, 32, 64), help="training resolution in pixels")
    conditional: bool = param(True, help="class-conditional U-Net (with a null class for guidance)")
    schedule: str = param("linear", choices=SCHEDULES, help="beta schedule: linear (Ho) or cosine (Nichol)")
    num_steps: int = param(1000, low=2, high=10_000, help="diffusion steps T")
    beta_start: float = param(1e-4, low=0, low_open=True, high=0.5, help="first beta of the linear schedule")
    beta_end: float = param(0.02, low=0, low_open=True, high=0.999, help="last beta of the linear schedule")
    prediction: str = param("eps", choices=PREDICTIONS, help="what the U-Net predicts: eps (noise) or v")
    base_channels: int = param(32, low=4, high=512, help="U-Net width at full resolution")
    channel_mults: tuple[int, ...] = param((1, 2, 2), low=1, high=16, help="width multiplier per resolution level")
    num_res_blocks: int = param(1, low=1, high=8, help="residual blocks per level")
    attn_resolutions: tuple[int, ...] = param((7,), low=1, help="feature-map sizes with self-attention")
    attn_heads: int = param(4, low=1, high=64, help="attention heads")
    dropout: float = param(0.1, low=0, high=0.9, help="dropout in the residual blocks")
    p_uncond: float = param(0.1, low=0, high=1, help="probability of dropping the label (classifier-free guidance)")
    epochs: int = param(10, low=1, high=100_000, help="passes over the training split")
    batch_size: int = param(64, low=2, high=8192, help="images per step")
    lr: float = param(1e-3, low=0, low_open=True, high=1, help="AdamW learning rate after warm-up")
    warmup_steps: int = param(100, low=0, help="linear learning-rate warm-up steps")
    weight_decay: float = param(0.0, low=0, high=1, help="AdamW weight decay")
    grad_clip: float = param(1.0, low=0, help="clip the gradient norm to this (0 = off)")
    ema_decay: float = param(0.995, low=0, high=0.99999, help="EMA decay of the weights used for sampling")
    amp: str = param("auto", choices=AMP, help="bf16 autocast: auto (CUDA, CPUs with native bf16), bf16, off")
    guidance: float = param(3.0, low=0, high=50, help="default guidance scale w (0 uncond, 1 cond, >1 guided)")
    eta: float = param(0.0, low=0, high=1, help="default DDIM eta: 0 deterministic, 1 fresh noise every step")
    sample_steps: int = param(20, low=1, help="DDIM steps for the grids saved during training")
    ddim_steps: tuple[int, ...] = param((10, 20, 50, 100), low=1, help="DDIM step counts timed at the end")
    timing_images: int = param(20, low=1, high=10_000, help="images per DDIM setting in the timing grids")
    ddpm_images: int = param(10, low=0, high=10_000, help="images for the DDPM (all steps) timing grid (0 = skip)")
    eval_samples: int = param(500, low=4, help="samples scored by genlab.metrics.evaluate per sampler setting")
    eval_steps: tuple[int, ...] = param((20, 10), low=1, help="DDIM step counts evaluated; the first gives the headline")
    seed: int = param(0, low=0, help="seed for initialisation, batches and sampling noise")
    sample_every: int = param(2, low=0, help="save a DDIM grid every N epochs (0 = only at the end)")
    checkpoint_every: int = param(5, low=0, help="checkpoint every N epochs (always at the end)")
    max_steps: int = param(0, low=0, help="stop after this many steps in total (0 = epochs decide)")
    time_budget_s: float = param(0.0, low=0, help="checkpoint and stop after this many seconds (0 = no limit)")
    device: str = param("auto", check=check_device, help="auto (CUDA, then MPS, then CPU), cpu, cuda, mps")
    tensorboard: bool = param(False, help="also log scalars and grids to <run dir>/tensorboard")
    data_dir: str = param("data", help="where downloaded datasets live")
    output_dir: str = param("outputs", help="root of all runs (relative paths: from the project root)")

    def validate(self) -> None:
        if self.schedule == "linear" and self.beta_end <= self.beta_start:
            raise ValueError(f"parameters 'beta_start' = {self.beta_start} and 'beta_end' = {self.beta_end}: "
                             f"beta_end must exceed beta_start")
        for name, values in (("ddim_steps", self.ddim_steps), ("sample_steps", (self.sample_steps,)),
                             ("eval_steps", self.eval_steps)):
            if max(values) > self.num_steps:
                raise ValueError(f"parameter '{name}' = {values}: at most num_steps = {self.num_steps} steps")

    @property
    def run_dir(self) -> Path:
        return resolve_path(self.output_dir) / self.run / "ddpm"

    # Parameters that only affect the end-of-training timing grids, never the weights.
    RESUMABLE = ("guidance", "sample_steps", "ddim_steps", "timing_images", "ddpm_images", "amp", "eval_steps",
                 "eta")


CONFIG = DDPMConfig


def build(config: DDPMConfig, channels: int, num_classes: int) -> tuple[UNet, GaussianDiffusion]:
    net = UNet(channels, config.image_size, config.base_channels, config.channel_mults, config.num_res_blocks,
               config.attn_resolutions, config.attn_heads, config.dropout,
               num_classes if config.conditional else 0)
    diffusion = GaussianDiffusion(config.num_steps, config.schedule, config.beta_start, config.beta_end,
                                  config.prediction)
    return net, diffusion


@functools.cache
def cpu_has_fast_bf16() -> bool:
    """True when the CPU has native bf16 instructions (AVX512-BF16 or AMX), where bf16 autocast is faster."""
    try:
        flags = Path("/proc/cpuinfo").read_text().split()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def use_bf16(device: torch.device, amp: str) -> bool:
    """``auto``: bf16 on CUDA, and on CPUs with native bf16 (about 1.4x faster training steps there)."""
    return amp == "bf16" or (amp == "auto" and (device.type == "cuda"
                                                 or (device.type == "cpu" and cpu_has_fast_bf16())))


def autocast(device: torch.device, amp: str):
    """bf16 autocast where :func:`use_bf16` says so, else a no-op context."""
    on = use_bf16(device, amp)
    return torch.autocast(device.type, dtype=torch.bfloat16) if on else contextlib.nullcontext()


def setting_name(sampler: str, steps: int) -> str:
    """Key of a sampler setting in metrics.json and in sample file names, e.g. 'ddim-50', 'ddpm-1000'."""
    return f"{sampler}-{steps}"


class TrainedDDPM(RunFiles):
    """An EMA U-Net and its diffusion process, ready to sample, with the run it came from."""

    def __init__(self, net: UNet, diffusion: GaussianDiffusion, config: DDPMConfig, run_dir: Path,
                 class_names: tuple[str, ...], device: torch.device, step: int = 0):
        self.net, self.diffusion = net.eval(), diffusion.to(device)
        self.config, self.run_dir, self.class_names, self.device, self.step = config, run_dir, class_names, device, step

    @property
    def num_classes(self) -> int:
        return self.net.num_classes

    def _labels(self, n: int, labels: torch.Tensor | None) -> torch.Tensor | None:
        if not self.num_classes:
            if labels is not None:
                raise ValueError("labels given but this DDPM is unconditional; leave labels out")
            return None
        labels = balanced_labels(n, self.num_classes) if labels is None else torch.as_tensor(labels).long()
        if labels.shape != (n,) or labels.min() < 0 or labels.max() > self.num_classes:
            raise ValueError(f"labels must be {n} integers in 0..{self.num_classes - 1} "
                             f"({self.num_classes} = no class)")
        return labels.to(self.device)

    def sample(self, n: int, labels: torch.Tensor | None = None, seed: int = 0, sampler: str = "ddim",
               steps: int | None = None, eta: float | None = None, guidance: float | None = None,
               spacing: str = "uniform", callback=None) -> torch.Tensor:
        """n float images in [-1, 1] (n x C x H x W, on the model's device); see :meth:`generate`."""
        if sampler not in SAMPLERS:
            raise ValueError(f"option 'sampler' = {sampler!r} unknown; choose one of {', '.join(SAMPLERS)}")
        if spacing not in SPACINGS:
            raise ValueError(f"option 'spacing' = {spacing!r} unknown; choose one of {', '.join(SPACINGS)}")
        y = self._labels(n, labels)
        if guidance is not None and y is None:
            raise ValueError("option 'guidance' needs a conditional DDPM; leave guidance out")
        if guidance is None and y is not None:
            guidance = self.config.guidance
        if guidance is not None and guidance < 0:
            raise ValueError(f"option 'guidance' = {guidance} must be >= 0 (0 uncond, 1 cond, >1 guided)")
        shape = (n, self.net.in_channels, self.net.image_size, self.net.image_size)
        common = dict(y=y, guidance=guidance, null_class=self.net.null_class, device=self.device,
                      generator=torch.Generator().manual_seed(seed), callback=callback)
        with autocast(self.device, self.config.amp):
            if sampler == "ddpm":
                if steps not in (None, self.diffusion.num_steps):
                    raise ValueError(f"option 'steps' = {steps}: the DDPM sampler runs all {self.diffusion.num_steps}"
                                     f" steps; for fewer use sampler='ddim' (eta=1 is its stochastic version)")
                if eta is not None:
                    raise ValueError("option 'eta' belongs to the DDIM sampler; use sampler='ddim'")
                return self.diffusion.ddpm_sample(self.net, shape, **common)
            eta = self.config.eta if eta is None else eta
            return self.diffusion.ddim_sample(self.net, shape, steps=steps or 50, eta=eta, spacing=spacing, **common)

    def generate(self, n: int, labels: torch.Tensor | None = None, seed: int = 0, **options) -> torch.Tensor:
        """n uint8 images (n x C x H x W, CPU). ``labels`` (n int64) default to balanced classes.

        Options: ``sampler`` 'ddim' (default) or 'ddpm'; ``steps`` (DDIM, default 50); ``eta``
        (DDIM, default the config's ``eta``; 0 = deterministic); ``guidance`` w (default: the config's); ``spacing``
        'uniform' or 'quadratic' (DDIM). Anything else raises ValueError.
        """
        unknown = [k for k in options if k not in GENERATE_OPTIONS]
        if unknown:
            raise ValueError(f"option {unknown[0]!r} is not a DDPM sampling option; "
                             f"choose from {', '.join(GENERATE_OPTIONS)}")
        return to_uint8(self.sample(n, labels, seed, **options)).cpu()

    def seconds_per_100(self, sampler: str, steps: int, n: int = 100, seed: int = 0) -> tuple[float, torch.Tensor]:
        """(wall-clock seconds per 100 images, the n uint8 images) for one sampler setting."""
        box = {}

        def run(k: int) -> None:
            box["images"] = self.generate(k, seed=seed, sampler=sampler, steps=steps)
        return seconds_per_100(run, n, self.device), box["images"]

    def sampler_paths(self) -> dict[str, Path]:
        """Timing grids written by :func:`train`, by setting name ('ddim-10', ..., 'ddpm-1000')."""
        return {p.stem.removeprefix("sampler_"): p for p in sorted((self.run_dir / "samples").glob("sampler_*.png"))}



def measure_samplers(trained: TrainedDDPM) -> dict[str, float]:
    """Time DDIM at each of ``ddim_steps`` and DDPM at all steps; save each setting's grid."""
    cfg, out = trained.config, {}
    settings = [("ddim", s, cfg.timing_images) for s in cfg.ddim_steps]
    if cfg.ddpm_images:
        settings.append(("ddpm", cfg.num_steps, cfg.ddpm_images))
    for sampler, steps, n in settings:
        name = setting_name(sampler, steps)
        out[name], images = trained.seconds_per_100(sampler, steps, n, seed=cfg.seed + 2)
        save_grid(images, trained.run_dir / "samples" / f"sampler_{name}.png", nrow=min(n, 10))
    return out


def train(config: DDPMConfig) -> TrainedDDPM:
    """Train (or resume) a DDPM as ``config`` says; writes config/checkpoint/history/samples/metrics."""
    device = select_device(config.device)
    data = load_dataset(config.dataset, "train", image_size=config.image_size, data_dir=resolve_path(config.data_dir))
    seed_everything(config.seed)
    net, diffusion = build(config, data.channels, data.num_classes)
    net, diffusion = net.to(device), diffusion.to(device)
    opt = torch.optim.AdamW(net.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    ema = EMA(net, config.ema_decay)
    state = TrainState({"unet": net}, {"unet": opt}, ema)
    batches = DeviceBatches(data, config.batch_size, device, seed=config.seed)
    spe = batches.steps_per_epoch
    total = config.epochs * spe if not config.max_steps else min(config.max_steps, config.epochs * spe)
    k = net.num_classes
    fixed_n = 2 * k if k else 20
    fixed_y = balanced_labels(fixed_n, k) if k else None
    trained = TrainedDDPM(ema.shadow, diffusion, config, config.run_dir, data.class_names, device)

    def step_fn(step: int, x0: torch.Tensor, y: torch.Tensor) -> dict[str, torch.Tensor]:
        for group in opt.param_groups:  # stateless warm-up: resumes exactly from any step
            group["lr"] = config.lr * min(1.0, (step + 1) / max(1, config.warmup_steps))
        with autocast(device, config.amp):
            loss = diffusion.loss(net, x0, y if k else None, config.p_uncond if k else 0.0, net.null_class)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        norm = torch.nn.utils.clip_grad_norm_(net.parameters(), config.grad_clip if config.grad_clip else float("inf"))
        opt.step()
        ema.update(net)
        return {"loss": loss.detach(), "grad_norm": norm.detach()}

    def sample_fn(step: int) -> torch.Tensor:
        # EMA weights, own generator: the global RNG (batches, noise of the loss) is untouched.
        return trained.generate(fixed_n, labels=fixed_y, seed=config.seed + 1, steps=config.sample_steps)

    result = fit(config.run_dir, model_name="ddpm", config=config.to_dict(), state=state, step_fn=step_fn,
                 meta=data.meta(), batches=batches, total_steps=total, sample_fn=sample_fn,
                 sample_every_steps=config.sample_every * spe if config.sample_every else total,
                 checkpoint_every_steps=config.checkpoint_every * spe, tensorboard=config.tensorboard,
                 time_budget_s=config.time_budget_s, resumable_keys=DDPMConfig.RESUMABLE,
                 divergence_hint="lower lr (e.g. 2e-4), keep grad_clip = 1 and check the data range")
    trained.step = result.step
    update_metrics(config.run_dir, model="ddpm", dataset=config.dataset, conditional=config.conditional,
                   schedule=config.schedule, num_steps=config.num_steps, steps=result.step, epochs=result.step / spe,
                   train_seconds=result.train_seconds, parameters=count_parameters(net),
                   guidance=config.guidance if k else None,
                   seconds_per_100=measure_samplers(trained), device=str(device))
    return trained


def load(path: str | Path, device: str = "auto") -> TrainedDDPM:
    """Rebuild a trained DDPM (EMA weights) from ``checkpoint.pt`` (its config is stored inside)."""
    path = Path(path)
    ckpt = load_checkpoint(path)
    config = DDPMConfig.from_dict(ckpt["config"])
    dev = select_device(device)
    meta = ckpt["meta"]
    net, diffusion = build(config, meta["channels"], meta["num_classes"])
    net.load_state_dict(ckpt["ema"]["shadow"] if ckpt.get("ema") else ckpt["model"]["unet"])
    return TrainedDDPM(net.to(dev), diffusion, config, path.parent, tuple(meta["class_names"]), dev, int(ckpt["step"]))


def evaluate(trained: "TrainedDDPM", n: int | None = None) -> dict:
    """Score ``n`` samples (default ``eval_samples``) for each DDIM step count in ``eval_steps``.

    Each setting lands in ``metrics.json`` under ``by_setting["ddim-<steps>"]`` (next to its
    ``seconds_per_100``); the first step count also gives the headline numbers. Returns the headline.
    """
    from . import metrics
    cfg = trained.config
    n = n or cfg.eval_samples
    scores = [metrics.evaluate(trained, n=n, setting=setting_name("ddim", steps), options={"sampler": "ddim", "steps": steps},
                               headline=i == 0) for i, steps in enumerate(cfg.eval_steps)]
    return scores[0]
