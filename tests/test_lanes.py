"""Notebooks executed side by side (genlab.book.lanes): overlap, thread shares, the comparison's barrier,
failures, and the execution cache afterwards."""

import json

import nbformat
import pytest

from genlab.book.lanes import cpu_count
from genlab.book.runner import NotebookFailed, run_notebooks

# Each of a and b waits for the other's file: the pair only finishes when both run at once.
RENDEZVOUS = """
import os, time, torch, json
print('hello from {me}')
open('{me}_started', 'w').close()
deadline = time.time() + 120
while not os.path.exists('{other}_started') and time.time() < deadline:
    time.sleep(0.1)
json.dump({{"met": os.path.exists('{other}_started'), "omp": os.environ.get("OMP_NUM_THREADS"),
           "torch": torch.get_num_threads(), "at": time.time()}}, open('{me}.json', 'w'))
"""
COMPARE = """
import os, json, time, torch
json.dump({"saw": sorted(f for f in os.listdir('.') if f.endswith('.json')), "torch": torch.get_num_threads(),
           "at": time.time()}, open('compare.out', 'w'))
"""


def _project(root, cells):
    """A project whose toc is a, b and notebooks/06_compare (the comparison, which waits for the others)."""
    (root / "notebooks").mkdir(parents=True)
    (root / "intro.md").write_text("# intro\n")
    (root / "_toc.yml").write_text("format: jb-book\nroot: intro\nchapters:\n  - file: notebooks/a\n"
                                   "  - file: notebooks/b\n  - file: notebooks/06_compare\n")
    for name, source in cells.items():
        nb = nbformat.v4.new_notebook()
        nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
        nb.cells = [nbformat.v4.new_code_cell(s) for s in source]
        nbformat.write(nb, root / "notebooks" / f"{name}.ipynb")
    return root


def test_two_notebooks_run_at_once_with_a_share_of_the_cores_and_the_comparison_after_both(tmp_path, capsys):
    root = _project(tmp_path, {"a": [RENDEZVOUS.format(me="a", other="b")],
                               "b": [RENDEZVOUS.format(me="b", other="a")], "06_compare": [COMPARE]})
    executed = run_notebooks(root=root, build_dir=tmp_path / "_build", jobs=2)
    assert [p.name for p in executed] == ["a.ipynb", "b.ipynb", "06_compare.ipynb"]
    share = max(1, cpu_count() // 2)
    for name in "ab":
        seen = json.loads((root / "notebooks" / f"{name}.json").read_text())
        assert seen["met"], f"{name} never saw the other notebook running"
        assert seen["omp"] == str(share) and seen["torch"] == share
    compare = json.loads((root / "notebooks" / "compare.out").read_text())
    assert compare["saw"] == ["a.json", "b.json"]  # it started after both had finished
    assert compare["torch"] == cpu_count()  # alone, with every core
    out = capsys.readouterr().out  # each child's output, relayed line by line with its page's name
    assert "[a] hello from a" in out and "[b] hello from b" in out
    assert "hello from a" in (tmp_path / "_build" / "logs" / "notebooks" / "a.log").read_text()

    run_notebooks(root=root, build_dir=tmp_path / "_build", jobs=2)  # the cache knows all three now
    assert capsys.readouterr().out.count(": skipped") == 3


def test_a_failure_lets_the_running_notebook_finish_and_stops_the_comparison(tmp_path, capsys):
    root = _project(tmp_path, {"a": ["open('a_started', 'w').close()", "raise ValueError('boom')"],
                               "b": [RENDEZVOUS.format(me="b", other="a")], "06_compare": [COMPARE]})
    with pytest.raises(NotebookFailed, match=r"a.ipynb failed in cell 1 .*ValueError: boom") as caught:
        run_notebooks(root=root, build_dir=tmp_path / "_build", jobs=2)
    assert caught.value.ename == "ValueError"
    assert (root / "notebooks" / "b.json").exists()  # b ran to its end
    assert not (root / "notebooks" / "compare.out").exists()
    capsys.readouterr()
    with pytest.raises(NotebookFailed):  # b succeeded, so the next run skips it
        run_notebooks(root=root, build_dir=tmp_path / "_build", jobs=1)
    assert "notebooks/b.ipynb: unchanged" in capsys.readouterr().out


def test_jobs_below_one_is_refused(tmp_path):
    root = _project(tmp_path, {"a": ["x = 1"], "b": ["x = 2"], "06_compare": ["x = 3"]})
    with pytest.raises(ValueError, match="jobs=0: the number of notebooks to run at once must be at least 1"):
        run_notebooks(root=root, build_dir=tmp_path / "_build", jobs=0)
