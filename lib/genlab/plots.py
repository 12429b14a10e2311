"""Figures: sample grids, loss curves, grids over training, class-by-column grids, strips.

Image inputs are uint8 tensors ``N x C x H x W`` (as produced by
:func:`genlab.data.to_uint8`); grids are written as PNG with Pillow and shown with matplotlib.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch

from .base.files import atomic_write


def make_grid(images: torch.Tensor, nrow: int | None = None, pad: int = 2, pad_value: int = 255) -> torch.Tensor:
    """Tile ``N x C x H x W`` uint8 images into one ``C x H' x W'`` uint8 image, ``nrow`` per row."""
    if images.dtype != torch.uint8:
        raise TypeError("make_grid expects uint8 images; convert with genlab.data.to_uint8")
    images = images.detach().cpu()
    n, c, h, w = images.shape
    ncol = nrow or math.ceil(math.sqrt(n))
    nrows = math.ceil(n / ncol)
    grid = torch.full((c, nrows * (h + pad) + pad, ncol * (w + pad) + pad), pad_value, dtype=torch.uint8)
    for i in range(n):
        r, col = divmod(i, ncol)
        grid[:, pad + r * (h + pad):pad + r * (h + pad) + h, pad + col * (w + pad):pad + col * (w + pad) + w] = images[i]
    return grid


def _to_pil(grid: torch.Tensor):
    from PIL import Image
    arr = grid.permute(1, 2, 0).numpy()
    return Image.fromarray(arr[:, :, 0] if arr.shape[2] == 1 else arr)


def save_grid(images: torch.Tensor, path: str | Path, nrow: int | None = None) -> Path:
    """Write a grid of uint8 images as PNG (parent folders are created)."""
    path = Path(path)
    grid = _to_pil(make_grid(images, nrow))
    atomic_write(path, lambda fh: grid.save(fh, format="PNG"))  # a kill mid-write leaves the old grid
    return path


def load_grid(path: str | Path) -> torch.Tensor:
    """A saved PNG (e.g. a sample grid) as a uint8 ``C x H x W`` tensor."""
    from PIL import Image
    with Image.open(path) as im:
        arr = torch.as_tensor(np.array(im))
    return arr[None] if arr.ndim == 2 else arr.permute(2, 0, 1)


def show_image(ax, image: torch.Tensor, title: str | None = None, fontsize: float | None = None):
    """Draw one uint8 ``C x H x W`` image (a sample, or a grid from :func:`make_grid`) on ``ax`` pixel for pixel:
    one channel in gray on the fixed 0-255 scale (no auto-contrast), three as RGB; no axes. Returns ``ax``."""
    arr = image.detach().cpu().permute(1, 2, 0).numpy()
    ax.imshow(arr[:, :, 0] if arr.shape[2] == 1 else arr, cmap="gray", vmin=0, vmax=255, interpolation="nearest")
    ax.set_axis_off()
    if title:
        ax.set_title(title, fontsize=fontsize)
    return ax


def show_grid(images: torch.Tensor, nrow: int | None = None, title: str | None = None, ax=None, scale: float = 0.5,
              fontsize: float | None = None):
    """Show a grid of uint8 images with matplotlib; returns the axes."""
    grid = make_grid(images, nrow)
    if ax is None:
        h, w = grid.shape[1:]
        _, ax = plt.subplots(figsize=(max(2.0, w / 28 * scale), max(2.0, h / 28 * scale)))
    return show_image(ax, grid, title, fontsize)


def show_images(paths: Sequence[str | Path], titles: Sequence[str] | None = None, ncols: int = 4, size: float = 3.0):
    """Show saved PNG files side by side (e.g. sample grids over training)."""
    paths = list(paths)
    if not paths:
        raise ValueError("show_images: no image files given")
    ncols = min(ncols, len(paths))
    nrows = math.ceil(len(paths) / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(size * ncols, size * nrows), squeeze=False)
    for ax in axes.flat:
        ax.set_axis_off()
    for i, (ax, p) in enumerate(zip(axes.flat, paths)):
        show_image(ax, load_grid(p), titles[i] if titles else Path(p).stem)
    fig.tight_layout()
    return fig


def panel_grid(n: int, ncol: int, panel_height: float, width: float = 10):
    """A figure of ``n`` panels in rows of ``ncol``, the cells past ``n`` hidden: ``(fig, the n axes in reading order)``."""
    nrow = -(-n // ncol)
    fig, axes = plt.subplots(nrow, ncol, figsize=(width, panel_height * nrow), squeeze=False)
    for ax in axes.flat[n:]:
        ax.set_axis_off()
    return fig, list(axes.flat[:n])


def plot_history(history, keys: Sequence[str], x: str = "step", title: str | None = None, ax=None,
                 smooth: int = 1, logy: bool = False):
    """Line plot of ``history`` columns (a pandas DataFrame, a CSV path, or a list of rows)."""
    import pandas as pd
    import seaborn as sns
    if isinstance(history, (str, Path)):
        history = pd.read_csv(history)
    elif not isinstance(history, pd.DataFrame):
        history = pd.DataFrame(history)
    missing = [k for k in keys if k not in history.columns]
    if missing:
        raise KeyError(f"history has no column {missing}; available: {list(history.columns)}")
    long = history.melt(id_vars=[x], value_vars=list(keys), var_name="series", value_name="value")
    if smooth > 1:
        long["value"] = long.groupby("series")["value"].transform(lambda s: s.rolling(smooth, min_periods=1).mean())
    if ax is None:
        _, ax = plt.subplots(figsize=(7, 3.5))
    sns.lineplot(data=long, x=x, y="value", hue="series", ax=ax)
    if logy:
        ax.set_yscale("log")
    ax.set_title(title or "training curves")
    ax.grid(alpha=0.3)
    return ax


def class_grid(images: torch.Tensor, labels: torch.Tensor, class_names: Sequence[str], per_class: int,
               title: str | None = None):
    """Show samples with one column per class (``labels`` say which column each image belongs to)."""
    num_classes = len(class_names)
    cols = []
    for c in range(num_classes):
        sel = images[labels.cpu() == c][:per_class]
        if len(sel) < per_class:
            raise ValueError(f"class_grid: only {len(sel)} samples of class {c}, need per_class={per_class}")
        cols.append(sel)
    ordered = torch.stack(cols, 1).reshape(-1, *images.shape[1:])  # row-major: row i = i-th sample of each class
    ax = show_grid(ordered, nrow=num_classes, title=title)
    ax.set_axis_on()
    h = images.shape[-1] + 2
    ax.set_xticks([2 + h * c + images.shape[-1] / 2 for c in range(num_classes)], list(class_names))
    ax.set_yticks([])
    ax.tick_params(length=0)
    for spine in ax.spines.values():
        spine.set_visible(False)
    return ax


def strip(images: torch.Tensor, captions: Sequence[str] | None = None, title: str | None = None, size: float = 1.2):
    """A single row of images with optional captions (interpolations, noising, trajectories)."""
    n = images.shape[0]
    fig, axes = plt.subplots(1, n, figsize=(size * n, size * 1.3), squeeze=False)
    for i, ax in enumerate(axes[0]):
        show_image(ax, images[i], captions[i] if captions else None, fontsize=8)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def metrics_table(metrics: dict, title: str | None = None):
    """A two-column table (metric, value) of a ``metrics.json`` dict; nested dicts become ``a / b`` rows.

    An interval entry (``{"value", "ci95", "n", ...}``) is one row ``value [lo, hi] (n=..)``.
    """
    import pandas as pd
    rows = []

    def walk(prefix: str, value) -> None:
        if isinstance(value, dict) and "ci95" in value:
            lo, hi = value["ci95"]
            rows.append((prefix, f"{value['value']:.4g} [{lo:.4g}, {hi:.4g}] (n={value.get('n')})"))
        elif isinstance(value, dict):
            for k, v in value.items():
                walk(f"{prefix} / {k}" if prefix else str(k), v)
        else:
            rows.append((prefix, f"{value:.4g}" if isinstance(value, float) else value))
    walk("", metrics)
    table = pd.DataFrame(rows, columns=["metric", "value"]).set_index("metric")
    return table.style.set_caption(title) if title else table


class ConfigSummary:
    """A run's config for a notebook: the parameters that differ from the defaults as a compact
    table, the others folded away (HTML ``<details>``); plain text outside Jupyter."""

    def __init__(self, config):
        import dataclasses
        self.changed = config.changed()
        self.rows = [(f.name, getattr(config, f.name), f.default, f.metadata.get("help", ""))
                     for f in dataclasses.fields(config)]
        self.name = type(config).__name__

    def _repr_html_(self) -> str:
        from html import escape

        def table(rows, with_default: bool) -> str:
            head = "<tr><th>parameter</th><th>value</th>" + ("<th>default</th>" if with_default else "") + \
                   "<th>meaning</th></tr>"
            body = "".join(f"<tr><td><code>{escape(n)}</code></td><td><code>{escape(repr(v))}</code></td>"
                           + (f"<td><code>{escape(repr(d))}</code></td>" if with_default else "")
                           + f"<td style='text-align:left'>{escape(h)}</td></tr>" for n, v, d, h in rows)
            return f"<table style='font-size:0.85em'>{head}{body}</table>"
        changed = [r for r in self.rows if r[0] in self.changed]
        rest = [r for r in self.rows if r[0] not in self.changed]
        top = (f"<p><b>{escape(self.name)}</b>: {len(changed)} of {len(self.rows)} parameters differ from "
               f"the defaults</p>" + (table(changed, True) if changed else ""))
        return top + (f"<details><summary>the other {len(rest)} parameters (defaults)</summary>"
                      f"{table(rest, False)}</details>" if rest else "")

    def __repr__(self) -> str:
        changed = [f"{n} = {v!r}  (default {d!r})" for n, v, d, _ in self.rows if n in self.changed]
        return "\n".join([f"{self.name}: {len(changed)} of {len(self.rows)} parameters differ from the defaults",
                          *changed])


def show_config(config) -> ConfigSummary:
    """Display a run's config compactly: changed parameters in a table, the rest collapsed."""
    return ConfigSummary(config)


def show_class_samples(trained, per_class: int = 8, seed: int = 0, title: str | None = None, **options):
    """Samples of any trained model, one column per class (a plain grid for an unconditional model)."""
    from .data import balanced_labels
    shown = ", ".join(f"{k} {v}" for k, v in options.items())
    if not trained.num_classes:
        images = trained.sample(per_class * 8, seed=seed, **options)
        return show_grid(images, title=title or f"samples (unconditional{', ' + shown if shown else ''})")
    labels = balanced_labels(per_class * trained.num_classes, trained.num_classes)
    images = trained.sample(len(labels), labels=labels, seed=seed, **options)
    return class_grid(images, labels, trained.class_names, per_class,
                      title=title or f"one class per column{' (' + shown + ')' if shown else ''}")
