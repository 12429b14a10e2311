"""The models a server offers: every checkpoint under a runs folder, loaded once at start-up.

A checkpoint that cannot be loaded (corrupt, truncated, unknown kind) is skipped with a logged
reason, so one bad file never takes the whole service down.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..models import find_runs, load_trained

log = logging.getLogger("genlab.serve")


@dataclass
class Served:
    """One loaded model, its public summary, and a lock: one sampling call at a time per model
    (samplers toggle the network's grad flags, so two threads must not share a model at once)."""

    name: str
    model: Any  # a genlab.models.protocol.TrainedModel
    info: dict[str, Any]
    lock: threading.Lock = field(default_factory=threading.Lock)


class Catalog:
    """Name -> loaded model; ``skipped`` lists the checkpoints that could not be loaded and why."""

    def __init__(self, runs_dir: str | Path, device: str = "auto"):
        self.runs_dir = Path(runs_dir)
        self.models: dict[str, Served] = {}
        self.skipped: list[dict[str, str]] = []
        if not self.runs_dir.is_dir():
            raise ValueError(f"--runs {self.runs_dir}: no such folder; train models first (make book) "
                             f"or point --runs at a folder of run folders (e.g. outputs/quick)")
        for path in find_runs(self.runs_dir):
            try:
                model = load_trained(path, device)
                info = model.describe()
            except Exception as exc:  # any failure to load is a skip, never a crash
                reason = f"{type(exc).__name__}: {exc}"
                log.warning("skipping checkpoint %s: %s", path, reason)
                self.skipped.append({"checkpoint": str(path), "reason": reason})
                continue
            name = info["name"] if info["name"] not in self.models else str(path.parent.relative_to(self.runs_dir))
            info = {**info, "name": name}
            self.models[name] = Served(name, model, info)
            log.info("loaded %s (%s) from %s", name, info["kind"], path)

    def names(self) -> list[str]:
        return list(self.models)

    def resolve(self, name: str | None, kind: str | None = None) -> Served:
        """The model called ``name`` (of kind ``kind`` when given). A kind name instead of a model name,
        or no name with ``kind`` set, picks the model of that kind when exactly one is loaded.

        Raises KeyError with a message listing the available models.
        """
        available = ", ".join(self.models) or "none (no loadable checkpoint under the runs folder)"
        if name in self.models:
            served = self.models[name]
            if kind is not None and served.info["kind"] != kind:
                raise KeyError(f"model {name!r} is a {served.info['kind']}, not a {kind}; available: {available}")
            return served
        wanted = kind if name is None else name
        if wanted is None:  # no name at all: fine when the server holds a single model
            if len(self.models) == 1:
                return next(iter(self.models.values()))
            raise KeyError(f"no model named; set 'model' to one of: {available}")
        matches = [s for s in self.models.values() if s.info["kind"] == wanted and kind in (None, wanted)]
        if len(matches) == 1:
            return matches[0]
        if len(matches) > 1:
            raise KeyError(f"model {wanted!r} is ambiguous ({len(matches)} {wanted} models are loaded); "
                           f"name one of {', '.join(s.name for s in matches)}")
        raise KeyError(f"model {wanted!r} not found; available: {available}")
