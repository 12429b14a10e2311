"""Flow matching (Lipman et al. 2023; Liu et al. 2023): a class-conditional velocity U-Net trained on the
straight path from noise (t = 0) to data (t = 1), sampled by ODE solvers, with classifier-free guidance."""

from ..registry import ModelKind
from . import figures, sweep
from .config import FlowConfig
from .trained import TrainedFlow, VelocityUNet
from .training import train

SMOKE = dict(epochs=1, max_steps=4, batch_size=16, base_channels=8, attn_heads=2, sample_steps=2, solver_steps=2,
             eval_nfe=(3,), sample_every=1, checkpoint_every=1, eval_samples=32, sweep_nfe=(2,), sweep_samples=0,
             device="cpu")
KIND = ModelKind("flow", FlowConfig, train, TrainedFlow, figures, SMOKE)

__all__ = ["FlowConfig", "KIND", "TrainedFlow", "VelocityUNet", "figures", "sweep", "train"]
