"""Run the book's notebooks headlessly with papermill, in ``_toc.yml`` order, and build the book.

- :func:`run_notebooks` executes each notebook into ``_build/src/<same path>`` (the source
  notebooks stay output-free) with a profile's parameters from
  ``slurm/params/<profile>/<notebook stem>.yaml`` (the ``quick`` profile = the
  notebooks' own defaults). It stops at the first failing notebook and says which cell failed.
- :func:`build_book` renders those executed copies with Jupyter Book 1.x
  (``execute_notebooks: "off"``, ``-W --keep-going``: warnings are errors), into
  ``_build/html`` (or ``_build/student/_build/html`` with solutions hidden).
- The student edition renders a copy of the executed notebooks from which
  :func:`strip_solutions` removed every gated solution (``solution-start`` ...
  ``solution-end``, code cells and outputs included), and sets ``hide_solutions``
  for plain ``solution`` directives. sphinx-exercise's ``hide_solutions`` alone drops
  only the gated solution's title and leaves the cells between the markers visible.

Notebooks always run in *this* Python environment: a private kernelspec named
``genlab`` pointing at ``sys.executable`` is written under ``_build/jupyter`` and put
first on ``JUPYTER_PATH``, so a ``python3`` kernel registered elsewhere is never used.

SIGUSR1 (Slurm's warning before a time limit, ``--signal=B:USR1@N``) sent to the runner is
passed on to the kernel, where :func:`genlab.training.fit` checkpoints and raises
``TrainingInterrupted`` (exit code 3: requeue and rerun to resume). The kernel ignores SIGUSR1
outside ``fit``, and the runner repeats the signal every few seconds until the notebooks end,
so a training call that starts after the signal stops too.
"""

from __future__ import annotations

import functools
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, Iterable

import yaml

from ..base.files import write_json
from ..base.paths import project_root
from ..base.runlog import format_seconds
from ..models.registry import info, kind_of_notebook

KERNEL_NAME = "genlab"
PROFILES = ("quick", "smoke", "full")
# ipykernel_launcher, plus: ignore SIGUSR1 unless genlab.training.fit is running (it installs its handler).
KERNEL_BOOT = ("import signal, sys; hasattr(signal, 'SIGUSR1') and signal.signal(signal.SIGUSR1, signal.SIG_IGN); "
               "sys.path[0] == '' and sys.path.pop(0); from ipykernel import kernelapp; kernelapp.launch_new_instance()")


class NotebookFailed(RuntimeError):
    """A notebook raised while executing; the message names the notebook and cell."""

    def __init__(self, message: str, ename: str = ""):
        super().__init__(message)
        self.ename = ename


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
    return [p for p in toc_files(root) if p.suffix == ".ipynb"]


def write_kernelspec(data_dir: Path) -> Path:
    """Write the ``genlab`` kernelspec (this interpreter) under ``<data_dir>/kernels/genlab``."""
    spec_dir = Path(data_dir) / "kernels" / KERNEL_NAME
    spec_dir.mkdir(parents=True, exist_ok=True)
    spec = {"argv": [sys.executable, "-c", KERNEL_BOOT, "-f", "{connection_file}"],
            "display_name": "Python (genlab)", "language": "python",
            "env": {"PYTHONUNBUFFERED": "1"}}
    write_json(spec_dir / "kernel.json", spec)
    return spec_dir


def install_kernel(prefix: str | Path | None = None) -> Path:
    """Register ``genlab`` in the environment's own ``share/jupyter`` (``sys.prefix``), where plain
    ``jupyter lab`` and ``papermill`` find it without ``JUPYTER_PATH``; the set-up step calls this."""
    return write_kernelspec(Path(prefix or sys.prefix) / "share" / "jupyter")


def ensure_kernel(build_dir: Path) -> str:
    """Write the private ``genlab`` kernelspec (this interpreter) and put it first on JUPYTER_PATH."""
    write_kernelspec(build_dir / "jupyter")
    data_dir = str((build_dir / "jupyter").resolve())
    paths = [p for p in os.environ.get("JUPYTER_PATH", "").split(os.pathsep) if p and p != data_dir]
    os.environ["JUPYTER_PATH"] = os.pathsep.join([data_dir, *paths])
    return KERNEL_NAME


def profile_parameters(notebook: Path, profile: str, root: Path, params_dir: Path | None = None) -> dict[str, Any]:
    """Parameters of ``profile`` for ``notebook``: ``<params_dir or slurm/params/profile>/<stem>.yaml``."""
    if params_dir is None:
        if profile not in PROFILES:
            raise ValueError(f"profile '{profile}' unknown; choose one of {', '.join(PROFILES)} "
                             f"(or pass a parameter folder with --params-dir)")
        if profile == "quick":
            return {}
        params_dir = root / "slurm" / "params" / profile
    path = Path(params_dir) / f"{notebook.stem}.yaml"
    values = yaml.safe_load(path.read_text()) if path.exists() else {}
    if not isinstance(values, dict):
        raise ValueError(f"{path} must hold 'name: value' lines, not {type(values).__name__}")
    kind = kind_of_notebook(notebook)
    if profile == "smoke" and kind:  # a model chapter's smoke run is its kind's (models/<kind>/kind.yaml)
        values = {**info(kind)["smoke"], **values}
    return values


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


class StopForwarder:
    """While notebooks run, pass SIGUSR1 on to the kernel, and again every ``repeat_s`` seconds.

    The repeats reach a training call that starts after the signal (the kernel ignores SIGUSR1
    outside :func:`genlab.training.fit`), also in the next notebook's kernel. ``requested`` tells
    whether a stop was asked for. Only in the main thread (where signal handlers live).
    """

    def __init__(self, repeat_s: float = 5.0):
        self.repeat_s = repeat_s
        self.requested = threading.Event()
        self._done = threading.Event()
        self._old: Any = None

    def __enter__(self) -> "StopForwarder":
        if hasattr(signal, "SIGUSR1") and threading.current_thread() is threading.main_thread():
            self._old = signal.signal(signal.SIGUSR1, self._on_signal)
        return self

    def __exit__(self, *exc: Any) -> None:
        self._done.set()
        if self._old is not None:
            signal.signal(signal.SIGUSR1, self._old)

    def _on_signal(self, *_: Any) -> None:
        if not self.requested.is_set():
            self.requested.set()
            print("==> SIGUSR1: asking the notebook to checkpoint and stop", flush=True)
            threading.Thread(target=self._repeat, daemon=True).start()
        self.forward()

    def _repeat(self) -> None:
        while not self._done.wait(self.repeat_s):
            self.forward()

    @staticmethod
    def forward() -> None:
        import psutil
        for child in psutil.Process().children():
            try:
                if any("ipykernel" in part or "kernelapp" in part for part in child.cmdline()):
                    child.send_signal(signal.SIGUSR1)
            except psutil.Error:
                pass


def forwarding_stop_signal(func):
    """Decorator: run ``func`` with a :class:`StopForwarder` installed."""
    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any):
        with StopForwarder():
            return func(*args, **kwargs)
    return wrapper


@forwarding_stop_signal
def run_notebooks(profile: str = "quick", only: Iterable[str] | None = None, params_dir: str | Path | None = None,
                  parameters: dict[str, Any] | None = None, root: Path | None = None,
                  build_dir: str | Path = "_build", log_output: bool = True) -> list[Path]:
    """Execute the toc's notebooks in order; returns the executed copies. Raises :class:`NotebookFailed`."""
    import papermill as pm

    root = root or project_root()
    build = (root / build_dir).resolve()
    kernel = ensure_kernel(build)
    todo = select(toc_notebooks(root), only)
    declared = {nb: set(pm.inspect_notebook(str(root / nb))) for nb in todo}
    unused = [k for k in parameters or {} if not any(k in d for d in declared.values())]
    if unused:
        raise ValueError(f"parameter {', '.join(map(repr, unused))} is not in the parameters cell of any notebook "
                         f"being run ({', '.join(map(str, todo))}); check the spelling")
    executed = []
    for i, nb in enumerate(todo, 1):
        # Profile files are per notebook (a typo there fails the notebook's validation cell);
        # command-line parameters go to every notebook that declares them.
        params = {**profile_parameters(nb, profile, root, Path(params_dir) if params_dir else None),
                  **{k: v for k, v in (parameters or {}).items() if k in declared[nb]}}
        out = build / "src" / nb
        out.parent.mkdir(parents=True, exist_ok=True)
        shown = ", ".join(f"{k}={v!r}" for k, v in params.items()) or "notebook defaults"
        print(f"==> [{i}/{len(todo)}] {nb} (profile {profile}: {shown})", flush=True)
        t0 = time.perf_counter()
        try:
            pm.execute_notebook(str(root / nb), str(out), parameters=params, kernel_name=kernel,
                                cwd=str((root / nb).parent), progress_bar=False, log_output=False,
                                stdout_file=sys.stdout if log_output else None,  # kernel output -> ours (Slurm logs)
                                stderr_file=sys.stderr if log_output else None, request_save_on_cell_execute=True)
        except pm.PapermillExecutionError as exc:
            raise NotebookFailed(f"{nb} failed in cell {exc.cell_index} (execution count {exc.exec_count}): "
                                 f"{exc.ename}: {exc.evalue}\nThe executed copy with the error is {out}", exc.ename) from exc
        print(f"<== {nb} done in {format_seconds(time.perf_counter() - t0)}", flush=True)
        executed.append(out)
    return executed


def stage(root: Path, src: Path) -> None:
    """Copy the book's non-notebook files (config, toc, Markdown, images, _static) next to the executed notebooks."""
    src.mkdir(parents=True, exist_ok=True)
    for name in ("_config.yml", "_toc.yml", "references.bib"):
        if (root / name).exists():
            shutil.copy2(root / name, src / name)
    if (root / "_static").is_dir():
        shutil.copytree(root / "_static", src / "_static", dirs_exist_ok=True)
    folders = {p.parent for p in toc_files(root)}
    for page in toc_files(root):
        if page.suffix == ".md":
            (src / page).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(root / page, src / page)
        elif not (src / page).exists():
            raise FileNotFoundError(f"{page} has not been executed yet ({src / page} is missing): "
                                    f"run `python -m genlab run-notebooks` first")
    for folder in folders:
        for f in (root / folder).iterdir() if folder != Path(".") else ():
            if f.is_file() and f.suffix in {".png", ".jpg", ".jpeg", ".svg", ".gif", ".bib"}:
                shutil.copy2(f, src / folder / f.name)


_SOLUTION_FENCE = re.compile(
    r"^(?P<fence>`{3,}|:{3,})\{(?P<name>solution-start|solution-end)\}[^\n]*\n(?:.*?\n)??(?P=fence)[ \t]*$",
    re.M | re.S)


def strip_solutions(nb: dict, name: str = "notebook") -> tuple[dict, int]:
    """Remove every gated solution from a notebook (nbformat dict); returns ``(notebook, count)``.

    Text from a ``solution-start`` fence to the matching ``solution-end`` fence is dropped,
    with every cell (code or Markdown, outputs included) in between; the rest of a Markdown cell
    that holds a marker stays. Unbalanced markers raise ValueError naming the cell.
    """
    cells, inside, count = [], False, 0
    for index, cell in enumerate(nb.get("cells", [])):
        source = cell.get("source", "")
        source = "".join(source) if isinstance(source, list) else source
        if cell.get("cell_type") != "markdown":
            if not inside:
                cells.append(cell)
            continue
        kept, pos = [], 0
        for m in _SOLUTION_FENCE.finditer(source):
            starts = m.group("name") == "solution-start"
            if starts == inside:
                raise ValueError(f"{name}: cell {index} has a {m.group('name')} "
                                 f"{'inside another solution' if inside else 'without a solution-start'}; "
                                 f"pair every solution-start with one solution-end")
            if not inside:
                kept.append(source[pos:m.start()])
            inside, pos = starts, m.end()
            count += starts
        if not inside:
            kept.append(source[pos:])
        text = "".join(kept).strip("\n")
        if text.strip():
            cells.append({**cell, "source": text})
    if inside:
        raise ValueError(f"{name}: a solution-start has no solution-end; close it with a solution-end fence")
    return {**nb, "cells": cells}, count


def stage_student(src: Path, dest: Path) -> int:
    """Copy the staged book ``src`` to ``dest`` with every gated solution removed; returns how many."""
    if dest.exists():
        shutil.rmtree(dest)
    shutil.copytree(src, dest, ignore=shutil.ignore_patterns("_build", ".jupyter_cache"))
    total = 0
    for path in sorted(dest.rglob("*.ipynb")):
        stripped, count = strip_solutions(json.loads(path.read_text()), str(path.relative_to(dest)))
        if count:
            path.write_text(json.dumps(stripped, indent=1, ensure_ascii=False))
        total += count
    return total


def build_book(root: Path | None = None, build_dir: str | Path = "_build", student: bool = False) -> Path:
    """Build the HTML book from the executed notebooks; returns the path of ``index.html``.

    ``student=True`` renders a copy of the executed notebooks without their gated solutions
    (:func:`stage_student`, in ``<build_dir>/student/src``) with sphinx-exercise's
    ``hide_solutions`` set, and writes to ``<build_dir>/student/_build/html``.
    """
    root = root or project_root()
    build = (root / build_dir).resolve()
    src = build / "src"
    stage(root, src)
    config = src / "_config.yml"
    # Default layout: <root>/_build/html. jupyter-book appends _build/html to --path-output.
    out = (build.parent if build.name == "_build" else build) if not student else build / "student"
    if student:
        removed = stage_student(src, build / "student" / "src")
        print(f"Student edition: {removed} solutions removed", flush=True)
        src = build / "student" / "src"
        config = src / "_config.yml"
        cfg = yaml.safe_load(config.read_text())
        cfg.setdefault("sphinx", {}).setdefault("config", {})["hide_solutions"] = True
        cfg["title"] = f"{cfg.get('title', 'genlab')} (student edition)"
        config = src / "_config_student.yml"
        config.write_text(yaml.safe_dump(cfg, sort_keys=False))
    exe = Path(sys.executable).parent / "jupyter-book"
    cmd = [str(exe) if exe.exists() else "jupyter-book", "build", str(src), "--builder", "html",
           "--path-output", str(out), "--config", str(config), "-W", "--keep-going"]
    print("==> " + " ".join(cmd), flush=True)
    proc = subprocess.run(cmd, cwd=src)
    if proc.returncode != 0:
        raise RuntimeError(f"jupyter-book build failed (exit {proc.returncode}); the warnings above are errors "
                           f"(-W): fix them and rerun `python -m genlab build-book`")
    index = out / "_build" / "html" / "index.html"
    print(f"Book built: {index}", flush=True)
    return index
