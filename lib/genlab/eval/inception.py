"""Standard FID with Inception-v3, only when its weights are already on disk (genlab never downloads them).

Needs the ``torch-fidelity`` package and ``pt_inception-2015-12-05-6726825d.pth``: set
``GENLAB_INCEPTION_WEIGHTS`` to its path, or put it at ``<data_dir>/inception/``.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch

from ..base.paths import resolve_path

INCEPTION_ENV = "GENLAB_INCEPTION_WEIGHTS"
INCEPTION_FILE = "pt_inception-2015-12-05-6726825d.pth"


def inception_weights(data_dir: str | Path = "data") -> tuple[Path | None, str]:
    """(path, "") when standard FID can run offline, else (None, the reason)."""
    try:
        import torch_fidelity  # noqa: F401
    except ImportError:
        return None, "torch-fidelity is not installed (pip install torch-fidelity)"
    env = os.environ.get(INCEPTION_ENV)
    path = Path(env).expanduser() if env else resolve_path(data_dir) / "inception" / INCEPTION_FILE
    if not path.is_file():
        return None, f"no Inception-v3 weights at {path} (set {INCEPTION_ENV} to {INCEPTION_FILE})"
    return path, ""


def inception_fid(real: torch.Tensor, fakes: dict[str, torch.Tensor], weights: Path, device: torch.device,
                  batch_size: int = 100) -> dict[str, float]:
    """Standard FID (Inception-v3 pool3, 2048-d) of each uint8 set in ``fakes`` against ``real``.

    Grayscale is repeated to 3 channels; torch-fidelity's extractor resizes to 299 x 299.
    """
    from torchmetrics.image.fid import FrechetInceptionDistance
    fid = FrechetInceptionDistance(feature=2048, reset_real_features=False,
                                   feature_extractor_weights_path=str(weights)).to(device)
    rgb = (lambda x: x.expand(-1, 3, -1, -1) if x.shape[1] == 1 else x)
    for i in range(0, len(real), batch_size):
        fid.update(rgb(real[i:i + batch_size]).to(device), real=True)
    out = {}
    for name, fake in fakes.items():
        fid.reset()
        for i in range(0, len(fake), batch_size):
            fid.update(rgb(fake[i:i + batch_size]).to(device), real=False)
        out[name] = float(fid.compute())
    return out
