"""Wall-clock generation speed, the way every model reports it (seconds per 100 images)."""

from __future__ import annotations

import time
from typing import Any, Callable

import torch


def seconds_per_100(generate: Callable[[int], Any], n: int = 100, device: torch.device | None = None) -> float:
    """Wall-clock seconds that ``generate(n)`` takes, scaled to 100 images (CUDA is synchronised)."""
    sync = (lambda: torch.cuda.synchronize(device)) if device is not None and device.type == "cuda" else (lambda: None)
    sync()
    t0 = time.perf_counter()
    generate(n)
    sync()
    return (time.perf_counter() - t0) * 100.0 / n
