"""Energy-based model: a CNN energy E_theta(x), trained by contrastive divergence with Langevin sampling.

- :class:`EnergyNet`: B x C x H x W in [-1, 1] -> B energies (low = likely under
  p(x) = exp(-E(x)) / Z, theory/ebm.ipynb eq. (eq-boltzmann)); strided convolutions with
  SiLU (Swish), optional spectral norm; 28, 32 or 64 px, 1 or 3 channels.
- :func:`train`: each step draws chain starts from a replay buffer (~5 % fresh noise),
  runs Langevin (genlab.langevin, eq. (eq-langevin)) to get negatives x-, and minimises
  ``E(x+) - E(x-) + alpha * (E(x+)^2 + E(x-)^2)`` (eq. (eq-ebm-loss); its gradient is the
  contrastive-divergence estimate of eq. (eq-cd-gradient)). Parameter gradients are
  clipped; the buffer is checkpointed in ``TrainState.extra`` (train-or-resume via
  :func:`genlab.training.fit`). A divergence guard stops with advice when energies or
  gradients blow up, keeping the last good checkpoint.
- :func:`load`: rebuild a trained model (and its buffer) from ``checkpoint.pt``.
  :class:`TrainedEBM` (genlab.trained_ebm) samples, scores energies, denoises and in-paints.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from .config import Config, param
from .data import DeviceBatches, check_dataset, load_dataset, to_uint8
from .langevin import ReplayBuffer, langevin, uniform_noise
from .trained_ebm import SAMPLE_OPTIONS, TrainedEBM, ood_auroc  # noqa: F401  (SAMPLE_OPTIONS re-exported)
from .training import (DivergenceError, TrainState, check_device, count_parameters, fit, load_checkpoint,
                       resolve_path, seconds_per_100, seed_everything, select_device, update_metrics)

IMAGE_SIZES = (28, 32, 64)


class EnergyNet(nn.Module):
    """x: B x C x H x W in [-1, 1] -> E(x): B (a scalar energy per image; lower = more data-like).

    A 5x5 stride-2 convolution (28 px is padded to 16 x 16 after it, 32 -> 16, 64 -> 32), then
    3x3 stride-2 convolutions down to 2 x 2 (widths c, 2c, 4c, 4c, ...), SiLU throughout
    (smooth, so grad_x E is smooth for Langevin), then two linear layers to one number.
    ``spectral_norm`` bounds each layer's Lipschitz constant, which keeps E and grad_x E tame.
    """

    def __init__(self, channels: int = 1, image_size: int = 28, base_channels: int = 16,
                 spectral_norm: bool = False):
        super().__init__()
        if image_size not in IMAGE_SIZES:
            raise ValueError(f"parameter 'image_size' = {image_size} unsupported; choose one of {IMAGE_SIZES}")
        if channels not in (1, 3):
            raise ValueError(f"channels = {channels} unsupported; the energy network takes 1 or 3 channels")
        norm = nn.utils.parametrizations.spectral_norm if spectral_norm else (lambda m: m)
        pad = 4 if image_size == 28 else 2
        size = (image_size + 2 * pad - 5) // 2 + 1
        ch = base_channels
        layers: list[nn.Module] = [norm(nn.Conv2d(channels, ch, 5, 2, pad)), nn.SiLU()]
        while size > 2:
            out = min(2 * ch, 4 * base_channels)
            layers += [norm(nn.Conv2d(ch, out, 3, 2, 1)), nn.SiLU()]
            ch, size = out, (size - 1) // 2 + 1
        layers += [nn.Flatten(), norm(nn.Linear(ch * size * size, ch)), nn.SiLU(), norm(nn.Linear(ch, 1))]
        self.net = nn.Sequential(*layers)
        self.channels, self.image_size = channels, image_size

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x).flatten()


@dataclass(frozen=True)
class EBMConfig(Config):
    run: str = param("quick", help="run name: results go to <output_dir>/<run>/ebm")
    dataset: str = param("mnist5k", check=check_dataset, help="mnist5k, mnist, fashion_mnist, cifar10, folder:<path>")
    image_size: int = param(28, choices=IMAGE_SIZES, help="training resolution in pixels")
    base_channels: int = param(16, low=4, high=512, help="width of the first conv layer (doubles per stage, up to 4x)")
    spectral_norm: bool = param(False, help="spectral normalisation of every layer (smoother energies)")
    epochs: int = param(8, low=1, high=100_000, help="passes over the training split")
    batch_size: int = param(32, low=2, high=8192, help="real images (and negatives) per step")
    lr: float = param(1e-4, low=0, low_open=True, high=1, help="Adam learning rate")
    beta1: float = param(0.0, low=0, high=0.999, help="Adam beta1 (0: no momentum, the usual EBM choice)")
    beta2: float = param(0.999, low=0, high=0.99999, help="Adam beta2")
    alpha: float = param(0.1, low=0, high=100, help="energy-magnitude regulariser alpha * (E(x+)^2 + E(x-)^2)")
    langevin_steps: int = param(20, low=1, high=10_000, help="Langevin steps per training batch")
    step_size: float = param(20.0, low=0, low_open=True, help="Langevin step: x <- x - (step_size/2) grad_x E + noise z")
    noise: float = param(0.005, low=0, help="Langevin noise standard deviation")
    grad_clamp: float = param(0.03, low=0, low_open=True, help="clamp each entry of grad_x E to +-grad_clamp")
    buffer_size: int = param(512, low=1, high=10_000_000, help="replay buffer of persistent chains")
    reinit: float = param(0.05, low=0, high=1, help="fraction of chain starts drawn fresh from noise")
    data_noise: float = param(0.005, low=0, high=1, help="Gaussian noise added to real images")
    clip_grad: float = param(0.1, low=0, low_open=True, help="clip the parameters' gradient norm to this")
    max_energy: float = param(1e3, low=0, low_open=True, help="divergence guard: stop when any |E| exceeds this")
    sample_steps: int = param(256, low=0, high=100_000, help="Langevin steps when generating from fresh noise")
    eval_samples: int = param(500, low=4, help="samples scored by genlab.metrics.evaluate at the end")
    seed: int = param(0, low=0, help="seed for initialisation, batches, buffer and chains")
    sample_every: int = param(2, low=0, help="save a grid of buffer samples every N epochs (0 = only at the end)")
    checkpoint_every: int = param(5, low=0, help="checkpoint every N epochs (always at the end)")
    max_steps: int = param(0, low=0, help="stop after this many steps in total (0 = epochs decide; for smoke runs)")
    time_budget_s: float = param(0.0, low=0, help="checkpoint and stop after this many seconds (0 = no limit)")
    device: str = param("auto", check=check_device, help="auto (CUDA, then MPS, then CPU), cpu, cuda, mps")
    tensorboard: bool = param(False, help="also log scalars and grids to <run dir>/tensorboard")
    data_dir: str = param("data", help="where downloaded datasets live")
    output_dir: str = param("outputs", help="root of all runs (relative paths: from the project root)")

    @property
    def run_dir(self) -> Path:
        return resolve_path(self.output_dir) / self.run / "ebm"

    def divergence_advice(self) -> str:
        """What to change when training blows up, with concrete values for this config."""
        return (f"lower lr (e.g. lr = {self.lr / 3:.2g}), use more Langevin steps (e.g. langevin_steps = "
                f"{2 * self.langevin_steps}), or a stronger regulariser (e.g. alpha = {max(2 * self.alpha, 0.1):.2g}); "
                f"spectral_norm = True also helps")


CONFIG = EBMConfig
# Keys that do not change what is learned, so a run may resume with other values.
RESUMABLE = ("sample_steps", "max_energy")


def build(config: EBMConfig, channels: int) -> EnergyNet:
    return EnergyNet(channels, config.image_size, config.base_channels, config.spectral_norm)


def cd_loss(e_pos: torch.Tensor, e_neg: torch.Tensor, alpha: float) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """theory/ebm.ipynb eq. (eq-ebm-loss): (loss, cd, reg) for energies e_pos, e_neg (B each).

    ``cd = mean E(x+) - mean E(x-)``: its parameter gradient is the contrastive-divergence
    estimate of the negative log-likelihood gradient (eq. (eq-cd-gradient)): push real
    energies down (positive phase), sampled energies up (negative phase).
    ``reg = mean(E(x+)^2 + E(x-)^2)`` keeps energies near 0 (the loss alone is shift-invariant).
    """
    cd = e_pos.mean() - e_neg.mean()
    reg = (e_pos.pow(2) + e_neg.pow(2)).mean()
    return cd + alpha * reg, cd, reg


def check_divergence(step: int, e_pos: torch.Tensor, e_neg: torch.Tensor, grad_norm: torch.Tensor,
                     config: EBMConfig, checkpoint: Path) -> None:
    """Raise :class:`DivergenceError` when energies or parameter gradients blow up (before the update)."""
    e_max = float(torch.maximum(e_pos.abs().max(), e_neg.abs().max()))
    g = float(grad_norm)
    if math.isfinite(e_max) and math.isfinite(g) and e_max <= config.max_energy:
        return
    what = (f"max |E| = {e_max:.3g} (max_energy = {config.max_energy:g})" if math.isfinite(g)
            else f"parameter gradient norm = {g}")
    raise DivergenceError(f"[ebm] training diverged at step {step}: {what}. Training stopped before this update; "
                          f"the last good checkpoint in {checkpoint} was kept (delete it to start over). "
                          f"Try: {config.divergence_advice()}")


def train(config: EBMConfig) -> TrainedEBM:
    """Train (or resume) an EBM as ``config`` says; writes config/checkpoint/history/samples/metrics."""
    device = select_device(config.device)
    data = load_dataset(config.dataset, "train", image_size=config.image_size, data_dir=resolve_path(config.data_dir))
    seed_everything(config.seed)
    net = build(config, data.channels).to(device)
    opt = torch.optim.Adam(net.parameters(), lr=config.lr, betas=(config.beta1, config.beta2))
    shape = (data.channels, config.image_size, config.image_size)
    buffer = ReplayBuffer(config.buffer_size, shape, config.reinit, device)
    state = TrainState({"energy": net}, {"energy": opt}, extra={"buffer": buffer.images})
    batches = DeviceBatches(data, config.batch_size, device, seed=config.seed)
    spe = batches.steps_per_epoch
    total = config.epochs * spe if not config.max_steps else min(config.max_steps, config.epochs * spe)
    ckpt_path = config.run_dir / "checkpoint.pt"

    def step_fn(step: int, x0: torch.Tensor, y: torch.Tensor) -> dict[str, torch.Tensor]:
        b = x0.shape[0]
        x_pos = (x0 + config.data_noise * torch.randn_like(x0)).clamp(-1, 1)
        start, idx, fresh = buffer.sample(b)
        x_neg = langevin(net, start, config.langevin_steps, config.step_size, config.noise, config.grad_clamp)
        buffer.push(idx, x_neg)
        e = net(torch.cat([x_pos, x_neg]))
        e_pos, e_neg = e[:b], e[b:]
        loss, cd, reg = cd_loss(e_pos, e_neg, config.alpha)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        grad_norm = nn.utils.clip_grad_norm_(net.parameters(), config.clip_grad)
        check_divergence(step + 1, e_pos.detach(), e_neg.detach(), grad_norm, config, ckpt_path)
        opt.step()
        return {"loss": loss.detach(), "e_pos": e_pos.mean().detach(), "e_neg": e_neg.mean().detach(),
                "cd": cd.detach(), "reg": reg.detach(), "grad_norm": grad_norm.detach(),
                "fresh": fresh.float().mean()}

    def sample_fn(step: int) -> torch.Tensor:
        return to_uint8(buffer.images[:64])  # a fixed slice of the buffer: no RNG consumed

    result = fit(config.run_dir, model_name="ebm", config=config.to_dict(), state=state, step_fn=step_fn,
                 meta=data.meta(), batches=batches, total_steps=total, sample_fn=sample_fn,
                 sample_every_steps=config.sample_every * spe, checkpoint_every_steps=config.checkpoint_every * spe,
                 tensorboard=config.tensorboard, time_budget_s=config.time_budget_s,
                 divergence_hint=config.divergence_advice(), resumable_keys=RESUMABLE)
    trained = TrainedEBM(net, config, config.run_dir, data.class_names, device, result.step, buffer.images)
    test = trained.test_images(500)
    auroc = ood_auroc(trained.energies(test), trained.energies(to_uint8(uniform_noise(test.shape))))
    spc = seconds_per_100(lambda n: trained.generate(n, init="noise"), 100, device)
    update_metrics(config.run_dir, model="ebm", dataset=config.dataset, conditional=False, steps=result.step,
                   epochs=result.step / spe, train_seconds=result.train_seconds, parameters=count_parameters(net),
                   langevin_steps_train=config.langevin_steps, sample_steps=config.sample_steps,
                   seconds_per_100={f"langevin_{config.sample_steps}_steps_from_noise": spc},
                   ood_auroc_real_vs_uniform_noise=auroc, device=str(device))
    return trained


def load(path: str | Path, device: str = "auto") -> TrainedEBM:
    """Rebuild a trained energy network and its replay buffer from ``checkpoint.pt``."""
    path = Path(path)
    ckpt = load_checkpoint(path)
    config = EBMConfig.from_dict(ckpt["config"])
    dev = select_device(device)
    meta = ckpt["meta"]
    net = build(config, meta["channels"])
    net.load_state_dict(ckpt["model"]["energy"])
    buffer = (ckpt.get("extra") or {}).get("buffer")
    return TrainedEBM(net.to(dev), config, path.parent, tuple(meta["class_names"]), dev, int(ckpt["step"]),
                      buffer.to(dev) if buffer is not None else None)

