"""The students' handout: ``python -m genlab handout`` writes a folder and a zip of it.

It holds the student edition of every notebook in ``_toc.yml`` (gated solutions removed, exercise checks
kept, outputs cleared; MyST Markdown chapters stay text), the library (the checks need it), the files that
install the pinned environment, and a short README on how to run them.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from ..base.paths import project_root
from .student import student_notebook
from .toc import toc_notebooks

INSTALL_FILES = ("pyproject.toml", "requirements.lock", "requirements.pins", "environment.yml")
README = """\
# genlab: student handout

The course notebooks without their solutions. Each exercise ends in a check cell: run it after you
assign your answers and it tells you `correct`, or what is wrong, without giving the answer away.

## Run them

    python3 -m venv .venv
    .venv/bin/pip install -r requirements.lock && .venv/bin/pip install --no-deps -e .
    .venv/bin/python -m genlab install-kernel
    .venv/bin/jupyter lab

(The lock is for CPython 3.11 on Linux x86_64; elsewhere use `.venv/bin/pip install -e .` instead of the first
pip command.) In JupyterLab the theory chapters (`theory/*.md`) open as notebooks; pick the `Python (genlab)`
kernel. Hand in the notebook you worked in (`.md` or `.ipynb`), under its own name: `theory/ebm.md` as `ebm.md`.

## What is here

{listing}
"""


def write_handout(out: str | Path | None = None, root: Path | None = None) -> Path:
    """Write the handout folder ``<out>/genlab-handout`` and ``<out>/genlab-handout.zip``; returns the zip."""
    root = root or project_root()
    out = Path(out) if out else root / "_build" / "handout"
    folder = out / "genlab-handout"
    if folder.exists():
        shutil.rmtree(folder)
    listing, removed = [], 0
    for nb in toc_notebooks(root):
        count = student_notebook(root / nb, folder / nb, clear_outputs=True)
        removed += count
        listing.append(f"- `{nb}`" + (f" ({count} exercises)" if count else ""))
    shutil.copytree(root / "lib" / "genlab", folder / "lib" / "genlab",
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    for name in INSTALL_FILES:
        if (root / name).exists():
            shutil.copy2(root / name, folder / name)
    listing += ["- `lib/genlab/`: the library the notebooks call (and the exercise checks)",
                "- `requirements.lock`, `pyproject.toml`: the pinned environment"]
    (folder / "README.md").write_text(README.format(listing="\n".join(listing)))
    archive = shutil.make_archive(str(out / "genlab-handout"), "zip", root_dir=out, base_dir="genlab-handout")
    print(f"handout: {folder} and {archive} ({removed} solutions removed)", flush=True)
    return Path(archive)
