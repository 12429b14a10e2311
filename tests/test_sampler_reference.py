"""genlab's samplers against diffusers' schedulers: the same network and noise give the same images."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from genlab.sampling.diffusion import GaussianDiffusion
from genlab.sampling.samplers import DDIM, DPMSolverPP, sample

diffusers = pytest.importorskip("diffusers", reason="diffusers is the reference (pip install -e '.[dev]')")

SHAPE = (3, 1, 8, 8)


class Denoiser(nn.Module):
    """A fixed smooth eps-predictor: a random conv net, so x0 predictions stay in a sane range."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.net = nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.SiLU(), nn.Conv2d(8, 1, 3, padding=1))

    def forward(self, x, t, y=None):
        return 0.5 * x + 0.1 * torch.tanh(self.net(x))


def reference(scheduler, model: nn.Module, seed: int, **step_options) -> torch.Tensor:
    x = torch.randn(SHAPE, generator=torch.Generator().manual_seed(seed))
    with torch.no_grad():
        for t in scheduler.timesteps:
            x = scheduler.step(model(x, torch.full((SHAPE[0],), int(t))), t, x, **step_options).prev_sample
    return x


@pytest.mark.parametrize("steps", [5, 10, 20, 50])
def test_dpm_solver_pp_matches_diffusers(steps):
    d, model = GaussianDiffusion(1000, "linear"), Denoiser()
    ours = sample(d, model, SHAPE, DPMSolverPP(steps), generator=torch.Generator().manual_seed(1), clip=False)
    scheduler = diffusers.DPMSolverMultistepScheduler(num_train_timesteps=1000, beta_schedule="linear",
                                                      algorithm_type="dpmsolver++", solver_order=2)
    scheduler.set_timesteps(timesteps=DPMSolverPP(steps).timesteps(d)[::-1])
    theirs = reference(scheduler, model, seed=1)
    assert theirs.abs().max() > 0.1  # a real image-scale result, not a degenerate one
    torch.testing.assert_close(ours, theirs, atol=2e-4, rtol=1e-4)


@pytest.mark.parametrize("steps", [10, 50])
def test_ddim_matches_diffusers(steps):
    d, model = GaussianDiffusion(1000, "linear"), Denoiser()
    ours = sample(d, model, SHAPE, DDIM(steps, eta=0.0, spacing="leading"),
                  generator=torch.Generator().manual_seed(2), clip=True)
    scheduler = diffusers.DDIMScheduler(num_train_timesteps=1000, beta_schedule="linear", clip_sample=True,
                                        set_alpha_to_one=True, timestep_spacing="leading")
    scheduler.set_timesteps(steps)
    theirs = reference(scheduler, model, seed=2, use_clipped_model_output=True)  # genlab re-derives eps after clipping
    torch.testing.assert_close(ours, theirs, atol=2e-4, rtol=1e-4)
