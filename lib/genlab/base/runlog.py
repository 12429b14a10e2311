"""What a training run reports while it runs: progress lines, ``history.csv``, and the optional loggers
TensorBoard and Weights & Biases (both imported lazily: this module stays free of torch and wandb)."""

from __future__ import annotations

import csv
import math
import netrc
import os
import secrets
import time
from pathlib import Path
from typing import Any

from .files import atomic_write


def format_seconds(s: float) -> str:
    s = int(round(s))
    return f"{s // 3600}h{s % 3600 // 60:02d}m" if s >= 3600 else f"{s // 60}m{s % 60:02d}s"


class Progress:
    """Plain progress lines that read the same in JupyterLab, papermill output and Slurm logs.

    Prints at each ``every_frac`` of the total and at least every ``max_interval_s``
    seconds, never more than once per ``min_interval_s``: a few dozen lines per run.
    """

    def __init__(self, total: int, desc: str, start: int = 0, every_frac: float = 0.1,
                 min_interval_s: float = 2.0, max_interval_s: float = 60.0, printer=print):
        self.total, self.desc, self.start = total, desc, start
        self.every = max(1, int(total * every_frac))
        self.min_interval_s, self.max_interval_s = min_interval_s, max_interval_s
        self.printer = printer
        self.t0 = self.last_t = time.perf_counter()
        self.last_step = start

    def update(self, step: int, scalars: dict[str, float] | None = None, force: bool = False) -> bool:
        now = time.perf_counter()
        milestone = step // self.every != self.last_step // self.every
        due = (milestone and now - self.last_t >= self.min_interval_s) or now - self.last_t >= self.max_interval_s
        if not (force or due):
            return False
        done = step - self.start
        rate = done / max(now - self.t0, 1e-9)
        eta = (self.total - step) / rate if rate > 0 else float("nan")
        text = " ".join(f"{k} {v:.4g}" for k, v in (scalars or {}).items())
        eta_s = format_seconds(eta) if math.isfinite(eta) else "?"
        self.printer(f"[{self.desc}] step {step}/{self.total} ({100 * step / max(self.total, 1):.0f}%) "
                     f"| {rate:.2f} it/s | eta {eta_s} | {text}", flush=True)
        self.last_t, self.last_step = now, step
        return True


class History:
    """``history.csv``: one row per logged step (``step``, ``epoch``, ``seconds`` and scalars)."""

    def __init__(self, path: Path):
        self.path = path
        self.rows: list[dict[str, float]] = []
        if path.exists():
            with path.open() as fh:
                self.rows = [{k: (int(float(v)) if k == "step" else float(v)) for k, v in row.items() if v != ""}
                             for row in csv.DictReader(fh)]

    def truncate(self, step: int) -> None:
        """Forget rows after ``step`` (written after the checkpoint we resume from)."""
        self.rows = [r for r in self.rows if r["step"] <= step]

    def append(self, row: dict[str, float]) -> None:
        self.rows.append(row)

    def save(self) -> None:
        keys: list[str] = []
        for r in self.rows:
            keys += [k for k in r if k not in keys]

        def write(fh):
            w = csv.DictWriter(fh, fieldnames=keys)
            w.writeheader()
            w.writerows(self.rows)
        atomic_write(self.path, write, "w")


class TensorBoard:
    """Optional live view of a run (``pip install genlab[tensorboard]``): scalars and sample grids."""

    def __init__(self, log_dir: Path | None):
        self.writer = None
        if log_dir is None:
            return
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError as exc:
            raise ImportError("parameter 'tensorboard' = True needs the tensorboard package: "
                              "pip install 'genlab[tensorboard]' (or set tensorboard = False)") from exc
        self.writer = SummaryWriter(str(log_dir))

    def scalars(self, step: int, values: dict[str, float]) -> None:
        if self.writer:
            for k, v in values.items():
                self.writer.add_scalar(k, v, step)

    def image(self, tag: str, step: int, grid_uint8: Any) -> None:
        if self.writer:
            self.writer.add_image(tag, grid_uint8, step)

    def summary(self, values: dict[str, Any]) -> None:
        """Final metrics live in metrics.json; TensorBoard has no run summary."""

    def close(self) -> None:
        if self.writer:
            self.writer.close()


LOGGERS = ("none", "tensorboard", "wandb", "both")


def wandb_mode() -> str:
    """``WANDB_MODE`` if set; else ``online`` with an API key (``WANDB_API_KEY`` or ``wandb login``), else ``offline``."""
    if os.environ.get("WANDB_MODE"):
        return os.environ["WANDB_MODE"]
    if os.environ.get("WANDB_API_KEY"):
        return "online"
    try:
        host = os.environ.get("WANDB_BASE_URL", "https://api.wandb.ai").split("://")[-1].split("/")[0]
        if netrc.netrc().authenticators(host):
            return "online"
    except (OSError, netrc.NetrcParseError):
        pass
    return "offline"


class WandB:
    """Weights & Biases (``pip install genlab[wandb]``): the config, scalars, sample grids, final metrics.

    Offline unless an API key is configured (then ``wandb sync <run dir>/wandb/offline-run-*`` uploads
    it later); the files live in ``<run dir>/wandb``. A resumed run continues the same W&B run (its
    id is kept in ``<run dir>/wandb/run_id``). Project: ``$WANDB_PROJECT``, else ``genlab``.
    """

    def __init__(self, run_dir: Path | None, config: dict[str, Any], name: str):
        self.run = None
        if run_dir is None:
            return
        try:
            import wandb
        except ImportError as exc:
            raise ImportError("parameter 'logger' = 'wandb' needs the wandb package: pip install 'genlab[wandb]' "
                              "(or set logger = 'none' or 'tensorboard')") from exc
        folder = run_dir / "wandb"
        folder.mkdir(parents=True, exist_ok=True)
        id_file = folder / "run_id"
        run_id = id_file.read_text().strip() if id_file.exists() else secrets.token_hex(4)
        id_file.write_text(run_id + "\n")
        self._wandb = wandb
        self.run = wandb.init(project=os.environ.get("WANDB_PROJECT", "genlab"), name=name, id=run_id,
                              resume="allow", dir=str(run_dir), config=config, mode=wandb_mode(),
                              settings=wandb.Settings(silent=True, console="off"))

    def scalars(self, step: int, values: dict[str, float]) -> None:
        if self.run:
            self.run.log(values, step=step)

    def image(self, tag: str, step: int, grid_uint8: Any) -> None:
        """``grid_uint8``: C x H x W uint8 (a tensor or an array)."""
        if self.run:
            arr = grid_uint8.cpu().numpy() if hasattr(grid_uint8, "cpu") else grid_uint8
            self.run.log({tag: self._wandb.Image(arr.transpose(1, 2, 0).squeeze())}, step=step)

    def summary(self, values: dict[str, Any]) -> None:
        if self.run:
            self.run.summary.update(values)

    def close(self) -> None:
        if self.run:
            self.run.finish()
            self.run = None


class Loggers:
    """The loggers a run's config asks for (``tensorboard`` flag and ``logger``), behind one interface."""

    def __init__(self, items: list[Any]):
        self.items = items

    @classmethod
    def for_run(cls, run_dir: Path, logger: str, tensorboard: bool, config: dict[str, Any], name: str,
                enabled: bool = True) -> "Loggers":
        """``enabled=False`` (data-parallel ranks other than 0): log nothing."""
        if logger not in LOGGERS:
            raise ValueError(f"parameter 'logger' = {logger!r} unknown; choose one of {', '.join(LOGGERS)}")
        items: list[Any] = []
        if enabled and (tensorboard or logger in ("tensorboard", "both")):
            items.append(TensorBoard(run_dir / "tensorboard"))
        if enabled and logger in ("wandb", "both"):
            items.append(WandB(run_dir, config, name))
        return cls(items)

    def scalars(self, step: int, values: dict[str, float]) -> None:
        for x in self.items:
            x.scalars(step, values)

    def image(self, tag: str, step: int, grid_uint8: Any) -> None:
        for x in self.items:
            x.image(tag, step, grid_uint8)

    def summary(self, values: dict[str, Any]) -> None:
        for x in self.items:
            x.summary(values)

    def close(self) -> None:
        for x in self.items:
            x.close()
