"""bf16 autocast in the training steps (genlab.train.precision): ``auto`` follows the device and the CPU's flags,
the convolutions really run in bf16, and a bf16 step is the float32 step to bf16's precision."""

from __future__ import annotations

import pytest
import torch

from genlab.data import load_dataset
from genlab.models import registry
from genlab.train import precision

KINDS = ["dcgan", "stylegan", "ebm", "ddpm", "flow"]


def one_step(name: str, amp: str, tmp_path):
    """Losses, gradients and the dtypes of the feature maps in one smoke-profile step (tiny lr, see
    tests/test_layouts.py) with ``amp``."""
    kind = registry.get(name)
    config = kind.config.from_dict({**kind.smoke, "output_dir": str(tmp_path), "lr": 1e-12, "amp": amp})
    data = load_dataset("mnist5k", image_size=config.image_size)
    torch.manual_seed(0)
    recipe = kind.recipe(config, data, torch.device("cpu"))
    nets = recipe.state.modules
    dtypes = set()  # of every feature map (4-d module output): convolutions, modulated or not, and what follows

    def record(module, inputs, out):
        if isinstance(out, torch.Tensor) and out.dim() == 4:
            dtypes.add(out.dtype)
    hooks = [m.register_forward_hook(record) for net in nets.values() for m in net.modules()]
    b = config.batch_size
    x, y = data.images[:b].float() / 127.5 - 1, data.labels[:b]
    torch.manual_seed(1)
    scalars = recipe.step(0, x, y)
    for h in hooks:
        h.remove()
    grads = {f"{n}.{k}": p.grad.clone() for n, net in nets.items() for k, p in net.named_parameters()
             if p.grad is not None}
    return scalars, grads, dtypes


def test_auto_is_bf16_on_cuda_and_on_cpus_with_native_bf16(monkeypatch):
    cpu, cuda = torch.device("cpu"), torch.device("cuda")
    assert precision.use_bf16(cuda, "auto") and not precision.use_bf16(cuda, "off")
    assert precision.use_bf16(cpu, "bf16")
    for native in (True, False):
        monkeypatch.setattr(precision, "cpu_has_fast_bf16", lambda: native)
        assert precision.use_bf16(cpu, "auto") is native


@pytest.mark.parametrize("name", KINDS)
def test_a_bf16_step_is_the_float32_step_to_bf16_precision(name, tmp_path):
    scalars, grads, dtypes = one_step(name, "bf16", tmp_path / "bf16")
    assert torch.bfloat16 in dtypes, f"{name}: amp = bf16, but no feature map is bf16"
    ref_scalars, ref_grads, ref_dtypes = one_step(name, "off", tmp_path / "fp32")
    assert ref_dtypes == {torch.float32}
    for key, value in ref_scalars.items():
        assert scalars[key].dtype == value.dtype, f"{name}: {key} is {scalars[key].dtype} under bf16"
        # bf16 keeps 8 significant bits: about 0.4% per rounding, a few % after a network's worth of them
        torch.testing.assert_close(scalars[key].float(), value.float(), rtol=0.1, atol=0.05, msg=f"{name}: {key}")
    assert grads.keys() == ref_grads.keys()
    g, ref = (torch.cat([d[k].flatten().float() for k in sorted(d)]) for d in (grads, ref_grads))
    cosine = float(torch.nn.functional.cosine_similarity(g, ref, dim=0))
    assert cosine > 0.98, f"{name}: the bf16 gradient points elsewhere (cosine {cosine:.4f} with float32's)"
