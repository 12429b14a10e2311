"""genlab.eval.novelty and genlab.report.novelty: copies of training images are caught, held-out digits are not copies."""

import torch

from genlab.data import load_dataset
from genlab.eval import novelty
from genlab.report.novelty import closest_pairs


def test_copies_sit_at_distance_zero_and_held_out_digits_do_not():
    train = load_dataset("mnist5k", "train").subset(300, seed=0)
    held_out = load_dataset("mnist5k", "test").subset(50, seed=0).images
    copies = train.images[:50]
    table = novelty.novelty(copies, held_out, train.images, features=lambda x: x.double().flatten(1)[:, ::7])
    samples = table[(table["set"] == "samples")]
    assert (samples["distance"] < 1e-6).all()
    assert (table[(table["set"] == "held-out real")]["distance"] > 0).all()
    summary = novelty.novelty_summary(table)
    assert summary.loc["pixels", ("median", "samples / held-out")] < 1e-6
    d, idx = novelty.nearest(copies.double(), train.images.double())
    assert torch.equal(idx, torch.arange(50)) and float(d.max()) < 1e-6
    fig = closest_pairs(copies, train.images, k=4)
    assert len(fig.axes) == 8 and all(len(ax.images) == 1 for ax in fig.axes)  # 4 samples over their neighbours
    assert all(ax.get_title() == "d = 0.00" for ax in fig.axes[:4])
