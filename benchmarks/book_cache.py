"""What the execution cache saves: the Theory part of the book built four ways, with `genlab all`'s two steps.

    PYTHONPATH=lib python benchmarks/book_cache.py [--profile smoke] [--keep DIR]

Copies the theory chapters, the book's configuration and a link to the library into a temporary
project, then times run-notebooks + build-book: (1) from scratch, (2) again with nothing changed,
(3) after editing one line of prose in theory/ebm.md, (4) after a change to genlab/sampling/ (a
module the theory chapters do not import). Prints seconds per step and which notebooks executed.
The model chapters are left out: they train for minutes on a 2-core CPU (the lead times the full book).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import re
import shutil
import tempfile
import time
from pathlib import Path

import yaml

from genlab.book import runner

ROOT = Path(__file__).resolve().parents[1]


def make_project(dest: Path, lib: Path) -> Path:
    for name in ("theory", "_static"):
        if (ROOT / name).is_dir():
            shutil.copytree(ROOT / name, dest / name)
    shutil.copytree(ROOT / "slurm" / "params", dest / "slurm" / "params")
    for name in ("_config.yml", "intro.md", "references.bib"):
        if (ROOT / name).exists():
            shutil.copy2(ROOT / name, dest / name)
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    toc["parts"] = [p for p in toc["parts"] if p.get("caption") == "Theory"]
    (dest / "_toc.yml").write_text(yaml.safe_dump(toc, sort_keys=False))
    return dest


def build(root: Path, profile: str) -> tuple[float, float, list[str]]:
    log = io.StringIO()
    t0 = time.perf_counter()
    with contextlib.redirect_stdout(log):
        runner.run_notebooks(profile, root=root, log_output=False, parameters={"output_dir": str(root / "outputs")})
    t1 = time.perf_counter()
    with contextlib.redirect_stdout(log):
        runner.build_book(root=root)
    t2 = time.perf_counter()
    executed = re.findall(r"==> \[\d+/\d+\] (\S+) \(profile", log.getvalue())
    return t1 - t0, t2 - t1, executed


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--profile", default="smoke")
    ap.add_argument("--keep", help="build here instead of a temporary folder")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(args.keep or tmp)
        lib = base / "lib"
        shutil.copytree(ROOT / "lib" / "genlab", lib / "genlab", ignore=shutil.ignore_patterns("__pycache__"))
        runner.LIB_ROOT = lib  # fingerprint this copy, so step 4 edits no file of the checkout
        root = make_project(base / "book", lib)
        rows = []
        rows.append(("from scratch", *build(root, args.profile)))
        rows.append(("nothing changed", *build(root, args.profile)))
        ebm = root / "theory" / "ebm.md"
        ebm.write_text(ebm.read_text().replace("inputs and high for implausible ones", "inputs and high for implausible ones (edited)", 1))
        rows.append(("one prose line of theory/ebm.md", *build(root, args.profile)))
        sampling = lib / "genlab" / "sampling" / "samplers.py"
        sampling.write_text(sampling.read_text() + "\n# an edit\n")
        rows.append(("genlab/sampling/ changed", *build(root, args.profile)))
    print(f"{'build':34s} {'run-notebooks':>14s} {'build-book':>11s} {'total':>7s}  executed")
    for name, run_s, book_s, executed in rows:
        print(f"{name:34s} {run_s:13.1f}s {book_s:10.1f}s {run_s + book_s:6.1f}s  {', '.join(executed) or '-'}")


if __name__ == "__main__":
    main()
