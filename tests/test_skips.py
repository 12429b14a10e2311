"""The skip allow-list: a skip is expected only when a rule of tests/expected_skips.txt names it, and a machine
that must provide something (GENLAB_REQUIRE) drops the rules that excuse its absence."""

from __future__ import annotations

from pathlib import Path

import pytest

from skips import ALLOW_LIST, rules, unexpected

ROOT = Path(__file__).resolve().parents[1]
TEXT = """# comment
tests/test_slurm.py::test_pipeline_* | [slurm] no cluster
tests/test_allocator.py::* | [glibc] not glibc
"""


def test_a_skip_without_a_rule_is_unexpected():
    allowed = rules(TEXT)
    skipped = {"tests/test_slurm.py::test_pipeline_runs": "no node", "tests/test_serve.py::test_x": "needs outputs/quick"}
    assert unexpected(skipped, allowed) == {"tests/test_serve.py::test_x": "needs outputs/quick"}


def test_a_required_need_drops_its_rules():
    assert [p for p, _ in rules(TEXT, required={"slurm"})] == ["tests/test_allocator.py::*"]
    assert unexpected({"tests/test_slurm.py::test_pipeline_runs": "no node"}, rules(TEXT, {"slurm"}))


def test_a_malformed_rule_is_an_error():
    with pytest.raises(ValueError, match="<why>"):
        rules("tests/test_x.py::test_y\n")


def test_every_rule_of_the_allow_list_names_an_existing_test_file():
    for pattern, why in rules(ALLOW_LIST.read_text()):
        assert (ROOT / pattern.split("::")[0]).is_file(), f"{pattern}: no such test file ({why})"
