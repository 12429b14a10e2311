"""Render the executed notebooks into the HTML book with Jupyter Book 1.x.

The book never executes anything (``execute_notebooks: "off"``): :func:`stage` copies the book's
other files next to the executed copies in ``_build/src`` and :func:`build_book` renders them with
``-W --keep-going`` (warnings are errors) into ``_build/html``, or the student edition (solutions
removed, :mod:`.student`) into ``_build/student/_build/html``.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import yaml

from ..base.paths import project_root
from .sources import executed_name, is_notebook
from .student import stage_student
from .toc import toc_files

ASSETS = {".png", ".jpg", ".jpeg", ".svg", ".gif", ".bib"}
COLLAPSED = "hide-input"  # myst-nb: the cell's code behind a "Show code cell source" toggle, its output shown


def collapse_parameters(executed: Path) -> bool:
    """Tag the parameters cell of an executed notebook ``hide-input``: a reader meets the prose first, while
    papermill's injected cell (the parameters this run changed) stays in view. Returns whether it changed."""
    import nbformat
    nb = nbformat.read(executed, as_version=4)
    changed = False
    for cell in nb.cells:
        tags = cell.metadata.get("tags", [])
        if "parameters" in tags and COLLAPSED not in tags:
            cell.metadata["tags"] = [*tags, COLLAPSED]
            changed = True
    if changed:
        nbformat.write(nb, executed)
    return changed


def stage(root: Path, src: Path) -> None:
    """Copy the book's non-notebook files (config, toc, Markdown, images, _static) next to the executed notebooks."""
    src.mkdir(parents=True, exist_ok=True)
    for name in ("_config.yml", "_toc.yml", "references.bib"):
        if (root / name).exists():
            shutil.copy2(root / name, src / name)
    if (root / "_static").is_dir():
        shutil.copytree(root / "_static", src / "_static", dirs_exist_ok=True)
    pages = toc_files(root)
    for page in pages:
        if not is_notebook(root / page):
            (src / page).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(root / page, src / page)
            continue
        if not (src / executed_name(page)).exists():
            raise FileNotFoundError(f"{page} has not been executed yet ({src / executed_name(page)} is missing): "
                                    f"run `python -m genlab run-notebooks` first")
        collapse_parameters(src / executed_name(page))
        if page.suffix == ".md":  # the executed .ipynb is the page; a second source would be ambiguous
            (src / page).unlink(missing_ok=True)
    for folder in {p.parent for p in pages}:
        for f in (root / folder).iterdir() if folder != Path(".") else ():
            if f.is_file() and f.suffix in ASSETS:
                shutil.copy2(f, src / folder / f.name)


def build_book(root: Path | None = None, build_dir: str | Path = "_build", student: bool = False) -> Path:
    """Build the HTML book from the executed notebooks; returns the path of ``index.html``.

    ``student=True`` renders a copy of the executed notebooks without their gated solutions
    (:func:`stage_student`, in ``<build_dir>/student/src``) with sphinx-exercise's
    ``hide_solutions`` set, and writes to ``<build_dir>/student/_build/html``.
    """
    root = root or project_root()
    build = (root / build_dir).resolve()
    src = build / "src"
    stage(root, src)
    config = src / "_config.yml"
    # Default layout: <root>/_build/html. jupyter-book appends _build/html to --path-output.
    out = (build.parent if build.name == "_build" else build) if not student else build / "student"
    if student:
        removed = stage_student(src, build / "student" / "src")
        print(f"Student edition: {removed} solutions removed", flush=True)
        src = build / "student" / "src"
        config = src / "_config.yml"
        cfg = yaml.safe_load(config.read_text())
        cfg.setdefault("sphinx", {}).setdefault("config", {})["hide_solutions"] = True
        cfg["title"] = f"{cfg.get('title', 'genlab')} (student edition)"
        config = src / "_config_student.yml"
        config.write_text(yaml.safe_dump(cfg, sort_keys=False))
    exe = Path(sys.executable).parent / "jupyter-book"
    cmd = [str(exe) if exe.exists() else "jupyter-book", "build", str(src), "--builder", "html",
           "--path-output", str(out), "--config", str(config), "-W", "--keep-going"]
    print("==> " + " ".join(cmd), flush=True)
    proc = subprocess.run(cmd, cwd=src)
    if proc.returncode != 0:
        raise RuntimeError(f"jupyter-book build failed (exit {proc.returncode}); the warnings above are errors "
                           f"(-W): fix them and rerun `python -m genlab build-book`")
    index = out / "_build" / "html" / "index.html"
    print(f"Book built: {index}", flush=True)
    return index
