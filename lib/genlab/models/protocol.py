"""What every trained model offers, whatever its kind: the :class:`TrainedModel` protocol.

Tools (CLI, comparison, service, Slurm, fault injection) only use this surface:

- ``sample(n, labels=None, seed=0, **options)`` -> uint8 images ``n x C x H x W`` on the CPU;
  the same seed and options give the same images;
- ``sampler_options()`` -> the options ``sample`` accepts, with types, limits and defaults;
- ``evaluate(n=None)`` -> scores (also merged into ``metrics.json``);
- ``describe()`` -> a JSON-able summary (kind, dataset, classes, size, parameters, training time);
- ``from_checkpoint(path, device)`` -> the model rebuilt from its checkpoint.

:class:`TrainedBase` implements the shared parts once; a model kind subclasses it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Protocol, runtime_checkable

import torch

from ..base.config import RunConfig
from ..base.run_folder import RunFolder
from ..data import balanced_labels
from ..train.devices import count_parameters


# One sample() call holds its n images in memory at once; more is a typo or needs batching.
MAX_SAMPLES = 100_000


def setting_name(sampler: str, steps: int) -> str:
    """Key of a sampler setting in metrics.json and in sample file names, e.g. 'ddim-50', 'ddpm-1000'."""
    return f"{sampler}-{steps}"


def split_setting(name: str) -> tuple[str, int | None]:
    """'ddim-50' -> ('ddim', 50); a name without a step count ('default') -> ('default', None)."""
    sampler, _, steps = name.rpartition("-")
    return (sampler, int(steps)) if sampler and steps.isdigit() else (name, None)


@dataclass(frozen=True)
class Option:
    """One sampling option: its type, default, limits (inclusive) or choices, and what it does."""

    name: str
    type: type
    default: Any
    help: str
    low: float | None = None
    high: float | None = None
    choices: tuple = ()

    def check(self, value: Any) -> Any:
        """``value`` converted to this option's type, or ValueError naming the option and what is allowed."""
        if self.type is str:
            if not isinstance(value, str):
                raise ValueError(f"option '{self.name}' = {value!r} must be a string")
        elif isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValueError(f"option '{self.name}' = {value!r} must be a number")
        elif self.type is int:
            if float(value) != int(value):
                raise ValueError(f"option '{self.name}' = {value!r} must be a whole number")
            value = int(value)
        else:
            value = float(value)
            if not math.isfinite(value):
                raise ValueError(f"option '{self.name}' = {value!r} must be a finite number")
        if self.choices and value not in self.choices:
            raise ValueError(f"option '{self.name}' = {value!r} unknown; choose one of "
                             f"{', '.join(map(str, self.choices))}")
        if (self.low is not None and value < self.low) or (self.high is not None and value > self.high):
            raise ValueError(f"option '{self.name}' = {value!r} out of range; allowed "
                             f"{self.low if self.low is not None else '-inf'}..{self.high if self.high is not None else 'inf'}")
        return value

    def describe(self) -> dict[str, Any]:
        out = {"type": self.type.__name__, "default": self.default, "help": self.help}
        if self.low is not None:
            out["min"] = self.low
        if self.high is not None:
            out["max"] = self.high
        if self.choices:
            out["choices"] = list(self.choices)
        return out


@runtime_checkable
class TrainedModel(Protocol):
    kind: ClassVar[str]
    config: RunConfig
    run_dir: Path
    class_names: tuple[str, ...]
    device: torch.device
    step: int

    @property
    def num_classes(self) -> int: ...

    def sample(self, n: int, labels: torch.Tensor | None = None, seed: int = 0, **options: Any) -> torch.Tensor: ...

    def sampler_options(self) -> dict[str, Option]: ...

    def evaluate(self, n: int | None = None, **eval_options: Any) -> dict[str, Any]: ...

    def describe(self) -> dict[str, Any]: ...

    @classmethod
    def from_checkpoint(cls, path: str | Path, device: str = "auto") -> "TrainedModel": ...


class TrainedBase:
    """The shared half of every ``Trained<Model>``: loading, run folder, labels, options, evaluation, summary."""

    kind: ClassVar[str] = ""
    config_class: ClassVar[type[RunConfig]]
    config: RunConfig
    run_dir: Path
    class_names: tuple[str, ...]
    device: torch.device
    step: int
    conditional: ClassVar[bool] = True  # False: the kind never takes labels

    @classmethod
    def from_checkpoint(cls, path: str | Path, device: str = "auto"):
        """The trained model in ``checkpoint.pt`` (its config is stored inside), on ``device``."""
        from ..train.checkpoint import load_checkpoint
        from ..train.devices import select_device
        path = Path(path)
        ckpt = load_checkpoint(path, kind=cls.kind)
        config = cls.config_class.from_dict(ckpt["config"])
        return cls.from_state(ckpt, config, path.parent, select_device(device))

    @classmethod
    def from_state(cls, ckpt: dict[str, Any], config: RunConfig, run_dir: Path, device: torch.device):
        """Rebuild from a loaded checkpoint dict (networks from ``config`` and ``ckpt["meta"]``)."""
        raise NotImplementedError

    @property
    def folder(self) -> RunFolder:
        return RunFolder(Path(self.run_dir))

    @property
    def history_path(self) -> Path:
        return self.folder.history

    @property
    def sample_paths(self) -> list[Path]:
        return self.folder.sample_grids()

    def sample_titles(self) -> list[str]:
        """'epoch E' for each grid saved during training (grids are named by step)."""
        m = self.metrics()
        steps_per_epoch = m["steps"] / m["epochs"]
        return [f"epoch {int(p.stem.split('_')[1]) / steps_per_epoch:.0f}" for p in self.sample_paths]

    def metrics(self) -> dict[str, Any]:
        return self.folder.read_metrics()

    # ------------------------------------------------------------------ sampling

    @classmethod
    def options(cls, config: RunConfig, num_classes: int) -> dict[str, Option]:
        """The sampling options of a model of this kind trained with ``config`` (known before it is loaded:
        the CLI builds its flags from them)."""
        return {}

    def sampler_options(self) -> dict[str, Option]:
        return self.options(self.config, self.num_classes)

    def check_options(self, options: dict[str, Any]) -> dict[str, Any]:
        """Every option known and in range (None = the default); ValueError names the bad one."""
        known = self.sampler_options()
        unknown = [k for k in options if k not in known]
        if unknown:
            allowed = ", ".join(known) or "none"
            raise ValueError(f"option {unknown[0]!r} is not a {self.kind} sampling option; allowed: {allowed}")
        return {k: (known[k].default if v is None else known[k].check(v)) for k, v in
                {**{k: None for k in known}, **options}.items()}

    def check_labels(self, n: int, labels: Any) -> torch.Tensor | None:
        """Labels as n int64 (balanced when None), or None for an unconditional model."""
        if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= MAX_SAMPLES:
            raise ValueError(f"n = {n!r}: ask for 1 to {MAX_SAMPLES} images (a whole number); "
                             f"for more, call sample() in batches")
        if not self.num_classes:
            if labels is not None:
                raise ValueError(f"labels given but this {self.kind} is unconditional; leave labels out")
            return None
        if labels is None:
            return balanced_labels(n, self.num_classes)
        labels = torch.as_tensor(labels).long().flatten()
        if labels.shape != (n,) or labels.min() < 0 or labels.max() >= self.num_classes:
            raise ValueError(f"labels must be {n} integers in 0..{self.num_classes - 1}")
        return labels

    def sample(self, n: int, labels: torch.Tensor | None = None, seed: int = 0, **options: Any) -> torch.Tensor:
        """n uint8 images (n x C x H x W, CPU); ``labels`` default to balanced classes."""
        y = self.check_labels(n, labels)
        return self._sample(n, y, seed, **self.check_options(options))

    def _sample(self, n: int, labels: torch.Tensor | None, seed: int, **options: Any) -> torch.Tensor:
        raise NotImplementedError

    # ------------------------------------------------------------------ evaluation and summary

    def eval_settings(self) -> list[tuple[str, dict[str, Any]]]:
        """(setting name, sampler options) scored by :meth:`evaluate`; the first gives the headline."""
        return [("default", {})]

    def evaluate(self, n: int | None = None, **eval_options: Any) -> dict[str, Any]:
        """Score ``n`` samples (default ``eval_samples``) per evaluation setting; returns the headline.

        ``eval_options`` go to :func:`genlab.eval.evaluation.evaluate` (e.g. ``feature_config``).
        """
        from ..eval.evaluation import evaluate
        n = n or self.config.eval_samples
        scores = [evaluate(self, n=n, setting=name, options=options or None, headline=i == 0, **eval_options)
                  for i, (name, options) in enumerate(self.eval_settings())]
        return scores[0]

    def parameter_count(self) -> int:
        return int(self.metrics().get("parameters", 0))

    def describe(self) -> dict[str, Any]:
        m = self.metrics()
        return {"name": f"{self.config.run}/{self.kind}", "kind": self.kind, "run": self.config.run,
                "dataset": self.config.dataset, "classes": list(self.class_names) if self.num_classes else [],
                "conditional": bool(self.num_classes), "image_size": self.image_shape()[-1],
                "channels": self.image_shape()[0], "parameters": self.parameter_count(),
                "train_seconds": m.get("train_seconds"), "steps": self.step,
                "metrics": {k: m[k] for k in ("fd", "kid", "class_accuracy", "precision", "recall", "is")
                            if k in m},
                "sampler_options": {k: o.describe() for k, o in self.sampler_options().items()}}

    def image_shape(self) -> tuple[int, int, int]:
        raise NotImplementedError


class TrainedGenerator(TrainedBase):
    """A trained model that samples with one ``generator`` network (``num_classes``, ``channels``,
    ``image_size`` attributes): the GANs."""

    def __init__(self, generator: torch.nn.Module, config: RunConfig, run_dir: Path, class_names: tuple[str, ...],
                 device: torch.device, step: int = 0):
        self.generator, self.config, self.run_dir = generator.eval(), config, Path(run_dir)
        self.class_names, self.device, self.step = class_names, device, step

    @property
    def num_classes(self) -> int:
        return self.generator.num_classes

    def image_shape(self) -> tuple[int, int, int]:
        return (self.generator.channels, self.generator.image_size, self.generator.image_size)

    def parameter_count(self) -> int:
        return count_parameters(self.generator)
