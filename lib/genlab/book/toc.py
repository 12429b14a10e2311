"""The book's table of contents (``_toc.yml``): its pages in order, and which of them are notebooks."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterable

import yaml

from ..base.paths import project_root
from .sources import is_notebook


def toc_files(root: Path | None = None) -> list[Path]:
    """Every page in ``_toc.yml`` order, as paths relative to ``root`` (with their real suffix)."""
    root = root or project_root()
    toc = yaml.safe_load((root / "_toc.yml").read_text())
    entries: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if "file" in node:
                entries.append(node["file"])
            for key in ("parts", "chapters", "sections"):
                for child in node.get(key, []) or []:
                    walk(child)
        elif isinstance(node, list):
            for child in node:
                walk(child)

    entries.append(toc["root"])
    walk(toc)
    pages = []
    for entry in entries:
        for suffix in ("", ".ipynb", ".md"):
            if (root / f"{entry}{suffix}").is_file():
                pages.append(Path(f"{entry}{suffix}"))
                break
        else:
            raise FileNotFoundError(f"_toc.yml lists '{entry}' but neither {entry}.ipynb nor {entry}.md exists")
    return pages


def toc_notebooks(root: Path | None = None) -> list[Path]:
    """The pages that are notebooks: ``.ipynb`` files and MyST Markdown notebooks (``.md`` with a jupytext header)."""
    root = root or project_root()
    return [p for p in toc_files(root) if is_notebook(root / p)]


def select(notebooks: list[Path], only: Iterable[str] | None) -> list[Path]:
    """Keep notebooks whose path contains any of ``only`` (all when empty); unknown names raise."""
    only = list(only or [])
    if not only:
        return notebooks
    chosen = [nb for nb in notebooks if any(o in str(nb) for o in only)]
    missing = [o for o in only if not any(o in str(nb) for nb in notebooks)]
    if missing:
        raise ValueError(f"--only {missing}: no such notebook in _toc.yml; choose from "
                         f"{', '.join(str(n) for n in notebooks)}")
    return chosen
