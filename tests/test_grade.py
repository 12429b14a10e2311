"""Grading in batch on a synthetic class: every submission gets its lines, broken ones say why, none is changed."""

from __future__ import annotations

import csv
import hashlib
import json
from pathlib import Path

import nbformat
import pytest

from genlab import cli
from genlab.exercises import chapter_exercises

# A small notebook that answers the EBM chapter's exercises the way a student would, without the chapter's
# simulations (seconds, not a minute): the given quantities, then the answers from closed forms.
GIVEN = """\
import numpy as np
from genlab import exercises
s_ex, b_ex = 0.8, 1.5
data_fourth_moment = 3.0
step_ex = 0.5
m = np.linspace(-1, 1, 784).reshape(1, 1, 28, 28)
s_img, kappa = 0.5, 1.0
lam_ex, sigma_ex, width_ex = 10.0, 0.005, 10.0
"""
ANSWERS = """\
import math
Z_ex = math.sqrt(2 * math.pi) * s_ex * math.exp(b_ex ** 2 * s_ex ** 2 / 2)
mean_ex = -b_ex * s_ex ** 2
theta_star = 1 / (4 * data_fourth_moment)
max_step_ex, var_step_ex, step_1pct_ex = 4.0, 1 / (1 - step_ex / 4), 4 * 0.01 / 1.01
side = 28
path = np.eye(side, k=1) + np.eye(side, k=-1)
adjacency = np.kron(np.eye(side), path) + np.kron(path, np.eye(side))
x_star = np.linalg.solve(np.eye(784) / s_img ** 2 + kappa * (np.diag(adjacency.sum(1)) - adjacency), m.reshape(-1) / s_img ** 2)
tau_ex = sigma_ex ** 2 / (2 * lam_ex)
v_ex = sigma_ex ** 2 / (1 - (1 - lam_ex / width_ex ** 2) ** 2)
"""
WRONG = """\
Z_ex, mean_ex, theta_star = Z_ex / math.sqrt(2 * math.pi), -mean_ex, 4 * theta_star
var_step_ex, x_star, tau_ex = 2 * var_step_ex, x_star.reshape(28, 28), None
"""
CHECK = 'exercises.check("ex-ebm-mle", globals())\n'


def notebook(*cells: str) -> str:
    nb = nbformat.v4.new_notebook(metadata={"kernelspec": {"name": "genlab", "display_name": "Python (genlab)",
                                                           "language": "python"}})
    nb.cells = [nbformat.v4.new_markdown_cell("```{exercise-start}\n:label: ex-ebm-mle\n```")]
    nb.cells += [nbformat.v4.new_code_cell(c) for c in cells]
    return nbformat.writes(nb)


def synthetic_class(folder: Path) -> dict[str, str]:
    """The kinds of submission a grader meets; returns student -> what the submission is."""
    correct = notebook(GIVEN, ANSWERS, CHECK)
    files = {
        "ada/ebm.ipynb": correct,
        "ben/ebm.ipynb": notebook(GIVEN, ANSWERS, WRONG, CHECK),
        "cy/ebm.ipynb": notebook(GIVEN, ANSWERS.replace("theta_star = 1", "theta_star = (1"), CHECK),  # syntax error
        "dee/ebm.ipynb": notebook(GIVEN, ANSWERS, "while True:\n    pass\n"),  # never returns
        "eve/ebm.ipynb": correct[: len(correct) // 2],  # truncated upload
        "fay.ipynb": "these are my answers, I could not upload the notebook\n",  # not a notebook
    }
    for name, text in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(text)
    return {"ada": "correct", "ben": "wrong", "cy": "syntax", "dee": "loop", "eve": "truncated", "fay": "not"}


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
    ada = lines(rows, "ada")
    assert [r["exercise"] for r in ada] == labels and all(r["points"] == "1" for r in ada)
    assert all(r["message"] == "correct" for r in ada)
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
    (fay,) = lines(rows, "fay")
    assert "not a notebook" in fay["message"] and "JSON" in fay["message"]


def test_one_feedback_file_per_student(graded):
    _, out, _, _ = graded
    assert sorted(p.stem for p in (out / "feedback").glob("*.md")) == ["ada", "ben", "cy", "dee", "eve", "fay"]
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
