"""Training utilities shared by every model: seeds, devices, atomic checkpoints,
train-or-resume, EMA, the NaN guard, progress lines, history and TensorBoard.

The heart is :func:`fit`: a model module builds its networks and optimizers,
writes a ``step_fn`` (one optimisation step on one batch, returning scalars)
and calls ``fit``. ``fit`` resumes from ``run_dir/checkpoint.pt`` when it
exists (refusing a run whose stored config differs), logs ``history.csv``,
writes sample grids, checkpoints atomically, stops cleanly on non-finite
values (keeping the last good checkpoint) and on SIGUSR1 or a time budget
(saving a checkpoint first, so a requeued job resumes).
"""

from __future__ import annotations

import copy
import json
import math
import os
import random
import signal
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable

import numpy as np
import torch
from torch import nn

from .data import DeviceBatches
from .files import atomic_write
from .runlog import History, Progress, TensorBoard, format_seconds  # noqa: F401 (re-exported)

CHECKPOINT = "checkpoint.pt"


class CheckpointError(RuntimeError):
    """A checkpoint file that cannot be read (corrupt, truncated, or of another model)."""


class DivergenceError(FloatingPointError):
    """Training produced non-finite values; the last good checkpoint was kept."""


class TrainingInterrupted(RuntimeError):
    """Training stopped early (signal or time budget) after saving a checkpoint; rerun to resume."""


class RunMismatchError(ValueError):
    """``run_dir`` holds a run trained with a different configuration."""


# ----------------------------------------------------------------------------- paths, seeds, devices

def project_root(start: str | Path | None = None) -> Path:
    """The genlab checkout containing ``start`` (default: cwd): the first parent with ``_toc.yml``.

    Falls back to ``start`` itself, so relative paths work outside a checkout too.
    """
    here = Path(start or os.getcwd()).resolve()
    for p in (here, *here.parents):
        if (p / "_toc.yml").exists() and (p / "lib" / "genlab").is_dir():
            return p
    return here


def resolve_path(path: str | Path) -> Path:
    """Absolute paths stay; relative ones resolve against the project root (notebooks run in subfolders)."""
    path = Path(path).expanduser()
    return path if path.is_absolute() else project_root() / path


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch (CPU and all CUDA devices)."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def select_device(name: str = "auto") -> torch.device:
    """``auto`` = CUDA, then Apple MPS, then CPU; or an explicit ``cpu``/``cuda``/``cuda:N``/``mps``."""
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(f"parameter 'device' = '{name}' but CUDA is not available here; use 'auto' or 'cpu'")
    if name == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise ValueError("parameter 'device' = 'mps' but Apple MPS is not available here; use 'auto' or 'cpu'")
    if name != "cpu" and not name.startswith(("cuda", "mps")):
        raise ValueError(f"parameter 'device' = '{name}' unknown; choose auto, cpu, cuda, cuda:N or mps")
    return torch.device(name)


def check_device(param_name: str, name: str) -> None:
    """Config check: ``name`` must be a device spelling :func:`select_device` understands."""
    if name in ("auto", "cpu", "mps", "cuda") or (name.startswith("cuda:") and name[5:].isdigit()):
        return
    raise ValueError(f"parameter '{param_name}' = '{name}' unknown; choose auto, cpu, cuda, cuda:N or mps")


def rng_state() -> dict[str, Any]:
    """All RNG states as tensors and plain values (loadable with ``weights_only=True``)."""
    np_state = np.random.get_state()
    state = {
        "python": random.getstate(),
        "numpy": {"keys": torch.from_numpy(np_state[1].astype(np.int64)), "pos": int(np_state[2]),
                  "has_gauss": int(np_state[3]), "cached_gaussian": float(np_state[4])},
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    """Restore what :func:`rng_state` captured (CUDA states only where CUDA is present)."""
    py = state["python"]
    random.setstate((py[0], tuple(py[1]), py[2]))
    n = state["numpy"]
    np.random.set_state(("MT19937", n["keys"].numpy().astype(np.uint32), n["pos"], n["has_gauss"],
                         n["cached_gaussian"]))
    torch.set_rng_state(state["torch"].cpu())
    if "cuda" in state and torch.cuda.is_available() and len(state["cuda"]) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all([s.cpu() for s in state["cuda"]])


def count_parameters(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


# ----------------------------------------------------------------------------- checkpoints

def save_checkpoint(path: str | Path, payload: dict[str, Any]) -> None:
    """Write ``payload`` with ``torch.save`` to a temp file, then rename: never a half-written file."""
    atomic_write(Path(path), lambda fh: torch.save(payload, fh))


def load_checkpoint(path: str | Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Load a checkpoint with ``weights_only=True``; a damaged file raises :class:`CheckpointError`."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"checkpoint {path} does not exist; train the model first "
                                f"(run its notebook or `python -m genlab train`)")
    try:
        ckpt = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as exc:
        raise CheckpointError(f"checkpoint {path} is corrupt or truncated ({type(exc).__name__}: {exc}); "
                              f"restore it from a backup, or delete it to train again from scratch") from exc
    if not isinstance(ckpt, dict) or not {"model", "config", "step"} <= set(ckpt):
        raise CheckpointError(f"checkpoint {path} is not a genlab checkpoint (keys model, config, step "
                              f"missing); delete it to train again from scratch")
    return ckpt


def write_json(path: str | Path, data: Any) -> None:
    atomic_write(Path(path), lambda fh: fh.write(json.dumps(data, indent=2, sort_keys=True) + "\n"), "w")


def read_json(path: str | Path) -> Any:
    return json.loads(Path(path).read_text())


def update_metrics(run_dir: str | Path, **values: Any) -> dict[str, Any]:
    """Merge ``values`` into ``run_dir/metrics.json`` (nested dicts merge one level deep)."""
    path = Path(run_dir) / "metrics.json"
    metrics = read_json(path) if path.exists() else {}
    for key, value in values.items():
        if isinstance(value, dict) and isinstance(metrics.get(key), dict):
            metrics[key] = {**metrics[key], **value}
        else:
            metrics[key] = value
    write_json(path, metrics)
    return metrics


# ----------------------------------------------------------------------------- EMA

class EMA:
    """Exponential moving average of a model's weights: ``shadow = d * shadow + (1 - d) * model``.

    The effective decay warms up as ``min(decay, (1 + n) / (10 + n))`` over the first
    updates so early averages are not dominated by the random initialisation.
    """

    def __init__(self, model: nn.Module, decay: float = 0.999, warmup: bool = True):
        if not 0.0 <= decay < 1.0:
            raise ValueError(f"parameter 'ema_decay' = {decay} out of range; allowed [0, 1)")
        self.decay = decay
        self.warmup = warmup
        self.num_updates = 0
        self.shadow = copy.deepcopy(model).eval()
        self.shadow.requires_grad_(False)

    def current_decay(self) -> float:
        if not self.warmup:
            return self.decay
        return min(self.decay, (1 + self.num_updates) / (10 + self.num_updates))

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        d = self.current_decay()
        for s, p in zip(self.shadow.parameters(), model.parameters()):
            s.lerp_(p.detach(), 1.0 - d)
        for s, b in zip(self.shadow.buffers(), model.buffers()):
            s.copy_(b)
        self.num_updates += 1

    def state_dict(self) -> dict[str, Any]:
        return {"shadow": self.shadow.state_dict(), "num_updates": self.num_updates, "decay": self.decay}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.shadow.load_state_dict(state["shadow"])
        self.num_updates = int(state["num_updates"])


# ----------------------------------------------------------------------------- stop requests

_stop = threading.Event()


def request_stop(*_: Any) -> None:
    """Ask a running :func:`fit` to checkpoint and stop (also the SIGUSR1 handler)."""
    _stop.set()


# ----------------------------------------------------------------------------- the loop

@dataclass
class FitResult:
    run_dir: Path
    step: int
    total_steps: int
    train_seconds: float
    resumed_from: int
    history: list[dict[str, float]] = field(default_factory=list)

    @property
    def trained_now(self) -> int:
        return self.step - self.resumed_from


@dataclass
class TrainState:
    """What a model hands to :func:`fit`: networks and optimizers by name, optional EMA and extra tensors.

    ``extra`` holds other state to checkpoint (e.g. an EBM's replay buffer); it is
    a dict of tensors updated in place by ``step_fn``.
    """

    modules: dict[str, nn.Module]
    optimizers: dict[str, torch.optim.Optimizer]
    ema: EMA | None = None
    extra: dict[str, torch.Tensor] = field(default_factory=dict)

    def checkpoint(self, model_name: str, config: dict, step: int, train_seconds: float,
                   meta: dict | None = None) -> dict[str, Any]:
        return {
            "model_name": model_name,
            "meta": meta or {},
            "model": {k: m.state_dict() for k, m in self.modules.items()},
            "optimizer": {k: o.state_dict() for k, o in self.optimizers.items()},
            "ema": self.ema.state_dict() if self.ema else None,
            "extra": dict(self.extra),
            "config": config,
            "step": step,
            "train_seconds": train_seconds,
            "rng": rng_state(),
        }

    def restore(self, ckpt: dict[str, Any]) -> None:
        for k, m in self.modules.items():
            m.load_state_dict(ckpt["model"][k])
        for k, o in self.optimizers.items():
            o.load_state_dict(ckpt["optimizer"][k])
        if self.ema is not None and ckpt.get("ema"):
            self.ema.load_state_dict(ckpt["ema"])
        for k, v in (ckpt.get("extra") or {}).items():
            if k in self.extra:
                self.extra[k].copy_(v)
            else:
                self.extra[k] = v

    def all_finite(self) -> bool:
        mods = list(self.modules.values()) + ([self.ema.shadow] if self.ema else [])
        return all(torch.isfinite(p).all() for m in mods for p in m.parameters())


# Config keys that may change between a run and its resumption (they do not change what is learned).
RESUMABLE_KEYS = frozenset({"epochs", "device", "sample_every", "checkpoint_every", "log_every",
                            "tensorboard", "time_budget_s", "eval_samples", "num_samples", "run",
                            "output_dir", "data_dir", "max_steps"})


def check_resumable(run_dir: Path, stored: dict, config: dict, extra_keys: Iterable[str] = ()) -> None:
    ignore = RESUMABLE_KEYS | set(extra_keys)
    diffs = [k for k in sorted(set(stored) | set(config))
             if k not in ignore and stored.get(k) != config.get(k)]
    if diffs:
        detail = ", ".join(f"{k}: {stored.get(k)!r} -> {config.get(k)!r}" for k in diffs)
        raise RunMismatchError(
            f"{run_dir} holds a run trained with a different configuration ({detail}). genlab will not "
            f"overwrite it: choose another 'run' name, or delete {run_dir} to start over")


def fit(run_dir: str | Path, *, model_name: str, config: dict[str, Any], state: TrainState,
        step_fn: Callable[[int, torch.Tensor, torch.Tensor], dict[str, torch.Tensor | float]],
        batches: DeviceBatches, total_steps: int, meta: dict[str, Any] | None = None, sample_fn: Callable[[int], torch.Tensor] | None = None,
        sample_every_steps: int = 0, checkpoint_every_steps: int = 0, log_every: int = 10,
        tensorboard: bool = False, time_budget_s: float = 0.0, divergence_hint: str = "lower the learning rate",
        resumable_keys: Iterable[str] = ()) -> FitResult:
    """Train ``state`` for ``total_steps`` steps in ``run_dir``, or resume where it stopped.

    ``step_fn(step, x0, y)`` does one optimisation step on a batch (x0: B x C x H x W in
    [-1, 1], y: B labels) and returns scalars to log (tensors are fine; they are read
    once per log). ``sample_fn(step)`` returns uint8 images (N x C x H x W) for a grid
    saved as ``samples/step_XXXXXX.png``; it must not consume the global RNG. ``meta``
    (JSON-able: channels, class names, ...) is stored in the checkpoint to rebuild the model.
    """
    from .plots import save_grid, make_grid

    run_dir = Path(run_dir)
    ckpt_path = run_dir / CHECKPOINT
    run_dir.mkdir(parents=True, exist_ok=True)
    start, train_seconds = 0, 0.0
    if ckpt_path.exists():
        ckpt = load_checkpoint(ckpt_path, map_location="cpu")
        if ckpt.get("model_name", model_name) != model_name:
            raise RunMismatchError(f"{run_dir} holds a '{ckpt.get('model_name')}' run, not '{model_name}'; "
                                   f"choose another 'run' name")
        check_resumable(run_dir, ckpt["config"], config, resumable_keys)
        state.restore(ckpt)
        set_rng_state(ckpt["rng"])
        start, train_seconds = int(ckpt["step"]), float(ckpt.get("train_seconds", 0.0))
        print(f"[{model_name}] resuming {run_dir} from step {start} "
              f"({format_seconds(train_seconds)} trained so far)", flush=True)
    write_json(run_dir / "config.json", {**config, "model": model_name, "meta": meta or {}})
    history = History(run_dir / "history.csv")
    history.truncate(start)
    tb = TensorBoard(run_dir / "tensorboard" if tensorboard else None)
    progress = Progress(total_steps, model_name, start=start)

    def save(step: int) -> None:
        if not state.all_finite():
            raise DivergenceError(f"[{model_name}] parameters became non-finite before step {step}; "
                                  f"the last good checkpoint in {ckpt_path} was kept. Try: {divergence_hint}")
        save_checkpoint(ckpt_path, state.checkpoint(model_name, config, step, train_seconds, meta))
        history.save()

    old_handler = None
    if threading.current_thread() is threading.main_thread() and hasattr(signal, "SIGUSR1"):
        old_handler = signal.signal(signal.SIGUSR1, request_stop)
    _stop.clear()
    for m in state.modules.values():
        m.train()
    sums: dict[str, torch.Tensor | float] = {}
    count, t_call, step = 0, time.perf_counter(), start
    try:
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
                means = {k: float(v) / count for k, v in sums.items()}
                bad = [k for k, v in means.items() if not math.isfinite(v)]
                if bad:
                    raise DivergenceError(
                        f"[{model_name}] non-finite {', '.join(bad)} at step {step} "
                        f"({', '.join(f'{k}={means[k]}' for k in bad)}); training stopped and the last good "
                        f"checkpoint in {ckpt_path} was kept. Try: {divergence_hint}")
                row = {"step": step, "epoch": step / batches.steps_per_epoch, "seconds": train_seconds, **means}
                history.append(row)
                tb.scalars(step, means)
                progress.update(step, means, force=step == total_steps)
                sums, count = {}, 0
            if sample_fn is not None and ((sample_every_steps and step % sample_every_steps == 0)
                                          or step == total_steps):
                images = sample_fn(step)
                save_grid(images, run_dir / "samples" / f"step_{step:06d}.png")
                tb.image("samples", step, make_grid(images))
            if checkpoint_every_steps and step % checkpoint_every_steps == 0 and step < total_steps:
                save(step)
            budget_hit = time_budget_s and time.perf_counter() - t_call > time_budget_s
            if (_stop.is_set() or budget_hit) and step < total_steps:
                save(step)
                why = "a stop signal (SIGUSR1)" if _stop.is_set() else f"the time budget ({time_budget_s:g} s)"
                raise TrainingInterrupted(f"[{model_name}] stopped at step {step}/{total_steps} on {why}; "
                                          f"checkpoint saved in {ckpt_path}: run again to resume")
        if step > start or not ckpt_path.exists():
            save(step)
    finally:
        tb.close()
        if old_handler is not None:
            signal.signal(signal.SIGUSR1, old_handler)
        for m in state.modules.values():
            m.eval()
    return FitResult(run_dir, step, total_steps, train_seconds, start, history.rows)


def seconds_per_100(generate: Callable[[int], Any], n: int = 100, device: torch.device | None = None) -> float:
    """Wall-clock seconds that ``generate(n)`` takes, scaled to 100 images (CUDA is synchronised)."""
    sync = (lambda: torch.cuda.synchronize(device)) if device is not None and device.type == "cuda" else (lambda: None)
    sync()
    t0 = time.perf_counter()
    generate(n)
    sync()
    return (time.perf_counter() - t0) * 100.0 / n
