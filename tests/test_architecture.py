"""The library's shape: layers that import one way only (at any depth, function-level imports included), no
import cycle between modules or packages, the CLI a leaf, no module over 300 lines, the base layer and the
book tools torch-free."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

LIB = Path(__file__).resolve().parents[1] / "lib"
MAX_LINES = 300  # one concept per module (DESIGN.md)

# Packages (and top-level modules) from low to high: a module imports its own package and lower layers only.
# The metric maths and the evaluation pipeline (eval) sit below the models, which call them; whatever loads
# trained models (report, serve, the fault-injection tools, the book's job plans) sits above; the CLI on top.
LAYERS = (
    {"genlab", "base"},
    {"sampling"},
    {"data"},
    {"plots"},
    {"train"},
    {"eval"},
    {"models"},
    {"report", "serve", "tools", "book", "theory", "exercises"},
    {"grade"},  # runs submitted notebooks (book's kernel) with the exercises' hidden tests
    {"cli"},
    {"__main__"},
)


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


def package(module: str) -> str:
    """``genlab.eval.metrics`` -> ``eval``; ``genlab`` -> ``genlab``."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else parts[0]


def layer(module: str) -> int:
    found = [i for i, names in enumerate(LAYERS) if package(module) in names]
    assert found, f"{module}: package {package(module)!r} has no layer; add it to LAYERS in {Path(__file__).name}"
    return found[0]


def test_no_module_imports_a_higher_layer():
    upward = sorted(f"{m} (layer {layer(m)}) imports {d} (layer {layer(d)})"
                    for m, deps in graph().items() for d in deps if layer(d) > layer(m))
    assert not upward, "imports against the layer order:\n" + "\n".join(upward)


def cycles_of(g: dict[str, set[str]]) -> list[list[str]]:
    state: dict[str, int] = {}
    cycles = []

    def visit(node: str, stack: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(g.get(node, ())):
            if state.get(nxt) == 1:
                cycles.append(stack[stack.index(nxt):] + [nxt] if nxt in stack else [node, nxt])
            elif nxt not in state:
                visit(nxt, stack + [nxt])
        state[node] = 2

    for node in sorted(g):
        if node not in state:
            visit(node, [node])
    return cycles


def test_no_import_cycle_between_packages():
    packages: dict[str, set[str]] = {}
    for m, deps in graph().items():
        packages.setdefault(package(m), set()).update(package(d) for d in deps if package(d) != package(m))
    cycles = cycles_of(packages)
    assert not cycles, "package cycles: " + "; ".join(" -> ".join(c) for c in cycles)


def test_no_library_module_exceeds_the_line_limit():
    long = {str(p.relative_to(LIB)): n for p in sorted((LIB / "genlab").rglob("*.py"))
            if (n := len(p.read_text().splitlines())) > MAX_LINES}
    assert not long, f"modules over {MAX_LINES} lines (split them by concept): {long}"


def test_no_import_cycles():
    cycles = cycles_of(graph())
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
    g = graph()  # the checks above are only as good as this: known edges must be found, function-level ones too
    assert "genlab.train.fit" in g["genlab.models.dcgan.training"]
    assert "genlab.eval.evaluation" in g["genlab.models.protocol"]  # inside TrainedBase.evaluate
    assert "genlab.models.registry" in g["genlab.report.runs"] or "genlab.models" in g["genlab.report.runs"]


def test_the_layer_check_catches_an_upward_import(tmp_path, monkeypatch):
    """A function-level import of a higher layer (the kind of arrow the layer test exists for) is found."""
    (tmp_path / "genlab" / "eval").mkdir(parents=True)
    (tmp_path / "genlab" / "models").mkdir()
    for name in ("genlab/__init__.py", "genlab/eval/__init__.py", "genlab/models/__init__.py"):
        (tmp_path / name).write_text("")
    (tmp_path / "genlab" / "models" / "registry.py").write_text("")
    (tmp_path / "genlab" / "eval" / "compare.py").write_text("def f():\n    from ..models import registry\n")
    monkeypatch.setitem(globals(), "LIB", tmp_path)
    assert "genlab.models.registry" in graph()["genlab.eval.compare"]
    with pytest.raises(AssertionError, match="genlab.eval.compare .* imports genlab.models.registry"):
        test_no_module_imports_a_higher_layer()
