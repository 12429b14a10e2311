"""The notebooks' ``genlab`` kernel: always *this* Python environment.

A private kernelspec named ``genlab`` pointing at ``sys.executable`` is written under
``_build/jupyter`` and put first on ``JUPYTER_PATH``, so a ``python3`` kernel registered elsewhere is
never used. The kernel ignores SIGUSR1 unless :func:`genlab.train.fit` is running (which installs its
own handler), so a stop signal forwarded by the runner (:mod:`.stop_signal`) never kills a cell.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from ..base.files import read_json, write_json

KERNEL_NAME = "genlab"
# ipykernel_launcher, plus: ignore SIGUSR1 unless genlab.train.fit is running (it installs its handler).
KERNEL_BOOT = ("import signal, sys; hasattr(signal, 'SIGUSR1') and signal.signal(signal.SIGUSR1, signal.SIG_IGN); "
               "sys.path[0] == '' and sys.path.pop(0); from ipykernel import kernelapp; kernelapp.launch_new_instance()")


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
    ``jupyter lab`` and ``papermill`` find it without ``JUPYTER_PATH``; the set-up step calls this.
    Also makes JupyterLab open the MyST Markdown chapters as notebooks (:func:`write_lab_settings`)."""
    data_dir = Path(prefix or sys.prefix) / "share" / "jupyter"
    write_lab_settings(data_dir)
    return write_kernelspec(data_dir)


def write_lab_settings(data_dir: Path) -> Path:
    """JupyterLab's ``overrides.json`` under ``<data_dir>/lab/settings``: ``.md`` files open as notebooks.

    jupytext's contents manager (its server extension, enabled when jupytext is installed) turns a
    MyST Markdown notebook into a notebook and saves it back as text; this setting makes a double click
    use that view instead of the Markdown editor.
    """
    path = Path(data_dir) / "lab" / "settings" / "overrides.json"
    settings = read_json(path) if path.exists() else {}
    viewers = settings.setdefault("@jupyterlab/docmanager-extension:plugin", {}).setdefault("defaultViewers", {})
    viewers.update({"markdown": "Jupytext Notebook", "myst": "Jupytext Notebook"})
    path.parent.mkdir(parents=True, exist_ok=True)
    write_json(path, settings)
    return path


def ensure_kernel(build_dir: Path) -> str:
    """Write the private ``genlab`` kernelspec (this interpreter) and put it first on JUPYTER_PATH."""
    write_kernelspec(build_dir / "jupyter")
    data_dir = str((build_dir / "jupyter").resolve())
    paths = [p for p in os.environ.get("JUPYTER_PATH", "").split(os.pathsep) if p and p != data_dir]
    os.environ["JUPYTER_PATH"] = os.pathsep.join([data_dir, *paths])
    return KERNEL_NAME
