"""The runner's execution cache: a notebook runs again exactly when its source, parameters, the library code
it imports, its inputs (dataset, checkpoints) or the environment changed. Tiny notebooks in a tmp book."""

from __future__ import annotations

import os
import re
import shutil
import textwrap
from pathlib import Path

import nbformat
import pytest

from genlab.book import runner
from genlab.book.cache import library_files

REAL_LIB = Path(runner.__file__).resolve().parents[2]

TEXT_NOTEBOOK = textwrap.dedent("""\
    ---
    jupytext:
      text_representation:
        extension: .md
        format_name: myst
        format_version: 0.13
    kernelspec:
      display_name: Python (genlab)
      language: python
      name: genlab
    ---

    # Text chapter

    A line of prose.

    ```{code-cell}
    from genlab.base import paths
    print("text chapter ran")
    ```
    """)


@pytest.fixture
def book(tmp_path, monkeypatch):
    """A book with one .ipynb (a parameter, imports genlab.base.files) and one MyST notebook, and a copy of
    the library that the cache fingerprints (the kernel imports the real one)."""
    root = tmp_path / "book"
    (root / "ch").mkdir(parents=True)
    (root / "_toc.yml").write_text("format: jb-book\nroot: intro\nchapters:\n  - file: ch/a\n  - file: ch/b\n")
    (root / "intro.md").write_text("# intro\n")
    nb = nbformat.v4.new_notebook(metadata={"kernelspec": {"name": "genlab", "display_name": "genlab", "language": "python"}})
    params = nbformat.v4.new_code_cell('n = 1\nrun = "quick"\noutput_dir = "outputs"')
    params.metadata["tags"] = ["parameters"]
    # a reads the dataset and checkpoints (it imports their readers; never executed, the cache reads imports)
    readers = "if False:\n    from genlab import data\n    from genlab.train import checkpoint\n"
    nb.cells = [params, nbformat.v4.new_code_cell(readers + "from genlab.base import files\nprint('a ran', n)")]
    nbformat.write(nb, root / "ch" / "a.ipynb")
    (root / "ch" / "b.md").write_text(TEXT_NOTEBOOK)
    lib = tmp_path / "lib"
    shutil.copytree(REAL_LIB / "genlab" / "base", lib / "genlab" / "base")
    (lib / "genlab" / "__init__.py").write_text((REAL_LIB / "genlab" / "__init__.py").read_text())
    (lib / "genlab" / "unused.py").write_text("X = 1\n")
    shutil.copytree(REAL_LIB / "genlab" / "data", lib / "genlab" / "data", ignore=shutil.ignore_patterns("__pycache__"))
    (lib / "genlab" / "train").mkdir()
    for name in ("__init__.py", "checkpoint.py"):
        shutil.copy2(REAL_LIB / "genlab" / "train" / name, lib / "genlab" / "train" / name)
    monkeypatch.setattr(runner, "LIB_ROOT", lib)
    return root, lib


def run(root, capsys, **kwargs) -> dict[str, str]:
    """Run the book; returns notebook -> 'executed' or 'skipped' (from the log)."""
    runner.run_notebooks(root=root, log_output=False, **kwargs)
    log = capsys.readouterr().out
    status = {}
    for nb in ("ch/a.ipynb", "ch/b.md"):
        if re.search(rf"{re.escape(nb)}: unchanged since its executed copy .* skipped", log):
            status[nb] = "skipped"
        elif re.search(rf"{re.escape(nb)} \(profile .*executing: ", log):
            status[nb] = "executed: " + re.search(rf"{re.escape(nb)} \(profile .*executing: ([^)]*)\)", log).group(1)
    return status


def test_library_files_follow_imports_through_the_library():
    files = {str(p.relative_to(REAL_LIB)) for p in library_files("from genlab import theory", REAL_LIB)}
    assert {"genlab/__init__.py", "genlab/theory.py", "genlab/base/config.py", "genlab/base/files.py"} <= files
    assert not any(f.startswith(("genlab/sampling", "genlab/models")) for f in files)
    registry = {str(p.relative_to(REAL_LIB)) for p in library_files("from genlab.models import registry; registry.get('ddpm')", REAL_LIB)}
    assert "genlab/models/ddpm/__init__.py" in registry  # named in a string, imported with importlib
    assert library_files("this is not python (", REAL_LIB) == []


def test_unchanged_book_is_skipped_and_each_change_reexecutes_only_what_depends_on_it(book, capsys):
    root, lib = book
    assert run(root, capsys) == {"ch/a.ipynb": "executed: never executed with the cache",
                                 "ch/b.md": "executed: never executed with the cache"}
    executed = root / "_build" / "src" / "ch"
    stamp = {p.name: p.stat().st_mtime_ns for p in executed.glob("*.ipynb")}
    assert run(root, capsys) == {"ch/a.ipynb": "skipped", "ch/b.md": "skipped"}
    assert {p.name: p.stat().st_mtime_ns for p in executed.glob("*.ipynb")} == stamp

    # one line of prose in the text chapter: only it runs again
    text = (root / "ch" / "b.md").read_text()
    (root / "ch" / "b.md").write_text(text.replace("A line of prose.", "A line of edited prose."))
    assert run(root, capsys) == {"ch/a.ipynb": "skipped", "ch/b.md": "executed: source changed"}

    # a parameter: only the notebook that declares it
    assert run(root, capsys, parameters={"n": 2}) == {"ch/a.ipynb": "executed: parameters changed", "ch/b.md": "skipped"}
    assert run(root, capsys, parameters={"n": 2}) == {"ch/a.ipynb": "skipped", "ch/b.md": "skipped"}

    # library code: a module nobody imports changes nothing; one that a imports re-executes a
    (lib / "genlab" / "unused.py").write_text("X = 2\n")
    assert run(root, capsys, parameters={"n": 2}) == {"ch/a.ipynb": "skipped", "ch/b.md": "skipped"}
    files = lib / "genlab" / "base" / "files.py"
    files.write_text(files.read_text() + "\n# an edit\n")
    status = run(root, capsys, parameters={"n": 2})
    assert status["ch/a.ipynb"] == "executed: library changed"


def test_inputs_dataset_and_checkpoints_invalidate_the_notebooks_that_read_them(book, capsys):
    """a imports the dataset and checkpoint readers, b neither: only a depends on data/ and outputs/<run>/*.pt."""
    root, _ = book
    run(root, capsys)
    (root / "data").mkdir()
    (root / "data" / "digits.npz").write_bytes(b"new dataset")
    assert run(root, capsys) == {"ch/a.ipynb": "executed: inputs changed", "ch/b.md": "skipped"}
    ckpt = root / "outputs" / "quick" / "dcgan" / "checkpoint.pt"
    ckpt.parent.mkdir(parents=True)
    ckpt.write_bytes(b"weights")
    assert run(root, capsys) == {"ch/a.ipynb": "executed: inputs changed", "ch/b.md": "skipped"}
    assert set(run(root, capsys).values()) == {"skipped"}
    os.utime(ckpt, ns=(ckpt.stat().st_atime_ns, ckpt.stat().st_mtime_ns + 10**9))  # retrained: a newer file
    assert run(root, capsys) == {"ch/a.ipynb": "executed: inputs changed", "ch/b.md": "skipped"}
    (ckpt.parent / "metrics.json").write_text("{}")  # results a chapter writes are not inputs
    assert set(run(root, capsys).values()) == {"skipped"}


def test_no_cache_missing_copy_and_failures_reexecute(book, capsys):
    root, _ = book
    run(root, capsys)
    assert set(run(root, capsys, cache=False).values()) == {"executed: cache off"}
    (root / "_build" / "src" / "ch" / "b.ipynb").unlink()
    status = run(root, capsys)
    assert status["ch/a.ipynb"] == "skipped" and status["ch/b.md"].startswith("executed: executed copy")
    (root / "ch" / "b.md").write_text(TEXT_NOTEBOOK.replace('print("text chapter ran")', "1 / 0"))
    with pytest.raises(runner.NotebookFailed, match="ZeroDivisionError"):
        run(root, capsys)
    capsys.readouterr()
    (root / "ch" / "b.md").write_text(TEXT_NOTEBOOK)  # back to the source of the last good copy
    assert run(root, capsys)["ch/b.md"] == "executed: never executed with the cache"  # a failed run is never cached


def test_staging_collapses_the_parameters_cell(book, capsys):
    from genlab.book.build import collapse_parameters, stage
    root, _ = book
    run(root, capsys)
    stage(root, root / "_build" / "src")
    executed = nbformat.read(root / "_build" / "src" / "ch" / "a.ipynb", as_version=4)
    tags = [c.metadata.get("tags", []) for c in executed.cells]
    assert tags[0] == ["parameters", "hide-input"]
    assert not collapse_parameters(root / "_build" / "src" / "ch" / "a.ipynb")  # once is enough
