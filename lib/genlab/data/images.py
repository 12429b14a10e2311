"""Images in memory: :class:`ImageData` (uint8 ``N x C x H x W`` with int64 labels) and its conversions."""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F


@dataclass
class ImageData:
    """A dataset in memory: ``images`` N x C x H x W uint8, ``labels`` N int64."""

    images: torch.Tensor
    labels: torch.Tensor
    class_names: tuple[str, ...]
    name: str

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    @property
    def channels(self) -> int:
        return self.images.shape[1]

    @property
    def image_size(self) -> int:
        return self.images.shape[-1]

    def __len__(self) -> int:
        return self.images.shape[0]

    def meta(self) -> dict:
        """What a checkpoint needs to rebuild a model for this data: name, channels, size, classes."""
        return {"dataset": self.name, "channels": self.channels, "image_size": self.image_size,
                "num_classes": self.num_classes, "class_names": list(self.class_names)}

    def to(self, device: torch.device | str) -> "ImageData":
        return ImageData(self.images.to(device), self.labels.to(device), self.class_names, self.name)

    def subset(self, n: int, seed: int = 0) -> "ImageData":
        """A class-balanced-in-expectation random subset of ``n`` items (fixed by ``seed``)."""
        g = torch.Generator().manual_seed(seed)
        idx = torch.randperm(len(self), generator=g)[:n].to(self.images.device)
        return ImageData(self.images[idx], self.labels[idx], self.class_names, self.name)


def to_float(images: torch.Tensor) -> torch.Tensor:
    """uint8 0..255 -> float32 in [-1, 1], same shape."""
    return images.float().div_(127.5).sub_(1.0)


def to_uint8(x: torch.Tensor) -> torch.Tensor:
    """float in [-1, 1] -> uint8 0..255 (values outside are clamped), same shape."""
    return ((x.detach().float().clamp(-1, 1) + 1.0) * 127.5).round().to(torch.uint8)


def resize_images(images: torch.Tensor, image_size: int) -> torch.Tensor:
    """uint8 N x C x H x W to ``image_size`` square (bilinear, antialiased: the datasets' own resampling)."""
    if image_size == images.shape[-1] and image_size == images.shape[-2]:
        return images
    chunks = [F.interpolate(c, size=(image_size, image_size), mode="bilinear", antialias=True,
                            align_corners=False) for c in images.float().split(4096)]
    return torch.cat(chunks).round().clamp(0, 255).to(torch.uint8)


def balanced_labels(n: int, num_classes: int) -> torch.Tensor:
    """``n`` labels cycling 0, 1, ..., num_classes-1 (as balanced as ``n`` allows), int64."""
    return torch.arange(n, dtype=torch.int64) % max(1, num_classes)
