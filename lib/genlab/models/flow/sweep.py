"""Quality against NFE: Euler, midpoint and Heun at equal network evaluations on one trained flow.

Every (solver, NFE) setting draws the same ``n`` class-balanced samples from the same seeds and is
scored by :func:`genlab.eval.evaluation.evaluate`. A setting is named by its NFE ('heun-7' is 4 Heun
steps, the last one Euler), the unit shared with the DDPM's samplers (DDIM and DPM-Solver++ spend one evaluation per step).
Results go to ``metrics.json`` under ``solver_sweep``, so a rerun skips the settings already scored.
"""

from __future__ import annotations

import pandas as pd

from ...base.run_folder import RunFolder
from ...eval.intervals import MIN_BLOCK, SUBSETS
from ..protocol import setting_name, split_setting

SOLVER_LABELS = {"euler": "Euler", "midpoint": "midpoint", "heun": "Heun", "dopri5": "dopri5 (adaptive)",
                 "ddim": "DDPM: DDIM (eta 0)", "ddpm": "DDPM: ancestral (DDIM eta 1 below T steps)",
                 "dpm++": "DDPM: DPM-Solver++(2M)"}


def solver_sweep(trained, nfe=(2, 4, 8, 16), solvers=("euler", "midpoint", "heun"), n: int = 200, seed: int = 0,
                 verbose: bool = True, **eval_options) -> pd.DataFrame:
    """Score every solver at the largest NFE it reaches up to each of ``nfe`` (midpoint: even, Heun: odd, its last
    step being Euler); one row per setting."""
    from ...eval.evaluation import evaluate, evaluation_key, stored_evaluation
    if n == 0:
        return pd.DataFrame()
    if n < SUBSETS * MIN_BLOCK:
        raise ValueError(f"solver_sweep: n = {n} is too few samples for {SUBSETS} blocks of at least {MIN_BLOCK}; "
                         f"use 200 or more (parameter 'sweep_samples'; 0 skips the sweep)")
    from ...sampling.ode import reachable_nfe
    folder = RunFolder(trained.run_dir)
    for solver in solvers:
        for k in sorted({reachable_nfe(solver, k) for k in nfe} - {0}):
            options = trained.options_for(solver, k)
            wanted = evaluation_key(trained, options, n, seed, eval_options.get("feature_config"))
            if stored_evaluation(folder.read_metrics(), "solver_sweep", wanted):
                continue
            m = evaluate(trained, n=n, seed=seed, options=options, setting=setting_name(solver, k), write=False,
                         verbose=False, **eval_options)
            entry = {k2: v for k2, v in m.items() if k2 not in ("floor", "eval")}
            entry.update(wanted, nfe=k, sample_seconds_per_100=m["eval"]["sample_seconds_per_100"],
                         floor_fd=m["floor"]["fd"])
            folder.update_metrics(solver_sweep={setting_name(solver, k): entry})
            if verbose:
                acc = f", class accuracy {m['class_accuracy']:.3f}" if "class_accuracy" in m else ""
                print(f"[sweep] {solver} NFE {k}: FD {m['fd']:.3f} (real floor {m['floor']['fd']:.3f}){acc}, "
                      f"{entry['sample_seconds_per_100']:.1f} s / 100 images", flush=True)
    return sweep_table(folder.read_metrics(), n, seed)


def sweep_table(metrics: dict, n: int | None = None, seed: int | None = None, key: str = "solver_sweep") -> pd.DataFrame:
    """One row per stored setting: solver, NFE, FD, class accuracy with its block interval, seconds per 100.

    ``key = 'sampler_sweep'`` reads a DDPM's sweep the same way (its NFE are its steps: DDIM and
    DPM-Solver++ spend one evaluation per step)."""
    rows = []
    for name, e in (metrics.get(key) or {}).items():
        if (n is not None and e.get("n") != n) or (seed is not None and e.get("seed") != seed):
            continue
        solver, k = split_setting(name)
        ci = e["intervals"]["classifier"]
        acc = ci.get("class_accuracy", {"value": float("nan"), "ci95": [float("nan")] * 2})
        rows.append({"solver": solver, "nfe": e.get("nfe", k), "FD": e["fd"], "FD blocks lo": ci["fd"]["ci95"][0],
                     "FD blocks hi": ci["fd"]["ci95"][1], "class accuracy": acc["value"], "acc lo": acc["ci95"][0],
                     "acc hi": acc["ci95"][1], "seconds per 100": e["sample_seconds_per_100"],
                     "floor FD": e.get("floor_fd"), "n": e["n"]})
    if not rows:
        return pd.DataFrame()
    return pd.DataFrame(rows).sort_values(["solver", "nfe"]).reset_index(drop=True)


def summary(table: pd.DataFrame) -> pd.DataFrame:
    """The sweep for reading: FD (and its ratio to the real floor), class accuracy [95%], seconds per 100."""
    if table.empty:
        return table
    return pd.DataFrame({
        "solver": table["solver"].map(lambda s: SOLVER_LABELS.get(s, s)), "NFE": table["nfe"],
        f"FD ({int(table['n'].iloc[0])} samples)": table["FD"].round(3),
        "FD / floor": (table["FD"] / table["floor FD"]).round(2),
        "class accuracy [95%]": [f"{a:.3f} [{lo:.3f}, {hi:.3f}]" for a, lo, hi in
                                 zip(table["class accuracy"], table["acc lo"], table["acc hi"])],
        "seconds per 100 images": table["seconds per 100"].round(1)}).set_index(["solver", "NFE"])
