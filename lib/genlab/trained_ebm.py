"""A trained energy-based model: sampling, energies, denoising, in-painting and their figures.

:class:`TrainedEBM` wraps an energy network (genlab.ebm.EnergyNet) with its config and
replay buffer. Everything here runs Langevin dynamics (theory/ebm.ipynb eq. (eq-langevin))
on the *input* with the parameters frozen (genlab.langevin), so gradients flow to images,
never to weights. Images go in and come out as uint8 ``N x C x H x W`` tensors.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import matplotlib.pyplot as plt
import torch
from torch import nn

from .data import load_dataset, to_float, to_uint8
from .langevin import input_gradients_only, langevin, uniform_noise
from .plots import show_grid
from .runlog import RunFiles
from .training import resolve_path

if TYPE_CHECKING:
    from .ebm import EBMConfig

# Options of TrainedEBM.generate / `genlab sample` besides n, labels and seed.
SAMPLE_OPTIONS = ("steps", "step_size", "noise", "init")
INITS = ("noise", "buffer")


def ood_auroc(e_in: torch.Tensor, e_out: torch.Tensor) -> float:
    """P(E(in-distribution) < E(out-of-distribution)): 1 = energies separate the sets perfectly, 0.5 = chance."""
    e_in, e_out = e_in.double().flatten(), e_out.double().flatten()
    less = (e_in[:, None] < e_out[None, :]).double().mean()
    ties = (e_in[:, None] == e_out[None, :]).double().mean()
    return float(less + 0.5 * ties)


class TrainedEBM(RunFiles):
    """An energy network ready to sample, with the config, run directory and replay buffer it came from."""

    def __init__(self, net: nn.Module, config: "EBMConfig", run_dir: Path, class_names: tuple[str, ...],
                 device: torch.device, step: int = 0, buffer: torch.Tensor | None = None):
        self.net, self.config, self.run_dir = net.eval(), config, run_dir
        self.class_names, self.device, self.step, self.buffer = class_names, device, step, buffer
        self._test = None

    num_classes = 0  # unconditional: `genlab sample` passes no labels

    @property
    def shape(self) -> tuple[int, int, int]:
        return (self.net.channels, self.net.image_size, self.net.image_size)

    def _floats(self, images: torch.Tensor) -> torch.Tensor:
        """uint8 images -> floats in [-1, 1] on the model's device (floats pass through)."""
        return to_float(images.to(self.device)) if images.dtype == torch.uint8 else images.to(self.device).float()

    def _generator(self, seed: int) -> torch.Generator:
        return torch.Generator(device=self.device).manual_seed(seed)

    def _options(self, options: dict) -> dict:
        unknown = sorted(set(options) - set(SAMPLE_OPTIONS))
        if unknown:
            raise ValueError(f"EBM sampling has no option {', '.join(map(repr, unknown))}; it accepts "
                             f"{', '.join(SAMPLE_OPTIONS)} (sampler, eta and guidance are for DDPM)")
        init = options.get("init") or "noise"
        if init not in INITS:
            raise ValueError(f"option 'init' = {init!r} unknown; choose 'noise' (fresh chains) or 'buffer' "
                             f"(continue the replay buffer's chains)")
        if init == "buffer" and self.buffer is None:
            raise ValueError("option 'init' = 'buffer' but this checkpoint holds no replay buffer; use init='noise'")
        c = self.config
        steps = c.sample_steps if options.get("steps") is None else int(options["steps"])
        step_size = c.step_size if options.get("step_size") is None else float(options["step_size"])
        noise = c.noise if options.get("noise") is None else float(options["noise"])
        return {"steps": steps, "step_size": step_size, "noise": noise, "init": init}

    def starts(self, n: int, init: str = "noise", seed: int = 0) -> torch.Tensor:
        """n chain starts (floats n x C x H x W): uniform noise, or random replay-buffer entries."""
        g = self._generator(seed)
        if init == "buffer":
            idx = torch.randint(len(self.buffer), (n,), generator=torch.Generator().manual_seed(seed))
            return self.buffer[idx.to(self.buffer.device)].to(self.device)
        return uniform_noise((n, *self.shape), self.device, g)

    def sample(self, n: int, seed: int = 0, every: int = 0, **options):
        """Float samples (n x C x H x W in [-1, 1]); with ``every > 0`` also the chain snapshots."""
        o = self._options(options)
        x = self.starts(n, o["init"], seed)
        return langevin(self.net, x, o["steps"], o["step_size"], o["noise"], self.config.grad_clamp,
                        every=every, generator=self._generator(seed + 1))

    def generate(self, n: int, labels: torch.Tensor | None = None, seed: int = 0, steps: int | None = None,
                 step_size: float | None = None, noise: float | None = None, init: str = "noise",
                 **unknown) -> torch.Tensor:
        """n uint8 images (n x C x H x W, CPU) after ``steps`` Langevin steps from ``init``.

        ``init``: 'noise' (fresh uniform noise) or 'buffer' (continue stored replay-buffer chains).
        None means the config's value (``sample_steps``, the training ``step_size`` and ``noise``).
        ``labels`` are ignored (the model is unconditional); any other option raises ValueError.
        """
        options = {"steps": steps, "step_size": step_size, "noise": noise, "init": init, **unknown}
        return to_uint8(self.sample(n, seed, **options)).cpu()

    def chain(self, n: int = 8, every: int | None = None, seed: int = 0, **options) -> list[torch.Tensor]:
        """Snapshots of n Langevin chains (uint8 n x C x H x W each), every ``every`` steps (default: 8 columns)."""
        steps = self._options(options)["steps"]
        every = every or max(1, steps // 8)
        _, snaps = self.sample(n, seed, every=every, **options)
        return [to_uint8(s).cpu() for s in snaps]

    @torch.no_grad()
    def energies(self, images: torch.Tensor, batch_size: int = 500) -> torch.Tensor:
        """E(x) for uint8 (or float in [-1, 1]) images N x C x H x W -> float N on the CPU."""
        with input_gradients_only(self.net), torch.no_grad():
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
                "generated": self.generate(n, seed=seed, **options),
                "uniform noise": torch.randint(0, 256, real.shape, generator=g, dtype=torch.uint8),
                "pixel-shuffled real": torch.gather(flat, 1, perm).view_as(real)}

    def ood_energies(self, real: torch.Tensor, seed: int = 0, **options) -> dict[str, torch.Tensor]:
        return {name: self.energies(x) for name, x in self.ood_sets(real, seed, **options).items()}

    def show_energy_histograms(self, real: torch.Tensor, seed: int = 0, bins: int = 40, **options):
        """Histograms of E(x) for the sets of :meth:`ood_sets` with AUROC(real vs each) in the legend."""
        energies = self.ood_energies(real, seed, **options)
        ref = energies["real (test)"]
        fig, ax = plt.subplots(figsize=(7, 3.5))
        # Out-of-distribution energies can be orders of magnitude above the real ones: bins are
        # uniform in asinh(E / scale) and the axis is symlog, so both ends stay readable.
        scale = max(float(ref.std()), 1e-3)
        t = {k: torch.asinh(e.double() / scale) for k, e in energies.items()}
        lo, hi = min(float(v.min()) for v in t.values()), max(float(v.max()) for v in t.values())
        edges = (torch.sinh(torch.linspace(lo, hi + 1e-9, bins + 1, dtype=torch.float64)) * scale).numpy()
        for name, e in energies.items():
            label = name if name == "real (test)" else f"{name} (AUROC {ood_auroc(ref, e):.2f})"
            ax.hist(e.numpy(), bins=edges, alpha=0.55, label=label)
        ax.set_xscale("symlog", linthresh=scale)
        ax.set_xlabel("energy E(x) (low = data-like; symlog axis)")
        ax.set_ylabel("images")
        ax.set_title("energies of real, generated and out-of-distribution images")
        ax.legend(fontsize=8)
        fig.tight_layout()
        return ax

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
        o = self._options({**options, "steps": steps})
        done = langevin(self.net, start, o["steps"], o["step_size"], o["noise"], self.config.grad_clamp,
                        mask=mask, generator=self._generator(seed + 1))
        return to_uint8(start).cpu(), to_uint8(done).cpu()

    def show_restoration(self, images: torch.Tensor, seed: int = 0, sigma: float = 0.4, denoise_steps: int = 60,
                         inpaint_steps: int | None = None):
        """Rows: originals, noisy, denoised, lower half masked, in-painted."""
        noisy, denoised = self.denoise(images, sigma, denoise_steps, seed=seed)
        masked, completed = self.inpaint(images, inpaint_steps, seed=seed)
        rows = {"original": images.cpu(), f"noisy (sigma {sigma:g})": noisy,
                f"denoised ({denoise_steps} descent steps)": denoised, "lower half unknown": masked,
                "in-painted by Langevin": completed}
        fig, axes = plt.subplots(len(rows), 1, figsize=(1.0 * len(images), 1.35 * len(rows)))
        for ax, (name, row) in zip(axes, rows.items()):
            show_grid(row, nrow=len(images), ax=ax)
            ax.set_title(name, fontsize=9)
        fig.tight_layout()
        return fig

    def show_chain(self, n: int = 6, every: int | None = None, seed: int = 0, **options):
        """One row per Langevin chain from fresh noise, one column every ``every`` steps."""
        steps = self._options(options)["steps"]
        every = every or max(1, steps // 8)
        snaps = self.chain(n, every, seed, **options)
        grid = torch.stack(snaps, 1).flatten(0, 1)
        ax = show_grid(grid, nrow=len(snaps))
        cols = [min(i * every, steps) for i in range(len(snaps))]
        ax.set_title(f"Langevin from noise: columns at steps {', '.join(map(str, cols))}", fontsize=9)
        return ax
