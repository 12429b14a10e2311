"""The comparison chapter's data and figures, read from finished runs (nothing is retrained).

:func:`load_runs` reads every ``<output_dir>/<run>/*/metrics.json``; a model without one is
reported and left out. :func:`comparison_table` lays the numbers out as metric x model with a
winner column and the real-vs-real floor; the ``plot_*`` functions draw metric bars, quality
versus sampling time (one point per sampler setting, the DDIM-steps curve for DDPM), loss
curves, and sample grids with the same labels for every model. :func:`sweep_table` collects a
hyper-parameter sweep (``<output_dir>/<sweep>/<task>/<model>/``, e.g. a Slurm job array).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import matplotlib.pyplot as plt
import matplotlib.ticker as mticker
import numpy as np
import pandas as pd
import seaborn as sns
import torch

from ..base.config import Config, check_device, param
from ..base.files import read_json
from ..base.paths import project_root, resolve_path
from ..base.run_folder import CHECKPOINT, CONFIG, HISTORY, METRICS
from ..models import names as model_names
from ..models.protocol import split_setting
from .interval_report import NAMES, interval_summary, interval_table, plot_metric_intervals, verdicts  # noqa: F401
from .metrics import BETTER

# (row label, metrics.json key, better: "low" | "high" | "floor" (closest to the real floor) | None)
ROWS = (
    ("training time (s)", "train_seconds", "low"),
    ("seconds per 100 samples", "speed", "low"),
    ("peak sampling memory (MB)", "memory", "low"),
    ("parameters", "parameters", None),
    ("FD, domain features", "fd", BETTER["fd"]),
    ("FID, Inception-v3", "fid", BETTER["fid"]),
    ("KID, domain features", "kid", BETTER["kid"]),
    ("Inception Score, domain", "is", BETTER["is"]),
    ("precision (k=5)", "precision", BETTER["precision"]),
    ("recall (k=5)", "recall", BETTER["recall"]),
    ("density (k=5)", "density", BETTER["density"]),
    ("coverage (k=5)", "coverage", BETTER["coverage"]),
    ("class accuracy", "class_accuracy", BETTER["class_accuracy"]),
    ("diversity (within class)", "diversity", BETTER["diversity"]),
    ("loss instability (CV, last half)", "instability", "low"),
)
QUALITY = ("fd", "kid", "is", "precision", "recall", "class_accuracy", "diversity")



@dataclass(frozen=True)
class CompareConfig(Config):
    run: str = param("quick", help="compare the models in <output_dir>/<run>/")
    samples_per_class: int = param(4, low=1, high=64, help="rows of the side-by-side sample grids")
    seed: int = param(0, low=0, help="seed of the samples drawn for the grids")
    sweep: str = param("", help="name of a sweep folder under output_dir to tabulate ('' = none)")
    device: str = param("cpu", check=check_device, help="device for drawing the sample grids")
    ladder_samples: int = param(500, low=0, high=1000, help="held-out digits per rung of the metric sanity ladder (0 = skip)")
    bias_samples: int = param(1000, low=0, high=1000,
                              help="DCGAN samples for the FD-against-1/N figure (0 = skip)")
    order_samples: int = param(200, low=0, high=1000,
                               help="DDPM samples per DDIM step count in the known-order rung (0 = skip)")
    novelty_samples: int = param(300, low=0, high=1000, help="samples per model in the memorization check (0 = skip)")
    output_dir: str = param("outputs", help="root of all runs")


@dataclass
class Runs:
    """The models found for one run: ``metrics[name]``, ``dirs[name]``; ``missing[name]`` says why not."""

    root: Path
    metrics: dict[str, dict] = field(default_factory=dict)
    dirs: dict[str, Path] = field(default_factory=dict)
    missing: dict[str, str] = field(default_factory=dict)

    def report(self) -> None:
        """Print which models were found (and where) and which are missing (and how to make them)."""
        for name in self.metrics:
            note = "" if "fd" in self.metrics[name] else " (no evaluation yet: run `python -m genlab evaluate`)"
            print(f"found   {NAMES.get(name, name):6} {_shown(self.dirs[name])}{note}")
        for name, why in self.missing.items():
            print(f"MISSING {NAMES.get(name, name):6} {why}: left out of every table and figure")

    def trained(self, name: str, device: str = "cpu"):
        """The trained model ``name`` of this run (from its checkpoint), or None when it has none."""
        from ..models import load_trained
        path = self.dirs.get(name, self.root / name) / CHECKPOINT
        return load_trained(path, device) if path.is_file() else None


def load_runs(config: CompareConfig) -> Runs:
    """Read ``<output_dir>/<run>/*/metrics.json`` (every registered model kind)."""
    root = resolve_path(config.output_dir) / config.run
    runs = Runs(root)
    for name in model_names():
        path = root / name / METRICS
        if path.is_file():
            runs.metrics[name], runs.dirs[name] = read_json(path), path.parent
        else:
            runs.missing[name] = (f"no {_shown(path)} (run its notebook with run = '{config.run}', "
                                  f"or python -m genlab train {name} -p run={config.run})")
    return runs


def _shown(path: Path) -> str:
    """``path`` relative to the project root when inside it (the book shows no machine-specific paths)."""
    try:
        return str(path.relative_to(project_root()))
    except ValueError:
        return str(path)


def _speed(m: dict) -> float | None:
    speeds = m.get("seconds_per_100") or {}
    setting = (m.get("eval") or {}).get("setting")
    if setting in speeds:
        return speeds[setting]
    return min(speeds.values()) if speeds else None


def instability(history: str | Path) -> float | None:
    """Coefficient of variation (std / |mean|) of the main loss over the last half of training."""
    path = Path(history)
    if not path.is_file():
        return None
    df = pd.read_csv(path)
    col = next((c for c in ("loss", "loss_g", "loss_d") if c in df.columns),
               next((c for c in df.columns if c.startswith("loss")), None))
    if col is None or len(df) < 4:
        return None
    tail = df[col].iloc[len(df) // 2:]
    return float(tail.std() / max(abs(tail.mean()), 1e-12))


def value(runs: Runs, name: str, key: str) -> float | None:
    m = runs.metrics[name]
    if key == "speed":
        return _speed(m)
    if key == "memory":
        mem = m.get("peak_memory_mb") or {}
        return mem.get((m.get("eval") or {}).get("setting"), next(iter(mem.values()), None))
    if key == "instability":
        return instability(runs.dirs[name] / HISTORY)
    return m.get(key)


def _floor(runs: Runs, key: str) -> float | None:
    values = [m["floor"][key] for m in runs.metrics.values() if key in (m.get("floor") or {})]
    return values[0] if values else None


def comparison_table(runs: Runs) -> pd.DataFrame:
    """Rows = metrics, columns = the models found, ``winner`` and ``real-vs-real floor``."""
    rows = []
    for label, key, better in ROWS:
        vals = {NAMES.get(n, n): value(runs, n, key) for n in runs.metrics}
        present = {k: v for k, v in vals.items() if v is not None and math.isfinite(v)}
        if not present:
            continue
        floor = _floor(runs, key)
        winner = ""
        if better and len(present) > 1:
            if better == "floor" and floor is not None:
                winner = min(present, key=lambda k: abs(present[k] - floor))
            elif better != "floor":
                winner = (min if better == "low" else max)(present, key=present.get)
        rows.append({"metric": label, **vals, "winner": winner, "real-vs-real floor": floor})
    return pd.DataFrame(rows).set_index("metric") if rows else pd.DataFrame()


def readable(label: str, v) -> str:
    """A table cell without scientific notation: '1.11 M' parameters, seconds or minutes, 3-4 digits."""
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "—"
    if label == "parameters":
        return f"{v / 1e6:.2f} M" if v >= 1e5 else f"{v / 1e3:.1f} k"
    if label == "training time (s)":
        return f"{v / 60:.1f} min" if v >= 120 else f"{v:.1f} s"
    if label.startswith("seconds per"):
        return f"{v:.2f} s"
    a = abs(v)
    return f"{v:.0f}" if a >= 1000 else f"{v:.2f}" if a >= 10 else f"{v:.3f}" if a >= 0.01 else f"{v:.5f}"


def styled_table(runs: Runs):
    """:func:`comparison_table` formatted for the book: readable numbers, winner cells in bold.

    The winner here is the plain best full-set value; whether it is *reliable* is decided in
    :func:`interval_summary` (paired intervals, second feature space).
    """
    table = comparison_table(runs)
    if table.empty:
        return "no model has a metrics.json yet: run the model notebooks first"
    models = [c for c in table.columns if c not in ("winner", "real-vs-real floor")]
    shown = table.copy().astype(object)
    for label in table.index:
        for c in models + ["real-vs-real floor"]:
            shown.loc[label, c] = readable(label, table.loc[label, c])

    def bold(row):
        return ["font-weight: bold" if c == row["winner"] else "" for c in row.index]
    return shown.style.apply(bold, axis=1).set_caption(
        "every number from metrics.json (full sample set, classifier space); floor = held-out real images "
        "scored like a model; best value in bold, reliability in the interval table below")


def plot_metric_bars(runs: Runs, keys=QUALITY):
    """One bar chart per quality metric (models side by side), the real floor as a dashed line."""
    keys = [k for k in keys if any(k in m for m in runs.metrics.values())]
    if not keys:
        print("no evaluated model: nothing to plot")
        return None
    fig, axes = plt.subplots(1, len(keys), figsize=(2.3 * len(keys), 2.8), squeeze=False)
    for ax, key in zip(axes[0], keys):
        df = pd.DataFrame([{"model": NAMES.get(n, n), key: m.get(key)} for n, m in runs.metrics.items()])
        sns.barplot(data=df, x="model", y=key, hue="model", ax=ax, legend=False)
        floor = _floor(runs, key)
        if floor is not None:
            ax.axhline(floor, ls="--", c="k", lw=1, label="real floor")
        ax.set_title(key)
        ax.set_xlabel("")
        ax.set_ylabel("")
    if _floor(runs, keys[0]) is not None:
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
                rows.append({"model": NAMES.get(name, name), "setting": setting, "sampler": sampler, "steps": steps,
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
    floor = _floor(runs, metric)
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
        ax.set_title(f"{NAMES.get(name, name)} (instability {instability(path) or float('nan'):.3g})")
        ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def plot_samples(runs: Runs, config: CompareConfig):
    """Sample grids side by side: every model is asked for the same labels (one column per class).

    Models are rebuilt from ``checkpoint.pt``; without one, the last saved sample grid is shown.
    """
    from PIL import Image
    from ..data import balanced_labels
    from ..models import load_trained
    from ..plots import make_grid
    if not runs.metrics:
        print("no model found: nothing to show")
        return None
    fig, axes = plt.subplots(1, len(runs.metrics), figsize=(4 * len(runs.metrics), 4), squeeze=False)
    for ax, name in zip(axes[0], runs.metrics):
        ckpt, title = runs.dirs[name] / CHECKPOINT, NAMES.get(name, name)
        if ckpt.is_file():
            trained = load_trained(ckpt, config.device)
            k = trained.num_classes
            n = config.samples_per_class * (k or 8)
            labels = balanced_labels(n, k) if k else None
            grid = make_grid(trained.sample(n, labels=labels, seed=config.seed), nrow=k or 8).permute(1, 2, 0)
            title += " (class per column)" if k else " (unconditional)"
        else:
            saved = sorted((runs.dirs[name] / "samples").glob("*.png"))
            if not saved:
                ax.set_axis_off()
                ax.set_title(f"{title}: no checkpoint or samples")
                continue
            grid = torch.as_tensor(np.asarray(Image.open(saved[-1])))
            title += f" (saved {saved[-1].name})"
        arr = grid.squeeze(-1).numpy() if grid.ndim == 3 and grid.shape[-1] == 1 else grid.numpy()
        ax.imshow(arr, cmap="gray", vmin=0, vmax=255, interpolation="nearest")
        ax.set_axis_off()
        ax.set_title(title, fontsize=9)
    fig.tight_layout()
    return fig


def sweep_table(config: CompareConfig, model: str = "dcgan") -> pd.DataFrame | str:
    """One row per task of ``<output_dir>/<sweep>/*/<model>/`` with the parameters that vary and the metrics."""
    if not config.sweep:
        return "no sweep requested (set the parameter sweep to a folder name under output_dir)"
    root = resolve_path(config.output_dir) / config.sweep
    rows = []
    for path in sorted(root.glob(f"*/{model}/{METRICS}")):
        cfg_path = path.parent / CONFIG
        cfg = read_json(cfg_path) if cfg_path.is_file() else {}
        m = read_json(path)
        rows.append({"task": path.parent.parent.name, **{k: v for k, v in cfg.items() if not isinstance(v, (dict, list))},
                     "train_seconds": m.get("train_seconds"), **{k: m.get(k) for k in QUALITY if k in m}})
    if not rows:
        return f"sweep '{config.sweep}': no {_shown(root)}/*/{model}/metrics.json found"
    df = pd.DataFrame(rows)
    varying = [c for c in df.columns if c not in ("task", "run", "train_seconds", *QUALITY)
               and df[c].astype(str).nunique() > 1]
    keep = ["task", *varying, "train_seconds", *[k for k in QUALITY if k in df.columns]]
    df = df[keep]
    return df.sort_values("fd") if "fd" in df.columns else df
