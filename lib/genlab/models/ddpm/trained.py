"""A trained DDPM: the EMA U-Net and its diffusion process (the ``TrainedModel`` protocol)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from ...data import to_uint8
from ...plots import save_grid
from ...sampling.diffusion import SPACINGS, GaussianDiffusion
from ...sampling.samplers import DDIM, Ancestral, Callback, DPMSolverPP, sample
from ...train.checkpoint import load_weights
from ...train.devices import count_parameters
from ...train.precision import autocast, use_bf16  # noqa: F401 (use_bf16 re-exported: tests, benchmarks)
from ...train.timing import seconds_per_100
from ..protocol import Option, TrainedBase, setting_name
from .config import SAMPLERS, DDPMConfig
from ..unet import UNet


def build(config: DDPMConfig, channels: int, num_classes: int) -> tuple[UNet, GaussianDiffusion]:
    net = UNet(channels, config.image_size, config.base_channels, config.channel_mults, config.num_res_blocks,
               config.attn_resolutions, config.attn_heads, config.dropout,
               num_classes if config.conditional else 0, config.norm_groups)
    # channels-last is the layout oneDNN's and cuDNN's fast convolutions work in (also for bf16 on CPU)
    net = net.to(memory_format=torch.channels_last)
    diffusion = GaussianDiffusion(config.num_steps, config.schedule, config.beta_start, config.beta_end,
                                  config.prediction)
    return net, diffusion


class TrainedDDPM(TrainedBase):
    """An EMA U-Net and its diffusion process, ready to sample, with the run it came from."""

    kind = "ddpm"
    config_class = DDPMConfig

    def __init__(self, net: UNet, diffusion: GaussianDiffusion, config: DDPMConfig, run_dir: Path,
                 class_names: tuple[str, ...], device: torch.device, step: int = 0):
        self.net, self.diffusion = net.eval(), diffusion.to(device)
        self.config, self.run_dir, self.class_names = config, Path(run_dir), class_names
        self.device, self.step = device, step

    @classmethod
    def from_state(cls, ckpt: dict[str, Any], config: DDPMConfig, run_dir: Path, device: torch.device):
        """The EMA U-Net and its diffusion process from a loaded checkpoint."""
        meta = ckpt["meta"]
        net, diffusion = build(config, meta["channels"], meta["num_classes"])
        load_weights(net, ckpt["ema"]["shadow"] if ckpt.get("ema") else ckpt["model"]["unet"], run_dir, config)
        return cls(net.to(device), diffusion, config, run_dir, tuple(meta["class_names"]), device, int(ckpt["step"]))

    @property
    def num_classes(self) -> int:
        return self.net.num_classes

    def image_shape(self) -> tuple[int, int, int]:
        return (self.net.in_channels, self.net.image_size, self.net.image_size)

    def parameter_count(self) -> int:
        return count_parameters(self.net)

    @classmethod
    def options(cls, config: DDPMConfig, num_classes: int) -> dict[str, Option]:
        c = config
        options = [
            Option("sampler", str, c.sampler, "ddim or dpm++ (DPM-Solver++ 2M; any number of steps), or ddpm "
                   "(ancestral, all num_steps steps)", choices=SAMPLERS),
            Option("steps", int, min(c.sampler_steps, c.num_steps), f"steps of ddim and dpm++ (ddpm always runs all {c.num_steps})",
                   low=1, high=c.num_steps),
            Option("eta", float, c.eta, "DDIM eta: 0 deterministic, 1 fresh noise at every step", low=0, high=1),
            Option("spacing", str, "uniform", "timestep spacing of ddim and dpm++", choices=SPACINGS),
        ]
        if num_classes:
            options.append(Option("guidance", float, c.guidance,
                                  "classifier-free guidance w: 0 unconditional, 1 conditional, > 1 guided",
                                  low=0, high=50))
        return {o.name: o for o in options}

    def sample(self, n: int, labels: torch.Tensor | None = None, seed: int = 0, **options: Any) -> torch.Tensor:
        if options.get("sampler", self.config.sampler) == "ddpm":
            if options.get("steps") not in (None, self.diffusion.num_steps):
                raise ValueError(f"option 'steps' = {options['steps']}: the ddpm sampler runs all "
                                 f"{self.diffusion.num_steps} steps; for fewer use sampler='ddim' (eta=1 is its "
                                 f"stochastic version)")
        if options.get("sampler", self.config.sampler) != "ddim" and options.get("eta") is not None:
            raise ValueError("option 'eta' belongs to the DDIM sampler; use sampler='ddim'")
        return super().sample(n, labels, seed, **options)

    def _sample(self, n: int, labels: torch.Tensor | None, seed: int, **options: Any) -> torch.Tensor:
        return to_uint8(self.sample_x0(n, labels, seed, **options)).cpu()

    def sample_x0(self, n: int, labels: torch.Tensor | None, seed: int, sampler: str = "ddim", steps: int = 50,
                  eta: float = 0.0, spacing: str = "uniform", guidance: float | None = None,
                  callback: Callback | None = None) -> torch.Tensor:
        """n float images in [-1, 1] on the model's device, options already checked (see :meth:`sample`)."""
        method = {"ddpm": lambda: Ancestral(), "ddim": lambda: DDIM(steps, eta, spacing),
                  "dpm++": lambda: DPMSolverPP(steps, spacing)}[sampler]()
        y = labels.to(self.device) if labels is not None else None
        with autocast(self.device, self.config.amp):
            return sample(self.diffusion, self.net, (n, *self.image_shape()), method, y=y,
                          guidance=guidance if y is not None else None, null_class=self.net.null_class,
                          generator=torch.Generator().manual_seed(seed), device=self.device, callback=callback)

    def eval_settings(self) -> list[tuple[str, dict[str, Any]]]:
        sampler = "ddim" if self.config.sampler == "ddpm" else self.config.sampler
        return [(setting_name(sampler, s), {"sampler": sampler, "steps": s}) for s in self.config.eval_steps]

    def timed_sample(self, sampler: str, steps: int, n: int = 100, seed: int = 0) -> tuple[float, torch.Tensor]:
        """(wall-clock seconds per 100 images, the n uint8 images) for one sampler setting."""
        options = {"sampler": sampler} if sampler == "ddpm" else {"sampler": sampler, "steps": steps}
        images: list[torch.Tensor] = []
        seconds = seconds_per_100(lambda k: images.append(self.sample(k, seed=seed, **options)), n, self.device)
        return seconds, images[0]

    def sampler_paths(self) -> dict[str, Path]:
        """Timing grids written by :func:`measure_samplers`, by setting name ('ddim-10', ..., 'ddpm-1000')."""
        return {p.stem.removeprefix("sampler_"): p for p in sorted(self.folder.samples.glob("sampler_*.png"))}


def measure_samplers(trained: TrainedDDPM) -> dict[str, float]:
    """Time DDIM at each of ``ddim_steps`` and DDPM at all steps; save each setting's grid."""
    cfg, out = trained.config, {}
    settings = [("ddim", s, cfg.timing_images) for s in cfg.ddim_steps]
    if cfg.ddpm_images:
        settings.append(("ddpm", cfg.num_steps, cfg.ddpm_images))
    for sampler, steps, n in settings:
        name = setting_name(sampler, steps)
        out[name], images = trained.timed_sample(sampler, steps, n, seed=cfg.seed + 2)
        save_grid(images, trained.folder.samples / f"sampler_{name}.png", nrow=min(n, 10))
    return out
