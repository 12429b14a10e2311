"""StyleGAN2-ADA lite (Karras et al. 2020, twice): config, networks, augmentation, ADA, losses, training."""

from ..registry import ModelKind
from . import ada_experiment, figures
from .config import StyleGANConfig
from .discriminator import Discriminator
from .generator import Generator
from .trained import TrainedStyleGAN
from .networks import build
from .training import StyleGANStep, recipe, training_data

KIND = ModelKind("stylegan", StyleGANConfig, recipe, TrainedStyleGAN, figures, data=training_data)
train = KIND.train  # train (or resume) a run: the notebook's one call

__all__ = ["Discriminator", "ada_experiment", "Generator", "KIND", "StyleGANConfig", "StyleGANStep", "TrainedStyleGAN", "build",
           "figures", "train"]
