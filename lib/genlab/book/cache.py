"""Execution cache: a notebook is executed again only when something it depends on changed.

A notebook's fingerprint has five parts, each a SHA-256:

- ``source``: the bytes of the notebook's source (``.md`` or ``.ipynb``);
- ``parameters``: the parameters it is run with (profile file and command line);
- ``library``: every ``genlab`` module it imports, followed through the library's own imports
  (relative ones and module names in strings, as the model registry uses), so an edit to
  ``genlab/sampling`` re-executes the chapters that sample and leaves the theory chapters alone;
- ``inputs``: the dataset folder (when it imports ``genlab.data``) and the checkpoints (``*.pt``) of its
  run's output folder (when it imports ``genlab.train.checkpoint``, as every model does), by path, size
  and modification time, so a retrained checkpoint or a new dataset counts as a change without reading
  gigabytes on every build, and a chapter that loads neither is not re-run when a model retrains;
- ``environment``: the Python version and the versions of the packages that compute the results.

After a successful execution the runner stores the fingerprint in ``<build>/cache/<page>.json``; the
next run skips the notebook when every part is equal and its executed copy is still there, and
otherwise says which parts changed. Inputs are fingerprinted when the run ends, after every notebook
wrote what it writes (a chapter reads only what it or an earlier one wrote; run side by side, the
chapters before the comparison write only their own runs), so a chapter's own checkpoint does not
invalidate it.
"""

from __future__ import annotations

import ast
import hashlib
import json
import platform
import re
from importlib import metadata
from pathlib import Path
from typing import Any, Iterable

from ..base.files import read_json, write_json

PARTS = ("source", "parameters", "library", "inputs", "environment")
ENVIRONMENT_PACKAGES = ("torch", "torchvision", "numpy", "scipy", "matplotlib", "papermill", "jupytext")
_MODULE_NAME = re.compile(r"^genlab(\.\w+)*$")


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def module_file(name: str, lib_root: Path) -> Path | None:
    """The file of module ``name`` (``genlab.a.b``) under ``lib_root``, or None if it is not a module."""
    base = lib_root.joinpath(*name.split("."))
    for path in (base.with_suffix(".py"), base / "__init__.py"):
        if path.is_file():
            return path
    return None


def _imports(code: str, package: str) -> set[str]:
    """Module names that ``code`` imports (absolute ``genlab...`` ones, relative ones resolved against
    ``package``, ``from M import name`` as both ``M`` and ``M.name``) and ``genlab...`` names in strings."""
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return set()
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package.split(".")
                parent = parts[:len(parts) - node.level + 1]
                module = ".".join(parent + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            names.add(module)
            names.update(f"{module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and _MODULE_NAME.match(node.value):
            names.add(node.value)
    return {n for n in names if n == "genlab" or n.startswith("genlab.")}


def library_files(code: str, lib_root: Path) -> list[Path]:
    """Every file of the ``genlab`` library that running ``code`` imports, directly or through other modules
    (packages' ``__init__`` included: importing ``genlab.a.b`` runs ``genlab/a/__init__.py``)."""
    seen: dict[str, Path] = {}
    todo = [(n, None) for n in _imports(code, "genlab")]
    while todo:
        name, _ = todo.pop()
        parts = name.split(".")
        for i in range(1, len(parts) + 1):
            prefix = ".".join(parts[:i])
            if prefix in seen:
                continue
            path = module_file(prefix, lib_root)
            if path is None:
                continue
            seen[prefix] = path
            package = prefix if path.name == "__init__.py" else prefix.rsplit(".", 1)[0]
            todo.extend((n, None) for n in _imports(path.read_text(encoding="utf-8"), package) if n not in seen)
    return sorted(set(seen.values()))


# What a notebook reads, by the library code that reads it: (file or package prefix, glob under the folder)
READERS = {"data": ("genlab/data", "*"), "checkpoints": ("genlab/train/checkpoint.py", "*.pt")}


def input_globs(library: Iterable[Path], lib_root: Path, folders: dict[str, Path]) -> list[tuple[Path, str]]:
    """``(folder, glob)`` of the inputs a notebook can read: a kind of input counts when its reader is imported."""
    names = [str(p.relative_to(lib_root)) for p in library]
    return [(Path(folders[kind]), pattern) for kind, (reader, pattern) in READERS.items()
            if kind in folders and any(n == reader or n.startswith(reader + "/") or n == reader + ".py" for n in names)]


def inputs_digest(inputs: Iterable[tuple[Path, str]]) -> str:
    rows = []
    for folder, pattern in inputs:
        for p in sorted(folder.rglob(pattern)) if folder.is_dir() else []:
            if p.is_file():
                st = p.stat()
                rows.append((str(p), st.st_size, st.st_mtime_ns))
    return _sha(json.dumps(rows).encode())


def environment_digest() -> str:
    versions = {}
    for name in ENVIRONMENT_PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return _sha(json.dumps([platform.python_version(), versions], sort_keys=True).encode())


def fingerprint(source: Path, code: str, parameters: dict[str, Any], lib_root: Path,
                folders: dict[str, Path]) -> tuple[dict[str, str], list[tuple[Path, str]]]:
    """The five digests of one notebook (``code``: its code cells, whose imports decide ``library`` and which
    of ``folders`` (``data``, ``checkpoints``) are its inputs), and those inputs (for :func:`inputs_digest`)."""
    files = library_files(code, lib_root)
    library = hashlib.sha256()
    for path in files:
        library.update(str(path.relative_to(lib_root)).encode() + b"\0" + path.read_bytes() + b"\0")
    inputs = input_globs(files, lib_root, folders)
    return {"source": _sha(Path(source).read_bytes()),
            "parameters": _sha(json.dumps(parameters, sort_keys=True, default=str).encode()),
            "library": library.hexdigest(), "inputs": inputs_digest(inputs),
            "environment": environment_digest()}, inputs


class ExecutionCache:
    """Fingerprints of the executed notebooks of one build folder (``<build>/cache/<page>.json``)."""

    def __init__(self, build: Path):
        self.dir = Path(build) / "cache"

    def entry(self, page: Path) -> Path:
        return self.dir / f"{page}.json"

    def stale(self, page: Path, parts: dict[str, str], executed: Path) -> list[str]:
        """Why ``page`` must run again (empty: its executed copy is up to date)."""
        if not self.entry(page).is_file():
            return ["never executed with the cache"]
        if not Path(executed).is_file():
            return [f"executed copy {executed} missing"]
        old = read_json(self.entry(page)).get("parts", {})
        return [f"{name} changed" for name in PARTS if old.get(name) != parts.get(name)]

    def store(self, page: Path, parts: dict[str, str]) -> None:
        write_json(self.entry(page), {"page": str(page), "parts": parts})

    def forget(self, page: Path) -> None:
        self.entry(page).unlink(missing_ok=True)
