"""A trained StyleGAN2 generator (EMA weights), ready to sample with truncation (the TrainedModel protocol)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from ...data import to_uint8
from ...train.checkpoint import load_checkpoint
from ...train.devices import select_device
from ..protocol import Option, TrainedGenerator
from .config import StyleGANConfig
from .networks import build


class TrainedStyleGAN(TrainedGenerator):
    """Samples are never augmented: augmentation lives only in the training step, in front of D."""

    kind = "stylegan"

    @classmethod
    def from_checkpoint(cls, path: str | Path, device: str = "auto") -> "TrainedStyleGAN":
        path = Path(path)
        ckpt = load_checkpoint(path)
        config = StyleGANConfig.from_dict(ckpt["config"])
        dev = select_device(device)
        meta = ckpt["meta"]
        gen, _ = build(config, meta["channels"], meta["num_classes"])
        gen.load_state_dict(ckpt["ema"]["shadow"] if ckpt.get("ema") else ckpt["model"]["generator"])
        return cls(gen.to(dev), config, path.parent, tuple(meta["class_names"]), dev, int(ckpt["step"]))

    @classmethod
    def options(cls, config: StyleGANConfig, num_classes: int) -> dict[str, Option]:
        return {"psi": Option("psi", float, config.truncation_psi,
                              "truncation: w = w_avg + psi (w - w_avg); 1 = none, lower = typical but less diverse",
                              low=0.0, high=1.0)}

    def latents(self, n: int, seed: int = 0) -> torch.Tensor:
        """z: n x z_dim drawn on the CPU from ``seed`` (the same on every device)."""
        return torch.randn(n, self.generator.z_dim, generator=torch.Generator().manual_seed(seed)).to(self.device)

    @torch.no_grad()
    def synthesize(self, ws: torch.Tensor, seed: int = 0) -> torch.Tensor:
        """uint8 images from per-layer latents ws (B x num_ws x w_dim), noise maps drawn from ``seed``."""
        noise = torch.Generator().manual_seed(seed + 1_000_003)
        return to_uint8(self.generator.synthesis(ws.to(self.device), noise=noise)).cpu()

    @torch.no_grad()
    def ws(self, z: torch.Tensor, labels: torch.Tensor | None, psi: float = 1.0) -> torch.Tensor:
        y = labels.to(self.device) if labels is not None else None
        return self.generator.ws(z.to(self.device), y, psi=psi)

    def _sample(self, n: int, labels: torch.Tensor | None, seed: int, **options: Any) -> torch.Tensor:
        return self.synthesize(self.ws(self.latents(n, seed), labels, options["psi"]), seed)

    def interpolate(self, steps: int = 8, label: int = 0, seed: int = 0, space: str = "w",
                    psi: float = 1.0) -> torch.Tensor:
        """uint8 images along a straight line between two latents, in z or in w (fixed class and noise)."""
        if space not in ("z", "w"):
            raise ValueError(f"space = {space!r}: choose 'z' or 'w'")
        za, zb = self.latents(2, seed)
        t = torch.linspace(0, 1, steps, device=self.device)[:, None]
        y = torch.full((steps,), label, dtype=torch.int64) if self.num_classes else None
        if space == "z":
            ws = self.ws((1 - t) * za + t * zb, y, psi)
        else:
            wa, wb = self.ws(torch.stack([za, zb]), y[:2] if y is not None else None, psi)[:, 0]
            ws = ((1 - t) * wa + t * wb)[:, None].repeat(1, self.generator.num_ws, 1)
        noise_seed = seed
        return torch.cat([self.synthesize(ws[i:i + 1], noise_seed) for i in range(steps)])

    def style_mix(self, rows: int = 4, cols: int = 4, cutoff: int = 4, label: int = 0, seed: int = 0,
                  psi: float = 1.0) -> torch.Tensor:
        """(rows + 1) x (cols + 1) grid: row sources give ws[:cutoff] (coarse), column sources the rest (fine).

        The first row shows the column sources, the first column the row sources, the top-left is blank.
        """
        n = rows + cols
        y = torch.full((n,), label, dtype=torch.int64) if self.num_classes else None
        ws = self.ws(self.latents(n, seed), y, psi)
        src_r, src_c = ws[:rows], ws[rows:]
        c, h, w = self.image_shape()
        tiles = [torch.zeros(1, c, h, w, dtype=torch.uint8)] + [self.synthesize(src_c[j:j + 1], seed) for j in range(cols)]
        for i in range(rows):
            tiles.append(self.synthesize(src_r[i:i + 1], seed))
            mixed = src_r[i:i + 1].repeat(cols, 1, 1)
            mixed[:, cutoff:] = src_c[:, cutoff:]
            tiles.append(self.synthesize(mixed, seed))
        return torch.cat(tiles)
