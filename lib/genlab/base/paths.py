"""Where things are: the project root, and paths relative to it (notebooks run in subfolders)."""

from __future__ import annotations

import os
from pathlib import Path


def project_root(start: str | Path | None = None) -> Path:
    """The genlab checkout containing ``start`` (default: cwd): the first parent with ``_toc.yml``.

    Falls back to ``start`` itself, so relative paths work outside a checkout too.
    """
    here = Path(start or os.getcwd()).resolve()
    for p in (here, *here.parents):
        if (p / "_toc.yml").exists() and (p / "lib" / "genlab").is_dir():
            return p
    return here


def resolve_path(path: str | Path) -> Path:
    """Absolute paths stay; relative ones resolve against the project root."""
    path = Path(path).expanduser()
    return path if path.is_absolute() else project_root() / path
