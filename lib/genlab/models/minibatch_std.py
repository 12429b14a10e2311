"""Minibatch standard deviation (Karras et al. 2018, ProGAN §3), taken within each class for a conditional D.

D gets one extra channel: how much the images it is judged with vary, the std of each feature over a
group, averaged to one number. Over a batch of mixed classes that spread is mostly the difference
between digits: a generator that draws one image per class looks as varied as the data, and D cannot
see the collapse. Taken over the images that share a label, the channel measures the within-class
variety a conditional generator has to match (real and fake batches carry the same labels in D's step).
"""

from __future__ import annotations

import torch


def minibatch_std(x: torch.Tensor, group_size: int, labels: torch.Tensor | None = None,
                  num_classes: int = 0) -> torch.Tensor:
    """Append one channel: per group, the mean over (C, H, W) of the std over the group's images.

    Image n is in group n % (B / group_size), as the official code; with ``labels`` each group is split
    further by label (an image alone in its part gets 0). Twice differentiable (R1 runs through it).
    """
    b, c, h, w = x.shape
    g = min(group_size, b)
    if b % g:
        raise ValueError(f"minibatch-std group size {g} does not divide the batch of {b} images; choose "
                         f"'batch_size' a multiple of 'mbstd_group' ({group_size}), or change 'mbstd_group'")
    part = torch.arange(b, device=x.device) % (b // g)
    if labels is not None:
        part = part * num_classes + labels
    parts = b // g * max(num_classes, 1)
    count = torch.zeros(parts, device=x.device, dtype=x.dtype).index_add(0, part, torch.ones_like(x[:, 0, 0, 0]))
    count = count.clamp(min=1)[:, None, None, None]
    mean = torch.zeros(parts, c, h, w, device=x.device, dtype=x.dtype).index_add(0, part, x) / count
    var = torch.zeros_like(mean).index_add(0, part, (x - mean[part]).square()) / count
    std = var.add(1e-8).sqrt().mean(dim=(1, 2, 3))  # one number per part
    return torch.cat([x, std[part].reshape(b, 1, 1, 1).expand(b, 1, h, w)], dim=1)
