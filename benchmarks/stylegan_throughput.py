"""Training images/s of genlab's StyleGAN2-ADA step (G main, D main + lazy R1, ADA augmentation, EMA):
eager vs ``torch.compile`` of G and D, the same step in this process, and the ratio.

    python benchmarks/stylegan_throughput.py [--steps 20] [--batch-size 32] [--image-size 32] [--threads 2]
        [--device auto] [--no-compile] [--p 0.3]
"""

from __future__ import annotations

import argparse
import time

import torch

from genlab.models.stylegan import StyleGANConfig, StyleGANStep, build
from genlab.train.devices import select_device


def images_per_second(args, device, compile_nets: bool) -> float:
    torch.manual_seed(0)
    config = StyleGANConfig(image_size=args.image_size, batch_size=args.batch_size, augment_p=args.p,
                            ada=False, device=str(device))
    gen, disc = build(config, args.channels, 10)
    gen, disc = gen.to(device), disc.to(device)
    step = StyleGANStep(config, gen, disc)
    if compile_nets:  # the step keeps its references: compile the modules' forwards in place
        gen.synthesis = torch.compile(gen.synthesis)
        disc.forward = torch.compile(disc.forward)
    x = torch.rand(args.batch_size, args.channels, args.image_size, args.image_size, device=device) * 2 - 1
    y = torch.arange(args.batch_size, device=device) % 10
    for i in range(args.warmup):
        step(i, x, y)
    sync(device)
    t0 = time.perf_counter()
    for i in range(args.steps):
        step(args.warmup + i, x, y)
    sync(device)
    return args.steps * args.batch_size / (time.perf_counter() - t0)


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--image-size", type=int, default=32)
    ap.add_argument("--channels", type=int, default=1)
    ap.add_argument("--p", type=float, default=0.3, help="augmentation probability during the measurement")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--device", default="auto")
    ap.add_argument("--no-compile", action="store_true")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    device = select_device(args.device)
    print(f"StyleGAN2-ADA lite step, {args.image_size} px x {args.channels} ch, batch {args.batch_size}, "
          f"p = {args.p}, device {device}, {args.threads} threads (R1 every 16 steps, as trained)")
    eager = images_per_second(args, device, False)
    print(f"eager:          {eager:8.1f} images/s")
    if not args.no_compile:
        compiled = images_per_second(args, device, True)
        print(f"torch.compile:  {compiled:8.1f} images/s  (x{compiled / eager:.2f} vs eager)")


if __name__ == "__main__":
    main()
