"""The metric sanity ladder: do the metrics react to the defects they claim to measure?

Held-out real digits are damaged on purpose, at 5 strengths each, and scored against a reference
of training digits exactly like a model's samples, in both feature spaces:

- **null**: held-out vs training (the floor), and one half of the training reference vs the other;
- **corruptions** (pixel defects; FD and KID must rise, precision must fall with strength):
  Gaussian noise, salt-and-pepper, blur, swirl, occluding rectangles, pixelation, and a grey
  speckled background (the artefact of an under-trained DDPM);
- **diversity loss** (recall and coverage must fall): drop classes, skew the class balance,
  collapse each class to a few prototypes, copy training images (memorization: FD near the floor,
  which is why novelty is measured separately).

Images in and out are uint8 ``N x C x H x W``; every corruption is deterministic given ``seed``.
"""

from __future__ import annotations

import math
from typing import Callable

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F

from ..data import to_float, to_uint8
from ..plots import panel_grid

STRENGTHS = (0.2, 0.4, 0.6, 0.8, 1.0)


def _gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def gaussian_noise(x: torch.Tensor, s: float, seed: int = 0) -> torch.Tensor:
    """Additive N(0, (0.5 s)^2) noise in [-1, 1] units."""
    f = to_float(x)
    return to_uint8((f + 0.5 * s * torch.randn(f.shape, generator=_gen(seed))).clamp(-1, 1))


def salt_and_pepper(x: torch.Tensor, s: float, seed: int = 0) -> torch.Tensor:
    """A share 0.2 s of the pixels set to black or white."""
    u = torch.rand(x.shape, generator=_gen(seed))
    out = x.clone()
    out[u < 0.1 * s] = 0
    out[(u >= 0.1 * s) & (u < 0.2 * s)] = 255
    return out


def blur(x: torch.Tensor, s: float, seed: int = 0) -> torch.Tensor:
    """Gaussian blur with sigma = 0.5 + 1.5 s pixels (0.8 to 2 over the ladder)."""
    sigma = 0.5 + 1.5 * s
    r = max(1, math.ceil(3 * sigma))
    t = torch.arange(-r, r + 1, dtype=torch.float32)
    k = torch.exp(-t ** 2 / (2 * sigma ** 2))
    k = k / k.sum()
    f = to_float(x)
    c = f.shape[1]
    f = F.conv2d(F.pad(f, (r, r, 0, 0), mode="replicate"), k.view(1, 1, 1, -1).expand(c, 1, 1, -1), groups=c)
    f = F.conv2d(F.pad(f, (0, 0, r, r), mode="replicate"), k.view(1, 1, -1, 1).expand(c, 1, -1, 1), groups=c)
    return to_uint8(f.clamp(-1, 1))


def swirl(x: torch.Tensor, s: float, seed: int = 0) -> torch.Tensor:
    """A swirl about the centre: rotation angle 2.5 s * exp(-r / 0.5) radians at radius r (in [-1, 1] units)."""
    f = to_float(x)
    h, w = f.shape[-2:]
    yy, xx = torch.meshgrid(torch.linspace(-1, 1, h), torch.linspace(-1, 1, w), indexing="ij")
    r = (xx ** 2 + yy ** 2).sqrt()
    theta = 2.5 * s * torch.exp(-r / 0.5)
    gx = xx * theta.cos() - yy * theta.sin()
    gy = xx * theta.sin() + yy * theta.cos()
    grid = torch.stack([gx, gy], -1).expand(len(f), h, w, 2)
    return to_uint8((F.grid_sample(f + 1, grid, align_corners=True) - 1).clamp(-1, 1))


def occlude(x: torch.Tensor, s: float, seed: int = 0) -> torch.Tensor:
    """A black square of side (0.15 + 0.45 s) * width, placed at random in the central half (where the ink is)."""
    n, _, h, w = x.shape
    side = max(1, round((0.15 + 0.45 * s) * w))
    g = _gen(seed)
    top = (h - side) // 4 + torch.randint(0, (h - side) // 2 + 1, (n,), generator=g)
    left = (w - side) // 4 + torch.randint(0, (w - side) // 2 + 1, (n,), generator=g)
    out = x.clone()
    for i in range(n):  # n small rectangles: a loop over images is the clearest form
        out[i, :, top[i]:top[i] + side, left[i]:left[i] + side] = 0
    return out


def pixelate(x: torch.Tensor, s: float, seed: int = 0) -> torch.Tensor:
    """Average over blocks of 2, 3, 4, 5, 7 pixels at strengths 0.2 ... 1 (interpolated between), then
    nearest-neighbour back up. 6 is skipped: on 28 px it leaves a ragged edge that reads as less damage."""
    b = int(round(float(np.interp(s, STRENGTHS, (2, 3, 4, 5, 7)))))
    h, w = x.shape[-2:]
    f = F.avg_pool2d(to_float(x), b, ceil_mode=True)
    return to_uint8(F.interpolate(f, size=(h, w), mode="nearest").clamp(-1, 1))


def grey_speckle(x: torch.Tensor, s: float, seed: int = 0) -> torch.Tensor:
    """Background lifted to grey level 0.35 s (of the range) with speckle of std 0.25 s: the DDPM's artefact."""
    f = (to_float(x) + 1) / 2
    bg = (0.35 * s + 0.25 * s * torch.randn(f.shape, generator=_gen(seed))).clamp(0, 1)
    return to_uint8((torch.maximum(f, bg) * 2 - 1).clamp(-1, 1))


CORRUPTIONS: dict[str, Callable[..., torch.Tensor]] = {
    "gaussian noise": gaussian_noise, "salt and pepper": salt_and_pepper, "blur": blur, "swirl": swirl,
    "occlusion": occlude, "pixelation": pixelate, "grey speckle": grey_speckle}


# ----------------------------------------------------------------------------- diversity loss

def drop_classes(x: torch.Tensor, labels: torch.Tensor, dropped: int, seed: int = 0) -> torch.Tensor:
    """``len(x)`` images from the classes ``dropped..9`` only (the first ``dropped`` classes missing)."""
    keep = torch.nonzero(labels >= dropped).squeeze(1)
    idx = keep[torch.randint(0, len(keep), (len(x),), generator=_gen(seed))] if len(keep) < len(x) else keep[:len(x)]
    return x[idx]


def skew(x: torch.Tensor, labels: torch.Tensor, s: float, seed: int = 0) -> torch.Tensor:
    """Resample with class weights exp(-3 s c / 9): s = 0 balanced, s = 1 class 9 about 20x rarer than 0."""
    w = torch.exp(-3 * s * labels.double() / 9)
    idx = torch.multinomial(w, len(x), replacement=True, generator=_gen(seed))
    return x[idx]


def prototypes(x: torch.Tensor, labels: torch.Tensor, per_class: int, seed: int = 0) -> torch.Tensor:
    """Every image replaced by one of ``per_class`` images of its class (mode collapse within classes)."""
    out = x.clone()
    g = _gen(seed)
    for c in labels.unique():  # one pass per class
        idx = torch.nonzero(labels == c).squeeze(1)
        keep = idx[:per_class]
        out[idx] = x[keep[torch.randint(0, len(keep), (len(idx),), generator=g)]]
    return out


DIVERSITY = {"drop classes": ("classes dropped", (1, 3, 5, 9)), "skew": ("skew", STRENGTHS),
             "prototypes": ("prototypes per class (fewer = worse)", (20, 10, 5, 2, 1))}


def ladder(reference: torch.Tensor, real: torch.Tensor, real_labels: torch.Tensor, score: Callable,
           corruptions=tuple(CORRUPTIONS), strengths=STRENGTHS, diversity: bool = True,
           copies: torch.Tensor | None = None, seed: int = 0) -> pd.DataFrame:
    """Long table (rung, defect, strength, space, metric, value) of ``score(images)`` on damaged ``real``.

    ``score(images) -> {space: {metric: value}}`` scores a uint8 set against ``reference`` (e.g. a
    closure over :func:`genlab.eval.metrics.feature_scores` in both spaces). Strength 0 is the
    undamaged held-out set (the floor). ``copies``: training images for the memorization rung.
    """
    rows = []

    def add(rung: str, defect: str, strength: float, images: torch.Tensor) -> None:
        for space, vals in score(images).items():
            rows.extend({"rung": rung, "defect": defect, "strength": strength, "space": space, "metric": k,
                         "value": v} for k, v in vals.items())
    floor = score(real)
    for name in corruptions:
        for space, vals in floor.items():
            rows.extend({"rung": "corruption", "defect": name, "strength": 0.0, "space": space, "metric": k,
                         "value": v} for k, v in vals.items())
        for s in strengths:
            add("corruption", name, s, CORRUPTIONS[name](real, s, seed))
    if diversity:
        for k in DIVERSITY["drop classes"][1]:
            add("diversity", "drop classes", k, drop_classes(real, real_labels, k, seed))
        for s in strengths:
            add("diversity", "skew", s, skew(real, real_labels, s, seed))
        for p in DIVERSITY["prototypes"][1]:
            add("diversity", "prototypes", p, prototypes(real, real_labels, p, seed))
    if copies is not None:
        add("diversity", "memorization (training copies)", 1.0, copies[:len(real)])
    return pd.DataFrame(rows)


def plot_ladder(table: pd.DataFrame, rung: str = "corruption", space: str = "classifier",
                metrics=("fd", "kid", "precision", "recall", "density", "coverage")):
    """One panel per metric: value against strength, one line per defect; dashed = the undamaged floor."""
    df = table[(table["rung"] == rung) & (table["space"] == space)]
    metrics = [m for m in metrics if (df["metric"] == m).any()]
    if not metrics:
        print(f"no {rung} rows in the {space} space")
        return None
    fig, axes = panel_grid(len(metrics), ncol=3, panel_height=2.8)
    for ax, metric in zip(axes, metrics):
        d = df[df["metric"] == metric]
        for i, (defect, grp) in enumerate(d.groupby("defect", sort=False)):
            if rung == "corruption":
                grp = grp.sort_values("strength")
                x = grp["strength"]
            else:  # levels in the order the ladder applies them (each defect has its own units)
                x = range(1, len(grp) + 1)
            ax.plot(x, grp["value"], marker="o", ms=3, lw=1.2, label=defect, c=f"C{i}")
        floor = table[(table["rung"] == "corruption") & (table["space"] == space) & (table["metric"] == metric)
                      & (table["strength"] == 0)]["value"]
        if len(floor):
            ax.axhline(float(floor.iloc[0]), ls="--", c="k", lw=1)
        ax.set_title(metric, fontsize=9)
        ax.set_xlabel("strength" if rung == "corruption" else "defect level", fontsize=8)
        ax.grid(alpha=0.3)
        ax.ticklabel_format(axis="y", style="plain", useOffset=False)
    axes[0].legend(fontsize=6, loc="best")
    fig.suptitle(f"{rung}: {space} feature space (dashed: held-out real, undamaged)", fontsize=10)
    fig.tight_layout()
    return fig


def sanity_ladder(dataset: str = "mnist5k", n: int = 500, *, seed: int = 0, output_dir: str = "outputs",
                  data_dir: str = "data", feature_config=None, verbose: bool = True) -> pd.DataFrame:
    """The whole ladder on ``n`` held-out images against ``2 n`` training images, in both feature spaces.

    Uses the same cached classifier as :func:`genlab.eval.evaluation.evaluate` (trained once if missing)
    and the random CNN. Returns the long table of :func:`ladder` (``space``: classifier | random).
    """
    from ..base.paths import resolve_path
    from ..data import load_dataset
    from .featurenet import cache_dir, feature_net
    from .metrics import SPACE_CLASSIFIER, SPACE_RANDOM, feature_scores
    from .randomnet import RandomFeatures
    data_dir = resolve_path(data_dir)
    train, test = load_dataset(dataset, "train", data_dir=data_dir), load_dataset(dataset, "test", data_dir=data_dir)
    if n < 20 or 2 * n > len(train) or n > len(test):
        raise ValueError(f"sanity_ladder: n = {n} must lie in 20 .. {min(len(test), len(train) // 2)} for {dataset}")
    reference, real = train.subset(2 * n, seed=seed + 1), test.subset(n, seed=seed + 2)
    channels, size = reference.images.shape[1], reference.images.shape[-1]
    net = feature_net(dataset, size, channels, config=feature_config, data_dir=data_dir,
                      cache=cache_dir(output_dir), verbose=verbose)
    rand = RandomFeatures(channels)
    refs = {SPACE_CLASSIFIER: (net, net.features(reference.images)), SPACE_RANDOM: (rand, rand.features(reference.images))}

    def score(images):
        return {space: feature_scores(ref, f.features(images), seed=seed, kid_subsets=20)
                for space, (f, ref) in refs.items()}
    copies = train.subset(n, seed=seed + 7).images
    return ladder(reference.images, real.images, real.labels, score, copies=copies, seed=seed)


def ladder_summary(table: pd.DataFrame) -> pd.DataFrame:
    """For each corruption and space: does FD/KID rise strictly, does precision fall (first vs last)?"""
    rows = []
    for (defect, space), grp in table[table["rung"] == "corruption"].groupby(["defect", "space"], sort=False):
        def ser(m):
            return list(grp[grp["metric"] == m].sort_values("strength")["value"])
        fd, kid, p = ser("fd"), ser("kid"), ser("precision")
        rows.append({"defect": defect, "space": space,
                     "FD rises strictly": all(a < b for a, b in zip(fd, fd[1:])),
                     "KID rises strictly": all(a < b for a, b in zip(kid, kid[1:])),
                     "precision falls": bool(p and p[-1] < p[0])})
    return pd.DataFrame(rows).set_index(["defect", "space"])


def known_order(trained, steps=(5, 10, 20, 50), n: int = 200, sampler: str = "ddim", seed: int = 0,
                sampler_options: dict | None = None, **eval_options) -> pd.DataFrame:
    """The ladder's last rung: a diffusion model sampled with more steps is better, so every metric must rank
    ``steps`` in that order. One row per step count: FD and KID in both spaces, precision, recall and the
    classifier's class accuracy (not written to ``metrics.json``), and whether each column is in order.
    ``sampler_options`` (e.g. ``{"eta": 1.0}``) go to ``sample`` with the sampler and steps; a setting the
    DDPM chapter's sampler sweep already scored with the same options, ``n`` and seed is reused.
    ``eval_options`` go to :func:`genlab.eval.evaluation.evaluate` (e.g. ``feature_config``).
    """
    from .evaluation import evaluate, evaluation_key, stored_evaluation
    from .metrics import SPACE_RANDOM
    rows = {}
    stored_metrics = trained.metrics() if hasattr(trained, "metrics") else {}
    for s in steps:
        options = {"sampler": sampler, "steps": s, **(sampler_options or {})}
        m = None
        if "sampler_sweep" in stored_metrics:  # already scored by the DDPM chapter's sampler sweep
            m = stored_evaluation(stored_metrics, "sampler_sweep",
                                  evaluation_key(trained, options, n, seed, eval_options.get("feature_config")))
        if m is None:
            m = evaluate(trained, n=n, seed=seed, options=options, setting=f"{sampler}-{s}", write=False,
                         verbose=False, **eval_options)
        rnd = m["spaces"][SPACE_RANDOM]
        rows[s] = {"FD": m["fd"], "KID": m["kid"], "FD (random CNN)": rnd["fd"], "KID (random CNN)": rnd["kid"],
                   "precision": m["precision"], "recall": m["recall"], "class accuracy": m.get("class_accuracy")}
    table = pd.DataFrame(rows).T.rename_axis(f"{sampler} steps")
    lower_better = {"FD", "KID", "FD (random CNN)", "KID (random CNN)"}
    in_order = {c: "yes" if ((table[c].diff().dropna() < 0).all() if c in lower_better
                             else (table[c].diff().dropna() > 0).all()) else "no"
                for c in table.columns if table[c].notna().all()}
    table = table.round(4).astype(object)
    table.loc["in order"] = pd.Series(in_order)
    return table
