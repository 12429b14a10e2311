"""JupyterLab for real: a headless ``jupyter lab`` server runs a notebook through its own REST and kernel
websocket API (what the browser does when a student presses Run All), and the Lab page opens it in Chromium.

The screenshot of the opened notebook is a CI artefact: ``_build/ci-artifacts/jupyterlab.png``.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

import nbformat
import pytest

from genlab.base.ports import free_port
from genlab.book.runner import KERNEL_NAME, profile_parameters, write_kernelspec
from genlab.book.sources import read_notebook

pytestmark = pytest.mark.slow  # starts a JupyterLab server and a kernel

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = Path("notebooks/01_dcgan.ipynb")  # opened in the browser
# Executed through the kernel API: the EBM theory notebook runs the library and draws figures in seconds at
# the smoke profile; the DCGAN chapter needs minutes on a 2-core CPU (tests/test_kernel.py runs it with papermill).
EXECUTED = Path("theory/ebm.md")  # a MyST Markdown notebook: jupytext opens it as a notebook
ARTIFACTS = ROOT / "_build" / "ci-artifacts"


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """``jupyter lab`` on a free loopback port with a token, its root a copy of the notebook's folder and every
    Jupyter folder (runtime, config, data, settings, workspaces) under a temporary one. Yields
    ``(base_url, token, tmp)``; the server is stopped at the end."""
    import httpx
    tmp = tmp_path_factory.mktemp("lab")
    root = tmp / "root"
    for nb in (NOTEBOOK, EXECUTED):
        (root / nb.parent).mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / nb, root / nb)
    write_kernelspec(tmp / "jupyter")  # the 'genlab' kernel the notebooks name: this interpreter
    token, port = secrets.token_hex(16), free_port()
    env = {**os.environ, "JUPYTER_PATH": str(tmp / "jupyter"), "JUPYTER_RUNTIME_DIR": str(tmp / "runtime"),
           "JUPYTER_CONFIG_DIR": str(tmp / "config"), "JUPYTER_DATA_DIR": str(tmp / "data"),
           "JUPYTERLAB_SETTINGS_DIR": str(tmp / "settings"), "JUPYTERLAB_WORKSPACES_DIR": str(tmp / "workspaces"),
           "IPYTHONDIR": str(tmp / "ipython"), "PYTHONPATH": os.pathsep.join([str(ROOT / "lib"), os.environ.get(
               "PYTHONPATH", "")])}  # the kernel imports this checkout's library
    cmd = [sys.executable, "-m", "jupyterlab", "--no-browser", "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}",
           "--ServerApp.port_retries=0", f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}"]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        cmd.append("--allow-root")  # CI containers run as root; Jupyter refuses that unless told
    log = (tmp / "server.log").open("w")
    proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            assert proc.poll() is None, f"jupyter lab exited with {proc.returncode}:\n{(tmp / 'server.log').read_text()}"
            assert time.monotonic() < deadline, f"no answer in 120 s:\n{(tmp / 'server.log').read_text()}"
            try:
                if httpx.get(f"{url}/api/status", params={"token": token}, timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        yield url, token, tmp
    finally:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def message(msg_type: str, content: dict, session: str) -> dict:
    """A Jupyter message on the shell channel (JSON websocket protocol)."""
    header = {"msg_id": uuid.uuid4().hex, "msg_type": msg_type, "session": session, "username": "test",
              "version": "5.3", "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    return {"header": header, "parent_header": {}, "metadata": {}, "content": content, "channel": "shell",
            "buffers": []}


def execute(ws, code: str, session: str, timeout: float = 600) -> tuple[str, list[dict]]:
    """Send one execute_request; the execute_reply's status and every iopub message it caused, once the
    kernel is idle again."""
    request = message("execute_request", {"code": code, "silent": False, "store_history": True,
                                          "user_expressions": {}, "allow_stdin": False, "stop_on_error": True},
                      session)
    ws.send(json.dumps(request))
    msg_id, status, outputs, idle = request["header"]["msg_id"], None, [], False
    ws.settimeout(timeout)
    while status is None or not idle:
        msg = json.loads(ws.recv())
        if msg.get("parent_header", {}).get("msg_id") != msg_id:
            continue
        if msg["channel"] == "shell" and msg["msg_type"] == "execute_reply":
            status = msg["content"]["status"]
        elif msg["channel"] == "iopub":
            if msg["msg_type"] == "status":
                idle = msg["content"]["execution_state"] == "idle"
            else:
                outputs.append(msg)
    return status, outputs


def test_the_markdown_chapter_opens_as_a_notebook_and_saves_back_as_text(lab):
    """jupytext's contents manager: the server hands JupyterLab the .md chapter as a notebook (cells, kernel),
    and a notebook saved to it is written back as MyST Markdown, not JSON."""
    import httpx
    url, token, tmp = lab
    auth = {"Authorization": f"token {token}"}
    r = httpx.get(f"{url}/api/contents/{EXECUTED.as_posix()}", params={"type": "notebook"}, headers=auth, timeout=60)
    assert r.status_code == 200, r.text
    model = r.json()
    assert model["type"] == "notebook" and model["content"]["metadata"]["kernelspec"]["name"] == KERNEL_NAME
    cells = model["content"]["cells"]
    assert any("parameters" in c["metadata"].get("tags", []) for c in cells)
    cells[0]["source"] = cells[0]["source"] + "\n\nAn added line."
    saved = tmp / "root" / EXECUTED
    r = httpx.put(f"{url}/api/contents/{EXECUTED.as_posix()}", headers=auth, timeout=60,
                  json={"type": "notebook", "format": "json", "content": model["content"]})
    assert r.status_code == 200, r.text
    text = saved.read_text()
    assert text.startswith("---\njupytext:") and "An added line." in text and '"cell_type"' not in text


def test_the_lab_server_runs_a_notebook_through_its_kernel_api(lab):
    """POST /api/sessions with the 'genlab' kernel, then every code cell over the kernel's websocket, the
    parameters cell followed by the smoke profile (as papermill injects it), the run going to tmp."""
    import httpx
    import websocket
    url, token, tmp = lab
    auth = {"Authorization": f"token {token}"}
    r = httpx.post(f"{url}/api/sessions", headers=auth, timeout=60, json={
        "path": EXECUTED.as_posix(), "type": "notebook", "name": EXECUTED.name, "kernel": {"name": KERNEL_NAME}})
    assert r.status_code == 201, r.text
    session = r.json()
    assert session["kernel"]["name"] == KERNEL_NAME
    kernel_id, session_id = session["kernel"]["id"], uuid.uuid4().hex
    params = {**profile_parameters(EXECUTED, "smoke", ROOT), "output_dir": str(tmp / "outputs")}
    injected = "\n".join(f"{k} = {v!r}" for k, v in params.items())
    cells = [c for c in read_notebook(ROOT / EXECUTED).cells if c.cell_type == "code"]
    ws = websocket.create_connection(f"{url.replace('http', 'ws')}/api/kernels/{kernel_id}/channels"
                                     f"?session_id={session_id}", header=[f"Authorization: token {token}"])
    try:
        images, failed = 0, []
        for i, cell in enumerate(cells):
            code = cell.source + ("\n# smoke profile\n" + injected if "parameters" in cell.metadata.get("tags", [])
                                  else "")
            status, outputs = execute(ws, code, session_id)
            errors = [m["content"] for m in outputs if m["msg_type"] == "error"]
            if status != "ok" or errors:
                failed.append(f"cell {i}: {status} {[e['ename'] + ': ' + e['evalue'] for e in errors]}")
            images += sum("image/png" in m["content"].get("data", {}) for m in outputs
                          if m["msg_type"] in ("display_data", "execute_result"))
    finally:
        ws.close()
        httpx.delete(f"{url}/api/sessions/{session['id']}", headers=auth, timeout=60)
    assert not failed, failed
    assert len(cells) > 5 and images >= 3


def test_the_lab_page_opens_the_notebook(lab, browser):
    """/lab/tree/<notebook>?token=... in headless Chromium shows the notebook's cells; screenshot saved."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait
    url, token, _ = lab
    browser.set_window_size(1280, 900)
    browser.get(f"{url}/lab/tree/{NOTEBOOK.as_posix()}?token={token}")
    expected = len(nbformat.read(ROOT / NOTEBOOK, as_version=4).cells)
    # Lab attaches the cells one batch after another: wait for all of them
    WebDriverWait(browser, 90).until(lambda d: len(d.find_elements(By.CSS_SELECTOR, ".jp-Notebook .jp-Cell")) >= expected)
    assert len(browser.find_elements(By.CSS_SELECTOR, ".jp-Notebook .jp-Cell")) == expected
    WebDriverWait(browser, 30).until(lambda d: NOTEBOOK.name in d.title)  # "01_dcgan.ipynb - JupyterLab"
    heading = nbformat.read(ROOT / NOTEBOOK, as_version=4).cells[0].source.splitlines()[0].lstrip("# ")
    WebDriverWait(browser, 30).until(lambda d: heading in d.find_element(By.CSS_SELECTOR, ".jp-Notebook").text)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    browser.save_screenshot(str(ARTIFACTS / "jupyterlab.png"))
