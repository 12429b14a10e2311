"""What the Slurm scripts (``slurm/*.sh``, ``slurm/*.sbatch``) ask of the project, answered in Python.

The shell scripts stay thin: they call ``python -m genlab.book.slurm <command>`` and read plain lines.

- ``plan``: the pipeline in ``_toc.yml`` order. Each notebook is a job; the comparison notebook
  (:data:`.lanes.BARRIERS`) waits for all others (``--dependency=afterok``); theory notebooks need no GPU.
  Also the datasets to fetch on the login node first (compute nodes often have no internet).
- ``has-param``: whether a notebook's ``parameters`` cell defines a name (e.g. ``time_budget_s``).
- ``sweep-size`` / ``sweep-array`` / ``sweep-task``: a parameter grid as a job array. Task ``i`` of sweep ``name``
  runs the sweep's notebook with ``run=<name>/<key><value>_<key><value>``, so results land in
  ``outputs/<name>/lr0.0002_seed0/dcgan/`` and the comparison notebook aggregates
  ``outputs/<name>/*/dcgan/metrics.json``.
- ``train-notebook`` / ``train-params``: the notebook that trains a model kind, and the parameters a
  distributed training job (``slurm/train.sbatch``) must use so that the notebook run after it
  finds the finished checkpoint of the same configuration and loads it (train-or-resume).
"""

from __future__ import annotations

import argparse
import ast
import itertools
import json
import re
import sys
from pathlib import Path
from typing import Any

import yaml

from ..base.config import DOWNLOADABLE, load_yaml, parse_assignments
from ..base.paths import project_root
from ..models.registry import kind_of_notebook
from .lanes import BARRIERS
from .runner import profile_parameters, select, toc_notebooks
from .sources import read_notebook

def notebook_defaults(path: Path) -> dict[str, Any]:
    """Literal values of the notebook's ``parameters``-tagged cell (name -> value)."""
    cells = read_notebook(Path(path)).cells  # .ipynb or a MyST Markdown notebook (theory/*.md)
    for cell in cells:
        if cell.get("cell_type") == "code" and "parameters" in cell.get("metadata", {}).get("tags", []):
            source = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
            values = {}
            for node in ast.parse(source).body:
                if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
                    try:
                        values[node.targets[0].id] = ast.literal_eval(node.value)
                    except ValueError:
                        continue
            return values
    return {}


def plan(profile: str, params_dir: str | None = None, overrides: dict[str, Any] | None = None,
         root: Path | None = None) -> tuple[list[tuple[str, str, str]], list[tuple[str, str]]]:
    """``([(stage, notebook, resource)], [(dataset, data_dir)])`` for the whole book.

    ``stage`` is ``first`` or ``dependent``; ``resource`` is ``gpu`` or ``cpu`` (theory notebooks).
    """
    root = root or project_root()
    jobs, downloads = [], []
    for nb in toc_notebooks(root):
        name = nb.with_suffix("").as_posix()
        stage = "dependent" if name in BARRIERS else "first"
        jobs.append((stage, name, "cpu" if name.startswith("theory/") else "gpu"))
        values = {**notebook_defaults(root / nb),
                  **profile_parameters(nb, profile, root, Path(params_dir) if params_dir else None),
                  **(overrides or {})}
        dataset, data_dir = values.get("dataset"), str(values.get("data_dir", "data"))
        if dataset in DOWNLOADABLE and (dataset, data_dir) not in downloads:
            downloads.append((dataset, data_dir))
    return jobs, downloads


# ----------------------------------------------------------------------------- training jobs

def train_notebook(kind: str, root: Path | None = None) -> Path:
    """The notebook in ``_toc.yml`` that trains model ``kind`` (the registry names it)."""
    root = root or project_root()
    found = [nb for nb in toc_notebooks(root) if kind_of_notebook(nb) == kind]
    if not found:
        kinds = [k for nb in toc_notebooks(root) if (k := kind_of_notebook(nb))]
        raise ValueError(f"model '{kind}' has no training notebook in _toc.yml; choose one of {', '.join(kinds)}")
    return found[0]


def train_params(kind: str, profile: str = "full", params_dir: str | None = None,
                 overrides: dict[str, Any] | None = None, root: Path | None = None) -> dict[str, Any]:
    """The notebook's parameters cell, then the profile's file, then ``overrides``: what the notebook will use."""
    root = root or project_root()
    nb = train_notebook(kind, root)
    return {**notebook_defaults(root / nb),
            **profile_parameters(nb, profile, root, Path(params_dir) if params_dir else None),
            **(overrides or {})}


# ----------------------------------------------------------------------------- sweeps

def load_sweep(path: str | Path, profile: str = "full") -> dict[str, Any]:
    """Read a sweep file; ``profiles.<profile>`` entries replace the top-level keys."""
    path = Path(path)
    spec = load_yaml(path.read_text()) or {}
    spec = {**spec, **((spec.get("profiles") or {}).get(profile) or {})}
    for key in ("name", "notebook", "grid"):
        if key not in spec:
            raise ValueError(f"sweep file {path}: missing '{key}' (see slurm/sweeps/dcgan_lr.yaml)")
    if not re.fullmatch(r"[A-Za-z0-9_.-]+", str(spec["name"])):
        raise ValueError(f"sweep file {path}: name '{spec['name']}' must be one folder name (letters, digits, _.-)")
    grid = spec["grid"]
    if not isinstance(grid, dict) or not grid or not all(isinstance(v, list) and v for v in grid.values()):
        raise ValueError(f"sweep file {path}: 'grid' must map each parameter to a non-empty list of values")
    spec["grid"] = {k: [_number(v) for v in values] for k, values in grid.items()}
    return spec


def _number(value: Any) -> Any:
    """YAML reads ``2e-4`` (no dot) as a string: take it as the number it means."""
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return value
    return value


def _label(value: Any) -> str:
    text = f"{value:g}" if isinstance(value, float) else str(value)
    return re.sub(r"[^A-Za-z0-9.+-]", "-", text)


def _yaml_scalar(value: Any) -> str:
    """``value`` as ``-p NAME=VALUE`` reads it back (YAML): floats keep a dot (``5.0e-05``, not ``5e-05``)."""
    if isinstance(value, float):
        text = repr(value)
        mantissa, e, exponent = text.partition("e")
        return f"{mantissa}.0e{exponent}" if e and "." not in mantissa else text
    return value if isinstance(value, str) else json.dumps(value)


def sweep_points(spec: dict[str, Any]) -> list[dict[str, Any]]:
    keys = list(spec["grid"])
    return [dict(zip(keys, values)) for values in itertools.product(*(spec["grid"][k] for k in keys))]


def sweep_task(spec: dict[str, Any], index: int) -> dict[str, Any]:
    """Parameters of array task ``index``: the sweep's fixed ``params``, the grid point and its ``run``."""
    points = sweep_points(spec)
    if not 0 <= index < len(points):
        raise ValueError(f"array task {index} out of range: sweep '{spec['name']}' has {len(points)} tasks "
                         f"(submit with --array=0-{len(points) - 1})")
    point = points[index]
    run = f"{spec['name']}/" + "_".join(f"{k}{_label(v)}" for k, v in point.items())
    return {**(spec.get("params") or {}), **point, "run": run}


# ----------------------------------------------------------------------------- command line

def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m genlab.book.slurm", description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="command", required=True)
    sp = sub.add_parser("plan", help="lines 'job STAGE NOTEBOOK RESOURCE KIND' (KIND: the model the notebook trains, or -) and 'download DATASET DATA_DIR'")
    sp.add_argument("--profile", default="full")
    sp.add_argument("--params-dir")
    sp.add_argument("-p", action="append", metavar="NAME=VALUE")
    sp = sub.add_parser("has-param", help="exit 0 when NOTEBOOK's parameters cell defines NAME")
    sp.add_argument("notebook")
    sp.add_argument("name")
    sp = sub.add_parser("sweep-size", help="number of array tasks")
    sp.add_argument("file")
    sp.add_argument("--profile", default="full")
    sp = sub.add_parser("sweep-array", help="the --array value: 0-<N-1>[%max_parallel]")
    sp.add_argument("file")
    sp.add_argument("--profile", default="full")
    sp = sub.add_parser("sweep-task", help="NOTEBOOK, then one '-p NAME=VALUE' pair per line, for task INDEX")
    sp.add_argument("file")
    sp.add_argument("index", type=int)
    sp.add_argument("--profile", default="full")
    sp = sub.add_parser("train-notebook", help="the notebook that trains KIND (exit 2 if none)")
    sp.add_argument("kind")
    sp = sub.add_parser("train-params", help="YAML parameters of KIND's notebook for a training job")
    sp.add_argument("kind")
    sp.add_argument("--profile", default="full")
    sp.add_argument("--params-dir")
    sp.add_argument("-p", action="append", metavar="NAME=VALUE")
    args = p.parse_args(argv)
    try:
        if args.command == "plan":
            jobs, downloads = plan(args.profile, args.params_dir, parse_assignments(args.p))
            for stage, name, resource in jobs:
                print(f"job {stage} {name} {resource} {kind_of_notebook(name) or '-'}")
            for dataset, data_dir in downloads:
                print(f"download {dataset} {data_dir}")
        elif args.command == "train-notebook":
            print(train_notebook(args.kind).with_suffix("").as_posix())
        elif args.command == "train-params":
            values = train_params(args.kind, args.profile, args.params_dir, parse_assignments(args.p))
            print(yaml.safe_dump(values, sort_keys=False), end="")
        elif args.command == "has-param":
            (nb,) = select(toc_notebooks(project_root()), [args.notebook])
            return 0 if args.name in notebook_defaults(project_root() / nb) else 1
        elif args.command == "sweep-size":
            print(len(sweep_points(load_sweep(args.file, args.profile))))
        elif args.command == "sweep-array":
            spec = load_sweep(args.file, args.profile)
            limit = spec.get("max_parallel")
            print(f"0-{len(sweep_points(spec)) - 1}" + (f"%{int(limit)}" if limit else ""))
        else:
            spec = load_sweep(args.file, args.profile)
            print(spec["notebook"])
            for key, value in sweep_task(spec, args.index).items():
                print("-p")
                print(f"{key}={_yaml_scalar(value)}")
    except (ValueError, OSError) as exc:
        print(f"genlab.book.slurm {args.command}: error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
