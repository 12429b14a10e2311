"""The domain feature net: a small classifier (:mod:`.classifier`) whose features replace Inception-v3 offline.

FID needs a feature space. Inception-v3 (ImageNet, 299 px, RGB) is the standard one, but its
weights are a download and its features say little about 28 px digits. genlab therefore trains
a small CNN classifier on the *training split* of the dataset being modelled, at the model's
resolution, and uses

- its penultimate layer (``feature_dim`` numbers, 128 by default: wide enough to separate styles
  within a class) as the **features** for the Fréchet distance, KID and precision/recall, and
- its class **logits** for the Inception Score and for class-conditional accuracy.

It is trained with mild *geometric* augmentation only (small rotations, shifts, scalings) and
label smoothing: never with noise, blur or speckle, since a feature space trained to ignore an
artefact cannot measure it. Scoring always runs in eval mode without gradients.
On mnist5k the default config reaches about 98.6% on the held-out split.

Features are cached per image set (keyed by a hash of the uint8 bytes): a metric computed twice,
or several metrics of one set, run the network once.

Input: uint8 images ``N x C x H x W`` (0..255), what every model's ``sample`` returns, mapped to [-1, 1]
inside (:func:`genlab.data.to_float`). Output: float64, since FD and KID sum outer products and kernels over
thousands of samples (torchmetrics keeps its FID state in float64 for that reason).

Trained nets are cached in ``<cache_dir>/<dataset>-<split>-<C>x<size>-<config hash>.pt`` (default
``<output_dir>/feature_nets``, or ``$GENLAB_FEATURE_NET_DIR``): the first evaluation trains one (seconds on a
CPU) under a lock file, so chapters run side by side train it once; later ones load it. Changing
:class:`FeatureNetConfig` changes the hash and trains a new one.
"""

from __future__ import annotations

import hashlib
import os
import re
import time
from pathlib import Path

import torch
from torch import nn

from ..base.files import exclusive
from ..base.paths import resolve_path
from ..data import load_dataset
from ..train.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from .classifier import Classifier, FeatureNetConfig, train_classifier

CACHE_ENV = "GENLAB_FEATURE_NET_DIR"
CACHE_SETS = 16  # image sets whose features a FeatureNet keeps in memory


class FeatureNet(nn.Module):
    """A trained :class:`Classifier` in eval mode without gradients, plus where it came from.

    ``net(images)`` and ``net.features(images)`` -> float64 ``N x num_features``;
    ``net.logits(images)`` -> float64 ``N x num_classes``. Images: uint8 ``N x C x H x W``.
    :meth:`head` wraps either output as an ``nn.Module`` (torchmetrics' ``feature=`` argument).
    """

    def __init__(self, classifier: Classifier, info: dict, batch_size: int = 500):
        super().__init__()
        self.classifier = classifier.eval().requires_grad_(False)
        self.info = info
        self.batch_size = batch_size
        self.num_features = classifier.num_features
        self.num_classes = classifier.num_classes
        self._cache: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}
        self.passes = 0  # images sent through the network: lets tests check the cache

    @property
    def device(self) -> torch.device:
        return next(self.classifier.parameters()).device

    def embed(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(features, logits), both float64 on the CPU; cached per image set (hash of the uint8 bytes)."""
        key = image_digest(images)
        if key not in self._cache:
            if len(self._cache) >= CACHE_SETS:
                self._cache.pop(next(iter(self._cache)))
            self._cache[key] = self._embed(images)
        return self._cache[key]

    @torch.no_grad()
    def _embed(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        self.classifier.eval()
        self.passes += len(images)
        feats, logits = [], []
        for i in range(0, len(images), self.batch_size):
            f, lg = self.classifier(images[i:i + self.batch_size].to(self.device))
            feats.append(f.double().cpu())
            logits.append(lg.double().cpu())
        if not feats:
            return torch.zeros(0, self.num_features, dtype=torch.float64), torch.zeros(0, self.num_classes,
                                                                                        dtype=torch.float64)
        return torch.cat(feats), torch.cat(logits)

    def features(self, images: torch.Tensor) -> torch.Tensor:
        return self.embed(images)[0]

    def logits(self, images: torch.Tensor) -> torch.Tensor:
        return self.embed(images)[1]

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.features(images)

    def head(self, output: str = "features") -> nn.Module:
        """An ``nn.Module`` returning ``output`` ('features' or 'logits'), for torchmetrics."""
        return _Head(self, output)

    @property
    def key(self) -> str:
        return self.info["key"]


def image_digest(images: torch.Tensor) -> str:
    """A hash of an image set's dtype, shape and bytes: the key of the feature caches."""
    x = images.detach().cpu().contiguous()
    h = hashlib.sha1(f"{x.dtype}{tuple(x.shape)}".encode())
    h.update(x.numpy().tobytes() if x.dtype != torch.bfloat16 else x.float().numpy().tobytes())
    return h.hexdigest()


class _Head(nn.Module):
    def __init__(self, net: FeatureNet, output: str):
        super().__init__()
        if output not in ("features", "logits"):
            raise ValueError(f"output '{output}' unknown; choose 'features' or 'logits'")
        self.net, self.output = net, output
        self.num_features = net.num_features if output == "features" else net.num_classes

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.net.features(images) if self.output == "features" else self.net.logits(images)


def cache_dir(output_dir: str | Path = "outputs") -> Path:
    """``$GENLAB_FEATURE_NET_DIR`` when set (e.g. a shared cluster folder), else ``<output_dir>/feature_nets``."""
    env = os.environ.get(CACHE_ENV)
    return resolve_path(env) if env else resolve_path(output_dir) / "feature_nets"


def cache_key(dataset: str, split: str, channels: int, image_size: int, config: FeatureNetConfig) -> str:
    """``<dataset>-<split>-<C>x<size>-<hash>``; folder datasets are named by a hash of their path."""
    name = dataset
    if dataset.startswith("folder:"):
        tail = re.sub(r"[^A-Za-z0-9_]+", "_", Path(dataset[7:]).name)[:24]
        name = f"folder_{tail}_{hashlib.sha1(dataset.encode()).hexdigest()[:8]}"
    return f"{name}-{split}-{channels}x{image_size}-{config.digest()}"


def feature_net(dataset: str, image_size: int, channels: int, *, config: FeatureNetConfig | None = None,
                split: str = "train", data_dir: str | Path = "data", cache: str | Path | None = None,
                device: str | torch.device = "cpu", verbose: bool = True) -> FeatureNet:
    """The feature net for ``dataset`` at ``channels x image_size``: loaded from the cache or trained now.

    ``net.info`` records the key, the config, the accuracy on the held-out ``test`` split, the
    training seconds and ``cached`` (True when it was loaded rather than trained in this call).
    """
    config = config or FeatureNetConfig()
    device = torch.device(device)
    folder = Path(cache) if cache is not None else cache_dir()
    key = cache_key(dataset, split, channels, image_size, config)
    path = folder / f"{key}.pt"
    with exclusive(folder / f"{key}.lock"):  # chapters run side by side: one trains it, the others load it
        return _load_or_train(path, key, dataset, image_size, channels, config, split, data_dir, device, verbose)


def _load_or_train(path: Path, key: str, dataset: str, image_size: int, channels: int, config: FeatureNetConfig,
                   split: str, data_dir: str | Path, device: torch.device, verbose: bool) -> FeatureNet:
    if path.exists():
        try:
            ckpt = load_checkpoint(path)
            if ckpt.get("config") == config.to_dict() and ckpt.get("dataset") == dataset:
                clf = Classifier(channels, ckpt["num_classes"], config.width, config.feature_dim, image_size)
                clf.load_state_dict(ckpt["model"])
                return FeatureNet(clf.to(device), {**ckpt["info"], "cached": True, "path": str(path)})
        except (CheckpointError, RuntimeError, KeyError) as exc:  # half-written or damaged: train it again
            print(f"[feature net] cache {path} unreadable ({type(exc).__name__}); training it again", flush=True)
    data_dir = resolve_path(data_dir)
    train = load_dataset(dataset, split, image_size=image_size, channels=channels, data_dir=data_dir)
    if config.max_train and len(train) > config.max_train:
        train = train.subset(config.max_train, seed=config.seed)
    if verbose:
        print(f"[feature net] training {key} on {len(train)} images (cached afterwards in {path.parent})", flush=True)
    t0 = time.perf_counter()
    clf = train_classifier(train.images, train.labels, train.num_classes, config, device)
    seconds = time.perf_counter() - t0
    net = FeatureNet(clf, {})
    trained = train.num_classes >= 2
    accuracy = None
    if trained:
        test = load_dataset(dataset, "test", image_size=image_size, channels=channels, data_dir=data_dir)
        accuracy = float((net.logits(test.images).argmax(1) == test.labels).double().mean())
    info = {"key": key, "dataset": dataset, "split": split, "image_size": image_size, "channels": channels,
            "config": config.to_dict(), "trained": trained, "test_accuracy": accuracy, "train_seconds": seconds,
            "num_features": clf.num_features, "class_names": list(train.class_names)}
    if verbose and trained:
        print(f"[feature net] {key}: held-out accuracy {accuracy:.3f} after {seconds:.1f} s", flush=True)
    elif verbose:
        print(f"[feature net] {key}: one class, so no classifier to train; scoring in the seeded untrained "
              "net's features (put images in one sub-folder per class for a trained feature space)", flush=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    save_checkpoint(path, {"model": {k: v.cpu() for k, v in clf.state_dict().items()}, "config": config.to_dict(),
                           "dataset": dataset, "num_classes": train.num_classes, "info": info,
                           "step": config.epochs * -(-len(train) // config.batch_size)})
    net.info = {**info, "cached": False, "path": str(path)}
    return net
