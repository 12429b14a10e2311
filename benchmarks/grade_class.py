"""`genlab grade` on a synthetic class of 30: how long it takes here, and the grade book it writes.

    PYTHONPATH=lib python benchmarks/grade_class.py [--out DIR] [--timeout 30] [--jobs N]

12 correct, 8 wrong, 3 with a syntax error, 2 that never return, 3 truncated uploads and 2 files that
are not notebooks (tests/synthetic_class.py). Prints the wall time, each student's points, and checks
that every student got the lines their kind of submission must get.
"""

from __future__ import annotations

import argparse
import csv
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
from synthetic_class import synthetic_class  # noqa: E402

from genlab.grade.batch import grade_folder  # noqa: E402

MIX = {"correct": 12, "wrong": 8, "syntax": 3, "loop": 2, "truncated": 3, "not": 2}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", help="keep the grades here (default: a temporary folder)")
    ap.add_argument("--timeout", type=float, default=30)
    ap.add_argument("--jobs", type=int)
    args = ap.parse_args()
    students = {f"s{i:02d}-{kind}": kind for i, kind in enumerate(k for k, n in MIX.items() for _ in range(n))}
    with tempfile.TemporaryDirectory() as tmp:
        subs = Path(tmp) / "submissions"
        synthetic_class(subs, students)
        out = Path(args.out or Path(tmp) / "grades")
        t0 = time.perf_counter()
        book = grade_folder(subs, out, timeout=args.timeout, jobs=args.jobs)
        seconds = time.perf_counter() - t0
        rows = list(csv.DictReader(book.open()))
    expect = {"correct": lambda r: sum(int(x["points"]) for x in r) == 5,
              "wrong": lambda r: sum(int(x["points"]) for x in r) == 0 and len(r) == 5,
              "syntax": lambda r: any("SyntaxError" in x["message"] for x in r),
              "loop": lambda r: len(r) == 1 and "did not finish" in r[0]["message"],
              "truncated": lambda r: len(r) == 1 and "invalid JSON" in r[0]["message"],
              "not": lambda r: len(r) == 1 and "not a notebook" in r[0]["message"]}
    bad = [s for s, kind in students.items() if not expect[kind]([r for r in rows if r["student"] == s])]
    print(f"{len(students)} submissions graded in {seconds:.0f} s; {len(rows)} grade-book lines; "
          f"{'all as expected' if not bad else 'UNEXPECTED: ' + ', '.join(bad)}")


if __name__ == "__main__":
    main()
