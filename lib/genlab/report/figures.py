"""The comparison chapter's figures: metric bars, quality against sampling time, loss curves, sample grids.

Every function takes the :class:`genlab.report.runs.Runs` of one run and returns a figure (or None, with
a printed reason, when no model has what it draws).
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import matplotlib.ticker as mticker
import pandas as pd
import seaborn as sns

from ..base.run_folder import CHECKPOINT, HISTORY
from ..data import balanced_labels
from ..models import registry
from ..models.protocol import split_setting
from ..plots import load_grid, show_grid, show_image
from .runs import QUALITY, CompareConfig, Runs, display_name, floor_of, instability


def plot_metric_bars(runs: Runs, keys=QUALITY):
    """One bar chart per quality metric (models side by side), the real floor as a dashed line."""
    keys = [k for k in keys if any(k in m for m in runs.metrics.values())]
    if not keys:
        print("no evaluated model: nothing to plot")
        return None
    fig, axes = plt.subplots(1, len(keys), figsize=(2.3 * len(keys), 2.8), squeeze=False)
    for ax, key in zip(axes[0], keys):
        df = pd.DataFrame([{"model": display_name(n), key: m.get(key)} for n, m in runs.metrics.items()])
        sns.barplot(data=df, x="model", y=key, hue="model", ax=ax, legend=False)
        floor = floor_of(runs, key)
        if floor is not None:
            ax.axhline(floor, ls="--", c="k", lw=1, label="real floor")
        ax.set_title(key)
        ax.set_xlabel("")
        ax.set_ylabel("")
    if floor_of(runs, keys[0]) is not None:
        axes[0][0].legend(loc="best", fontsize=7)
    fig.tight_layout()
    return fig


def quality_vs_speed(runs: Runs, metric: str = "fd") -> pd.DataFrame:
    """One row per (model, evaluated sampler setting) with ``metric`` and a sampling time: the model's own
    timing of that setting (``seconds_per_100``) or else the time its evaluation took to sample it."""
    rows = []
    for name, m in runs.metrics.items():
        speeds = m.get("seconds_per_100") or {}
        for setting, vals in (m.get("by_setting") or {}).items():
            seconds = speeds.get(setting, vals.get("sample_seconds_per_100"))
            if seconds is not None and metric in vals:
                sampler, steps = split_setting(setting)
                rows.append({"model": display_name(name), "setting": setting, "sampler": sampler, "steps": steps,
                             "seconds per 100": seconds, metric: vals[metric]})
    return pd.DataFrame(rows)


def plot_quality_vs_speed(runs: Runs, metric: str = "fd"):
    """Quality against sampling cost; settings of one sampler (e.g. ddim-10, ddim-50) joined as a curve."""
    df = quality_vs_speed(runs, metric)
    if df.empty:
        print(f"no model has both seconds_per_100 and {metric} for a sampler setting: nothing to plot")
        return None
    fig, ax = plt.subplots(figsize=(6, 3.8))
    sns.scatterplot(data=df, x="seconds per 100", y=metric, hue="model", style="model", s=70, ax=ax)
    for (_, sampler), grp in df[df["steps"].notna()].groupby(["model", "sampler"]):
        grp = grp.sort_values("steps")
        if len(grp) > 1:
            ax.plot(grp["seconds per 100"], grp[metric], c="gray", lw=1, zorder=0)
    for _, r in df.iterrows():
        ax.annotate(r["setting"], (r["seconds per 100"], r[metric]), fontsize=7, xytext=(3, 3),
                    textcoords="offset points")
    floor = floor_of(runs, metric)
    if floor is not None:
        ax.axhline(floor, ls="--", c="k", lw=1, label="real floor")
    ax.set_xscale("log")
    if (df[metric] > 0).all() and metric in ("fd", "fid"):
        ax.set_yscale("log")
    plain = mticker.FuncFormatter(lambda v, _: f"{v:g}")  # 30 and 0.1, not 3x10^1 and 10^-1
    for axis in (ax.xaxis, ax.yaxis):
        axis.set_major_formatter(plain)
        axis.set_minor_formatter(plain if axis is ax.yaxis else mticker.NullFormatter())
    ax.set_title(f"{metric} vs sampling time")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    return fig


def plot_losses(runs: Runs, smooth: int = 5):
    """Each model's loss columns from history.csv (own panel: losses of different models differ in kind)."""
    found = [(n, runs.dirs[n] / HISTORY) for n in runs.metrics if (runs.dirs[n] / HISTORY).is_file()]
    if not found:
        print("no history.csv found: nothing to plot")
        return None
    fig, axes = plt.subplots(1, len(found), figsize=(4.5 * len(found), 3), squeeze=False)
    for ax, (name, path) in zip(axes[0], found):
        df = pd.read_csv(path)
        cols = [c for c in df.columns if c.startswith("loss")]
        x = "epoch" if "epoch" in df.columns else "step"
        long = df.melt(id_vars=[x], value_vars=cols, var_name="loss", value_name="value")
        long["value"] = long.groupby("loss")["value"].transform(lambda s: s.rolling(smooth, min_periods=1).mean())
        sns.lineplot(data=long, x=x, y="value", hue="loss", ax=ax)
        ax.set_title(f"{display_name(name)} (instability {instability(path) or float('nan'):.3g})")
        ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def plot_samples(runs: Runs, config: CompareConfig):
    """Sample grids side by side: every model is asked for the same labels (one column per class).

    Models are rebuilt from ``checkpoint.pt``; without one, the last saved sample grid is shown.
    """
    if not runs.metrics:
        print("no model found: nothing to show")
        return None
    fig, axes = plt.subplots(1, len(runs.metrics), figsize=(4 * len(runs.metrics), 4), squeeze=False)
    for ax, name in zip(axes[0], runs.metrics):
        ckpt, title = runs.dirs[name] / CHECKPOINT, display_name(name)
        if ckpt.is_file():
            trained = registry.load_trained(ckpt, config.device)
            k = trained.num_classes
            n = config.samples_per_class * (k or 8)
            labels = balanced_labels(n, k) if k else None
            show_grid(trained.sample(n, labels=labels, seed=config.seed), nrow=k or 8, ax=ax,
                      title=title + (" (class per column)" if k else " (unconditional)"), fontsize=9)
            continue
        saved = sorted((runs.dirs[name] / "samples").glob("*.png"))
        if saved:
            show_image(ax, load_grid(saved[-1]), f"{title} (saved {saved[-1].name})", fontsize=9)
        else:
            ax.set_axis_off()
            ax.set_title(f"{title}: no checkpoint or samples")
    fig.tight_layout()
    return fig


def plot_quality_against_nfe(runs: Runs):
    """The flow's ODE solvers beside the DDPM's DDIM, ancestral and DPM-Solver++ samplers on shared axes: FD,
    class accuracy (95% block interval) and sampling time against network evaluations per image. Both sweeps
    score the same number of samples in the same classifier space; a DDPM step is one evaluation."""
    from ..models.flow.figures import plot_nfe_sweep
    from ..models.flow.sweep import sweep_table
    flow, ddpm = (sweep_table(runs.metrics.get(kind, {}), key=key)
                  for kind, key in (("flow", "solver_sweep"), ("ddpm", "sampler_sweep")))
    if flow.empty and ddpm.empty:
        print("neither a flow nor a DDPM sweep in this run: nothing to plot")
        return None
    return plot_nfe_sweep(flow if not flow.empty else ddpm, reference=ddpm if not flow.empty else None)
