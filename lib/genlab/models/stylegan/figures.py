"""Figures of the StyleGAN2-ADA chapter (besides the shared ones in :mod:`genlab.plots`)."""

from __future__ import annotations

import matplotlib.pyplot as plt

from ...eval.intervals import SUBSETS
from ...eval.metrics import SPACE_CLASSIFIER
from ...eval.truncation import truncation_table  # noqa: F401 (the chapter's table; shared with the DCGAN)
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


def show_ada_experiment(runs: dict, per_class: int = 2, seed: int = 0):
    """The ADA experiment's two arms: r_t and p over training, then samples of each (same labels and seed)."""
    import pandas as pd
    from ...data import balanced_labels
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.2))
    for arm, trained in runs.items():
        history = pd.read_csv(trained.history_path)
        axes[0].plot(history["step"], history["r_t"], label=f"ADA {arm}")
        axes[1].plot(history["step"], history["p"], label=f"ADA {arm}")
    target = next(iter(runs.values())).config.ada_target
    axes[0].axhline(target, color="gray", ls="--", lw=1, label="target")
    axes[0].set_title("r_t = E[sign(D(real))]: near 1, D has memorised the reals")
    axes[1].set_title("augmentation probability p")
    for ax in axes:
        ax.set_xlabel("step")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    k = next(iter(runs.values())).num_classes
    n = per_class * k if k else 10 * per_class
    labels = balanced_labels(n, k) if k else None
    fig2, grid_axes = plt.subplots(len(runs), 1, figsize=(8, 1.1 * per_class * len(runs) + 0.4))
    for ax, (arm, trained) in zip(grid_axes, runs.items()):
        show_grid(trained.sample(n, labels=labels, seed=seed), nrow=k or 10, ax=ax, title=f"ADA {arm}")
    fig2.tight_layout()
    return fig, fig2


def ada_experiment_table(runs: dict, n: int = 250):
    """Evaluate both arms on ``n`` samples: FD (with its interval over disjoint subsets), class accuracy,
    precision, recall, with the last r_t and p."""
    import pandas as pd
    rows = {}
    for arm, trained in runs.items():
        s = trained.evaluate(n)
        m = trained.metrics()
        e = ((s.get("intervals") or {}).get(SPACE_CLASSIFIER) or {}).get("fd")
        rows[f"ADA {arm}"] = {"FD": s["fd"], f"FD, 95% interval ({SUBSETS} subsets)":
                              f"{e['value']:.1f} [{e['ci95'][0]:.1f}, {e['ci95'][1]:.1f}]" if e else "",
                              "class accuracy": s.get("class_accuracy"), "precision": s["precision"],
                              "recall": s["recall"], "final r_t": m.get("ada_rt"), "final p": m.get("ada_p"),
                              "train images": m.get("train_images"), "train seconds": m.get("train_seconds")}
    return pd.DataFrame(rows).T
