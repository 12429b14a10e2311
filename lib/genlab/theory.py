"""Numerical checks for the theory chapters (``theory/diffusion.md``, ``theory/ebm.md``).

Every derived result in those chapters is followed by a cell that compares the closed form with
a simulation or an exact computation through :class:`Checks`. A failing comparison raises
:class:`CheckFailed` (so papermill stops the run and names the cell); every passing one prints a
line and is recorded, and :meth:`Checks.save` writes the record to
``<output_dir>/<run>/theory/<chapter>_checks.json``.

Tolerances are explicit: ``atol + rtol * |want| + z * stderr``, where ``stderr`` is the standard
error of a Monte-Carlo estimate (so a simulation check is a ``z``-sigma test, not a guess).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .base.config import Config, param
from .base.files import write_json
from .base.paths import resolve_path


@dataclass(frozen=True)
class TheoryConfig(Config):
    run: str = param("quick", help="run name: the check record goes to <output_dir>/<run>/theory")
    num_samples: int = param(200_000, low=10_000, high=100_000_000,
                             help="Monte-Carlo samples per simulation check (tolerances scale with 1/sqrt(n))")
    seed: int = param(0, low=0, help="seed of every simulation in the chapter")
    output_dir: str = param("outputs", help="root of all runs (relative paths: from the project root)")

    @property
    def run_dir(self) -> Path:
        return resolve_path(self.output_dir) / self.run / "theory"



class CheckFailed(AssertionError):
    """A derived formula disagrees with its numerical check beyond the stated tolerance."""


class Checks:
    """Assert-and-record helper: ``checks.close("name", got, want, rtol=1e-9)``."""

    def __init__(self, chapter: str, verbose: bool = True):
        self.chapter = chapter
        self.verbose = verbose
        self.records: list[dict[str, Any]] = []

    def close(self, name: str, got: Any, want: Any, *, atol: float = 0.0, rtol: float = 1e-9,
              stderr: Any = None, z: float = 5.0) -> None:
        """Check ``|got - want| <= atol + rtol*|want| + z*stderr`` elementwise (the record keeps the worst ratio).

        ``got``/``want``/``stderr`` broadcast (scalars or arrays). Raises :class:`CheckFailed`
        naming the check, the worst element and the tolerance.
        """
        got_a = np.asarray(got, dtype=np.float64)
        want_a = np.asarray(want, dtype=np.float64)
        err_a = np.zeros(()) if stderr is None else np.asarray(stderr, dtype=np.float64)
        if not (np.all(np.isfinite(got_a)) and np.all(np.isfinite(want_a))):
            self.records.append({"name": name, "detail": "non-finite values", "passed": False})
            raise CheckFailed(f"check '{name}': non-finite values (got {got_a!r}, want {want_a!r})")
        tol = atol + rtol * np.abs(want_a) + z * err_a
        diff, tol = np.broadcast_arrays(np.abs(got_a - want_a), tol)
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = np.where(tol > 0, diff / np.where(tol > 0, tol, 1.0), np.where(diff > 0, np.inf, 0.0))
        worst = int(np.argmax(ratio)) if ratio.size else 0
        worst_ratio = float(ratio.flat[worst]) if ratio.size else 0.0
        g = float(np.broadcast_to(got_a, ratio.shape).flat[worst])
        w = float(np.broadcast_to(want_a, ratio.shape).flat[worst])
        t = float(tol.flat[worst])
        where = f" at index {tuple(int(i) for i in np.unravel_index(worst, ratio.shape))}" if ratio.ndim else ""
        self.records.append({"name": name, "got": g, "want": w, "tol": t, "ratio": worst_ratio,
                             "passed": worst_ratio <= 1.0})
        if worst_ratio > 1.0:
            raise CheckFailed(f"check '{name}' FAILED{where}: got {g:.10g}, want {w:.10g}, "
                              f"|difference| {abs(g - w):.3g} > tolerance {t:.3g}")
        if self.verbose:
            print(f"ok  {name}: got {g:.6g}, want {w:.6g} (|diff|/tol = {worst_ratio:.2f})")

    def true(self, name: str, condition: bool, detail: str = "") -> None:
        """Check a qualitative statement (an inequality, a monotone trend); ``detail`` says what was compared."""
        passed = bool(condition)
        self.records.append({"name": name, "detail": detail, "passed": passed})
        if not passed:
            raise CheckFailed(f"check '{name}' FAILED: {detail}")
        if self.verbose:
            print(f"ok  {name}" + (f": {detail}" if detail else ""))

    def save(self, run_dir: str | Path) -> Path:
        """Write every recorded check to ``<run_dir>/<chapter>_checks.json``; returns the path."""
        path = Path(run_dir) / f"{self.chapter}_checks.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        write_json(path, {"chapter": self.chapter, "num_checks": len(self.records),
                          "all_passed": all(r["passed"] for r in self.records), "checks": self.records})
        failed = sum(not r["passed"] for r in self.records)
        summary = f"{failed} of {len(self.records)} checks FAILED" if failed else f"all {len(self.records)} checks passed"
        print(f"{summary}; record written to {path}")
        return path
