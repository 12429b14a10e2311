"""Training batches drawn on the device: a pure function of (seed, step), sharded across ranks."""

from __future__ import annotations

from typing import Iterator

import torch

from .images import ImageData, to_float


def num_batches(n: int, batch_size: int) -> int:
    """Batches per epoch (the last partial batch is dropped, so every step sees ``batch_size``)."""
    return max(1, n // batch_size)


def epoch_permutation(n: int, seed: int, epoch: int) -> torch.Tensor:
    """The sample order of ``epoch``: a pure function of (seed, epoch), so resuming mid-epoch is exact."""
    g = torch.Generator().manual_seed(seed * 1_000_003 + epoch)
    return torch.randperm(n, generator=g)


class DeviceBatches:
    """Batches drawn from a dataset that lives on the training device.

    The whole uint8 dataset is moved to ``device`` once; each batch is one
    gather plus a uint8 -> float conversion, with no per-sample Python work.
    ``batch(step)`` returns the ``step``-th batch of training (epochs follow
    each other, each with its own fixed permutation), so the stream of batches
    is a pure function of ``seed`` and ``step``.

    ``batch_size`` is the global batch; ``rows`` (a slice of it) is what this process
    trains on under data parallelism (``genlab.train.distributed.rows``), so the ranks
    see disjoint shards of each epoch's permutation and together the one-process batch.
    """

    def __init__(self, data: ImageData, batch_size: int, device: torch.device | str, seed: int = 0,
                 rows: slice | None = None):
        if batch_size > len(data):
            raise ValueError(f"parameter 'batch_size' = {batch_size} exceeds the dataset size {len(data)}; "
                             f"use a batch size <= {len(data)}")
        self.images = data.images.to(device)
        self.labels = data.labels.to(device)
        self.batch_size = batch_size
        self.seed = seed
        self.rows = rows
        self.steps_per_epoch = num_batches(len(data), batch_size)
        self._epoch = -1
        self._perm: torch.Tensor | None = None

    def batch(self, step: int) -> tuple[torch.Tensor, torch.Tensor]:
        """``(x0, y)``: x0 is B x C x H x W float in [-1, 1], y is B int64, both on the device."""
        epoch, i = divmod(step, self.steps_per_epoch)
        if epoch != self._epoch:
            self._perm = epoch_permutation(len(self.labels), self.seed, epoch).to(self.images.device)
            self._epoch = epoch
        idx = self._perm[i * self.batch_size:(i + 1) * self.batch_size]
        if self.rows is not None:
            idx = idx[self.rows]
        return to_float(self.images[idx]), self.labels[idx]

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """One epoch (epoch 0) of batches."""
        for step in range(self.steps_per_epoch):
            yield self.batch(step)
