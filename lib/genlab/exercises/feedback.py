"""Feedback on one answer: right, or what is wrong with it, never the expected value itself.

:func:`diagnose` compares a student's value with the reference and names the first problem a student
can act on: not set yet, not a number, wrong shape, missing or extra keys, not finite, the wrong sign,
off by a simple factor (2, 1/2, pi, sqrt 2, ...), or outside the tolerance (with the rough size and
direction of the error, to one significant digit, so the message cannot be pasted back as the answer).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

# Factors that betray a common slip (a missing 1/2, a square root, a 2*pi), by name.
FACTORS = {"2": 2.0, "1/2": 0.5, "4": 4.0, "1/4": 0.25, "pi": math.pi, "1/pi": 1 / math.pi, "2 pi": 2 * math.pi,
           "1/(2 pi)": 1 / (2 * math.pi), "sqrt(2)": math.sqrt(2), "1/sqrt(2)": 1 / math.sqrt(2),
           "sqrt(2 pi)": math.sqrt(2 * math.pi), "1/sqrt(2 pi)": 1 / math.sqrt(2 * math.pi), "10": 10.0, "1/10": 0.1}


def _rough(x: float) -> str:
    """``x`` to one or two significant digits: enough to act on, too little to paste back as the answer."""
    return f"{x:.0e}" if x < 0.01 else f"{x:.1g}" if x < 1 else f"{x:.2g}" if x < 10 else f"{float(f'{x:.2g}'):.0f}"


def _as_array(value: Any) -> np.ndarray | None:
    if isinstance(value, (str, bytes)):  # numpy would parse "3.25"
        return None
    if hasattr(value, "detach"):  # a torch tensor
        value = value.detach().cpu().numpy()
    try:
        array = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        return None
    return array


def diagnose(name: str, got: Any, want: Any, rtol: float = 1e-6, atol: float = 0.0) -> str | None:
    """None when ``got`` matches ``want`` (``|got - want| <= atol + rtol * |want|`` everywhere), else what is wrong.

    ``want`` may be a number, an array or a dict of them (``got`` must then have the same keys).
    """
    if got is None:
        return f"{name} is not set yet: assign your answer to {name} and run the check again"
    if isinstance(want, dict):
        if not isinstance(got, dict):
            return f"{name} should be a dict with keys {sorted(want)}, not a {type(got).__name__}"
        missing, extra = sorted(set(want) - set(got)), sorted(set(got) - set(want), key=str)
        if missing or extra:
            return f"{name}: " + "; ".join(([f"missing keys {missing}"] if missing else [])
                                           + ([f"unexpected keys {extra}"] if extra else []))
        for key in want:
            problem = diagnose(f"{name}[{key!r}]", got[key], want[key], rtol, atol)
            if problem:
                return problem
        return None
    g, w = _as_array(got), _as_array(want)
    if g is None:
        return f"{name} should be a number or an array of numbers, not a {type(got).__name__}"
    if g.shape != w.shape:
        hint = " (the right number of elements: reshape it)" if g.size == w.size else ""
        return f"{name} has shape {g.shape}, expected shape {w.shape}{hint}"
    if not np.all(np.isfinite(g)):
        bad = tuple(int(i) for i in np.argwhere(~np.isfinite(g))[0]) if g.ndim else ()
        return f"{name} is not finite" + (f" (first at index {bad})" if g.ndim else "") + ": look for a division by zero or a log of 0"
    tol = atol + rtol * np.abs(w)
    err = np.abs(g - w)
    if np.all(err <= tol):
        return None
    scale = np.abs(w) > 1e-300
    if np.any(scale) and np.all(np.abs(g + w) <= tol):
        return f"{name} has the wrong sign"
    if np.any(scale) and np.all(scale | (np.abs(g) <= tol)):
        ratio = g[scale] / w[scale]
        for label, factor in FACTORS.items():
            if np.allclose(np.abs(ratio), factor, rtol=max(rtol, 1e-9) * 10):
                sign = " and the wrong sign" if np.all(ratio < 0) else ""
                return f"{name} is off by a factor of {label}{sign} (yours = {label} x the expected value)"
    worst = int(np.argmax(err - tol)) if g.ndim else 0
    gw, ww = float(g.flat[worst]), float(w.flat[worst])
    where = ""
    if g.ndim:
        count = int(np.sum(err > tol))
        where = (f" at {count} of {g.size} elements; the worst is index "
                 f"{tuple(int(i) for i in np.unravel_index(worst, g.shape))}")
    direction = "too large" if gw > ww else "too small"
    size = f"by about {_rough(abs(gw - ww) / abs(ww) * 100)}% (relative)" if ww else f"by about {_rough(abs(gw))}"
    return f"{name} is outside the tolerance{where}: {direction} {size}; allowed: rtol {rtol:g}, atol {atol:g}"
