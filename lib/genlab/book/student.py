"""The student edition: every gated solution removed, the exercises and their checks kept.

:func:`strip_solutions` drops the text from a ``solution-start`` fence to the matching
``solution-end`` fence, with every cell (code or Markdown, outputs included) in between.
sphinx-exercise's ``hide_solutions`` alone drops only the gated solution's title and leaves the cells
between the markers visible, so the student book renders stripped copies.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

from .sources import read_notebook, write_notebook

_SOLUTION_FENCE = re.compile(
    r"^(?P<fence>`{3,}|:{3,})\{(?P<name>solution-start|solution-end)\}[^\n]*\n(?:.*?\n)??(?P=fence)[ \t]*$",
    re.M | re.S)


def strip_solutions(nb: dict, name: str = "notebook") -> tuple[dict, int]:
    """Remove every gated solution from a notebook (nbformat dict); returns ``(notebook, count)``.

    The rest of a Markdown cell that holds a marker stays. Unbalanced markers raise ValueError naming the cell.
    """
    cells, inside, count = [], False, 0
    for index, cell in enumerate(nb.get("cells", [])):
        source = cell.get("source", "")
        source = "".join(source) if isinstance(source, list) else source
        if cell.get("cell_type") != "markdown":
            if not inside:
                cells.append(cell)
            continue
        kept, pos = [], 0
        for m in _SOLUTION_FENCE.finditer(source):
            starts = m.group("name") == "solution-start"
            if starts == inside:
                raise ValueError(f"{name}: cell {index} has a {m.group('name')} "
                                 f"{'inside another solution' if inside else 'without a solution-start'}; "
                                 f"pair every solution-start with one solution-end")
            if not inside:
                kept.append(source[pos:m.start()])
            inside, pos = starts, m.end()
            count += starts
        if not inside:
            kept.append(source[pos:])
        text = "".join(kept).strip("\n")
        if text.strip():
            cells.append({**cell, "source": text})
    if inside:
        raise ValueError(f"{name}: a solution-start has no solution-end; close it with a solution-end fence")
    return {**nb, "cells": cells}, count


def student_notebook(source: Path, dest: Path, clear_outputs: bool = False) -> int:
    """Write the student copy of the notebook ``source`` (``.md`` or ``.ipynb``) to ``dest``, in ``dest``'s
    form; returns how many solutions were removed."""
    import nbformat
    nb = read_notebook(source)
    if clear_outputs:
        for cell in nb.cells:
            if cell.cell_type == "code":
                cell.outputs, cell.execution_count = [], None
    stripped, count = strip_solutions(nb, str(source))
    write_notebook(nbformat.from_dict(stripped), dest)
    return count


def stage_student(src: Path, dest: Path) -> int:
    """Copy the staged book ``src`` to ``dest`` with every gated solution removed; returns how many."""
    if dest.exists():
        shutil.rmtree(dest)
    shutil.copytree(src, dest, ignore=shutil.ignore_patterns("_build", ".jupyter_cache"))
    total = 0
    for path in sorted(dest.rglob("*.ipynb")):
        stripped, count = strip_solutions(json.loads(path.read_text()), str(path.relative_to(dest)))
        if count:
            path.write_text(json.dumps(stripped, indent=1, ensure_ascii=False))
        total += count
    return total
