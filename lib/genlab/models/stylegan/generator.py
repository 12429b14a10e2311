"""The StyleGAN2 generator (Karras et al. 2020, "Analyzing and Improving the Image Quality of StyleGAN").

Mapping f: z -> w (FC layers, learning-rate multiplier 0.01), w-bar tracked as a moving average for
the truncation trick w' = w-bar + psi (w - w-bar); synthesis from a learned 4 x 4 constant through
modulated convolutions with per-pixel noise, and the skip architecture: every resolution adds its
toRGB output to the upsampled RGB image of the resolution below (StyleGAN2 fig. 7b).
"""

from __future__ import annotations

import math
from typing import Union

import torch
from torch import nn

from .layers import EqualLinear, ModulatedConv2d, lrelu, upsample2x

IMAGE_SIZES = (32, 64, 128)
Noise = Union[str, torch.Generator]  # "random", "none", or a generator to draw the noise maps from


def channels_at(res: int, channel_base: int, channel_max: int) -> int:
    """Feature maps at resolution ``res``: min(channel_base / res, channel_max), as the official code."""
    return max(1, min(channel_base // res, channel_max))


def num_ws(image_size: int) -> int:
    """Number of w inputs: two per resolution from 8 px, one at 4 px, i.e. 2 log2(res) - 2 (toRGBs share them)."""
    return 2 * int(math.log2(image_size)) - 2


class MappingNetwork(nn.Module):
    """z (B x z_dim, + labels) -> w (B x w_dim); keeps w_avg (the centre of W) for truncation."""

    def __init__(self, z_dim: int, w_dim: int, num_layers: int, num_classes: int = 0, lr_mul: float = 0.01,
                 w_avg_beta: float = 0.995):
        super().__init__()
        self.z_dim, self.w_dim, self.num_classes, self.w_avg_beta = z_dim, w_dim, num_classes, w_avg_beta
        self.embed = EqualLinear(num_classes, w_dim) if num_classes else None
        dims = [z_dim + (w_dim if num_classes else 0)] + [w_dim] * num_layers
        self.fcs = nn.ModuleList(EqualLinear(a, b, lr_mul=lr_mul, activation=True) for a, b in zip(dims, dims[1:]))
        self.register_buffer("w_avg", torch.zeros(w_dim))

    @staticmethod
    def normalize(x: torch.Tensor) -> torch.Tensor:
        """Pixel norm: divide by the root mean square (z and the label embedding live on a sphere)."""
        return x * torch.rsqrt(x.square().mean(dim=1, keepdim=True) + 1e-8)

    def forward(self, z: torch.Tensor, y: torch.Tensor | None = None, track_w_avg: bool = False) -> torch.Tensor:
        x = self.normalize(z)
        if self.embed is not None:
            if y is None:
                raise ValueError("this generator is class-conditional: pass labels y")
            onehot = nn.functional.one_hot(y, self.num_classes).to(z.dtype)
            x = torch.cat([x, self.normalize(self.embed(onehot))], dim=1)
        for fc in self.fcs:
            x = fc(x)
        if track_w_avg:
            with torch.no_grad():
                self.w_avg.lerp_(x.detach().mean(dim=0).to(self.w_avg.dtype), 1.0 - self.w_avg_beta)  # bf16 under autocast
        return x

    def truncate(self, w: torch.Tensor, psi: float) -> torch.Tensor:
        """Truncation trick (StyleGAN §3.2): w' = w_avg + psi (w - w_avg)."""
        return w if psi == 1 else self.w_avg.lerp(w, psi)


class SynthesisLayer(nn.Module):
    """Modulated conv, then per-pixel noise times a learned strength (init 0), bias and leaky ReLU."""

    def __init__(self, in_channels: int, out_channels: int, w_dim: int, resolution: int, up: bool = False):
        super().__init__()
        self.conv = ModulatedConv2d(in_channels, out_channels, 3, w_dim)
        self.up, self.resolution = up, resolution
        self.noise_strength = nn.Parameter(torch.zeros(()))
        self.bias = nn.Parameter(torch.zeros(out_channels))

    def forward(self, x: torch.Tensor, w: torch.Tensor, noise: Noise = "random") -> torch.Tensor:
        if self.up:
            x = upsample2x(x)
        x = self.conv(x, w)
        if noise != "none":  # "random": the global RNG; a torch.Generator: drawn on the CPU from it
            gen = noise if isinstance(noise, torch.Generator) else None
            n = torch.randn(x.shape[0], 1, x.shape[2], x.shape[3], generator=gen,
                            device=x.device if gen is None else "cpu").to(x.device)
            x = x + n * self.noise_strength
        return lrelu(x + self.bias[None, :, None, None])


class ToRGB(nn.Module):
    """1 x 1 modulated conv without demodulation (its output is an image, not a feature map)."""

    def __init__(self, in_channels: int, channels: int, w_dim: int):
        super().__init__()
        self.conv = ModulatedConv2d(in_channels, channels, 1, w_dim, demodulate=False)
        self.bias = nn.Parameter(torch.zeros(channels))

    def forward(self, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        return self.conv(x, w) + self.bias[None, :, None, None]


class Generator(nn.Module):
    """(z, y) -> image in roughly [-1, 1]; ``synthesis(ws)`` takes B x num_ws x w_dim for mixing and truncation."""

    # Channels-last: the layout of oneDNN's and cuDNN's fast convolutions (the training step ran 1.27x faster
    # than in NCHW on a 2-core AMD EPYC, benchmarks/layouts.py). Set on the constant; later layers follow it.
    memory_format = torch.channels_last

    def __init__(self, z_dim: int = 128, w_dim: int = 128, mapping_layers: int = 2, channels: int = 1,
                 image_size: int = 32, channel_base: int = 1024, channel_max: int = 128, num_classes: int = 0):
        super().__init__()
        if image_size not in IMAGE_SIZES:
            raise ValueError(f"parameter 'image_size' = {image_size} unsupported; choose one of {IMAGE_SIZES}")
        self.z_dim, self.w_dim, self.channels, self.image_size = z_dim, w_dim, channels, image_size
        self.num_classes, self.num_ws = num_classes, num_ws(image_size)
        self.mapping = MappingNetwork(z_dim, w_dim, mapping_layers, num_classes)
        c4 = channels_at(4, channel_base, channel_max)
        self.const = nn.Parameter(torch.randn(c4, 4, 4))
        self.layers, self.torgbs = nn.ModuleList([SynthesisLayer(c4, c4, w_dim, 4)]), nn.ModuleList([ToRGB(c4, channels, w_dim)])
        res, c_in = 8, c4
        while res <= image_size:
            c = channels_at(res, channel_base, channel_max)
            self.layers.append(SynthesisLayer(c_in, c, w_dim, res, up=True))
            self.layers.append(SynthesisLayer(c, c, w_dim, res))
            self.torgbs.append(ToRGB(c, channels, w_dim))
            res, c_in = res * 2, c

    def synthesis(self, ws: torch.Tensor, noise: Noise = "random") -> torch.Tensor:
        """ws: B x num_ws x w_dim. Layer i reads ws[:, i]; the toRGB after layer i reads ws[:, i + 1] (as official)."""
        x = self.const[None].expand(ws.shape[0], -1, -1, -1).contiguous(memory_format=self.memory_format)
        x = self.layers[0](x, ws[:, 0], noise)
        img = self.torgbs[0](x, ws[:, 1])
        for r, torgb in enumerate(self.torgbs[1:]):
            i = 1 + 2 * r
            x = self.layers[i](x, ws[:, i], noise)
            x = self.layers[i + 1](x, ws[:, i + 1], noise)
            img = upsample2x(img) + torgb(x, ws[:, i + 2])  # skip architecture
        return img

    def ws(self, z: torch.Tensor, y: torch.Tensor | None = None, psi: float = 1.0, mixing: float = 0.0,
           track_w_avg: bool = False) -> torch.Tensor:
        """Broadcast w to every layer; with probability ``mixing`` switch to w(z2) after a random layer (§3.3)."""
        w = self.mapping.truncate(self.mapping(z, y, track_w_avg), psi)
        ws = w[:, None].repeat(1, self.num_ws, 1)
        if mixing > 0 and torch.rand(()) < mixing:
            cutoff = int(torch.randint(1, self.num_ws, ()))
            w2 = self.mapping.truncate(self.mapping(torch.randn_like(z), y), psi)
            ws[:, cutoff:] = w2[:, None]
        return ws

    def forward(self, z: torch.Tensor, y: torch.Tensor | None = None, psi: float = 1.0, mixing: float = 0.0,
                noise: Noise = "random", track_w_avg: bool = False) -> torch.Tensor:
        return self.synthesis(self.ws(z, y, psi, mixing, track_w_avg), noise)
