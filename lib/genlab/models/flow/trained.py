"""A trained flow: the EMA velocity U-Net and its ODE solvers (the ``TrainedModel`` protocol).

Time runs from noise at t = 0 to data at t = 1 (:mod:`genlab.sampling.flow_matching`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from ...data import to_uint8
from ...sampling.ode import GRIDS, SOLVERS, make_solver, sample_flow, steps_for, time_grid
from ...train.checkpoint import load_weights
from ...train.devices import count_parameters
from ...train.timing import seconds_per_100
from ...train.precision import autocast
from ..protocol import Option, TrainedBase, setting_name
from ..unet import UNet
from .config import FlowConfig


class VelocityUNet(UNet):
    """The shared U-Net as a velocity field v(x_t, t, y) for t in [0, 1]: it embeds ``t * time_scale``, so
    its sinusoidal time features (periods 1 to 10^4) resolve the unit interval as they resolve 1000 steps."""

    def __init__(self, *args: Any, time_scale: float = 1000.0, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.time_scale = time_scale

    def forward(self, xt: torch.Tensor, t: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        return super().forward(xt, t * self.time_scale, y)


def build(config: FlowConfig, channels: int, num_classes: int) -> VelocityUNet:
    net = VelocityUNet(channels, config.image_size, config.base_channels, config.channel_mults, config.num_res_blocks,
                       config.attn_resolutions, config.attn_heads, config.dropout,
                       num_classes if config.conditional else 0, config.norm_groups, time_scale=config.time_scale)
    return net.to(memory_format=torch.channels_last)  # the layout of the fast CPU/GPU convolutions


class TrainedFlow(TrainedBase):
    """An EMA velocity U-Net, ready to sample with any ODE solver, with the run it came from."""

    kind = "flow"
    config_class = FlowConfig

    def __init__(self, net: VelocityUNet, config: FlowConfig, run_dir: Path, class_names: tuple[str, ...],
                 device: torch.device, step: int = 0):
        self.net, self.config, self.run_dir = net.eval(), config, Path(run_dir)
        self.class_names, self.device, self.step = class_names, device, step
        self.last_nfe = 0  # network evaluations of the latest sample() call (per batch)

    @classmethod
    def from_state(cls, ckpt: dict[str, Any], config: FlowConfig, run_dir: Path, device: torch.device):
        meta = ckpt["meta"]
        net = build(config, meta["channels"], meta["num_classes"])
        load_weights(net, ckpt["ema"]["shadow"] if ckpt.get("ema") else ckpt["model"]["velocity"], run_dir, config)
        return cls(net.to(device), config, run_dir, tuple(meta["class_names"]), device, int(ckpt["step"]))

    @property
    def num_classes(self) -> int:
        return self.net.num_classes

    def image_shape(self) -> tuple[int, int, int]:
        return (self.net.in_channels, self.net.image_size, self.net.image_size)

    def parameter_count(self) -> int:
        return count_parameters(self.net)

    @classmethod
    def options(cls, config: FlowConfig, num_classes: int) -> dict[str, Option]:
        c = config
        options = [
            Option("solver", str, c.solver, "ODE solver: euler (1 evaluation per step), midpoint (2), heun (2, its "
                   "last step Euler: 2 steps - 1 in all), dopri5 (adaptive, the reference)", choices=SOLVERS),
            Option("steps", int, c.solver_steps, "steps of euler, midpoint and heun; dopri5 picks its own",
                   low=1, high=1000),
            Option("grid", str, c.grid, "time grid: uniform, or late (finer steps near the data end)", choices=GRIDS),
            Option("tolerance", float, 1e-5, "dopri5's relative and absolute tolerance", low=1e-8, high=1e-1),
        ]
        if num_classes:
            options.append(Option("guidance", float, c.guidance,
                                  "classifier-free guidance w: 0 unconditional, 1 conditional, > 1 guided",
                                  low=0, high=50))
        return {o.name: o for o in options}

    def sample(self, n: int, labels: torch.Tensor | None = None, seed: int = 0, **options: Any) -> torch.Tensor:
        solver = options.get("solver") or self.config.solver
        if solver == "dopri5" and options.get("steps") is not None:
            raise ValueError("option 'steps' does not apply to solver 'dopri5' (adaptive); set 'tolerance' instead")
        if solver != "dopri5" and options.get("tolerance") is not None:
            raise ValueError(f"option 'tolerance' belongs to solver 'dopri5'; {solver} takes 'steps'")
        return super().sample(n, labels, seed, **options)

    def _sample(self, n: int, labels: torch.Tensor | None, seed: int, **options: Any) -> torch.Tensor:
        return to_uint8(self.sample_x(n, labels, seed, **options)).cpu()

    def sample_x(self, n: int, labels: torch.Tensor | None, seed: int, solver: str = "heun", steps: int = 4,
                 grid: str = "uniform", tolerance: float = 1e-5, guidance: float | None = None, callback=None,
                 noise: torch.Tensor | None = None) -> torch.Tensor:
        """n float images (x at t = 1, clamped to [-1, 1]) on the model's device, options already checked.

        ``callback(i, t, x)`` sees the state at every grid time; ``noise``: the x at t = 0 (else drawn from ``seed``).
        """
        kwargs = {"dopri5": {"rtol": tolerance, "atol": tolerance}, "heun": {"euler_last": True}}.get(solver, {})
        method = make_solver(solver, **kwargs)
        times = [0.0, 1.0] if solver == "dopri5" else time_grid(steps, grid)
        y = labels.to(self.device) if labels is not None else None
        with autocast(self.device, self.config.amp):
            x, self.last_nfe = sample_flow(self.net, (n, *self.image_shape()), method, times, y=y,
                                           guidance=guidance if y is not None else None, null_class=self.net.null_class,
                                           generator=torch.Generator().manual_seed(seed), device=self.device,
                                           noise=noise, callback=callback)
        return x.float().clamp(-1, 1)

    def options_for(self, solver: str, nfe: int) -> dict[str, Any]:
        """The sample options that spend ``nfe`` evaluations with ``solver`` on the configured grid."""
        return {"solver": solver, "steps": steps_for(solver, nfe)}

    def eval_settings(self) -> list[tuple[str, dict[str, Any]]]:
        """Settings named by solver and NFE ('heun-8'): NFE, not steps, is what costs."""
        solver = "heun" if self.config.solver == "dopri5" else self.config.solver
        return [(setting_name(solver, k), self.options_for(solver, k)) for k in self.config.eval_nfe]

    def timed_sample(self, n: int = 100, seed: int = 0, **options: Any) -> tuple[float, torch.Tensor]:
        """(wall-clock seconds per 100 images, the n uint8 images) for one setting."""
        images: list[torch.Tensor] = []
        seconds = seconds_per_100(lambda k: images.append(self.sample(k, seed=seed, **options)), n, self.device)
        return seconds, images[0]
