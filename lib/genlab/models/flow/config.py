"""Every parameter of a flow-matching run; the defaults are the quick CPU profile (the notebook's ``parameters`` cell)."""

from __future__ import annotations

from dataclasses import dataclass

from ...base.config import RunConfig, param
from ...sampling.flow_matching import COUPLINGS, TIME_SAMPLINGS
from ...sampling.ode import GRIDS, SOLVERS
from ...train.precision import AMP, AMP_HELP



@dataclass(frozen=True)
class FlowConfig(RunConfig):
    model = "flow"

    epochs: int = param(20, low=1, high=100_000, resumable=True, help="passes over the training split")
    sample_every: int = param(5, low=0, resumable=True, help="save a sample grid every N epochs (0 = only at the end)")
    checkpoint_every: int = param(5, low=0, resumable=True, help="checkpoint every N epochs (always at the end)")
    image_size: int = param(28, choices=(28, 32, 64), arch=True, help="training resolution in pixels")
    conditional: bool = param(True, arch=True, help="class-conditional U-Net (with a null class for guidance)")
    base_channels: int = param(16, low=4, high=512, arch=True, help="U-Net width at full resolution")
    channel_mults: tuple[int, ...] = param((1, 2, 2), low=1, high=16, arch=True, help="width multiplier per resolution level")
    num_res_blocks: int = param(1, low=1, high=8, arch=True, help="residual blocks per level")
    attn_resolutions: tuple[int, ...] = param((7,), low=1, arch=True, help="feature-map sizes with self-attention")
    attn_heads: int = param(4, low=1, high=64, arch=True, help="attention heads")
    norm_groups: int = param(1, low=1, high=1024, arch=True,
                             help="GroupNorm groups (at most; each of at least 4 channels); 1 normalises over all "
                                  "channels, about 2x faster on a CPU")
    time_scale: float = param(1000.0, low=0, low_open=True, arch=True,
                              help="the U-Net embeds t * time_scale (its sinusoids span periods 1 to 10^4)")
    dropout: float = param(0.0, low=0, high=0.9, help="dropout in the residual blocks")
    p_uncond: float = param(0.1, low=0, high=1, help="probability of dropping the label (classifier-free guidance)")
    time_sampling: str = param("logit-normal", choices=TIME_SAMPLINGS,
                               help="training times: uniform, or logit-normal (Esser et al. 2024)")
    coupling: str = param("independent", choices=COUPLINGS,
                          help="noise-image pairs: independent, or ot (exact minibatch optimal transport)")
    batch_size: int = param(128, low=2, high=8192, help="images per step")
    lr: float = param(3e-3, low=0, low_open=True, high=1, help="AdamW learning rate after warm-up")
    warmup_steps: int = param(100, low=0, help="linear learning-rate warm-up steps")
    weight_decay: float = param(0.0, low=0, high=1, help="AdamW weight decay")
    grad_clip: float = param(1.0, low=0, help="clip the gradient norm to this (0 = off)")
    ema_decay: float = param(0.995, low=0, high=0.99999, help="EMA decay of the weights used for sampling")
    amp: str = param("auto", choices=AMP, resumable=True, help=AMP_HELP)
    guidance: float = param(2.0, low=0, high=50, resumable=True, help="default guidance scale w (0 uncond, 1 cond, >1 guided)")
    solver: str = param("heun", choices=SOLVERS, resumable=True, help="default ODE solver: euler, midpoint, heun or dopri5")
    solver_steps: int = param(5, low=1, high=1000, resumable=True,
                              help="default solver steps (midpoint: 2 network evaluations each; heun: 2 each, "
                                   "but its last step is Euler)")
    grid: str = param("uniform", choices=GRIDS, resumable=True, help="default time grid: uniform, or late (finer near the data)")
    sample_steps: int = param(4, low=1, resumable=True, help="Heun steps of the grids saved during training")
    eval_nfe: tuple[int, ...] = param((9,), low=1, resumable=True,
                                      help="NFE of the default solver evaluated at the end; the first gives the headline")
    sweep_nfe: tuple[int, ...] = param((2, 4, 8), low=1, resumable=True,
                                       help="NFE of the solver sweep (each solver at the largest NFE it reaches up "
                                            "to each: midpoint even, heun odd)")
    sweep_samples: int = param(200, low=0, high=100_000, resumable=True,
                               help="samples per setting of the solver sweep (0 = skip it)")

    def validate(self) -> None:
        if self.solver != "dopri5":
            from ...sampling.ode import steps_for
            for nfe in self.eval_nfe:
                try:
                    steps_for(self.solver, nfe)
                except ValueError as exc:
                    raise ValueError(f"parameter 'eval_nfe' = {self.eval_nfe}: {exc}") from None
