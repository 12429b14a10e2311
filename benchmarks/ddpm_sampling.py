"""Sampling wall-clock: DDIM-50 vs DDPM-T (ancestral, all steps) with the same network and batch.

Uses a trained checkpoint when given (``--checkpoint outputs/quick/ddpm/checkpoint.pt``), else a
freshly initialised U-Net of the quick profile's size (the cost does not depend on the weights).
The two samplers alternate over rounds so machine load hits both alike; prints seconds per 100
images of each and the ratio (median over rounds).

    PYTHONPATH=lib python benchmarks/ddpm_sampling.py [--checkpoint PATH] [--n 20] [--guidance 3]
"""

from __future__ import annotations

import argparse
import statistics
from pathlib import Path

import torch

from genlab.models import ddpm
from genlab.models.ddpm.trained import build as ddpm_build
from genlab.train.devices import count_parameters
from genlab.train.timing import seconds_per_100


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--checkpoint", help="a DDPM checkpoint.pt (default: untrained quick-profile U-Net)")
    p.add_argument("--n", type=int, default=20, help="images per sampler call")
    p.add_argument("--ddim-steps", type=int, default=50)
    p.add_argument("--guidance", type=float, default=1.0, help="1 = one conditional pass per step")
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--device", default="cpu")
    p.add_argument("--threads", type=int, default=0, help="torch CPU threads (0 = default)")
    args = p.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.checkpoint:
        trained = ddpm.TrainedDDPM.from_checkpoint(args.checkpoint, args.device)
    else:
        config = ddpm.DDPMConfig(base_channels=16, device=args.device)
        net, diffusion = ddpm_build(config, 1, 10)
        device = torch.device(args.device)
        trained = ddpm.TrainedDDPM(net.to(device), diffusion, config, Path("."), tuple("0123456789"), device)
    num_steps = trained.config.num_steps
    settings = {f"DDIM-{args.ddim_steps}": dict(sampler="ddim", steps=args.ddim_steps),
                f"DDPM-{num_steps}": dict(sampler="ddpm")}
    guidance = args.guidance if trained.num_classes else None
    seconds: dict[str, list[float]] = {k: [] for k in settings}
    for _ in range(args.rounds):
        for name, options in settings.items():
            extra = {"guidance": guidance} if guidance is not None else {}
            s = seconds_per_100(lambda n: trained.sample(n, **options, **extra), args.n, trained.device)
            seconds[name].append(s)
    print(f"device {trained.device}, U-Net {count_parameters(trained.net):,} params, {args.n} images per call, "
          f"guidance {guidance}, threads {torch.get_num_threads()}, {args.rounds} rounds")
    med = {k: statistics.median(v) for k, v in seconds.items()}
    for name, s in med.items():
        print(f"  {name:>10}: {s:8.2f} s / 100 images")
    ddim, ddpm_ = med[f"DDIM-{args.ddim_steps}"], med[f"DDPM-{num_steps}"]
    print(f"ratio DDPM-{num_steps} / DDIM-{args.ddim_steps}: {ddpm_ / ddim:.1f}x (target >= 20x)")


if __name__ == "__main__":
    main()
