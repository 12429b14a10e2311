"""The slowest request the service allows, per model kind: what its per-request budget means in seconds here.

For each model under ``--runs``, every (n, steps) corner that the server's limits allow (n from 1 to max_n,
steps as many as the budget n x steps, max_steps and the model's own range allow; for the DDPM also its
ancestral sampler, which runs all its steps) is checked by the service's own validation, then sampled once,
metered as the service does, and timed. Prints each corner and the slowest per kind.

    PYTHONPATH=lib python benchmarks/serve_budget.py --runs outputs/quick --threads 2
"""

from __future__ import annotations

import argparse
import threading
import time

import torch

from genlab.serve import Catalog, Limits
from genlab.serve.app import draw
from genlab.serve.limits import GenerateRequest, RequestError, check_request


def corners(served, limits: Limits) -> list[dict]:
    """Request bodies at the edges of what ``limits`` allow for this model."""
    known = served.model.sampler_options()
    budget = limits.budget_for(served.info["kind"])
    out = []
    for n in sorted({1, 2, 4, 8, 16, 32, limits.max_n}):
        body = {"model": served.name, "n": n}
        if "steps" in known:
            high = int(min(limits.max_steps, known["steps"].high or limits.max_steps, budget // n))
            if high < 1:
                continue
            body["steps"] = high
            if "sampler" in known and "ddim" in known["sampler"].choices:
                body["sampler"] = "ddim"
        out.append(body)
    if "sampler" in known and "ddpm" in known["sampler"].choices:  # the ancestral sampler: all T steps
        total = int(known["steps"].high)
        out += [{"model": served.name, "n": n, "sampler": "ddpm"} for n in (1, max(1, budget // total))]
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--runs", default="outputs/quick", help="runs folder (make book, or smoke runs)")
    p.add_argument("--budget", type=int, default=Limits().budget, help="images x network steps per request")
    p.add_argument("--threads", type=int, default=2, help="torch threads (the server's workers share the CPU)")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    limits = Limits(budget=args.budget)
    catalog = Catalog(args.runs, device="cpu")
    print(f"budget {args.budget} images x network steps, max_n {limits.max_n}, max_steps {limits.max_steps}, "
          f"{args.threads} threads")
    for served in catalog.models.values():
        slowest = (0.0, None)
        for body in corners(served, limits):
            try:
                labels, options = check_request(GenerateRequest(**body), served.model, limits)
            except RequestError as exc:
                print(f"  {served.name:16} {body}: refused ({exc})")
                continue
            t0 = time.perf_counter()
            try:
                draw(served, body["n"], labels, 0, options, limits.budget_for(served.info["kind"]), threading.Event())
                status = "200"
            except RequestError as exc:  # stopped by the meter
                status = f"422 after the budget ({exc.field})"
            seconds = time.perf_counter() - t0
            print(f"  {served.name:16} n={body['n']:3} {options}: {seconds:6.2f} s  {status}")
            slowest = max(slowest, (seconds, body), key=lambda x: x[0])
        print(f"{served.name:16} slowest allowed request: {slowest[0]:.2f} s for {slowest[1]}")


if __name__ == "__main__":
    main()
