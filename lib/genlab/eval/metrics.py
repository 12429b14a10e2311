"""Sample quality, every number with a reference: FD, KID, IS, precision/recall, accuracy, diversity.

Metrics and what they expect:

| metric | implementation | input | direction |
|---|---|---|---|
| ``fd``: Fréchet distance | torchmetrics ``FrechetInceptionDistance(feature=<domain net>)`` | uint8 images; features float64 | lower |
| ``kid`` (+ ``kid_std``): kernel distance | torchmetrics ``KernelInceptionDistance`` (cubic kernel, subsets) | uint8; features float64 | lower |
| ``is`` (+ ``is_std``): Inception Score | torchmetrics ``InceptionScore(feature=<domain logits>)`` | uint8; logits float64 | higher, at most the number of classes |
| ``precision``, ``recall`` | Kynkäänniemi et al. 2019, k = 3 | features float64 | higher |
| ``class_accuracy`` | domain classifier agrees with the requested label | uint8 + int64 labels | higher |
| ``diversity`` | mean pairwise feature distance within a class | features float64 | near the real floor |
| ``fid``: standard FID | torchmetrics with Inception-v3, only when its weights are on disk | uint8, 3 x 299 x 299 (resized inside) | lower |

All domain metrics share one feature space (:mod:`genlab.featurenet`): a small classifier trained
on the training split. Images are uint8 ``N x C x H x W`` (what ``sample`` returns); the feature
net maps them to [-1, 1] itself. torchmetrics accumulates FID statistics in float64, and we pass
float64 features to every metric so KID's kernel sums and IS's log-probabilities are float64 too.

The reference set is a random subset of the training split; the **floor** evaluates the held-out
test split against the same reference with the same code: a perfect generator scores about there
(at equal sample sizes; FD and KID are biased upwards for small sets).

Standard FID (Inception-v3, as in the papers) needs the ``torch-fidelity`` package and the weights
file ``pt_inception-2015-12-05-6726825d.pth`` on disk: set ``GENLAB_INCEPTION_WEIGHTS`` to its path,
or put it at ``<data_dir>/inception/``. genlab never downloads it.
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ..base.paths import resolve_path
from ..base.run_folder import RunFolder
from ..data import balanced_labels, load_dataset
from .featurenet import FeatureNet, FeatureNetConfig, cache_dir, feature_net

INCEPTION_ENV = "GENLAB_INCEPTION_WEIGHTS"
INCEPTION_FILE = "pt_inception-2015-12-05-6726825d.pth"
# metric -> which way is better: "low", "high", or "floor" (nearest the real-vs-real floor)
BETTER = {"fd": "low", "kid": "low", "fid": "low", "is": "high", "precision": "high", "recall": "high",
          "class_accuracy": "high", "diversity": "floor"}


# ----------------------------------------------------------------------------- torchmetrics wrappers

def _update(metric, images: torch.Tensor, batch_size: int, **kwargs) -> None:
    for i in range(0, len(images), batch_size):
        metric.update(images[i:i + batch_size], **kwargs)


def frechet_distance(real: torch.Tensor, fake: torch.Tensor, feature: nn.Module, batch_size: int = 500) -> float:
    """FD between ``feature(real)`` and ``feature(fake)`` (torchmetrics FID with a custom feature module).

    ``feature`` maps a batch of whatever ``real``/``fake`` hold to ``B x D`` features and has
    ``num_features``; the Gaussian statistics are accumulated and compared in float64.
    """
    from torchmetrics.image.fid import FrechetInceptionDistance
    fid = FrechetInceptionDistance(feature=feature, reset_real_features=False)
    _update(fid, real, batch_size, real=True)
    _update(fid, fake, batch_size, real=False)
    return float(fid.compute())


def kernel_distance(real: torch.Tensor, fake: torch.Tensor, feature: nn.Module, subsets: int = 50,
                    subset_size: int = 1000, batch_size: int = 500, seed: int = 0) -> tuple[float, float]:
    """KID (mean, std over ``subsets``): unbiased MMD^2 with a cubic polynomial kernel, via torchmetrics."""
    import warnings
    from torchmetrics.image.kid import KernelInceptionDistance
    size = min(subset_size, len(real) // 2, len(fake) // 2)  # subsets must differ, or the std is 0
    if size < 2:
        raise ValueError(f"KID needs at least 4 samples per set; got {len(real)} real and {len(fake)} fake")
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*will save all extracted features.*")
        kid = KernelInceptionDistance(feature=feature, subsets=subsets, subset_size=size)
    _update(kid, real, batch_size, real=True)
    _update(kid, fake, batch_size, real=False)
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        mean, std = kid.compute()
    return float(mean), float(std)


def inception_score(images: torch.Tensor, logits: nn.Module, splits: int | None = None, batch_size: int = 500,
                    seed: int = 0) -> tuple[float, float]:
    """IS = exp E_x KL(p(y|x) || p(y)) (mean, std over ``splits``), via torchmetrics with ``logits`` as the net.

    ``splits`` defaults to one per 100 samples, at most 10 (IS is biased for small splits).
    Ranges from 1 (every sample the same class, or no confident prediction) to the number of classes.
    """
    import warnings
    from torchmetrics.image.inception import InceptionScore
    splits = splits or max(1, min(10, len(images) // 100))
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*will save all extracted features.*")
        metric = InceptionScore(feature=logits, splits=splits)
        _update(metric, images, batch_size)
        warnings.filterwarnings("ignore", message=".*degrees of freedom.*")  # std of a single split
        with torch.random.fork_rng():
            torch.manual_seed(seed)
            mean, std = metric.compute()
    return float(mean), float(0.0 if splits == 1 else std)


# ----------------------------------------------------------------------------- feature-space metrics

def _kth_radii(x: torch.Tensor, k: int, chunk: int) -> torch.Tensor:
    """Distance from each row of ``x`` to its k-th nearest other row (float64)."""
    out = []
    for i in range(0, len(x), chunk):
        d = torch.cdist(x[i:i + chunk], x)
        out.append(d.kthvalue(k + 1, dim=1).values)  # the 1st nearest is the point itself (distance 0)
    return torch.cat(out)


def _covered(query: torch.Tensor, support: torch.Tensor, radii: torch.Tensor, chunk: int) -> torch.Tensor:
    """For each query row: is it inside any ball ``(support_j, radii_j)``?"""
    out = []
    for i in range(0, len(query), chunk):
        d = torch.cdist(query[i:i + chunk], support)
        out.append((d <= radii[None, :]).any(dim=1))
    return torch.cat(out)


def precision_recall(real_features: torch.Tensor, fake_features: torch.Tensor, k: int = 3,
                     chunk: int = 1024) -> tuple[float, float]:
    """Improved precision and recall (Kynkäänniemi et al., 2019).

    Each set's manifold is the union of balls around its points with radius = distance to the
    k-th nearest neighbour in the same set. Precision = share of fake points inside the real
    manifold (quality); recall = share of real points inside the fake manifold (coverage).
    Features: ``N x D``, computed in float64.
    """
    real, fake = real_features.double(), fake_features.double()
    if min(len(real), len(fake)) <= k:
        raise ValueError(f"precision/recall with k={k} needs more than {k} samples per set; "
                         f"got {len(real)} real and {len(fake)} fake: raise the number of samples")
    precision = _covered(fake, real, _kth_radii(real, k, chunk), chunk).double().mean()
    recall = _covered(real, fake, _kth_radii(fake, k, chunk), chunk).double().mean()
    return float(precision), float(recall)


def diversity(features: torch.Tensor, labels: torch.Tensor | None = None, max_per_class: int = 500,
              seed: int = 0) -> float:
    """Mean pairwise L2 distance between features of samples of the same class, averaged over classes.

    Within-class spread catches mode collapse that class coverage hides (ten classes, one digit
    each). ``labels=None`` treats all samples as one class. Compare with the real floor.
    """
    labels = torch.zeros(len(features), dtype=torch.int64) if labels is None else labels.cpu()
    g = torch.Generator().manual_seed(seed)
    values = []
    for c in labels.unique():
        f = features[labels == c].double()
        if len(f) < 2:
            continue
        f = f[torch.randperm(len(f), generator=g)[:max_per_class]]
        d = torch.cdist(f, f)
        values.append(d.sum() / (len(f) * (len(f) - 1)))
    if not values:
        raise ValueError("diversity needs at least two samples of one class")
    return float(torch.stack(values).mean())


def set_metrics(real: torch.Tensor, images: torch.Tensor, net: FeatureNet, labels: torch.Tensor | None = None,
                seed: int = 0, kid_subsets: int = 50, k: int = 3) -> dict[str, float]:
    """Every domain metric of uint8 ``images`` against uint8 ``real`` (N x C x H x W).

    ``labels`` (int64): the classes the images should show (conditional samples, or the true
    labels of real images): adds ``class_accuracy`` and makes ``diversity`` within-class.
    """
    features, logits = net.embed(images)
    real_features = net.features(real)
    precision, recall = precision_recall(real_features, features, k=k)
    kid, kid_std = kernel_distance(real, images, net.head("features"), subsets=kid_subsets, seed=seed)
    inc, inc_std = inception_score(images, net.head("logits"), seed=seed)
    out = {"fd": frechet_distance(real, images, net.head("features")), "kid": kid, "kid_std": kid_std,
           "is": inc, "is_std": inc_std, "precision": precision, "recall": recall}
    predicted = logits.argmax(1)
    if labels is not None:
        out["class_accuracy"] = float((predicted == labels.cpu()).double().mean())
    out["diversity"] = diversity(features, labels if labels is not None else predicted, seed=seed)
    return out


# ----------------------------------------------------------------------------- Inception-v3 FID

def inception_weights(data_dir: str | Path = "data") -> tuple[Path | None, str]:
    """(path, "") when standard FID can run offline, else (None, the reason)."""
    try:
        import torch_fidelity  # noqa: F401
    except ImportError:
        return None, "torch-fidelity is not installed (pip install torch-fidelity)"
    env = os.environ.get(INCEPTION_ENV)
    path = Path(env).expanduser() if env else resolve_path(data_dir) / "inception" / INCEPTION_FILE
    if not path.is_file():
        return None, f"no Inception-v3 weights at {path} (set {INCEPTION_ENV} to {INCEPTION_FILE})"
    return path, ""


def inception_fid(real: torch.Tensor, fakes: dict[str, torch.Tensor], weights: Path, device: torch.device,
                  batch_size: int = 100) -> dict[str, float]:
    """Standard FID (Inception-v3 pool3, 2048-d) of each uint8 set in ``fakes`` against ``real``.

    Grayscale is repeated to 3 channels; torch-fidelity's extractor resizes to 299 x 299.
    """
    from torchmetrics.image.fid import FrechetInceptionDistance
    fid = FrechetInceptionDistance(feature=2048, reset_real_features=False,
                                   feature_extractor_weights_path=str(weights)).to(device)
    rgb = (lambda x: x.expand(-1, 3, -1, -1) if x.shape[1] == 1 else x)
    for i in range(0, len(real), batch_size):
        fid.update(rgb(real[i:i + batch_size]).to(device), real=True)
    out = {}
    for name, fake in fakes.items():
        fid.reset()
        for i in range(0, len(fake), batch_size):
            fid.update(rgb(fake[i:i + batch_size]).to(device), real=False)
        out[name] = float(fid.compute())
    return out


# ----------------------------------------------------------------------------- sampling cost

class PeakMemory:
    """Peak memory while the block runs, in MB: CUDA allocator peak, else process RSS above the start."""

    def __init__(self, device: torch.device):
        self.device, self.mb, self.kind = device, None, None

    def __enter__(self):
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
            torch.cuda.reset_peak_memory_stats(self.device)
            self.start = torch.cuda.memory_allocated(self.device)
            return self
        try:
            import psutil
        except ImportError:
            return self
        proc = psutil.Process()
        self.start, self.peak, self._stop = proc.memory_info().rss, 0, threading.Event()

        def poll():
            while not self._stop.is_set():
                self.peak = max(self.peak, proc.memory_info().rss)
                self._stop.wait(0.005)
        self._thread = threading.Thread(target=poll, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc):
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
            self.mb, self.kind = (torch.cuda.max_memory_allocated(self.device) - self.start) / 2**20, "cuda"
        elif hasattr(self, "_thread"):
            self._stop.set()
            self._thread.join()
            self.mb, self.kind = max(0, self.peak - self.start) / 2**20, "process rss"
        return False


def sample(trained, n: int, seed: int = 0, batch_size: int = 500, options: dict | None = None):
    """(uint8 images, int64 labels or None, seconds, PeakMemory) for ``n`` samples with balanced labels."""
    labels = balanced_labels(n, trained.num_classes) if trained.num_classes else None
    device = getattr(trained, "device", torch.device("cpu"))
    chunks = []
    t0 = time.perf_counter()
    with PeakMemory(torch.device(device)) as mem:
        for i in range(0, n, batch_size):
            lab = labels[i:i + batch_size] if labels is not None else None
            chunks.append(trained.sample(min(batch_size, n - i), labels=lab, seed=seed + i, **(options or {})))
    return torch.cat(chunks), labels, time.perf_counter() - t0, mem


# ----------------------------------------------------------------------------- the entry point

def evaluate(trained, n: int = 1000, *, seed: int = 0, setting: str | None = None, options: dict | None = None,
             feature_config: FeatureNetConfig | None = None, n_reference: int | None = None,
             inception: str = "auto", batch_size: int = 500, write: bool = True, verbose: bool = True,
             headline: bool | None = None) -> dict:
    """Evaluate ``n`` samples of a trained model and merge the numbers into its ``metrics.json``.

    ``trained``: a trained model (genlab.models.protocol: ``sample``, ``num_classes``,
    ``config`` with ``dataset``/``data_dir``/``output_dir``, ``run_dir``). ``options`` go to
    ``sample`` (e.g. ``{"sampler": "ddim", "steps": 10}``); ``setting`` names them (use the
    key ``train`` wrote under ``seconds_per_100``, e.g. ``"ddim_10"``): the metrics then land
    under ``by_setting[setting]`` only, while ``setting=None`` (or ``headline=True``) also writes
    the headline numbers.
    The reference is ``n_reference`` (default ``n``) training images; the floor is ``n`` held-out
    test images against the same reference. ``inception``: ``auto`` (standard FID when its
    weights are on disk), ``off``, or ``require`` (fail when they are not).
    Returns the metrics written (``floor`` inside).
    """
    if n < 4:
        raise ValueError(f"evaluate: n = {n} is too few samples (precision/recall with k=3 needs at least 4; "
                         f"use a few hundred or more, e.g. eval_samples = 1000)")
    if inception not in ("auto", "off", "require"):
        raise ValueError(f"inception = '{inception}' unknown; choose auto, off or require")
    t0 = time.perf_counter()
    cfg = trained.config
    data_dir = resolve_path(getattr(cfg, "data_dir", "data"))
    images, labels, sample_seconds, mem = sample(trained, n, seed=seed, batch_size=batch_size, options=options)
    channels, size = images.shape[1], images.shape[-1]
    device = torch.device(getattr(trained, "device", "cpu"))
    net_device = device if device.type == "cuda" else torch.device("cpu")
    net = feature_net(cfg.dataset, size, channels, config=feature_config, data_dir=data_dir,
                      cache=cache_dir(getattr(cfg, "output_dir", "outputs")), device=net_device, verbose=verbose)
    train = load_dataset(cfg.dataset, "train", image_size=size, channels=channels, data_dir=data_dir)
    reference = train.subset(min(n_reference or n, len(train)), seed=seed + 1)
    test = load_dataset(cfg.dataset, "test", image_size=size, channels=channels, data_dir=data_dir)
    test = test.subset(min(n, len(test)), seed=seed + 2)
    model = set_metrics(reference.images, images, net, labels, seed=seed)
    floor = set_metrics(reference.images, test.images, net, test.labels if labels is not None else None, seed=seed)
    weights, why = inception_weights(data_dir) if inception != "off" else (None, "turned off")
    if inception == "require" and weights is None:
        raise ValueError(f"inception = 'require' but standard FID cannot run: {why}")
    if weights is not None:
        fids = inception_fid(reference.images, {"model": images, "floor": test.images}, weights, net_device)
        model["fid"], floor["fid"] = fids["model"], fids["floor"]
    spent = time.perf_counter() - t0
    speeds = (trained.metrics().get("seconds_per_100") or {}) if hasattr(trained, "metrics") else {}
    name = setting or (next(iter(speeds)) if len(speeds) == 1 else "default")
    info = {"n": n, "n_reference": len(reference), "n_floor": len(test), "reference": "train split",
            "floor": "test split vs the same reference", "seed": seed, "setting": name, "options": options or {},
            "feature_net": net.key, "feature_net_test_accuracy": net.info["test_accuracy"],
            "feature_net_cached": net.info["cached"], "inception": "used" if weights is not None else why,
            "sample_seconds_per_100": sample_seconds * 100 / n, "seconds": spent}
    values: dict[str, Any] = {"by_setting": {name: model}}
    if mem.mb is not None:
        values["peak_memory_mb"] = {name: mem.mb}
        info["memory"] = mem.kind
    if headline or (headline is None and setting is None):
        values.update(model, eval=info, floor=floor)
    if verbose:
        shown = ", ".join(f"{k} {v:.4g}" for k, v in model.items() if not k.endswith("_std"))
        print(f"[evaluate] {n} samples ({name}) in {spent:.1f} s: {shown}", flush=True)
        print(f"[evaluate] real-vs-real floor ({len(test)} held-out): "
              + ", ".join(f"{k} {v:.4g}" for k, v in floor.items() if not k.endswith("_std")), flush=True)
    if write:
        RunFolder(Path(trained.run_dir)).update_metrics(**values)
    return {**model, "floor": floor, "eval": info}


def score_table(scores: dict):
    """What :func:`evaluate` returned as a table: metric, this model, real-vs-real floor, better."""
    import pandas as pd
    floor = scores.get("floor", {})
    rows = [{"metric": k, "model": v, "real-vs-real floor": floor.get(k),
             "better": {"low": "lower", "high": "higher", "floor": "near floor"}[BETTER[k]]}
            for k, v in scores.items() if k in BETTER]
    return pd.DataFrame(rows).set_index("metric")
