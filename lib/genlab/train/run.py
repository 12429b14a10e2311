"""The training skeleton every model kind runs: devices and ranks, data, seeding, batches, fit, metrics.

``train(config, recipe)`` is ``genlab.models.get(kind).train(config)``: it sets up the device (and the
process group under torchrun or Slurm), loads the training images, seeds, asks the kind's ``recipe``
for its :class:`~genlab.train.recipe.Recipe`, feeds this rank's rows of each global batch to
:func:`~genlab.train.fit.fit` (train or resume), and on rank 0 writes the final ``metrics.json``
(the shared fields, then the kind's own) and closes the loggers.
"""

from __future__ import annotations

from typing import Any, Callable

from ..base.paths import resolve_path
from ..base.run_folder import RunFolder
from ..data import DeviceBatches, ImageData, load_dataset
from . import distributed
from .devices import count_parameters, seed_everything
from .fit import fit


def training_data(config) -> ImageData:
    """The training split of ``config.dataset`` at ``config.image_size``."""
    return load_dataset(config.dataset, "train", image_size=config.image_size, data_dir=resolve_path(config.data_dir))


def train(config, recipe: Callable[..., Any], data: Callable[[Any], ImageData] | None = None):
    """Train (or resume) as ``config`` says with the kind's ``recipe(config, data, device)``; the trained model."""
    device = distributed.setup(config.device)
    images = (data or training_data)(config)
    seed_everything(config.seed)  # before the networks are built: the same initial weights on every rank
    r = recipe(config, images, device)
    batches = DeviceBatches(images, config.batch_size, device, seed=config.seed,
                            rows=distributed.rows(config.batch_size))
    result = fit(config, r.state, r.step, batches, meta=images.meta(), sample_fn=r.grid,
                 divergence_hint=r.divergence_hint, saturation_grids=r.saturation_grids)
    trained = r.trained(result.step)
    if not distributed.is_main():
        return trained  # rank 0 alone measures and writes
    shared = dict(model=config.model, dataset=config.dataset, conditional=bool(trained.num_classes), steps=result.step,
                  epochs=result.step / batches.steps_per_epoch, train_seconds=result.train_seconds,
                  parameters=sum(count_parameters(m) for m in r.state.modules.values()), train_images=len(images),
                  processes=distributed.world().world_size, device=str(device))
    result.finish(RunFolder(config.run_dir).update_metrics(**{**shared, **r.metrics(trained)}))
    return trained
