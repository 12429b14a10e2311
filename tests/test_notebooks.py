"""The notebooks as committed, as executed by the runner, and as rendered into the book."""

import ast
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import nbformat
import pytest

from genlab.book.check import BrowserMissing, check_book, find_chromium
from genlab.book.runner import NotebookFailed, run_notebooks, toc_notebooks
from genlab.book.sources import is_notebook, read_notebook

ROOT = Path(__file__).resolve().parents[1]

NOTEBOOKS = toc_notebooks(ROOT)
ALL_NOTEBOOKS = sorted(p.relative_to(ROOT) for d in ("notebooks", "theory") for p in (ROOT / d).glob("*.*") if is_notebook(p))


def code_cells(path):
    return [c for c in read_notebook(ROOT / path).cells if c.cell_type == "code"]


@pytest.mark.parametrize("path", ALL_NOTEBOOKS, ids=str)
def test_committed_notebooks_have_no_outputs(path):
    for cell in code_cells(path):
        assert not cell.outputs and cell.execution_count is None, f"{path}: strip outputs before committing"


def test_every_notebook_is_in_the_toc():
    assert set(ALL_NOTEBOOKS) == set(NOTEBOOKS)


@pytest.mark.parametrize("path", [p for p in NOTEBOOKS if p.parts[0] == "notebooks"], ids=str)
def test_model_notebooks_are_thin_with_a_literal_parameters_cell(path):
    cells = code_cells(path)
    params = [c for c in cells if "parameters" in c.metadata.get("tags", [])]
    assert len(params) == 1, "exactly one cell tagged 'parameters'"
    for node in ast.parse(params[0].source).body:
        assert isinstance(node, ast.Assign), f"parameters cell: only 'name = literal' lines ({ast.dump(node)[:60]})"
        ast.literal_eval(node.value)
    for line in params[0].source.splitlines():
        assert "=" not in line.partition("#")[2], f"papermill cannot parse '=' in a comment: {line}"
    for cell in cells:
        for node in ast.walk(ast.parse(cell.source)):
            assert not isinstance(node, (ast.ClassDef, ast.FunctionDef, ast.For, ast.While, ast.AsyncFor)), \
                f"{path}: notebooks call the library; move {type(node).__name__} into genlab"


@pytest.mark.notebook
@pytest.mark.parametrize("path", NOTEBOOKS, ids=str)
def test_every_notebook_runs_at_the_smoke_profile(smoke_build, path):
    build, _ = smoke_build
    executed = nbformat.read(build / "src" / path.with_suffix(".ipynb"), as_version=4)
    errors = [o for c in executed.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    assert not errors
    assert any(c.outputs for c in executed.cells if c.cell_type == "code")


@pytest.mark.notebook
def test_the_book_builds_with_warnings_as_errors(smoke_book):
    html = smoke_book
    for nb in NOTEBOOKS:
        page = html / nb.with_suffix(".html")
        assert page.exists(), page
    dcgan_page = (html / "notebooks" / "01_dcgan.html").read_text()
    assert dcgan_page.count("<img") >= 4  # curves, grids over epochs, class grid, interpolation


@pytest.mark.notebook
def test_the_book_reads_well_in_a_browser(smoke_book, tmp_path):
    """Every page in headless Chromium (genlab check-book): images load, internal links lead somewhere, no
    JavaScript error, MathJax rendered every formula, no page wider than a 1280 px window."""
    try:
        find_chromium()
    except BrowserMissing as exc:
        pytest.skip(str(exc))
    problems = check_book(smoke_book, profile_dir=tmp_path / "chromium", printer=lambda *_: None)
    assert not problems, "\n".join(map(str, problems))


def _mini_project(tmp_path, cells_a):
    (tmp_path / "lib" / "genlab").mkdir(parents=True)
    (tmp_path / "intro.md").write_text("# intro\n")
    (tmp_path / "_toc.yml").write_text("format: jb-book\nroot: intro\nchapters:\n  - file: a\n  - file: b\n")
    for name, cells in (("a", cells_a), ("b", ["open('b_ran', 'w').write('yes')"])):
        nb = nbformat.v4.new_notebook()
        nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
        nb.cells = [nbformat.v4.new_code_cell(src) for src in cells]
        nbformat.write(nb, tmp_path / f"{name}.ipynb")
    return tmp_path


def test_a_failing_notebook_stops_the_run_and_names_the_cell(tmp_path):
    root = _mini_project(tmp_path, ["x = 1", "raise ValueError('boom')", "y = 2"])
    with pytest.raises(NotebookFailed, match=r"a.ipynb failed in cell 1 .*ValueError: boom"):
        run_notebooks(root=root, build_dir=tmp_path / "_build", log_output=False)
    assert not (tmp_path / "b_ran").exists()
    source = nbformat.read(tmp_path / "a.ipynb", as_version=4)
    assert not source.cells[0].outputs  # the source notebook is untouched


def test_unknown_command_line_parameter_is_refused(tmp_path):
    root = _mini_project(tmp_path, ["x = 1"])
    with pytest.raises(ValueError, match="parameter 'epoch' is not in the parameters cell of any notebook"):
        run_notebooks(root=root, build_dir=tmp_path / "_build", parameters={"epoch": 3})


def test_notebooks_run_in_this_environment_despite_a_foreign_python3_kernel(tmp_path):
    """A user-level 'python3' kernelspec pointing elsewhere must not be used."""
    home = tmp_path / "home"
    spec = home / ".local" / "share" / "jupyter" / "kernels" / "python3"
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(json.dumps(
        {"argv": ["/bin/false", "{connection_file}"], "display_name": "broken", "language": "python"}))
    root = _mini_project(tmp_path / "proj", ["import sys, genlab; open('exe', 'w').write(sys.executable)"])
    env = {k: v for k, v in os.environ.items() if not k.startswith("JUPYTER")}
    env.update(HOME=str(home), PYTHONPATH=str(ROOT / "lib"))
    proc = subprocess.run([sys.executable, "-m", "genlab", "run-notebooks"], cwd=root, env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert Path(root / "exe").read_text() == sys.executable


def test_the_cli_exits_non_zero_on_a_failing_notebook(tmp_path):
    root = _mini_project(tmp_path, [textwrap.dedent("raise RuntimeError('kaput')")])
    proc = subprocess.run([sys.executable, "-m", "genlab", "run-notebooks"], cwd=root, capture_output=True,
                          text=True, timeout=300, env={**os.environ, "PYTHONPATH": str(ROOT / "lib")})
    assert proc.returncode == 1
    assert "a.ipynb failed in cell 0" in proc.stderr and "RuntimeError: kaput" in proc.stderr
