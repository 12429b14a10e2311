"""Chapters side by side or one after the other: training steps per second on this machine's cores.

``genlab all`` / ``make book`` run two notebooks at once on a CPU-only machine (``genlab.book.lanes``), each
kernel with half of the cores, instead of one notebook at a time with all of them. This measures why, on
each kind's own training step (its recipe, the chapter's quick profile from its notebook's parameters
cell): ``--lanes`` processes at ``cores / lanes`` threads, started together, against one process at all
the cores, each doing ``--steps`` steps after a warm-up. The two arrangements alternate over ``--rounds``
so that machine load hits both; the script prints, per kind, steps per second over all processes (the best
round of each) and the ratio (above 1: side by side finishes the same work sooner).

    PYTHONPATH=lib python benchmarks/lanes.py [--kinds dcgan stylegan ddpm flow ebm] [--steps 30] [--rounds 2]
        [--lanes 2]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

KINDS = ["dcgan", "stylegan", "ddpm", "flow", "ebm"]


def one(kind_name: str, steps: int, warmup: int) -> float:
    """In a child process: seconds for ``steps`` training steps of the kind's quick profile."""
    import torch
    from genlab.base.paths import project_root
    from genlab.book.slurm import notebook_defaults
    from genlab.data import DeviceBatches
    from genlab.models import registry
    from genlab.train.run import training_data

    kind = registry.get(kind_name)
    quick = notebook_defaults(project_root() / kind.notebook)
    with tempfile.TemporaryDirectory() as scratch:
        config = kind.config.from_dict({**quick, "device": "cpu", "output_dir": scratch})
        data = (kind.data or training_data)(config)
        torch.manual_seed(config.seed)
        recipe = kind.recipe(config, data, torch.device("cpu"))
        batches = DeviceBatches(data, config.batch_size, torch.device("cpu"), seed=0)
        for i in range(warmup):
            recipe.step(i + 1, *batches.batch(i))
        t0 = time.perf_counter()
        for i in range(warmup, warmup + steps):
            recipe.step(i + 1, *batches.batch(i))
        return time.perf_counter() - t0


def arrangement(kind: str, processes: int, threads: int, args) -> float:
    """Steps per second over ``processes`` children at ``threads`` threads each, started together."""
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads)}
    cmd = [sys.executable, __file__, "--one", kind, "--steps", str(args.steps), "--warmup", str(args.warmup)]
    children = [subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, text=True) for _ in range(processes)]
    seconds = []
    for child in children:
        out, _ = child.communicate()
        if child.returncode:
            raise RuntimeError(f"{kind} with {threads} threads failed (exit {child.returncode})")
        seconds.append(json.loads(out.strip().splitlines()[-1]))
    return processes * args.steps / max(seconds)  # the arrangement ends when its last process does


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--kinds", nargs="+", default=KINDS, choices=KINDS)
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--lanes", type=int, default=2)
    ap.add_argument("--one", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.one:
        print(json.dumps(one(args.one, args.steps, args.warmup)))
        return
    from genlab.book.lanes import cpu_count
    cores = cpu_count()
    share = max(1, cores // args.lanes)
    print(f"{cores} cores: {args.lanes} processes at {share} thread(s) each against 1 process at {cores}; "
          f"{args.steps} steps each after {args.warmup} warm-up steps, best of {args.rounds} rounds")
    print("| kind | one at a time (steps/s) | side by side (steps/s) | ratio |\n|---|---|---|---|")
    for kind in args.kinds:
        alone, side = 0.0, 0.0
        for _ in range(args.rounds):
            alone = max(alone, arrangement(kind, 1, cores, args))
            side = max(side, arrangement(kind, args.lanes, share, args))
        print(f"| {kind} | {alone:.2f} | {side:.2f} | {side / alone:.2f}x |", flush=True)


if __name__ == "__main__":
    main()
