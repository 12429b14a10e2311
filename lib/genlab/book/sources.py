"""Notebook sources: ``.ipynb`` files, and MyST Markdown notebooks (``.md`` with a jupytext header).

The theory chapters are MyST Markdown notebooks, so an edit is a plain text diff; jupytext turns
them into notebooks for papermill, the book and JupyterLab. Everything that reads a notebook source
goes through :func:`read_notebook`, so either form works everywhere.
"""

from __future__ import annotations

from pathlib import Path

TEXT_FORMAT = "md:myst"


def is_text_notebook(path: Path) -> bool:
    """A ``.md`` file whose YAML front matter has a ``jupytext`` section (plain Markdown pages have none)."""
    path = Path(path)
    if path.suffix != ".md" or not path.is_file():
        return False
    head = path.read_text(encoding="utf-8")[:4000]
    if not head.startswith("---\n"):
        return False
    front = head[4:].split("\n---", 1)[0]
    return any(line.startswith("jupytext:") for line in front.splitlines())


def is_notebook(path: Path) -> bool:
    return Path(path).suffix == ".ipynb" or is_text_notebook(path)


def read_notebook(path: Path):
    """The notebook at ``path`` as an nbformat node, whichever form it is stored in."""
    path = Path(path)
    if is_text_notebook(path):
        import jupytext
        return jupytext.read(path, fmt=TEXT_FORMAT)
    import nbformat
    return nbformat.read(path, as_version=4)


def write_notebook(nb, path: Path) -> Path:
    """Write ``nb`` as ``path``'s suffix says: ``.md`` as a MyST Markdown notebook, anything else as ``.ipynb``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".md":
        import jupytext
        jupytext.write(nb, path, fmt=TEXT_FORMAT)
    else:
        import nbformat
        nbformat.write(nbformat.from_dict(nb), path)
    return path


def executed_name(page: Path) -> Path:
    """Where a notebook's executed copy lives relative to the build's ``src``: the same path as ``.ipynb``."""
    return Path(page).with_suffix(".ipynb")
