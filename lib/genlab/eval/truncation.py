"""The truncation trade-off of a GAN: quality against variety at each psi of its ``psi`` sampling option."""

from __future__ import annotations

from .evaluation import evaluate


def truncation_table(trained, psis=(1.0, 0.7, 0.5), n: int = 500):
    """FD, class accuracy (overall and weakest class), precision, recall and coverage (classifier space) of
    ``n`` samples at each psi.

    Scored like :func:`evaluate` but not written to ``metrics.json`` (the headline stays at the config's psi).
    """
    import pandas as pd
    rows = {}
    for psi in psis:
        s = evaluate(trained, n=n, options={"psi": psi}, setting=f"psi-{psi}", write=False, verbose=False)
        rows[psi] = {"FD": s["fd"], "class accuracy": s.get("class_accuracy"),
                     "weakest class": s.get("weakest_class_accuracy"), "precision": s["precision"],
                     "recall": s["recall"], "coverage": s.get("coverage")}
    return pd.DataFrame(rows).T.rename_axis("psi").round(3)
