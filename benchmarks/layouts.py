"""Training step time of the convolutional kinds as built (channels-last) against the same networks in NCHW.

genlab builds the DCGAN's, the StyleGAN's and the EBM's networks channels-last (``memory_format =
torch.channels_last``), the layout oneDNN's and cuDNN's fast convolutions and pooling work in (the U-Net of
the DDPM and the flow was already; ``benchmarks/ddpm_throughput.py`` times it). The reference is each kind's
own training step (its recipe, the chapter's quick profile from its notebook's parameters cell) with the
networks converted back to the default NCHW layout. Both variants train from the same seed on the same batch
and alternate round by round, so that machine load hits both; the script prints ms per training step, the
best of ``--rounds`` for each, and the ratio.

    PYTHONPATH=lib python benchmarks/layouts.py [--kinds dcgan stylegan ebm] [--steps 20] [--rounds 3]
        [--threads 2] [--device auto]
"""

from __future__ import annotations

import argparse
import tempfile
import time

import torch

from genlab.base.paths import project_root
from genlab.book.slurm import notebook_defaults
from genlab.data import load_dataset
from genlab.models import registry
from genlab.train.devices import select_device

NCHW = torch.contiguous_format


def training_step(kind, config, data, layout, device):
    """The kind's step function with its networks (and the EMA copy) in ``layout``."""
    torch.manual_seed(config.seed)
    recipe = kind.recipe(config, data, device)
    nets = list(recipe.state.modules.values()) + ([recipe.state.ema.shadow] if recipe.state.ema else [])
    for net in nets:
        net.to(memory_format=layout)  # in place: the optimizers keep their parameters
        if hasattr(net, "memory_format"):  # the StyleGAN's nets also set the layout of their first feature map
            net.memory_format = layout
    return recipe.step


def ms_per_step(step, x, y, steps: int, warmup: int, device) -> float:
    for i in range(warmup):
        step(i, x, y)
    sync(device)
    t0 = time.perf_counter()
    for i in range(steps):
        step(warmup + i, x, y)
    sync(device)
    return (time.perf_counter() - t0) / steps * 1000


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--kinds", nargs="+", default=["dcgan", "stylegan", "ebm"], choices=["dcgan", "stylegan", "ebm"])
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--rounds", type=int, default=3, help="alternate the two layouts this many times; best of each")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--device", default="auto")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    device = select_device(args.device)
    print(f"device {device}, {args.threads} threads, {args.steps} timed steps, best of {args.rounds} rounds")
    with tempfile.TemporaryDirectory() as scratch:
        for name in args.kinds:
            kind = registry.get(name)
            quick = notebook_defaults(project_root() / kind.notebook)
            config = kind.config.from_dict({**quick, "device": str(device), "output_dir": scratch})
            data = kind.data(config) if kind.data else load_dataset(config.dataset, image_size=config.image_size,
                                                                       data_dir=config.data_dir)
            x = (data.images[:config.batch_size].float() / 127.5 - 1).to(device)
            y = data.labels[:config.batch_size].to(device)
            times = {torch.channels_last: [], NCHW: []}
            for _ in range(args.rounds):
                for layout in times:
                    step = training_step(kind, config, data, layout, device)
                    times[layout].append(ms_per_step(step, x, y, args.steps, args.warmup, device))
            cl, nchw = min(times[torch.channels_last]), min(times[NCHW])
            print(f"{name:9s} batch {config.batch_size:3d}: channels-last (as built) {cl:7.1f} ms/step, "
                  f"NCHW {nchw:7.1f} ms/step: x{nchw / cl:.2f} "
                  f"(rounds {[round(t, 1) for t in times[torch.channels_last]]} vs {[round(t, 1) for t in times[NCHW]]})")


if __name__ == "__main__":
    main()
