"""Every full-profile parameter file, at its real shapes, on the CPU: train 2 steps, checkpoint, resume 1
step, sample 4 images with every choice of every sampling option, evaluate 32 samples.

Only the dataset is replaced by one of the same shape (and a few knobs that only set how long the
end-of-run timings take): MNIST-shaped files train on ``mnist5k`` (28 px, 1 channel, 10 classes), a
folder of images on a temporary folder of RGB PNGs at the file's size, and the CIFAR-10 overrides a
file documents on a folder of 32 px RGB PNGs in 10 class folders. What a GPU run would meet at step 1
(a shape error, a batch the minibatch-std groups do not divide, a sampler option that does not fit
the network) shows here first.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import yaml

from genlab.models import registry

ROOT = Path(__file__).resolve().parents[1]
FULL = ROOT / "slurm" / "params" / "full"
# End-of-run timing and demo sizes: how long the measurements take, not what is trained.
COST = {"ddpm": {"timing_images": 2, "ddpm_images": 0, "ddim_steps": [10]}, "ebm": {"sample_steps": 8},
        "stylegan": {}, "dcgan": {}}
CIFAR = {"dataset": "cifar10", "image_size": 32, "conditional": True}  # the overrides 02_stylegan.yaml documents


def cases() -> list[tuple[str, dict]]:
    found = []
    for name in registry.names():
        path = FULL / f"{Path(registry.info(name)['notebook']).stem}.yaml"
        if path.exists():
            params = yaml.safe_load(path.read_text())
            found.append((name, params))
            if "cifar10" in path.read_text() and params.get("dataset") != "cifar10":
                found.append((name, {**params, **CIFAR}))
    return found


def synthetic_folder(root: Path, size: int, classes: int, per_class: int = 12) -> str:
    """RGB PNGs of ``size`` px in ``classes`` class folders (noise blobs: shapes matter here, not content)."""
    from PIL import Image
    g = torch.Generator().manual_seed(0)
    for c in range(classes):
        (root / f"class{c}").mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            img = (torch.rand(size, size, 3, generator=g) * 255).to(torch.uint8).numpy()
            Image.fromarray(img).save(root / f"class{c}" / f"{i:02d}.png")
    return f"folder:{root}"


def same_shape_dataset(params: dict, tmp: Path) -> str:
    dataset = params.get("dataset", "mnist5k")
    if dataset in ("mnist", "fashion_mnist", "mnist5k"):
        return "mnist5k"
    size = int(params.get("image_size", 32))
    classes = 10 if dataset == "cifar10" or params.get("conditional") else 1
    return synthetic_folder(tmp / "images", size, classes)


def choices(options) -> list[dict]:
    """Every choice of every option with choices, one at a time; the defaults once."""
    settings = [{}]
    for opt in options.values():
        settings += [{opt.name: c} for c in opt.choices if c != opt.default]
    return settings


@pytest.mark.slow
@pytest.mark.parametrize("name, params", cases(), ids=lambda v: v if isinstance(v, str) else
                         f"{v.get('dataset')}-{v.get('image_size', '')}")
def test_full_parameters_train_resume_sample_and_evaluate(name, params, tmp_path):
    from genlab.eval.featurenet import FeatureNetConfig
    kind = registry.get(name)
    values = {**params, **COST[name], "dataset": same_shape_dataset(params, tmp_path), "output_dir": str(tmp_path),
              "data_dir": str(tmp_path / "data"), "device": "cpu", "max_steps": 2, "eval_samples": 32,
              "time_budget_s": 0}
    config = kind.config.from_dict(values)
    torch.manual_seed(0)
    assert kind.train(config).step == 2
    assert (config.run_dir / "checkpoint.pt").exists()
    resumed = kind.train(config.replace(max_steps=3))
    assert resumed.step == 3
    trained = registry.load_trained(config.run_dir / "checkpoint.pt", "cpu")
    assert trained.step == 3
    shape = trained.image_shape()
    for options in choices(trained.sampler_options()):
        if options.get("sampler") == "ddpm":  # the ancestral sampler runs all num_steps: one image is enough
            images = trained.sample(1, seed=0, **options)
            assert images.shape == (1, *shape)
            continue
        images = trained.sample(4, seed=0, **options)
        assert images.shape == (4, *shape) and images.dtype == torch.uint8, options
    scores = trained.evaluate(32, feature_config=FeatureNetConfig(epochs=1, max_train=256))
    assert scores["fd"] >= 0
