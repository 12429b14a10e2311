"""Training StyleGAN2-ADA: one step (G main, G path length, D main + lazy R1, ADA's p, the G EMA) and its recipe.

The step follows the official training loop's phases (Gmain, Greg, Dmain, Dreg); here the lazy R1
term joins the D main loss on its steps (one backward instead of two), and every image D sees,
real or fake, in the G pass and in the D pass, goes through the same augmentation with the same p.
Data parallel: each rank trains on its rows of the global batch with latents drawn for the whole batch,
G's and D's gradients are averaged over ranks before each optimizer step, and ADA's r_t counts every
rank's reals. Minibatch-std groups and the path-length mean stay per rank (as in the official code).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ...data import ImageData, balanced_labels, to_uint8
from ...sampling.frozen import frozen
from ...train import distributed, run
from ...train.checkpoint import TrainState
from ...train.devices import count_parameters
from ...train.ema import EMA
from ...train.fit import SATURATION_GRIDS
from ...train.precision import autocast
from ...train.recipe import Recipe
from ...train.timing import seconds_per_100
from . import augment as aug
from .ada import AdaController
from .config import StyleGANConfig
from .discriminator import Discriminator
from .generator import Generator
from .networks import build
from .losses import d_loss, g_loss, lazy_adam, path_length_penalty, r1_penalty
from .trained import TrainedStyleGAN


class StyleGANEMA(EMA):
    """The official G EMA: beta = 0.5 ** (batch / ema_nimg), ema_nimg = min(ema_kimg * 1000, rampup * images seen)."""

    def __init__(self, model, batch_size: int, ema_kimg: float, rampup: float):
        super().__init__(model, 0.0, warmup=False)
        self.batch_size, self.ema_nimg, self.rampup = batch_size, ema_kimg * 1000, rampup

    def current_decay(self) -> float:
        nimg = self.ema_nimg
        if self.rampup:
            nimg = min(nimg, (self.num_updates + 1) * self.batch_size * self.rampup)
        return 0.5 ** (self.batch_size / max(nimg, 1e-8))


class StyleGANStep:
    """One training step (a ``fit`` step function) holding G, D, their optimizers, ADA and the EMA."""

    def __init__(self, config: StyleGANConfig, gen: Generator, disc: Discriminator, ema: EMA | None = None):
        self.rows = distributed.rows(config.batch_size)  # this process's share of the global batch
        b = self.rows.stop - self.rows.start
        if b % min(config.mbstd_group, b):
            raise ValueError(f"parameter 'batch_size' = {config.batch_size} gives {b} images per process, not a "
                             f"multiple of 'mbstd_group' = {config.mbstd_group}; the minibatch-std groups must divide "
                             f"each process's batch")
        self.config, self.gen, self.disc, self.ema = config, gen, disc, ema
        betas = (config.beta1, config.beta2)
        self.opt_g = lazy_adam(gen.parameters(), config.lr, betas, config.pl_interval if config.pl_weight else 0)
        self.opt_d = lazy_adam(disc.parameters(), config.lr, betas, config.r1_interval if config.r1_gamma else 0)
        self.ada = AdaController(config.ada_target, config.ada_interval, config.ada_kimg, config.batch_size,
                                 config.augment_p, config.ada)
        self.pl_mean = torch.zeros((), dtype=torch.float64)
        self.last_r1 = torch.zeros((), dtype=torch.float64)

    def extra(self) -> dict[str, torch.Tensor]:
        return {**self.ada.state(), "pl_mean": self.pl_mean, "last_r1": self.last_r1}

    def z(self, n: int, device: torch.device) -> torch.Tensor:
        """Latents drawn for the global batch, this rank's rows: the same draws as one process."""
        if self.rows.stop - self.rows.start == self.config.batch_size:
            return torch.randn(n, self.gen.z_dim, device=device)
        return torch.randn(self.config.batch_size, self.gen.z_dim, device=device)[self.rows][:n]

    def augment(self, x: torch.Tensor) -> torch.Tensor:
        """Every image D sees goes through here: ADA's pipeline with the current p (ADA §2.3)."""
        return aug.augment(x, float(self.ada.p), self.config.cutout)

    def __call__(self, step: int, x: torch.Tensor, y: torch.Tensor) -> dict[str, torch.Tensor]:
        with autocast(x.device, self.config.amp):  # the whole update: each backward op runs in its forward op's dtype
            return self.update(step, x, y)

    def update(self, step: int, x: torch.Tensor, y: torch.Tensor) -> dict[str, torch.Tensor]:
        """G main, G's lazy path length, D main with lazy R1, ADA's p, the EMA."""
        c, gen, disc = self.config, self.gen, self.disc
        y = y if gen.num_classes else None
        b = x.shape[0]
        # G main: non-saturating loss through the augmented fakes
        disc.requires_grad_(False)
        ws = gen.ws(self.z(b, x.device), y, mixing=c.style_mixing, track_w_avg=True)
        fake_logits, fake_classes = disc(self.augment(gen.synthesis(ws)), y, with_classes=True)
        loss_g = g_loss(fake_logits)
        if fake_classes is not None:  # AC-GAN: G is also asked for images D's head assigns to class y
            loss_g = loss_g + c.ac_weight * F.cross_entropy(fake_classes, y)
        self.opt_g.zero_grad(set_to_none=True)
        loss_g.backward()
        distributed.average_gradients(gen)
        self.opt_g.step()
        # G reg: lazy path length on half the batch (at least 2 images), weighted by the interval
        if c.pl_weight > 0 and step % c.pl_interval == 0:
            n = max(2, b // 2)
            ws = gen.ws(self.z(n, x.device), y[:n] if y is not None else None, mixing=c.style_mixing)
            pen = path_length_penalty(gen.synthesis(ws), ws, self.pl_mean)
            self.opt_g.zero_grad(set_to_none=True)
            (pen * c.pl_weight * c.pl_interval).backward()
            distributed.average_gradients(gen)
            self.opt_g.step()
        disc.requires_grad_(True)
        # D main (+ lazy R1 on the reals before augmentation, gamma / 2 * k * ||grad||^2)
        with torch.no_grad():
            fake = gen(self.z(b, x.device), y, mixing=c.style_mixing)
        do_r1 = c.r1_gamma > 0 and step % c.r1_interval == 0
        real = x.detach().requires_grad_(do_r1)
        real_logits, real_classes = disc(self.augment(real), y, with_classes=True)
        fake_logits = disc(self.augment(fake), y)
        loss_d = d_loss(real_logits, fake_logits)
        total = loss_d
        if real_classes is not None:  # the head learns the classes from real images only
            total = total + c.ac_weight * F.cross_entropy(real_classes, y)
        if do_r1:
            r1 = r1_penalty(real, real_logits)
            total = total + r1 * (c.r1_gamma / 2 * c.r1_interval)
            self.last_r1.fill_(float(r1.detach()))
        self.opt_d.zero_grad(set_to_none=True)
        total.backward()
        distributed.average_gradients(disc)
        self.opt_d.step()
        # ADA: r_t from the signs of D on (augmented) reals, p updated every ada_interval minibatches
        self.ada.accumulate(real_logits)
        self.ada.update(step)
        if self.ema is not None:
            self.ema.update(gen)
        return {"loss_g": loss_g.detach(), "loss_d": loss_d.detach(), "d_real": real_logits.detach().mean(),
                "d_fake": fake_logits.detach().mean(), "r1": self.last_r1.clone(), "p": self.ada.p.clone(),
                "r_t": self.ada.rt.clone()}


def training_data(config: StyleGANConfig) -> ImageData:
    """The training split, cut to ``max_train`` images (a fixed subset: the limited-data setting ADA is for)."""
    data = run.training_data(config)
    if config.max_train and config.max_train < len(data):
        data = data.subset(config.max_train, seed=config.seed)
    return data


def recipe(config: StyleGANConfig, data: ImageData, device: torch.device) -> Recipe:
    """StyleGAN2-ADA's training: G, D, their lazy-regularised Adams, ADA and the G EMA in one :class:`StyleGANStep`."""
    gen, disc = build(config, data.channels, data.num_classes)
    gen, disc = gen.to(device), disc.to(device)
    ema = StyleGANEMA(gen, config.batch_size, config.ema_kimg, config.ema_rampup) if config.ema_kimg > 0 else None
    stepper = StyleGANStep(config, gen, disc, ema)
    state = TrainState({"generator": gen, "discriminator": disc},
                       {"generator": stepper.opt_g, "discriminator": stepper.opt_d}, ema, stepper.extra())
    k = gen.num_classes
    fixed_n = 10 * k if k else 64
    fixed_z = torch.randn(fixed_n, config.z_dim, generator=torch.Generator().manual_seed(config.seed + 1)).to(device)
    fixed_y = balanced_labels(fixed_n, k).to(device) if k else None
    sampler = ema.shadow if ema is not None else gen

    def grid(step: int) -> torch.Tensor:
        with frozen(sampler):  # fixed noise maps from their own generator: the global RNG is untouched
            return to_uint8(sampler(fixed_z, fixed_y, noise=torch.Generator().manual_seed(config.seed + 2)))

    def trained(step: int) -> TrainedStyleGAN:
        return TrainedStyleGAN(sampler, config, config.run_dir, data.class_names, device, step)

    def metrics(trained: TrainedStyleGAN) -> dict:
        return dict(generator_parameters=count_parameters(gen), ada_p=float(stepper.ada.p),
                    ada_rt=float(stepper.ada.rt),
                    seconds_per_100={"generator": seconds_per_100(lambda n: trained.sample(n), 100, device)})

    return Recipe(state, stepper, grid, trained, metrics, saturation_grids=SATURATION_GRIDS,
                  divergence_hint="lower lr (e.g. 0.001) or raise r1_gamma")
