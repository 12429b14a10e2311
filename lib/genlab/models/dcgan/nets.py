"""DCGAN networks (Radford et al., 2016), optionally class-conditional; plain ``nn.Module``s.

- :class:`Generator`: ``z`` (B x latent_dim) [+ label embedding] -> B x C x H x W in [-1, 1].
- :class:`Discriminator`: B x C x H x W [+ labels] -> B logits (+ class logits): spectral norm,
  minibatch-std, projection and an auxiliary classifier.

Sizes: 28 px (7 -> 14 -> 28), 32 px (4 -> 8 -> 16 -> 32), 64 px (4 -> ... -> 64); 1 or 3 channels.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ...train.precision import full_precision
from ..minibatch_std import minibatch_std

IMAGE_SIZES = (28, 32, 64)


def _stages(image_size: int) -> tuple[int, int]:
    """(base spatial size, number of x2 upsampling stages) for a supported image size."""
    if image_size not in IMAGE_SIZES:
        raise ValueError(f"parameter 'image_size' = {image_size} unsupported; choose one of {IMAGE_SIZES}")
    return (7, 2) if image_size == 28 else (4, {32: 3, 64: 4}[image_size])


class ClassBatchNorm2d(nn.Module):
    """BatchNorm whose scale and shift also depend on the label: BN(h) (1 + gamma_y) + beta_y.

    Conditional batch normalisation (de Vries et al. 2017; the generator of Miyato & Koyama 2018): the
    class reaches every layer, not only the input. gamma_y and beta_y start at 0 (plain BatchNorm).
    """

    def __init__(self, channels: int, num_classes: int):
        super().__init__()
        self.bn = nn.BatchNorm2d(channels)
        self.embed = nn.Embedding(num_classes, 2 * channels) if num_classes else None
        if self.embed is not None:
            nn.init.zeros_(self.embed.weight)

    def forward(self, h: torch.Tensor, y: torch.Tensor | None) -> torch.Tensor:
        h = self.bn(h)
        if self.embed is None:
            return h
        gamma, beta = self.embed(y)[:, :, None, None].chunk(2, dim=1)
        return h * (1 + gamma) + beta


class Generator(nn.Module):
    """z: B x latent_dim (+ labels y: B) -> images B x channels x image_size x image_size in [-1, 1].

    A transposed-conv stem to base x base, then nearest-neighbour upsampling + 3x3 convolutions
    (strided transposed convolutions leave checkerboard speckle and broken strokes; Odena et al. 2016),
    class-conditional BatchNorm and ReLU, and a last 3x3 convolution to the image. The label enters as a
    10-d embedding concatenated to z and through every BatchNorm's scale and shift.
    """

    def __init__(self, latent_dim: int = 100, channels: int = 1, image_size: int = 28, base_channels: int = 64,
                 num_classes: int = 0, embed_dim: int = 10):
        super().__init__()
        base, n_up = _stages(image_size)
        self.latent_dim, self.num_classes = latent_dim, num_classes
        self.channels, self.image_size = channels, image_size
        self.embed = nn.Embedding(num_classes, embed_dim) if num_classes else None
        in_dim = latent_dim + (embed_dim if num_classes else 0)
        ch = base_channels * 2 ** (n_up - 1)
        layers: list[nn.Module] = [nn.ConvTranspose2d(in_dim, ch, base, 1, 0, bias=False),
                                   ClassBatchNorm2d(ch, num_classes), nn.ReLU(True)]
        for _ in range(n_up):
            layers += [nn.Upsample(scale_factor=2), nn.Conv2d(ch, ch // 2, 3, 1, 1, bias=False),
                       ClassBatchNorm2d(ch // 2, num_classes), nn.ReLU(True)]
            ch //= 2
        layers += [nn.Conv2d(ch, channels, 3, 1, 1), nn.Tanh()]
        self.net = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        if self.embed is not None:
            if y is None:
                raise ValueError("this generator is class-conditional: pass labels y (B int64)")
            z = torch.cat([z, self.embed(y)], dim=1)
        h = z[:, :, None, None]
        for layer in self.net:
            h = layer(h, y) if isinstance(layer, ClassBatchNorm2d) else layer(h)
        return h


class MinibatchStd(nn.Module):
    """Appends one channel: the batch's standard deviation, within each label for a conditional D (see
    :mod:`genlab.models.minibatch_std`): D then sees how varied each class is, which penalises a generator
    that gives one image per class."""

    def __init__(self, num_classes: int = 0):
        super().__init__()
        self.num_classes = num_classes

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        return minibatch_std(x, x.shape[0], y if self.num_classes else None, self.num_classes)


class Discriminator(nn.Module):
    """images B x C x H x W (+ labels y: B) -> (B real/fake logits, B x classes logits or None).

    Spectral norm on every layer (Miyato et al. 2018) instead of BatchNorm, a minibatch-std channel,
    and for a conditional D a projection term ``<embed(y), h>`` (Miyato & Koyama 2018) plus an
    auxiliary classifier on the same features h (AC-GAN, Odena et al. 2017).
    """

    def __init__(self, channels: int = 1, image_size: int = 28, base_channels: int = 64, num_classes: int = 0,
                 mbstd_by_class: bool = True):
        super().__init__()
        sn = nn.utils.parametrizations.spectral_norm
        base, n_down = _stages(image_size)
        self.image_size, self.num_classes = image_size, num_classes
        ch = base_channels
        layers: list[nn.Module] = [sn(nn.Conv2d(channels, ch, 4, 2, 1)), nn.LeakyReLU(0.2, True)]
        for _ in range(n_down - 1):
            layers += [sn(nn.Conv2d(ch, ch * 2, 4, 2, 1)), nn.LeakyReLU(0.2, True)]
            ch *= 2
        layers += [MinibatchStd(num_classes if mbstd_by_class else 0), sn(nn.Conv2d(ch + 1, ch, 3, 1, 1)), nn.LeakyReLU(0.2, True), nn.Flatten()]
        self.net = nn.Sequential(*layers)
        features = ch * base * base
        self.fc = sn(nn.Linear(features, 1))
        self.embed = sn(nn.Embedding(num_classes, features)) if num_classes else None
        self.classify = nn.Linear(features, num_classes) if num_classes else None

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor | None]:
        h = x
        for layer in self.net:
            h = layer(h, y) if isinstance(layer, MinibatchStd) else layer(h)
        logits = full_precision(self.fc(h).flatten())  # out of bf16 autocast: the losses are reduced from here
        if self.embed is None:
            return logits, None
        if y is None:
            raise ValueError("this discriminator is class-conditional: pass labels y (B int64)")
        return logits + full_precision((self.embed(y) * h).sum(1)), full_precision(self.classify(h))


def radford_init(module: nn.Module) -> None:
    """Conv weights ~ N(0, 0.02); BatchNorm weight ~ N(1, 0.02), bias 0 (DCGAN paper, sec. 4)."""
    if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d)):
        nn.init.normal_(module.weight, 0.0, 0.02)
    elif isinstance(module, nn.BatchNorm2d):
        nn.init.normal_(module.weight, 1.0, 0.02)
        nn.init.zeros_(module.bias)


def build(config, channels: int, num_classes: int) -> tuple[Generator, Discriminator]:
    """G (Radford init) and D (PyTorch's init under spectral norm) for a DCGANConfig and the data."""
    k = num_classes if config.conditional else 0
    gen = Generator(config.latent_dim, channels, config.image_size, config.base_channels, k)
    gen.apply(radford_init)
    disc = Discriminator(channels, config.image_size, config.base_channels, k, config.mbstd_by_class)
    # channels-last weights: the convolutions then run in oneDNN's and cuDNN's fast layout
    return gen.to(memory_format=torch.channels_last), disc.to(memory_format=torch.channels_last)
