"""Energy-based model: a CNN energy E_theta(x), trained by contrastive divergence with Langevin sampling."""

from ..registry import ModelKind
from . import figures
from .config import EBMConfig
from .nets import EnergyNet
from .training import cd_loss, check_divergence, train
from .trained import TrainedEBM, ood_auroc

SMOKE = dict(epochs=1, max_steps=4, batch_size=16, base_channels=4, langevin_steps=3, buffer_size=64, sample_steps=8,
             sample_every=1, checkpoint_every=1, eval_samples=32, device="cpu")
KIND = ModelKind("ebm", EBMConfig, train, TrainedEBM, figures, SMOKE)

__all__ = ["EBMConfig", "EnergyNet", "KIND", "TrainedEBM", "cd_loss", "check_divergence", "figures", "ood_auroc",
           "train"]
