"""One contract for every registered model kind: train, checkpoint, resume, sample deterministically, evaluate, figures."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from genlab import models, plots
from genlab.eval.featurenet import FeatureNetConfig
from genlab.models.protocol import Option, TrainedModel
from genlab.train.checkpoint import load_checkpoint

pytestmark = pytest.mark.slow  # trains every registered kind

TINY_FEATURES = FeatureNetConfig(width=4, epochs=1, batch_size=64, max_train=256)


@pytest.mark.parametrize("name", models.names())
def test_every_model_kind_keeps_the_contract(name, tmp_path):
    kind = models.get(name)
    assert kind.name == name and dataclasses.is_dataclass(kind.config) and kind.config.model == name
    smoke = {**kind.smoke, "output_dir": str(tmp_path), "run": "contract"}
    steps = smoke["max_steps"]

    # train part of the way, then resume to the end: the same weights as one straight run
    half = kind.train(kind.config.from_dict({**smoke, "max_steps": steps // 2}))
    assert half.step == steps // 2
    trained = kind.train(kind.config.from_dict(smoke))
    straight = kind.train(kind.config.from_dict({**smoke, "run": "straight"}))
    a = load_checkpoint(trained.folder.checkpoint)
    b = load_checkpoint(straight.folder.checkpoint)
    assert a["step"] == b["step"] == steps and a["model_name"] == name
    for module in a["model"]:
        for key, value in a["model"][module].items():
            assert torch.equal(value, b["model"][module][key]), f"{name}: {module}.{key} differs after resume"

    # the protocol, and a reload from the checkpoint that samples the same images
    assert isinstance(trained, TrainedModel)
    loaded = models.load_trained(trained.folder.checkpoint, device="cpu")
    assert type(loaded) is kind.trained and loaded.step == steps
    options = loaded.sampler_options()
    assert all(isinstance(o, Option) for o in options.values())
    labels = torch.arange(4) % loaded.num_classes if loaded.num_classes else None
    x = loaded.sample(4, labels=labels, seed=3)
    assert x.dtype == torch.uint8 and x.shape == (4, *loaded.image_shape())
    assert torch.equal(x, loaded.sample(4, labels=labels, seed=3))
    assert torch.equal(x, trained.sample(4, labels=labels, seed=3))
    with pytest.raises(ValueError, match="not a .* sampling option"):
        loaded.sample(1, no_such_option=1)
    with pytest.raises(ValueError, match="n = 0"):
        loaded.sample(0)

    summary = loaded.describe()
    assert summary["kind"] == name and summary["parameters"] > 0 and summary["train_seconds"] > 0
    assert set(summary["sampler_options"]) == set(options)

    scores = loaded.evaluate(n=30, feature_config=TINY_FEATURES, verbose=False)
    assert {"fd", "kid", "precision", "recall"} <= set(scores)
    assert "fd" in loaded.metrics() and loaded.folder.history.is_file() and loaded.sample_paths

    ax = plots.show_class_samples(loaded, per_class=1, seed=0)
    c, h, w = loaded.image_shape()  # one row of one sample per class, or a 3 x 3 grid of 8 unconditional ones
    rows, cols = (1, loaded.num_classes) if loaded.num_classes else (3, 3)
    assert len(ax.images) == 1
    assert ax.images[0].get_array().shape[:2] == (rows * (h + 2) + 2, cols * (w + 2) + 2)
