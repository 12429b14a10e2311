"""Memorization and novelty: how close do samples come to the training set?

Copies of training images score perfectly on FD, KID, precision and recall (the memorization rung
of the ladder shows it), so a generator is also asked how near its samples lie to their nearest
training image, against the same distance for held-out real images (real digits the model never
saw: the reference for "novel but realistic"). Samples much closer to the training set than
held-out digits are, especially a cluster of near-zero distances, point to copying.

Distances are Euclidean, in pixels ([0, 1] per pixel) and in a feature space (any ``N x D``).
"""

from __future__ import annotations

import matplotlib.pyplot as plt
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


def closest_pairs(samples: torch.Tensor, train: torch.Tensor, k: int = 8, title: str = ""):
    """The ``k`` samples nearest (in pixels) to a training image, each above its training neighbour."""
    d, idx = nearest(samples.double() / 255, train.double() / 255)
    order = d.argsort()[:k]
    fig, axes = plt.subplots(2, k, figsize=(1.2 * k, 2.8), squeeze=False)
    for j, i in enumerate(order.tolist()):
        for row, img in ((0, samples[i]), (1, train[idx[i]])):
            ax = axes[row][j]
            ax.imshow(img.permute(1, 2, 0).squeeze(-1).numpy(), cmap="gray", vmin=0, vmax=255)
            ax.set_xticks([])
            ax.set_yticks([])
        axes[0][j].set_title(f"d = {float(d[i]):.2f}", fontsize=7)
    axes[0][0].set_ylabel("sample", fontsize=8)
    axes[1][0].set_ylabel("nearest train", fontsize=8)
    fig.suptitle(title or f"the {k} samples closest to a training image (pixel distance)", fontsize=9)
    fig.tight_layout()
    return fig


def models_novelty(runs, n: int = 500, seed: int = 0, device: str = "cpu") -> tuple[pd.DataFrame, dict]:
    """Novelty of every model found in ``runs`` (genlab.eval.compare.Runs): n samples each against the
    training split, with n held-out digits as the reference, in pixels and in the classifier's features.

    Returns (summary: one row block per model, {model: (samples, train)} for :func:`closest_pairs`).
    """
    from ..base.paths import resolve_path
    from ..base.run_folder import CHECKPOINT
    from ..data import load_dataset, resize_images, scoring_size
    from ..models import load_trained
    from .featurenet import cache_dir, feature_net
    tables, pairs = [], {}
    for name, folder in runs.dirs.items():
        if not (folder / CHECKPOINT).is_file():
            continue
        trained = load_trained(folder / CHECKPOINT, device)
        cfg = trained.config
        data_dir = resolve_path(cfg.data_dir)
        c, size = trained.image_shape()[0], scoring_size(cfg.dataset, trained.image_shape()[-1])
        train = load_dataset(cfg.dataset, "train", image_size=size, channels=c, data_dir=data_dir).images
        held = load_dataset(cfg.dataset, "test", image_size=size, channels=c, data_dir=data_dir)
        held = held.subset(min(n, len(held)), seed=seed).images
        samples = resize_images(trained.sample(len(held), seed=seed), size)
        net = feature_net(cfg.dataset, size, c, data_dir=data_dir, cache=cache_dir(cfg.output_dir), verbose=False)
        summary = novelty_summary(novelty(samples, held, train, features=net.features))
        tables.append(summary.assign(model=name).set_index("model", append=True).reorder_levels(["model", "space"]))
        pairs[name] = (samples, train)
    return (pd.concat(tables) if tables else pd.DataFrame()), pairs


def show_closest_pairs(pairs: dict, k: int = 8) -> list:
    """:func:`closest_pairs` for every model of :func:`models_novelty` (one figure each)."""
    return [closest_pairs(samples, train, k, title=f"{name}: the {k} samples closest to a training image (pixels)")
            for name, (samples, train) in pairs.items()]
