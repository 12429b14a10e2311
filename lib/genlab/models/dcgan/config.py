"""Every parameter of a DCGAN run (the notebook's ``parameters`` cell)."""

from __future__ import annotations

from dataclasses import dataclass

from ...base.config import RunConfig, param, redefault
from .nets import IMAGE_SIZES
from ...train.precision import AMP, AMP_HELP


@dataclass(frozen=True)
class DCGANConfig(RunConfig):
    model = "dcgan"

    epochs: int = redefault("epochs", 20)

    image_size: int = param(28, choices=IMAGE_SIZES, arch=True, help="training resolution in pixels")
    conditional: bool = param(True, arch=True, help="class-conditional generator and discriminator")
    latent_dim: int = param(64, low=2, high=1024, arch=True, help="size of the noise vector z")
    base_channels: int = param(32, low=8, high=512, arch=True, help="width of the first conv layer (doubles per stage)")
    mbstd_by_class: bool = param(True, help="D's minibatch std within each label (conditional; False: over the "
                                           "whole batch, which hides one image per class)")
    batch_size: int = param(32, low=2, high=8192, help="images per step")
    amp: str = param("auto", choices=AMP, resumable=True, help=AMP_HELP)
    lr: float = param(2e-4, low=0, low_open=True, high=1, help="Adam learning rate (both networks)")
    beta1: float = param(0.5, low=0, high=0.999, help="Adam beta1 (0.5 as in the DCGAN paper)")
    ac_weight: float = param(0.5, low=0, high=10, help="weight of the auxiliary classifier loss (conditional; 0 = off)")
    ema_decay: float = param(0.999, low=0, high=0.9999, help="EMA of generator weights for sampling (0 = off)")
    truncation_psi: float = param(0.8, low=0, high=1, resumable=True,
                                  help="default truncation when sampling: z ~ N(0, psi^2 I); 1 = none, lower = "
                                       "typical but less diverse")
