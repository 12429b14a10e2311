"""Data-parallel training across processes: process-group setup from torchrun or Slurm, and the collectives.

Launch any model's training with ``torchrun --nproc_per_node=N -m genlab train KIND ...`` (one node)
or ``srun --ntasks=N python -m genlab train KIND ...`` (rendezvous from Slurm's environment:
``SLURM_PROCID``, ``SLURM_STEP_NUM_TASKS``, ``SLURM_LOCALID``, the first host of
``SLURM_JOB_NODELIST``, ``MASTER_PORT``). NCCL on CUDA, gloo on CPU. A single process (no launcher)
never creates a process group, and every helper here is then a no-op: the one-process path is
unchanged bit for bit.

How a run is split (what :func:`genlab.train.fit` and the models' step functions rely on):
- ``batch_size`` is global: rank r trains on rows ``[r*B/W, (r+1)*B/W)`` of every global batch.
- Every rank keeps the same global RNG stream: noise of a global batch is drawn whole on each rank
  and sliced (:func:`rows`), so the union of the ranks' work is the one-process step.
- Gradients are averaged over ranks (:func:`average_gradients`, one all-reduce per network and
  optimizer: the GAN's D and G steps are each synchronised) before clipping and the optimizer step.
- Rank 0 alone writes (checkpoint, history, grids, metrics, loggers); stopping is agreed collectively.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import re
import subprocess
from dataclasses import dataclass
from typing import Iterator

import torch
import torch.distributed as dist
from torch import nn

from .devices import select_device

DEFAULT_PORT = 29500


@dataclass(frozen=True)
class World:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1

    @property
    def main(self) -> bool:
        return self.rank == 0


_world = World()


def world() -> World:
    """This process's place in the run (rank 0 of 1 without a launcher)."""
    return _world


def is_main() -> bool:
    return _world.rank == 0


def first_host(nodelist: str) -> str:
    """The first host of a Slurm node list: ``gpu[03-05,09],cpu1`` -> ``gpu03``."""
    try:
        out = subprocess.run(["scontrol", "show", "hostnames", nodelist], capture_output=True, text=True,
                             timeout=10, check=True).stdout.split()
        if out:
            return out[0]
    except (OSError, subprocess.SubprocessError):
        pass
    m = re.match(r"([^\[,]+)(\[([^\]]+)\])?", nodelist)
    if not m:
        raise ValueError(f"SLURM_JOB_NODELIST = {nodelist!r} cannot be parsed; set MASTER_ADDR yourself")
    prefix, ranges = m.group(1), m.group(3)
    return prefix + ranges.split(",")[0].split("-")[0] if ranges else prefix


def env_world() -> tuple[World, dict[str, str]]:
    """Read the launcher's environment: torchrun's RANK/WORLD_SIZE/LOCAL_RANK, else a Slurm job step's.

    Returns the world and the variables to set for ``init_process_group`` (Slurm only).
    A Slurm batch script itself (no ``srun``) and a one-task step are one process.
    """
    env = os.environ
    if "RANK" in env and "WORLD_SIZE" in env:
        return World(int(env["RANK"]), int(env["WORLD_SIZE"]), int(env.get("LOCAL_RANK", 0))), {}
    tasks = int(env.get("SLURM_STEP_NUM_TASKS", "1") or 1)
    if tasks > 1 and "SLURM_PROCID" in env:
        extra = {"MASTER_ADDR": env.get("MASTER_ADDR") or first_host(env.get("SLURM_JOB_NODELIST", "localhost")),
                 "MASTER_PORT": env.get("MASTER_PORT") or str(DEFAULT_PORT + int(env.get("SLURM_JOB_ID", 0)) % 1000),
                 "RANK": env["SLURM_PROCID"], "WORLD_SIZE": str(tasks), "LOCAL_RANK": env.get("SLURM_LOCALID", "0")}
        return World(int(env["SLURM_PROCID"]), tasks, int(env.get("SLURM_LOCALID", 0))), extra
    return World(), {}


def setup(device_name: str = "auto") -> torch.device:
    """The training device of this process; joins the process group when a launcher started it.

    A plain process: exactly :func:`genlab.train.devices.select_device`. Under torchrun or a Slurm step
    (one process too, under torchrun: the same code path as N): rank r uses
    ``cuda:LOCAL_RANK`` (NCCL) when CUDA is chosen, else the CPU (gloo). Idempotent.
    """
    global _world
    w, extra = env_world()
    if not w.distributed and "RANK" not in os.environ:  # torchrun with one process still gets its group
        return select_device(device_name)
    device = select_device(device_name)
    if device.type == "cuda":
        device = torch.device("cuda", w.local_rank % torch.cuda.device_count())
        torch.cuda.set_device(device)
    elif device.type == "mps":
        raise ValueError("parameter 'device' = 'mps' cannot train with several processes; use cuda or cpu")
    if not dist.is_initialized():
        os.environ.update(extra)
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo", rank=w.rank, world_size=w.world_size)
        atexit.register(teardown)
    _world = w
    return device


def teardown() -> None:
    global _world
    if dist.is_initialized():
        dist.destroy_process_group()
    _world = World()


def rows(batch_size: int) -> slice:
    """This rank's rows of a global batch of ``batch_size`` (all rows in one process)."""
    w = _world
    if batch_size % w.world_size:
        raise ValueError(f"parameter 'batch_size' = {batch_size} must be divisible by the number of processes "
                         f"({w.world_size}); batch_size is global (split over processes)")
    n = batch_size // w.world_size
    return slice(w.rank * n, (w.rank + 1) * n)


def average_gradients(module: nn.Module) -> None:
    """Average ``module``'s parameter gradients over ranks (one flat all-reduce); no-op in one process."""
    if not _world.distributed:
        return
    grads = [p.grad for p in module.parameters() if p.grad is not None]
    if not grads:
        return
    flat = torch.cat([g.reshape(-1) for g in grads])
    dist.all_reduce(flat)
    flat /= _world.world_size
    offset = 0
    for g in grads:
        g.copy_(flat[offset:offset + g.numel()].view_as(g))
        offset += g.numel()


def mean_scalars(values: dict[str, float]) -> dict[str, float]:
    """Average logged scalars over ranks (same keys on every rank); identity in one process."""
    if not _world.distributed or not values:
        return values
    keys = sorted(values)
    t = _on_backend(torch.tensor([float(values[k]) for k in keys], dtype=torch.float64))
    dist.all_reduce(t)
    return {k: float(v) / _world.world_size for k, v in zip(keys, t.tolist())}


def any_rank(flag: bool) -> bool:
    """True on every rank when ``flag`` is true on any (agreement on "stop now"); ``flag`` in one process."""
    if not _world.distributed:
        return flag
    t = _on_backend(torch.tensor([1.0 if flag else 0.0]))
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return bool(t.item() > 0)


def sum_over_ranks(t: torch.Tensor) -> torch.Tensor:
    """The sum of ``t`` over ranks (a new tensor, on ``t``'s device); a copy in one process."""
    if not _world.distributed:
        return t.clone()
    total = _on_backend(t.clone())
    dist.all_reduce(total)
    return total.to(t.device)


def max_over_ranks(value: float) -> float:
    if not _world.distributed:
        return value
    t = _on_backend(torch.tensor([value], dtype=torch.float64))
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return float(t.item())


def broadcast_modules(*modules: nn.Module) -> None:
    """Make every rank hold rank 0's parameters and buffers (what DDP does at construction)."""
    if not _world.distributed:
        return
    for m in modules:
        for t in list(m.parameters()) + list(m.buffers()):
            dist.broadcast(t.data, src=0)


def barrier() -> None:
    if _world.distributed:
        dist.barrier()


def _on_backend(t: torch.Tensor) -> torch.Tensor:
    """NCCL reduces CUDA tensors only; gloo takes CPU tensors."""
    if dist.get_backend() == "nccl":
        return t.to(torch.device("cuda", torch.cuda.current_device()))
    return t


def rank_seed(seed: int, step: int) -> int:
    """A seed for rank-local randomness (EBM chains) at ``step``: differs by rank, fixed by (seed, step, rank)."""
    return (seed * 1_000_003 + step) * 1_009 + _world.rank


def restore_device_rng(rng: dict, device: torch.device) -> None:
    """On resume, give this rank's CUDA device rank 0's saved stream (rank 0 trains on local device 0),
    so all ranks draw the same global noise again."""
    if _world.distributed and device.type == "cuda" and rng.get("cuda"):
        torch.cuda.set_rng_state(rng["cuda"][0].cpu(), device)


@contextlib.contextmanager
def rank_rng(seed: int, step: int, device: torch.device) -> Iterator[None]:
    """Under data parallelism, run the block on a rank-local random stream (:func:`rank_seed`) and give
    the global stream back untouched after; in one process, do nothing (the global stream is used)."""
    if not _world.distributed:
        yield
        return
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        torch.manual_seed(rank_seed(seed, step))
        yield
