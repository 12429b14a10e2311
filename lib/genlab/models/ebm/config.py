"""Every parameter of an EBM run (the notebook's ``parameters`` cell)."""

from __future__ import annotations

from dataclasses import dataclass

from ...base.config import RunConfig, param
from .nets import IMAGE_SIZES
from ...train.precision import AMP, AMP_HELP


@dataclass(frozen=True)
class EBMConfig(RunConfig):
    model = "ebm"

    image_size: int = param(28, choices=IMAGE_SIZES, arch=True, help="training resolution in pixels")
    conditional: bool = param(True, arch=True,
                              help="class-conditional energies E(x, y) = -f(x)[y] with a classifier head (JEM)")
    base_channels: int = param(32, low=4, high=512, arch=True, help="width of the first conv layer (doubles per stage, up to 4x)")
    spectral_norm: bool = param(False, arch=True, help="spectral normalisation of every layer (smoother energies)")
    epochs: int = param(8, low=1, high=100_000, resumable=True, help="passes over the training split")
    batch_size: int = param(32, low=2, high=8192, help="real images (and negatives) per step")
    amp: str = param("auto", choices=AMP, resumable=True, help=AMP_HELP)
    lr: float = param(5e-4, low=0, low_open=True, high=1, help="Adam learning rate")
    beta1: float = param(0.0, low=0, high=0.999, help="Adam beta1 (0: no momentum, the usual EBM choice)")
    beta2: float = param(0.999, low=0, high=0.99999, help="Adam beta2")
    alpha: float = param(0.1, low=0, high=100, help="energy-magnitude regulariser alpha * (E(x+)^2 + E(x-)^2)")
    ce_weight: float = param(1.0, low=0, high=100, help="weight of the classifier's cross-entropy on real images (conditional)")
    langevin_steps: int = param(20, low=1, high=10_000, help="Langevin steps per training batch")
    step_size: float = param(20.0, low=0, low_open=True, help="Langevin step: x <- x - (step_size/2) grad_x E + noise z")
    noise: float = param(0.005, low=0, help="Langevin noise standard deviation")
    grad_clamp: float = param(0.03, low=0, low_open=True, help="clamp each entry of grad_x E to +-grad_clamp")
    buffer_size: int = param(512, low=1, high=10_000_000, help="replay buffer of persistent chains")
    reinit: float = param(1.0, low=0, high=1,
                          help="fraction of chain starts drawn fresh from noise (1 = short-run chains from noise)")
    data_noise: float = param(0.005, low=0, high=1, help="Gaussian noise added to real images")
    clip_grad: float = param(0.1, low=0, low_open=True, help="clip the parameters' gradient norm to this")
    max_energy: float = param(1e3, low=0, low_open=True, resumable=True, help="divergence guard: stop when any |E| exceeds this")
    sample_steps: int = param(60, low=1, high=100_000, resumable=True, help="Langevin steps when generating from fresh noise")
    quench_steps: int = param(10, low=0, high=100_000, resumable=True,
                              help="last sampling steps without noise (a low-temperature finish)")

    def validate(self) -> None:
        if self.buffer_size < self.batch_size:
            raise ValueError(f"parameter 'buffer_size' = {self.buffer_size} is smaller than 'batch_size' = "
                             f"{self.batch_size}: each step draws batch_size distinct chains; raise buffer_size")

    def divergence_advice(self) -> str:
        """What to change when training blows up, with concrete values for this config."""
        return (f"lower lr (e.g. lr = {self.lr / 3:.2g}), use more Langevin steps (e.g. langevin_steps = "
                f"{2 * self.langevin_steps}), or a stronger regulariser (e.g. alpha = {max(2 * self.alpha, 0.1):.2g}); "
                f"spectral_norm = True also helps")
