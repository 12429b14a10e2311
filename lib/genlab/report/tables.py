"""The comparison chapter's tables: metric x model with a winner and the real-vs-real floor, a sweep's runs.

:func:`comparison_table` lays the numbers of :class:`genlab.report.runs.Runs` out as metric x model;
:func:`styled_table` formats it for the book; :func:`sweep_table` collects a hyper-parameter sweep
(``<output_dir>/<sweep>/<task>/<model>/``, e.g. a Slurm job array).
"""

from __future__ import annotations

import math

import pandas as pd

from ..base.files import read_json
from ..base.paths import resolve_path
from ..base.run_folder import CONFIG, METRICS
from ..eval.metrics import BETTER
from .runs import QUALITY, CompareConfig, Runs, display_name, floor_of, shown, value

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
    ("weakest class's accuracy", "weakest_class_accuracy", BETTER["weakest_class_accuracy"]),
    ("diversity (within class)", "diversity", BETTER["diversity"]),
    ("loss instability (CV, last half)", "instability", "low"),
)


def comparison_table(runs: Runs) -> pd.DataFrame:
    """Rows = metrics, columns = the models found, ``winner`` and ``real-vs-real floor``."""
    rows = []
    for label, key, better in ROWS:
        vals = {display_name(n): value(runs, n, key) for n in runs.metrics}
        present = {k: v for k, v in vals.items() if v is not None and math.isfinite(v)}
        if not present:
            continue
        floor = floor_of(runs, key)
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
        return f"sweep '{config.sweep}': no {shown(root)}/*/{model}/metrics.json found"
    df = pd.DataFrame(rows)
    varying = [c for c in df.columns if c not in ("task", "run", "train_seconds", *QUALITY)
               and df[c].astype(str).nunique() > 1]
    keep = ["task", *varying, "train_seconds", *[k for k in QUALITY if k in df.columns]]
    df = df[keep]
    return df.sort_values("fd") if "fd" in df.columns else df
