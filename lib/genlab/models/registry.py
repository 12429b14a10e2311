"""The model registry: every model kind by name. Adding a kind is one folder plus one line below.

Each entry names a package that defines ``KIND`` (a :class:`ModelKind`). Packages are imported
on first use, so listing the names costs nothing.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

PACKAGES = {
    "dcgan": "genlab.models.dcgan",
    "ddpm": "genlab.models.ddpm",
    "ebm": "genlab.models.ebm",
    "flow": "genlab.models.flow",
    "stylegan": "genlab.models.stylegan",
}


@dataclass(frozen=True)
class ModelKind:
    """A model kind: its config class, its training entry point and its trained wrapper."""

    name: str
    config: type  # a genlab.base.config.RunConfig subclass
    train: Callable[[Any], Any]  # config -> trained model (train or resume)
    trained: type  # a TrainedBase subclass with from_checkpoint(path, device)
    figures: Any  # the module of the kind's figures
    smoke: dict[str, Any]  # parameters of a seconds-long CPU run (tests, fault injection)


def names() -> list[str]:
    return list(PACKAGES)


def get(name: str) -> ModelKind:
    if name not in PACKAGES:
        raise ValueError(f"model '{name}' unknown; choose one of {', '.join(PACKAGES)}")
    return importlib.import_module(PACKAGES[name]).KIND


def load_trained(checkpoint: str | Path, device: str = "auto"):
    """Rebuild whatever model ``checkpoint`` holds (its ``model_name`` picks the kind)."""
    from ..train.checkpoint import CheckpointError, load_checkpoint
    ckpt = load_checkpoint(checkpoint)
    name = ckpt.get("model_name")
    if name not in PACKAGES:
        raise CheckpointError(f"checkpoint {checkpoint} holds a model of kind {name!r}, which this genlab does not "
                              f"know (kinds: {', '.join(PACKAGES)})")
    return get(name).trained.from_checkpoint(checkpoint, device=device)


def find_runs(runs_dir: str | Path) -> list[Path]:
    """Checkpoints of every known kind under ``runs_dir`` (``<runs_dir>/<kind>/checkpoint.pt``, any depth)."""
    from ..base.run_folder import CHECKPOINT
    root = Path(runs_dir)
    return sorted(p for p in root.rglob(CHECKPOINT) if p.parent.name in PACKAGES)
