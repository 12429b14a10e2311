"""Training images/s: genlab's DCGAN step fed from device-resident uint8 tensors vs the same
networks fed the usual way (torchvision-style Dataset + DataLoader + per-sample transforms).

Both sides run the identical generator/discriminator update at the same batch size, one after the
other in this process, and the script prints the ratio.

    python benchmarks/dcgan_throughput.py [--steps 60] [--batch-size 64] [--workers 0] [--device auto]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
from PIL import Image
from torch.utils.data import DataLoader, Dataset
from torchvision import transforms

from genlab.models import dcgan
from genlab.data import DeviceBatches, load_dataset
from genlab.train.devices import select_device


class PILDigits(Dataset):
    """What a torchvision dataset does per item: uint8 array -> PIL image -> transform."""

    def __init__(self, images: torch.Tensor, labels: torch.Tensor):
        self.images, self.labels = images[:, 0].numpy(), labels.numpy()
        self.transform = transforms.Compose([transforms.ToTensor(), transforms.Normalize((0.5,), (0.5,))])

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i):
        return self.transform(Image.fromarray(self.images[i], mode="L")), int(self.labels[i])


def make_step(device, base_channels, latent_dim):
    torch.manual_seed(0)
    gen, disc = dcgan.Generator(latent_dim, 1, 28, base_channels, 10).to(device), \
        dcgan.Discriminator(1, 28, base_channels, 10).to(device)
    opt_g = torch.optim.Adam(gen.parameters(), 2e-4, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(disc.parameters(), 2e-4, betas=(0.5, 0.999))

    def step(x0, y):
        dcgan.gan_step(gen, disc, opt_g, opt_d, x0, y)
    return step


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


def run_genlab(data, args, device):
    batches = DeviceBatches(data, args.batch_size, device, seed=0)
    step = make_step(device, args.base_channels, args.latent_dim)
    for i in range(args.warmup):
        step(*batches.batch(i))
    sync(device)
    t0 = time.perf_counter()
    for i in range(args.steps):
        step(*batches.batch(args.warmup + i))
    sync(device)
    return args.steps * args.batch_size / (time.perf_counter() - t0)


def loader_batches(data, batch_size: int, device: torch.device, workers: int = 0):
    """Endless (x, y) batches on ``device`` the usual way: shuffled PILDigits behind a DataLoader, epoch after epoch."""
    loader = DataLoader(PILDigits(data.images, data.labels), batch_size=batch_size, shuffle=True,
                        drop_last=True, num_workers=workers, pin_memory=device.type == "cuda",
                        persistent_workers=workers > 0)
    while True:
        for x, y in loader:
            yield x.to(device, non_blocking=True), y.to(device, non_blocking=True)


def run_dataloader(data, args, device):
    step = make_step(device, args.base_channels, args.latent_dim)
    it = loader_batches(data, args.batch_size, device, args.workers)
    for _ in range(args.warmup):
        step(*next(it))
    sync(device)
    t0 = time.perf_counter()
    for _ in range(args.steps):
        step(*next(it))
    sync(device)
    return args.steps * args.batch_size / (time.perf_counter() - t0)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--steps", type=int, default=60)
    p.add_argument("--warmup", type=int, default=5)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--base-channels", type=int, default=32)
    p.add_argument("--latent-dim", type=int, default=64)
    p.add_argument("--workers", type=int, default=0, help="DataLoader worker processes for the usual pipeline")
    p.add_argument("--device", default="auto")
    p.add_argument("--repeats", type=int, default=3, help="alternate the two sides this many times; best of each")
    args = p.parse_args()
    device = select_device(args.device)
    data = load_dataset("mnist5k", "train")
    ours, usual = [], []
    for _ in range(args.repeats):
        ours.append(run_genlab(data, args, device))
        usual.append(run_dataloader(data, args, device))
    print(f"device {device}, batch {args.batch_size}, {args.steps} timed steps, best of {args.repeats}, "
          f"DataLoader workers {args.workers}, torch threads {torch.get_num_threads()}")
    print(f"genlab (device-resident uint8 batches): {max(ours):9.1f} images/s   runs {np.round(ours, 1).tolist()}")
    print(f"DataLoader + per-sample transforms:     {max(usual):9.1f} images/s   runs {np.round(usual, 1).tolist()}")
    print(f"ratio genlab / DataLoader: {max(ours) / max(usual):.2f}x")


if __name__ == "__main__":
    main()
