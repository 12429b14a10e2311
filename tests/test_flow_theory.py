"""theory/flow.md: every check passes at a small sample size, and every equation the library cites exists."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from genlab import theory

ROOT = Path(__file__).resolve().parents[1]

CHAPTER = ROOT / "theory" / "flow.md"


def test_every_cited_label_is_defined():
    text = CHAPTER.read_text()
    defined = set(re.findall(r"\$\$ \((eq-[a-z0-9-]+)\)", text))
    assert {"eq-continuity", "eq-straight-path", "eq-marginal-velocity", "eq-cfm-loss", "eq-cfm-equals-fm",
            "eq-gaussian-path", "eq-velocity-from-eps", "eq-velocity-from-v", "eq-euler-error"} <= defined
    cited = set(re.findall(r"\{eq\}`(eq-[a-z0-9-]+)`", text))
    for module in ("sampling/flow_matching.py", "sampling/ode.py"):
        cited |= set(re.findall(r"eq\. \((eq-[a-z0-9-]+)\)", (ROOT / "lib" / "genlab" / module).read_text()))
    assert cited <= defined, f"cited but not defined: {sorted(cited - defined)}"
    assert len(re.findall(r"```\{exercise-start\}", text)) >= 5
    assert len(re.findall(r"```\{solution-start\}", text)) == len(re.findall(r"```\{exercise-start\}", text))


def test_all_checks_pass(tmp_path, monkeypatch):
    jupytext = pytest.importorskip("jupytext")
    monkeypatch.setenv("MPLBACKEND", "Agg")
    nb = jupytext.read(CHAPTER)
    cells = [c for c in nb.cells if c.cell_type == "code"]
    assert "parameters" in cells[0].metadata.get("tags", [])
    namespace: dict = {}
    exec(cells[0].source, namespace)
    namespace.update(num_samples=20_000, output_dir=str(tmp_path))  # tolerances scale with 1/sqrt(n)
    for cell in cells[1:]:
        exec(cell.source, namespace)
    record = namespace["checks"]
    assert isinstance(record, theory.Checks) and len(record.records) >= 30
    assert all(r["passed"] for r in record.records)
    assert (tmp_path / "quick" / "theory" / "flow_checks.json").exists()
