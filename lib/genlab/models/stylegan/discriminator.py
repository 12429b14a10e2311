"""The StyleGAN2 discriminator: residual blocks, minibatch standard deviation, projection conditioning.

Residual D (StyleGAN2 fig. 7c): each block is two 3 x 3 convs and a x0.5 downsample, plus a 1 x 1
skip path; the sum is scaled by sqrt(0.5) to keep the variance. Minibatch stddev (ProGAN §3):
the std of each feature over a group of images, averaged to one extra channel, lets D see
diversity; a conditional D takes it within each label (:mod:`genlab.models.minibatch_std`).
Conditioning as the official code: the label is mapped to an embedding c, and the output is
<phi(x), c> / sqrt(dim) (projection discriminator, Miyato & Koyama 2018).
"""

from __future__ import annotations

import math

import torch
from torch import nn

from ...train.precision import full_precision
from ..minibatch_std import minibatch_std
from .generator import IMAGE_SIZES, channels_at
from .layers import EqualConv2d, EqualLinear, downsample2x


class DBlock(nn.Module):
    """conv3x3 -> conv3x3 -> down, plus skip 1x1(down(x)); both paths scaled by sqrt(0.5)."""

    def __init__(self, in_channels: int, out_channels: int, residual: bool = True):
        super().__init__()
        self.conv0 = EqualConv2d(in_channels, in_channels, 3, activation=True)
        self.conv1 = EqualConv2d(in_channels, out_channels, 3, activation=True)
        self.skip = EqualConv2d(in_channels, out_channels, 1, bias=False) if residual else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = downsample2x(self.conv1(self.conv0(x)))
        if self.skip is None:
            return h
        return (h + self.skip(downsample2x(x))) * math.sqrt(0.5)


class Discriminator(nn.Module):
    """image (+ labels) -> one logit per image."""

    # Channels-last, as G (its avg-pool backward is about 5x faster than NCHW's on a CPU). Set on fromRGB's
    # output: from one-channel images PyTorch would pick NCHW, and every later layer follows its input.
    memory_format = torch.channels_last

    def __init__(self, channels: int = 1, image_size: int = 32, channel_base: int = 1024, channel_max: int = 128,
                 num_classes: int = 0, mbstd_group: int = 4, residual: bool = True, cmap_dim: int = 128,
                 classifier: bool = False, mbstd_by_class: bool = True):
        super().__init__()
        if image_size not in IMAGE_SIZES:
            raise ValueError(f"parameter 'image_size' = {image_size} unsupported; choose one of {IMAGE_SIZES}")
        self.num_classes, self.mbstd_group = num_classes, mbstd_group
        self.mbstd_classes = num_classes if mbstd_by_class else 0
        self.from_rgb = EqualConv2d(channels, channels_at(image_size, channel_base, channel_max), 1, activation=True)
        blocks, res = [], image_size
        while res > 4:
            blocks.append(DBlock(channels_at(res, channel_base, channel_max),
                                 channels_at(res // 2, channel_base, channel_max), residual))
            res //= 2
        self.blocks = nn.Sequential(*blocks)
        c4 = channels_at(4, channel_base, channel_max)
        self.conv = EqualConv2d(c4 + 1, c4, 3, activation=True)
        self.fc = EqualLinear(c4 * 16, c4, activation=True)
        self.cmap_dim = cmap_dim if num_classes else 1
        self.out = EqualLinear(c4, self.cmap_dim)
        self.embed = EqualLinear(num_classes, cmap_dim) if num_classes else None
        # optional auxiliary classifier head (AC-GAN, Odena et al. 2017): not in the official code
        self.classify = EqualLinear(c4, num_classes) if num_classes and classifier else None

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None, with_classes: bool = False):
        """The logit per image; with ``with_classes``, also the auxiliary head's class logits (or None)."""
        h = self.blocks(self.from_rgb(x).contiguous(memory_format=self.memory_format))
        features = self.fc(self.conv(minibatch_std(h, self.mbstd_group, y if self.mbstd_classes else None, self.mbstd_classes)).flatten(1))
        h = self.out(features)
        if self.embed is None:
            logit = h[:, 0]
        elif y is None:
            raise ValueError("this discriminator is class-conditional: pass labels y")
        else:
            cmap = self.embed(nn.functional.one_hot(y, self.num_classes).to(x.dtype))
            logit = (h * cmap).sum(dim=1) / math.sqrt(self.cmap_dim)
        logit = full_precision(logit)  # out of bf16 autocast: the losses and R1 are reduced from here
        if not with_classes:
            return logit
        return logit, (full_precision(self.classify(features)) if self.classify is not None else None)
