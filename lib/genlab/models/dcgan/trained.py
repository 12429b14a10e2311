"""A trained DCGAN generator, ready to sample (the :class:`~genlab.models.protocol.TrainedModel` protocol)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from ...data import to_uint8
from ...train.checkpoint import load_weights
from ...train.ema import recalibrate_batchnorm
from ..protocol import Option, TrainedGenerator
from .config import DCGANConfig
from .nets import Generator, build


def recalibrated(gen: Generator, seed: int = 0, batches: int = 20, batch_size: int = 100) -> Generator:
    """``gen`` (an EMA copy) with BatchNorm statistics recomputed on its own samples (fixed seed: deterministic)."""
    g = torch.Generator().manual_seed(seed)
    device = next(gen.parameters()).device

    def inputs():
        for _ in range(batches):
            z = torch.randn(batch_size, gen.latent_dim, generator=g).to(device)
            y = torch.randint(0, gen.num_classes, (batch_size,), generator=g).to(device) if gen.num_classes else None
            yield z, y
    return recalibrate_batchnorm(gen, inputs())


class TrainedDCGAN(TrainedGenerator):
    """A generator (EMA weights when the run kept them) with the config and run folder it came from."""

    kind = "dcgan"
    config_class = DCGANConfig

    @classmethod
    def from_state(cls, ckpt: dict[str, Any], config: DCGANConfig, run_dir: Path, device: torch.device):
        """The generator (EMA weights when kept) from a loaded checkpoint."""
        meta = ckpt["meta"]
        gen, _ = build(config, meta["channels"], meta["num_classes"])
        load_weights(gen, ckpt["ema"]["shadow"] if ckpt.get("ema") else ckpt["model"]["generator"], run_dir, config)
        gen = gen.to(device)
        if ckpt.get("ema"):
            gen = recalibrated(gen, seed=config.seed)
        return cls(gen, config, run_dir, tuple(meta["class_names"]), device, int(ckpt["step"]))

    @classmethod
    def options(cls, config: DCGANConfig, num_classes: int) -> dict[str, Option]:
        return {"psi": Option("psi", float, config.truncation_psi,
                              "truncation: z scaled by psi toward its mean 0; 1 = none, lower = typical but less "
                              "diverse", low=0.0, high=1.0)}

    def latents(self, n: int, seed: int = 0) -> torch.Tensor:
        """z: n x latent_dim, drawn on the CPU from ``seed`` (the same on every device)."""
        g = torch.Generator().manual_seed(seed)
        return torch.randn(n, self.generator.latent_dim, generator=g).to(self.device)

    @torch.no_grad()
    def decode(self, z: torch.Tensor, labels: torch.Tensor | None) -> torch.Tensor:
        """uint8 images G(z, y) on the CPU."""
        y = labels.to(self.device) if labels is not None else None
        return to_uint8(self.generator(z.to(self.device), y)).cpu()

    def _sample(self, n: int, labels: torch.Tensor | None, seed: int, **options: Any) -> torch.Tensor:
        return self.decode(self.latents(n, seed) * options["psi"], labels)

    def interpolate(self, steps: int = 10, label: int = 0, seed: int = 0) -> torch.Tensor:
        """uint8 images along a straight line between two latent vectors (fixed class)."""
        za, zb = self.latents(2, seed)
        w = torch.linspace(0, 1, steps, device=self.device)[:, None]
        labels = torch.full((steps,), label, dtype=torch.int64) if self.num_classes else None
        return self.decode((1 - w) * za + w * zb, labels)
