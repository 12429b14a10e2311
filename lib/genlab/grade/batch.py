"""Grade a folder of submissions in parallel: the grade book (CSV) and one feedback file per student.

Layout: ``SUBMISSIONS/<student>/<notebook>`` (one folder per student, any number of notebooks) or
``SUBMISSIONS/<student>.<ext>`` (one file per student). Each notebook is graded by its own process
(:mod:`.submission`), at most ``jobs`` at a time; one that overruns ``timeout`` seconds is stopped with
its kernel and graded zero with a line that says so. Results go to ``<out>/results/<student>/<file>.json``
first, so a Slurm array (``slurm/grade.sbatch``: ``--task``/``--tasks`` split the list) and a final
``--collect`` build the same grade book as one machine does.
"""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..base.files import atomic_write, write_json

COLUMNS = ("student", "file", "exercise", "points", "max_points", "message")


@dataclass(frozen=True)
class Submission:
    student: str
    path: Path

    @property
    def key(self) -> str:
        return f"{self.student}/{self.path.name}"


def find_submissions(folder: Path) -> list[Submission]:
    folder = Path(folder)
    if not folder.is_dir():
        raise ValueError(f"SUBMISSIONS_DIR {folder} is not a folder; give the folder that holds one file or "
                         f"one folder per student")
    found = []
    for entry in sorted(folder.iterdir()):
        if entry.name.startswith("."):
            continue
        if entry.is_dir():
            found += [Submission(entry.name, f) for f in sorted(entry.iterdir())
                      if f.is_file() and not f.name.startswith(".")]
        elif entry.is_file():
            found.append(Submission(entry.stem, entry))
    if not found:
        raise ValueError(f"{folder} holds no submissions")
    return found


def _stop_tree(proc: subprocess.Popen) -> None:
    """Kill the grading process and everything it started (the kernel runs in a session of its own)."""
    import psutil
    try:
        family = psutil.Process(proc.pid).children(recursive=True)
    except psutil.Error:
        family = []
    for p in family:
        try:
            p.kill()
        except psutil.Error:
            pass
    proc.kill()
    proc.wait()


def run_one(sub: Submission, result_file: Path, timeout: float, parameters: dict[str, Any]) -> dict[str, Any]:
    """Grade ``sub`` in a child process with a wall-clock limit; writes and returns its result."""
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="genlab-grade-") as tmp:
        cmd = [sys.executable, "-m", "genlab.grade.submission", str(sub.path), "--workdir", tmp,
               "--result", str(Path(tmp) / "result.json"), "--parameters", json.dumps(parameters),
               "--cell-timeout", str(timeout)]
        log = Path(tmp) / "log.txt"
        with log.open("w") as fh:
            proc = subprocess.Popen(cmd, stdout=fh, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
            try:
                proc.wait(timeout)
                result = json.loads((Path(tmp) / "result.json").read_text()) if proc.returncode == 0 else {
                    "status": "failed", "chapter": None, "results": [], "errors": [],
                    "message": f"the grader crashed on this file (exit {proc.returncode}): "
                               f"{log.read_text()[-300:].strip()}"}
            except subprocess.TimeoutExpired:
                _stop_tree(proc)
                result = {"status": "timeout", "chapter": None, "results": [], "errors": [],
                          "message": f"did not finish within {timeout:g} s (an endless loop or a very slow cell?); "
                                     f"stopped, nothing graded"}
    result.update(student=sub.student, file=sub.path.name, seconds=round(time.perf_counter() - t0, 1))
    write_json(result_file, result)
    return result


def rows_of(result: dict[str, Any]) -> list[dict[str, Any]]:
    """Grade-book lines of one graded file: one per exercise, plus one per problem with the notebook."""
    base = {"student": result["student"], "file": result["file"]}
    rows = [{**base, "exercise": r["label"], "points": r["points"], "max_points": r["max_points"],
             "message": r["message"]} for r in result["results"]]
    if result["status"] != "graded":
        rows.append({**base, "exercise": "(notebook)", "points": 0, "max_points": 0,
                     "message": f"{result['status']}: {result['message']}"})
    for error in result["errors"]:
        rows.append({**base, "exercise": "(notebook)", "points": 0, "max_points": 0, "message": error})
    return rows


def feedback_text(student: str, results: list[dict[str, Any]]) -> str:
    lines = [f"# Feedback for {student}", ""]
    for res in results:
        earned = sum(r["points"] for r in res["results"])
        possible = sum(r["max_points"] for r in res["results"])
        chapter = f" (chapter {res['chapter']})" if res.get("chapter") else ""
        lines += [f"## {res['file']}{chapter}: {earned} of {possible} points" if res["status"] == "graded"
                  else f"## {res['file']}{chapter}: not graded", ""]
        if res["status"] != "graded":
            lines += [f"- {res['message']}"]
        lines += [f"- {r['label']}: {'correct' if r['passed'] else r['message']} ({r['points']}/{r['max_points']})"
                  for r in res["results"]]
        if res["errors"]:
            lines += ["", "Errors while running your notebook (each cell still ran):"] + [f"- {e}" for e in res["errors"]]
        lines.append("")
    return "\n".join(lines)


def collect(out: Path) -> Path:
    """(Re)write ``<out>/gradebook.csv`` and ``<out>/feedback/<student>.md`` from every result under ``<out>/results``."""
    results = [json.loads(p.read_text()) for p in sorted((out / "results").rglob("*.json"))]
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=COLUMNS)
    writer.writeheader()
    for res in sorted(results, key=lambda r: (r["student"], r["file"])):
        writer.writerows(rows_of(res))
    atomic_write(out / "gradebook.csv", lambda fh: fh.write(buffer.getvalue()), "w")
    by_student: dict[str, list] = {}
    for res in results:
        by_student.setdefault(res["student"], []).append(res)
    for student, res in by_student.items():
        text = feedback_text(student, sorted(res, key=lambda r: r["file"]))
        atomic_write(out / "feedback" / f"{student}.md", lambda fh, t=text: fh.write(t), "w")
    return out / "gradebook.csv"


def grade_folder(submissions: Path, out: Path, timeout: float = 300, jobs: int | None = None,
                 parameters: dict[str, Any] | None = None, task: int = 0, tasks: int = 1) -> Path:
    """Grade every submission (this task's share of them), then write the grade book; returns its path."""
    if timeout <= 0:
        raise ValueError(f"--timeout {timeout}: give the seconds one notebook may run, e.g. 300")
    if not 0 <= task < tasks:
        raise ValueError(f"--task {task} --tasks {tasks}: need 0 <= task < tasks")
    out = Path(out)
    if out.resolve() == Path(submissions).resolve() or Path(submissions).resolve() in out.resolve().parents:
        raise ValueError(f"--out {out} is inside the submissions folder; write the grades elsewhere")
    todo = find_submissions(submissions)[task::tasks]
    if not jobs:
        jobs = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    print(f"grading {len(todo)} notebooks, {jobs} at a time, {timeout:g} s each at most", flush=True)

    def one(sub: Submission) -> dict[str, Any]:
        res = run_one(sub, out / "results" / sub.student / f"{sub.path.name}.json", timeout, parameters or {})
        earned = sum(r["points"] for r in res["results"])
        print(f"  {sub.key}: {res['status']}, {earned} points, {res['seconds']} s", flush=True)
        return res

    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        list(pool.map(one, todo))
    path = collect(out)
    print(f"grade book: {path}; feedback: {out / 'feedback'}", flush=True)
    return path
