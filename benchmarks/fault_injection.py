"""Long fault injection: ``kill -9`` every registered model kind many times at random moments, resume each
time, and compare the finished runs with an uninterrupted run of the same config and seed.

    PYTHONPATH=lib python benchmarks/fault_injection.py [--kills 20] [--kinds dcgan ddpm] [--epochs 10]

Per kind (its smoke parameters on a 90-image folder: a checkpoint and a sample grid every epoch of a few
steps, see genlab.tools.faults): one uninterrupted reference run, timed; then training subprocesses,
each killed (see MODES) after a delay drawn uniformly over the reference's run time, or while a
checkpoint is being written, or right after the last grid (in the end-of-run phase), and resumed by the
next. A run that reaches its end before its kill is compared with the reference, and a fresh run
starts, until ``--kills`` kills; the last one is resumed to the end and compared too. After every kill the checkpoint must load and the run
folder be consistent. Prints per kind, e.g. "DCGAN: 20 kills, 20 resumes, 0 failures, final weights
identical". Exit code 1 if any kind failed.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from pathlib import Path

from genlab.base.files import TEMP_SUFFIX
from genlab.base.run_folder import RunFolder
from genlab.models import names
from genlab.tools import faults


# Where kills are aimed, with their weights: a random delay over the reference's run time, the moment a
# checkpoint's temp file appears (the write is under way), the moment the last sample grid is written
# (the final checkpoint and the end-of-run measurements still to come).
MODES = {"random": 2, "checkpoint write": 1, "end of run": 1}


def kill(mode: str, proc, run_dir: Path, last_grid: str, duration: float, rng: random.Random) -> bool:
    if mode == "random":
        return faults.kill_after(proc, rng.uniform(0.0, duration))
    if mode == "checkpoint write":
        return faults.kill_when(proc, faults.writing(run_dir))
    grid, since = run_dir / "samples" / last_grid, time.time()  # written by this process, not an earlier one
    return faults.kill_when(proc, lambda: grid.exists() and grid.stat().st_mtime >= since)


def campaign(kind: str, kills: int, epochs: int, work: Path, rng: random.Random) -> faults.Report:
    t_start = time.monotonic()
    report = faults.Report(kind)
    dataset = faults.tiny_folder_dataset(work / "digits")
    ref = faults.fault_params(kind, dataset, work / "out", work / "data", epochs=epochs, run=f"{kind}-ref")
    log = work / f"{kind}.log"
    t0 = time.monotonic()
    if faults.finish(kind, ref, log) != 0:
        report.failures.append(f"the reference run failed (see {log})")
        return report
    duration = time.monotonic() - t0
    ref_dir = faults.run_dir(kind, ref)
    last_grid = RunFolder(ref_dir).sample_grids()[-1].name
    landed: dict[str, int] = {}
    cycle, run = 0, None

    def compare(run_dir: Path) -> None:
        report.runs += 1
        problems = faults.folder_problems(run_dir) + faults.differences(ref_dir, run_dir)
        report.failures += [f"{run_dir.parent.name}: {p}" for p in problems]

    while report.kills < kills:
        if run is None:
            cycle += 1
            run = {**ref, "run": f"{kind}-{cycle}"}
        else:  # the previous start of this run was killed
            report.resumes += 1
        proc = faults.start(kind, run, log)
        mode = rng.choices(list(MODES), weights=list(MODES.values()))[0]
        if kill(mode, proc, faults.run_dir(kind, run), last_grid, duration, rng):
            report.kills += 1
            landed[mode] = landed.get(mode, 0) + 1
            if list(faults.run_dir(kind, run).rglob(f"*{TEMP_SUFFIX}")):
                landed["temp file left"] = landed.get("temp file left", 0) + 1
            report.failures += [f"after kill {report.kills}: {p}"
                                for p in faults.folder_problems(faults.run_dir(kind, run), killed=True)]
        elif proc.returncode != 0:
            report.failures.append(f"{run['run']} exited with {proc.returncode} (see {log})")
            run = None
        else:  # ended before its kill: a finished run, compared; the next kill goes to a fresh run
            compare(faults.run_dir(kind, run))
            run = None
        if sys.stdout.isatty():
            print(f"  {kind}: {report.kills}/{kills} kills", end="\r", flush=True)
    if run is not None:  # the last kill's run: resumed to the end
        report.resumes += 1
        if faults.finish(kind, run, log) != 0:
            report.failures.append(f"{run['run']} did not finish (see {log})")
        else:
            compare(faults.run_dir(kind, run))
    report.seconds = time.monotonic() - t_start
    print(report.line())
    print(f"  reference run {duration:.1f} s; kills aimed at: "
          + ", ".join(f"{n} {spot}" for spot, n in sorted(landed.items())), flush=True)
    return report


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--kills", type=int, default=20, help="kill -9 per kind")
    p.add_argument("--kinds", nargs="+", default=names(), help=f"model kinds (default: all: {', '.join(names())})")
    p.add_argument("--epochs", type=int, default=10, help="epochs of the 90-image folder (5 DCGAN steps each)")
    p.add_argument("--seed", type=int, default=0, help="seed of the kill delays")
    p.add_argument("--work", help="folder for runs and logs (default: a temporary one, removed)")
    args = p.parse_args(argv)
    rng = random.Random(args.seed)
    with tempfile.TemporaryDirectory(prefix="genlab-faults-") as tmp:
        work = Path(args.work or tmp)
        reports = [campaign(kind, args.kills, args.epochs, work, rng) for kind in args.kinds]
    return 1 if any(r.failures for r in reports) else 0


if __name__ == "__main__":
    sys.exit(main())
