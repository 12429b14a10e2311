"""Grading in batch on a synthetic class: every submission gets its lines, broken ones say why, none is changed."""

from __future__ import annotations

import csv
import hashlib
from pathlib import Path

import pytest

from genlab import cli
from genlab.exercises import chapter_exercises
from synthetic_class import synthetic_class

def digest(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("grade")
    subs, out = tmp / "submissions", tmp / "grades"
    synthetic_class(subs)
    before = digest(subs)
    # a short per-notebook limit: the endless loop is stopped, the others finish in seconds
    assert cli.main(["grade", str(subs), "--out", str(out), "--timeout", "60", "--jobs", "2"]) == 0
    rows = list(csv.DictReader((out / "gradebook.csv").open()))
    return subs, out, rows, before


def lines(rows, student):
    return [r for r in rows if r["student"] == student]


def test_the_submissions_are_never_changed(graded):
    subs, _, _, before = graded
    assert digest(subs) == before


def test_all_correct_gets_every_point_and_all_wrong_none_with_reasons(graded):
    _, _, rows, _ = graded
    labels = [ex.label for ex in chapter_exercises("ebm")]
    for student in ("ada", "gus"):  # gus handed in the MyST Markdown notebook JupyterLab saved
        got = lines(rows, student)
        assert [r["exercise"] for r in got] == labels and all(r["points"] == "1" for r in got), got
        assert all(r["message"] == "correct" for r in got)
    ben = {r["exercise"]: r for r in lines(rows, "ben")}
    assert all(ben[label]["points"] == "0" for label in labels)
    assert "factor of 1/sqrt(2 pi)" in ben["ex-ebm-gaussian-z"]["message"]
    assert "factor of 4" in ben["ex-ebm-mle"]["message"]
    assert "factor of 2" in ben["ex-ebm-langevin-step"]["message"]
    assert "shape (28, 28)" in ben["ex-ebm-min-energy-image"]["message"]
    assert "not set" in ben["ex-ebm-temperature"]["message"]


def test_broken_submissions_each_get_a_clear_line(graded):
    _, _, rows, _ = graded
    cy = lines(rows, "cy")
    assert any(r["exercise"] == "(notebook)" and "cell 3 ('import math') raised SyntaxError" in r["message"] for r in cy)
    assert {r["exercise"]: r["points"] for r in cy}["ex-ebm-gaussian-z"] == "0"  # the broken cell set nothing
    (dee,) = lines(rows, "dee")
    assert dee["exercise"] == "(notebook)" and "did not finish within 60 s" in dee["message"]
    (eve,) = lines(rows, "eve")
    assert "invalid JSON" in eve["message"] and "truncated" in eve["message"]
    (fay,) = lines(rows, "fay")  # answers.ipynb: text, not a notebook
    assert "not a notebook" in fay["message"] and "JSON" in fay["message"]


def test_one_feedback_file_per_student(graded):
    _, out, _, _ = graded
    assert sorted(p.stem for p in (out / "feedback").glob("*.md")) == ["ada", "ben", "cy", "dee", "eve", "fay", "gus"]
    ada = (out / "feedback" / "ada.md").read_text()
    assert "5 of 5 points" in ada
    ben = (out / "feedback" / "ben.md").read_text()
    assert "0 of 5 points" in ben and "factor of 4" in ben and "0.0833" not in ben  # theta* = 1/12 not shown
    assert "SyntaxError" in (out / "feedback" / "cy.md").read_text()


def test_collect_rebuilds_the_same_grade_book(graded):
    subs, out, rows, _ = graded
    (out / "gradebook.csv").unlink()
    assert cli.main(["grade", str(subs), "--out", str(out), "--collect"]) == 0
    assert list(csv.DictReader((out / "gradebook.csv").open())) == rows


def test_bad_arguments_are_clear_errors(tmp_path, capsys):
    assert cli.main(["grade", str(tmp_path / "missing")]) == 1
    assert "is not a folder" in capsys.readouterr().err
    (tmp_path / "subs").mkdir()
    assert cli.main(["grade", str(tmp_path / "subs")]) == 1
    assert "no submissions" in capsys.readouterr().err
    (tmp_path / "subs" / "a.ipynb").write_text("{}")
    assert cli.main(["grade", str(tmp_path / "subs"), "--out", str(tmp_path / "subs" / "g")]) == 1
    assert "inside the submissions folder" in capsys.readouterr().err
