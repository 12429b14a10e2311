"""The one place that names every file of a run folder ``<output_dir>/<run>/<model>/``.

    config.json      the run's parameters (+ model kind and data meta)
    checkpoint.pt    {model, ema, optimizer, config, step, rng, meta}: train-or-resume
    history.csv      one row per logged step
    metrics.json     training time, speed, evaluation (merged by several writers)
    samples/         step_XXXXXX.png grids during training, other figures' images
    tensorboard/     optional live logs
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .files import read_json, write_json

CONFIG = "config.json"
CHECKPOINT = "checkpoint.pt"
HISTORY = "history.csv"
METRICS = "metrics.json"
SAMPLES = "samples"
TENSORBOARD = "tensorboard"


@dataclass(frozen=True)
class RunFolder:
    """Paths and small readers of one run folder."""

    path: Path

    @property
    def config(self) -> Path:
        return self.path / CONFIG

    @property
    def checkpoint(self) -> Path:
        return self.path / CHECKPOINT

    @property
    def history(self) -> Path:
        return self.path / HISTORY

    @property
    def metrics(self) -> Path:
        return self.path / METRICS

    @property
    def samples(self) -> Path:
        return self.path / SAMPLES

    @property
    def tensorboard(self) -> Path:
        return self.path / TENSORBOARD

    def sample_grid(self, step: int) -> Path:
        return self.samples / f"step_{step:06d}.png"

    def sample_grids(self) -> list[Path]:
        """Grids saved during training, in step order."""
        return sorted(self.samples.glob("step_*.png"))

    def read_metrics(self) -> dict[str, Any]:
        return read_json(self.metrics) if self.metrics.exists() else {}

    def update_metrics(self, **values: Any) -> dict[str, Any]:
        """Merge ``values`` into ``metrics.json`` (nested dicts merge one level deep); atomic."""
        metrics = self.read_metrics()
        for key, value in values.items():
            if isinstance(value, dict) and isinstance(metrics.get(key), dict):
                metrics[key] = {**metrics[key], **value}
            else:
                metrics[key] = value
        write_json(self.metrics, metrics)
        return metrics
