"""Training images/s of genlab's StyleGAN2-ADA step (G main, D main + lazy R1, ADA augmentation, EMA):
eager vs ``torch.compile`` of G's synthesis network (D stays eager: lazy R1 takes a double backward through
D, which torch.compile's aot_autograd does not support), the same step in this process, and the ratio.

The networks and batch are the StyleGAN chapter's quick profile (its parameters cell); ``-p NAME=VALUE``
overrides any parameter, e.g. ``-p image_size=64 -p channel_max=128`` for the 64 px full-profile nets.

    python benchmarks/stylegan_throughput.py [--steps 20] [-p batch_size=64] [--threads 2]
        [--device auto] [--no-compile] [--augment-p 0.3]
"""

from __future__ import annotations

import argparse
import time

import torch

from genlab.base.config import parse_assignments
from genlab.base.paths import project_root
from genlab.book.slurm import notebook_defaults
from genlab.models.stylegan import StyleGANConfig, StyleGANStep, build
from genlab.train.devices import select_device


def images_per_second(config: StyleGANConfig, args, device, compile_nets: bool) -> float:
    torch.manual_seed(0)
    gen, disc = build(config, args.channels, 10)
    gen, disc = gen.to(device), disc.to(device)
    step = StyleGANStep(config, gen, disc)
    if compile_nets:  # the step keeps its references: compile G's synthesis in place. D stays eager: its
        gen.synthesis = torch.compile(gen.synthesis)  # R1 needs a double backward, which compile cannot do
    b, size = config.batch_size, config.image_size
    x = torch.rand(b, args.channels, size, size, device=device) * 2 - 1
    y = torch.arange(b, device=device) % 10
    for i in range(args.warmup):
        step(i, x, y)
    sync(device)
    t0 = time.perf_counter()
    for i in range(args.steps):
        step(args.warmup + i, x, y)
    sync(device)
    return args.steps * b / (time.perf_counter() - t0)


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("-p", dest="params", action="append", default=[], metavar="NAME=VALUE",
                    help="override a parameter of the StyleGAN chapter's quick profile (repeatable)")
    ap.add_argument("--channels", type=int, default=1)
    ap.add_argument("--augment-p", type=float, default=0.3, help="augmentation probability during the measurement")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--device", default="auto")
    ap.add_argument("--no-compile", action="store_true")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    device = select_device(args.device)
    quick = notebook_defaults(project_root() / "notebooks" / "02_stylegan.ipynb")
    config = StyleGANConfig.from_dict({**quick, **parse_assignments(args.params), "augment_p": args.augment_p,
                                       "ada": False, "device": str(device)})
    print(f"StyleGAN2-ADA lite step (the chapter's quick nets), {config.image_size} px x {args.channels} ch, "
          f"batch {config.batch_size}, p = {args.augment_p}, device {device}, {args.threads} threads "
          f"(R1 every {config.r1_interval} steps, as trained)")
    eager = images_per_second(config, args, device, False)
    print(f"eager:          {eager:8.1f} images/s")
    if not args.no_compile:
        compiled = images_per_second(config, args, device, True)
        print(f"torch.compile:  {compiled:8.1f} images/s  (x{compiled / eager:.2f} vs eager)")


if __name__ == "__main__":
    main()
