"""Equalized-learning-rate layers and the modulated convolution of StyleGAN2 (Karras et al. 2020).

Equalized learning rate (StyleGAN2 §B / ProGAN §4.1): weights are stored as N(0, 1) / lr_mul and
scaled at run time by lr_mul / sqrt(fan_in), so every layer learns at the same speed under Adam.
Modulation / demodulation (StyleGAN2 eqs. 1-3): w'_ijk = s_i * w_ijk, then
w''_ijk = w'_ijk / sqrt(sum_{i,k} w'_ijk^2 + eps). Sampling runs it as ONE grouped convolution
(groups = batch); training scales the activations instead (the official training path, faster here).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

LRELU_GAIN = math.sqrt(2.0)  # keeps unit variance through leaky ReLU(0.2) (He et al.)


def lrelu(x: torch.Tensor, gain: float = LRELU_GAIN) -> torch.Tensor:
    return F.leaky_relu(x, 0.2) * gain


class EqualLinear(nn.Module):
    """y = x W^T * (lr_mul / sqrt(in)) + b * lr_mul, with W stored as randn / lr_mul."""

    def __init__(self, in_features: int, out_features: int, bias_init: float = 0.0, lr_mul: float = 1.0,
                 activation: bool = False):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_features, in_features) / lr_mul)
        self.bias = nn.Parameter(torch.full((out_features,), float(bias_init) / lr_mul))
        self.weight_gain, self.bias_gain, self.activation = lr_mul / math.sqrt(in_features), lr_mul, activation

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.linear(x, self.weight * self.weight_gain, self.bias * self.bias_gain)
        return lrelu(x) if self.activation else x


class EqualConv2d(nn.Module):
    """Equalized-lr k x k convolution (same padding); weight scaled by 1 / sqrt(C_in k^2) at run time."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, bias: bool = True,
                 activation: bool = False):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_channels, in_channels, kernel_size, kernel_size))
        self.bias = nn.Parameter(torch.zeros(out_channels)) if bias else None
        self.weight_gain, self.activation = 1.0 / math.sqrt(in_channels * kernel_size ** 2), activation

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.conv2d(x, self.weight * self.weight_gain, self.bias, padding=self.weight.shape[-1] // 2)
        return lrelu(x) if self.activation else x


def modulated_conv2d(x: torch.Tensor, weight: torch.Tensor, styles: torch.Tensor, demodulate: bool = True,
                     eps: float = 1e-8) -> torch.Tensor:
    """StyleGAN2 eqs. 1-3 as one grouped convolution: x B x C_in x H x W, weight O x C_in x k x k, styles B x C_in."""
    b, c, h, w_ = x.shape
    o, _, k, _ = weight.shape
    wts = weight[None] * styles[:, None, :, None, None]  # eq. 1: w' = s_i * w
    if demodulate:  # eq. 3: w'' = w' / sqrt(sum_{i,k} w'^2 + eps)
        wts = wts * torch.rsqrt(wts.square().sum(dim=(2, 3, 4), keepdim=True) + eps)
    out = F.conv2d(x.reshape(1, b * c, h, w_), wts.reshape(b * o, c, k, k), padding=k // 2, groups=b)
    return out.reshape(b, o, h, w_)


def modulated_conv2d_on_activations(x: torch.Tensor, weight: torch.Tensor, styles: torch.Tensor,
                                    demodulate: bool = True, eps: float = 1e-8) -> torch.Tensor:
    """The same result with the styles on the activations: conv(x * s, w) * d, d_j = rsqrt(sum_i s_i^2 sum_k w_ijk^2).

    One convolution with weights shared by the batch, which CPUs and GPUs run faster than groups = batch
    when gradients flow (the official code trains this way, ``fused_modconv=False``).
    """
    out = F.conv2d(x * styles[:, :, None, None], weight, padding=weight.shape[-1] // 2)
    if demodulate:
        out = out * torch.rsqrt(styles.square() @ weight.square().sum(dim=(2, 3)).T + eps)[:, :, None, None]
    return out


def modulated_conv2d_unfused(x: torch.Tensor, weight: torch.Tensor, styles: torch.Tensor, demodulate: bool = True,
                             eps: float = 1e-8) -> torch.Tensor:
    """The same operation image by image, as the paper writes it (the reference the grouped form is tested against)."""
    outs = []
    for i in range(x.shape[0]):
        wts = weight * styles[i][None, :, None, None]
        if demodulate:
            wts = wts * torch.rsqrt(wts.square().sum(dim=(1, 2, 3), keepdim=True) + eps)
        outs.append(F.conv2d(x[i:i + 1], wts, padding=weight.shape[-1] // 2))
    return torch.cat(outs)


class ModulatedConv2d(nn.Module):
    """A style-modulated k x k convolution: affine A maps w to per-input-channel scales s (bias init 1)."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, w_dim: int, demodulate: bool = True):
        super().__init__()
        self.affine = EqualLinear(w_dim, in_channels, bias_init=1.0)
        self.weight = nn.Parameter(torch.randn(out_channels, in_channels, kernel_size, kernel_size))
        self.weight_gain = 1.0 / math.sqrt(in_channels * kernel_size ** 2)
        self.demodulate = demodulate

    def forward(self, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        s = self.affine(w)
        if not self.demodulate:  # toRGB: styles scaled by 1/sqrt(fan_in) instead of demodulation
            s = s * self.weight_gain
        conv = modulated_conv2d_on_activations if self.training else modulated_conv2d
        return conv(x, self.weight, s, self.demodulate)


def upsample2x(x: torch.Tensor) -> torch.Tensor:
    """x2 upsampling with a [1,3,3,1] separable filter (the official FIR), as a bilinear interpolation."""
    return F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)


def downsample2x(x: torch.Tensor) -> torch.Tensor:
    """x2 downsampling by box filtering (a cheap low-pass before decimation)."""
    return F.avg_pool2d(x, 2)
