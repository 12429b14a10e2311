"""A model kind is one package: a throw-away kind, defined here and written to a temporary folder, is
trained, sampled, served, compared, planned on Slurm and fault-injected through the registry alone.

It is plugged in with ``$GENLAB_KINDS`` (no file of the project is edited): class means learned by
SGD, sampled with a kind-specific option ``spread`` (noise around the mean).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from genlab.models import registry

ROOT = Path(__file__).resolve().parents[1]

TOY = '''
"""Class means plus noise: the smallest model that trains, samples and checkpoints like any kind."""
from dataclasses import dataclass
from pathlib import Path

import torch

from genlab.base.config import RunConfig, param
from genlab.data import to_uint8
from genlab.models.protocol import Option, TrainedBase
from genlab.models.registry import ModelKind
from genlab.train import distributed
from genlab.train.checkpoint import TrainState
from genlab.train.recipe import Recipe


@dataclass(frozen=True)
class ToyConfig(RunConfig):
    model = "toy"
    image_size: int = param(28, choices=(28,), arch=True, help="pixels")
    batch_size: int = param(16, low=2, help="images per step")
    lr: float = param(0.5, low=0, low_open=True, help="SGD learning rate")
    spread: float = param(0.1, low=0, high=1, resumable=True, help="default noise around the class mean")


class Means(torch.nn.Module):
    def __init__(self, num_classes, channels, size):
        super().__init__()
        self.num_classes = num_classes
        self.mu = torch.nn.Parameter(torch.zeros(num_classes, channels, size, size))

    def forward(self, y):
        return self.mu[y]


class TrainedToy(TrainedBase):
    kind = "toy"
    config_class = ToyConfig

    def __init__(self, net, config, run_dir, class_names, device, step=0):
        self.net, self.config, self.run_dir = net, config, Path(run_dir)
        self.class_names, self.device, self.step = class_names, device, step

    @classmethod
    def options(cls, config, num_classes):
        return {"spread": Option("spread", float, config.spread, "noise around the class mean", low=0, high=1)}

    @classmethod
    def from_state(cls, ckpt, config, run_dir, device):
        meta = ckpt["meta"]
        net = Means(meta["num_classes"], meta["channels"], config.image_size)
        net.load_state_dict(ckpt["model"]["means"])
        return cls(net.to(device), config, run_dir, tuple(meta["class_names"]), device, int(ckpt["step"]))

    @property
    def num_classes(self):
        return self.net.num_classes

    def image_shape(self):
        return tuple(self.net.mu.shape[1:])

    @torch.no_grad()
    def _sample(self, n, labels, seed, spread):
        noise = torch.randn(n, *self.image_shape(), generator=torch.Generator().manual_seed(seed))
        return to_uint8((self.net(labels.to(self.device)).cpu() + spread * noise).clamp(-1, 1))


def recipe(config, data, device):
    net = Means(data.num_classes, data.channels, config.image_size).to(device)
    opt = torch.optim.SGD(net.parameters(), lr=config.lr)
    trained = TrainedToy(net, config, config.run_dir, data.class_names, device)

    def step(step, x0, y):
        loss = (net(y) - x0).pow(2).mean()
        opt.zero_grad()
        loss.backward()
        distributed.average_gradients(net)
        opt.step()
        return {"loss": loss.detach()}

    def finished(step):
        trained.step = step
        return trained

    return Recipe(TrainState({"means": net}, {"means": opt}), step, lambda step: trained.sample(10, seed=1), finished,
                  lambda trained: {"mean_of_means": float(net.mu.mean())})


KIND = ModelKind("toy", ToyConfig, recipe, TrainedToy, figures=None)
'''

KIND_YAML = """title: Toy means
notebook: notebooks/01_toy.ipynb
smoke: {run: smoke, epochs: 1, max_steps: 6, batch_size: 16, sample_every: 1, checkpoint_every: 1, eval_samples: 32,
        device: cpu}
"""


@pytest.fixture
def toy(tmp_path, monkeypatch) -> dict[str, str]:
    """The toy kind plugged in (this process and its subprocesses); returns the subprocess environment."""
    pkg = tmp_path / "plugins" / "toykind"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text(TOY)
    (pkg / "kind.yaml").write_text(KIND_YAML)
    monkeypatch.syspath_prepend(str(pkg.parent))
    monkeypatch.setenv(registry.PLUGINS, "toy=toykind")
    path = os.pathsep.join([str(ROOT / "lib"), str(pkg.parent), os.environ.get("PYTHONPATH", "")])
    monkeypatch.setenv("PYTHONPATH", path)
    return {**os.environ, "OMP_NUM_THREADS": "1"}


def genlab(env, *args) -> subprocess.CompletedProcess:
    proc = subprocess.run([sys.executable, "-m", "genlab", *args], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    return proc


def smoke_args(out: Path, **extra) -> list[str]:
    params = {**registry.get("toy").smoke, "output_dir": str(out), **extra}
    return [a for k, v in params.items() for a in ("-p", f"{k}={json.dumps(v)}")]


def test_a_throw_away_kind_trains_samples_serves_and_compares(toy, tmp_path):
    out = tmp_path / "outputs"
    genlab(toy, "train", "toy", *smoke_args(out))
    run = out / "smoke" / "toy"
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["model"] == "toy" and metrics["steps"] == 6 and "mean_of_means" in metrics
    assert registry.load_trained(run / "checkpoint.pt", "cpu").step == 6

    # sample with the kind's own option: a flag the CLI built from the registry
    assert "--spread" in genlab(toy, "sample", "--help").stdout
    genlab(toy, "sample", "--checkpoint", str(run / "checkpoint.pt"), "--n", "4", "--spread", "0",
           "--out", str(tmp_path / "s.pt"))
    images = torch.load(tmp_path / "s.pt", weights_only=True)["images"]
    assert images.shape == (4, 1, 28, 28) and torch.equal(images[0], images[0])
    bad = subprocess.run([sys.executable, "-m", "genlab", "sample", "--checkpoint", str(run / "checkpoint.pt"),
                          "--n", "4", "--spread", "7", "--out", str(tmp_path / "t.pt")], cwd=ROOT, env=toy,
                         capture_output=True, text=True)
    assert bad.returncode == 1 and "'spread'" in bad.stderr

    # the service lists it and generates with its option
    pytest.importorskip("fastapi")
    from fastapi.testclient import TestClient

    from genlab.serve import Catalog, create_app
    with TestClient(create_app(Catalog(out / "smoke", device="cpu"))) as client:
        listed = client.get("/models").json()
        names = json.dumps(listed)
        assert "smoke/toy" in names and "spread" in names
        r = client.post("/generate", json={"model": "smoke/toy", "n": 2, "spread": 0.0})
        assert r.status_code == 200, r.text

    # the comparison finds it among the registered kinds and names it by its title
    from genlab.report import runs as report
    runs = report.load_runs(report.CompareConfig(run="smoke", output_dir=str(out)))
    assert "toy" in runs.metrics and runs.trained("toy").kind == "toy"
    assert report.display_name("toy") == "Toy means"


def test_a_throw_away_kind_gets_a_slurm_training_job(toy, tmp_path):
    from genlab.book import slurm
    (tmp_path / "notebooks").mkdir()
    (tmp_path / "notebooks" / "01_toy.ipynb").write_text(json.dumps(
        {"cells": [{"cell_type": "code", "metadata": {"tags": ["parameters"]}, "outputs": [], "execution_count": None,
                    "source": "run = 'quick'\nlr = 0.5\n"}], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}))
    (tmp_path / "intro.md").write_text("# intro\n")
    (tmp_path / "_toc.yml").write_text("format: jb-book\nroot: intro\nchapters:\n  - file: notebooks/01_toy\n")
    assert slurm.train_notebook("toy", tmp_path) == Path("notebooks/01_toy.ipynb")
    assert slurm.train_params("toy", "smoke", root=tmp_path)["max_steps"] == 6  # the kind's smoke parameters
    plan = subprocess.run([sys.executable, "-m", "genlab.book.slurm", "plan", "--profile", "smoke"], cwd=tmp_path,
                          env=toy, capture_output=True, text=True)
    assert plan.returncode == 0, plan.stderr
    assert "job first notebooks/01_toy gpu toy" in plan.stdout.splitlines()


def test_fault_injection_drives_a_throw_away_kind(toy, tmp_path):
    from genlab.tools import faults
    data = faults.tiny_folder_dataset(tmp_path / "digits")
    params = faults.fault_params("toy", data, tmp_path / "out", tmp_path / "data", epochs=3)
    log = tmp_path / "toy.log"
    proc = faults.start("toy", params, log)
    killed = faults.kill_when(proc, faults.writing(faults.run_dir("toy", params)))
    assert faults.finish("toy", params, log) == 0, log.read_text()
    assert faults.folder_problems(faults.run_dir("toy", params)) == []
    assert killed or proc.returncode == 0
