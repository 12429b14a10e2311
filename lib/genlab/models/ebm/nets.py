"""The energy network E_theta(x): a plain ``nn.Module`` (low energy = likely under p(x) = exp(-E(x)) / Z)."""

from __future__ import annotations

import torch
from torch import nn

from ...train.precision import full_precision

IMAGE_SIZES = (28, 32, 64)


class EnergyNet(nn.Module):
    """x: B x C x H x W in [-1, 1] -> E(x): B (a scalar energy per image; lower = more data-like).

    A 5x5 stride-2 convolution (28 px is padded to 16 x 16 after it, 32 -> 16, 64 -> 32), then
    3x3 stride-2 convolutions down to 2 x 2 (widths c, 2c, 4c, 4c, ...), SiLU throughout
    (smooth, so grad_x E is smooth for Langevin), then two linear layers to one number.
    ``spectral_norm`` bounds each layer's Lipschitz constant, which keeps E and grad_x E tame.
    """

    def __init__(self, channels: int = 1, image_size: int = 28, base_channels: int = 16,
                 spectral_norm: bool = False, num_classes: int = 0):
        super().__init__()
        if image_size not in IMAGE_SIZES:
            raise ValueError(f"parameter 'image_size' = {image_size} unsupported; choose one of {IMAGE_SIZES}")
        if channels not in (1, 3):
            raise ValueError(f"channels = {channels} unsupported; the energy network takes 1 or 3 channels")
        norm = nn.utils.parametrizations.spectral_norm if spectral_norm else (lambda m: m)
        pad = 4 if image_size == 28 else 2
        size = (image_size + 2 * pad - 5) // 2 + 1
        ch = base_channels
        layers: list[nn.Module] = [norm(nn.Conv2d(channels, ch, 5, 2, pad)), nn.SiLU()]
        while size > 2:
            out = min(2 * ch, 4 * base_channels)
            layers += [norm(nn.Conv2d(ch, out, 3, 2, 1)), nn.SiLU()]
            ch, size = out, (size - 1) // 2 + 1
        layers += [nn.Flatten(), norm(nn.Linear(ch * size * size, ch)), nn.SiLU(),
                   norm(nn.Linear(ch, num_classes or 1))]
        self.net = nn.Sequential(*layers)
        self.channels, self.image_size, self.num_classes = channels, image_size, num_classes

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        """f(x): B x num_classes (B x 1 for an unconditional net), float32 also under bf16 autocast."""
        return full_precision(self.net(x))

    def energy_from_logits(self, f: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """E(x, y) = -f(x)[y]; E(x) = -logsumexp_y f(x)[y] (JEM, Grathwohl et al. 2020, eq. 5): B energies.

        The same logits are a classifier, p(y | x) = softmax(f(x))[y], which the training's
        cross-entropy term sharpens. An unconditional net has E(x) = f(x).
        """
        if not self.num_classes:
            return f.flatten()
        return -torch.logsumexp(f, dim=1) if y is None else -f.gather(1, y[:, None])[:, 0]

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """E(x) (labels None) or E(x, y): B energies."""
        return self.energy_from_logits(self.logits(x), y)


def build(config, channels: int, num_classes: int) -> EnergyNet:
    net = EnergyNet(channels, config.image_size, config.base_channels, config.spectral_norm,
                    num_classes if config.conditional else 0)
    # channels-last weights: the convolutions (and Langevin's input gradients) run in oneDNN's fast layout
    return net.to(memory_format=torch.channels_last)
