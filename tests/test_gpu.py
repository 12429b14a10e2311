"""The CUDA paths, where a GPU exists: each kind's training step and sampler on CUDA in the precision
the code picks there, bf16 against fp32, samples on CUDA against the CPU's, and a 1-process NCCL group.

Without CUDA every test here skips with that reason (listed in tests/expected_skips.txt);
``benchmarks/gpu_check.py`` runs them on a GPU node together with the GPU measurements.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from genlab.models import registry

ROOT = Path(__file__).resolve().parents[1]
pytestmark = [pytest.mark.gpu,
              pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA (a GPU node: make gpu-check)")]
# bf16 keeps 8 bits of mantissa: one U-Net forward agrees with float32 to about 1e-2 relative.
BF16_RTOL = 5e-2


def smoke(name: str, tmp_path: Path, **extra):
    kind = registry.get(name)
    return kind, kind.config.from_dict({**kind.smoke, "device": "cuda", "output_dir": str(tmp_path), **extra})


@pytest.mark.parametrize("name", registry.names())
def test_every_kind_trains_and_samples_on_cuda(name, tmp_path):
    kind, config = smoke(name, tmp_path)
    trained = kind.train(config)
    assert trained.device.type == "cuda" and trained.step == config.max_steps
    ckpt = torch.load(config.run_dir / "checkpoint.pt", weights_only=True, map_location="cpu")
    assert all(torch.isfinite(t).all() for m in ckpt["model"].values() for t in m.values() if t.is_floating_point())
    images = trained.sample(8, seed=0)
    assert images.shape[0] == 8 and images.dtype == torch.uint8 and images.device.type == "cpu"
    assert torch.equal(images, trained.sample(8, seed=0))  # same seed, same images on the GPU too


def test_ddpm_bf16_and_fp32_agree_on_cuda():
    from genlab.models.ddpm import DDPMConfig
    from genlab.models.ddpm.trained import autocast, build, use_bf16
    device = torch.device("cuda")
    assert use_bf16(device, "auto")  # the precision the code picks on CUDA
    net, diffusion = build(DDPMConfig(), 1, 10)
    net, diffusion = net.to(device).eval(), diffusion.to(device)
    for p in net.parameters():  # zero-initialised output layers would make both sides 0
        p.data.normal_(0, 0.02)
    x = torch.randn(16, 1, 28, 28, device=device).contiguous(memory_format=torch.channels_last)
    t = torch.randint(0, 1000, (16,), device=device)
    y = torch.randint(0, 10, (16,), device=device)
    with torch.no_grad():
        fp32 = net(x, t, y).float()
        with autocast(device, "bf16"):
            bf16 = net(x, t, y).float()
    assert (bf16 - fp32).norm() / fp32.norm() < BF16_RTOL


@pytest.mark.parametrize("sampler", ["ddim", "dpm++"])
def test_ddpm_samplers_on_cuda_match_the_cpu(sampler, tmp_path):
    kind, config = smoke("ddpm", tmp_path, amp="off")
    kind.train(config)
    path = config.run_dir / "checkpoint.pt"
    cpu, cuda = registry.load_trained(path, "cpu"), registry.load_trained(path, "cuda")
    a = cpu.sample(8, seed=0, sampler=sampler, steps=10).float()
    b = cuda.sample(8, seed=0, sampler=sampler, steps=10).float()
    assert (a - b).abs().mean() < 1.0  # uint8 levels: the same images up to rounding of a few pixels


def test_a_one_process_nccl_group_through_the_distributed_setup():
    code = ("from genlab.train import distributed; import torch.distributed as dist; "
            "d = distributed.setup('cuda'); print(d.type, dist.get_backend(), dist.get_world_size())")
    env = {**os.environ, "PYTHONPATH": str(ROOT / "lib"), "RANK": "0", "WORLD_SIZE": "1", "LOCAL_RANK": "0",
           "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": "29517"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split() == ["cuda", "nccl", "1"]
