"""Figures of the flow chapter: trajectories x_t over t, straightness, guidance, quality against NFE.

Every function returns the matplotlib figure; images are uint8 ``N x C x H x W``. Time runs from noise
(t = 0) to data (t = 1).
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch

from ...data import to_uint8
from ...plots import make_grid, show_image
from ..ddpm.figures import show_guidance  # noqa: F401  (the guidance trade-off figure is kind-agnostic)
from .sweep import SOLVER_LABELS


def show_trajectories(trained, labels=(0, 3, 7), seed: int = 0, frames: int = 8, solver: str = "euler",
                      steps: int = 32):
    """x_t along the ODE for a few samples (rows), at ``frames`` evenly spaced times from noise to image."""
    keep = set(np.linspace(0, steps, frames).round().astype(int).tolist())
    xs, ts = [], []

    def callback(i: int, t: float, x: torch.Tensor) -> None:
        if i in keep:
            xs.append(to_uint8(x.float().clamp(-1, 1)).cpu())
            ts.append(t)

    y = torch.tensor(list(labels)) if trained.num_classes else None
    options = trained.check_options({"solver": solver, "steps": steps})
    trained.sample_x(len(labels), y, seed, **options, callback=callback)
    fig, axes = plt.subplots(len(labels), len(xs), figsize=(1.2 * len(xs), 1.25 * len(labels) + 0.5), squeeze=False)
    for j, (x, t) in enumerate(zip(xs, ts)):
        for i in range(len(labels)):
            show_image(axes[i, j], x[i], f"t = {t:.2f}" if i == 0 else None)
    fig.suptitle(f"trajectories x_t from noise (t = 0) to digits (t = 1), {solver} with {steps} steps")
    fig.tight_layout()
    return fig


def straightness(trained, n: int = 100, seed: int = 0, steps: int = 64, guidance: float | None = None) -> dict:
    """How far the learned ODE paths bend (Liu et al. 2023), on ``n`` class-balanced samples.

    Along a fine Euler solve, ``S = mean_t E ||v(x_t, t) - (x_1 - x_0)||^2``: the mean squared deviation
    of the velocity from the chord of its own path (0 for a straight path, which one Euler step solves
    exactly), and ``deviation``: the mean over t of the RMS distance of x_t from the chord point
    (1 - t) x_0 + t x_1, per pixel.
    """
    from ...data import balanced_labels
    y = balanced_labels(n, trained.num_classes) if trained.num_classes else None
    options = trained.check_options({"solver": "euler", "steps": steps, **({"guidance": guidance} if guidance is not None else {})})
    states, velocities = [], []

    def callback(i: int, t: float, x: torch.Tensor) -> None:
        states.append(x.float().cpu())

    trained.sample_x(n, y, seed, **options, callback=callback)
    x0, x1 = states[0], states[-1]  # the ends of each path (x1 before the clamp to the data range)
    chord = x1 - x0
    for i in range(steps):
        velocities.append((states[i + 1] - states[i]) * steps)
    ts = torch.linspace(0, 1, steps + 1)
    s = torch.stack([((v - chord) ** 2).flatten(1).sum(1) for v in velocities]).mean().item()
    dev = torch.stack([((x - ((1 - t) * x0 + t * x1)) ** 2).flatten(1).mean(1).sqrt()
                       for x, t in zip(states, ts)]).mean().item()
    return {"straightness": s, "deviation": dev, "chord_norm2": (chord ** 2).flatten(1).sum(1).mean().item(),
            "n": n, "steps": steps}


def plot_nfe_sweep(table: pd.DataFrame, reference: pd.DataFrame | None = None):
    """FD and class accuracy (95% block interval) against NFE per solver; ``reference``: more rows to share
    the axes (e.g. the DDPM's DDIM and DPM-Solver++, whose NFE equal their steps)."""
    if table.empty:
        print("no solver sweep (sweep_samples = 0): nothing to plot")
        return None
    rows = pd.concat([table, reference]) if reference is not None and not reference.empty else table
    fig, (fd_ax, acc_ax, time_ax) = plt.subplots(1, 3, figsize=(14, 3.8))
    for solver, grp in rows.groupby("solver", sort=False):
        label = SOLVER_LABELS.get(solver, solver)
        fd_ax.plot(grp["nfe"], grp["FD"], marker="o", label=label)
        acc_ax.errorbar(grp["nfe"], grp["class accuracy"], capsize=3, marker="o", label=label,
                        yerr=[grp["class accuracy"] - grp["acc lo"], grp["acc hi"] - grp["class accuracy"]])
        time_ax.plot(grp["seconds per 100"], grp["FD"], marker="o", label=label)
    floor = rows["floor FD"].dropna()
    for ax in (fd_ax, time_ax):
        if len(floor):
            ax.axhline(float(floor.iloc[0]), ls="--", c="k", lw=1, label="real digits")
        ax.set_yscale("log")
    for ax, x, y in ((fd_ax, "NFE", "FD"), (acc_ax, "NFE", "class accuracy (95% interval)"),
                     (time_ax, "seconds per 100 images", "FD")):
        ax.set(xscale="log", xlabel=x, ylabel=y)
        ax.grid(alpha=0.3)
        ax.xaxis.set_major_formatter(plt.FuncFormatter(lambda v, _: f"{v:g}"))
    fd_ax.legend(fontsize=8)
    fig.suptitle(f"quality against network evaluations ({int(rows['n'].iloc[0])} samples per setting, classifier space)")
    fig.tight_layout()
    return fig


def show_solvers(trained, nfe: int = 4, per_class: int = 2, seed: int = 0):
    """The same noise and labels through each fixed-step solver at (at most) the same NFE."""
    from ...data import balanced_labels
    k = max(1, trained.num_classes)
    y = balanced_labels(per_class * k, k) if trained.num_classes else None
    from ...sampling.ode import reachable_nfe
    settings = [(s, reachable_nfe(s, nfe)) for s in ("euler", "midpoint", "heun")]
    fig, axes = plt.subplots(1, len(settings), figsize=(3.6 * len(settings), 0.45 * per_class + 1.4), squeeze=False)
    for ax, (s, k_nfe) in zip(axes[0], settings):
        images = trained.sample(len(y) if y is not None else 20, labels=y, seed=seed, **trained.options_for(s, k_nfe))
        show_image(ax, make_grid(images, nrow=k), f"{SOLVER_LABELS[s]}, NFE {k_nfe}")
    fig.tight_layout()
    return fig
