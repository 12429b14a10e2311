"""DCGAN (Radford et al., 2016), optionally class-conditional: config, networks, training, trained model."""

from ..registry import ModelKind
from . import figures
from .config import DCGANConfig
from .nets import Discriminator, Generator
from .training import gan_step, recipe
from .trained import TrainedDCGAN

KIND = ModelKind("dcgan", DCGANConfig, recipe, TrainedDCGAN, figures)
train = KIND.train  # train (or resume) a run: the notebook's one call

__all__ = ["DCGANConfig", "Discriminator", "Generator", "KIND", "TrainedDCGAN", "figures", "gan_step", "train"]
