"""A synthetic class for the grader (tests/test_grade.py, benchmarks/grade_class.py): small notebooks that answer
the EBM chapter's exercises the way students do, right, wrong and broken."""

from __future__ import annotations

from pathlib import Path

import jupytext
import nbformat

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


def submission(kind: str) -> tuple[str, str]:
    """(file name, text) of one submission of ``kind``: correct, wrong, syntax, loop, truncated or not."""
    correct = notebook(GIVEN, ANSWERS, CHECK)
    return {
        "correct": ("ebm.ipynb", correct),
        "correct-md": ("ebm.md", jupytext.writes(nbformat.reads(correct, as_version=4), fmt="md:myst")),  # saved from Lab
        "wrong": ("ebm.ipynb", notebook(GIVEN, ANSWERS, WRONG, CHECK)),
        "syntax": ("ebm.ipynb", notebook(GIVEN, ANSWERS.replace("theta_star = 1", "theta_star = (1"), CHECK)),
        "loop": ("ebm.ipynb", notebook(GIVEN, ANSWERS, "while True:\n    pass\n")),  # never returns
        "truncated": ("ebm.ipynb", correct[: len(correct) // 2]),  # an upload cut short
        "not": ("answers.ipynb", "these are my answers, I could not upload the notebook\n"),
    }[kind]


CLASS = {"ada": "correct", "ben": "wrong", "cy": "syntax", "dee": "loop", "eve": "truncated", "fay": "not",
         "gus": "correct-md"}


def synthetic_class(folder: Path, students: dict[str, str] = CLASS) -> dict[str, str]:
    """Write one folder per student (student -> kind of submission) under ``folder``; returns ``students``."""
    for student, kind in students.items():
        name, text = submission(kind)
        (folder / student).mkdir(parents=True, exist_ok=True)
        (folder / student / name).write_text(text)
    return students


