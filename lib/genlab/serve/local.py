"""A ``genlab serve`` process on this machine, for tests and benchmarks: start on a free port, wait for /health."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from ..base.ports import free_port


def wait_healthy(url: str, proc: subprocess.Popen, timeout: float = 120.0) -> None:
    """Return when ``url``/health answers 200; RuntimeError (with the output when captured) when the process
    exits first or ``timeout`` seconds pass."""
    import httpx
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            out = proc.stdout.read() if proc.stdout else ""
            raise RuntimeError(f"the server exited with {proc.returncode}:\n{out}")
        try:
            if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError(f"the server did not answer {url}/health within {timeout:.0f} s")


def start_server(runs: str | Path, *args: str, env: dict[str, str] | None = None, timeout: float = 120.0,
                 capture: bool = True) -> tuple[subprocess.Popen, str]:
    """``python -m genlab serve --runs RUNS --port <free> --device cpu ARGS`` answering /health: (process, url).

    ``capture``: the output is readable as text from ``proc.stdout`` (else discarded). The child imports the
    same genlab as this process (its folder goes first on PYTHONPATH).
    """
    port = free_port()
    lib = str(Path(__file__).resolve().parents[2])
    env = {**os.environ, **(env or {})}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (lib, env.get("PYTHONPATH")) if p)
    cmd = [sys.executable, "-m", "genlab", "serve", "--runs", str(runs), "--port", str(port), "--device", "cpu", *args]
    out = subprocess.PIPE if capture else subprocess.DEVNULL
    proc = subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT if capture else out, text=True)
    url = f"http://127.0.0.1:{port}"
    wait_healthy(url, proc, timeout)
    return proc, url
