"""Figures of the StyleGAN2-ADA chapter (besides the shared ones in :mod:`genlab.plots`)."""

from __future__ import annotations

import matplotlib.pyplot as plt

from ...plots import plot_history, show_grid, strip


def architecture_table(trained):
    """One row per generator layer: resolution, channels, which w it reads, parameters."""
    import pandas as pd
    gen = trained.generator
    rows = [("mapping", "-", f"{gen.z_dim} -> {gen.w_dim}", "z (+ label)", sum(p.numel() for p in gen.mapping.parameters())),
            ("const", "4x4", gen.const.shape[0], "-", gen.const.numel())]
    for i, layer in enumerate(gen.layers):
        rows.append((f"conv {i}{' (up)' if layer.up else ''}", f"{layer.resolution}x{layer.resolution}",
                     layer.conv.weight.shape[0], f"w[{i}]", sum(p.numel() for p in layer.parameters())))
    res = 4
    for j, t in enumerate(gen.torgbs):
        rows.append((f"toRGB {res}", f"{res}x{res}", t.conv.weight.shape[0], f"w[{2 * j + 1}]",
                     sum(p.numel() for p in t.parameters())))
        res *= 2
    return pd.DataFrame(rows, columns=["layer", "resolution", "channels", "style input", "parameters"])


def show_ada_curves(trained, ax=None):
    """p and r_t over training (ADA's controller pushes r_t toward its target)."""
    ax = plot_history(trained.history_path, ["p", "r_t"], title="ADA: augmentation probability p and r_t", ax=ax)
    ax.axhline(trained.config.ada_target, color="gray", ls="--", lw=1)
    return ax


def show_truncation(trained, psis=(1.0, 0.7, 0.5, 0.0), per_class: int = 1, seed: int = 0):
    """The same latents at several psi: lower psi, more typical and less diverse."""
    from ...data import balanced_labels
    n = per_class * max(1, trained.num_classes) if trained.num_classes else 10
    labels = balanced_labels(n, trained.num_classes) if trained.num_classes else None
    fig, axes = plt.subplots(len(psis), 1, figsize=(7, 1.2 * len(psis)))
    for ax, psi in zip(axes, psis):
        show_grid(trained.sample(n, labels=labels, seed=seed, psi=psi), nrow=n, ax=ax, title=f"psi = {psi}")
    fig.tight_layout()
    return fig


def show_style_mixing(trained, rows: int = 4, cols: int = 4, cutoff: int = 4, label: int = 3, seed: int = 0):
    """Coarse styles (layers < cutoff) from the row images, fine styles from the column images."""
    return show_grid(trained.style_mix(rows, cols, cutoff, label, seed), nrow=cols + 1,
                     title=f"style mixing: rows give w[:{cutoff}], columns the rest")


def show_interpolation(trained, steps: int = 8, label: int = 3, seed: int = 2):
    """The same two endpoints interpolated in z (top) and in w (bottom)."""
    z = strip(trained.interpolate(steps, label, seed, space="z"), title="interpolation in z")
    w = strip(trained.interpolate(steps, label, seed, space="w"), title="interpolation in w")
    return z, w
