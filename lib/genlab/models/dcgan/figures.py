"""Figures of the DCGAN chapter (besides the shared ones in :mod:`genlab.plots`)."""

from __future__ import annotations

from ...eval.truncation import truncation_table  # noqa: F401 (the chapter's table; shared with StyleGAN)
from ...plots import strip


def show_interpolation(trained, steps: int = 10, label: int = 3, seed: int = 2):
    """Samples along a straight line in z between two latent vectors, the class held fixed."""
    title = f"interpolation in z (class {trained.class_names[label]})" if trained.num_classes else "interpolation in z"
    return strip(trained.interpolate(steps=steps, label=label, seed=seed), title=title)
