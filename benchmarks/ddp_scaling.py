"""Data-parallel scaling: training images/s of the DCGAN update with 1 process and with N processes.

The same global batch, the library's own step (``dcgan.gan_step`` with the gradient all-reduce of
``genlab.train.distributed``) and the same sharded ``DeviceBatches``; each world size runs in fresh
processes (gloo on the CPU, NCCL on GPUs, one GPU per process), one after the other, and the script
prints images/s per world size and the ratio to 1 process. On the CPU the cores are split between
the processes (``--threads`` each, default cores / processes), so the 1-process run may use all
cores: the ratio is what data parallelism adds on this machine, not an ideal N.

    python benchmarks/ddp_scaling.py [--procs 1 2] [--steps 40] [--batch-size 64] [--device cpu|cuda]
"""

from __future__ import annotations

import argparse
import os
import time

import torch
import torch.multiprocessing as mp

from genlab.base.ports import free_port
from genlab.data import DeviceBatches, load_dataset
from genlab.models import dcgan
from genlab.train import distributed


def worker(rank: int, world: int, port: int, args: argparse.Namespace, out: "mp.Queue") -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank), WORLD_SIZE=str(world),
                      LOCAL_RANK=str(rank))
    torch.set_num_threads(args.threads or max(1, (os.cpu_count() or 1) // world))
    device = distributed.setup(args.device)
    data = load_dataset("mnist5k", "train")
    torch.manual_seed(0)
    gen = dcgan.Generator(args.latent_dim, 1, 28, args.base_channels, 10).to(device)
    disc = dcgan.Discriminator(1, 28, args.base_channels, 10).to(device)
    opt_g = torch.optim.Adam(gen.parameters(), 2e-4, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(disc.parameters(), 2e-4, betas=(0.5, 0.999))
    batches = DeviceBatches(data, args.batch_size, device, seed=0, rows=distributed.rows(args.batch_size))

    def run(first: int, n: int) -> None:
        for i in range(first, first + n):
            dcgan.gan_step(gen, disc, opt_g, opt_d, *batches.batch(i), batch_size=args.batch_size)
        if device.type == "cuda":
            torch.cuda.synchronize()

    run(0, args.warmup)
    rates = []
    for r in range(args.repeats):
        distributed.barrier()
        t0 = time.perf_counter()
        run(args.warmup + r * args.steps, args.steps)
        distributed.barrier()
        rates.append(args.steps * args.batch_size / (time.perf_counter() - t0))
    if rank == 0:
        out.put((rates, torch.get_num_threads(), str(device)))
    distributed.teardown()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--procs", type=int, nargs="+", default=[1, 2], help="world sizes to measure")
    p.add_argument("--steps", type=int, default=40)
    p.add_argument("--warmup", type=int, default=5)
    p.add_argument("--repeats", type=int, default=3, help="timed rounds per world size; best is reported")
    p.add_argument("--batch-size", type=int, default=64, help="global batch (split over the processes)")
    p.add_argument("--base-channels", type=int, default=32)
    p.add_argument("--latent-dim", type=int, default=64)
    p.add_argument("--threads", type=int, default=0, help="torch threads per process (0 = cores / processes)")
    p.add_argument("--device", default="cpu", help="cpu (gloo) or cuda (NCCL, one GPU per process)")
    args = p.parse_args()
    ctx = mp.get_context("spawn")
    results = {}
    for world in args.procs:
        out = ctx.SimpleQueue()
        mp.start_processes(worker, args=(world, free_port(), args, out), nprocs=world, join=True,
                           start_method="spawn")
        results[world] = out.get()
    base = max(results[args.procs[0]][0])
    print(f"DCGAN update (base_channels {args.base_channels}), global batch {args.batch_size}, "
          f"{args.steps} timed steps x {args.repeats} rounds (best), {os.cpu_count()} CPU cores, "
          f"load average {os.getloadavg()[0]:.1f} (other work on the machine slows the multi-process runs most)")
    for world, (rates, threads, device) in results.items():
        print(f"{world} process(es) on {device}, {threads} thread(s) each: {max(rates):9.1f} images/s   "
              f"ratio to {args.procs[0]}: {max(rates) / base:.2f}   rounds {[round(r, 1) for r in rates]}")


if __name__ == "__main__":
    main()
