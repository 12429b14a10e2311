"""The classifier a feature space comes from: its settings, its network and its training.

:mod:`.featurenet` trains one per dataset and resolution on the training split, caches it, and reads its
penultimate layer as features and its logits as class scores.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ..base.config import Config, param
from ..data import to_float
from ..train.devices import seed_everything


@dataclass(frozen=True)
class FeatureNetConfig(Config):
    width: int = param(16, low=4, high=512, help="channels of the first conv layer (x2, x4 deeper)")
    feature_dim: int = param(128, low=2, high=4096, help="width of the penultimate layer = the features")
    epochs: int = param(15, low=1, high=1000, help="passes over the training split")
    batch_size: int = param(64, low=2, high=8192, help="images per step")
    lr: float = param(3e-3, low=0, low_open=True, high=1, help="peak AdamW learning rate (one-cycle schedule)")
    rotate: float = param(15.0, low=0, high=45, help="augmentation: largest rotation in degrees")
    shift: float = param(0.1, low=0, high=0.5, help="augmentation: largest shift, fraction of the half-width")
    scale: float = param(0.12, low=0, high=0.5, help="augmentation: largest relative zoom")
    label_smoothing: float = param(0.1, low=0, high=0.5, help="cross-entropy label smoothing")
    max_train: int = param(0, low=0, help="use at most this many training images (0 = all)")
    seed: int = param(0, low=0, help="seed for initialisation and batch order")

    def digest(self) -> str:
        """Short stable hash of the config: part of the cache file name."""
        return hashlib.sha1(json.dumps(self.to_dict(), sort_keys=True).encode()).hexdigest()[:10]


class Classifier(nn.Module):
    """uint8 or [-1, 1] float images B x C x H x W -> (features B x feature_dim, logits B x num_classes).

    Three conv blocks (3x3 conv, batch norm, ReLU, 2x2 max-pool) with ``w, 2w, 4w`` channels, then a
    fully connected layer to ``feature_dim`` (the features, after ReLU) and a linear head.
    """

    def __init__(self, channels: int, num_classes: int, width: int = 16, feature_dim: int = 128,
                 image_size: int = 28):
        super().__init__()
        w = width

        def block(cin: int, cout: int) -> list[nn.Module]:
            return [nn.Conv2d(cin, cout, 3, 1, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True),
                    nn.MaxPool2d(2, ceil_mode=True)]

        self.body = nn.Sequential(*block(channels, w), *block(w, 2 * w), *block(2 * w, 4 * w), nn.Flatten())
        side = image_size
        for _ in range(3):
            side = -(-side // 2)
        self.fc = nn.Sequential(nn.Linear(4 * w * side * side, feature_dim), nn.ReLU(inplace=True))
        self.drop = nn.Dropout(0.3)
        self.head = nn.Linear(feature_dim, num_classes)
        self.num_features = feature_dim
        self.num_classes = num_classes

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if x.dtype == torch.uint8:
            x = to_float(x)
        features = self.fc(self.body(x))
        return features, self.head(self.drop(features))


def augment(x: torch.Tensor, config: FeatureNetConfig, g: torch.Generator) -> torch.Tensor:
    """Random small rotation, shift and zoom of [-1, 1] images (background stays -1): geometry only."""
    b = len(x)
    u = lambda *shape: (torch.rand(*shape, generator=g) * 2 - 1).to(x.device)  # noqa: E731
    angle = u(b) * math.radians(config.rotate)
    zoom = 1 + u(b) * config.scale
    t = u(b, 2) * config.shift
    theta = torch.stack([torch.stack([zoom * angle.cos(), -zoom * angle.sin(), t[:, 0]], 1),
                         torch.stack([zoom * angle.sin(), zoom * angle.cos(), t[:, 1]], 1)], 1)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return F.grid_sample(x + 1, grid, align_corners=False, padding_mode="zeros") - 1


def train_classifier(images: torch.Tensor, labels: torch.Tensor, num_classes: int, config: FeatureNetConfig,
                     device: torch.device) -> Classifier:
    """Cross-entropy training of a :class:`Classifier` on uint8 ``images`` (N x C x H x W), int64 ``labels``.

    With fewer than 2 classes there is nothing to classify: the seeded, untrained net is returned, a
    random-feature space that still separates distributions, only less sharply than a trained one.
    """
    seed_everything(config.seed)
    net = Classifier(images.shape[1], num_classes, config.width, config.feature_dim, images.shape[-1]).to(device)
    if num_classes < 2:
        return net.eval().requires_grad_(False)
    opt = torch.optim.AdamW(net.parameters(), lr=config.lr, weight_decay=1e-4)
    n = len(images)
    steps = config.epochs * -(-n // config.batch_size)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=config.lr, total_steps=steps)
    g = torch.Generator().manual_seed(config.seed)
    x_all, y_all = to_float(images).to(device), labels.to(device)
    net.train()
    for _ in range(config.epochs):
        perm = torch.randperm(n, generator=g).to(device)
        for i in range(0, n, config.batch_size):
            idx = perm[i:i + config.batch_size]
            _, logits = net(augment(x_all[idx], config, g))
            loss = F.cross_entropy(logits, y_all[idx], label_smoothing=config.label_smoothing)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
    return net.eval().requires_grad_(False)
