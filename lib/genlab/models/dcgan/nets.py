"""DCGAN networks (Radford et al., 2016), optionally class-conditional; plain ``nn.Module``s.

- :class:`Generator`: ``z`` (B x latent_dim) [+ label embedding] -> B x C x H x W in [-1, 1].
- :class:`Discriminator`: B x C x H x W [+ one-hot label planes] -> B logits.

Sizes: 28 px (7 -> 14 -> 28), 32 px (4 -> 8 -> 16 -> 32), 64 px (4 -> ... -> 64); 1 or 3 channels.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

IMAGE_SIZES = (28, 32, 64)


def _stages(image_size: int) -> tuple[int, int]:
    """(base spatial size, number of x2 upsampling stages) for a supported image size."""
    if image_size not in IMAGE_SIZES:
        raise ValueError(f"parameter 'image_size' = {image_size} unsupported; choose one of {IMAGE_SIZES}")
    return (7, 2) if image_size == 28 else (4, {32: 3, 64: 4}[image_size])


class Generator(nn.Module):
    """z: B x latent_dim (+ labels y: B) -> images B x channels x image_size x image_size in [-1, 1]."""

    def __init__(self, latent_dim: int = 100, channels: int = 1, image_size: int = 28, base_channels: int = 64,
                 num_classes: int = 0, embed_dim: int = 10):
        super().__init__()
        base, n_up = _stages(image_size)
        self.latent_dim, self.num_classes = latent_dim, num_classes
        self.channels, self.image_size = channels, image_size
        self.embed = nn.Embedding(num_classes, embed_dim) if num_classes else None
        in_dim = latent_dim + (embed_dim if num_classes else 0)
        ch = base_channels * 2 ** (n_up - 1)
        layers: list[nn.Module] = [nn.ConvTranspose2d(in_dim, ch, base, 1, 0, bias=False), nn.BatchNorm2d(ch),
                                   nn.ReLU(True)]
        for _ in range(n_up - 1):
            layers += [nn.ConvTranspose2d(ch, ch // 2, 4, 2, 1, bias=False), nn.BatchNorm2d(ch // 2), nn.ReLU(True)]
            ch //= 2
        layers += [nn.ConvTranspose2d(ch, channels, 4, 2, 1, bias=False), nn.Tanh()]
        self.net = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        if self.embed is not None:
            if y is None:
                raise ValueError("this generator is class-conditional: pass labels y (B int64)")
            z = torch.cat([z, self.embed(y)], dim=1)
        return self.net(z[:, :, None, None])


class Discriminator(nn.Module):
    """images B x C x H x W (+ labels y: B) -> B logits (real > 0). Labels enter as one-hot input planes."""

    def __init__(self, channels: int = 1, image_size: int = 28, base_channels: int = 64, num_classes: int = 0):
        super().__init__()
        base, n_down = _stages(image_size)
        self.image_size, self.num_classes = image_size, num_classes
        ch_in = channels + num_classes
        ch = base_channels
        layers: list[nn.Module] = [nn.Conv2d(ch_in, ch, 4, 2, 1, bias=False), nn.LeakyReLU(0.2, True)]
        for _ in range(n_down - 1):
            layers += [nn.Conv2d(ch, ch * 2, 4, 2, 1, bias=False), nn.BatchNorm2d(ch * 2), nn.LeakyReLU(0.2, True)]
            ch *= 2
        layers += [nn.Conv2d(ch, 1, base, 1, 0, bias=False)]
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        if self.num_classes:
            if y is None:
                raise ValueError("this discriminator is class-conditional: pass labels y (B int64)")
            planes = F.one_hot(y, self.num_classes).to(x.dtype)[:, :, None, None]
            x = torch.cat([x, planes.expand(-1, -1, *x.shape[2:])], dim=1)
        return self.net(x).flatten()


def radford_init(module: nn.Module) -> None:
    """Conv weights ~ N(0, 0.02); BatchNorm weight ~ N(1, 0.02), bias 0 (DCGAN paper, sec. 4)."""
    if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d)):
        nn.init.normal_(module.weight, 0.0, 0.02)
    elif isinstance(module, nn.BatchNorm2d):
        nn.init.normal_(module.weight, 1.0, 0.02)
        nn.init.zeros_(module.bias)


def build(config, channels: int, num_classes: int) -> tuple[Generator, Discriminator]:
    """G and D for a :class:`~genlab.models.dcgan.config.DCGANConfig` and the data's channels and classes."""
    k = num_classes if config.conditional else 0
    gen = Generator(config.latent_dim, channels, config.image_size, config.base_channels, k)
    disc = Discriminator(channels, config.image_size, config.base_channels, k)
    return gen, disc
