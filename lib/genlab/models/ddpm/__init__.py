"""DDPM (Ho et al., 2020) with a class-conditional attention U-Net and classifier-free guidance."""

from ..registry import ModelKind
from . import figures
from .config import DDPMConfig
from .training import recipe
from .trained import TrainedDDPM, setting_name
from .unet import UNet

KIND = ModelKind("ddpm", DDPMConfig, recipe, TrainedDDPM, figures)
train = KIND.train  # train (or resume) a run: the notebook's one call

__all__ = ["DDPMConfig", "KIND", "TrainedDDPM", "UNet", "figures", "setting_name", "train"]
