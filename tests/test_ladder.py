"""The metric sanity ladder at a small scale: metrics must react to the defects they claim to measure."""

from __future__ import annotations

import pytest
import torch

from genlab.data import load_dataset
from genlab.eval import ladder, metrics
from genlab.eval.randomnet import RandomFeatures

N = 200


@pytest.fixture(scope="module")
def table():
    train, test = load_dataset("mnist5k", "train"), load_dataset("mnist5k", "test")
    reference, real = train.subset(2 * N, seed=1).images, test.subset(N, seed=2)
    net = RandomFeatures(1)
    ref = net.features(reference)

    def score(images):
        return {"random": metrics.feature_scores(ref, net.features(images), kid_subsets=20)}
    return ladder.ladder(reference, real.images, real.labels, score, copies=train.subset(N, seed=7).images)


def series(table, defect, metric):
    d = table[(table["defect"] == defect) & (table["metric"] == metric)]
    return list(d["value"])  # in the order applied: floor first for corruptions


@pytest.mark.parametrize("defect", list(ladder.CORRUPTIONS))
def test_fd_and_kid_rise_strictly_and_precision_falls_with_every_corruption(table, defect):
    for metric in ("fd", "kid"):
        v = series(table, defect, metric)
        assert len(v) == 6 and all(a < b for a, b in zip(v, v[1:])), (defect, metric, v)
    p = series(table, defect, "precision")
    assert p[-1] < p[0] - 0.15, (defect, p)


def test_recall_and_coverage_fall_with_diversity_loss(table):
    for metric in ("recall", "coverage"):
        v = series(table, "drop classes", metric)
        assert all(a > b for a, b in zip(v, v[1:])), (metric, v)
        v = series(table, "prototypes", metric)  # 20, 10, 5, 2, 1 images per class
        assert all(a >= b for a, b in zip(v, v[1:])) and v[-1] < 0.5 * v[0], (metric, v)


def test_corruptions_are_deterministic_uint8_and_identity_free():
    x = load_dataset("mnist5k", "test").subset(16, seed=0).images
    for name, f in ladder.CORRUPTIONS.items():
        a, b = f(x, 0.6, seed=3), f(x, 0.6, seed=3)
        assert a.dtype == torch.uint8 and a.shape == x.shape and torch.equal(a, b), name
        assert not torch.equal(a, x), name


class FewerStepsNoisier:
    """A stub diffusion model: real held-out digits of the requested classes, noisier with fewer steps."""

    num_classes = 10
    device = torch.device("cpu")

    def __init__(self, output_dir):
        from types import SimpleNamespace
        self.config = SimpleNamespace(dataset="mnist5k", data_dir="data", output_dir=str(output_dir))
        self.test = load_dataset("mnist5k", "test")

    def sample(self, n, labels=None, seed=0, sampler="ddim", steps=10):
        picks = torch.cat([torch.nonzero(self.test.labels == c).flatten()[seed % 7:][i:i + 1]
                           for i, c in enumerate(labels.tolist())])
        return ladder.gaussian_noise(self.test.images[picks], 2.0 / steps, seed)


def test_the_known_order_rung_ranks_step_counts_and_says_so(tmp_path):
    from test_metrics import TINY
    table = ladder.known_order(FewerStepsNoisier(tmp_path), steps=(2, 5, 50), n=60, feature_config=TINY)
    assert list(table.index) == [2, 5, 50, "in order"]
    fd = table.loc[[2, 5, 50], "FD (random CNN)"].tolist()
    assert fd[0] > fd[1] > fd[2], fd
    assert table.loc["in order", "FD (random CNN)"] == "yes" and table.loc["in order", "KID (random CNN)"] == "yes"
