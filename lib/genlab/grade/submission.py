"""Grade one submitted notebook: read it, find its chapter, execute a private copy with the hidden tests.

Run as ``python -m genlab.grade.submission NOTEBOOK --workdir DIR --result FILE``, one process per
submission, so the batch (:mod:`.batch`) can stop it and its kernel when it overruns its time. The
submission itself is only read: its bytes are copied to ``DIR`` first, and everything is written there.
Whatever goes wrong (not a notebook, a truncated file, a syntax error, a cell that raises) ends in a
result that says so; the process never fails for a bad submission.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Any

from ..base.files import write_json

LABEL = re.compile(r":label:\s*(ex-[\w-]+)")
HIDDEN_TESTS = """\
# hidden tests (added by the grader): fresh copies of the checks, then every exercise of the chapter
import importlib as _il, json as _json, sys as _sys
for _name in [m for m in _sys.modules if m.startswith("genlab.exercises")]:
    del _sys.modules[_name]
_grading = _il.import_module("genlab.exercises")
with open({result!r}, "w") as _fh:
    _json.dump([_r.as_dict() for _r in _grading.grade(globals(), {chapter!r})], _fh)
"""


class Unreadable(ValueError):
    """The submission is not a notebook genlab can run (the message says why)."""


def read_submission(path: Path, copy: Path):
    """Copy ``path``'s bytes to ``copy`` and parse the copy as a notebook; raises :class:`Unreadable`."""
    import nbformat
    data = path.read_bytes()
    copy.write_bytes(data)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise Unreadable(f"not a text file ({exc.reason} at byte {exc.start}): submit the .ipynb or .md notebook") from exc
    if not text.strip():
        raise Unreadable("the file is empty")
    if path.suffix == ".md":
        import jupytext
        nb = jupytext.reads(text, fmt="md:myst")
        if not any(c.cell_type == "code" for c in nb.cells):
            raise Unreadable("a Markdown file without code cells: not a MyST notebook")
        return nb
    if not text.lstrip().startswith("{"):
        raise Unreadable("not a notebook: neither notebook JSON (.ipynb) nor a MyST Markdown notebook (.md); "
                         "save the notebook from JupyterLab and submit that file")
    try:
        json.loads(text)
    except json.JSONDecodeError as exc:
        raise Unreadable(f"not a notebook: invalid JSON at line {exc.lineno}, column {exc.colno} "
                         f"({exc.msg}); a truncated upload? submit the file again") from exc
    try:
        nb = nbformat.reads(text, as_version=4)
        nbformat.validate(nb)
    except Exception as exc:  # nbformat's validation errors have many types
        raise Unreadable(f"not a valid notebook ({type(exc).__name__}: {str(exc).splitlines()[0][:200]})") from exc
    return nb


def find_chapter(path: Path, nb) -> str:
    """The theory chapter a submission answers: its file name, or else the exercise labels it holds."""
    from ..exercises import EXERCISES
    chapters = {ex.chapter for ex in EXERCISES.values()}
    if path.stem in chapters:
        return path.stem
    labels = LABEL.findall("\n".join(c.source for c in nb.cells if c.cell_type == "markdown"))
    found = [EXERCISES[label].chapter for label in labels if label in EXERCISES]
    if not found:
        raise Unreadable(f"no exercise of a theory chapter ({', '.join(sorted(chapters))}) found: "
                         f"name the file after its chapter, e.g. diffusion.ipynb")
    return max(set(found), key=found.count)


def cell_errors(nb) -> list[str]:
    """``cell N (first line) raised Name: message`` for every code cell that raised, N counting the
    submission's own cells from 1 (as numbered before execution: papermill may add cells)."""
    errors = []
    for cell in nb.cells:
        number = cell.metadata.get("genlab_cell")
        for out in cell.get("outputs", []) if cell.cell_type == "code" else []:
            if out.get("output_type") == "error":
                first = next((line for line in cell.source.splitlines() if line.strip()), "")[:60]
                where = "the hidden tests" if cell.source.startswith("# hidden tests") else f"cell {number} ({first!r})"
                value = str(out.get("evalue") or "").splitlines()
                errors.append(f"{where} raised {out['ename']}" + (f": {value[0][:200]}" if value else ""))
    return errors


def grade_submission(path: Path, workdir: Path, parameters: dict[str, Any] | None = None,
                     cell_timeout: float | None = None) -> dict[str, Any]:
    """Execute a private copy of ``path`` and its hidden tests; returns ``{status, chapter, results, errors, message}``."""
    import nbformat
    import papermill as pm
    from ..book.kernel import ensure_kernel
    workdir.mkdir(parents=True, exist_ok=True)
    try:
        nb = read_submission(path, workdir / f"submitted{path.suffix}")
        chapter = find_chapter(path, nb)
    except Unreadable as exc:
        return {"status": "unreadable", "chapter": None, "results": [], "errors": [], "message": str(exc)}
    hidden = workdir / "hidden_tests.json"
    for number, cell in enumerate(nb.cells, 1):
        cell.metadata["genlab_cell"] = number
    nb.cells.append(nbformat.v4.new_code_cell(HIDDEN_TESTS.format(result=str(hidden), chapter=chapter)))
    for cell in nb.cells:  # run every cell whatever the earlier ones raised: each exercise is graded on its own
        tags = cell.metadata.setdefault("tags", [])
        if cell.cell_type == "code" and "raises-exception" not in tags:
            tags.append("raises-exception")
    nbformat.write(nb, workdir / "to_run.ipynb")
    params = {"output_dir": str(workdir / "outputs"), "run": "grade", **(parameters or {})}
    declared = pm.inspect_notebook(str(workdir / "to_run.ipynb"))
    kernel = ensure_kernel(workdir / "_build")
    executed = workdir / "executed.ipynb"
    problem = ""
    try:
        pm.execute_notebook(str(workdir / "to_run.ipynb"), str(executed), kernel_name=kernel, cwd=str(workdir),
                            parameters={k: v for k, v in params.items() if k in declared}, progress_bar=False,
                            execution_timeout=cell_timeout, request_save_on_cell_execute=False)
    except pm.PapermillExecutionError:
        pass  # a cell raised: listed below from the executed copy, and the later cells ran all the same
    except Exception as exc:  # papermill/nbclient: a dead kernel, a cell timeout
        problem = f"{type(exc).__name__}: {str(exc).splitlines()[0][:200] if str(exc) else ''}"
    errors = cell_errors(nbformat.read(executed, as_version=4)) if executed.exists() else []
    if not hidden.exists():
        return {"status": "failed", "chapter": chapter, "results": [], "errors": errors,
                "message": "the notebook could not be run to the end" + (f" ({problem})" if problem else "")}
    return {"status": "graded", "chapter": chapter, "results": json.loads(hidden.read_text()), "errors": errors,
            "message": ""}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("notebook")
    p.add_argument("--workdir", required=True)
    p.add_argument("--result", required=True)
    p.add_argument("--parameters", default="{}", help="JSON object of notebook parameters")
    p.add_argument("--cell-timeout", type=float)
    args = p.parse_args(argv)
    result = grade_submission(Path(args.notebook), Path(args.workdir), json.loads(args.parameters), args.cell_timeout)
    write_json(args.result, result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
