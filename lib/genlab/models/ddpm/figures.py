"""Figures of the DDPM chapter: forward noising, schedules, reverse trajectories, samplers, guidance.

Every function returns the matplotlib figure (or axes); images are uint8 ``N x C x H x W``.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import torch

from ...base.paths import resolve_path
from ...data import balanced_labels, load_dataset, to_float, to_uint8
from ...plots import load_grid, show_grid, show_image, strip
from ...sampling.diffusion import GaussianDiffusion
from ..protocol import split_setting


def even_timesteps(num_steps: int, frames: int) -> list[int]:
    """``frames`` timesteps from 0 to num_steps-1, evenly spaced."""
    return np.linspace(0, num_steps - 1, frames).round().astype(int).tolist()


def show_forward_noising(config, index: int = 0, frames: int = 8, seed: int = 0):
    """One training image noised to x_t = sqrt(ab_t) x0 + sqrt(1 - ab_t) eps at evenly spaced t (one eps)."""
    data = load_dataset(config.dataset, "train", image_size=config.image_size, data_dir=resolve_path(config.data_dir))
    d = GaussianDiffusion(config.num_steps, config.schedule, config.beta_start, config.beta_end)
    ts = torch.tensor(even_timesteps(config.num_steps, frames))
    x0 = to_float(data.images[index:index + 1]).expand(frames, -1, -1, -1)
    eps = torch.randn(x0[:1].shape, generator=torch.Generator().manual_seed(seed)).expand_as(x0)
    xt = d.q_sample(x0, ts, eps)
    captions = [f"t={t + 1}\n" + rf"$\bar\alpha_t$={d.alpha_bar[t]:.3f}" for t in ts.tolist()]
    return strip(to_uint8(xt), captions, title=rf"forward process $q(x_t \mid x_0)$, {config.schedule} schedule")


def plot_schedules(num_steps: int = 1000, beta_start: float = 1e-4, beta_end: float = 0.02):
    """alpha_bar_t and log-SNR(t) = log(alpha_bar_t / (1 - alpha_bar_t)) of the linear and cosine schedules."""
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 3.5))
    t = np.arange(1, num_steps + 1)
    for schedule in ("linear", "cosine"):
        d = GaussianDiffusion(num_steps, schedule, beta_start, beta_end)
        ax1.plot(t, d.alpha_bar.numpy(), label=schedule)
        ax2.plot(t, d.log_snr.numpy(), label=schedule)
    ax1.set(xlabel="t", ylabel=r"$\bar\alpha_t$", title=r"signal kept: $\bar\alpha_t$")
    ax2.set(xlabel="t", ylabel="log SNR", title=r"log-SNR(t) = $\log \bar\alpha_t / (1 - \bar\alpha_t)$")
    for ax in (ax1, ax2):
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    return fig


def show_trajectory(trained, label: int = 3, seed: int = 0, frames: int = 8, sampler: str = "ddim",
                    steps: int | None = 50):
    """The reverse process of one sample: x_t (top) and the model's x0 prediction (bottom) along the way."""
    xs, x0s, ts = [], [], []
    total = trained.config.num_steps if sampler == "ddpm" else steps
    keep = set(even_timesteps(total, frames))

    def callback(i: int, t: int, xt: torch.Tensor, x0: torch.Tensor) -> None:
        if i in keep:
            xs.append(to_uint8(xt[:1]).cpu())
            x0s.append(to_uint8(x0[:1]).cpu())
            ts.append(t)

    labels = torch.tensor([label]) if trained.num_classes else None
    options = trained.check_options({"sampler": sampler} if sampler == "ddpm" else {"sampler": sampler, "steps": steps})
    final = to_uint8(trained.sample_x0(1, labels, seed, **options, callback=callback)).cpu()
    fig, axes = plt.subplots(2, len(xs) + 1, figsize=(1.3 * (len(xs) + 1), 3.0), squeeze=False)
    for j, (x, x0, t) in enumerate(zip(xs, x0s, ts)):
        show_image(axes[0, j], x[0], f"$x_t$, t={t + 1}", fontsize=9)
        show_image(axes[1, j], x0[0], r"$\hat x_0$", fontsize=9)
    show_image(axes[0, -1], final[0], "$x_0$", fontsize=9)
    axes[1, -1].set_axis_off()
    name = f"DDIM-{steps}" if sampler == "ddim" else f"DDPM-{trained.config.num_steps}"
    fig.suptitle(f"reverse process ({name}" + (f", class {trained.class_names[label]})" if labels is not None else ")"))
    fig.tight_layout()
    return fig


def _setting_order(name: str) -> tuple[bool, int]:
    sampler, steps = split_setting(name)
    return (sampler == "ddpm", steps or 0)


def show_sampler_comparison(trained):
    """The timing grids written after training side by side, titled with seconds per 100 images."""
    seconds = trained.metrics().get("seconds_per_100", {})
    paths = trained.sampler_paths()
    names = sorted((n for n in paths if n in seconds), key=_setting_order)
    if not names:
        raise ValueError(f"no sampler timing grids in {trained.run_dir / 'samples'}: train the DDPM first")
    fig, axes = plt.subplots(1, len(names), figsize=(3.2 * len(names), 3.6), squeeze=False)
    for ax, name in zip(axes[0], names):
        show_image(ax, load_grid(paths[name]), f"{name.upper()}\n{seconds[name]:.1f} s / 100 images", fontsize=10)
    fig.tight_layout()
    return fig


def plot_sampler_speed(trained, ax=None):
    """Bar chart of seconds per 100 images for every sampler setting in metrics.json (log scale)."""
    seconds = trained.metrics().get("seconds_per_100", {})
    names = sorted(seconds, key=_setting_order)
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 3))
    ax.bar([n.upper() for n in names], [seconds[n] for n in names], color=["C0"] * (len(names) - 1) + ["C3"])
    ax.set_yscale("log")
    ax.set_ylabel("seconds per 100 images")
    ax.set_title(f"sampling cost ({trained.metrics().get('device', '')})")
    ax.grid(alpha=0.3, axis="y")
    return ax


def show_guidance(trained, scales=(0.0, 1.0, 3.0), per_class: int = 3, seed: int = 0, steps: int = 50):
    """The same noise and labels sampled at each guidance scale w (one class per column)."""
    if not trained.num_classes:
        raise ValueError("guidance needs a conditional DDPM (conditional = True)")
    k = trained.num_classes
    labels = balanced_labels(per_class * k, k)
    fig, axes = plt.subplots(1, len(scales), figsize=(3.6 * len(scales), 0.45 * per_class + 1.4), squeeze=False)
    for ax, w in zip(axes[0], scales):
        images = trained.sample(len(labels), labels=labels, seed=seed, steps=steps, guidance=float(w))
        show_grid(images, nrow=k, ax=ax, fontsize=9, title=f"guidance w = {w:g}" + {0: " (unconditional)",
                                                                                     1: " (conditional)"}.get(w, ""))
    fig.tight_layout()
    return fig
