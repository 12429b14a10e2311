"""Peak memory of a block of code (sampling cost in the comparison)."""

from __future__ import annotations

import threading

import torch


class PeakMemory:
    """Peak memory while the block runs, in MB: CUDA allocator peak, else process RSS above the start."""

    def __init__(self, device: torch.device):
        self.device, self.mb, self.kind = device, None, None

    def __enter__(self):
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
            torch.cuda.reset_peak_memory_stats(self.device)
            self.start = torch.cuda.memory_allocated(self.device)
            return self
        try:
            import psutil
        except ImportError:
            return self
        proc = psutil.Process()
        self.start, self.peak, self._stop = proc.memory_info().rss, 0, threading.Event()

        def poll():
            while not self._stop.is_set():
                self.peak = max(self.peak, proc.memory_info().rss)
                self._stop.wait(0.005)
        self._thread = threading.Thread(target=poll, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc):
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
            self.mb, self.kind = (torch.cuda.max_memory_allocated(self.device) - self.start) / 2**20, "cuda"
        elif hasattr(self, "_thread"):
            self._stop.set()
            self._thread.join()
            self.mb, self.kind = max(0, self.peak - self.start) / 2**20, "process rss"
        return False
