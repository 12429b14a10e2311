"""DCGAN (Radford et al., 2016), optionally class-conditional: config, networks, training, trained model."""

from ..registry import ModelKind
from . import figures
from .config import DCGANConfig
from .nets import Discriminator, Generator
from .training import gan_step, train
from .trained import TrainedDCGAN

SMOKE = dict(epochs=1, max_steps=6, batch_size=16, base_channels=8, latent_dim=8, sample_every=1, checkpoint_every=1,
             eval_samples=32, device="cpu")
KIND = ModelKind("dcgan", DCGANConfig, train, TrainedDCGAN, figures, SMOKE)

__all__ = ["DCGANConfig", "Discriminator", "Generator", "KIND", "TrainedDCGAN", "figures", "gan_step", "train"]
