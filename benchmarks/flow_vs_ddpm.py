"""Flow matching at the quick profile: couplings (straightness, FD at 1-16 NFE) and the head-to-head with the DDPM.

Trains (or resumes) the quick-profile flow with each coupling in ``--couplings`` and the quick-profile DDPM (the
parameters cell of notebooks/03_ddpm.ipynb), all with the same U-Net, epochs and batch, under run names
``<run>-<coupling>`` and ``<run>``. Then scores every setting on the same ``--samples`` class-balanced samples
and seeds in the classifier feature space (genlab.eval.evaluation.evaluate, 95% block intervals):

- the flow's Euler, midpoint and Heun at each NFE of ``--nfe`` (metrics.json ``solver_sweep``);
- the DDPM's DDIM (eta 0) and DPM-Solver++(2M) at the same NFE and at 20 (``sampler_sweep``);
- the straightness of each flow's paths (genlab.models.flow.figures.straightness).

Training seconds come from each run's metrics.json: on a shared machine they are inflated, and only runs made
side by side under the same load compare. Usage::

    PYTHONPATH=lib python benchmarks/flow_vs_ddpm.py --output-dir /tmp/flow-bench --threads 1
"""

from __future__ import annotations

import argparse

import pandas as pd
import torch

from genlab.base.paths import project_root
from genlab.book.slurm import notebook_defaults
from genlab.models import ddpm, flow
from genlab.models.ddpm import sweep as ddpm_sweep
from genlab.models.flow import sweep as flow_sweep


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--output-dir", default="outputs")
    p.add_argument("--run", default="bench")
    p.add_argument("--couplings", nargs="*", default=["independent", "ot"])
    p.add_argument("--nfe", type=int, nargs="+", default=[1, 2, 4, 8, 16])
    p.add_argument("--samples", type=int, default=200)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--no-ddpm", action="store_true", help="skip the DDPM (couplings only)")
    args = p.parse_args()
    torch.set_num_threads(args.threads)

    rows, straight = [], []
    for coupling in args.couplings:
        cfg = flow.FlowConfig(run=f"{args.run}-{coupling}", coupling=coupling, output_dir=args.output_dir)
        model = flow.train(cfg)
        table = flow_sweep.solver_sweep(model, tuple(args.nfe), n=args.samples)
        table.insert(0, "model", f"flow ({coupling})")
        rows.append(table)
        s = flow.figures.straightness(model, n=100)
        straight.append({"coupling": coupling, "train seconds": round(model.metrics()["train_seconds"], 1),
                         "straightness S": round(s["straightness"], 2), "deviation": round(s["deviation"], 4),
                         "|x1 - x0|^2": round(s["chord_norm2"], 1)})
    if not args.no_ddpm:
        values = notebook_defaults(project_root() / "notebooks" / "03_ddpm.ipynb")
        values.update(run=args.run, output_dir=args.output_dir, sweep_samples=0)
        model = ddpm.train(ddpm.DDPMConfig.from_dict(values))
        steps = tuple(sorted(set(args.nfe) | {20}))
        ddpm_sweep.sampler_sweep(model, steps, samplers=("ddim", "dpm++"), n=args.samples)
        table = flow_sweep.sweep_table(model.metrics(), args.samples, 0, key="sampler_sweep")
        table.insert(0, "model", f"DDPM ({model.metrics()['train_seconds']:.0f} s training)")
        rows.append(table)
    pd.set_option("display.width", 200)
    print("\nstraightness (100 samples, Euler 64 steps, default guidance):")
    print(pd.DataFrame(straight).to_string(index=False))
    print(f"\nquality against NFE ({args.samples} samples per setting; FD in the classifier space):")
    out = pd.concat(rows)
    out["FD / floor"] = out["FD"] / out["floor FD"]
    print(out[["model", "solver", "nfe", "FD", "FD blocks lo", "FD blocks hi", "FD / floor", "class accuracy",
               "acc lo", "acc hi", "seconds per 100"]].round(3).to_string(index=False))


if __name__ == "__main__":
    main()
