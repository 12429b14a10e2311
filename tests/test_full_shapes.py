"""Every full-profile parameter file, at its real shapes, on the CPU: train 2 steps, checkpoint, resume 1
step, sample 4 images with every choice of every sampling option, evaluate 32 samples.

Only the dataset is replaced by one of the same shape, and a few knobs set how long things take, not
what is trained (``benchmarks/full_profile.py``). The steps train 8 images, not the file's batch (a
64 px StyleGAN step at batch 64 takes about 100 s on a 2-core CPU): each image has the file's shapes,
and the full batch builds (nets, optimizers, the minibatch-std groups) before training.
Full-batch steps are measured by ``benchmarks/full_memory.py`` (CPU) and ``benchmarks/gpu_check.py``
(GPU). What a GPU run would meet at step 1 (a shape error, a batch the minibatch-std groups do not
divide, a sampler option that does not fit the network) shows here first.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch

from genlab.models import registry

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"
sys.path.insert(0, str(BENCHMARKS))
from full_profile import cases, same_shape  # noqa: E402  (shared with benchmarks/gpu_check.py)

from genlab.train.run import training_data  # noqa: E402

STEP_BATCH = 8  # images per training step here: a multiple of every file's minibatch-std group


def choices(options) -> list[dict]:
    """Every choice of every option with choices, one at a time; the defaults once."""
    settings = [{}]
    for opt in options.values():
        settings += [{opt.name: c} for c in opt.choices if c != opt.default]
    return settings


@pytest.mark.slow
@pytest.mark.parametrize("name, params", cases(), ids=lambda v: v if isinstance(v, str) else
                         f"{v.get('dataset')}-{v.get('image_size', '')}")
def test_full_parameters_train_resume_sample_and_evaluate(name, params, tmp_path):
    from genlab.eval.featurenet import FeatureNetConfig
    kind = registry.get(name)
    full = kind.config.from_dict(same_shape(name, params, tmp_path, cost=False, device="cpu"))
    kind.recipe(full, (kind.data or training_data)(full), torch.device("cpu"))  # the file's own batch builds
    config = kind.config.from_dict(same_shape(name, params, tmp_path, device="cpu", max_steps=2, eval_samples=32,
                                              batch_size=STEP_BATCH))
    torch.manual_seed(0)
    assert kind.train(config).step == 2
    assert (config.run_dir / "checkpoint.pt").exists()
    resumed = kind.train(config.replace(max_steps=3))
    assert resumed.step == 3
    trained = registry.load_trained(config.run_dir / "checkpoint.pt", "cpu")
    assert trained.step == 3
    shape = trained.image_shape()
    for options in choices(trained.sampler_options()):
        if options.get("sampler") == "ddpm":  # the ancestral sampler runs all num_steps: one image is enough
            images = trained.sample(1, seed=0, **options)
            assert images.shape == (1, *shape)
            continue
        images = trained.sample(4, seed=0, **options)
        assert images.shape == (4, *shape) and images.dtype == torch.uint8, options
    scores = trained.evaluate(32, feature_config=FeatureNetConfig(epochs=1, max_train=256))
    assert scores["fd"] >= 0
