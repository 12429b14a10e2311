"""``python -m genlab ...``: everything a notebook does, from the shell.

Commands: ``all`` (run notebooks + build book), ``run-notebooks``, ``build-book``, ``check-book``,
``download``, ``train``, ``sample``, ``evaluate``, ``lab``, ``serve``. Models are found through the registry
(``genlab.models``). The CLI is a leaf: nothing in the library imports it.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from .base.config import SEED_MAX, load_yaml, parse_assignments


def load_params_file(path: str | None) -> dict[str, Any]:
    if not path:
        return {}
    values = load_yaml(Path(path).read_text()) or {}
    if not isinstance(values, dict):
        raise ValueError(f"--params {path}: expected 'name: value' lines")
    return values


def parse_labels(labels: list[int] | None, n: int, num_classes: int):
    """--labels cycled to n int64 labels (None: the model balances them)."""
    import torch
    if not labels:
        return None
    if not num_classes:
        raise ValueError("--labels given but this model is unconditional; leave --labels out")
    bad = [c for c in labels if not 0 <= c < num_classes]
    if bad:
        raise ValueError(f"--labels {bad} out of range; classes are 0..{num_classes - 1}")
    reps = -(-n // len(labels))
    return torch.tensor(labels * reps, dtype=torch.int64)[:n]


def add_sampler_flags(sp: argparse.ArgumentParser) -> None:
    """One flag per sampling option of any kind; the loaded model checks the ones given."""
    from .models.registry import sampling_options
    flags = sampling_options()
    for name, (typ, helps) in flags.items():
        sp.add_argument(f"--{name.replace('_', '-')}", dest=name, type=typ, help="; ".join(helps))
    sp.set_defaults(sampler_option_names=list(flags))


def sample_options(args: argparse.Namespace) -> dict[str, Any]:
    return {k: getattr(args, k) for k in args.sampler_option_names if getattr(args, k, None) is not None}


def cmd_sample(args: argparse.Namespace) -> None:
    """Write ``{"images": uint8 N x C x H x W, "labels": int64 N}`` (.pt) or a PNG grid."""
    import torch
    from .base.files import atomic_write
    from .base.outputs import check_output
    from .data import balanced_labels
    from .models import load_trained
    from .plots import save_grid
    out = Path(args.out)
    if out.suffix not in (".pt", ".png"):
        raise ValueError(f"--out {out}: use a .pt file (tensors) or a .png file (a grid)")
    check_output(out, "--out", force=args.force, inputs=(Path(args.checkpoint),))
    from .models.protocol import MAX_SAMPLES
    if not 1 <= args.n <= MAX_SAMPLES:
        raise ValueError(f"--n {args.n}: ask for 1 to {MAX_SAMPLES} images (run several commands for more)")
    if not 0 <= args.seed <= SEED_MAX:
        raise ValueError(f"--seed {args.seed}: out of range; allowed 0..{SEED_MAX}")
    trained = load_trained(args.checkpoint, args.device)
    labels = parse_labels(args.labels, args.n, trained.num_classes)
    if labels is None and trained.num_classes:
        labels = balanced_labels(args.n, trained.num_classes)
    images = trained.sample(args.n, labels=labels, seed=args.seed, **sample_options(args))
    if out.suffix == ".pt":
        lab = labels if labels is not None else torch.full((args.n,), -1, dtype=torch.int64)
        atomic_write(out, lambda fh: torch.save({"images": images.cpu(), "labels": lab.cpu()}, fh))
    else:
        save_grid(images, out, nrow=trained.num_classes or None)
    print(f"wrote {args.n} images to {out}")


def cmd_evaluate(args: argparse.Namespace) -> None:
    """Sample ``--n`` images and merge FD/KID/IS/precision/recall/... and the real floor into metrics.json."""
    from .eval.featurenet import FeatureNetConfig
    from .eval.evaluation import evaluate
    from .models import load_trained
    if not 0 <= args.seed <= SEED_MAX:
        raise ValueError(f"--seed {args.seed}: out of range; allowed 0..{SEED_MAX}")
    trained = load_trained(args.checkpoint, args.device)
    options = sample_options(args)
    feature_config = FeatureNetConfig.from_dict(parse_assignments(args.feature_net))
    evaluate(trained, n=args.n, seed=args.seed, setting=args.setting, options=options or None,
             feature_config=feature_config, inception=args.inception)
    print(f"updated {trained.run_dir / 'metrics.json'}")


def cmd_train(args: argparse.Namespace) -> None:
    from .models import get
    kind = get(args.model)
    params = {**load_params_file(args.params), **parse_assignments(args.p)}
    trained = kind.train(kind.config.from_dict(params))
    print(f"trained {args.model}: {trained.run_dir}")


def cmd_run_notebooks(args: argparse.Namespace) -> None:
    from .book.runner import run_notebooks
    run_notebooks(args.profile, only=args.only, params_dir=args.params_dir, parameters=parse_assignments(args.p),
                  build_dir=args.build_dir, cache=not args.no_cache, jobs=args.jobs)


def cmd_build_book(args: argparse.Namespace) -> None:
    from .book.runner import build_book
    build_book(build_dir=args.build_dir, student=args.student)


def cmd_check_book(args: argparse.Namespace) -> None:
    from .book.check import check_book
    problems = check_book(args.build_dir)
    for problem in problems:
        print(problem, file=sys.stderr)
    if problems:
        raise BookProblems(f"{len(problems)} problem(s) in the book at {args.build_dir} (listed above)")
    print(f"every page of {args.build_dir} is fine in Chromium")


class BookProblems(RuntimeError):
    """check-book found problems (already printed); exit 1."""


def cmd_all(args: argparse.Namespace) -> None:
    from .book.runner import build_book, run_notebooks
    run_notebooks(args.profile, params_dir=args.params_dir, parameters=parse_assignments(args.p),
                  build_dir=args.build_dir, cache=not args.no_cache, jobs=args.jobs)
    build_book(build_dir=args.build_dir)


def cmd_lab(args: argparse.Namespace) -> None:
    """JupyterLab with the project's ``genlab`` kernel (this environment) registered first."""
    import os
    from .base.paths import project_root
    from .book.runner import ensure_kernel
    root = project_root()
    ensure_kernel(root / args.build_dir)
    os.chdir(root)
    extra = args.extra[1:] if args.extra[:1] == ["--"] else args.extra  # "--" is ours, not a file for Jupyter
    os.execv(sys.executable, [sys.executable, "-m", "jupyterlab", *extra])


def split_lab_args(argv: list[str]) -> argparse.Namespace:
    """``genlab lab [--build-dir DIR] [jupyter options...]``: everything after our own option goes to Jupyter."""
    rest, build_dir = argv[1:], "_build"
    if rest[:1] == ["--build-dir"] and len(rest) > 1:
        build_dir, rest = rest[1], rest[2:]
    elif rest[:1] and rest[0].startswith("--build-dir="):
        build_dir, rest = rest[0].split("=", 1)[1], rest[1:]
    return argparse.Namespace(command="lab", build_dir=build_dir, extra=rest, func=cmd_lab)


def cmd_install_kernel(args: argparse.Namespace) -> None:
    from .book.runner import install_kernel
    spec_dir = install_kernel(args.prefix)
    print(f"registered the genlab kernel ({sys.executable}) in {spec_dir}")


def cmd_download(args: argparse.Namespace) -> None:
    from .data import download
    path = download(args.name, args.data_dir)
    print(f"{args.name} is in {path}")


def cmd_serve(args: argparse.Namespace) -> None:
    """The generation service and its page (genlab.serve) over every trained model under --runs."""
    from .serve.server import parse_budgets, serve
    serve(args.runs, host=args.host, port=args.port, token=args.token, device=args.device, workers=args.workers,
          queue=args.queue, limits=parse_budgets(args.budget))


def add_serve_parser(sub) -> None:
    sp = sub.add_parser("serve", help="HTTP API and web page that generate images from the trained models")
    sp.add_argument("--runs", default="outputs/quick", help="folder searched for <kind>/checkpoint.pt run folders")
    sp.add_argument("--host", default="127.0.0.1", help="address to bind; anything but loopback needs --token")
    sp.add_argument("--port", type=int, default=8000)
    sp.add_argument("--token", help="required on every request but /health (default: $GENLAB_TOKEN)")
    sp.add_argument("--device", default="auto")
    sp.add_argument("--workers", type=int, default=2, help="generations running at once")
    sp.add_argument("--queue", type=int, default=4, help="requests waiting for a worker before 503s")
    sp.add_argument("--budget", action="append", metavar="[KIND=]N",
                    help="most images x network steps one request may cost (default 3200 = 64 images at 50 steps), "
                         "for every kind or one kind (repeatable); shown in GET /models")
    sp.set_defaults(func=cmd_serve)


def build_parser() -> argparse.ArgumentParser:
    from .models import names as model_names
    p = argparse.ArgumentParser(prog="genlab", description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="command", required=True)

    def runner_args(sp: argparse.ArgumentParser) -> None:
        sp.add_argument("--profile", default="quick", help="quick (notebook defaults), smoke or full")
        sp.add_argument("--params-dir", help="folder of <notebook stem>.yaml parameter files (overrides --profile)")
        sp.add_argument("-p", action="append", metavar="NAME=VALUE", help="parameter for every notebook that declares it")
        sp.add_argument("--build-dir", default="_build")
        sp.add_argument("--no-cache", action="store_true", help="execute even notebooks unchanged since their last run")
        sp.add_argument("--jobs", type=int, help="notebooks to execute at once, each with its share of the cores "
                                                 "(default: 2 on a CPU-only machine with 2 or more cores, else 1)")

    sp = sub.add_parser("all", help="execute every notebook in _toc.yml, then build the book")
    runner_args(sp)
    sp.set_defaults(func=cmd_all)
    sp = sub.add_parser("run-notebooks", help="execute the notebooks in _toc.yml order with papermill")
    runner_args(sp)
    sp.add_argument("--only", nargs="+", help="only notebooks whose path contains one of these")
    sp.set_defaults(func=cmd_run_notebooks)
    sp = sub.add_parser("build-book", help="render the executed notebooks with jupyter-book (-W)")
    sp.add_argument("--student", action="store_true", help="hide exercise solutions")
    sp.add_argument("--build-dir", default="_build")
    sp.set_defaults(func=cmd_build_book)
    sp = sub.add_parser("check-book", help="load every page of the built book in headless Chromium: broken "
                                           "images and links, JS errors, raw TeX, pages wider than the window")
    sp.add_argument("--build-dir", default="_build/html", help="the book's HTML folder")
    sp.set_defaults(func=cmd_check_book)
    sp = sub.add_parser("lab", help="start JupyterLab with the project's kernel")
    sp.add_argument("--build-dir", default="_build")
    sp.add_argument("extra", nargs=argparse.REMAINDER, help="arguments for jupyter lab")
    sp.set_defaults(func=cmd_lab)
    sp = sub.add_parser("install-kernel", help="register the notebooks' 'genlab' kernel in this environment")
    sp.add_argument("--prefix", help="environment prefix (default: this interpreter's, sys.prefix)")
    sp.set_defaults(func=cmd_install_kernel)
    sp = sub.add_parser("download", help="fetch a torchvision dataset (needs internet; use a login node)")
    sp.add_argument("name", help="mnist, fashion_mnist or cifar10")
    sp.add_argument("--data-dir", default="data")
    sp.set_defaults(func=cmd_download)
    sp = sub.add_parser("train", help="train or resume a model from parameters")
    sp.add_argument("model", help=", ".join(model_names()))
    sp.add_argument("--params", help="YAML file of parameters (as in slurm/params/)")
    sp.add_argument("-p", action="append", metavar="NAME=VALUE", help="one parameter (repeatable)")
    sp.set_defaults(func=cmd_train)
    sp = sub.add_parser("sample", help="generate images from any trained checkpoint")
    sp.add_argument("--checkpoint", required=True)
    sp.add_argument("--n", type=int, default=100)
    sp.add_argument("--labels", type=int, nargs="+", help="classes to cycle through (default: balanced)")
    sp.add_argument("--seed", type=int, default=0, help=f"0..{SEED_MAX}")
    sp.add_argument("--out", required=True, help="FILE.pt (images + labels) or FILE.png (grid); never a run's own "
                                                  "files, and an existing file only with --force")
    sp.add_argument("--force", action="store_true", help="replace an existing --out file")
    sp.add_argument("--device", default="auto")
    add_sampler_flags(sp)
    sp.set_defaults(func=cmd_sample)
    sp = sub.add_parser("evaluate", help="score samples of a checkpoint (FD, KID, IS, precision/recall, ...)")
    sp.add_argument("--checkpoint", required=True)
    sp.add_argument("--n", type=int, default=1000, help="number of samples (and of held-out real images)")
    sp.add_argument("--seed", type=int, default=0)
    sp.add_argument("--device", default="auto")
    sp.add_argument("--setting", help="name of the sampler setting (e.g. ddim_10); default: headline numbers")
    sp.add_argument("--inception", default="auto", choices=("auto", "off", "require"),
                    help="standard Inception-v3 FID when its weights are on disk (see README)")
    sp.add_argument("--feature-net", dest="feature_net", action="append", metavar="NAME=VALUE",
                    help="feature net parameter (width, epochs, batch_size, lr, max_train, seed)")
    add_sampler_flags(sp)
    sp.set_defaults(func=cmd_evaluate)
    add_serve_parser(sub)
    from .grade.commands import add_course_parsers
    add_course_parsers(sub)
    return p


EXIT_INTERRUPTED = 3  # training checkpointed and stopped early (signal/time budget): rerun to resume


def main(argv: list[str] | None = None) -> int:
    from .book.runner import NotebookFailed
    from .train.signals import TrainingInterrupted
    argv = list(sys.argv[1:] if argv is None else argv)
    # Jupyter's own options (--no-browser, --port ...) pass through untouched; argparse would reject them.
    args = split_lab_args(argv) if argv[:1] == ["lab"] and "-h" not in argv[1:2] and "--help" not in argv[1:2] \
        else build_parser().parse_args(argv)
    try:
        args.func(args)
    except TrainingInterrupted as exc:
        print(f"genlab {args.command}: {exc}", file=sys.stderr)
        return EXIT_INTERRUPTED
    except NotebookFailed as exc:
        print(f"genlab {args.command}: error: {exc}", file=sys.stderr)
        return EXIT_INTERRUPTED if exc.ename == "TrainingInterrupted" else 1
    except (ValueError, TypeError, OSError, RuntimeError, FloatingPointError) as exc:
        print(f"genlab {args.command}: error: {exc}", file=sys.stderr)
        return 1
    return 0
