"""Figures of the EBM chapter: energy histograms, restoration by descent on the input, Langevin chains."""

from __future__ import annotations

import matplotlib.pyplot as plt
import torch

from ...plots import show_grid
from .trained import ood_auroc


def show_energy_histograms(trained, real: torch.Tensor, seed: int = 0, bins: int = 40, **options):
    """Histograms of E(x) for the sets of :meth:`TrainedEBM.ood_sets` with AUROC(real vs each) in the legend."""
    energies = trained.ood_energies(real, seed, **options)
    ref = energies["real (test)"]
    fig, ax = plt.subplots(figsize=(7, 3.5))
    # Out-of-distribution energies can be orders of magnitude above the real ones: bins are
    # uniform in asinh(E / scale) and the axis is symlog, so both ends stay readable.
    scale = max(float(ref.std()), 1e-3)
    t = {k: torch.asinh(e.double() / scale) for k, e in energies.items()}
    lo, hi = min(float(v.min()) for v in t.values()), max(float(v.max()) for v in t.values())
    edges = (torch.sinh(torch.linspace(lo, hi + 1e-9, bins + 1, dtype=torch.float64)) * scale).numpy()
    for name, e in energies.items():
        label = name if name == "real (test)" else f"{name} (AUROC {ood_auroc(ref, e):.2f})"
        ax.hist(e.numpy(), bins=edges, alpha=0.55, label=label)
    ax.set_xscale("symlog", linthresh=scale)
    ax.set_xlabel("energy E(x) (low = data-like; symlog axis)")
    ax.set_ylabel("images")
    ax.set_title("energies of real, generated and out-of-distribution images")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return ax


def show_restoration(trained, images: torch.Tensor, seed: int = 0, sigma: float = 0.4, denoise_steps: int = 60,
                     inpaint_steps: int | None = None):
    """Rows: originals, noisy, denoised, lower half masked, in-painted."""
    noisy, denoised = trained.denoise(images, sigma, denoise_steps, seed=seed)
    masked, completed = trained.inpaint(images, inpaint_steps, seed=seed)
    rows = {"original": images.cpu(), f"noisy (sigma {sigma:g})": noisy,
            f"denoised ({denoise_steps} descent steps)": denoised, "lower half unknown": masked,
            "in-painted by Langevin": completed}
    fig, axes = plt.subplots(len(rows), 1, figsize=(1.0 * len(images), 1.35 * len(rows)))
    for ax, (name, row) in zip(axes, rows.items()):
        show_grid(row, nrow=len(images), ax=ax)
        ax.set_title(name, fontsize=9)
    fig.tight_layout()
    return fig


def show_chain(trained, n: int = 6, every: int | None = None, seed: int = 0, **options):
    """One row per Langevin chain from fresh noise, one column every ``every`` steps."""
    steps = trained.check_options(options)["steps"]
    every = every or max(1, steps // 8)
    snaps = trained.chain(n, every, seed, **options)
    grid = torch.stack(snaps, 1).flatten(0, 1)
    ax = show_grid(grid, nrow=len(snaps))
    cols = [min(i * every, steps) for i in range(len(snaps))]
    ax.set_title(f"Langevin from noise: columns at steps {', '.join(map(str, cols))}", fontsize=9)
    return ax
