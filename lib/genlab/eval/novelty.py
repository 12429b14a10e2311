"""Memorization and novelty: how close do samples come to the training set?

Copies of training images score perfectly on FD, KID, precision and recall (the memorization rung
of the ladder shows it), so a generator is also asked how near its samples lie to their nearest
training image, against the same distance for held-out real images (real digits the model never
saw: the reference for "novel but realistic"). Samples much closer to the training set than
held-out digits are, especially a cluster of near-zero distances, point to copying.

Distances are Euclidean, in pixels ([0, 1] per pixel) and in a feature space (any ``N x D``).
The check against trained models and its figures are :mod:`genlab.report.novelty`.
"""

from __future__ import annotations

import pandas as pd
import torch


def nearest(query: torch.Tensor, train: torch.Tensor, chunk: int = 512) -> tuple[torch.Tensor, torch.Tensor]:
    """(distance, index) of each query row's nearest training row (float64, flattened)."""
    q, t = query.flatten(1).double(), train.flatten(1).double()
    dist, idx = [], []
    for i in range(0, len(q), chunk):
        d = torch.cdist(q[i:i + chunk], t)
        m = d.min(dim=1)
        dist.append(m.values)
        idx.append(m.indices)
    return torch.cat(dist), torch.cat(idx)


def novelty(samples: torch.Tensor, held_out: torch.Tensor, train: torch.Tensor, features=None) -> pd.DataFrame:
    """Nearest-training-image distances of samples and of held-out real images, in pixels and features.

    ``samples``, ``held_out``, ``train``: uint8 ``N x C x H x W``; ``features``: a callable mapping
    uint8 images to ``N x D`` (e.g. a FeatureNet), or None for pixels only. Long table with
    columns set ('samples' | 'held-out real'), space, distance.
    """
    spaces = {"pixels": lambda x: x.double() / 255}
    if features is not None:
        spaces["features"] = features
    rows = []
    for space, f in spaces.items():
        t = f(train)
        for who, x in (("samples", samples), ("held-out real", held_out)):
            d, _ = nearest(f(x), t)
            rows.extend({"set": who, "space": space, "distance": float(v)} for v in d)
    return pd.DataFrame(rows)


def novelty_summary(table: pd.DataFrame) -> pd.DataFrame:
    """Median and 1st percentile of the nearest-training distance, samples vs held-out, and their ratio."""
    g = table.groupby(["space", "set"])["distance"]
    out = pd.DataFrame({"median": g.median(), "1st percentile": g.quantile(0.01)}).unstack("set")
    for col in ("median", "1st percentile"):
        out[(col, "samples / held-out")] = out[(col, "samples")] / out[(col, "held-out real")]
    return out.sort_index(axis=1)
