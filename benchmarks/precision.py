"""Training step time in bf16 autocast against float32, per kind, on this machine (``amp = auto`` is measured here).

``amp = auto`` (``genlab.train.precision``) trains in bf16 autocast on CUDA and on CPUs with native bf16
instructions (AVX512-BF16 or AMX). This times each kind's own training step (its recipe, the chapter's quick
profile from its notebook's parameters cell) with ``amp = bf16`` and ``amp = off`` from the same seed on the
same batches, alternating round by round so that machine load hits both, and prints ms per step (the best of
``--rounds``) and the ratio. It also prints the CPU's bf16 flags and what ``auto`` picks on it.

    PYTHONPATH=lib python benchmarks/precision.py [--kinds dcgan stylegan ddpm flow ebm] [--steps 15]
        [--rounds 3] [--threads 2]
"""

from __future__ import annotations

import argparse
import tempfile
import time

import torch

from genlab.base.paths import project_root
from genlab.book.slurm import notebook_defaults
from genlab.data import DeviceBatches
from genlab.models import registry
from genlab.train.precision import cpu_has_fast_bf16, use_bf16
from genlab.train.run import training_data

KINDS = ["dcgan", "stylegan", "ddpm", "flow", "ebm"]


def stepper(kind, quick: dict, amp: str, scratch: str):
    """The kind's recipe step at ``amp`` and a function that runs ``n`` steps from step ``s0``."""
    config = kind.config.from_dict({**quick, "device": "cpu", "output_dir": scratch, "amp": amp})
    data = (kind.data or training_data)(config)
    torch.manual_seed(config.seed)
    recipe = kind.recipe(config, data, torch.device("cpu"))
    batches = DeviceBatches(data, config.batch_size, torch.device("cpu"), seed=0)

    def run(n: int, s0: int) -> float:
        t0 = time.perf_counter()
        for i in range(s0, s0 + n):
            recipe.step(i + 1, *batches.batch(i))
        return (time.perf_counter() - t0) / n * 1000
    return run


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--kinds", nargs="+", default=KINDS, choices=KINDS)
    ap.add_argument("--steps", type=int, default=15)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    flags = "native bf16 (AVX512-BF16 or AMX)" if cpu_has_fast_bf16() else "no native bf16"
    print(f"CPU: {flags}; amp = auto picks {'bf16' if use_bf16(torch.device('cpu'), 'auto') else 'float32'}; "
          f"{args.threads} threads, {args.steps} timed steps, best of {args.rounds} rounds")
    print("| kind | float32 (ms/step) | bf16 autocast (ms/step) | ratio |\n|---|---|---|---|")
    with tempfile.TemporaryDirectory() as scratch:
        for name in args.kinds:
            kind = registry.get(name)
            quick = notebook_defaults(project_root() / kind.notebook)
            runs = {amp: stepper(kind, quick, amp, f"{scratch}/{name}-{amp}") for amp in ("off", "bf16")}
            best = {amp: float("inf") for amp in runs}
            for amp, run in runs.items():
                run(args.warmup, 0)
            for r in range(args.rounds):
                for amp, run in runs.items():
                    best[amp] = min(best[amp], run(args.steps, args.warmup + r * args.steps))
            print(f"| {name} | {best['off']:.1f} | {best['bf16']:.1f} | {best['off'] / best['bf16']:.2f}x |", flush=True)


if __name__ == "__main__":
    main()
