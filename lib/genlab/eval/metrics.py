"""Sample quality, every number with a reference: FD, KID, IS, precision/recall, accuracy, diversity.

Metrics and what they expect:

| metric | implementation | input | direction |
|---|---|---|---|
| ``fd``: Fréchet distance | torchmetrics ``FrechetInceptionDistance(feature=<domain net>)`` | uint8 images; features float64 | lower |
| ``kid`` (+ ``kid_std``): kernel distance | torchmetrics ``KernelInceptionDistance`` (cubic kernel, subsets) | uint8; features float64 | lower |
| ``is`` (+ ``is_std``): Inception Score | torchmetrics ``InceptionScore(feature=<domain logits>)`` | uint8; logits float64 | higher, at most the number of classes |
| ``precision``, ``recall`` | Kynkäänniemi et al. 2019, k = 5 (same code as ``prdc``, pinned in a test) | features float64 | higher |
| ``density``, ``coverage`` | Naeem et al. 2020, k = 5 | features float64 | higher (density ~1 for real) |
| ``class_accuracy`` | domain classifier agrees with the requested label | uint8 + int64 labels | higher |
| ``diversity`` | mean pairwise feature distance within a class | features float64 | near the real floor |
| ``fid``: standard FID | torchmetrics with Inception-v3, only when its weights are on disk | uint8, 3 x 299 x 299 (resized inside) | lower |

Two feature spaces: the **classifier** space (:mod:`genlab.eval.featurenet`, a classifier trained
on the training split; the flat headline numbers ``m["fd"]`` etc. are full-set values there) and
the **random** space (:mod:`genlab.eval.randomnet`, a frozen random CNN; ``m["spaces"]["random"]``).
``m["intervals"][space][metric]`` holds ``{"value", "ci95", "n", "subsets", "values", "space"}`` from
5 disjoint subsets (:mod:`genlab.eval.intervals`); the floor carries the same layout. Images are uint8 ``N x C x H x W`` (what ``sample`` returns); the feature
net maps them to [-1, 1] itself. torchmetrics accumulates FID statistics in float64, and we pass
float64 features to every metric so KID's kernel sums and IS's log-probabilities are float64 too.

The evaluation of a trained model (sampling, reference and floor sets) is :mod:`genlab.eval.evaluation`;
this module is the maths only: image or feature sets in, numbers out.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from .featurenet import FeatureNet
from .intervals import SUBSETS, subset_intervals
from .randomnet import SPACE as SPACE_RANDOM
from .randomnet import RandomFeatures

# metric -> which way is better: "low", "high", or "floor" (nearest the real-vs-real floor)
BETTER = {"fd": "low", "kid": "low", "fid": "low", "is": "high", "precision": "high", "recall": "high",
          "density": "high", "coverage": "high", "class_accuracy": "high", "weakest_class_accuracy": "high",
          "diversity": "floor"}
K = 5  # nearest neighbours for precision/recall/density/coverage (Naeem et al. 2020, the prdc default)
SPACE_CLASSIFIER = "classifier"


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


def prdc(real_features: torch.Tensor, fake_features: torch.Tensor, k: int = 5, chunk: int = 1024
         ) -> dict[str, float]:
    """Precision, recall (Kynkäänniemi et al. 2019), density and coverage (Naeem et al. 2020).

    Each set's manifold is the union of balls around its points with radius = distance to the k-th
    nearest neighbour in the same set. Precision: share of fake points inside the real manifold;
    recall: share of real points inside the fake manifold; density: mean number of real balls
    holding a fake point, / k (about 1 for identical distributions, robust to real outliers);
    coverage: share of real balls holding at least one fake point (about 0.97 at k = 5 for identical
    distributions). Same definitions and strict inequalities as the ``prdc`` package (pinned in a
    test); computed in float64 and in chunks, so large sets do not need an N x N matrix.
    """
    real, fake = real_features.double(), fake_features.double()
    if min(len(real), len(fake)) <= k:
        raise ValueError(f"precision/recall with k={k} needs more than {k} samples per set; "
                         f"got {len(real)} real and {len(fake)} fake: raise the number of samples")
    r_real, r_fake = _kth_radii(real, k, chunk), _kth_radii(fake, k, chunk)
    inside = torch.zeros(len(fake), dtype=torch.float64)   # real balls around each fake point
    covered = torch.zeros(len(real), dtype=torch.bool)     # real ball j holds a fake point
    recalled = torch.zeros(len(real), dtype=torch.bool)    # real point j inside some fake ball
    for i in range(0, len(fake), chunk):
        d = torch.cdist(real, fake[i:i + chunk])            # real x fake-chunk
        hit = d < r_real[:, None]
        inside[i:i + chunk] = hit.sum(0).double()
        covered |= hit.any(1)
        recalled |= (d < r_fake[None, i:i + chunk]).any(1)
    return {"precision": float((inside > 0).double().mean()), "recall": float(recalled.double().mean()),
            "density": float(inside.mean() / k), "coverage": float(covered.double().mean())}


def precision_recall(real_features: torch.Tensor, fake_features: torch.Tensor, k: int = 3,
                     chunk: int = 1024) -> tuple[float, float]:
    """Improved precision and recall (Kynkäänniemi et al., 2019) with their k = 3: see :func:`prdc`."""
    out = prdc(real_features, fake_features, k=k, chunk=chunk)
    return out["precision"], out["recall"]


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


class Features(nn.Module):
    """Identity 'feature net' for cached features: torchmetrics gets ``num_features`` and never re-runs a net."""

    def __init__(self, dim: int):
        super().__init__()
        self.num_features = dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.double()


def feature_scores(real_features: torch.Tensor, fake_features: torch.Tensor, seed: int = 0,
                   kid_subsets: int = 50, k: int = K, with_kid_std: bool = False) -> dict[str, float]:
    """FD, KID and precision/recall/density/coverage of two feature sets (any feature space)."""
    ident = Features(real_features.shape[1])
    kid, kid_std = kernel_distance(real_features, fake_features, ident, subsets=kid_subsets, seed=seed)
    out = {"fd": frechet_distance(real_features, fake_features, ident), "kid": kid,
           **prdc(real_features, fake_features, k=k)}
    return {**out, "kid_std": kid_std} if with_kid_std else out


def set_metrics(real: torch.Tensor, images: torch.Tensor, net: FeatureNet, labels: torch.Tensor | None = None,
                seed: int = 0, kid_subsets: int = 50, k: int = K, random_net: RandomFeatures | None = None,
                subsets: int = SUBSETS) -> dict:
    """Every domain metric of uint8 ``images`` against uint8 ``real`` (N x C x H x W).

    ``labels`` (int64): the classes the images should show (conditional samples, or the true
    labels of real images): adds ``class_accuracy`` and ``weakest_class_accuracy`` (the accuracy of the
    worst class) and makes ``diversity`` within-class.
    Returns the full-set numbers in the classifier space (flat), ``spaces["random"]`` (the same
    feature metrics in the random-CNN space, when ``random_net`` is given) and ``intervals[space]``
    (one entry per metric from ``subsets`` disjoint blocks; see :mod:`genlab.eval.intervals`).
    Each image set goes through each network once (the nets cache their features).
    """
    features, logits = net.embed(images)
    real_features = net.features(real)
    scores = feature_scores(real_features, features, seed, kid_subsets, k, with_kid_std=True)
    inc, inc_std = inception_score(logits, Features(net.num_classes), seed=seed)
    out: dict[str, Any] = {**scores, "is": inc, "is_std": inc_std}
    predicted = logits.argmax(1)
    correct = (predicted == labels.cpu()).double() if labels is not None else None
    if correct is not None:
        out["class_accuracy"] = float(correct.mean())
        # a model can score well overall and still lose one digit: the worst class is its own figure
        out["weakest_class_accuracy"] = min(float(correct[labels.cpu() == c].mean()) for c in labels.unique())
    out["diversity"] = diversity(features, labels if labels is not None else predicted, seed=seed)

    def classifier_block(b: slice) -> dict[str, float]:
        extra = {"is": inception_score(logits[b], Features(net.num_classes), splits=1, seed=seed)[0]}
        if correct is not None:
            extra["class_accuracy"] = float(correct[b].mean())
        return {**feature_scores(real_features, features[b], seed, kid_subsets, k), **extra}
    out["intervals"] = {SPACE_CLASSIFIER: subset_intervals(classifier_block, len(images), SPACE_CLASSIFIER, subsets)}
    if random_net is not None:
        rf, rr = random_net.features(images), random_net.features(real)
        out["spaces"] = {SPACE_RANDOM: feature_scores(rr, rf, seed, kid_subsets, k)}
        out["intervals"][SPACE_RANDOM] = subset_intervals(
            lambda b: feature_scores(rr, rf[b], seed, kid_subsets, k), len(images), SPACE_RANDOM, subsets)
    return out
