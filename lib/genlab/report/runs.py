"""The finished runs the comparison chapter reads (nothing is retrained).

:func:`load_runs` reads every ``<output_dir>/<run>/*/metrics.json`` of the registered model kinds;
a model without one is reported and left out. :func:`value` is one number of one model as the
tables show it (speed, memory and loss instability are derived from several fields).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from ..base.config import Config, check_device, param
from ..base.files import read_json
from ..base.paths import project_root, resolve_path
from ..base.run_folder import CHECKPOINT, HISTORY, METRICS
from ..models import registry

# the quality metrics a sweep table and the bar charts show
QUALITY = ("fd", "kid", "is", "precision", "recall", "class_accuracy", "diversity")


def display_name(name: str) -> str:
    """The display name a model kind declares in the registry (a name the registry lacks is shown as is)."""
    return registry.info(name)["title"] if name in registry.names() else name


@dataclass(frozen=True)
class CompareConfig(Config):
    run: str = param("quick", help="compare the models in <output_dir>/<run>/")
    samples_per_class: int = param(4, low=1, high=64, help="rows of the side-by-side sample grids")
    seed: int = param(0, low=0, help="seed of the samples drawn for the grids")
    sweep: str = param("", help="name of a sweep folder under output_dir to tabulate ('' = none)")
    device: str = param("cpu", check=check_device, help="device for drawing the sample grids")
    ladder_samples: int = param(500, low=0, high=1000, help="held-out digits per rung of the metric sanity ladder (0 = skip)")
    bias_samples: int = param(1000, low=0, high=1000,
                              help="DCGAN samples for the FD-against-1/N figure (0 = skip)")
    order_samples: int = param(200, low=0, high=1000,
                               help="DDPM samples per DDIM step count in the known-order rung (0 = skip)")
    novelty_samples: int = param(300, low=0, high=1000, help="samples per model in the memorization check (0 = skip)")
    output_dir: str = param("outputs", help="root of all runs")


@dataclass
class Runs:
    """The models found for one run: ``metrics[name]``, ``dirs[name]``; ``missing[name]`` says why not."""

    root: Path
    metrics: dict[str, dict] = field(default_factory=dict)
    dirs: dict[str, Path] = field(default_factory=dict)
    missing: dict[str, str] = field(default_factory=dict)

    def report(self) -> None:
        """Print which models were found (and where) and which are missing (and how to make them)."""
        for name in self.metrics:
            note = "" if "fd" in self.metrics[name] else " (no evaluation yet: run `python -m genlab evaluate`)"
            print(f"found   {display_name(name):6} {shown(self.dirs[name])}{note}")
        for name, why in self.missing.items():
            print(f"MISSING {display_name(name):6} {why}: left out of every table and figure")

    def trained(self, name: str, device: str = "cpu"):
        """The trained model ``name`` of this run (from its checkpoint), or None when it has none."""
        path = self.dirs.get(name, self.root / name) / CHECKPOINT
        return registry.load_trained(path, device) if path.is_file() else None


def load_runs(config: CompareConfig) -> Runs:
    """Read ``<output_dir>/<run>/*/metrics.json`` (every registered model kind)."""
    root = resolve_path(config.output_dir) / config.run
    runs = Runs(root)
    for name in registry.names():
        path = root / name / METRICS
        if path.is_file():
            runs.metrics[name], runs.dirs[name] = read_json(path), path.parent
        else:
            runs.missing[name] = (f"no {shown(path)} (run its notebook with run = '{config.run}', "
                                  f"or python -m genlab train {name} -p run={config.run})")
    return runs


def shown(path: Path) -> str:
    """``path`` relative to the project root when inside it (the book shows no machine-specific paths)."""
    try:
        return str(path.relative_to(project_root()))
    except ValueError:
        return str(path)


def _speed(m: dict) -> float | None:
    speeds = m.get("seconds_per_100") or {}
    setting = (m.get("eval") or {}).get("setting")
    if setting in speeds:
        return speeds[setting]
    return min(speeds.values()) if speeds else None


def instability(history: str | Path) -> float | None:
    """Coefficient of variation (std / |mean|) of the main loss over the last half of training."""
    path = Path(history)
    if not path.is_file():
        return None
    df = pd.read_csv(path)
    col = next((c for c in ("loss", "loss_g", "loss_d") if c in df.columns),
               next((c for c in df.columns if c.startswith("loss")), None))
    if col is None or len(df) < 4:
        return None
    tail = df[col].iloc[len(df) // 2:]
    return float(tail.std() / max(abs(tail.mean()), 1e-12))


def value(runs: Runs, name: str, key: str) -> float | None:
    m = runs.metrics[name]
    if key == "speed":
        return _speed(m)
    if key == "memory":
        mem = m.get("peak_memory_mb") or {}
        return mem.get((m.get("eval") or {}).get("setting"), next(iter(mem.values()), None))
    if key == "instability":
        return instability(runs.dirs[name] / HISTORY)
    return m.get(key)


def floor_of(runs: Runs, key: str) -> float | None:
    values = [m["floor"][key] for m in runs.metrics.values() if key in (m.get("floor") or {})]
    return values[0] if values else None
