"""One notebook executed by papermill, in this process or in a child process with its own thread count.

:func:`execute` is the papermill call the runner makes. ``python -m genlab.book.execute REQUEST.json`` runs
it in a child: the runner starts one per notebook when it runs several at once (:mod:`.lanes`), so each
notebook's kernel gets its own ``OMP_NUM_THREADS``. The child reports a failure by writing the
:class:`NotebookFailed` message and exception name to the request's ``failure`` file and exiting 1.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from ..base.files import write_json


class NotebookFailed(RuntimeError):
    """A notebook raised while executing; the message names the notebook and cell."""

    def __init__(self, message: str, ename: str = ""):
        super().__init__(message)
        self.ename = ename


def execute(nb: Path, source: Path, out: Path, params: dict[str, Any], kernel: str, cwd: Path,
            log_output: bool = True) -> None:
    """Execute ``source`` (notebook ``nb`` as papermill reads it) into ``out``; raises :class:`NotebookFailed`."""
    import papermill as pm
    try:
        pm.execute_notebook(str(source), str(out), parameters=params, kernel_name=kernel, cwd=str(cwd),
                            progress_bar=False, log_output=False,
                            stdout_file=sys.stdout if log_output else None,  # kernel output -> ours (Slurm logs)
                            stderr_file=sys.stderr if log_output else None, request_save_on_cell_execute=True)
    except pm.PapermillExecutionError as exc:
        raise NotebookFailed(f"{nb} failed in cell {exc.cell_index} (execution count {exc.exec_count}): "
                             f"{exc.ename}: {exc.evalue}\nThe executed copy with the error is {out}",
                             exc.ename) from exc


def main(request_file: str) -> int:
    """The child's side: execute the notebook described in ``request_file`` (written by :mod:`.lanes`)."""
    request = json.loads(Path(request_file).read_text())
    try:
        execute(Path(request["nb"]), Path(request["source"]), Path(request["out"]), request["params"],
                request["kernel"], Path(request["cwd"]))
    except NotebookFailed as exc:
        write_json(request["failure"], {"message": str(exc), "ename": exc.ename})
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
