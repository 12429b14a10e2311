"""Exercises with feedback: each published solution passes its check, wrong answers get a useful message that
does not give the answer away, and the student edition keeps the checks while dropping the solutions."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from genlab import exercises
from genlab.book.sources import is_text_notebook, read_notebook
from genlab.book.student import strip_solutions
from genlab.exercises.feedback import diagnose

ROOT = Path(__file__).resolve().parents[1]
# every theory chapter (a new one, e.g. theory/flow.md, registers its exercises in genlab.exercises and a wrong
# answer per exercise in WRONG below)
CHAPTERS = {p.stem: p for p in sorted((ROOT / "theory").glob("*.md")) if is_text_notebook(p)}
LABEL = re.compile(r"^```\{exercise-start\}[^\n]*\n:label: (\S+)", re.M)
CHECK = re.compile(r'^exercises\.check\("([^"]+)", globals\(\)\)$', re.M)


def test_diagnose_names_the_mistake_without_the_answer():
    assert diagnose("a", 1.0, 1.0 + 1e-9) is None
    assert "not set" in diagnose("a", None, 3.0)
    assert "wrong sign" in diagnose("a", -3.25, 3.25)
    assert "factor of 2" in diagnose("a", 6.5, 3.25)
    assert "factor of 1/2" in diagnose("a", np.array([0.5, 1.0]), np.array([1.0, 2.0]))
    assert "shape (3,)" in diagnose("a", np.zeros(3), np.zeros((3, 1))) and "reshape" in diagnose("a", np.zeros(3), np.zeros((3, 1)))
    assert "not finite" in diagnose("a", np.array([1.0, np.nan]), np.array([1.0, 2.0]))
    assert "missing keys [250]" in diagnose("d", {10: 1.0, 50: 2.0}, {10: 1.0, 50: 2.0, 250: 3.0})
    assert "should be a number" in diagnose("a", "3.25", 3.25)
    msg = diagnose("a", 3.2571, 3.25, rtol=1e-6)
    assert "too large" in msg and "tolerance" in msg and "3.25" not in msg
    msg = diagnose("x", np.array([1.0, 2.0, 3.5]), np.array([1.0, 2.0, 3.0]))
    assert "1 of 3 elements" in msg and "(2,)" in msg and "too large" in msg


def run_chapter(chapter: str) -> dict:
    """Every code cell of the chapter (course edition, smoke sample size) in one namespace, as papermill would."""
    import matplotlib
    matplotlib.use("Agg")
    ns: dict = {}
    for cell in read_notebook(CHAPTERS[chapter]).cells:
        if cell.cell_type == "code":
            exec(compile(cell.source, f"{chapter}.md", "exec"), ns)
            if "parameters" in cell.metadata.get("tags", []):
                ns.update(num_samples=20_000, run="test", output_dir=str(ROOT / "_build" / "test-exercises"))
    return ns


@pytest.fixture(scope="module", params=sorted(CHAPTERS))
def chapter(request):
    return request.param, run_chapter(request.param)


def test_every_published_solution_passes_its_check(chapter):
    name, ns = chapter
    results = exercises.grade(ns, name)
    assert len(results) >= 5
    assert all(r.passed for r in results), [(r.label, r.message) for r in results if not r.passed]


# A wrong answer per exercise: (answer variable, how to spoil the published one, words the message must hold)
WRONG = {
    "ex-diff-constant-beta": ("t_half_const", lambda v: math_log2() / 0.01, "too large"),
    "ex-diff-short-chain": ("prior_kl_short", lambda v: 2 * v, "factor of 2"),
    "ex-diff-posterior-bound": ("last_t_below", lambda v: {"linear": v["linear"]}, "missing keys ['cosine']"),
    "ex-diff-conversions": ("v_hat_ex", lambda v: -v, "wrong sign"),
    "ex-diff-ddim-inversion": ("inversion_error", lambda v: {**v, 250: v[250] * 1.1}, "too large"),
    "ex-ebm-gaussian-z": ("Z_ex", lambda v: v / np.sqrt(2 * np.pi), "factor of 1/sqrt(2 pi)"),
    "ex-ebm-mle": ("theta_star", lambda v: 1 / 3, "factor of 4"),  # 1/(4 m4) without the 4
    "ex-ebm-langevin-step": ("var_step_ex", lambda v: None, "not set"),
    "ex-ebm-min-energy-image": ("x_star", lambda v: v.reshape(28, 28), "reshape"),
    "ex-ebm-temperature": ("tau_ex", lambda v: v * 2, "factor of 2"),
}


def math_log2() -> float:
    return float(np.log(2))  # ln 2 / beta: the first-order answer, not the exact one


def test_a_wrong_answer_fails_with_a_useful_message(chapter, capsys):
    name, ns = chapter
    for ex in exercises.chapter_exercises(name):
        variable, spoil, words = WRONG[ex.label]
        wrong = {**ns, variable: spoil(ns[variable])}
        result = exercises.check(ex.label, wrong)
        shown = capsys.readouterr().out
        assert not result.passed and result.points == 0, ex.label
        assert words in result.message and variable in result.message, (ex.label, result.message)
        assert shown.startswith(f"not yet: {ex.label}: ")
        expected = ex.reference(**{k: ns[k] for k in ex.given})[variable]
        for value in np.ravel(list(expected.values()) if isinstance(expected, dict) else expected)[:20]:
            assert f"{float(value):.4g}" not in result.message, f"{ex.label}: the message shows the answer {value}"
    assert exercises.check(ex.label, ns).passed and "correct" in capsys.readouterr().out


@pytest.mark.parametrize("name", sorted(CHAPTERS))
def test_every_exercise_ends_in_its_check_and_the_student_edition_keeps_it(name):
    nb = read_notebook(CHAPTERS[name])
    text = "\n".join(c.source for c in nb.cells)
    labels = LABEL.findall(text)
    assert sorted(labels) == sorted(ex.label for ex in exercises.chapter_exercises(name))
    assert CHECK.findall(text) == labels, "one check per exercise, in the exercises' order"
    student, removed = strip_solutions(nb)
    student_text = "\n".join(c["source"] for c in student["cells"])
    assert removed == len(labels) and CHECK.findall(student_text) == labels
    for ex in exercises.chapter_exercises(name):
        starter = text.split(f":label: {ex.label}", 1)[1].split("{exercise-end}", 1)[0]
        for variable in WRONG_VARIABLES[ex.label]:
            assert re.search(rf"^{variable} = None\b", starter, re.M), f"{ex.label}: starter must set {variable} = None"


WRONG_VARIABLES = {
    "ex-diff-constant-beta": ["t_half_const"],
    "ex-diff-short-chain": ["alpha_bar_short", "prior_kl_short", "alpha_bar_scaled"],
    "ex-diff-posterior-bound": ["last_t_below"],
    "ex-diff-conversions": ["eps_hat_ex", "v_hat_ex"],
    "ex-diff-ddim-inversion": ["inversion_error"],
    "ex-ebm-gaussian-z": ["Z_ex", "mean_ex"],
    "ex-ebm-mle": ["theta_star"],
    "ex-ebm-langevin-step": ["max_step_ex", "var_step_ex", "step_1pct_ex"],
    "ex-ebm-min-energy-image": ["x_star"],
    "ex-ebm-temperature": ["tau_ex", "v_ex"],
}


def test_unknown_exercise_or_chapter_is_a_clear_error():
    with pytest.raises(ValueError, match="ex-nope.*unknown"):
        exercises.check("ex-nope", {})
    with pytest.raises(ValueError, match="no exercises"):
        exercises.grade({}, "nope")
    result = exercises.evaluate("ex-diff-constant-beta", {})
    assert not result.passed and "beta_const" in result.message and "run the chapter" in result.message


def test_handout_holds_student_notebooks_with_checks_and_the_library(tmp_path):
    from genlab.book.handout import write_handout
    archive = write_handout(tmp_path, root=ROOT)
    folder = tmp_path / "genlab-handout"
    assert archive.is_file() and (folder / "README.md").is_file() and (folder / "requirements.lock").is_file()
    assert (folder / "lib" / "genlab" / "exercises" / "__init__.py").is_file()
    for name, path in CHAPTERS.items():
        text = (folder / "theory" / path.name).read_text()
        assert text.startswith("---\njupytext:")  # still a text notebook
        assert "solution-start" not in text and len(CHECK.findall(text)) >= 5
        assert "theta_star = optimize.brentq" not in text and "t_half_const = math.log(2)" not in text  # solution code
    assert (folder / "notebooks").is_dir()
