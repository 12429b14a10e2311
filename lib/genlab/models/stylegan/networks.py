"""G and D of a StyleGAN2-ADA config (used by training and by reloading a checkpoint)."""

from __future__ import annotations

import torch

from .config import StyleGANConfig
from .discriminator import Discriminator
from .generator import Generator


def build(config: StyleGANConfig, channels: int, num_classes: int) -> tuple[Generator, Discriminator]:
    """G and D for a config and the data's channels and classes."""
    k = num_classes if config.conditional else 0
    gen = Generator(config.z_dim, config.w_dim, config.mapping_layers, channels, config.image_size,
                    config.channel_base, config.channel_max, k)
    disc = Discriminator(channels, config.image_size, config.channel_base, config.channel_max, k,
                         config.mbstd_group, config.residual_d, classifier=config.ac_weight > 0,
                         mbstd_by_class=config.mbstd_by_class)
    # weights in the activations' layout (``Generator.memory_format``)
    return gen.to(memory_format=torch.channels_last), disc.to(memory_format=torch.channels_last)
