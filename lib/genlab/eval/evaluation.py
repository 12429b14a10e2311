"""Evaluating a trained model: sample it, score the samples and a real-vs-real floor, merge into ``metrics.json``.

The maths lives in :mod:`genlab.eval.metrics`; this module owns what surrounds it: drawing the
samples, loading the reference and floor sets, the feature nets, and a per-process cache of floors.
It knows trained models only by their protocol (``sample``, ``num_classes``, ``config``, ``run_dir``)
and imports nothing from :mod:`genlab.models`, so the models may call it.

The reference set is a random subset of the training split; the **floor** evaluates the held-out
test split against the same reference with the same code: a perfect generator scores about there
(at equal sample sizes; FD and KID are biased upwards for small sets).

Standard FID (Inception-v3, as in the papers) needs the ``torch-fidelity`` package and the weights
file ``pt_inception-2015-12-05-6726825d.pth`` on disk: set ``GENLAB_INCEPTION_WEIGHTS`` to its path,
or put it at ``<data_dir>/inception/``. genlab never downloads it.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import torch

from ..base.paths import resolve_path
from ..base.run_folder import RunFolder
from ..data import balanced_labels, load_dataset, resize_images, scoring_size
from .featurenet import FeatureNetConfig, cache_dir, cache_key, feature_net
from .inception import inception_fid, inception_weights
from .intervals import SUBSETS
from .memory import PeakMemory
from .metrics import SPACE_CLASSIFIER, SPACE_RANDOM, set_metrics
from .randomnet import RandomFeatures


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


def evaluation_key(trained, options: dict, n: int, seed: int, feature_config: FeatureNetConfig | None = None
                   ) -> dict[str, Any]:
    """What makes two evaluations of ``trained`` the same numbers: sampling options, n, seed, feature net."""
    c, _, size = trained.image_shape()
    dataset = trained.config.dataset
    net = cache_key(dataset, "train", c, scoring_size(dataset, size), feature_config or FeatureNetConfig())
    return {"options": options, "n": n, "seed": seed, "feature_net": net}


def stored_evaluation(metrics: dict, key: str, wanted: dict[str, Any]) -> dict | None:
    """The entry of ``metrics[key]`` (one stored evaluation per setting) whose :func:`evaluation_key` fields
    equal ``wanted``: a figure that needs the same numbers reads them instead of sampling again."""
    for entry in (metrics.get(key) or {}).values():
        if all(entry.get(k) == v for k, v in wanted.items()):
            return entry
    return None


# ----------------------------------------------------------------------------- the entry point

# real-vs-real floors already scored in this process, by everything that fixes their numbers
_floors: dict[tuple, dict[str, Any]] = {}


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
    # every model of a dataset is scored at its native size (a 32 px StyleGAN beside 28 px models): one feature space
    size = scoring_size(cfg.dataset, images.shape[-1])
    images, channels = resize_images(images, size), images.shape[1]
    device = torch.device(getattr(trained, "device", "cpu"))
    net_device = device if device.type == "cuda" else torch.device("cpu")
    net = feature_net(cfg.dataset, size, channels, config=feature_config, data_dir=data_dir,
                      cache=cache_dir(getattr(cfg, "output_dir", "outputs")), device=net_device, verbose=verbose)
    train = load_dataset(cfg.dataset, "train", image_size=size, channels=channels, data_dir=data_dir)
    reference = train.subset(min(n_reference or n, len(train)), seed=seed + 1)
    test = load_dataset(cfg.dataset, "test", image_size=size, channels=channels, data_dir=data_dir)
    test = test.subset(min(n, len(test)), seed=seed + 2)
    random_net = RandomFeatures(channels, seed=0).to(net_device)
    model = set_metrics(reference.images, images, net, labels, seed=seed, random_net=random_net)
    floor_key = (cfg.dataset, str(data_dir), size, channels, len(reference), len(test), seed, net.key, random_net.key,
                 labels is not None)
    if floor_key not in _floors:  # a sweep evaluates many settings against the same real-vs-real floor
        test_labels = test.labels if labels is not None else None
        _floors[floor_key] = set_metrics(reference.images, test.images, net, test_labels, seed=seed, random_net=random_net)
    floor = dict(_floors[floor_key])  # a copy: standard FID may be added below
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
            "feature_net_cached": net.info["cached"], "random_net": random_net.key,
            "spaces": {SPACE_CLASSIFIER: f"penultimate layer of {net.key}", SPACE_RANDOM: random_net.key},
            "intervals": f"{SUBSETS} disjoint subsets of n // {SUBSETS}, Student-t 95%", "inception": "used" if weights is not None else why,
            "sample_seconds_per_100": sample_seconds * 100 / n, "seconds": spent}
    # the setting's own sampling cost (batches of ``batch_size``): quality against time needs no separate timing
    values: dict[str, Any] = {"by_setting": {name: {**model, "sample_seconds_per_100": sample_seconds * 100 / n}}}
    if mem.mb is not None:
        values["peak_memory_mb"] = {name: mem.mb}
        info["memory"] = mem.kind
    if headline or (headline is None and setting is None):
        values.update(model, eval=info, floor=floor)
    if verbose:
        def shown(d: dict) -> str:
            return ", ".join(f"{k} {v:.4g}" for k, v in d.items() if isinstance(v, float) and not k.endswith("_std"))
        print(f"[evaluate] {n} samples ({name}) in {spent:.1f} s: {shown(model)}", flush=True)
        print(f"[evaluate] real-vs-real floor ({len(test)} held-out): {shown(floor)}", flush=True)
    if write:
        RunFolder(Path(trained.run_dir)).update_metrics(**values)
    return {**model, "floor": floor, "eval": info}
