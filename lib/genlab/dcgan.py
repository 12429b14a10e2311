"""DCGAN (Radford et al., 2016), optionally class-conditional.

- :class:`Generator`: ``z`` (B x latent_dim) [+ label embedding] -> B x C x H x W in [-1, 1].
- :class:`Discriminator`: B x C x H x W [+ label map] -> B logits.
- :func:`train`: non-saturating GAN loss, Adam(lr=2e-4, beta1=0.5), Radford init
  (conv weights ~ N(0, 0.02), BatchNorm weights ~ N(1, 0.02)), fixed noise for
  comparable grids, train-or-resume via :func:`genlab.training.fit`.
- :func:`load`: rebuild a trained model from its checkpoint (config inside).

Sizes: 28 px (7 -> 14 -> 28), 32 px (4 -> 8 -> 16 -> 32), 64 px (4 -> ... -> 64); 1 or 3 channels.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from .config import Config, param
from .plots import class_grid, show_grid
from .runlog import RunFiles
from .data import DeviceBatches, balanced_labels, check_dataset, load_dataset, to_uint8
from .training import (EMA, TrainState, check_device, count_parameters, fit, load_checkpoint,
                       resolve_path, seconds_per_100, seed_everything, select_device, update_metrics)

IMAGE_SIZES = (28, 32, 64)


def _stages(image_size: int) -> tuple[int, int]:
    """(base spatial size, number of x2 upsampling stages) for a supported image size."""
    if image_size not in IMAGE_SIZES:
        raise ValueError(f"parameter 'image_size' = {image_size} unsupported; choose one of {IMAGE_SIZES}")
    return (7, 2) if image_size == 28 else (4, {32: 3, 64: 4}[image_size])


class Generator(nn.Module):
    """z: B x latent_dim (+ labels y: B) -> images B x channels x image_size x image_size in [-1, 1]."""

    def __init__(self, latent_dim: int = 100, channels: int = 1, image_size: int = 28, base_channels: int = 64,
                 num_classes: int = 0, embed_dim: int = 10):
        super().__init__()
        base, n_up = _stages(image_size)
        self.latent_dim, self.num_classes = latent_dim, num_classes
        self.embed = nn.Embedding(num_classes, embed_dim) if num_classes else None
        in_dim = latent_dim + (embed_dim if num_classes else 0)
        ch = base_channels * 2 ** (n_up - 1)
        layers: list[nn.Module] = [nn.ConvTranspose2d(in_dim, ch, base, 1, 0, bias=False), nn.BatchNorm2d(ch),
                                   nn.ReLU(True)]
        for _ in range(n_up - 1):
            layers += [nn.ConvTranspose2d(ch, ch // 2, 4, 2, 1, bias=False), nn.BatchNorm2d(ch // 2), nn.ReLU(True)]
            ch //= 2
        layers += [nn.ConvTranspose2d(ch, channels, 4, 2, 1, bias=False), nn.Tanh()]
        self.net = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        if self.embed is not None:
            if y is None:
                raise ValueError("this generator is class-conditional: pass labels y (B int64)")
            z = torch.cat([z, self.embed(y)], dim=1)
        return self.net(z[:, :, None, None])


class Discriminator(nn.Module):
    """images B x C x H x W (+ labels y: B) -> B logits (real > 0). Labels enter as one-hot input planes."""

    def __init__(self, channels: int = 1, image_size: int = 28, base_channels: int = 64, num_classes: int = 0):
        super().__init__()
        base, n_down = _stages(image_size)
        self.image_size, self.num_classes = image_size, num_classes
        ch_in = channels + num_classes
        ch = base_channels
        layers: list[nn.Module] = [nn.Conv2d(ch_in, ch, 4, 2, 1, bias=False), nn.LeakyReLU(0.2, True)]
        for _ in range(n_down - 1):
            layers += [nn.Conv2d(ch, ch * 2, 4, 2, 1, bias=False), nn.BatchNorm2d(ch * 2), nn.LeakyReLU(0.2, True)]
            ch *= 2
        layers += [nn.Conv2d(ch, 1, base, 1, 0, bias=False)]
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        if self.num_classes:
            if y is None:
                raise ValueError("this discriminator is class-conditional: pass labels y (B int64)")
            planes = F.one_hot(y, self.num_classes).to(x.dtype)[:, :, None, None]
            x = torch.cat([x, planes.expand(-1, -1, *x.shape[2:])], dim=1)
        return self.net(x).flatten()


def radford_init(module: nn.Module) -> None:
    """Conv weights ~ N(0, 0.02); BatchNorm weight ~ N(1, 0.02), bias 0 (DCGAN paper, sec. 4)."""
    if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d)):
        nn.init.normal_(module.weight, 0.0, 0.02)
    elif isinstance(module, nn.BatchNorm2d):
        nn.init.normal_(module.weight, 1.0, 0.02)
        nn.init.zeros_(module.bias)


@dataclass(frozen=True)
class DCGANConfig(Config):
    run: str = param("quick", help="run name: results go to <output_dir>/<run>/dcgan")
    dataset: str = param("mnist5k", check=check_dataset, help="mnist5k, mnist, fashion_mnist, cifar10, folder:<path>")
    image_size: int = param(28, choices=IMAGE_SIZES, help="training resolution in pixels")
    conditional: bool = param(True, help="class-conditional generator and discriminator")
    latent_dim: int = param(64, low=2, high=1024, help="size of the noise vector z")
    base_channels: int = param(32, low=8, high=512, help="width of the first conv layer (doubles per stage)")
    epochs: int = param(10, low=1, high=100_000, help="passes over the training split")
    batch_size: int = param(64, low=2, high=8192, help="images per step")
    lr: float = param(2e-4, low=0, low_open=True, high=1, help="Adam learning rate (both networks)")
    beta1: float = param(0.5, low=0, high=0.999, help="Adam beta1 (0.5 as in the DCGAN paper)")
    ema_decay: float = param(0.0, low=0, high=0.9999, help="EMA of generator weights for sampling (0 = off)")
    seed: int = param(0, low=0, help="seed for initialisation, batches and fixed noise")
    sample_every: int = param(2, low=0, help="save a grid from the fixed noise every N epochs (0 = only at the end)")
    checkpoint_every: int = param(5, low=0, help="checkpoint every N epochs (always at the end)")
    max_steps: int = param(0, low=0, help="stop after this many steps in total (0 = epochs decide; for smoke runs)")
    time_budget_s: float = param(0.0, low=0, help="checkpoint and stop after this many seconds (0 = no limit)")
    eval_samples: int = param(500, low=4, help="samples scored by genlab.metrics.evaluate at the end")
    device: str = param("auto", check=check_device, help="auto (CUDA, then MPS, then CPU), cpu, cuda, mps")
    tensorboard: bool = param(False, help="also log scalars and grids to <run dir>/tensorboard")
    data_dir: str = param("data", help="where downloaded datasets live")
    output_dir: str = param("outputs", help="root of all runs (relative paths: from the project root)")

    @property
    def run_dir(self) -> Path:
        return resolve_path(self.output_dir) / self.run / "dcgan"


CONFIG = DCGANConfig


class TrainedDCGAN(RunFiles):
    """A generator ready to sample, with the config and run directory it came from."""

    def __init__(self, generator: Generator, config: DCGANConfig, run_dir: Path, class_names: tuple[str, ...],
                 device: torch.device, step: int = 0):
        self.generator, self.config, self.run_dir = generator.eval(), config, run_dir
        self.class_names, self.device, self.step = class_names, device, step

    @property
    def num_classes(self) -> int:
        return self.generator.num_classes

    def latents(self, n: int, seed: int = 0) -> torch.Tensor:
        g = torch.Generator().manual_seed(seed)
        return torch.randn(n, self.generator.latent_dim, generator=g).to(self.device)

    @torch.no_grad()
    def generate(self, n: int, labels: torch.Tensor | None = None, seed: int = 0,
                 z: torch.Tensor | None = None) -> torch.Tensor:
        """n uint8 images (n x C x H x W); ``labels`` (n int64) default to balanced classes."""
        if not self.num_classes:
            labels = None
        elif labels is None:
            labels = balanced_labels(n, self.num_classes)
        z = self.latents(n, seed) if z is None else z.to(self.device)
        y = labels.to(self.device) if labels is not None else None
        return to_uint8(self.generator(z, y)).cpu()

    def interpolate(self, steps: int = 10, label: int = 0, seed: int = 0) -> torch.Tensor:
        """uint8 images along a straight line between two latent vectors (fixed class)."""
        za, zb = self.latents(2, seed)
        w = torch.linspace(0, 1, steps, device=self.device)[:, None]
        labels = torch.full((steps,), label, dtype=torch.int64)
        return self.generate(steps, labels=labels if self.num_classes else None, z=(1 - w) * za + w * zb)

    def show_class_grid(self, per_class: int = 8, seed: int = 0):
        """Samples with one column per class (a plain grid for an unconditional model)."""
        if not self.num_classes:
            return show_grid(self.generate(per_class * 8, seed=seed), title="samples (unconditional)")
        labels = balanced_labels(per_class * self.num_classes, self.num_classes)
        return class_grid(self.generate(len(labels), labels=labels, seed=seed), labels, self.class_names, per_class,
                          title="one class per column")



def gan_step(gen: Generator, disc: Discriminator, opt_g: torch.optim.Optimizer, opt_d: torch.optim.Optimizer,
             x0: torch.Tensor, y: torch.Tensor | None) -> dict[str, torch.Tensor]:
    """One DCGAN update on a real batch x0 (B x C x H x W in [-1, 1], labels y or None): D, then G.

    D minimises BCE(real -> 1, fake -> 0); G uses the non-saturating loss -log D(G(z)).
    Returns detached scalars: loss_d, loss_g, d_real, d_fake (mean D outputs).
    """
    z = torch.randn(x0.shape[0], gen.latent_dim, device=x0.device)
    fake = gen(z, y)
    logits_real, logits_fake = disc(x0, y), disc(fake.detach(), y)
    loss_d = (F.binary_cross_entropy_with_logits(logits_real, torch.ones_like(logits_real))
              + F.binary_cross_entropy_with_logits(logits_fake, torch.zeros_like(logits_fake)))
    opt_d.zero_grad(set_to_none=True)
    loss_d.backward()
    opt_d.step()
    logits_gen = disc(fake, y)
    loss_g = F.binary_cross_entropy_with_logits(logits_gen, torch.ones_like(logits_gen))
    opt_g.zero_grad(set_to_none=True)
    loss_g.backward()
    opt_g.step()
    return {"loss_d": loss_d.detach(), "loss_g": loss_g.detach(),
            "d_real": torch.sigmoid(logits_real).mean().detach(), "d_fake": torch.sigmoid(logits_fake).mean().detach()}


def build(config: DCGANConfig, channels: int, num_classes: int) -> tuple[Generator, Discriminator]:
    k = num_classes if config.conditional else 0
    gen = Generator(config.latent_dim, channels, config.image_size, config.base_channels, k)
    disc = Discriminator(channels, config.image_size, config.base_channels, k)
    return gen, disc


def train(config: DCGANConfig) -> TrainedDCGAN:
    """Train (or resume) a DCGAN as ``config`` says; writes config/checkpoint/history/samples/metrics."""
    device = select_device(config.device)
    data = load_dataset(config.dataset, "train", image_size=config.image_size,
                        data_dir=resolve_path(config.data_dir))
    seed_everything(config.seed)
    gen, disc = build(config, data.channels, data.num_classes)
    gen.apply(radford_init)
    disc.apply(radford_init)
    gen, disc = gen.to(device), disc.to(device)
    opt_g = torch.optim.Adam(gen.parameters(), lr=config.lr, betas=(config.beta1, 0.999))
    opt_d = torch.optim.Adam(disc.parameters(), lr=config.lr, betas=(config.beta1, 0.999))
    ema = EMA(gen, config.ema_decay) if config.ema_decay > 0 else None
    state = TrainState({"generator": gen, "discriminator": disc}, {"generator": opt_g, "discriminator": opt_d}, ema)
    batches = DeviceBatches(data, config.batch_size, device, seed=config.seed)
    spe = batches.steps_per_epoch
    total = config.epochs * spe if not config.max_steps else min(config.max_steps, config.epochs * spe)
    k = data.num_classes if config.conditional else 0
    fixed_n = 10 * k if k else 64
    fixed_z = torch.randn(fixed_n, config.latent_dim, generator=torch.Generator().manual_seed(config.seed + 1)).to(device)
    fixed_y = balanced_labels(fixed_n, k).to(device) if k else None

    def step_fn(step: int, x0: torch.Tensor, y: torch.Tensor) -> dict[str, torch.Tensor]:
        scalars = gan_step(gen, disc, opt_g, opt_d, x0, y if k else None)
        if ema is not None:
            ema.update(gen)
        return scalars

    @torch.no_grad()
    def sample_fn(step: int) -> torch.Tensor:
        net = ema.shadow if ema is not None else gen
        was_training = net.training
        net.eval()
        out = to_uint8(net(fixed_z, fixed_y))
        net.train(was_training)
        return out

    result = fit(config.run_dir, model_name="dcgan", config=config.to_dict(), state=state, step_fn=step_fn,
                 meta=data.meta(),
                 batches=batches, total_steps=total, sample_fn=sample_fn,
                 sample_every_steps=config.sample_every * spe, checkpoint_every_steps=config.checkpoint_every * spe,
                 tensorboard=config.tensorboard, time_budget_s=config.time_budget_s,
                 divergence_hint="lower lr (e.g. 1e-4), or set beta1 = 0.5 and check the data range")
    trained = TrainedDCGAN(ema.shadow if ema is not None else gen, config, config.run_dir, data.class_names,
                           device, result.step)
    update_metrics(config.run_dir, model="dcgan", dataset=config.dataset, conditional=config.conditional,
                   steps=result.step, epochs=result.step / spe, train_seconds=result.train_seconds,
                   parameters=count_parameters(gen) + count_parameters(disc),
                   generator_parameters=count_parameters(gen),
                   seconds_per_100={"generator": seconds_per_100(lambda n: trained.generate(n), 100, device)},
                   device=str(device))
    return trained


def load(path: str | Path, device: str = "auto") -> TrainedDCGAN:
    """Rebuild a trained generator from ``checkpoint.pt`` (its config is stored inside)."""
    path = Path(path)
    ckpt = load_checkpoint(path)
    config = DCGANConfig.from_dict(ckpt["config"])
    dev = select_device(device)
    meta = ckpt["meta"]
    gen, _ = build(config, meta["channels"], meta["num_classes"])
    gen.load_state_dict(ckpt["ema"]["shadow"] if ckpt.get("ema") else ckpt["model"]["generator"])
    class_names = tuple(meta["class_names"])
    return TrainedDCGAN(gen.to(dev), config, path.parent, class_names, dev, int(ckpt["step"]))

