"""The comparison's intervals and verdicts: tables and figures from ``metrics.json``'s ``intervals``.

``runs`` is a :class:`genlab.report.runs.Runs` (only ``runs.metrics``, model -> metrics.json, is read);
models are shown by the display name their registry entry declares.
See :mod:`genlab.eval.intervals` for the entry layout and the verdict rule.
"""

from __future__ import annotations

import pandas as pd

from ..eval.intervals import verdict
from ..eval.metrics import BETTER, SPACE_CLASSIFIER, SPACE_RANDOM
from ..plots import panel_grid
from .runs import Runs, display_name

# metrics with intervals and verdicts; those in both feature spaces need the second space to agree
INTERVAL_METRICS = ("fd", "kid", "precision", "recall", "density", "coverage", "class_accuracy", "is")
SPACE_LABEL = {SPACE_CLASSIFIER: "classifier", SPACE_RANDOM: "random CNN"}
LABEL = {"fd": "FD", "kid": "KID", "precision": "precision", "recall": "recall", "density": "density",
         "coverage": "coverage", "class_accuracy": "class accuracy", "is": "Inception Score"}


def _entry(m: dict, space: str, key: str) -> dict | None:
    return ((m.get("intervals") or {}).get(space) or {}).get(key)


def interval_table(runs: Runs) -> pd.DataFrame:
    """Long format: one row per (metric, space, model or 'real floor') with value, ci95 and block size n."""
    rows = []
    for key in INTERVAL_METRICS:
        for space in (SPACE_CLASSIFIER, SPACE_RANDOM):
            for name, m in runs.metrics.items():
                for who, src in ((display_name(name), m), ("real floor", m.get("floor") or {})):
                    e = _entry(src, space, key)
                    if e and not (who == "real floor" and any(r["model"] == who and r["metric"] == key
                                                              and r["space"] == space for r in rows)):
                        rows.append({"metric": key, "space": space, "model": who, "value": e["value"],
                                     "lo": e["ci95"][0], "hi": e["ci95"][1], "n": e["n"]})
    return pd.DataFrame(rows)


def verdicts(runs: Runs) -> pd.DataFrame:
    """Per metric and space: the winner only when every paired-difference interval excludes 0 and the
    second space agrees in sign (metrics in both spaces); otherwise "no reliable difference"."""
    rows = []
    for key in INTERVAL_METRICS:
        better = BETTER[key]
        for space, other in ((SPACE_CLASSIFIER, SPACE_RANDOM), (SPACE_RANDOM, SPACE_CLASSIFIER)):
            main = {display_name(n): e for n, m in runs.metrics.items() if (e := _entry(m, space, key))}
            if len(main) < 2:
                continue
            second = {display_name(n): e for n, m in runs.metrics.items() if (e := _entry(m, other, key))}
            winner, why = verdict(main, better, check=second if second else None)
            rows.append({"metric": LABEL[key], "space": SPACE_LABEL[space],
                         "verdict": winner or "no reliable difference", "why": why})
    return pd.DataFrame(rows)


def interval_summary(runs: Runs) -> pd.DataFrame:
    """The headline metrics as 'mean [lo, hi]' per model in both spaces, with the floor and the verdict."""
    table = interval_table(runs)
    if table.empty:
        return pd.DataFrame()
    ver = verdicts(runs)
    rows = []
    for (key, space), grp in table.groupby(["metric", "space"], sort=False):
        row = {"metric": LABEL[key], "space": SPACE_LABEL[space], "n": int(grp["n"].iloc[0])}
        for _, r in grp.iterrows():
            row[r["model"]] = f"{r['value']:.3f} [{r['lo']:.3f}, {r['hi']:.3f}]"
        v = ver[(ver["metric"] == LABEL[key]) & (ver["space"] == SPACE_LABEL[space])] if not ver.empty else ver
        row["verdict"] = v["verdict"].iloc[0] if len(v) else ""
        rows.append(row)
    return pd.DataFrame(rows).set_index(["metric", "space"])


def plot_metric_intervals(runs: Runs, space: str = SPACE_CLASSIFIER, keys=INTERVAL_METRICS):
    """One small panel per metric: each model's mean with its 95% interval, the real floor's band dashed."""
    table = interval_table(runs)
    table = table[table["space"] == space] if not table.empty else table
    keys = [k for k in keys if not table.empty and (table["metric"] == k).any()]
    if not keys:
        print("no model has intervals yet: evaluate the models first")
        return None
    fig, axes = panel_grid(len(keys), ncol=4, panel_height=2.6)
    for ax, key in zip(axes, keys):
        df = table[(table["metric"] == key) & (table["model"] != "real floor")].reset_index(drop=True)
        ax.errorbar(range(len(df)), df["value"], yerr=[df["value"] - df["lo"], df["hi"] - df["value"]],
                    fmt="o", capsize=4, c="C0")
        fl = table[(table["metric"] == key) & (table["model"] == "real floor")]
        if len(fl):
            ax.axhline(fl["value"].iloc[0], ls="--", c="k", lw=1, label="real floor")
            ax.axhspan(fl["lo"].iloc[0], fl["hi"].iloc[0], color="k", alpha=0.08)
        ax.set_xticks(range(len(df)), df["model"])
        ax.set_xlim(-0.6, len(df) - 0.4)
        ax.set_title(f"{LABEL[key]} ({BETTER[key]}er is better)", fontsize=9)
        ax.set_ylabel(f"{LABEL[key]}, n = {int(df['n'].iloc[0]) if len(df) else 0}", fontsize=8)
        ax.grid(alpha=0.3, axis="y")
        ax.ticklabel_format(axis="y", style="plain", useOffset=False)
    axes[0].legend(fontsize=7, loc="best")
    fig.suptitle(f"{SPACE_LABEL[space]} feature space: mean and 95% interval over 5 disjoint subsets", fontsize=10)
    fig.tight_layout()
    return fig
