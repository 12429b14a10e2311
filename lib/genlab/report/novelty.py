"""Memorization check of trained models: their samples' nearest training images, against held-out digits.

The distances are :mod:`genlab.eval.novelty`'s; this module samples the models of a run, scores them
in pixels and in the classifier's features, and shows each model's closest sample-training pairs.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd
import torch

from ..base.paths import resolve_path
from ..base.run_folder import CHECKPOINT
from ..data import load_dataset, resize_images, scoring_size
from ..eval.featurenet import cache_dir, feature_net
from ..eval.novelty import nearest, novelty, novelty_summary
from ..models import registry
from ..plots import show_image


def closest_pairs(samples: torch.Tensor, train: torch.Tensor, k: int = 8, title: str = ""):
    """The ``k`` samples nearest (in pixels) to a training image, each above its training neighbour."""
    d, idx = nearest(samples.double() / 255, train.double() / 255)
    order = d.argsort()[:k]
    fig, axes = plt.subplots(2, k, figsize=(1.2 * k, 2.8), squeeze=False)
    for j, i in enumerate(order.tolist()):
        for row, img in ((0, samples[i]), (1, train[idx[i]])):
            ax = show_image(axes[row][j], img)
            ax.set_axis_on()  # a frame without ticks: the row labels stay visible
            ax.set_xticks([])
            ax.set_yticks([])
        axes[0][j].set_title(f"d = {float(d[i]):.2f}", fontsize=7)
    axes[0][0].set_ylabel("sample", fontsize=8)
    axes[1][0].set_ylabel("nearest train", fontsize=8)
    fig.suptitle(title or f"the {k} samples closest to a training image (pixel distance)", fontsize=9)
    fig.tight_layout()
    return fig


def models_novelty(runs, n: int = 500, seed: int = 0, device: str = "cpu") -> tuple[pd.DataFrame, dict]:
    """Novelty of every model found in ``runs`` (:class:`genlab.report.runs.Runs`): n samples each against the
    training split, with n held-out digits as the reference, in pixels and in the classifier's features.

    Returns (summary: one row block per model, {model: (samples, train)} for :func:`closest_pairs`).
    """
    tables, pairs = [], {}
    for name, folder in runs.dirs.items():
        if not (folder / CHECKPOINT).is_file():
            continue
        trained = registry.load_trained(folder / CHECKPOINT, device)
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
