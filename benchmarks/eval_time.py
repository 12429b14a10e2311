"""Evaluation cost on this machine: N = 1,000 (quick profile) and N = 5,000 samples, feature net cold and cached.

    PYTHONPATH=lib python benchmarks/eval_time.py [--n 5000] [--threads 2]

Trains an 8-step smoke DCGAN in a temporary folder (sample quality is irrelevant for timing),
then times genlab.eval.evaluation.evaluate: once with an empty feature-net cache (the cost the quick
profile pays once per dataset and resolution), then cached at N = 1,000 and at N. Prints
seconds and ratios; timings on a shared machine are noisy, compare the ratios.
"""

from __future__ import annotations

import argparse
import tempfile
import time

import torch

from genlab.eval import evaluation
from genlab.models import dcgan


def timed(fn):
    t0, c0 = time.perf_counter(), time.process_time()
    out = fn()
    return out, time.perf_counter() - t0, time.process_time() - c0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=5000)
    ap.add_argument("--quick-n", type=int, default=1000)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as out:
        config = dcgan.DCGANConfig(run="bench", max_steps=8, base_channels=8, output_dir=out, device="cpu")
        trained = dcgan.train(config)
        rows = []
        for label, n in (("cold cache (trains the feature net)", args.quick_n), ("cached", args.quick_n),
                         ("cached", args.n)):
            scores, wall, cpu = timed(lambda: evaluation.evaluate(trained, n=n, verbose=False))
            rows.append((label, n, wall, cpu))
            print(f"{label:38} N={n:>6}: {wall:7.1f} s wall, {cpu:7.1f} s CPU "
                  f"(sampling {scores['eval']['sample_seconds_per_100'] * n / 100:.2f} s)", flush=True)
    cold, warm, big = rows
    print(f"\nfeature-net training share of the cold run: {1 - warm[2] / cold[2]:.0%} "
          f"(cold / cached = {cold[2] / warm[2]:.2f}x)")
    print(f"N={args.n} / N={args.quick_n} (cached): {big[2] / warm[2]:.2f}x wall for {args.n / args.quick_n:.0f}x samples; "
          f"{big[2] / args.n * 1000:.2f} s wall per 1,000 samples at N={args.n}")


if __name__ == "__main__":
    main()
