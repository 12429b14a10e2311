"""FD's sample-size bias, shown once: FD against 1/N and its extrapolation to N = infinity.

The Fréchet distance estimated from N samples is biased upward, and the bias is close to linear in 1/N
(Chong & Forsyth 2020, "Effectively Unbiased FID and Inception Score and where to find them"): fitting
FD_N = FD_inf + b / N over a few N and reading the intercept gives FD_inf. The real-vs-real floor has the
same bias, which is why models are compared only at equal N against the same reference.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from .metrics import Features, frechet_distance


def fd_against_n(features: dict[str, torch.Tensor], reference: torch.Tensor, ns=(125, 250, 500, 1000)) -> pd.DataFrame:
    """FD of the first N rows of each feature set (``{name: N_max x D}``) against one fixed ``reference``.

    Returns a long table (set, N, 1/N, FD); sets shorter than an N are skipped at that N.
    """
    ident = Features(reference.shape[1])
    rows = [{"set": name, "N": n, "1/N": 1.0 / n, "FD": frechet_distance(reference, feats[:n], ident)}
            for name, feats in features.items() for n in ns if n <= len(feats)]
    return pd.DataFrame(rows)


def extrapolate(table: pd.DataFrame) -> pd.DataFrame:
    """Per set: the least-squares line FD = FD_inf + b / N; returns FD_inf, b and FD at the largest N."""
    out = {}
    for name, grp in table.groupby("set", sort=False):
        b, fd_inf = np.polyfit(grp["1/N"], grp["FD"], 1)
        out[name] = {"FD_inf": fd_inf, "slope b": b, "largest N": int(grp["N"].max()),
                     "FD at largest N": float(grp.loc[grp["N"].idxmax(), "FD"])}
    return pd.DataFrame(out).T


def plot_fd_against_n(table: pd.DataFrame, ax=None):
    """FD against 1/N per set with its fitted line down to 1/N = 0 (the extrapolated FD_inf)."""
    import matplotlib.pyplot as plt
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 3.6))
    fits = extrapolate(table)
    for i, (name, grp) in enumerate(table.groupby("set", sort=False)):
        ax.plot(grp["1/N"], grp["FD"], "o", c=f"C{i}", label=f"{name} (FD_inf {fits.loc[name, 'FD_inf']:.2f})")
        x = np.linspace(0, grp["1/N"].max(), 20)
        ax.plot(x, fits.loc[name, "FD_inf"] + fits.loc[name, "slope b"] * x, "--", c=f"C{i}", lw=1)
    ax.set_xlabel("1 / N (N = samples scored)")
    ax.set_ylabel("FD (classifier space)")
    ax.set_xlim(left=0)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    ax.set_title("FD is biased upward at small N; the line's intercept is FD_inf")
    return ax


def model_fd_bias(trained, n: int = 1000, ns=(125, 250, 500, 1000), seed: int = 0, reference_size: int = 2000):
    """:func:`fd_against_n` for one trained model and the held-out real digits (the floor), in the
    classifier space, against ``reference_size`` training images; returns (table, fits)."""
    from ..base.paths import resolve_path
    from ..data import load_dataset, resize_images, scoring_size
    from .featurenet import cache_dir, feature_net
    from .evaluation import sample
    cfg = trained.config
    data_dir = resolve_path(cfg.data_dir)
    images, _, _, _ = sample(trained, n, seed=seed)
    size, channels = scoring_size(cfg.dataset, images.shape[-1]), images.shape[1]
    net = feature_net(cfg.dataset, size, channels, data_dir=data_dir, cache=cache_dir(cfg.output_dir), verbose=False)
    train = load_dataset(cfg.dataset, "train", image_size=size, channels=channels, data_dir=data_dir)
    test = load_dataset(cfg.dataset, "test", image_size=size, channels=channels, data_dir=data_dir)
    reference = net.features(train.subset(min(reference_size, len(train)), seed=seed + 1).images)
    table = fd_against_n({trained.kind: net.features(resize_images(images, size)),
                          "held-out real (floor)": net.features(test.subset(min(n, len(test)), seed=seed + 2).images)},
                         reference, ns)
    return table, extrapolate(table)
