"""The second, classifier-free feature space: a randomly initialised CNN with a fixed seed.

A classifier's penultimate layer is one affine map away from its logits, so FD there largely
compares class histograms and can improve without better images (Kynkäänniemi et al. 2023).
Random convolutional embeddings are a recommended second opinion on non-ImageNet data (Naeem
et al. 2020): nothing was trained to ignore anything, so strokes, texture and background all
move the features. Every headline metric is reported in this space as well; a verdict needs
both spaces to agree in sign.

Architecture: three 3x3 conv + ReLU layers (32, 64, 32 channels, the last two with stride 2),
He-initialised from ``seed``, then a 2x2 adaptive average pool: ``32 * 4 = 128`` features that
keep a coarse layout (where on the canvas the ink is). Inputs: uint8 ``N x C x H x W``, mapped
to [-1, 1] exactly as for the classifier. Outputs float64; cached per image set like
:class:`genlab.eval.featurenet.FeatureNet`.
"""

from __future__ import annotations

import torch
from torch import nn

from ..data import to_float
from .featurenet import CACHE_SETS, image_digest

SPACE = "random"


class RandomFeatures(nn.Module):
    """uint8 images -> float64 ``N x num_features`` from a frozen random CNN (same seed, same net)."""

    def __init__(self, channels: int, seed: int = 0, batch_size: int = 500):
        super().__init__()
        g = torch.Generator().manual_seed(seed)
        layers = [nn.Conv2d(channels, 32, 3, 1, 1), nn.Conv2d(32, 64, 3, 2, 1), nn.Conv2d(64, 32, 3, 2, 1)]
        for conv in layers:  # He init from our own generator: the space is fixed by (channels, seed)
            fan_in = conv.in_channels * 9
            conv.weight.data = torch.randn(conv.weight.shape, generator=g) * (2.0 / fan_in) ** 0.5
            conv.bias.data.zero_()
        self.body = nn.Sequential(layers[0], nn.ReLU(), layers[1], nn.ReLU(), layers[2], nn.ReLU(),
                                  nn.AdaptiveAvgPool2d(2), nn.Flatten())
        self.body.eval().requires_grad_(False)
        self.num_features = 32 * 4
        self.batch_size = batch_size
        self.seed = seed
        self.key = f"random-cnn-{channels}ch-seed{seed}"
        self._cache: dict[str, torch.Tensor] = {}
        self.passes = 0

    @torch.no_grad()
    def features(self, images: torch.Tensor) -> torch.Tensor:
        key = image_digest(images)
        if key not in self._cache:
            if len(self._cache) >= CACHE_SETS:
                self._cache.pop(next(iter(self._cache)))
            self.passes += len(images)
            device = next(self.body.parameters()).device
            out = [self.body(to_float(images[i:i + self.batch_size]).to(device)).double().cpu()
                   for i in range(0, len(images), self.batch_size)]
            self._cache[key] = torch.cat(out) if out else torch.zeros(0, self.num_features, dtype=torch.float64)
        return self._cache[key]

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.features(images)
