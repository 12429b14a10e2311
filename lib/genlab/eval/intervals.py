"""Intervals from disjoint subsets, and verdicts from paired differences.

Resampling one generated set with replacement duplicates images and inflates FD, so genlab
splits the ``n`` samples into ``subsets`` (>= 5) *disjoint* consecutive blocks of ``n // subsets``
(labels cycle through the classes, so every block is class-balanced), scores each block against
the same real reference, and reports the mean with a Student-t 95% interval over the blocks.

Entry layout (one per metric and feature space, in ``metrics.json`` under
``intervals[space][metric]``)::

    {"value": mean over blocks, "ci95": [lo, hi], "n": block size, "subsets": 5,
     "values": [one per block], "space": "classifier" | "random"}

The value is the metric at ``n`` = block size (FD is biased upwards at small N; compare models
only at equal N). The flat headline numbers ``m["fd"]`` etc. stay the full-set values.

Two models evaluated with the same ``n``, seed and reference are *paired* block by block: the
difference of block ``i`` removes the reference's share of the noise. :func:`paired_difference`
gives its mean and t interval; :func:`verdict` names a winner only when that interval excludes 0
and the second feature space agrees in sign.
"""

from __future__ import annotations

import math
from typing import Callable, Sequence

import torch

SUBSETS = 5


def t_quantile(df: int, q: float = 0.975) -> float:
    from scipy.stats import t
    return float(t.ppf(q, df))


def mean_ci(values: Sequence[float]) -> tuple[float, tuple[float, float]]:
    """Mean and Student-t 95% interval of independent values (needs at least 2)."""
    x = torch.tensor([float(v) for v in values], dtype=torch.float64)
    if len(x) < 2:
        raise ValueError(f"an interval needs at least 2 independent values; got {len(x)}")
    m, s = float(x.mean()), float(x.std(unbiased=True))
    h = t_quantile(len(x) - 1) * s / math.sqrt(len(x))
    return m, (m - h, m + h)


MIN_BLOCK = 6  # precision/recall with k = 5 neighbours need more than 5 samples per set


def blocks(n: int, subsets: int = SUBSETS) -> list[slice]:
    """``subsets`` disjoint consecutive slices of ``range(n)``, each ``n // subsets`` long."""
    if subsets < 2 or n // subsets < MIN_BLOCK:
        raise ValueError(f"intervals need >= 2 disjoint subsets of >= {MIN_BLOCK} samples (precision/recall with "
                         f"k = 5 neighbours); n = {n} with subsets = {subsets} is too few (raise n, e.g. "
                         f"eval_samples = 1000)")
    size = n // subsets
    return [slice(i * size, (i + 1) * size) for i in range(subsets)]


def subset_intervals(score: Callable[[slice], dict[str, float]], n: int, space: str,
                     subsets: int = SUBSETS) -> dict[str, dict]:
    """Call ``score(block)`` on each disjoint block; one interval entry per metric it returns."""
    parts = blocks(n, subsets)
    per_block = [score(b) for b in parts]
    out = {}
    for key in per_block[0]:
        vals = [p[key] for p in per_block]
        m, (lo, hi) = mean_ci(vals)
        out[key] = {"value": m, "ci95": [lo, hi], "n": parts[0].stop - parts[0].start, "subsets": subsets,
                    "values": vals, "space": space}
    return out


def paired_difference(a: dict, b: dict) -> tuple[float, tuple[float, float]] | None:
    """Mean and 95% interval of ``a - b`` block by block (two interval entries); None when not paired."""
    if a.get("n") != b.get("n") or len(a.get("values", [])) != len(b.get("values", [])):
        return None
    return mean_ci([x - y for x, y in zip(a["values"], b["values"])])


def verdict(entries: dict[str, dict[str, dict]], better: str, check: dict[str, dict[str, dict]] | None = None,
            ) -> tuple[str, str]:
    """(winner or "", reason) among models for one metric.

    ``entries[model]``: the interval entry in the main space; ``check[model]``: the same metric's
    entry in the second space (None: no second space for this metric, e.g. class accuracy).
    ``better``: "low" or "high". The best mean wins only if, against *every* other model, the
    paired interval excludes 0 in the main space and the second space's paired mean has the
    same sign; otherwise "no reliable difference".
    """
    if len(entries) < 2 or better not in ("low", "high"):
        return "", ""
    sign = 1 if better == "high" else -1
    best = max(entries, key=lambda k: sign * entries[k]["value"])
    for other in entries:
        if other == best:
            continue
        diff = paired_difference(entries[best], entries[other])
        if diff is None:
            return "", "not paired (different n)"
        _, (lo, hi) = diff
        if lo <= 0 <= hi:
            return "", f"no reliable difference ({best} vs {other}: interval contains 0)"
        if check is not None:
            if best not in check or other not in check:
                return "", "no reliable difference (second space missing)"
            second = paired_difference(check[best], check[other])
            if second is None or sign * second[0] <= 0:
                return "", f"no reliable difference ({best} vs {other}: second space disagrees)"
    return best, "interval excludes 0" + (" and second space agrees" if check is not None else "")
