"""The pinned environment: requirements.lock holds an exact, hashed version of everything pyproject.toml asks for
(core and dev), within its ranges; torch stays at the release this project's machines hold; conda and
`make setup` install from the same lock."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]
LOCK = ROOT / "requirements.lock"
# the environment the lock is resolved for (Makefile: uv pip compile --python-version/--python-platform)
ENV = {"python_version": "3.11", "python_full_version": "3.11.7", "sys_platform": "linux", "platform_system": "Linux",
       "platform_machine": "x86_64", "os_name": "posix", "implementation_name": "cpython",
       "platform_python_implementation": "CPython"}


def locked() -> dict[str, tuple[str, list[str]]]:
    """name -> (version, hashes) of every requirement in the lock."""
    entries = {}
    for block in re.split(r"\n(?=\S)", LOCK.read_text()):
        m = re.match(r"([A-Za-z0-9_.\-]+)==(\S+)", block)
        if m:
            entries[canonicalize_name(m.group(1))] = (m.group(2), re.findall(r"--hash=sha256:([0-9a-f]{64})", block))
    return entries


def declared() -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return [Requirement(r) for r in project["dependencies"] + project["optional-dependencies"]["dev"]]


def test_every_declared_requirement_is_pinned_within_its_range():
    lock = locked()
    assert len(lock) > 50
    problems = []
    for req in declared():
        if req.marker and not req.marker.evaluate(ENV):
            continue
        name = canonicalize_name(req.name)
        if name not in lock:
            problems.append(f"{req} is not in requirements.lock: run `make lock`")
        elif not req.specifier.contains(lock[name][0], prereleases=True):
            problems.append(f"{req}: the lock has {lock[name][0]}, outside the range: run `make lock`")
    assert not problems, "\n".join(problems)


def test_every_pin_is_exact_and_hashed():
    text = LOCK.read_text()
    lines = [line for line in text.splitlines() if line and not line.startswith((" ", "#"))]
    assert all(re.fullmatch(r"[A-Za-z0-9_.\-]+(\[[^\]]*\])?==\S+ \\", line) for line in lines), \
        [line for line in lines if "==" not in line][:5]
    assert all(hashes for _, hashes in locked().values())


def test_torch_is_the_release_the_machines_hold():
    lock = locked()
    pins = dict(line.split("==") for line in (ROOT / "requirements.pins").read_text().splitlines()
                if line and not line.startswith("#"))
    for name, version in pins.items():
        assert lock[canonicalize_name(name)][0] == version, name
    assert lock["torch"][0] == "2.14.1" and lock["torchvision"][0] == "0.29.1"  # the machines' pip caps: <=2.14.1, <=0.29.1


def test_setup_and_conda_install_the_lock():
    make = (ROOT / "Makefile").read_text()
    recipe = make.split("$(STAMP): pyproject.toml $(LOCK)", 1)[1].split("\n\n", 1)[0]
    assert "pip install -r $(LOCK)" in recipe and "LOCK := requirements.lock" in make
    assert "\nlock:" in make and "--generate-hashes" in make
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    assert pip == ["-r requirements.lock"]
    assert "python=3.11.7" in env["dependencies"]
