"""Run the book's notebooks headlessly with papermill, in ``_toc.yml`` order (two at once on a CPU-only
machine with 2+ cores: :mod:`.lanes`).

:func:`run_notebooks` executes each notebook (``.ipynb``, or a MyST Markdown notebook turned into one by
jupytext) into ``_build/src/<same path>.ipynb`` (the sources stay output-free) with a profile's
parameters from ``slurm/params/<profile>/<notebook stem>.yaml`` (the ``quick`` profile = the notebooks'
own defaults), in the project's ``genlab`` kernel (:mod:`.kernel`), passing Slurm's stop signal on to it
(:mod:`.stop_signal`). A notebook whose source, parameters, library code and inputs did not change
since its last executed copy is skipped (:mod:`.cache`). No notebook starts after one fails; the run
says which cell failed. :mod:`.build` renders the executed copies into the book.

The pieces used to live here; they are re-exported so ``genlab.book.runner`` keeps working.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Iterable

from ..base.paths import project_root
from ..base.runlog import format_seconds
from .build import build_book, stage  # noqa: F401  (re-exported)
from .cache import ExecutionCache, fingerprint, inputs_digest
from .execute import NotebookFailed, execute
from .kernel import KERNEL_BOOT, KERNEL_NAME, ensure_kernel, install_kernel, write_kernelspec  # noqa: F401
from .lanes import Job, default_jobs, run_lanes
from .profiles import PROFILES, profile_parameters  # noqa: F401
from .sources import executed_name, is_text_notebook, read_notebook, write_notebook
from .stop_signal import StopForwarder, forwarding_stop_signal  # noqa: F401
from .student import stage_student, strip_solutions  # noqa: F401
from .toc import select, toc_files, toc_notebooks  # noqa: F401


__all__ = ["NotebookFailed", "run_notebooks", "build_book", "stage", "KERNEL_BOOT", "KERNEL_NAME", "ensure_kernel",
           "install_kernel", "write_kernelspec", "PROFILES", "profile_parameters", "StopForwarder",
           "forwarding_stop_signal", "stage_student", "strip_solutions", "select", "toc_files", "toc_notebooks"]

LIB_ROOT = Path(__file__).resolve().parents[2]  # the folder holding the genlab package the kernel imports


def papermill_input(root: Path, nb: Path, build: Path) -> Path:
    """The ``.ipynb`` papermill reads: the notebook itself, or its jupytext conversion under ``<build>/text``."""
    if not is_text_notebook(root / nb):
        return root / nb
    return write_notebook(read_notebook(root / nb), build / "text" / executed_name(nb))


def input_folders(root: Path, declared: dict[str, Any], params: dict[str, Any]) -> dict[str, Path]:
    """Where a notebook's inputs live: the dataset folder and its run's output folder (checkpoints)."""
    value = lambda name, default: params.get(name, (declared.get(name) or {}).get("default", default))
    strip = lambda v: str(v).strip("\"'")
    return {"data": root / strip(value("data_dir", "data")),
            "checkpoints": root / strip(value("output_dir", "outputs")) / strip(value("run", "quick"))}


def code_of(nb) -> str:
    return "\n".join(c.source for c in nb.cells if c.cell_type == "code")


@forwarding_stop_signal
def run_notebooks(profile: str = "quick", only: Iterable[str] | None = None, params_dir: str | Path | None = None,
                  parameters: dict[str, Any] | None = None, root: Path | None = None,
                  build_dir: str | Path = "_build", log_output: bool = True, cache: bool = True,
                  jobs: int | None = 1) -> list[Path]:
    """Execute the toc's notebooks; returns the executed copies in toc order (skipped ones included).

    ``jobs`` > 1 runs that many at once, each in its own process with its share of the cores (:mod:`.lanes`);
    None picks :func:`.lanes.default_jobs`. ``cache=False`` executes every notebook whatever its fingerprint.
    Raises :class:`NotebookFailed`.
    """
    import papermill as pm

    jobs = default_jobs() if jobs is None else jobs
    if jobs < 1:
        raise ValueError(f"jobs={jobs}: the number of notebooks to run at once must be at least 1")
    root = root or project_root()
    build = (root / build_dir).resolve()
    kernel = ensure_kernel(build)
    todo = select(toc_notebooks(root), only)
    inputs = {nb: papermill_input(root, nb, build) for nb in todo}
    declared = {nb: pm.inspect_notebook(str(inputs[nb])) for nb in todo}
    unused = [k for k in parameters or {} if not any(k in d for d in declared.values())]
    if unused:
        raise ValueError(f"parameter {', '.join(map(repr, unused))} is not in the parameters cell of any notebook "
                         f"being run ({', '.join(map(str, todo))}); check the spelling")
    store = ExecutionCache(build)
    stale, fingerprints, done = [], {}, []
    for i, nb in enumerate(todo, 1):
        # Profile files are per notebook (a typo there fails the notebook's validation cell);
        # command-line parameters go to every notebook that declares them.
        params = {**profile_parameters(nb, profile, root, Path(params_dir) if params_dir else None),
                  **{k: v for k, v in (parameters or {}).items() if k in declared[nb]}}
        out = build / "src" / executed_name(nb)
        out.parent.mkdir(parents=True, exist_ok=True)
        shown = ", ".join(f"{k}={v!r}" for k, v in params.items()) or "notebook defaults"
        fingerprints[nb] = fingerprint(root / nb, code_of(read_notebook(inputs[nb])), params, LIB_ROOT,
                                        input_folders(root, declared[nb], params))
        reasons = store.stale(nb, fingerprints[nb][0], out) if cache else ["cache off"]
        if not reasons:
            print(f"==> [{i}/{len(todo)}] {nb}: unchanged since its executed copy {out} "
                  f"(source, parameters, library code, inputs): skipped", flush=True)
            continue
        stale.append(Job(nb, inputs[nb], out, params, (root / nb).parent,
                         f"==> [{i}/{len(todo)}] {nb} (profile {profile}: {shown}; executing: {', '.join(reasons)}"))
    lanes = min(jobs, sum(not job.barrier for job in stale))  # one notebook alone keeps every core
    try:
        if lanes > 1:
            run_lanes(stale, lanes, kernel, build, on_start=lambda job: store.forget(job.nb),
                      on_done=lambda job: done.append(job.nb), echo=log_output)
        for job in stale if lanes <= 1 else ():
            print(job.announce + ")", flush=True)
            store.forget(job.nb)
            t0 = time.perf_counter()
            execute(job.nb, job.source, job.out, job.params, kernel, job.cwd, log_output)
            print(f"<== {job.nb} done in {format_seconds(time.perf_counter() - t0)}", flush=True)
            done.append(job.nb)
    finally:
        # inputs as the run leaves them: a chapter's own checkpoint must not make it stale next time
        for nb in done:
            parts, reads = fingerprints[nb]
            store.store(nb, {**parts, "inputs": inputs_digest(reads)})
    return [build / "src" / executed_name(nb) for nb in todo]
