"""The full-profile parameter files at their real shapes, on data of the same shape that needs no download.

Shared by ``tests/test_full_shapes.py`` (every file trains, resumes, samples and evaluates on the CPU)
and ``benchmarks/gpu_check.py`` (full-batch throughput and memory on a GPU). MNIST-shaped files get
``mnist5k`` (28 px, 1 channel, 10 classes); a folder of images gets a temporary folder of RGB PNGs at
the file's size; the CIFAR-10 overrides a file documents get 32 px RGB PNGs in 10 class folders.
"""

from __future__ import annotations

from pathlib import Path

import torch
import yaml

from genlab.base.paths import project_root
from genlab.models import registry

# End-of-run timings, grids, evaluated settings and the ancestral DDPM's length: how long the measurements
# take, not what is trained (no weight changes shape).
COST = {"ddpm": {"timing_images": 2, "ddpm_images": 0, "ddim_steps": [10], "eval_steps": [10], "sample_steps": 10,
                 "num_steps": 100, "sweep_steps": [10, 100]},
        "flow": {"eval_nfe": [9], "sweep_nfe": [8]},
        "ebm": {"sample_steps": 8}}
CIFAR = {"dataset": "cifar10", "image_size": 32, "conditional": True}  # the overrides 02_stylegan.yaml documents


def cases() -> list[tuple[str, dict]]:
    """(kind, parameters) of every ``slurm/params/full`` file of a registered kind, plus its CIFAR-10 variant."""
    found = []
    for name in registry.names():
        path = project_root() / "slurm" / "params" / "full" / f"{Path(registry.info(name)['notebook']).stem}.yaml"
        if path.exists():
            text = path.read_text()
            params = yaml.safe_load(text)
            found.append((name, params))
            if "cifar10" in text and params.get("dataset") != "cifar10":
                found.append((name, {**params, **CIFAR}))
    return found


def synthetic_folder(root: Path, size: int, classes: int, images: int = 400) -> str:
    """``images`` RGB PNGs of ``size`` px in ``classes`` class folders (noise: shapes matter here, not content).

    The folder loader holds out every 10th image: 400 leave 40 held-out images, enough to score 32 samples."""
    per_class = images // classes
    from PIL import Image
    g = torch.Generator().manual_seed(0)
    for c in range(classes):
        (root / f"class{c}").mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            Image.fromarray((torch.rand(size, size, 3, generator=g) * 255).to(torch.uint8).numpy()).save(
                root / f"class{c}" / f"{i:02d}.png")
    return f"folder:{root}"


def same_shape(name: str, params: dict, tmp: Path, cost: bool = True, **extra) -> dict:
    """``params`` with a dataset of the same shape (written under ``tmp``), the cost knobs (unless not
    ``cost``) and ``extra``."""
    dataset = params.get("dataset", "mnist5k")
    if dataset in ("mnist", "fashion_mnist", "mnist5k"):
        dataset = "mnist5k"
    else:
        classes = 10 if dataset == "cifar10" or params.get("conditional") else 1
        dataset = synthetic_folder(Path(tmp) / "images", int(params.get("image_size", 32)), classes)
    return {**params, **(COST.get(name, {}) if cost else {}), "dataset": dataset, "output_dir": str(tmp),
            "data_dir": str(Path(tmp) / "data"), "time_budget_s": 0, **extra}
