"""Keeping freed memory in the process while training on the CPU (glibc's malloc).

A training step allocates its activations and frees them all at its end. By default glibc then hands
the freed top of its heap back to the kernel (``M_TRIM_THRESHOLD``, adjusted on the fly) and serves
large blocks by a fresh ``mmap``, so the next step takes a page fault for every page again, each one
zero-filled by the kernel: 10-15 thousand faults a step at the DDPM chapter's quick profile, about a
tenth of its step time on a 2-core CPU. PyTorch's CPU performance guide names the same effect when it
suggests preloading jemalloc or tcmalloc; :func:`keep_freed_memory` sets glibc's own thresholds instead,
from inside the process. The price: the process keeps its peak heap until it exits.
"""

from __future__ import annotations

import ctypes
import os

M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3  # mallopt(3) parameter numbers, from glibc's <malloc.h>
TRIM_THRESHOLD = 2**30  # give the top of the heap back only when more than 1 GiB of it is free
MMAP_THRESHOLD = 32 * 2**20  # the most glibc allows on 64-bit: blocks up to 32 MiB come from the heap
USER_SETTINGS = ("MALLOC_TRIM_THRESHOLD_", "MALLOC_MMAP_THRESHOLD_", "GLIBC_TUNABLES")

_kept = False


def keep_freed_memory() -> bool:
    """Set glibc's trim and mmap thresholds so freed memory stays in the process; True when they are set.

    Process-wide and for the rest of the process (called by :func:`genlab.train.fit.fit` on the CPU).
    Nothing happens off glibc (macOS, musl), or when the environment already sets the allocator's
    thresholds (``MALLOC_TRIM_THRESHOLD_``, ``MALLOC_MMAP_THRESHOLD_``, ``GLIBC_TUNABLES``): the user's
    choice wins.
    """
    global _kept
    if _kept:
        return True
    if any(name in os.environ for name in USER_SETTINGS):
        return False
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.gnu_get_libc_version  # noqa: B018 (present in glibc only)
    except (OSError, AttributeError):
        return False
    _kept = bool(libc.mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD)) and bool(libc.mallopt(M_MMAP_THRESHOLD,
                                                                                     MMAP_THRESHOLD))
    return _kept
