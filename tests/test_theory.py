"""Theory chapters: structure of the exercises, the check helper, execution, and the student edition."""

from __future__ import annotations

import html
import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
import yaml

from genlab import theory
from genlab.book import runner as book
from genlab.book.sources import is_text_notebook, read_notebook

ROOT = Path(__file__).resolve().parents[1]
CHAPTERS = ("theory/diffusion.md", "theory/ebm.md")
EQUATION_LABELS = {
    "theory/diffusion.md": ["eq-forward-step", "eq-forward-marginal", "eq-linear-schedule", "eq-cosine-schedule",
                               "eq-snr", "eq-posterior-mean", "eq-posterior-var", "eq-reverse", "eq-elbo",
                               "eq-simple-loss", "eq-x0-from-eps", "eq-v-param", "eq-ddim-step", "eq-cfg",
                               "eq-score-eps"],
    "theory/ebm.md": ["eq-boltzmann", "eq-cd-gradient", "eq-langevin", "eq-ebm-loss", "eq-energy-score"],
}
EXERCISE = re.compile(r"^```\{exercise-start\}[^\n]*\n:label: (\S+)", re.M)
SOLUTION = re.compile(r"^```\{solution-start\} (\S+)", re.M)


def load(path: str | Path) -> dict:
    """A notebook as a plain dict, from its ``.ipynb`` or MyST Markdown source."""
    return json.loads(json.dumps(read_notebook(Path(path))))


def markdown(nb: dict) -> str:
    return "\n".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "markdown")


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_every_exercise_has_one_matching_solution(chapter):
    text = markdown(load(ROOT / chapter))
    exercises, solutions = EXERCISE.findall(text), SOLUTION.findall(text)
    assert len(exercises) >= 5, f"{chapter}: {len(exercises)} exercises, the course asks for at least 5"
    assert len(set(exercises)) == len(exercises), f"{chapter}: duplicate exercise labels {exercises}"
    assert sorted(solutions) == sorted(exercises), f"{chapter}: exercises {exercises} vs solutions {solutions}"
    assert text.count("{exercise-end}") == len(exercises) and text.count("{solution-end}") == len(solutions)


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_cited_equation_labels_exist_once(chapter):
    text = markdown(load(ROOT / chapter))
    for label in EQUATION_LABELS[chapter]:
        assert len(re.findall(rf"^\$\$ \({re.escape(label)}\)$", text, re.M)) == 1, f"{chapter}: equation label {label}"


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_notebooks_are_stored_without_outputs_and_with_a_parameters_cell(chapter):
    nb = load(ROOT / chapter)
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    assert all(not c.get("outputs") and c.get("execution_count") is None for c in code)
    assert "parameters" in code[0].get("metadata", {}).get("tags", [])
    assert nb["metadata"]["kernelspec"]["name"] == "genlab"


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_chapters_are_myst_text_notebooks_that_round_trip(chapter, tmp_path):
    """The source is the text: no .ipynb beside it to keep in step, and jupytext writes back the same bytes
    (so a notebook saved from JupyterLab gives a diff of only what was edited)."""
    from genlab.book.sources import write_notebook
    path = ROOT / chapter
    assert is_text_notebook(path) and not path.with_suffix(".ipynb").exists()
    text = path.read_text()
    assert '\\n",' not in text and "\\\\alpha" not in text  # no JSON escaping
    again = write_notebook(read_notebook(path), tmp_path / path.name).read_text()
    strip = lambda t: re.sub(r"\n *jupytext_version: [^\n]*", "", t)
    assert strip(again) == strip(text)


def test_checks_pass_and_fail_loudly(tmp_path):
    checks = theory.Checks("unit", verbose=False)
    checks.close("exact", np.array([1.0, 2.0]), [1.0, 2.0 + 1e-12])
    checks.close("monte carlo", 0.103, 0.1, stderr=0.001)  # 3 standard errors < 5
    with pytest.raises(theory.CheckFailed, match=r"'monte carlo 2' FAILED"):
        checks.close("monte carlo 2", 0.107, 0.1, stderr=0.001)  # 7 standard errors
    with pytest.raises(theory.CheckFailed, match="index"):
        checks.close("array", [1.0, 2.0, 3.0], [1.0, 2.0, 3.1], rtol=1e-3)
    with pytest.raises(theory.CheckFailed, match="non-finite"):
        checks.close("nan", float("nan"), 1.0)
    with pytest.raises(theory.CheckFailed):
        checks.true("inequality", 2 < 1, "two is not below one")
    record = json.loads(checks.save(tmp_path).read_text())
    assert record["num_checks"] == 6 and not record["all_passed"]


def test_config_rejects_too_few_samples():
    with pytest.raises(ValueError, match="num_samples"):
        theory.TheoryConfig(num_samples=10)


def test_strip_solutions_removes_gated_cells_and_keeps_the_rest():
    cells = [
        {"cell_type": "markdown", "metadata": {}, "source": "```{exercise-start}\n:label: ex-a\n```\nDo it."},
        {"cell_type": "code", "metadata": {}, "source": "starter = 1", "outputs": []},
        {"cell_type": "markdown", "metadata": {}, "source": "```{exercise-end}\n```\n\n```{solution-start} ex-a\n"
                                                             ":class: dropdown\n```\nSecret prose."},
        {"cell_type": "code", "metadata": {}, "source": "secret_answer = 42", "outputs": [{"text": "42"}]},
        {"cell_type": "markdown", "metadata": {}, "source": "```{solution-end}\n```\n\nAfter the solution."},
    ]
    stripped, count = book.strip_solutions({"cells": cells})
    text = json.dumps(stripped)
    assert count == 1
    assert "secret" not in text.lower() and "solution-start" not in text and "solution-end" not in text
    assert "starter = 1" in text and "{exercise-end}" in text and "After the solution." in text
    with pytest.raises(ValueError, match="solution-end"):
        book.strip_solutions({"cells": cells[:4]})
    with pytest.raises(ValueError, match="without a solution-start"):
        book.strip_solutions({"cells": cells[4:]})


def solution_only_names(nb: dict) -> tuple[set[str], set[str]]:
    """Identifiers that occur only inside solutions, and identifiers of the exercises' starter cells."""
    inside, solution_code, other_code, starter_code, in_exercise = False, [], [], [], False
    for cell in nb["cells"]:
        source = "".join(cell["source"])
        if cell["cell_type"] == "markdown":
            if "{exercise-start}" in source:
                in_exercise = True
            if "{exercise-end}" in source:
                in_exercise = False
            if "{solution-start}" in source:
                inside = True
            if "{solution-end}" in source:
                inside = False
            continue
        (solution_code if inside else other_code).append(source)
        if in_exercise and not inside:
            starter_code.append(source)
    names = lambda code: set(re.findall(r"\b[a-z][a-z0-9]*_[a-z0-9_]{2,}\b", "\n".join(code)))
    return names(solution_code) - names(other_code), names(starter_code)


def solution_only_lines(nb: dict) -> set[str]:
    """Code lines (over 30 characters) that occur in solutions and nowhere else in the chapter."""
    inside, solution, other = False, set(), set()
    for cell in nb["cells"]:
        source = "".join(cell["source"])
        if cell["cell_type"] == "markdown":
            inside = ("{solution-start}" in source) or (inside and "{solution-end}" not in source)
            continue
        code = (line.split("  #")[0].strip() for line in source.splitlines())  # a starter may add a comment
        (solution if inside else other).update(line for line in code if len(line) > 30)
    return solution - other


def page_text(path: Path) -> str:
    return html.unescape(re.sub(r"<[^>]+>", "", path.read_text()))


@pytest.mark.notebook
def test_chapters_execute_and_student_edition_hides_every_solution(tmp_path):
    """Run both chapters (smoke profile) in a copy of the book that holds only the Theory part,
    check the recorded checks, then build the student edition and look for solution text."""
    root = tmp_path / "book"
    shutil.copytree(ROOT / "theory", root / "theory")
    shutil.copytree(ROOT / "slurm" / "params" / "smoke", root / "slurm" / "params" / "smoke")
    for name in ("_config.yml", "intro.md"):
        shutil.copy2(ROOT / name, root / name)
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    toc["parts"] = [p for p in toc["parts"] if p.get("caption") == "Theory"]
    assert [c["file"] for c in toc["parts"][0]["chapters"]] == ["theory/diffusion", "theory/ebm"]
    (root / "_toc.yml").write_text(yaml.safe_dump(toc, sort_keys=False))

    outputs = tmp_path / "outputs"
    executed = book.run_notebooks(profile="smoke", root=root, parameters={"output_dir": str(outputs)},
                                  log_output=False)
    assert [p.name for p in executed] == ["diffusion.ipynb", "ebm.ipynb"]
    for chapter in ("diffusion", "ebm"):
        record = json.loads((outputs / "smoke" / "theory" / f"{chapter}_checks.json").read_text())
        assert record["all_passed"] and record["num_checks"] >= 25, (chapter, record["num_checks"])

    index = book.build_book(root=root, student=True)
    for chapter in CHAPTERS:
        page = index.parent / chapter.replace(".md", ".html")
        text = page_text(page)
        hidden, starters = solution_only_names(load(ROOT / chapter))
        # the starter cells name the answer variables too (the checks read them), so fewer names are solution-only
        assert len(hidden) >= 2 and starters, (chapter, hidden, starters)
        lines = solution_only_lines(load(ROOT / chapter))
        assert len(lines) >= 10, (chapter, lines)
        shown = sorted(line for line in lines if line in text)
        assert not shown, f"{chapter}: solution lines visible in the student edition: {shown[:5]}"
        assert all(name in text for name in starters), f"{chapter}: exercise code missing from the page"
        assert text.count("Exercise") >= 5
        leaked = sorted(name for name in hidden if re.search(rf"\b{name}\b", text))
        assert not leaked, f"{chapter}: solution code visible in the student edition: {leaked}"
        assert "Solution to" not in text and 'class="solution' not in page.read_text()
        student_nb = load(index.parents[2] / "src" / chapter.replace(".md", ".ipynb"))
        assert "solution-start" not in json.dumps(student_nb), f"{chapter}: student notebook still holds solutions"
