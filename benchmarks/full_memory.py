"""Each full-profile model on the CPU: its parameter count, peak training memory per image and step time.

For every ``slurm/params/full`` file (and its CIFAR-10 variant; data of the same shape,
``benchmarks/full_profile.py``), one training step runs in a fresh process at two batch sizes. The
step's memory is the peak resident set during it above the resident set just before it (nets,
optimizers and data already in memory); memory per image is the slope between the two batches, so
what every step holds whatever its batch (weights, gradients, Adam moments) is not counted per image.
The first step is the costliest one (the StyleGAN's lazy R1 and path-length terms run at step 0).

    PYTHONPATH=lib python benchmarks/full_memory.py [--batches 8 32] [--only stylegan]

Prints a Markdown table. Linux only (it reads and resets the peak resident set in /proc/self).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from full_profile import cases, same_shape  # noqa: E402

from genlab.data import DeviceBatches  # noqa: E402
from genlab.models import registry  # noqa: E402
from genlab.train.devices import seed_everything  # noqa: E402
from genlab.train.run import training_data  # noqa: E402



def status_mib(field: str) -> float:
    """``VmRSS`` (the resident set now) or ``VmHWM`` (its peak) from /proc/self/status, in MiB."""
    line = next(l for l in Path("/proc/self/status").read_text().splitlines() if l.startswith(field + ":"))
    return int(line.split()[1]) / 1024  # kB


def reset_peak() -> None:
    """Start ``VmHWM`` again from the resident set now (Linux >= 4.0), so earlier peaks (data loading) drop out."""
    Path("/proc/self/clear_refs").write_text("5")


def one_step(index: int, batch: int) -> dict:
    """In this process: build case ``index`` at ``batch`` images, run its first training step."""
    name, params = cases()[index]
    kind = registry.get(name)
    with tempfile.TemporaryDirectory() as tmp:
        config = kind.config.from_dict(same_shape(name, params, Path(tmp), device="cpu", batch_size=batch))
        data = (kind.data or training_data)(config)
    seed_everything(config.seed)
    recipe = kind.recipe(config, data, torch.device("cpu"))
    batches = DeviceBatches(data, config.batch_size, torch.device("cpu"), seed=config.seed)
    x, y = batches.batch(0)
    for m in recipe.state.modules.values():
        m.train()
    reset_peak()
    before = status_mib("VmRSS")
    t0 = time.perf_counter()
    recipe.step(0, x, y)
    seconds = time.perf_counter() - t0
    peak = status_mib("VmHWM")
    parameters = sum(p.numel() for m in recipe.state.modules.values() for p in m.parameters())  # G and D for GANs
    return {"kind": name, "dataset": params.get("dataset", "mnist5k"), "image_size": config.image_size,
            "file_batch": params.get("batch_size"), "batch": batch, "parameters": parameters,
            "step_mib": round(max(0.0, peak - before), 1), "step_s": round(seconds, 2)}


def measure(index: int, batch: int) -> dict:
    """:func:`one_step` in a fresh interpreter, so each peak is its own."""
    proc = subprocess.run([sys.executable, __file__, "--child", str(index), str(batch)], capture_output=True,
                          text=True)
    if proc.returncode:
        raise RuntimeError(f"case {index} at batch {batch} failed:\n{proc.stderr[-2000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batches", type=int, nargs=2, default=[8, 32], metavar=("B1", "B2"),
                        help="the two batch sizes (multiples of every minibatch-std group; default 8 32)")
    parser.add_argument("--only", nargs="*", default=None, help="kinds to measure (default: every full file)")
    parser.add_argument("--child", type=int, nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(one_step(*args.child)))
        return
    b1, b2 = args.batches
    if not 0 < b1 < b2:
        parser.error(f"--batches {b1} {b2}: give two batch sizes, the smaller first")
    print(f"# full-profile models on the CPU: torch {torch.__version__}, {torch.get_num_threads()} threads, "
          f"batches {b1} and {b2}\n")
    print("| kind | data | px | parameters | MiB per image (slope) | step MiB at the file's batch (est.) "
          f"| s per image ({b2}) |")
    print("|---|---|---|---:|---:|---:|---:|")
    for index, (name, params) in enumerate(cases()):
        if args.only and name not in args.only:
            continue
        small, large = measure(index, b1), measure(index, b2)
        per_image = (large["step_mib"] - small["step_mib"]) / (b2 - b1)
        fixed = small["step_mib"] - per_image * b1
        at_file = fixed + per_image * (large["file_batch"] or b2)
        print(f"| {name} | {large['dataset']} | {large['image_size']} | {large['parameters']:,} | "
              f"{per_image:.2f} | {at_file:,.0f} ({large['file_batch']}) | {large['step_s'] / b2:.3f} |", flush=True)


if __name__ == "__main__":
    main()
