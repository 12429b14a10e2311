"""Training throughput: genlab's DDPM training step vs diffusers UNet2DModel + DDPMScheduler.

genlab's side is the DDPM chapter's quick profile (its parameters cell: U-Net width, schedule,
prediction, dropout, batch size; ``-p NAME=VALUE`` overrides), built and stepped as ``ddpm.train``
does: channels-last U-Net, bf16 autocast where ``amp = auto`` turns it on, its fused AdamW, and on the
CPU the allocator setting of its training loop (``genlab.train.allocator``). diffusers' side is a
``UNet2DModel`` of the same layout (levels, blocks, attention levels and heads, norm groups) whose width
is chosen so the parameter counts match as closely as possible, in diffusers' default float32 (and, for
the equal-precision ratio, under the same bf16 autocast), with torch's default AdamW. Both get the same
batch, class conditioning and gradient clipping.

Each library runs in its own worker process, so each has its own default process state (the
allocator setting is process-wide); the timings alternate between the sides (A B A B ...), one side
running at a time, so machine load hits both alike. On the CPU two more workers show how much of
the ratio the allocator setting is: genlab without it, and diffusers with it. The script prints
images/s of each and the ratios (median over rounds).

    PYTHONPATH=lib python benchmarks/ddpm_throughput.py [--rounds 5] [-p base_channels=32] [--device cuda]

Needs the benchmark extra: ``pip install 'genlab[bench]'`` (diffusers).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time

import torch
import torch.nn.functional as F

from genlab.base.config import parse_assignments
from genlab.base.paths import project_root
from genlab.book.slurm import notebook_defaults
from genlab.models.ddpm import DDPMConfig
from genlab.models.ddpm.trained import autocast, build, use_bf16
from genlab.models.ddpm.training import optimizer
from genlab.train.allocator import keep_freed_memory
from genlab.train.devices import count_parameters


def diffusers_unet(width: int, config: DDPMConfig, channels: int, num_classes: int, groups: int):
    """diffusers' U-Net in genlab's layout: widths, blocks per level, attention levels and heads."""
    from diffusers import UNet2DModel
    widths = tuple(width * m for m in config.channel_mults)
    attn = [config.image_size // 2 ** i in config.attn_resolutions for i in range(len(widths))]
    head_dim = widths[-1] // config.attn_heads  # the middle block's attention, as genlab's
    return UNet2DModel(sample_size=config.image_size, in_channels=channels, out_channels=channels,
                       block_out_channels=widths, layers_per_block=config.num_res_blocks,
                       down_block_types=tuple("AttnDownBlock2D" if a else "DownBlock2D" for a in attn),
                       up_block_types=tuple("AttnUpBlock2D" if a else "UpBlock2D" for a in reversed(attn)),
                       norm_num_groups=groups, num_class_embeds=num_classes + 1, attention_head_dim=head_dim)


def matched_diffusers(target: int, config: DDPMConfig, channels: int) -> torch.nn.Module:
    """The diffusers U-Net (width a multiple of 8) whose parameter count is closest to ``target``."""
    best = None
    for width in range(8, 8 * 64, 8):
        groups = max(1, min(config.norm_groups, width // 4))  # genlab's rule (groups of >= 4 channels), 8 at most
        net = diffusers_unet(width, config, channels, 10, min(8, groups))
        n = count_parameters(net)
        if best is None or abs(n - target) < abs(best[0] - target):
            best = (n, net)
        if n > target:
            break
    return best[1]


# worker -> (library, genlab's allocator setting on the CPU?, the sides it times)
WORKERS = {"genlab": ("genlab", True, ("genlab fp32", "genlab bf16")),
           "diffusers": ("diffusers", False, ("diffusers fp32", "diffusers bf16")),
           # the allocator setting's share of the ratio: each library with the other's process default
           "genlab-default-allocator": ("genlab", False, ("genlab bf16, glibc's default allocator",)),
           "diffusers-genlab-allocator": ("diffusers", True, ("diffusers fp32, genlab's allocator setting",))}


def sides(args: argparse.Namespace, worker: str) -> tuple[dict, dict]:
    """This worker's timed steps by name, and facts for the report."""
    library, keep, names = WORKERS[worker]
    device = torch.device(args.device)
    if device.type == "cpu" and keep:
        keep_freed_memory()  # as genlab's training loop does on the CPU
    quick = notebook_defaults(project_root() / "notebooks" / "03_ddpm.ipynb")
    config = DDPMConfig.from_dict({**quick, **parse_assignments(args.params), "device": args.device})
    torch.manual_seed(0)
    ours, diffusion = build(config, args.channels, 10)
    size, b = config.image_size, config.batch_size
    x0 = torch.rand(b, args.channels, size, size, device=device) * 2 - 1
    y = torch.randint(0, 10, (b,), device=device)
    facts = {"batch": b, "size": size, "dropout": config.dropout, "threads": torch.get_num_threads(),
             "genlab parameters": count_parameters(ours), "bf16": use_bf16(device, config.amp)}

    def make_step(net, loss_fn, amp: str):
        # each side with its own default optimizer: genlab's (fused) AdamW, torch's AdamW for diffusers
        opt = (optimizer(net, config, device) if library == "genlab"
               else torch.optim.AdamW(net.parameters(), lr=config.lr))
        net.train()

        def step() -> None:
            with autocast(device, amp):
                loss = loss_fn()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
            opt.step()
        return step

    if library == "genlab":
        ours, diffusion = ours.to(device), diffusion.to(device)
        loss = lambda: diffusion.loss(ours, x0, y, config.p_uncond, ours.null_class)  # noqa: E731
    else:
        from diffusers import DDPMScheduler
        theirs = matched_diffusers(count_parameters(ours), config, args.channels).to(device)
        facts["diffusers parameters"] = count_parameters(theirs)
        scheduler = DDPMScheduler(num_train_timesteps=config.num_steps, beta_schedule="linear")
        scheduler.alphas_cumprod = scheduler.alphas_cumprod.to(device)

        def loss() -> torch.Tensor:
            noise = torch.randn_like(x0)
            t = torch.randint(0, 1000, (x0.shape[0],), device=device)
            return F.mse_loss(theirs(scheduler.add_noise(x0, noise, t), t, class_labels=y).sample.float(), noise)
    net = ours if library == "genlab" else theirs
    steps = {name: make_step(net, loss, "bf16" if "bf16" in name else "off") for name in names
             if facts["bf16"] or "bf16" not in name}
    return steps, facts


def serve(args: argparse.Namespace) -> None:
    """Worker: build, warm up, report; then time ``args.steps`` steps of each side named on stdin."""
    steps, facts = sides(args, args.worker)
    device = torch.device(args.device)
    sync = (lambda: torch.cuda.synchronize(device)) if device.type == "cuda" else (lambda: None)
    for step in steps.values():
        step()
    print(json.dumps({"sides": list(steps), **facts}), flush=True)
    for line in sys.stdin:
        step = steps[line.strip()]
        sync()
        t0 = time.perf_counter()
        for _ in range(args.steps):
            step()
        sync()
        print(time.perf_counter() - t0, flush=True)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("-p", dest="params", action="append", default=[], metavar="NAME=VALUE",
                   help="override a parameter of the DDPM chapter's quick profile (repeatable)")
    p.add_argument("--channels", type=int, default=1, help="image channels (1 for MNIST, 3 for colour)")
    p.add_argument("--steps", type=int, default=5, help="timed steps per round")
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--device", default="cpu")
    p.add_argument("--threads", type=int, default=0, help="torch CPU threads (0 = default)")
    p.add_argument("--worker", choices=list(WORKERS), help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.worker:
        return serve(args)
    workers, facts = {}, {}
    for name in WORKERS if args.device == "cpu" else ("genlab", "diffusers"):  # the allocator setting is CPU-only
        proc = subprocess.Popen([sys.executable, __file__, *sys.argv[1:], "--worker", name],
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        workers[name] = proc
    side_of = {}
    for name, proc in workers.items():
        line = proc.stdout.readline()
        if not line:
            raise SystemExit(f"the {name} worker failed to start (its error is above)")
        ready = json.loads(line)
        facts.update(ready)
        side_of.update({side: proc for side in ready["sides"]})
    rates: dict[str, list[float]] = {k: [] for k in side_of}
    b = facts["batch"]
    for _ in range(args.rounds):
        for side, proc in side_of.items():
            proc.stdin.write(side + "\n")
            proc.stdin.flush()
            rates[side].append(args.steps * b / float(proc.stdout.readline()))
    for proc in workers.values():
        proc.stdin.close()
        proc.wait()
    med = {k: statistics.median(v) for k, v in rates.items()}
    print(f"device {args.device}, {facts['size']}px x {args.channels}ch, batch {b}, dropout {facts['dropout']} "
          f"(diffusers: none), threads {facts['threads']}, {args.rounds} rounds x {args.steps} steps "
          f"(median images/s), one process per library")
    print(f"  parameters: genlab UNet {facts['genlab parameters']:,}, diffusers UNet2DModel "
          f"{facts['diffusers parameters']:,}")
    for name, rate in med.items():
        print(f"  {name:>42}: {rate:8.1f} images/s")
    for prec in ("fp32", "bf16"):
        if f"genlab {prec}" in med:
            print(f"ratio genlab / diffusers, both {prec}: {med[f'genlab {prec}'] / med[f'diffusers {prec}']:.2f}x")
    trained_as = "genlab bf16" if facts["bf16"] else "genlab fp32"
    print(f"ratio genlab as trained ({trained_as.split()[1]} here) / diffusers default fp32: "
          f"{med[trained_as] / med['diffusers fp32']:.2f}x (target >= 2x)")
    if args.device == "cpu":
        print("the allocator setting's share (each library with the other's process default):")
        default = med.get(WORKERS["genlab-default-allocator"][2][0])
        if default and facts["bf16"]:
            print(f"  genlab bf16 with glibc's default allocator / diffusers default fp32: "
                  f"{default / med['diffusers fp32']:.2f}x")
        given = med[WORKERS["diffusers-genlab-allocator"][2][0]]
        print(f"  genlab as trained / diffusers fp32 given genlab's allocator setting: {med[trained_as] / given:.2f}x")


if __name__ == "__main__":
    main()
