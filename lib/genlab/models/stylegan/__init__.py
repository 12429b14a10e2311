"""StyleGAN2-ADA lite (Karras et al. 2020, twice): config, networks, augmentation, ADA, losses, training."""

from ..registry import ModelKind
from . import ada_experiment, figures
from .config import StyleGANConfig
from .discriminator import Discriminator
from .generator import Generator
from .trained import TrainedStyleGAN
from .networks import build
from .training import StyleGANStep, train

SMOKE = dict(epochs=1, max_steps=6, batch_size=8, z_dim=16, w_dim=16, channel_base=128, channel_max=16,
             r1_interval=2, ada_interval=2, ada_kimg=0.05, ema_kimg=0.01, pl_weight=2.0, pl_interval=2,
             sample_every=1, checkpoint_every=1, eval_samples=32, device="cpu")
KIND = ModelKind("stylegan", StyleGANConfig, train, TrainedStyleGAN, figures, SMOKE)

__all__ = ["Discriminator", "ada_experiment", "Generator", "KIND", "StyleGANConfig", "StyleGANStep", "TrainedStyleGAN", "build",
           "figures", "train"]
