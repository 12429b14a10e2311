"""Quality over seeds and thread counts: each model's quick profile trained several times, scored the same way.

A GAN's quality moves with the seed, the number of threads (the order of floating-point sums) and the CPU,
so one run says little. For every kind in ``--kinds``, every seed in ``--seeds`` and every thread count in
``--threads``, this trains the chapter's quick profile (the parameters cell of the kind's notebook) from
scratch under the run name ``seed<s>-t<t>`` in ``--output-dir``, one process per run, then scores
``--samples`` class-balanced samples (each kind's default sampler, sampling seed 123) in the project's
classifier feature space (``genlab.eval.evaluation.evaluate``):

- class accuracy: the share the classifier recognises as the requested digit; ``confident``: the same with
  softmax confidence at least 0.9;
- the accuracy of every class, and the weakest one;
- recall and coverage against training digits (within-class variety: a model that draws one image per
  class covers few real digits), and precision.

``--set NAME=VALUE`` changes a parameter of every run (an earlier recipe, for a before/after). Each run
folder also gets ``classes.png`` (16 samples of every class): look at them. It prints one row per run and,
per kind, the minimum and median over runs, with held-out real mnist5k digits scored the same way as the
reference, and writes ``quality_seeds.json`` and ``quality_seeds.md`` to ``--output-dir``. A finished run is
not trained again (delete its folder to redo it). It takes long: a benchmark, not a test. ``--jobs 2`` runs
two 1-thread runs at once (thread counts above 1 always run alone, so that they get their cores). Usage::

    PYTHONPATH=lib python benchmarks/quality_seeds.py --kinds dcgan stylegan --output-dir /tmp/genlab-quality
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

CONFIDENT = 0.9
SAMPLE_SEED = 123


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def classified(logits, labels, num_classes: int) -> dict:
    """Class accuracy, the share also >= CONFIDENT sure, every class's accuracy and the weakest class."""
    probs = logits.softmax(1)
    correct = probs.argmax(1) == labels
    per_class = [float(correct[labels == c].double().mean()) for c in range(num_classes)]
    return {"class_accuracy": float(correct.double().mean()),
            "confident": float((correct & (probs.max(1).values >= CONFIDENT)).double().mean()),
            "per_class": per_class, "weakest_class": min(range(num_classes), key=per_class.__getitem__),
            "weakest_accuracy": min(per_class)}


def one_run(kind_name: str, seed: int, threads: int, samples: int, output_dir: str, changes: dict) -> dict:
    """Train (or find) one quick-profile run and score it; the result row (also ``score.json`` in the run) and
    ``classes.png`` in the run folder: 16 samples of every class, one row per class."""
    import torch
    torch.set_num_threads(threads)
    from genlab.base.paths import project_root
    from genlab.book.slurm import notebook_defaults
    from genlab.data import resize_images, scoring_size
    from genlab.eval.evaluation import evaluate, sample
    from genlab.eval.featurenet import cache_dir, feature_net
    from genlab.models import registry

    kind = registry.get(kind_name)
    fields = set(kind.config.field_names())
    params = {k: v for k, v in notebook_defaults(project_root() / kind.info["notebook"]).items() if k in fields}
    config = kind.config(**{**params, **changes, "seed": seed, "run": f"seed{seed}-t{threads}",
                            "output_dir": output_dir, "device": "cpu", "eval_samples": max(4, samples)})
    done = Path(config.run_dir) / "score.json"
    if done.exists():
        return json.loads(done.read_text())
    trained = kind.train(config)
    scores = evaluate(trained, samples, seed=SAMPLE_SEED, write=False, verbose=False, inception="off")
    images, labels, _, _ = sample(trained, samples, seed=SAMPLE_SEED)
    images = resize_images(images, scoring_size(config.dataset, images.shape[-1]))
    net = feature_net(config.dataset, images.shape[-1], images.shape[1], cache=cache_dir(output_dir), verbose=False)
    _, logits = net.embed(images)
    from torchvision.utils import save_image
    k = max(1, trained.num_classes)
    grid = trained.sample(16 * k, labels=torch.arange(k).repeat_interleave(16) if trained.num_classes else None,
                          seed=SAMPLE_SEED)
    save_image(grid.float() / 255, Path(config.run_dir) / "classes.png", nrow=16, pad_value=0.5)
    row = {"kind": kind_name, "seed": seed, "threads": threads, "samples": samples, "changes": changes,
           "train_seconds": trained.metrics().get("train_seconds"),
           **classified(logits, labels, trained.num_classes), "class_accuracy": scores["class_accuracy"],
           "recall": scores["recall"], "coverage": scores["coverage"],
           "precision": scores["precision"], "floor": {k: scores["floor"][k] for k in ("recall", "coverage")}}
    done.write_text(json.dumps(row, indent=1))
    return row


def real_digits(samples: int, output_dir: str) -> dict:
    """The same figures for held-out real digits (mnist5k's test split): what a perfect model would score.
    The classifier is trained with label smoothing, so even real digits are not all >= 0.9 confident."""
    from genlab.data import load_dataset
    from genlab.eval.featurenet import cache_dir, feature_net
    real = load_dataset("mnist5k", "test", image_size=28, channels=1)
    n = min(samples, len(real))
    net = feature_net("mnist5k", 28, 1, cache=cache_dir(output_dir), verbose=False)
    _, logits = net.embed(real.images[:n])
    return {"samples": n, **classified(logits, real.labels[:n], 10)}


def launch(kind: str, seed: int, threads: int, args) -> dict:
    """One run in a fresh process (its own thread count, nothing shared with the others)."""
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads)}
    cmd = [sys.executable, __file__, "--one", kind, str(seed), str(threads), "--samples", str(args.samples),
           "--output-dir", args.output_dir] + [a for item in args.set for a in ("--set", item)]
    out = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if out.returncode:
        raise RuntimeError(f"{kind} seed {seed} threads {threads} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def summary(rows: list[dict]) -> list[dict]:
    """Per kind: minimum and median over runs of each figure, and the weakest class of any run."""
    out = []
    for kind in dict.fromkeys(r["kind"] for r in rows):
        mine = [r for r in rows if r["kind"] == kind]
        entry = {"kind": kind, "runs": len(mine)}
        for key in ("class_accuracy", "confident", "weakest_accuracy", "recall", "coverage", "precision"):
            values = [r[key] for r in mine]
            entry[key] = {"min": min(values), "median": statistics.median(values)}
        worst = min(mine, key=lambda r: r["weakest_accuracy"])
        entry["weakest"] = {"class": worst["weakest_class"], "accuracy": worst["weakest_accuracy"],
                            "seed": worst["seed"], "threads": worst["threads"]}
        out.append(entry)
    return out


def markdown(rows: list[dict], kinds: list[dict], machine: str, real: dict) -> str:
    changes = rows[0].get("changes") or {}
    lines = [f"Machine: {machine}. Each kind's quick profile{f' with {changes}' if changes else ''}, "
             f"{rows[0]['samples']} class-balanced samples per run, scored in the project's classifier space.", "",
             "| kind | runs | class accuracy min / median | confident (>= 0.9) min | weakest class (run) | "
             "recall min / median | coverage min / median |", "|---|---|---|---|---|---|---|"]
    for k in kinds:
        w = k["weakest"]
        threads = f"{w['threads']} thread" + ("s" if w["threads"] > 1 else "")
        lines.append(f"| {k['kind']} | {k['runs']} | {k['class_accuracy']['min']:.3f} / "
                     f"{k['class_accuracy']['median']:.3f} | {k['confident']['min']:.3f} | digit {w['class']} at "
                     f"{w['accuracy']:.2f} (seed {w['seed']}, {threads}) | {k['recall']['min']:.3f} / "
                     f"{k['recall']['median']:.3f} | {k['coverage']['min']:.3f} / {k['coverage']['median']:.3f} |")
    floors = [r["floor"] for r in rows if r.get("floor")]
    lines.append(f"| held-out real digits | - | {real['class_accuracy']:.3f} | {real['confident']:.3f} | digit "
                 f"{real['weakest_class']} at {real['weakest_accuracy']:.2f} | "
                 + (f"{floors[0]['recall']:.3f} | {floors[0]['coverage']:.3f} |" if floors else "- | - |"))
    lines += ["", "| kind | seed | threads | train s | class accuracy | weakest class | recall | coverage |",
              "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        seconds = f"{r['train_seconds']:.0f}" if r.get("train_seconds") else "-"
        lines.append(f"| {r['kind']} | {r['seed']} | {r['threads']} | {seconds} | {r['class_accuracy']:.3f} | "
                     f"{r['weakest_class']} at {r['weakest_accuracy']:.2f} | {r['recall']:.3f} | {r['coverage']:.3f} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--kinds", nargs="+", default=["dcgan", "stylegan", "ddpm", "ebm", "flow"])
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    p.add_argument("--samples", type=int, default=1000)
    p.add_argument("--jobs", type=int, default=1, help="1-thread runs at once (more threads always run alone)")
    p.add_argument("--output-dir", default="/tmp/genlab-quality")
    p.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                   help="change a parameter of every run (e.g. --set r1_gamma=0.01: an earlier recipe)")
    p.add_argument("--one", nargs=3, metavar=("KIND", "SEED", "THREADS"), help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.samples < 100:
        p.error(f"--samples {args.samples}: use at least 100 (10 per class) for a per-class accuracy")
    if args.one:
        kind, seed, threads = args.one
        from genlab.base.config import parse_assignments
        print(json.dumps(one_run(kind, int(seed), int(threads), args.samples, args.output_dir,
                                 parse_assignments(args.set))))
        return
    from genlab.models import registry
    unknown = sorted(set(args.kinds) - set(registry.names()))
    if unknown:
        p.error(f"--kinds: unknown {unknown}; choose from {registry.names()}")
    runs = [(k, s, t) for k in args.kinds for t in args.threads for s in args.seeds]
    rows: list[dict] = []

    def go(run):
        row = launch(*run, args)
        print(f"{row['kind']:9s} seed {row['seed']} threads {row['threads']}: accuracy {row['class_accuracy']:.3f}, "
              f"weakest digit {row['weakest_class']} {row['weakest_accuracy']:.2f}, recall {row['recall']:.3f}, "
              f"coverage {row['coverage']:.3f}", flush=True)
        return row
    single = [r for r in runs if r[2] == 1]
    with ThreadPoolExecutor(max(1, args.jobs)) as pool:
        rows += list(pool.map(go, single))
    rows += [go(r) for r in runs if r[2] != 1]
    rows.sort(key=lambda r: (args.kinds.index(r["kind"]), r["threads"], r["seed"]))
    kinds = summary(rows)
    machine = f"{cpu_name()}, {os.cpu_count()} CPUs"
    out = Path(args.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    real = real_digits(args.samples, args.output_dir)
    (out / "quality_seeds.json").write_text(json.dumps({"machine": machine, "rows": rows, "kinds": kinds,
                                                        "real_digits": real}, indent=1))
    table = markdown(rows, kinds, machine, real)
    (out / "quality_seeds.md").write_text(table)
    print(table)


if __name__ == "__main__":
    main()
