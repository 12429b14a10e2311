"""Checkpoints: ``{format, model_name, meta, model, optimizer, ema, extra, config, step, train_seconds, rng}``.

Written atomically, loaded with ``weights_only=True``; a run is resumed only with the same
config (fields marked ``resumable`` may differ).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ..base.config import Config
from ..base.files import atomic_write
from .devices import rng_state
from .ema import EMA

FORMAT = 1  # bump when the layout above changes; older files (no "format" key) are format 1


class CheckpointError(RuntimeError):
    """A checkpoint file that cannot be read (corrupt, truncated, of another model, or too new)."""


class RunMismatchError(ValueError):
    """A run folder holds a run trained with a different configuration or model kind."""


def save_checkpoint(path: str | Path, payload: dict[str, Any]) -> None:
    """Write ``payload`` with ``torch.save`` to a temp file, then rename: never a half-written file."""
    atomic_write(Path(path), lambda fh: torch.save(payload, fh))


def load_checkpoint(path: str | Path, map_location: str | torch.device = "cpu",
                    kind: str | None = None) -> dict[str, Any]:
    """Load a checkpoint with ``weights_only=True``; a damaged or foreign file (or, with ``kind``, one of
    another model kind) raises :class:`CheckpointError`."""
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
    version = ckpt.get("format", 1)
    if not isinstance(version, int) or version > FORMAT:
        raise CheckpointError(f"checkpoint {path} has format {version!r}, newer than this genlab reads "
                              f"(format {FORMAT}); update genlab (git pull; pip install -e .)")
    if kind is not None and ckpt.get("model_name") != kind:
        raise CheckpointError(f"checkpoint {path} holds a {ckpt.get('model_name')!r} model, not a {kind!r}; load "
                              f"it with genlab.models.load_trained (any kind) or pick a {kind} checkpoint")
    return ckpt


def load_weights(module: nn.Module, state: dict[str, Any], path: str | Path, config: Config) -> None:
    """``module.load_state_dict(state)``; weights that do not fit the stored config raise :class:`CheckpointError`."""
    try:
        module.load_state_dict(state)
    except RuntimeError as exc:
        shape = ", ".join(f"{k}={v!r}" for k, v in config.to_dict().items() if k in config.arch_fields())
        first = str(exc).strip().splitlines()[1].strip() if len(str(exc).splitlines()) > 1 else str(exc)
        raise CheckpointError(f"checkpoint {path}: its weights do not fit the network its config describes "
                              f"({shape}; {first}); the file was edited or mixed with another run's: retrain, "
                              f"or restore the checkpoint and config together") from exc


def check_resumable(run_dir: Path, stored: dict[str, Any], config: Config) -> None:
    """Refuse to resume a run whose stored config differs in a field not marked ``resumable``."""
    current, ignore = config.to_dict(), config.resumable_fields()
    diffs = [k for k in sorted(set(stored) | set(current))
             if k not in ignore and stored.get(k) != current.get(k)]
    if diffs:
        detail = ", ".join(f"{k}: {stored.get(k)!r} -> {current.get(k)!r}" for k in diffs)
        raise RunMismatchError(
            f"{run_dir} holds a run trained with a different configuration ({detail}). genlab will not "
            f"overwrite it: choose another 'run' name, or delete {run_dir} to start over")


@dataclass
class TrainState:
    """What a model hands to ``fit``: networks and optimizers by name, optional EMA and extra tensors.

    ``extra`` holds other state to checkpoint (e.g. an EBM's replay buffer); it is
    a dict of tensors updated in place by the step function.
    """

    modules: dict[str, nn.Module]
    optimizers: dict[str, torch.optim.Optimizer]
    ema: EMA | None = None
    extra: dict[str, torch.Tensor] = field(default_factory=dict)

    def checkpoint(self, model_name: str, config: dict, step: int, train_seconds: float,
                   meta: dict | None = None) -> dict[str, Any]:
        return {
            "format": FORMAT,
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
