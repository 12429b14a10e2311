"""Training precision: bf16 autocast where it is faster, float32 elsewhere (the ``amp`` parameter of every kind).

Under autocast the convolutions and matrix products run in bf16 while the weights, the optimizer state and the
losses' reductions stay float32. ``auto`` turns it on on CUDA and on CPUs with native bf16 instructions
(AVX512-BF16 or AMX), where it is measured faster: on the 2-core AMD EPYC (AVX512-BF16, no AMX) one training
step at one thread is 1.30x (DCGAN), 1.38x (StyleGAN2-ADA) and 1.36x (EBM) faster than in float32, and the
DDPM's about 1.4x (``benchmarks/precision.py``, ``benchmarks/ddpm_throughput.py``). Without native bf16 a CPU
emulates it, slower than float32, so ``auto`` stays off there.
"""

from __future__ import annotations

import contextlib
import functools
from pathlib import Path

import torch

AMP = ("auto", "bf16", "off")
AMP_HELP = "bf16 autocast: auto (CUDA, CPUs with native bf16), bf16, off"


@functools.cache
def cpu_has_fast_bf16() -> bool:
    """True when the CPU has native bf16 instructions (AVX512-BF16 or AMX), where bf16 autocast is faster."""
    try:
        flags = Path("/proc/cpuinfo").read_text().split()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def use_bf16(device: torch.device, amp: str) -> bool:
    """``auto``: bf16 on CUDA, and on CPUs with native bf16."""
    return amp == "bf16" or (amp == "auto" and (device.type == "cuda"
                                                 or (device.type == "cpu" and cpu_has_fast_bf16())))


def autocast(device: torch.device, amp: str):
    """bf16 autocast where :func:`use_bf16` says so, else a no-op context."""
    on = use_bf16(device, amp)
    return torch.autocast(device.type, dtype=torch.bfloat16) if on else contextlib.nullcontext()


def full_precision(t: torch.Tensor) -> torch.Tensor:
    """``t`` in float32 when autocast made it bf16 or fp16 (a network's output, before the loss reduces it);
    float32 and float64 pass unchanged."""
    return t.float() if t.dtype in (torch.bfloat16, torch.float16) else t
