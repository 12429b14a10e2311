"""genlab.eval.metrics / evaluation / featurenet, genlab.report: metric sanity on synthetic features, the cache, evaluate, notebook 04."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from torch import nn

from genlab.eval import evaluation, metrics
from genlab import models
from genlab.models import dcgan
from genlab.report import figures, tables
from genlab.report.runs import CompareConfig, load_runs
from genlab.eval.featurenet import FeatureNetConfig, cache_key, feature_net

ROOT = Path(__file__).resolve().parents[1]
TINY = FeatureNetConfig(width=4, feature_dim=16, epochs=1, batch_size=64, max_train=256)


class Passthrough(nn.Module):
    """A 'feature net' for tests: the input rows are already the features."""

    def __init__(self, dim: int):
        super().__init__()
        self.num_features = dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.double()


def gaussian(n: int, dim: int = 8, seed: int = 0, shift: float = 0.0, scale: float = 1.0) -> torch.Tensor:
    return torch.randn(n, dim, generator=torch.Generator().manual_seed(seed), dtype=torch.float64) * scale + shift


def test_fd_of_a_set_with_itself_is_zero_and_grows_with_noise():
    x = gaussian(600)
    assert abs(metrics.frechet_distance(x, x, Passthrough(8))) < 1e-6
    noise = gaussian(600, seed=1)
    fds = [metrics.frechet_distance(x, x + s * noise, Passthrough(8)) for s in (0.1, 0.3, 1.0, 3.0)]
    assert all(a < b for a, b in zip(fds, fds[1:])), fds
    assert fds[0] > 1e-4


def test_kid_near_zero_for_identical_sets_and_positive_for_shifted():
    x = gaussian(400)
    same, _ = metrics.kernel_distance(x, x.clone(), Passthrough(8), subsets=20)
    shifted, _ = metrics.kernel_distance(x, gaussian(400, seed=3, shift=1.0), Passthrough(8), subsets=20)
    assert shifted > 0.5
    assert abs(same) < 0.02 * shifted


def test_precision_recall_on_gaussians():
    real = gaussian(500, dim=4)
    assert metrics.precision_recall(real, real.clone()) == (1.0, 1.0)
    p, r = metrics.precision_recall(real, gaussian(500, dim=4, seed=1))
    assert p > 0.8 and r > 0.8
    assert metrics.precision_recall(real, gaussian(500, dim=4, seed=2, shift=20.0)) == (0.0, 0.0)
    # mode collapse: samples inside the real manifold (precise) but covering little of it
    p, r = metrics.precision_recall(real, gaussian(500, dim=4, seed=4, scale=0.15))
    assert p > 0.9 and r < 0.3


def test_prdc_matches_the_prdc_package():
    prdc = pytest.importorskip("prdc")
    real, fake = gaussian(300, dim=6), gaussian(250, dim=6, seed=5, shift=0.4, scale=1.3)
    ours = metrics.prdc(real, fake, k=5, chunk=64)  # chunked: several blocks of the fake set
    ref = prdc.compute_prdc(real.numpy(), fake.numpy(), nearest_k=5)
    for key in ("precision", "recall", "density", "coverage"):
        assert ours[key] == pytest.approx(float(ref[key]), abs=1e-12), key
    assert 0 < ours["precision"] < 1 and 0 < ours["coverage"] < 1


def test_inception_score_single_class_and_balanced_confident():
    k = 10
    one_class = torch.nn.functional.one_hot(torch.zeros(1000, dtype=torch.int64), k).double() * 20
    balanced = torch.nn.functional.one_hot(torch.arange(1000) % k, k).double() * 20
    assert metrics.inception_score(one_class, Passthrough(k))[0] == pytest.approx(1.0, abs=1e-3)
    assert metrics.inception_score(balanced, Passthrough(k))[0] > 0.95 * k


def test_diversity_detects_collapse():
    labels = torch.arange(400) % 4
    spread = metrics.diversity(gaussian(400), labels)
    collapsed = metrics.diversity(gaussian(400, scale=0.01), labels)
    assert collapsed < 0.05 * spread


def test_feature_net_cache_hits_and_invalidates(tmp_path):
    first = feature_net("mnist5k", 28, 1, config=TINY, cache=tmp_path, verbose=False)
    assert not first.info["cached"] and len(list(tmp_path.glob("*.pt"))) == 1
    again = feature_net("mnist5k", 28, 1, config=TINY, cache=tmp_path, verbose=False)
    assert again.info["cached"] and again.key == first.key
    images = torch.randint(0, 256, (8, 1, 28, 28), dtype=torch.uint8)
    assert torch.equal(first.features(images), again.features(images))
    assert first.features(images).dtype == torch.float64 and first.features(images).shape == (8, 16)
    assert not first.classifier.training and not any(p.requires_grad for p in first.classifier.parameters())
    passes = first.passes
    first.embed(images.clone())  # same images, another tensor: served from the cache
    assert first.passes == passes
    first.embed(images[:4])
    assert first.passes == passes + 4
    changed = feature_net("mnist5k", 28, 1, config=TINY.replace(width=6), cache=tmp_path, verbose=False)
    assert not changed.info["cached"] and changed.key != first.key
    assert len(list(tmp_path.glob("*.pt"))) == 2
    other_size = feature_net("mnist5k", 32, 1, config=TINY, cache=tmp_path, verbose=False)
    assert "1x32" in other_size.key and not other_size.info["cached"]


def test_feature_net_is_trained_once_by_processes_side_by_side(tmp_path):
    """Chapters run at once (genlab.book.lanes): the second waits on the lock and loads what the first trained."""
    import subprocess
    import sys
    code = ("import json, sys; from genlab.eval.featurenet import FeatureNetConfig, feature_net; "
            f"net = feature_net('mnist5k', 28, 1, config=FeatureNetConfig(**{TINY.to_dict()!r}), "
            f"cache={str(tmp_path)!r}, verbose=False); print(json.dumps(net.info['cached']))")
    runs = [subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True) for _ in range(2)]
    cached = sorted(json.loads(p.communicate(timeout=300)[0].strip().splitlines()[-1]) for p in runs)
    assert all(p.returncode == 0 for p in runs)
    assert cached == [False, True]


def test_one_class_folder_gets_an_untrained_feature_space(tmp_path):
    """A folder of images with no class sub-folders: no classifier to train, the seeded net's features score it."""
    from PIL import Image
    folder = tmp_path / "cats"
    folder.mkdir()
    g = torch.Generator().manual_seed(0)
    for i in range(60):
        pixels = torch.randint(0, 256, (16, 16, 3), dtype=torch.uint8, generator=g)
        Image.fromarray(pixels.numpy()).save(folder / f"{i}.png")
    net = feature_net(f"folder:{folder}", 16, 3, config=TINY, cache=tmp_path / "nets", data_dir=tmp_path,
                      verbose=False)
    assert net.info["trained"] is False and net.info["test_accuracy"] is None
    images = torch.randint(0, 256, (8, 3, 16, 16), dtype=torch.uint8, generator=g)
    features = net.features(images)
    assert features.shape == (8, 16) and torch.isfinite(features).all() and features.std(0).max() > 0
    again = feature_net(f"folder:{folder}", 16, 3, config=TINY, cache=tmp_path / "nets", data_dir=tmp_path,
                        verbose=False)
    assert again.info["cached"] and torch.equal(again.features(images), features)


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory):
    """A smoke DCGAN in a temporary output dir, evaluated with the tiny feature net."""
    out = tmp_path_factory.mktemp("outputs")
    config = dcgan.DCGANConfig(run="smoke", epochs=1, max_steps=8, batch_size=32, base_channels=8,
                               output_dir=str(out), device="cpu")
    trained = dcgan.train(config)
    scores = evaluation.evaluate(trained, n=64, feature_config=TINY, verbose=False)
    return out, trained, scores


def test_evaluate_writes_metrics_with_floor(smoke_run):
    out, trained, scores = smoke_run
    m = json.loads((trained.run_dir / "metrics.json").read_text())
    for key in ("fd", "kid", "is", "precision", "recall", "density", "coverage", "class_accuracy",
                "weakest_class_accuracy", "diversity"):
        assert key in m and key in m["floor"]
        assert isinstance(m[key], float)  # the flat headline numbers stay numbers
    for space in ("classifier", "random"):
        e = m["intervals"][space]["fd"]
        assert e["space"] == space and e["subsets"] == 5 and e["n"] == 64 // 5 and len(e["values"]) == 5
        assert e["ci95"][0] <= e["value"] <= e["ci95"][1]
    assert m["spaces"]["random"]["fd"] > m["floor"]["spaces"]["random"]["fd"]
    assert m["by_setting"]["generator"]["fd"] == m["fd"]
    assert m["train_seconds"] > 0 and m["seconds_per_100"]["generator"] > 0
    assert m["eval"]["n"] == 64 and m["eval"]["feature_net_cached"] is False
    # an 8-step generator is far from real digits; held-out real digits are not
    assert m["fd"] > 5 * m["floor"]["fd"]
    assert m["floor"]["class_accuracy"] >= m["class_accuracy"]  # the tiny test classifier is near chance on both
    assert (out / "feature_nets").is_dir()
    assert m["weakest_class_accuracy"] <= m["class_accuracy"] and m["floor"]["weakest_class_accuracy"] <= m["floor"]["class_accuracy"]


def test_the_weakest_class_is_the_worst_per_class_accuracy():
    from genlab.eval.metrics import set_metrics

    class Votes:  # a "classifier" that reads the digit from the first pixel
        key, num_features, num_classes = "votes", 3, 3

        def embed(self, images):
            logits = torch.nn.functional.one_hot(images[:, 0, 0, 0].long() % 3, 3).double()
            return logits + 0.01 * torch.arange(len(images))[:, None], logits

        def features(self, images):
            return self.embed(images)[0]
    labels = torch.arange(60) % 3
    shown = labels.clone()
    shown[[1, 4, 7, 10]] = 0  # four of the twenty 1s are drawn as 0s
    images = shown.to(torch.uint8)[:, None, None, None].expand(60, 1, 4, 4).contiguous()
    m = set_metrics(images, images, Votes(), labels, kid_subsets=2)
    assert m["class_accuracy"] == pytest.approx(56 / 60) and m["weakest_class_accuracy"] == pytest.approx(0.8)


def test_evaluate_rejects_too_few_samples(smoke_run):
    with pytest.raises(ValueError, match="n = 2"):
        evaluation.evaluate(smoke_run[1], n=2, write=False)


def test_cli_evaluate_setting(smoke_run):
    from genlab.cli import main
    out, trained, _ = smoke_run
    rc = main(["evaluate", "--checkpoint", str(trained.run_dir / "checkpoint.pt"), "--n", "32", "--device", "cpu",
               "--setting", "generator_again", "--feature-net", "width=4", "--feature-net", "epochs=1",
               "--feature-net", "max_train=256", "--inception", "off"])
    assert rc == 0
    m = json.loads((trained.run_dir / "metrics.json").read_text())
    assert "generator_again" in m["by_setting"] and m["eval"]["n"] == 64  # headline numbers untouched
    assert main(["evaluate", "--checkpoint", str(trained.run_dir / "checkpoint.pt"), "--n", "32",
                 "--feature-net", "widht=4"]) == 1


def test_comparison_table_and_missing_models(smoke_run):
    out, _, _ = smoke_run
    runs = load_runs(CompareConfig(run="smoke", output_dir=str(out)))
    assert list(runs.metrics) == ["dcgan"] and set(runs.missing) == set(models.names()) - {"dcgan"}
    table = tables.comparison_table(runs)
    assert list(table.columns) == ["DCGAN", "winner", "real-vs-real floor"]
    assert table.loc["FD, domain features", "real-vs-real floor"] == runs.metrics["dcgan"]["floor"]["fd"]
    samples = figures.plot_samples(runs, CompareConfig(run="smoke", output_dir=str(out), samples_per_class=2))
    assert len(samples.axes) == 1 and len(samples.axes[0].images) == 1  # the one model's grid, drawn from its checkpoint
    assert samples.axes[0].images[0].get_array().shape[:2] == (2 * 30 + 2, 10 * 30 + 2)  # 2 rows x 10 classes
    losses = figures.plot_losses(runs)
    assert len(losses.axes) == 1 and {line.get_label() for line in losses.axes[0].lines} >= {"loss_d", "loss_g"}
    bars = figures.plot_metric_bars(runs, keys=("fd", "precision"))
    assert [ax.get_title() for ax in bars.axes] == ["fd", "precision"]
    assert all(len(ax.patches) == 1 for ax in bars.axes)  # one bar: one model


@pytest.mark.notebook
def test_compare_notebook_runs_at_smoke_with_missing_models(smoke_run, tmp_path):
    from genlab.book.runner import run_notebooks
    out, _, _ = smoke_run
    executed = run_notebooks("smoke", only=["06_compare"], parameters={"output_dir": str(out)},
                             build_dir=tmp_path / "_build", log_output=False)
    text = executed[0].read_text()
    assert "MISSING DDPM" in text and "MISSING EBM" in text
    assert "FD, domain features" in text


def test_sweep_table_lists_the_varying_parameters(tmp_path):
    for task, lr, fd in (("0", 1e-4, 9.0), ("1", 2e-4, 3.0)):
        run = tmp_path / "lr_sweep" / task / "dcgan"
        run.mkdir(parents=True)
        (run / "config.json").write_text(json.dumps({"lr": lr, "epochs": 5, "run": f"lr_sweep/{task}"}))
        (run / "metrics.json").write_text(json.dumps({"fd": fd, "train_seconds": 1.0}))
    table = tables.sweep_table(CompareConfig(sweep="lr_sweep", output_dir=str(tmp_path)))
    assert list(table.columns) == ["task", "lr", "train_seconds", "fd"]
    assert list(table["lr"]) == [2e-4, 1e-4]  # sorted by FD
    assert "no " in tables.sweep_table(CompareConfig(sweep="nothing", output_dir=str(tmp_path)))


def test_quality_vs_speed_has_a_step_count_for_every_ddpm_setting(tmp_path):
    from genlab.models.ddpm import setting_name
    settings = [setting_name("ddim", s) for s in (10, 20, 50)] + [setting_name("ddpm", 1000)]
    run = tmp_path / "quick" / "ddpm"
    run.mkdir(parents=True)
    (run / "metrics.json").write_text(json.dumps({
        "seconds_per_100": {s: float(i + 1) for i, s in enumerate(settings)},
        "by_setting": {s: {"fd": 10.0 - i} for i, s in enumerate(settings)}}))
    table = figures.quality_vs_speed(load_runs(CompareConfig(output_dir=str(tmp_path))))
    assert sorted(table["steps"]) == [10, 20, 50, 1000]
    assert set(table["sampler"]) == {"ddim", "ddpm"}


def test_quality_vs_speed_falls_back_on_the_evaluations_own_sampling_time(tmp_path):
    """A GAN's timing key ('generator') and its evaluated setting ('default') differ: the evaluation's time counts."""
    run = tmp_path / "quick" / "dcgan"
    run.mkdir(parents=True)
    (run / "metrics.json").write_text(json.dumps({
        "seconds_per_100": {"generator": 0.02},
        "by_setting": {"default": {"fd": 20.0, "sample_seconds_per_100": 0.05}, "untimed": {"fd": 30.0}}}))
    table = figures.quality_vs_speed(load_runs(CompareConfig(output_dir=str(tmp_path))))
    assert table["setting"].tolist() == ["default"] and table["seconds per 100"].tolist() == [0.05]
