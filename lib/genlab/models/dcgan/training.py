"""Training a DCGAN: the non-saturating GAN update, and the :class:`Recipe` the library trains with."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ...data import ImageData, balanced_labels, to_uint8
from ...sampling.frozen import frozen
from ...train import distributed
from ...train.checkpoint import TrainState
from ...train.devices import count_parameters
from ...train.ema import EMA
from ...train.fit import SATURATION_GRIDS
from ...train.precision import autocast
from ...train.recipe import Recipe
from ...train.timing import seconds_per_100
from .config import DCGANConfig
from .nets import Discriminator, Generator, build
from .trained import TrainedDCGAN, recalibrated


def bce(logits: torch.Tensor, target: float) -> torch.Tensor:
    return F.binary_cross_entropy_with_logits(logits, torch.full_like(logits, target))


def gan_step(gen: Generator, disc: Discriminator, opt_g: torch.optim.Optimizer, opt_d: torch.optim.Optimizer,
             x0: torch.Tensor, y: torch.Tensor | None, ac_weight: float = 0.0,
             batch_size: int | None = None) -> dict[str, torch.Tensor]:
    """One DCGAN update on a real batch x0 (B x C x H x W in [-1, 1], labels y or None): D, then G.

    D minimises BCE(real -> 1, fake -> 0) on fakes with the batch's labels; G uses the non-saturating
    loss -log D(G(z, y')) on fresh z and uniformly drawn labels y'. With ``ac_weight`` > 0 both also
    minimise the auxiliary classifier's cross-entropy (D on real images only, G on its samples).
    Returns detached scalars: loss_d, loss_g, d_real, d_fake (mean D outputs).
    Data parallel: x0 is this rank's shard of a global batch of ``batch_size``; z is drawn for the
    global batch and sliced, and D's and G's gradients are each averaged over ranks before their
    optimizer steps. BatchNorm statistics and D's minibatch-std channel stay per rank (as BatchNorm in PyTorch's DDP).
    """
    b, device = x0.shape[0], x0.device

    def rows(draw):  # drawn for the global batch, this rank's rows: the same draws as one process
        return draw(b) if batch_size is None else draw(batch_size)[distributed.rows(batch_size)]

    with torch.no_grad():
        fake = gen(rows(lambda n: torch.randn(n, gen.latent_dim, device=device)), y)
    (logits_real, class_real), (logits_fake, _) = disc(x0, y), disc(fake, y)
    loss_d = bce(logits_real, 1.0) + bce(logits_fake, 0.0)
    if y is not None and ac_weight:
        loss_d = loss_d + ac_weight * F.cross_entropy(class_real, y)
    opt_d.zero_grad(set_to_none=True)
    loss_d.backward()
    distributed.average_gradients(disc)
    opt_d.step()
    z_gen = rows(lambda n: torch.randn(n, gen.latent_dim, device=device))
    y_gen = rows(lambda n: torch.randint(0, gen.num_classes, (n,), device=device)) if y is not None else None
    logits_gen, class_gen = disc(gen(z_gen, y_gen), y_gen)
    loss_g = bce(logits_gen, 1.0)
    if y_gen is not None and ac_weight:
        loss_g = loss_g + ac_weight * F.cross_entropy(class_gen, y_gen)
    opt_g.zero_grad(set_to_none=True)
    loss_g.backward()
    distributed.average_gradients(gen)
    opt_g.step()
    return {"loss_d": loss_d.detach(), "loss_g": loss_g.detach(),
            "d_real": torch.sigmoid(logits_real).mean().detach(), "d_fake": torch.sigmoid(logits_fake).mean().detach()}


def recipe(config: DCGANConfig, data: ImageData, device: torch.device) -> Recipe:
    """The DCGAN's training: G and D with their Adam optimizers and G's EMA, one :func:`gan_step`, fixed-z grids.

    Samples come from the EMA copy with recalibrated BatchNorm (or G itself without EMA). Also driven
    step by step by ``benchmarks/dcgan_time_to_quality.py``.
    """
    gen, disc = build(config, data.channels, data.num_classes)
    gen, disc = gen.to(device), disc.to(device)
    opt_g = torch.optim.Adam(gen.parameters(), lr=config.lr, betas=(config.beta1, 0.999))
    opt_d = torch.optim.Adam(disc.parameters(), lr=config.lr, betas=(config.beta1, 0.999))
    ema = EMA(gen, config.ema_decay) if config.ema_decay > 0 else None
    state = TrainState({"generator": gen, "discriminator": disc}, {"generator": opt_g, "discriminator": opt_d}, ema)
    k = gen.num_classes
    fixed_n = 10 * k if k else 64
    fixed_z = torch.randn(fixed_n, config.latent_dim, generator=torch.Generator().manual_seed(config.seed + 1)).to(device)
    fixed_y = balanced_labels(fixed_n, k).to(device) if k else None

    def step(step: int, x0: torch.Tensor, y: torch.Tensor) -> dict[str, torch.Tensor]:
        with autocast(device, config.amp):  # the whole update: each backward op runs in its forward op's dtype
            scalars = gan_step(gen, disc, opt_g, opt_d, x0, y if k else None, config.ac_weight, config.batch_size)
        if ema is not None:
            ema.update(gen)
        return scalars

    def sampler() -> Generator:
        return gen if ema is None else recalibrated(ema.shadow, seed=config.seed)

    def grid(step: int) -> torch.Tensor:
        net = sampler()
        with frozen(net):
            return to_uint8(net(fixed_z, fixed_y))

    def trained(step: int) -> TrainedDCGAN:
        return TrainedDCGAN(sampler(), config, config.run_dir, data.class_names, device, step)

    def metrics(trained: TrainedDCGAN) -> dict:
        return dict(generator_parameters=count_parameters(gen),
                    seconds_per_100={"generator": seconds_per_100(lambda n: trained.sample(n), 100, device)})

    return Recipe(state, step, grid, trained, metrics, saturation_grids=SATURATION_GRIDS,
                  divergence_hint="lower lr (e.g. 1e-4), or set beta1 = 0.5 and check the data range")
