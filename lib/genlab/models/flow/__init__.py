"""Flow matching (Lipman et al. 2023; Liu et al. 2023): a class-conditional velocity U-Net trained on the
straight path from noise (t = 0) to data (t = 1), sampled by ODE solvers, with classifier-free guidance."""

from ..registry import ModelKind
from . import figures, sweep
from .config import FlowConfig
from .trained import TrainedFlow, VelocityUNet
from .training import recipe

KIND = ModelKind("flow", FlowConfig, recipe, TrainedFlow, figures)
train = KIND.train  # train (or resume) a run: the notebook's one call

__all__ = ["FlowConfig", "KIND", "TrainedFlow", "VelocityUNet", "figures", "sweep", "train"]
