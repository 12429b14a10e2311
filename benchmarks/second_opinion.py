"""A second opinion on generated digits: a judge that shares nothing with the project's classifier.

The project scores samples with its own CNN (``genlab.eval.featurenet``); a model tuned against that net
could please it without drawing digits. This judge is an RBF support-vector machine on raw pixels
(scikit-learn's ``SVC``), fitted on the mnist5k training split; it prints its accuracy on the held-out
split, then, for each checkpoint, the share of ``--n`` class-balanced samples (the kind's default sampling
options, seed ``--seed``) it reads as the requested digit, the share it also reads with probability at least
0.9 (Platt-scaled by scikit-learn's ``CalibratedClassifierCV``; held-out real digits are the reference line),
and the weakest class. MNIST-shaped kinds only
(class-conditional, 1 channel; other sizes are resized to 28 px). Usage::

    PYTHONPATH=lib python benchmarks/second_opinion.py outputs/quick/*/checkpoint.pt [--n 1000] [--seed 123]
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
import torch

from genlab.data import load_dataset, resize_images
from genlab.models import registry


def pixels(images: torch.Tensor) -> np.ndarray:
    """uint8 N x 1 x 28 x 28 -> N x 784 floats in [0, 1]."""
    return (images.float() / 255).flatten(1).numpy()


CONFIDENT = 0.9  # a reading counts as confident at this probability or more


def readings(judge, images: torch.Tensor, labels: torch.Tensor) -> dict:
    """Share read as ``labels``, share read so with probability >= CONFIDENT, and per-class accuracy."""
    svm, calibrated = judge
    x, y = pixels(images), labels.numpy()
    ok = svm.predict(x) == y
    sure = ok & (calibrated.predict_proba(x).max(1) >= CONFIDENT)
    per_class = [float(ok[y == c].mean()) for c in range(10)]
    return {"accuracy": float(ok.mean()), "confident": float(sure.mean()), "per_class": per_class,
            "weakest_class": int(np.argmin(per_class)), "weakest_accuracy": min(per_class)}


def fit_judge():
    """The RBF SVM on mnist5k's training digits with its Platt-scaled twin, and their readings of the held-out
    split. The SVM decides (fitted on every training digit); the twin's probabilities only grade its confidence."""
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.svm import SVC
    train = load_dataset("mnist5k", "train", image_size=28, channels=1)
    test = load_dataset("mnist5k", "test", image_size=28, channels=1)
    calibrated = CalibratedClassifierCV(SVC(C=5, gamma="scale"), ensemble=False).fit(pixels(train.images),
                                                                                     train.labels.numpy())
    judge = (calibrated.calibrated_classifiers_[0].estimator, calibrated)
    return judge, readings(judge, test.images, test.labels)


def judge_checkpoint(judge, path: str, n: int, seed: int) -> dict:
    """The judge's reading of ``n`` class-balanced samples of the checkpoint at ``path``."""
    trained = registry.load_trained(path, "cpu")
    if trained.num_classes != 10 or trained.image_shape()[0] != 1:
        raise SystemExit(f"{path}: the judge reads class-conditional 1-channel digits; this model is "
                         f"{trained.num_classes}-class with shape {trained.image_shape()}")
    labels = torch.arange(n) % 10
    images = resize_images(trained.sample(n, labels=labels, seed=seed), 28)
    return {"checkpoint": path, "n": n, "seed": seed, **readings(judge, images, labels)}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("checkpoints", nargs="+", help="checkpoint.pt files of MNIST-shaped class-conditional runs")
    p.add_argument("--n", type=int, default=1000, help="samples per checkpoint (a multiple of 10)")
    p.add_argument("--seed", type=int, default=123, help="sampling seed")
    p.add_argument("--json", help="also write the results to this file")
    args = p.parse_args()
    if args.n < 10 or args.n % 10:
        p.error(f"--n {args.n}: use a multiple of 10 (the same number of samples per digit), e.g. --n 1000")
    t0 = time.perf_counter()
    judge, held_out = fit_judge()
    print(f"judge: RBF SVM on mnist5k pixels (fitted in {time.perf_counter() - t0:.0f} s); held-out real digits: "
          f"{held_out['accuracy']:.3f} read correctly, {held_out['confident']:.3f} with probability >= {CONFIDENT}",
          flush=True)
    results = []
    for path in args.checkpoints:
        r = judge_checkpoint(judge, path, args.n, args.seed)
        results.append(r)
        print(f"{path}: {r['accuracy']:.3f} read as the requested digit ({r['confident']:.3f} with probability >= "
              f"{CONFIDENT}), weakest digit {r['weakest_class']} at {r['weakest_accuracy']:.2f}", flush=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"judge_held_out": held_out, "results": results}, f, indent=1)


if __name__ == "__main__":
    main()
