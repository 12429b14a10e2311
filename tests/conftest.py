"""Shared fixtures (the project root, one smoke run of every notebook, a headless Chromium) and the skip check:
a test that skips without a line in tests/expected_skips.txt fails the session."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
_skipped: dict[str, str] = {}  # test id -> reason, for every skip of this session


def pytest_runtest_logreport(report):
    if report.skipped and not hasattr(report, "wasxfail"):
        longrepr = report.longrepr
        _skipped[report.nodeid] = longrepr[2] if isinstance(longrepr, tuple) else str(longrepr)


def _unexpected_skips() -> dict[str, str]:
    from skips import ALLOW_LIST, rules, unexpected
    required = set(os.environ.get("GENLAB_REQUIRE", "").split())
    return unexpected(_skipped, rules(ALLOW_LIST.read_text(), required))


def pytest_sessionfinish(session, exitstatus):
    if exitstatus == 0 and _unexpected_skips():
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter):
    bad = _unexpected_skips()
    if bad:
        terminalreporter.section("unexpected skips (not in tests/expected_skips.txt): the run fails", red=True)
        for test, reason in bad.items():
            terminalreporter.write_line(f"{test}: {reason}")


@pytest.fixture(autouse=True)
def _few_threads():
    torch.set_num_threads(2)
    yield


@pytest.fixture(scope="session")
def smoke_build(tmp_path_factory):
    """Every notebook in _toc.yml executed once at the smoke profile into a temporary build folder, side by
    side as ``make book`` runs them (``jobs=None``: two at once on a CPU-only machine with 2+ cores).

    Returns ``(build_dir, output_dir)``; the executed copies are under ``build_dir / "src"``.
    """
    from genlab.book.runner import run_notebooks
    tmp = tmp_path_factory.mktemp("smoke")
    build, outputs = tmp / "_build", tmp / "outputs"
    run_notebooks("smoke", parameters={"output_dir": str(outputs)}, root=ROOT, build_dir=build, jobs=None)
    return build, outputs


@pytest.fixture(scope="session")
def smoke_book(smoke_build):
    """The smoke notebooks rendered into a book once (jupyter-book, warnings as errors): its ``html`` folder."""
    from genlab.book.runner import build_book
    build, _ = smoke_build
    return build_book(root=ROOT, build_dir=build).parent


@pytest.fixture
def browser(tmp_path):
    """A headless Chromium (selenium) with its own profile; skips where Chromium is not installed."""
    from genlab.book.check import BrowserMissing, chromium
    try:
        driver = chromium(tmp_path / "chromium", window=(1100, 700))
    except BrowserMissing as exc:
        pytest.skip(str(exc))
    yield driver
    driver.quit()


@pytest.fixture(scope="session")
def serve_runs(tmp_path_factory) -> Path:
    """A runs folder with a smoke model of every registered kind, plus one corrupt checkpoint (the service's
    tests and its schema fuzzer). The EBM is trained unconditional, so that the service is also tested with a
    model that takes no labels."""
    from genlab import models
    tmp = tmp_path_factory.mktemp("serve_runs")
    for name in models.names():
        kind = models.get(name)
        unconditional = {"conditional": False} if name == "ebm" else {}
        kind.train(kind.config.from_dict({**kind.smoke, "output_dir": str(tmp), "run": "serve", **unconditional}))
    broken = tmp / "broken" / "dcgan"
    broken.mkdir(parents=True)
    (broken / "checkpoint.pt").write_bytes(b"this is not a checkpoint")
    return tmp
