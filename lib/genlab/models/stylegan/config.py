"""Every parameter of a StyleGAN2-ADA run (the notebook's ``parameters`` cell).

Defaults are the quick CPU profile, the chapter's: 32 px, z = w = 64, mapping depth 2, at most 32 channels,
minibatch-std groups of 32 split by label, R1 gamma 5 (500x the official CIFAR-10 value: weaker R1 let
the generator collapse to one digit per class), path length off as the official low-resolution choice;
``ada_kimg`` is scaled to short runs.
"""

from __future__ import annotations

from dataclasses import dataclass

from ...base.config import RunConfig, param, redefault
from .generator import IMAGE_SIZES
from ...train.precision import AMP, AMP_HELP


@dataclass(frozen=True)
class StyleGANConfig(RunConfig):
    model = "stylegan"

    epochs: int = redefault("epochs", 20)
    checkpoint_every: int = redefault("checkpoint_every", 2)

    image_size: int = param(32, choices=IMAGE_SIZES, arch=True, help="training resolution in pixels (power of 2)")
    conditional: bool = param(True, arch=True, help="class-conditional G (label embedding into w) and projection D")
    z_dim: int = param(64, low=2, high=1024, arch=True, help="size of z")
    w_dim: int = param(64, low=2, high=1024, arch=True, help="size of w (the intermediate latent)")
    mapping_layers: int = param(2, low=1, high=8, arch=True, help="FC layers of the mapping network (official: 8; 2 at low res)")
    channel_base: int = param(512, low=16, high=65536, arch=True, help="feature maps at res r: min(channel_base / r, channel_max)")
    channel_max: int = param(32, low=4, high=1024, arch=True, help="most feature maps of any layer")
    ac_weight: float = param(0.0, low=0, arch=True,
                             help="auxiliary classifier loss on D's features (AC-GAN; 0 = official projection only)")
    residual_d: bool = param(True, arch=True, help="residual discriminator blocks (else plain)")
    mbstd_group: int = param(32, low=1, high=64, arch=True, help="minibatch-std group size (must divide batch_size)")
    mbstd_by_class: bool = param(True, help="minibatch std within each label (conditional D; False: over the "
                                           "whole group, which hides one image per class)")
    batch_size: int = param(32, low=2, high=8192, help="images per step")
    amp: str = param("auto", choices=AMP, resumable=True, help=AMP_HELP)
    lr: float = param(0.005, low=0, low_open=True, high=1, help="Adam learning rate of G and D (official 0.0025)")
    beta1: float = param(0.0, low=0, high=0.999, help="Adam beta1 (official 0)")
    beta2: float = param(0.99, low=0, high=0.9999, help="Adam beta2 (official 0.99)")
    r1_gamma: float = param(5.0, low=0, help="R1 weight gamma (official CIFAR-10 config 0.01; that let the quick "
                                                 "profile collapse to one digit per class)")
    r1_interval: int = param(16, low=1, high=1000, help="lazy R1: every k D steps, weighted by k")
    pl_weight: float = param(0.0, low=0, help="path-length weight (official 2; off at 32 px)")
    pl_interval: int = param(4, low=1, high=1000, help="lazy path length: every k G steps, weighted by k")
    style_mixing: float = param(0.9, low=0, high=1, help="probability of mixing two w's during training")
    ada: bool = param(True, help="adapt the augmentation probability p (False: p stays at augment_p)")
    augment_p: float = param(0.0, low=0, high=1, help="initial (or, without ada, fixed) augmentation probability")
    ada_target: float = param(0.6, low=0, high=1, help="target of r_t = E[sign(D(real))]")
    ada_interval: int = param(4, low=1, high=1000, help="minibatches between updates of p")
    ada_kimg: float = param(20.0, low=0, low_open=True, help="thousands of images for p to move by 1 (official 500)")
    cutout: bool = param(False, help="also cut out a square of half the size (ADA's optional corruption)")
    ema_kimg: float = param(1.0, low=0, help="half-life of the G EMA in thousands of images (0 = no EMA)")
    ema_rampup: float = param(0.05, low=0, high=1, help="EMA half-life at most this fraction of images seen (0 = off)")
    truncation_psi: float = param(1.0, low=0, high=1, resumable=True, help="default truncation psi when sampling")
    max_train: int = param(0, low=0, help="use only the first N training images (0 = all): the limited-data regime")
    ada_demo_images: int = param(250, low=0, resumable=True,
                                 help="training images of the ADA off/on experiment (0 = skip it)")
    ada_demo_steps: int = param(400, low=0, resumable=True, help="steps of each arm of the ADA experiment")
    ada_demo_kimg: float = param(2.0, low=0, low_open=True, resumable=True,
                                 help="ada_kimg of the experiment's ADA arm (its run is short: p must be able to move)")
    ada_demo_r1_gamma: float = param(0.01, low=0, resumable=True,
                                     help="R1 gamma of both ADA arms (the official CIFAR-10 0.01: with the quick "
                                          "profile's 5, D did not memorise 100 digits in 1,500 steps)")
