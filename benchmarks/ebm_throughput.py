"""EBM throughput: Langevin steps per second and training images per second.

Measures, in one run on one device:
- Langevin steps/s for a batch (a step = one forward and one input-gradient backward),
  with and without spectral norm (ratio printed);
- training steps/s and images/s of the real training step (``langevin_steps`` Langevin steps,
  one forward/backward over positives and negatives, clipping, Adam), and how many Langevin
  steps one training step costs (ideally about ``langevin_steps + 1.5``).

    PYTHONPATH=lib python benchmarks/ebm_throughput.py [--device cpu|cuda] [--batch-size 64]
        [--langevin-steps 20] [--base-channels 16] [--threads N] [--repeats 3]
"""

from __future__ import annotations

import argparse
import time

import torch

from genlab.models import ebm
from genlab.models.ebm.nets import build as ebm_build
from genlab.sampling.langevin import ReplayBuffer, langevin
from genlab.train.devices import select_device


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def timed(fn, device: torch.device, repeats: int) -> float:
    """Best-of-``repeats`` wall seconds of ``fn()`` after one warm-up call."""
    fn()
    best = float("inf")
    for _ in range(repeats):
        sync(device)
        t0 = time.perf_counter()
        fn()
        sync(device)
        best = min(best, time.perf_counter() - t0)
    return best


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--device", default="auto")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--langevin-steps", type=int, default=20)
    p.add_argument("--base-channels", type=int, default=16)
    p.add_argument("--image-size", type=int, default=28)
    p.add_argument("--channels", type=int, default=1)
    p.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: leave the default)")
    p.add_argument("--repeats", type=int, default=5)
    args = p.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = select_device(args.device)
    torch.manual_seed(0)
    b, k, s = args.batch_size, args.langevin_steps, args.image_size
    shape = (args.channels, s, s)
    print(f"device {device} | torch threads {torch.get_num_threads()} | batch {b} | {s} px x {args.channels} ch | "
          f"base_channels {args.base_channels}")

    nets = {sn: ebm.EnergyNet(args.channels, s, args.base_channels, spectral_norm=sn).to(device) for sn in (False, True)}
    x = torch.rand(b, *shape, device=device) * 2 - 1
    cfg = ebm.EBMConfig(base_channels=args.base_channels, batch_size=b, langevin_steps=k, image_size=s)
    net = ebm_build(cfg, args.channels, 10).to(device).train()
    opt = torch.optim.Adam(net.parameters(), lr=cfg.lr, betas=(cfg.beta1, cfg.beta2))
    buffer = ReplayBuffer(1024, shape, cfg.reinit, device)
    x_pos = torch.rand(b, *shape, device=device) * 2 - 1

    def train_step() -> None:
        start, idx, _ = buffer.sample(b)
        x_neg = langevin(net, start, k, cfg.step_size, cfg.noise, cfg.grad_clamp)
        buffer.push(idx, x_neg)
        e = net(torch.cat([x_pos, x_neg]))
        loss, _, _ = ebm.cd_loss(e[:b], e[b:], cfg.alpha)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(net.parameters(), cfg.clip_grad)
        opt.step()

    # Interleaved rounds, best of each: on a shared machine both sides see the same load.
    best = {"plain": float("inf"), "spectral": float("inf"), "train": float("inf")}
    for _ in range(args.repeats):
        best["plain"] = min(best["plain"], timed(lambda: langevin(nets[False], x, k, 20.0, 0.005, 0.03), device, 1))
        best["spectral"] = min(best["spectral"], timed(lambda: langevin(nets[True], x, k, 20.0, 0.005, 0.03), device, 1))
        best["train"] = min(best["train"], timed(train_step, device, 1))
    for name in ("plain", "spectral"):
        rate = k / best[name]
        print(f"Langevin ({name:8s}): {rate:8.1f} steps/s = {rate * b:9.0f} image-steps/s")
    print(f"ratio spectral-norm / plain Langevin speed: {best['plain'] / best['spectral']:.2f}")
    secs = best["train"]
    print(f"training ({k} Langevin steps per batch): {1 / secs:6.2f} steps/s = {b / secs:8.1f} images/s")
    print(f"ratio training step / Langevin step time: {secs / best['plain'] * k:.1f} "
          f"(Langevin alone: {k}; plus one forward/backward over 2B images)")


if __name__ == "__main__":
    main()
