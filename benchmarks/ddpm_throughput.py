"""Training throughput: genlab U-Net + diffusion loss step vs diffusers UNet2DModel + DDPMScheduler.

Both sides get the same resolution, batch size, class conditioning, optimizer (AdamW), gradient
clipping and autocast setting, with the diffusers width chosen so the parameter counts match as
closely as possible. Timings alternate between the two (A B A B ...) so machine load hits both
alike; the script prints images/s of each and the ratio (median over rounds).

    PYTHONPATH=lib python benchmarks/ddpm_throughput.py [--base-channels 32] [--batch-size 64] [--amp off]

Needs the benchmark extra: ``pip install 'genlab[bench]'`` (diffusers).
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
import torch.nn.functional as F

from genlab.models.ddpm.trained import use_bf16
from genlab.sampling.diffusion import GaussianDiffusion
from genlab.train.devices import count_parameters
from genlab.models.ddpm.unet import UNet


def diffusers_unet(width: int, image_size: int, channels: int, num_classes: int, layers: int, groups: int):
    from diffusers import UNet2DModel
    return UNet2DModel(sample_size=image_size, in_channels=channels, out_channels=channels,
                       block_out_channels=(width, 2 * width, 2 * width), layers_per_block=layers,
                       down_block_types=("DownBlock2D", "DownBlock2D", "AttnDownBlock2D"),
                       up_block_types=("AttnUpBlock2D", "UpBlock2D", "UpBlock2D"),
                       norm_num_groups=groups, num_class_embeds=num_classes + 1, attention_head_dim=width // 2)


def matched_diffusers(target: int, args) -> torch.nn.Module:
    """The diffusers U-Net (width a multiple of 8) whose parameter count is closest to ``target``."""
    best = None
    for width in range(8, 8 * 64, 8):
        net = diffusers_unet(width, args.image_size, args.channels, 10, args.res_blocks, min(8, width // 4) or 1)
        n = count_parameters(net)
        if best is None or abs(n - target) < abs(best[0] - target):
            best = (n, net)
        if n > target:
            break
    return best[1]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--image-size", type=int, default=28)
    p.add_argument("--channels", type=int, default=1)
    p.add_argument("--base-channels", type=int, default=32)
    p.add_argument("--res-blocks", type=int, default=1)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--steps", type=int, default=5, help="timed steps per round")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--amp", choices=("off", "bf16"), default="bf16", help="bf16: also time both sides under bf16 autocast")
    p.add_argument("--device", default="cpu")
    p.add_argument("--threads", type=int, default=0, help="torch CPU threads (0 = default)")
    args = p.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    from diffusers import DDPMScheduler

    torch.manual_seed(0)
    attn = (args.image_size // 4,)
    ours = UNet(args.channels, args.image_size, args.base_channels, (1, 2, 2), args.res_blocks, attn,
                attn_heads=4, dropout=0.1, num_classes=10, groups=8).to(device)
    theirs = matched_diffusers(count_parameters(ours), args).to(device)
    diffusion = GaussianDiffusion(1000, "linear").to(device)
    scheduler = DDPMScheduler(num_train_timesteps=1000, beta_schedule="linear")
    scheduler.alphas_cumprod = scheduler.alphas_cumprod.to(device)
    x0 = torch.rand(args.batch_size, args.channels, args.image_size, args.image_size, device=device) * 2 - 1
    y = torch.randint(0, 10, (args.batch_size,), device=device)

    def make_step(net, loss_fn, bf16: bool):
        opt = torch.optim.AdamW(net.parameters(), lr=1e-4)
        net.train()

        def step() -> None:
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
                loss = loss_fn()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
            opt.step()
        return step

    def diffusers_loss() -> torch.Tensor:
        noise = torch.randn_like(x0)
        t = torch.randint(0, 1000, (x0.shape[0],), device=device)
        xt = scheduler.add_noise(x0, noise, t)
        return F.mse_loss(theirs(xt, t, class_labels=y).sample.float(), noise)

    ours_loss = lambda: diffusion.loss(ours, x0, y, 0.1, ours.null_class)  # noqa: E731
    sides = {"genlab fp32": make_step(ours, ours_loss, False), "diffusers fp32": make_step(theirs, diffusers_loss, False)}
    if args.amp == "bf16":
        sides.update({"genlab bf16": make_step(ours, ours_loss, True),
                      "diffusers bf16": make_step(theirs, diffusers_loss, True)})
    sync = (lambda: torch.cuda.synchronize(device)) if device.type == "cuda" else (lambda: None)
    for step in sides.values():  # warm-up
        step()
    rates: dict[str, list[float]] = {k: [] for k in sides}
    for _ in range(args.rounds):
        for name, step in sides.items():
            sync()
            t0 = time.perf_counter()
            for _ in range(args.steps):
                step()
            sync()
            rates[name].append(args.steps * args.batch_size / (time.perf_counter() - t0))
    med = {k: statistics.median(v) for k, v in rates.items()}
    print(f"device {device}, {args.image_size}px x {args.channels}ch, batch {args.batch_size}, "
          f"threads {torch.get_num_threads()}, {args.rounds} rounds x {args.steps} steps (median images/s)")
    print(f"  parameters: genlab UNet {count_parameters(ours):,}, diffusers UNet2DModel {count_parameters(theirs):,}")
    for name, rate in med.items():
        print(f"  {name:>15}: {rate:8.1f} images/s")
    for prec in ("fp32", "bf16"):
        if f"genlab {prec}" in med:
            print(f"ratio genlab / diffusers, both {prec}: {med[f'genlab {prec}'] / med[f'diffusers {prec}']:.2f}x")
    trains_bf16 = use_bf16(device, "auto")
    if trains_bf16 and "genlab bf16" in med:
        print(f"ratio genlab as trained (amp auto = bf16 here) / diffusers default fp32: "
              f"{med['genlab bf16'] / med['diffusers fp32']:.2f}x (target >= 1.5x)")


if __name__ == "__main__":
    main()
