"""DDPM (Ho et al., 2020) with a class-conditional attention U-Net and classifier-free guidance."""

from ..registry import ModelKind
from . import figures
from .config import DDPMConfig
from .training import train
from .trained import TrainedDDPM, setting_name
from ..unet import UNet

SMOKE = dict(epochs=1, max_steps=4, batch_size=16, base_channels=8, attn_heads=2, num_steps=50, sample_steps=5,
             ddim_steps=(5,), timing_images=4, ddpm_images=0, sample_every=1, checkpoint_every=1, eval_samples=32,
             eval_steps=(5,), sweep_steps=(5,), sweep_samples=30, device="cpu")
KIND = ModelKind("ddpm", DDPMConfig, train, TrainedDDPM, figures, SMOKE)

__all__ = ["DDPMConfig", "KIND", "TrainedDDPM", "UNet", "figures", "setting_name", "train"]
