"""Training seconds until 90% of conditional DCGAN samples show the requested digit: genlab's recipe vs the
standard DCGAN recipe, on the same generator and discriminator.

    PYTHONPATH=lib python benchmarks/dcgan_time_to_quality.py [--max-seconds 300] [--eval-every 5] [--device auto]
        [--threads 1 --clock cpu]

- genlab: exactly what ``genlab.models.dcgan`` trains with its defaults (``DCGANConfig()``, driven step by
  step through ``dcgan.training.recipe``): its batch size from device-resident uint8 tensors, the auxiliary
  classifier loss, samples from the EMA generator.
- standard: the same network classes, initialisation and conditioning (label embedding in G, projection in D),
  trained the usual DCGAN way: Adam 2e-4, beta1 0.5, batch 128, fp32, the plain non-saturating loss (no
  auxiliary classifier term), no EMA, fed by a torchvision-style Dataset (PIL image -> ToTensor -> Normalize)
  behind a DataLoader (the one of ``dcgan_throughput.py``).

Both train on mnist5k's training split from the same seed on the same device, taking turns in this process:
each side trains until its own clock (training only) passes the next multiple of ``--eval-every`` seconds,
then ``--samples`` class-balanced samples (as ``model.evaluate()`` draws them) are scored by the project's
classifier (the cached feature net ``evaluate`` uses). A side stops when it reaches ``--target``, or at
``--max-seconds``. Turns keep background load on a shared machine alike for both; each side has its own
RNG stream, so neither changes the other's run.

``--clock cpu`` times training by this process's CPU seconds instead of wall seconds: on a machine shared with
other jobs, with ``--threads 1`` (and the default in-process DataLoader), it estimates the wall seconds on an
idle core, unaffected by whatever else runs.
"""

from __future__ import annotations

import argparse
import itertools
import math
import time
from typing import Iterator

import torch

from dcgan_throughput import loader_batches, sync  # the reference input pipeline, not a copy of it
from genlab.data import DeviceBatches, balanced_labels, load_dataset, scoring_size
from genlab.eval.featurenet import FeatureNet, cache_dir, feature_net
from genlab.models import dcgan
from genlab.train.devices import rng_state, seed_everything, select_device, set_rng_state

DATASET = "mnist5k"
# The standard recipe: the DCGAN paper's optimiser and batch, plain GAN loss (ac_weight 0), no weight averaging.
STANDARD = dict(lr=2e-4, beta1=0.5, batch_size=128, ac_weight=0.0, ema_decay=0.0)


class Run:
    """One recipe, trained in slices of its own training clock (evaluation excluded), on its own RNG stream."""

    def __init__(self, name: str, config: dcgan.DCGANConfig, batches: Iterator, data, device: torch.device,
                 clock=time.perf_counter):
        self.name, self.config, self.batches, self.device, self.clock = name, config, batches, device, clock
        self.class_names = data.class_names
        seed_everything(config.seed)  # as the library's training skeleton does before building the networks
        self.recipe = dcgan.training.recipe(config, data, device)
        self.state, self.step_fn = self.recipe.state, self.recipe.step
        self.rng = rng_state()
        self.step, self.seconds, self.curve = 0, 0.0, []
        # On CUDA, read the clock (a synchronisation) every few steps only: syncing each step would stall the
        # DataLoader side's overlap of host work with the GPU.
        self.steps_per_read = 10 if device.type == "cuda" else 1

    def train_until(self, seconds: float) -> bool:
        """Train until the clock reaches ``seconds``; False if it already had (no step taken)."""
        if self.seconds >= seconds:
            return False
        set_rng_state(self.rng)
        for m in self.state.modules.values():
            m.train()
        while self.seconds < seconds:
            t0 = self.clock()
            for _ in range(self.steps_per_read):
                x0, y = next(self.batches)  # inside the clock: feeding the step is part of the recipe
                self.step_fn(self.step, x0, y)
                self.step += 1
            sync(self.device)
            self.seconds += self.clock() - t0
        self.rng = rng_state()
        return True

    def class_accuracy(self, net: FeatureNet, n: int, seed: int) -> float:
        """Share of ``n`` balanced samples (fixed latents) that the classifier reads as the requested digit."""
        trained = self.recipe.trained(self.step)  # samples as a trained genlab model does
        labels = balanced_labels(n, trained.num_classes)
        images = trained.sample(n, labels=labels, seed=seed)
        return float((net.logits(images).argmax(1) == labels).double().mean())

    def first_reaching(self, target: float) -> tuple[float, int] | None:
        """(training seconds, step) of the first evaluation at or above ``target``, or None."""
        return next(((s, step) for s, step, acc in self.curve if acc >= target), None)


def time_to_quality(device: torch.device, max_seconds: float = 300, eval_every: float = 5, samples: int = 500,
                    target: float = 0.9, seed: int = 0, workers: int = 0, clock: str = "wall",
                    net: FeatureNet | None = None, verbose: bool = True) -> dict:
    """Train each recipe, scoring every ``eval_every`` seconds of training, until it reaches ``target`` (or
    ``max_seconds``). ``clock``: wall or cpu. Returns per side ``curve`` [(seconds, step, accuracy)] and
    ``reached`` ((seconds, step) or None), and ``ratio``: standard / genlab seconds (None unless both reached)."""
    if clock == "cpu" and (device.type != "cpu" or workers):
        raise ValueError("clock 'cpu' counts this process's CPU time: use it with device cpu and workers 0")
    timer = {"wall": time.perf_counter, "cpu": time.process_time}[clock]
    data = load_dataset(DATASET, "train")
    if net is None:  # the classifier model.evaluate() scores with: cached in outputs/feature_nets
        net_device = device if device.type == "cuda" else torch.device("cpu")
        net = feature_net(DATASET, scoring_size(DATASET, data.images.shape[-1]), data.channels,
                          cache=cache_dir(), device=net_device, verbose=verbose)
    ours = dcgan.DCGANConfig(seed=seed, device=str(device))
    usual = dcgan.DCGANConfig(seed=seed, device=str(device), **STANDARD)
    genlab_batches = DeviceBatches(data, ours.batch_size, device, seed=seed)
    runs = [Run("genlab", ours, (genlab_batches.batch(s) for s in itertools.count()), data, device, timer),
            Run("standard", usual, loader_batches(data, usual.batch_size, device, workers), data, device, timer)]
    for k in range(1, math.ceil(max_seconds / eval_every) + 1):
        for run in [r for r in runs if not r.first_reaching(target)]:  # a side that got there is done
            if not run.train_until(min(k * eval_every, max_seconds)):
                continue  # a slow step (a loaded machine) already carried it past this checkpoint
            run.curve.append((run.seconds, run.step, run.class_accuracy(net, samples, seed)))
            if verbose:
                print(f"  {run.name:8} {run.seconds:7.1f} s  step {run.step:5d}  accuracy {run.curve[-1][2]:.3f}",
                      flush=True)
    out = {run.name: {"curve": run.curve, "reached": run.first_reaching(target)} for run in runs}
    a, b = out["genlab"]["reached"], out["standard"]["reached"]
    out["ratio"] = b[0] / a[0] if a and b else None
    return out


def point(p: tuple[float, int, float] | None, width: int) -> str:
    """One evaluation as table cells (blank after a side has stopped)."""
    return f"{p[0]:{width}.1f} {p[1]:6d} {p[2]:9.3f}" if p else " " * (width + 17)


def reached_text(reached, max_seconds: float) -> str:
    return f"{reached[0]:.1f} s (step {reached[1]})" if reached else f"not reached within {max_seconds:g} s"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--max-seconds", type=float, default=300, help="training seconds per side")
    p.add_argument("--eval-every", type=float, default=5, help="training seconds between evaluations")
    p.add_argument("--samples", type=int, default=500, help="class-balanced samples per evaluation")
    p.add_argument("--target", type=float, default=0.9, help="class accuracy to reach")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--workers", type=int, default=0, help="DataLoader worker processes for the standard side")
    p.add_argument("--threads", type=int, default=0, help="torch CPU threads (0 = torch's default)")
    p.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))
    p.add_argument("--clock", default="wall", choices=("wall", "cpu"),
                   help="time training by wall seconds, or by CPU seconds (shared machines; with --threads 1)")
    args = p.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = select_device(args.device)
    print(f"device {device}, torch threads {torch.get_num_threads()}, {args.clock} clock, {DATASET} train split, "
          f"seed {args.seed}, {args.samples} samples per evaluation every {args.eval_every:g} s of training, "
          f"at most {args.max_seconds:g} s per side", flush=True)
    out = time_to_quality(device, args.max_seconds, args.eval_every, args.samples, args.target, args.seed,
                          args.workers, args.clock)
    print("\nclass accuracy against training seconds (genlab: DCGANConfig() defaults; standard: "
          "batch 128, DataLoader + PIL transforms, no AC loss, no EMA)")
    print(f"{'genlab s':>9} {'step':>6} {'accuracy':>9}   {'standard s':>10} {'step':>6} {'accuracy':>9}")
    for g, s in itertools.zip_longest(out["genlab"]["curve"], out["standard"]["curve"]):
        print(f"{point(g, 9)}   {point(s, 10)}")
    print(f"\nseconds to {args.target:.0%} class accuracy (first evaluation at or above it; resolution "
          f"{args.eval_every:g} s):")
    for name in ("genlab", "standard"):
        print(f"  {name:8} {reached_text(out[name]['reached'], args.max_seconds)}")
    if out["ratio"] is not None:
        print(f"ratio standard / genlab: {out['ratio']:.2f}x")
    elif out["genlab"]["reached"]:
        print(f"ratio standard / genlab: > {args.max_seconds / out['genlab']['reached'][0]:.2f}x "
              f"(standard not reached within the limit)")
    else:
        print("ratio standard / genlab: n/a (genlab did not reach the target)")


if __name__ == "__main__":
    main()
