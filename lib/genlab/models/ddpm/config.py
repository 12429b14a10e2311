"""Every parameter of a DDPM run (the notebook's ``parameters`` cell)."""

from __future__ import annotations

from dataclasses import dataclass

from ...base.config import RunConfig, param, redefault
from ...sampling.diffusion import PREDICTIONS, SCHEDULES
from ...train.precision import AMP, AMP_HELP

SAMPLERS = ("ddim", "dpm++", "ddpm")  # DDIM, DPM-Solver++(2M), ancestral DDPM over all num_steps


@dataclass(frozen=True)
class DDPMConfig(RunConfig):
    model = "ddpm"

    epochs: int = redefault("epochs", 20)
    sample_every: int = redefault("sample_every", 3)
    checkpoint_every: int = redefault("checkpoint_every", 4)

    image_size: int = param(28, choices=(28, 32, 64), arch=True, help="training resolution in pixels")
    conditional: bool = param(True, arch=True, help="class-conditional U-Net (with a null class for guidance)")
    schedule: str = param("cosine", choices=SCHEDULES, arch=True, help="beta schedule: linear (Ho) or cosine (Nichol)")
    num_steps: int = param(1000, low=2, high=10_000, arch=True, help="diffusion steps T")
    beta_start: float = param(1e-4, low=0, low_open=True, high=0.5, arch=True, help="first beta of the linear schedule")
    beta_end: float = param(0.02, low=0, low_open=True, high=0.999, arch=True, help="last beta of the linear schedule")
    prediction: str = param("v", choices=PREDICTIONS, arch=True, help="what the U-Net predicts: eps (noise) or v")
    base_channels: int = param(16, low=4, high=512, arch=True, help="U-Net width at full resolution")
    channel_mults: tuple[int, ...] = param((1, 2, 2), low=1, high=16, arch=True, help="width multiplier per resolution level")
    num_res_blocks: int = param(1, low=1, high=8, arch=True, help="residual blocks per level")
    attn_resolutions: tuple[int, ...] = param((7,), low=1, arch=True, help="feature-map sizes with self-attention")
    attn_heads: int = param(4, low=1, high=64, arch=True, help="attention heads")
    norm_groups: int = param(1, low=1, high=1024, arch=True,
                             help="GroupNorm groups (at most; each of at least 4 channels); 1 normalises over all "
                                  "channels, about 2x faster on a CPU")
    dropout: float = param(0.0, low=0, high=0.9, help="dropout in the residual blocks")
    p_uncond: float = param(0.1, low=0, high=1, help="probability of dropping the label (classifier-free guidance)")
    batch_size: int = param(128, low=2, high=8192, help="images per step")
    lr: float = param(0.003, low=0, low_open=True, high=1, help="AdamW learning rate after warm-up")
    warmup_steps: int = param(100, low=0, help="linear learning-rate warm-up steps")
    weight_decay: float = param(0.0, low=0, high=1, help="AdamW weight decay")
    grad_clip: float = param(1.0, low=0, help="clip the gradient norm to this (0 = off)")
    ema_decay: float = param(0.995, low=0, high=0.99999, help="EMA decay of the weights used for sampling")
    amp: str = param("auto", choices=AMP, resumable=True, help=AMP_HELP)
    guidance: float = param(2.0, low=0, high=50, resumable=True, help="default guidance scale w (0 uncond, 1 cond, >1 guided)")
    sampler: str = param("dpm++", choices=SAMPLERS, resumable=True,
                         help="default sampler: ddim, dpm++ (DPM-Solver++ 2M) or ddpm (all num_steps steps)")
    sampler_steps: int = param(20, low=1, resumable=True, help="default steps of the ddim and dpm++ samplers (at most num_steps)")
    eta: float = param(1.0, low=0, high=1, resumable=True, help="default DDIM eta: 0 deterministic, 1 fresh noise every step")
    sample_steps: int = param(20, low=1, resumable=True, help="DDIM steps for the grids saved during training")
    ddim_steps: tuple[int, ...] = param((10, 20, 50, 100), low=1, resumable=True, help="DDIM step counts timed at the end")
    timing_images: int = param(20, low=1, high=10_000, resumable=True, help="images per DDIM setting in the timing grids")
    ddpm_images: int = param(5, low=0, high=10_000, resumable=True, help="images for the DDPM (all steps) timing grid (0 = skip)")
    eval_steps: tuple[int, ...] = param((20, 10), low=1, resumable=True, help="DDIM step counts evaluated; the first gives the headline")
    sweep_steps: tuple[int, ...] = param((5, 10, 20, 50), low=1, resumable=True,
                                         help="step counts of the sampler sweep (DDIM, DDPM, DPM-Solver++; add num_steps for full DDPM)")
    sweep_samples: int = param(200, low=0, high=100_000, resumable=True,
                               help="samples per setting of the sampler sweep (0 = skip it)")

    def validate(self) -> None:
        if self.schedule == "linear" and self.beta_end <= self.beta_start:
            raise ValueError(f"parameters 'beta_start' = {self.beta_start} and 'beta_end' = {self.beta_end}: "
                             f"beta_end must exceed beta_start")
        for name, values in (("ddim_steps", self.ddim_steps), ("sample_steps", (self.sample_steps,)),
                             ("eval_steps", self.eval_steps), ("sweep_steps", self.sweep_steps)):
            if max(values) > self.num_steps:
                raise ValueError(f"parameter '{name}' = {values}: at most num_steps = {self.num_steps} steps")

