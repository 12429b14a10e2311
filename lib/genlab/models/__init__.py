"""Model kinds (DCGAN, DDPM, EBM, ...) behind one registry and one protocol.

``genlab.models.get("ddpm")`` gives a kind's config, ``train`` and trained wrapper;
``genlab.models.names()`` lists them; ``genlab.models.load_trained(path)`` rebuilds any checkpoint.
"""

from .registry import ModelKind, find_runs, get, load_trained, names

__all__ = ["ModelKind", "find_runs", "get", "load_trained", "names"]
