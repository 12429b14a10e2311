"""The library's shape: no import cycles, the CLI is a leaf, the base layer and the book runner stay torch-free."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

LIB = Path(__file__).resolve().parents[1] / "lib"


def module_name(path: Path) -> str:
    parts = list(path.relative_to(LIB).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path, modules: set[str]) -> set[str]:
    """genlab modules that ``path`` imports anywhere in its body (module level or inside functions)."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("genlab")}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = ".".join(base[:len(base) - node.level + 1])
                target = f"{base}.{node.module}" if node.module else base
            else:
                target = node.module or ""
            if not target.startswith("genlab"):
                continue
            for alias in node.names:  # "from .x import y" may name a submodule y
                sub = f"{target}.{alias.name}"
                found.add(sub if sub in modules else target)
    return {m for m in found if m in modules and m != name}


def graph() -> dict[str, set[str]]:
    paths = sorted((LIB / "genlab").rglob("*.py"))
    modules = {module_name(p) for p in paths}
    return {module_name(p): imports(p, modules) for p in paths}


def test_no_import_cycles():
    g = graph()
    state: dict[str, int] = {}
    cycles = []

    def visit(node: str, stack: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(g[node]):
            if state.get(nxt) == 1:
                cycles.append(stack[stack.index(nxt):] + [nxt] if nxt in stack else [node, nxt])
            elif nxt not in state:
                visit(nxt, stack + [nxt])
        state[node] = 2

    for node in sorted(g):
        if node not in state:
            visit(node, [node])
    assert not cycles, "import cycles: " + "; ".join(" -> ".join(c) for c in cycles)


def test_the_cli_is_a_leaf():
    importers = [m for m, deps in graph().items() if "genlab.cli" in deps and m != "genlab.__main__"]
    assert not importers, f"library modules import the CLI: {importers}"


def test_base_layer_and_book_runner_do_not_import_torch():
    code = ("import sys; import genlab.base.config, genlab.base.files, genlab.base.paths, genlab.base.run_folder, "
            "genlab.base.runlog, genlab.book.runner, genlab.book.slurm, genlab.book.check, genlab.book.sphinx_ext, "
            "genlab.models.registry; "
            "print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_the_graph_sees_imports():
    g = graph()  # the checks above are only as good as this: known edges must be found
    assert "genlab.train.fit" in g["genlab.models.dcgan.training"]
    assert "genlab.models.registry" in g["genlab.eval.compare"] or "genlab.models" in g["genlab.eval.compare"]
