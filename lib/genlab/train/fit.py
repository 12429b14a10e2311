"""The one training loop of every model: train-or-resume, logging, grids, checkpoints, stops.

A model builds its networks and optimizers into a :class:`TrainState`, writes a ``step_fn``
(one optimisation step on one batch, returning scalars) and calls :func:`fit`. ``fit``
resumes from the run folder's checkpoint when there is one (refusing a run whose stored
config differs), logs ``history.csv``, writes sample grids, checkpoints atomically, stops
cleanly on non-finite values (keeping the last good checkpoint) and on SIGUSR1 or a time
budget (saving a checkpoint first, so a requeued job resumes).

Under data parallelism (:mod:`genlab.train.distributed`) every rank runs this loop on its
shard of each global batch; logged scalars are averaged over ranks; rank 0 alone writes the
config, history, grids, loggers and checkpoints (the others wait for each checkpoint); a stop
(SIGUSR1 on any rank, or the time budget) is agreed by all ranks at the same step.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import torch

from ..base.config import RunConfig
from ..base.files import remove_stale_temps, write_json
from ..base.run_folder import RunFolder
from ..base.runlog import History, Loggers, Progress, format_seconds
from ..data import DeviceBatches
from ..plots import make_grid, save_grid
from . import distributed
from .allocator import keep_freed_memory
from .checkpoint import RunMismatchError, TrainState, check_resumable, load_checkpoint, save_checkpoint
from .devices import set_rng_state
from .signals import TrainingInterrupted, stop_on_sigusr1, stop_requested

StepFn = Callable[[int, torch.Tensor, torch.Tensor], dict[str, Any]]


# GAN runs: grids in a row with every pixel black or white before the run is stopped as collapsed.
SATURATION_GRIDS = 3


class DivergenceError(FloatingPointError):
    """Training produced non-finite values; the last good checkpoint was kept."""


@dataclass
class FitResult:
    run_dir: Path
    step: int
    total_steps: int
    train_seconds: float
    resumed_from: int
    history: list[dict[str, float]] = field(default_factory=list)
    loggers: Loggers | None = None

    def finish(self, metrics: dict[str, Any]) -> None:
        """Hand the final metrics (metrics.json) to the run's loggers (W&B summary) and close them."""
        if self.loggers is not None:
            self.loggers.summary(metrics)
            self.loggers.close()
            self.loggers = None


def fit(config: RunConfig, state: TrainState, step_fn: StepFn, batches: DeviceBatches, *,
        meta: dict[str, Any], sample_fn: Callable[[int], torch.Tensor] | None = None,
        divergence_hint: str = "lower the learning rate", log_every: int = 10,
        saturation_grids: int = 0) -> FitResult:
    """Train ``state`` as ``config`` says (run folder, epochs/max_steps, cadences, budget), or resume.

    ``step_fn(step, x0, y)`` does one optimisation step on a batch (x0: B x C x H x W in
    [-1, 1], y: B labels) and returns scalars to log (tensors are fine; they are read
    once per log). ``sample_fn(step)`` returns uint8 images (N x C x H x W) for a grid
    saved as ``samples/step_XXXXXX.png``; it must not consume the global RNG. ``meta``
    (JSON-able: channels, class names, ...) is stored in the checkpoint to rebuild the model.
    ``saturation_grids`` > 0: stop with :class:`DivergenceError` when that many grids in a row are
    saturated (every pixel 0 or 255: a collapsed GAN generator whose tanh output sits at -1/+1).
    """
    name, folder = config.model, RunFolder(config.run_dir)
    main = distributed.is_main()
    steps_per_epoch = batches.steps_per_epoch
    total_steps = config.total_steps(steps_per_epoch)
    sample_every, checkpoint_every = config.sample_every * steps_per_epoch, config.checkpoint_every * steps_per_epoch
    folder.path.mkdir(parents=True, exist_ok=True)
    if main:  # a run killed mid-write (kill -9, OOM killer) leaves the temp file of that write behind
        remove_stale_temps(folder.path)
    start, train_seconds = 0, 0.0
    if folder.checkpoint.exists():
        ckpt = load_checkpoint(folder.checkpoint, map_location="cpu")
        if ckpt.get("model_name", name) != name:
            raise RunMismatchError(f"{folder.path} holds a '{ckpt.get('model_name')}' run, not '{name}'; "
                                   f"choose another 'run' name")
        check_resumable(folder.path, ckpt["config"], config)
        state.restore(ckpt)
        set_rng_state(ckpt["rng"])
        distributed.restore_device_rng(ckpt["rng"], batches.images.device)
        start, train_seconds = int(ckpt["step"]), float(ckpt.get("train_seconds", 0.0))
        if main:
            print(f"[{name}] resuming {folder.path} from step {start} "
                  f"({format_seconds(train_seconds)} trained so far)", flush=True)
    distributed.broadcast_modules(*state.modules.values(), *([state.ema.shadow] if state.ema else []))
    w = distributed.world()
    if w.distributed and main:
        print(f"[{name}] data parallel: {w.world_size} processes ({torch.distributed.get_backend()}), global batch "
              f"{config.batch_size} = {w.world_size} x {config.batch_size // w.world_size}", flush=True)
    if main:
        write_json(folder.config, {**config.to_dict(), "model": name, "meta": meta})
    history = History(folder.history)
    history.truncate(start)
    loggers = Loggers.for_run(folder.path, config.logger, config.tensorboard, {**config.to_dict(), "model": name},
                         f"{config.run}/{name}", enabled=main)
    progress = Progress(total_steps, name, start=start, printer=print if main else _quiet)

    sums: dict[str, Any] = {}
    count = 0

    def log(step: int) -> None:
        """Append the means of the scalars since the last row to the history; stop on a non-finite one."""
        nonlocal sums, count
        if not count:
            return
        means = distributed.mean_scalars({k: float(v) / count for k, v in sums.items()})
        bad = [k for k, v in means.items() if not math.isfinite(v)]
        if bad:
            raise DivergenceError(
                f"[{name}] non-finite {', '.join(bad)} at step {step} "
                f"({', '.join(f'{k}={means[k]}' for k in bad)}); training stopped and the last good "
                f"checkpoint in {folder.checkpoint} was kept. Try: {divergence_hint}")
        history.append({"step": step, "epoch": step / steps_per_epoch, "seconds": train_seconds, **means})
        loggers.scalars(step, means)
        progress.update(step, means, force=step == total_steps)
        sums, count = {}, 0

    def save(step: int) -> None:
        # A row at every checkpoint: a resumed run averages the same steps into each row as an uninterrupted one.
        log(step)
        if not state.all_finite():
            raise DivergenceError(f"[{name}] parameters became non-finite before step {step}; the last good "
                                  f"checkpoint in {folder.checkpoint} was kept. Try: {divergence_hint}")
        if main:
            # History first: a kill between the two leaves rows past the checkpoint, which resuming drops
            # (the other order would lose the rows up to the checkpoint for good).
            history.save()
            save_checkpoint(folder.checkpoint, state.checkpoint(name, config.to_dict(), step, train_seconds, meta))
        distributed.barrier()  # no rank moves on (or exits) before the checkpoint is on disk

    if batches.images.device.type == "cpu":
        keep_freed_memory()  # each step's activations are freed and faulted back in otherwise; see allocator.py
    for m in state.modules.values():
        m.train()
    t_call, step, done, saturated = time.perf_counter(), start, False, 0
    try:
        with stop_on_sigusr1():
            while step < total_steps:
                t0 = time.perf_counter()
                x0, y = batches.batch(step)
                scalars = step_fn(step, x0, y)
                for k, v in scalars.items():
                    sums[k] = sums.get(k, 0.0) + (v.detach() if torch.is_tensor(v) else v)
                count += 1
                step += 1
                train_seconds += time.perf_counter() - t0
                if step % log_every == 0 or step == total_steps:
                    log(step)
                if sample_fn is not None and ((sample_every and step % sample_every == 0) or step == total_steps):
                    flat = False
                    if main:
                        images = sample_fn(step)
                        save_grid(images, folder.sample_grid(step))
                        loggers.image("samples", step, make_grid(images))
                        flat = is_saturated(images)
                    if saturation_grids:
                        saturated = saturated + 1 if distributed.any_rank(flat) else 0  # every rank stops together
                        if saturated >= saturation_grids:
                            raise DivergenceError(
                                f"[{name}] samples saturated at step {step}: every pixel of the last "
                                f"{saturated} sample grids is black or white (outputs stuck at -1/+1), so the "
                                f"generator has collapsed; training stopped and the last checkpoint in "
                                f"{folder.checkpoint} was kept (it may already be collapsed: compare its grids "
                                f"in {folder.samples}). Try: {divergence_hint}")
                if checkpoint_every and step % checkpoint_every == 0 and step < total_steps:
                    save(step)
                budget_hit = config.time_budget_s and time.perf_counter() - t_call > config.time_budget_s
                stop = distributed.any_rank(bool(stop_requested() or budget_hit))  # all ranks stop at one step
                if stop and step < total_steps:
                    save(step)
                    why = ("a stop signal (SIGUSR1 or SIGTERM)" if stop_requested() or not budget_hit
                           else f"the time budget ({config.time_budget_s:g} s)")
                    raise TrainingInterrupted(f"[{name}] stopped at step {step}/{total_steps} on {why}; "
                                              f"checkpoint saved in {folder.checkpoint}: run again to resume")
            if distributed.any_rank(step > start or not folder.checkpoint.exists()):
                save(step)
        done = True
    finally:
        if not done:  # on success the model's train() passes the final metrics first (FitResult.finish)
            loggers.close()
        for m in state.modules.values():
            m.eval()
    return FitResult(folder.path, step, total_steps, train_seconds, start, history.rows, loggers)


def is_saturated(images: torch.Tensor) -> bool:
    """Every pixel of the uint8 grid at 0 or 255. Real digits and a healthy generator have grey edges, so
    even an all-dark grid of good samples has some mid-tone pixels; a generator stuck at tanh = +-1 has none."""
    return bool(((images == 0) | (images == 255)).all())


def _quiet(*_: Any, **__: Any) -> None:
    """Progress printer of ranks other than 0."""
