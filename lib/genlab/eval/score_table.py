"""What :func:`genlab.eval.evaluation.evaluate` returned, as a table for a chapter."""

from __future__ import annotations

from .intervals import SUBSETS
from .metrics import BETTER, SPACE_CLASSIFIER, SPACE_RANDOM


def score_table(scores: dict):
    """What :func:`evaluate` returned as a table: metric, this model (full set, classifier space), the
    real-vs-real floor, the subset interval, the random-CNN space's value and interval, better."""
    import pandas as pd
    floor = scores.get("floor", {})
    intervals = scores.get("intervals") or {}
    second = (scores.get("spaces") or {}).get(SPACE_RANDOM, {})

    def ci(space: str, key: str) -> str:
        e = (intervals.get(space) or {}).get(key)
        return f"{e['value']:.3f} [{e['ci95'][0]:.3f}, {e['ci95'][1]:.3f}] (n={e['n']})" if e else ""
    rows = [{"metric": k, "model": v, "real-vs-real floor": floor.get(k),
             f"95% interval, {SUBSETS} subsets": ci(SPACE_CLASSIFIER, k),
             "random-CNN space": second.get(k), "random-CNN interval": ci(SPACE_RANDOM, k),
             "better": {"low": "lower", "high": "higher", "floor": "near floor"}[BETTER[k]]}
            for k, v in scores.items() if k in BETTER]
    return pd.DataFrame(rows).set_index("metric")
