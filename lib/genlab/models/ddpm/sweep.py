"""Quality against sampler steps: DDIM, ancestral DDPM and DPM-Solver++ on one trained network.

Every (sampler, steps) setting draws the same ``n`` class-balanced samples from the same seeds and
is scored by :func:`genlab.eval.evaluation.evaluate` (FD, class accuracy, ... with their block
intervals). The three samplers:

- ``ddim``: DDIM with eta = 0, the deterministic probability-flow path (Song et al. 2021);
- ``ddpm``: the ancestral sampler. Over all T steps it is Ho et al.'s; over a sub-sequence of k < T
  steps it is DDIM with eta = 1, which is exactly the ancestral sampler of the respaced chain
  (Song et al. 2021, section 4.1; Nichol and Dhariwal 2021);
- ``dpm++``: DPM-Solver++(2M) (Lu et al. 2022).

Results go to ``metrics.json`` under ``sampler_sweep`` (one entry per setting, with the ``n``, seed
and options it was scored with), so a rerun skips the settings already scored and the comparison
chapter's known-order rung reuses them.
"""

from __future__ import annotations

from typing import Any

import matplotlib.pyplot as plt
import pandas as pd

from ...base.run_folder import RunFolder
from ...eval.intervals import MIN_BLOCK, SUBSETS, paired_difference
from ..protocol import setting_name, split_setting

SAMPLER_LABELS = {"ddim": "DDIM (eta 0)", "ddpm": "DDPM (ancestral)", "dpm++": "DPM-Solver++(2M)"}


def sweep_options(sampler: str, steps: int, num_steps: int) -> dict[str, Any]:
    """The ``sample`` options of one sweep setting (see the module docstring for ``ddpm`` below T steps)."""
    if sampler == "ddim":
        return {"sampler": "ddim", "steps": steps, "eta": 0.0}
    if sampler == "ddpm":
        return {"sampler": "ddpm"} if steps == num_steps else {"sampler": "ddim", "steps": steps, "eta": 1.0}
    if sampler == "dpm++":
        return {"sampler": "dpm++", "steps": steps}
    raise ValueError(f"sampler '{sampler}' unknown; choose from {', '.join(SAMPLER_LABELS)}")


def sampler_sweep(trained, steps=(5, 10, 20, 50), samplers=("ddim", "ddpm", "dpm++"), n: int = 200,
                  seed: int = 0, verbose: bool = True, **eval_options) -> pd.DataFrame:
    """Score every sampler at every step count (``ddpm`` at T steps is Ho et al.'s ancestral sampler);
    one row per setting: FD and class accuracy with 95% intervals, and seconds per 100 images.
    ``eval_options`` go to :func:`genlab.eval.evaluation.evaluate` (e.g. ``feature_config``)."""
    from ...eval.evaluation import evaluate, evaluation_key, stored_evaluation
    if n == 0:
        return pd.DataFrame()  # sweep_samples = 0: skipped
    if n < SUBSETS * MIN_BLOCK:
        raise ValueError(f"sampler_sweep: n = {n} is too few samples for {SUBSETS} blocks of at least {MIN_BLOCK}; "
                         f"use 200 or more (parameter 'sweep_samples'; 0 skips the sweep)")
    num_steps = trained.diffusion.num_steps
    bad = [s for s in steps if not 1 <= s <= num_steps]
    if bad:
        raise ValueError(f"parameter 'sweep_steps': {bad} outside 1..num_steps = {num_steps}")
    folder = RunFolder(trained.run_dir)
    for sampler in samplers:
        for s in steps:
            options = sweep_options(sampler, s, num_steps)
            wanted = evaluation_key(trained, options, n, seed, eval_options.get("feature_config"))
            if stored_evaluation(folder.read_metrics(), "sampler_sweep", wanted):
                continue  # scored by an earlier run of the chapter
            m = evaluate(trained, n=n, seed=seed, options=options, setting=setting_name(sampler, s), write=False,
                         verbose=False, **eval_options)
            entry = {k: v for k, v in m.items() if k not in ("floor", "eval")}
            entry.update(wanted, sample_seconds_per_100=m["eval"]["sample_seconds_per_100"], floor_fd=m["floor"]["fd"])
            folder.update_metrics(sampler_sweep={setting_name(sampler, s): entry})
            if verbose:
                acc = f", class accuracy {m['class_accuracy']:.3f}" if "class_accuracy" in m else ""
                print(f"[sweep] {setting_name(sampler, s)}: FD {m['fd']:.3f} (real floor {m['floor']['fd']:.3f}){acc}, "
                      f"{entry['sample_seconds_per_100']:.1f} s / 100 images", flush=True)
    return sweep_table(folder.read_metrics(), n, seed)


def sweep_table(metrics: dict, n: int | None = None, seed: int | None = None) -> pd.DataFrame:
    """The stored sweep (optionally only entries of ``n`` samples and ``seed``) as one row per setting.

    FD is the full-set value: FD is biased upwards at small N and its bias depends on the samples' spread,
    so means over blocks of n/5 can rank settings differently (``FD blocks`` and its interval, the project's
    usual interval, are kept beside it). Class accuracy is a plain mean, its block interval honest."""
    rows = []
    for name, e in (metrics.get("sampler_sweep") or {}).items():
        if (n is not None and e.get("n") != n) or (seed is not None and e.get("seed") != seed):
            continue
        sampler, steps = split_setting(name)
        ci = e["intervals"]["classifier"]
        acc = ci.get("class_accuracy", {"value": float("nan"), "ci95": [float("nan")] * 2})  # nan: unconditional
        rows.append({"sampler": sampler, "steps": steps, "FD": e["fd"], "FD blocks": ci["fd"]["value"],
                     "FD blocks lo": ci["fd"]["ci95"][0], "FD blocks hi": ci["fd"]["ci95"][1],
                     "class accuracy": acc["value"], "acc lo": acc["ci95"][0],
                     "acc hi": acc["ci95"][1], "seconds per 100": e["sample_seconds_per_100"],
                     "floor FD": e.get("floor_fd"), "n": e["n"]})
    if not rows:
        return pd.DataFrame()
    order = {s: i for i, s in enumerate(SAMPLER_LABELS)}
    return pd.DataFrame(rows).sort_values(["sampler", "steps"], key=lambda c: c.map(order) if c.name == "sampler"
                                          else c).reset_index(drop=True)


def summary(table: pd.DataFrame) -> pd.DataFrame:
    """The sweep for reading: one row per setting, FD, class accuracy with its interval, seconds per 100."""
    if table.empty:
        return table
    return pd.DataFrame({
        "sampler": table["sampler"].map(lambda s: SAMPLER_LABELS.get(s, s)), "steps": table["steps"],
        f"FD ({int(table['n'].iloc[0])} samples)": table["FD"].round(3),
        "class accuracy [95%]": [f"{a:.3f} [{lo:.3f}, {hi:.3f}]" for a, lo, hi in
                                 zip(table["class accuracy"], table["acc lo"], table["acc hi"])],
        "seconds per 100 images": table["seconds per 100"].round(1)}).set_index(["sampler", "steps"])


def plot_sampler_sweep(table: pd.DataFrame):
    """FD and class accuracy (95% block interval) against steps, and FD against seconds per 100 images."""
    if table.empty:
        print("no sampler sweep (sweep_samples = 0): nothing to plot")
        return None
    fig, axes = plt.subplots(2, 2, figsize=(10, 7.2))
    (fd_ax, acc_ax), (time_ax, legend_ax) = axes
    for sampler, grp in table.groupby("sampler", sort=False):
        label = SAMPLER_LABELS.get(sampler, sampler)
        fd_ax.plot(grp["steps"], grp["FD"], marker="o", label=label)
        acc_ax.errorbar(grp["steps"], grp["class accuracy"], capsize=3, marker="o", label=label,
                        yerr=[grp["class accuracy"] - grp["acc lo"], grp["acc hi"] - grp["class accuracy"]])
        time_ax.plot(grp["seconds per 100"], grp["FD"], marker="o", label=label)
        for _, r in grp.iterrows():
            time_ax.annotate(str(int(r["steps"])), (r["seconds per 100"], r["FD"]), fontsize=8, xytext=(3, 3),
                             textcoords="offset points")
    n = int(table["n"].iloc[0])
    floor = table["floor FD"].dropna()
    for ax in (fd_ax, time_ax):
        if len(floor):
            ax.axhline(float(floor.iloc[0]), ls="--", c="k", lw=1, label=f"real digits ({n})")
    labels = ((fd_ax, "sampler steps", f"FD ({n} samples)"), (acc_ax, "sampler steps", "class accuracy (95% interval)"),
              (time_ax, "seconds per 100 images (log)", f"FD ({n} samples)"))
    for ax, x, y in labels:
        ax.set_xscale("log")
        ax.set_xlabel(x)
        ax.set_ylabel(y)
        ax.grid(alpha=0.3)
        ax.xaxis.set_major_formatter(plt.FuncFormatter(lambda v, _: f"{v:g}"))  # 20, not 2x10^1
        ax.xaxis.set_minor_formatter(plt.NullFormatter())
    for ax in (fd_ax, acc_ax):
        ax.set_xticks(sorted(table["steps"].unique()))
    legend_ax.axis("off")
    legend_ax.legend(*fd_ax.get_legend_handles_labels(), loc="center", title="sampler")
    fig.suptitle(f"quality against sampler steps ({n} samples per setting, classifier feature space)")
    fig.tight_layout()
    return fig


def head_to_head(metrics: dict, a: str = "dpm++-20", b: str = "ddim-50", keys=("fd", "class_accuracy")
                 ) -> pd.DataFrame | str:
    """Setting ``a`` against ``b`` from the stored sweep: each value with its 95% interval, whether ``a``'s
    value lies inside ``b``'s interval and the paired block difference a - b with its interval (FD: the
    project's block intervals, at n/5 samples), and the full-set FD of both."""
    sweep = metrics.get("sampler_sweep") or {}
    missing = [s for s in (a, b) if s not in sweep]
    if missing:
        return (f"{' and '.join(missing)} not in the sampler sweep ({', '.join(sweep) or 'none scored'}): "
                f"add the step counts to parameter 'sweep_steps'")
    rows = {}
    for key in (k for k in keys if k in sweep[a]["intervals"]["classifier"]):  # no class accuracy: unconditional
        ea, eb = (sweep[s]["intervals"]["classifier"][key] for s in (a, b))
        diff = paired_difference(ea, eb)
        rows[key] = {a: f"{ea['value']:.4g} [{ea['ci95'][0]:.4g}, {ea['ci95'][1]:.4g}]",
                     b: f"{eb['value']:.4g} [{eb['ci95'][0]:.4g}, {eb['ci95'][1]:.4g}]",
                     f"{a} inside {b}'s interval": "yes" if eb["ci95"][0] <= ea["value"] <= eb["ci95"][1] else "no",
                     f"paired {a} - {b}": f"{diff[0]:+.3g} [{diff[1][0]:+.3g}, {diff[1][1]:+.3g}]" if diff else "n/a"}
    rows[f"fd ({sweep[a]['n']} samples)"] = {a: f"{sweep[a]['fd']:.4g}", b: f"{sweep[b]['fd']:.4g}",
                                             f"{a} inside {b}'s interval": "", f"paired {a} - {b}": ""}
    return pd.DataFrame(rows).T
