"""The course staff's subcommands: ``genlab grade`` (a class's notebooks in batch) and ``genlab handout``.

They live here, next to the grader, so the CLI module only registers them (:func:`add_course_parsers`).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from ..base.config import parse_assignments


def cmd_grade(args: argparse.Namespace) -> None:
    """Execute every submitted notebook with the hidden tests; write the grade book and feedback files."""
    from .batch import collect, grade_folder
    out = Path(args.out or Path("_build") / "grades" / Path(args.submissions).resolve().name)
    if args.collect:
        print(f"grade book: {collect(out)}")
        return
    grade_folder(Path(args.submissions), out, timeout=args.timeout, jobs=args.jobs,
                 parameters=parse_assignments(args.p), task=args.task, tasks=args.tasks)


def cmd_handout(args: argparse.Namespace) -> None:
    from ..book.handout import write_handout
    write_handout(args.out)


def add_course_parsers(sub) -> None:
    """``genlab grade`` and ``genlab handout``, added to the CLI's subcommands."""
    sp = sub.add_parser("grade", help="run every submitted notebook with the hidden tests: grade book + feedback")
    sp.add_argument("submissions", help="folder with one folder (or one notebook) per student")
    sp.add_argument("--out", help="where the grade book, feedback/ and results/ go (default: _build/grades/<folder>)")
    sp.add_argument("--timeout", type=float, default=300, help="seconds one notebook may run (default 300)")
    sp.add_argument("--jobs", type=int, help="notebooks at once (default: the cores this process may use)")
    sp.add_argument("-p", action="append", metavar="NAME=VALUE", help="notebook parameter, e.g. num_samples=20000")
    sp.add_argument("--task", type=int, default=0, help="grade only submissions task, task+tasks, ... (Slurm arrays)")
    sp.add_argument("--tasks", type=int, default=1)
    sp.add_argument("--collect", action="store_true", help="only rebuild the grade book from <out>/results")
    sp.set_defaults(func=cmd_grade)
    sp = sub.add_parser("handout", help="the students' folder and zip: notebooks without solutions, the library, setup")
    sp.add_argument("--out", help="default: _build/handout")
    sp.set_defaults(func=cmd_handout)
