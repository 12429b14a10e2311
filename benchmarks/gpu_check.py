"""One prepared GPU check, unattended, within about 8 minutes on one GPU.

Writes ``<out>/gpu_check.json`` and ``<out>/gpu_check.md``:
- the GPU, its driver, torch and CUDA versions;
- the ``gpu`` tests (``tests/test_gpu.py``: every kind's step and sampler on CUDA, bf16 vs fp32,
  CUDA samples vs the CPU's, a 1-process NCCL group);
- each kind's full-profile training throughput (images/s) and peak memory per image at its full batch
  (``slurm/params/full``, data of the same shape: ``benchmarks/full_profile.py``);
- the DDPM step against diffusers (``benchmarks/ddpm_throughput.py`` on CUDA, the full DDPM's U-Net);
- DDIM-50 and DPM-Solver++-20 seconds per 100 images, after a ``--train-seconds`` full-profile DDPM
  training on mnist5k whose samples the project's classifier then scores.

    PYTHONPATH=lib python benchmarks/gpu_check.py [--out _build/gpu_check] [--train-seconds 180]

Without CUDA it says so and writes nothing (exit 0): there is nothing to measure.
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

from genlab.base.paths import project_root  # noqa: E402
from genlab.data import DeviceBatches, balanced_labels  # noqa: E402
from genlab.models import registry  # noqa: E402
from genlab.train.devices import seed_everything  # noqa: E402
from genlab.train.run import training_data  # noqa: E402
from genlab.train.signals import TrainingInterrupted  # noqa: E402

ROOT = project_root(Path(__file__).parent)


def versions() -> dict:
    smi = subprocess.run(["nvidia-smi", "--query-gpu=name,driver_version,memory.total", "--format=csv,noheader"],
                         capture_output=True, text=True)
    return {"gpu": torch.cuda.get_device_name(0), "nvidia_smi": smi.stdout.strip() or smi.stderr.strip(),
            "torch": torch.__version__, "cuda": torch.version.cuda, "cudnn": torch.backends.cudnn.version()}


def gpu_tests() -> dict:
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-m", "gpu", "-rs", "tests/test_gpu.py"], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)
    return {"returncode": proc.returncode, "summary": proc.stdout.strip().splitlines()[-1:],
            "seconds": round(time.perf_counter() - t0, 1), "tail": proc.stdout[-3000:]}


def throughput(name: str, params: dict, tmp: Path, steps: int = 10) -> dict:
    """Full-batch training steps of one full parameter file: images/s and peak memory per image."""
    kind = registry.get(name)
    config = kind.config.from_dict(same_shape(name, params, tmp, device="cuda"))
    data = (kind.data or training_data)(config)
    seed_everything(config.seed)
    device = torch.device("cuda")
    recipe = kind.recipe(config, data, device)
    batches = DeviceBatches(data, config.batch_size, device, seed=config.seed)
    for m in recipe.state.modules.values():
        m.train()
    for i in range(3):  # warm-up: cuDNN autotuning, lazy allocations
        recipe.step(i, *batches.batch(i))
    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats()
    t0 = time.perf_counter()
    for i in range(3, 3 + steps):
        recipe.step(i, *batches.batch(i))
    torch.cuda.synchronize()
    seconds = time.perf_counter() - t0
    return {"kind": name, "dataset": params.get("dataset"), "image_size": config.image_size,
            "batch": config.batch_size, "images_per_s": round(steps * config.batch_size / seconds, 1),
            "peak_mib_per_image": round(torch.cuda.max_memory_allocated() / 2**20 / config.batch_size, 2)}


def ddpm_vs_diffusers(full: dict) -> dict:
    overrides = [a for k in ("base_channels", "channel_mults", "num_res_blocks", "attn_resolutions", "norm_groups",
                             "dropout", "batch_size") if k in full
                 for a in ("-p", f"{k}={json.dumps(full[k])}")]
    proc = subprocess.run([sys.executable, "benchmarks/ddpm_throughput.py", "--device", "cuda", "--rounds", "3",
                           *overrides], cwd=ROOT, capture_output=True, text=True, timeout=400)
    return {"returncode": proc.returncode, "report": proc.stdout.strip().splitlines()[-8:],
            "error": proc.stderr[-1500:] if proc.returncode else ""}


def short_ddpm_training(full: dict, tmp: Path, seconds: float) -> dict:
    """The full DDPM for ``seconds`` on mnist5k, then sampler timings and the classifier's verdict."""
    from genlab.eval.featurenet import feature_net
    kind = registry.get("ddpm")
    # the file's own diffusion (all num_steps); only the end-of-run timings are cut, the scoring below times
    config = kind.config.from_dict(same_shape("ddpm", full, tmp, cost=False, dataset="mnist5k", device="cuda",
                                              timing_images=2, ddpm_images=0, ddim_steps=[10],
                                              time_budget_s=seconds, run="gpu_check"))
    try:
        kind.train(config)
    except TrainingInterrupted:
        pass  # the time budget: checkpointed, as intended
    trained = registry.load_trained(config.run_dir / "checkpoint.pt", "cuda")
    timings = {}
    for sampler, steps in (("ddim", 50), ("dpm++", 20)):
        trained.sample(10, seed=0, sampler=sampler, steps=steps)
        torch.cuda.synchronize()
        t0 = time.perf_counter()
        trained.sample(100, seed=1, sampler=sampler, steps=steps)
        torch.cuda.synchronize()
        timings[f"{sampler}-{steps}"] = round(time.perf_counter() - t0, 2)
    labels = balanced_labels(500, trained.num_classes)
    images = trained.sample(500, labels=labels, seed=2)
    judge = feature_net("mnist5k", 28, 1, verbose=False)
    accuracy = float((judge.logits(images).argmax(1) == labels).double().mean())
    return {"steps": trained.step, "train_seconds": seconds, "seconds_per_100": timings,
            "class_accuracy_500": round(accuracy, 4)}


def markdown(report: dict) -> str:
    v = report["versions"]
    lines = [f"# GPU check: {v['gpu']}", "", f"driver/memory: {v['nvidia_smi']}; torch {v['torch']}, CUDA {v['cuda']}",
             "", f"gpu tests: {' '.join(report['gpu_tests']['summary'])} ({report['gpu_tests']['seconds']} s)", "",
             "| kind | data | px | batch | images/s | peak MiB/image |", "|---|---|---|---|---|---|"]
    for r in report["throughput"]:
        lines.append(f"| {r['kind']} | {r['dataset']} | {r['image_size']} | {r['batch']} | {r['images_per_s']} | "
                     f"{r['peak_mib_per_image']} |" if "error" not in r else f"| {r['kind']} | error: {r['error']} |")
    t = report["ddpm_training"]
    lines += ["", "DDPM step vs diffusers:", "", *[f"    {line}" for line in report["ddpm_vs_diffusers"]["report"]], "",
              f"Full DDPM, {t['train_seconds']} s of training ({t['steps']} steps): seconds per 100 images "
              f"{t['seconds_per_100']}; class accuracy of 500 samples (project classifier) {t['class_accuracy_500']}"]
    return "\n".join(lines) + "\n"


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--out", default="_build/gpu_check")
    p.add_argument("--train-seconds", type=float, default=180.0)
    args = p.parse_args()
    if not torch.cuda.is_available():
        print(f"gpu_check: no CUDA device on this machine (torch {torch.__version__}, built for CUDA "
              f"{torch.version.cuda or 'none'}): nothing to measure. Run it on a GPU node, e.g. "
              f"`srun --gpus 1 python benchmarks/gpu_check.py`.")
        return 0
    report = {"versions": versions(), "gpu_tests": gpu_tests(), "throughput": []}
    with tempfile.TemporaryDirectory() as tmp:
        for i, (name, params) in enumerate(cases()):
            try:
                report["throughput"].append(throughput(name, params, Path(tmp) / str(i)))
            except Exception as exc:  # one kind's failure is a finding, not the end of the check
                report["throughput"].append({"kind": name, "error": f"{type(exc).__name__}: {exc}"[:300]})
            torch.cuda.empty_cache()
        full = dict(next(params for name, params in cases() if name == "ddpm"))
        report["ddpm_vs_diffusers"] = ddpm_vs_diffusers(full)
        report["ddpm_training"] = short_ddpm_training(full, Path(tmp) / "train", args.train_seconds)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "gpu_check.json").write_text(json.dumps(report, indent=1) + "\n")
    (out / "gpu_check.md").write_text(markdown(report))
    print(markdown(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
