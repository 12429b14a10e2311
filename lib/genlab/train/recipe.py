"""What a model kind trains with: a :class:`Recipe`, handed to the library's skeleton (:mod:`genlab.train.run`).

A kind's ``recipe(config, data, device)`` builds its networks, optimizers and EMA (the ``state``),
one optimisation ``step`` on this process's shard of a batch, the fixed-noise ``grid`` drawn during
training, and the ``trained`` wrapper of the result; everything around that (devices and ranks, data,
seeding, batches, :func:`genlab.train.fit.fit`, rank-0 writing, loggers, the final metrics) is the
skeleton's, the same for every kind.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import torch

from .checkpoint import TrainState
from .fit import StepFn


@dataclass
class Recipe:
    """One kind's training: ``state``, ``step``, ``grid``, ``trained`` and the extra metrics.

    - ``step(step, x0, y)``: one update on this rank's rows of the global batch (average gradients over
      ranks with :func:`genlab.train.distributed.average_gradients` before clipping or stepping);
      returns scalars to log.
    - ``grid(step)``: uint8 images (N x C x H x W) of fixed noise; must not consume the global RNG.
    - ``trained(step)``: the ``Trained<Kind>`` after ``step`` steps (the EMA weights where there are some).
    - ``metrics(trained)``: what this kind adds to ``metrics.json`` (timings, its own scores); rank 0 only.
    - ``saturation_grids``: GANs stop as collapsed after that many all-black-or-white grids (0: never).
    """

    state: TrainState
    step: StepFn
    grid: Callable[[int], torch.Tensor]
    trained: Callable[[int], Any]
    metrics: Callable[[Any], dict[str, Any]] = lambda trained: {}
    divergence_hint: str = "lower the learning rate"
    saturation_grids: int = 0
