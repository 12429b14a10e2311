"""The notebooks' ``genlab`` kernel works outside the project's wrappers: plain papermill, plain Jupyter,
and ``genlab lab`` with Jupyter's own options."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from genlab import cli
from genlab.book.runner import KERNEL_NAME, install_kernel, profile_parameters

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def test_install_kernel_writes_spec_for_this_interpreter(tmp_path):
    spec_dir = install_kernel(tmp_path)
    assert spec_dir == tmp_path / "share" / "jupyter" / "kernels" / KERNEL_NAME
    spec = json.loads((spec_dir / "kernel.json").read_text())
    assert spec["argv"][0] == sys.executable and "{connection_file}" in spec["argv"]
    # JupyterLab opens the MyST Markdown chapters as notebooks (jupytext's view) on a double click
    overrides = json.loads((tmp_path / "share" / "jupyter" / "lab" / "settings" / "overrides.json").read_text())
    viewers = overrides["@jupyterlab/docmanager-extension:plugin"]["defaultViewers"]
    assert viewers["markdown"] == viewers["myst"] == "Jupytext Notebook"


@pytest.mark.slow  # runs a chapter with papermill
def test_plain_papermill_runs_a_notebook_at_the_smoke_profile(tmp_path):
    """What `make setup` does (install-kernel into the environment), then the venv's own papermill with no
    JUPYTER_PATH: the kernel named in the notebook must be found in the environment's share/jupyter."""
    assert cli.main(["install-kernel"]) == 0
    assert (Path(sys.prefix) / "share" / "jupyter" / "kernels" / KERNEL_NAME / "kernel.json").is_file()
    params = profile_parameters(Path("notebooks/01_dcgan.ipynb"), "smoke", ROOT)  # the kind's smoke run (kind.yaml)
    args = [str(BIN / "papermill"), str(ROOT / "notebooks/01_dcgan.ipynb"), str(tmp_path / "out.ipynb"),
            "--cwd", str(ROOT / "notebooks"), "--no-progress-bar"]
    for k, v in {**params, "output_dir": str(tmp_path / "outputs")}.items():
        args += ["-p", k, str(v)] if not isinstance(v, str) else ["-r", k, v]
    env = {k: v for k, v in os.environ.items() if k not in ("JUPYTER_PATH", "JUPYTER_DATA_DIR")}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "lib"), env.get("PYTHONPATH", "")])  # this checkout's library
    proc = subprocess.run(args, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads((tmp_path / "out.ipynb").read_text())
    assert out["metadata"]["kernelspec"]["name"] == KERNEL_NAME
    errors = [o for c in out["cells"] for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert not errors
    assert any(o.get("data", {}).get("image/png") for c in out["cells"] for o in c.get("outputs", []))
    assert (tmp_path / "outputs" / "smoke" / "dcgan" / "checkpoint.pt").is_file()


@pytest.mark.parametrize("argv, extra, build_dir", [
    (["lab", "--no-browser"], ["--no-browser"], "_build"),
    (["lab", "--", "--no-browser", "--port", "8890"], ["--no-browser", "--port", "8890"], "_build"),
    (["lab", "--build-dir", "b", "--ServerApp.token=x", "notebooks/01_dcgan.ipynb"],
     ["--ServerApp.token=x", "notebooks/01_dcgan.ipynb"], "b"),
    (["lab"], [], "_build"),
])
def test_lab_passes_jupyter_options_through(monkeypatch, tmp_path, argv, extra, build_dir):
    calls = []
    monkeypatch.setattr(os, "execv", lambda exe, args: calls.append(args))
    monkeypatch.setattr(os, "chdir", lambda path: None)
    monkeypatch.setattr("genlab.base.paths.project_root", lambda: tmp_path)
    monkeypatch.setenv("JUPYTER_PATH", "")
    assert cli.main(argv) == 0
    assert calls == [[sys.executable, "-m", "jupyterlab", *extra]]
    assert (tmp_path / build_dir / "jupyter" / "kernels" / KERNEL_NAME / "kernel.json").is_file()
