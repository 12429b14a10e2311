"""The convolutional kinds train channels-last (oneDNN's and cuDNN's fast layout): their networks are built in that
layout, and a training step gives the same losses and gradients as the same step in NCHW, so
the layout changes speed (``benchmarks/layouts.py``), not the function."""

from __future__ import annotations

import pytest
import torch

from genlab.data import load_dataset
from genlab.models import registry

KINDS = ["dcgan", "stylegan", "ebm"]


def one_step(name: str, layout, tmp_path):
    """The kind's smoke profile after one training step on mnist5k digits, its networks in ``layout``.

    The learning rate is tiny, so that a GAN's G step meets the same D in both layouts (Adam's first update is
    about lr * sign(g), and near-zero gradients can take either sign).
    """
    kind = registry.get(name)
    config = kind.config.from_dict({**kind.smoke, "output_dir": str(tmp_path), "lr": 1e-12, "amp": "off"})
    data = load_dataset("mnist5k", image_size=config.image_size)
    torch.manual_seed(0)
    recipe = kind.recipe(config, data, torch.device("cpu"))
    nets = recipe.state.modules
    built_channels_last = all(p.is_contiguous(memory_format=torch.channels_last) and not p.is_contiguous()
                              for net in nets.values() for p in net.parameters()
                              if p.dim() == 4 and p.shape[1] > 1 and p.shape[-1] > 1)  # 1 x 1: both layouts
    for net in nets.values():
        net.to(memory_format=layout)
        if hasattr(net, "memory_format"):
            net.memory_format = layout
    b = config.batch_size
    x, y = data.images[:b].float() / 127.5 - 1, data.labels[:b]
    torch.manual_seed(1)
    scalars = recipe.step(0, x, y)
    grads = {f"{n}.{k}": p.grad.clone() for n, net in nets.items() for k, p in net.named_parameters()
             if p.grad is not None}
    return built_channels_last, scalars, grads


@pytest.mark.parametrize("name", KINDS)
def test_a_training_step_is_the_same_function_in_either_layout(name, tmp_path):
    built_channels_last, scalars, grads = one_step(name, torch.channels_last, tmp_path / "cl")
    assert built_channels_last, f"{name}: its 4-d weights are not built channels-last"
    _, ref_scalars, ref_grads = one_step(name, torch.contiguous_format, tmp_path / "nchw")
    for key, value in ref_scalars.items():
        torch.testing.assert_close(scalars[key].float(), value.float(), rtol=1e-4, atol=1e-5, msg=f"{name}: {key}")
    assert grads and grads.keys() == ref_grads.keys()
    for key, value in ref_grads.items():
        # float32 sums in another order: G's gradients pass back through D and BatchNorm, which amplify it to
        # about 2e-3 of the largest entry (a layout bug, e.g. a flatten in the wrong order, differs by O(1))
        scale = float(value.abs().max()) or 1.0
        torch.testing.assert_close(grads[key], value, rtol=0, atol=1e-2 * scale, msg=f"{name}: gradient of {key}")
