"""A trained energy-based model: sampling, energies, denoising and in-painting (the ``TrainedModel`` protocol).

:class:`TrainedEBM` wraps an energy network (genlab.ebm.EnergyNet) with its config and
replay buffer. Everything here runs Langevin dynamics (theory/ebm.ipynb eq. (eq-langevin))
on the *input* with the parameters frozen (genlab.langevin), so gradients flow to images,
never to weights. Images go in and come out as uint8 ``N x C x H x W`` tensors.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import nn

from ...base.paths import resolve_path
from ...data import load_dataset, to_float, to_uint8
from ...sampling.frozen import frozen
from ...sampling.langevin import langevin, uniform_noise
from ...train.checkpoint import load_weights
from ...train.devices import count_parameters
from ..protocol import Option, TrainedBase
from .config import EBMConfig
from .nets import build

INITS = ("noise", "buffer")


def ood_auroc(e_in: torch.Tensor, e_out: torch.Tensor) -> float:
    """P(E(in-distribution) < E(out-of-distribution)): 1 = energies separate the sets perfectly, 0.5 = chance."""
    e_in, e_out = e_in.double().flatten(), e_out.double().flatten()
    less = (e_in[:, None] < e_out[None, :]).double().mean()
    ties = (e_in[:, None] == e_out[None, :]).double().mean()
    return float(less + 0.5 * ties)


class TrainedEBM(TrainedBase):
    """An energy network ready to sample, with the config, run directory and replay buffer it came from."""

    kind = "ebm"
    config_class = EBMConfig

    def __init__(self, net: nn.Module, config: EBMConfig, run_dir: Path, class_names: tuple[str, ...],
                 device: torch.device, step: int = 0, buffer: torch.Tensor | None = None):
        self.net, self.config, self.run_dir = net.eval(), config, Path(run_dir)
        self.class_names, self.device, self.step, self.buffer = class_names, device, step, buffer
        self._test = None

    @classmethod
    def from_state(cls, ckpt: dict[str, Any], config: EBMConfig, run_dir: Path, device: torch.device):
        """The energy network and its replay buffer from a loaded checkpoint."""
        net = build(config, ckpt["meta"]["channels"], ckpt["meta"]["num_classes"])
        load_weights(net, ckpt["model"]["energy"], run_dir, config)
        buffer = (ckpt.get("extra") or {}).get("buffer")
        return cls(net.to(device), config, run_dir, tuple(ckpt["meta"]["class_names"]), device, int(ckpt["step"]),
                   buffer.to(device) if buffer is not None else None)

    @property
    def num_classes(self) -> int:
        return self.net.num_classes

    @property
    def shape(self) -> tuple[int, int, int]:
        return (self.net.channels, self.net.image_size, self.net.image_size)

    def image_shape(self) -> tuple[int, int, int]:
        return self.shape

    def parameter_count(self) -> int:
        return count_parameters(self.net)

    @classmethod
    def options(cls, config: EBMConfig, num_classes: int) -> dict[str, Option]:
        c = config
        options = [
            Option("steps", int, c.sample_steps, "Langevin steps", low=1, high=100_000),
            Option("step_size", float, c.step_size, "Langevin step: x <- x - (step_size/2) grad_x E + noise z",
                   low=1e-6, high=1e4),
            Option("noise", float, c.noise, "Langevin noise standard deviation", low=0, high=1),
            Option("quench", int, c.quench_steps, "last steps without noise", low=0, high=100_000),
            Option("init", str, "noise", "where chains start: noise (fresh) or buffer (the replay buffer's chains)",
                   choices=INITS),
        ]
        return {o.name: o for o in options}

    def _floats(self, images: torch.Tensor) -> torch.Tensor:
        """uint8 images -> floats in [-1, 1] on the model's device (floats pass through)."""
        return to_float(images.to(self.device)) if images.dtype == torch.uint8 else images.to(self.device).float()

    def _generator(self, seed: int) -> torch.Generator:
        return torch.Generator(device=self.device).manual_seed(seed)

    def starts(self, n: int, init: str = "noise", seed: int = 0) -> torch.Tensor:
        """n chain starts (floats n x C x H x W): uniform noise, or random replay-buffer entries."""
        g = self._generator(seed)
        if init == "buffer":
            idx = torch.randint(len(self.buffer), (n,), generator=torch.Generator().manual_seed(seed))
            return self.buffer[idx.to(self.buffer.device)].to(self.device)
        return uniform_noise((n, *self.shape), self.device, g)

    def run_chains(self, n: int, labels: torch.Tensor | None = None, seed: int = 0, every: int = 0,
                   **options: Any):
        """Float samples (n x C x H x W in [-1, 1]) of p(x | labels) (p(x) without labels); with
        ``every > 0`` also the chain snapshots."""
        o = self.check_options(options)
        if o["init"] == "buffer" and self.buffer is None:
            raise ValueError("option 'init' = 'buffer' but this checkpoint holds no replay buffer; use init='noise'")
        x = self.starts(n, o["init"], seed)
        y = labels.to(self.device) if labels is not None else None
        return langevin(lambda v: self.net(v, y), x, o["steps"], o["step_size"], o["noise"], self.config.grad_clamp,
                        every=every, generator=self._generator(seed + 1), model=self.net, quench=o["quench"])

    def _sample(self, n: int, labels: torch.Tensor | None, seed: int, **options: Any) -> torch.Tensor:
        return to_uint8(self.run_chains(n, labels, seed, **options)).cpu()

    def chain(self, n: int = 8, every: int | None = None, seed: int = 0, **options) -> list[torch.Tensor]:
        """Snapshots of n Langevin chains (uint8 n x C x H x W each), every ``every`` steps (default: 8 columns)."""
        steps = self.check_options(options)["steps"]
        every = every or max(1, steps // 8)
        labels = self.check_labels(n, None)
        _, snaps = self.run_chains(n, labels, seed, every=every, **options)
        return [to_uint8(s).cpu() for s in snaps]

    @torch.no_grad()
    def energies(self, images: torch.Tensor, batch_size: int = 500) -> torch.Tensor:
        """E(x) for uint8 (or float in [-1, 1]) images N x C x H x W -> float N on the CPU."""
        with frozen(self.net):
            return torch.cat([self.net(self._floats(b)).cpu() for b in images.split(batch_size)])

    def test_images(self, n: int = 500, seed: int = 0) -> torch.Tensor:
        """n held-out images of the training dataset (uint8), a fixed random subset."""
        if self._test is None:  # loaded once per model (parsing a dataset can take seconds)
            c = self.config
            self._test = load_dataset(c.dataset, "test", image_size=c.image_size, channels=self.net.channels,
                                      data_dir=resolve_path(c.data_dir))
        return self._test.subset(min(n, len(self._test)), seed).images

    def buffer_samples(self, n: int = 64) -> torch.Tensor:
        """The first n replay-buffer entries as uint8 images."""
        if self.buffer is None:
            raise ValueError("this checkpoint holds no replay buffer")
        return to_uint8(self.buffer[:n]).cpu()

    # ------------------------------------------------------------------ out-of-distribution sets

    def ood_sets(self, real: torch.Tensor, seed: int = 0, **options) -> dict[str, torch.Tensor]:
        """Named uint8 sets the size of ``real``: real, generated, uniform noise, pixel-shuffled real images.

        Shuffling each image's pixels keeps its brightness histogram (the same ink per digit)
        and destroys all spatial structure: a distortion that brightness alone cannot flag.
        """
        g = torch.Generator().manual_seed(seed)
        n = len(real)
        flat = real.flatten(1)
        perm = torch.argsort(torch.rand(flat.shape, generator=g), dim=1)
        return {"real (test)": real,
                "generated": self.sample(n, seed=seed, **options),
                "uniform noise": torch.randint(0, 256, real.shape, generator=g, dtype=torch.uint8),
                "pixel-shuffled real": torch.gather(flat, 1, perm).view_as(real)}

    def ood_energies(self, real: torch.Tensor, seed: int = 0, **options) -> dict[str, torch.Tensor]:
        return {name: self.energies(x) for name, x in self.ood_sets(real, seed, **options).items()}

    # ------------------------------------------------------------------ restoration by descent on the input

    def denoise(self, images: torch.Tensor, sigma: float = 0.4, steps: int = 60, step_size: float | None = None,
                seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
        """(noisy, restored) uint8: add N(0, sigma^2) noise in [-1, 1] units, then descend E on the input.

        Gradient descent on x (Langevin with noise 0): ``x <- x - (step_size/2) clip(grad_x E)``.
        """
        x = self._floats(images)
        g = self._generator(seed)
        noisy = (x + sigma * torch.randn(x.shape, generator=g, device=self.device)).clamp(-1, 1)
        restored = langevin(self.net, noisy, steps, step_size or self.config.step_size, 0.0, self.config.grad_clamp)
        return to_uint8(noisy).cpu(), to_uint8(restored).cpu()

    def inpaint(self, images: torch.Tensor, steps: int | None = None, seed: int = 0,
                **options) -> tuple[torch.Tensor, torch.Tensor]:
        """(masked, completed) uint8: the lower half is replaced by noise and resampled by Langevin.

        Only the unknown pixels move (``mask``); the known upper half stays as observed, so the
        chain samples the lower half conditioned on the upper one.
        """
        x = self._floats(images)
        mask = torch.zeros_like(x)
        mask[..., x.shape[-2] // 2:, :] = 1.0
        start = x * (1 - mask) + uniform_noise(x.shape, self.device, self._generator(seed)) * mask
        o = self.check_options({**options, "steps": steps})
        done = langevin(self.net, start, o["steps"], o["step_size"], o["noise"], self.config.grad_clamp,
                        mask=mask, generator=self._generator(seed + 1), quench=o["quench"])
        return to_uint8(start).cpu(), to_uint8(done).cpu()
