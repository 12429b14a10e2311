"""The CPU training loop's allocator setting: freed activations stay in the process, the user's settings win."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from genlab.models import ddpm
from genlab.train import allocator

pytestmark = pytest.mark.slow  # each test runs training steps in fresh processes and counts their page faults

# One "step": activations allocated on the way forward, freed on the way back while gradients are allocated.
STEPS = """
import resource, sys, torch
from genlab.train.allocator import keep_freed_memory
kept = keep_freed_memory() if sys.argv[1] == "keep" else False
def step():
    activations, grads = [torch.ones(2**20) for _ in range(16)], []  # 64 MiB in 4 MiB blocks
    while activations:
        activations.pop()
        grads.append(torch.ones(2**18))
step(); step()
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(10):
    step()
print(kept, (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) / 10)
"""
PAGES = 64 * 2**20 // 4096

glibc = pytest.mark.skipif("CS_GNU_LIBC_VERSION" not in getattr(os, "confstr_names", {})
                           or os.confstr("CS_GNU_LIBC_VERSION") is None, reason="the setting is glibc's")


def faults_per_step(mode: str, **env: str) -> tuple[bool, float]:
    clean = {k: v for k, v in os.environ.items() if k not in allocator.USER_SETTINGS}
    out = subprocess.run([sys.executable, "-c", STEPS, mode], env={**clean, **env}, capture_output=True, text=True,
                         check=True).stdout.split()
    return out[0] == "True", float(out[1])


@glibc
def test_kept_memory_is_not_faulted_back_in_at_every_step():
    # The control serves every block by a fresh mmap (a fixed threshold turns glibc's adjustment off), which
    # is what the default does in most process layouts, not all: there the count must reach a page per page.
    # The default itself is not asserted on: where the heap sits decides it (2.5k to 16k faults a step here).
    control = faults_per_step("default", MALLOC_MMAP_THRESHOLD_=str(128 * 2**10))
    kept = [faults_per_step("keep") for _ in range(3)]
    assert control[1] > PAGES, control
    assert all(ok for ok, _ in kept)
    assert all(faults < PAGES / 8 for _, faults in kept), kept


@glibc
def test_the_users_allocator_settings_win():
    kept, _ = faults_per_step("keep", MALLOC_TRIM_THRESHOLD_="0")
    assert not kept


def test_cpu_training_keeps_freed_memory(tmp_path, monkeypatch):
    from genlab.train import fit
    calls = []
    monkeypatch.setattr(fit, "keep_freed_memory", lambda: calls.append(1) or True)
    from test_ddpm import TINY
    ddpm.train(ddpm.DDPMConfig(output_dir=str(tmp_path), **{**TINY, "max_steps": 1, "device": "cpu"}))
    assert calls == [1]
