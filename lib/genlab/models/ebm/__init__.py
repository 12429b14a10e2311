"""Energy-based model: a CNN energy E_theta(x), trained by contrastive divergence with Langevin sampling."""

from ..registry import ModelKind
from . import figures
from .config import EBMConfig
from .nets import EnergyNet
from .training import cd_loss, check_divergence, recipe
from .trained import TrainedEBM, ood_auroc

KIND = ModelKind("ebm", EBMConfig, recipe, TrainedEBM, figures)
train = KIND.train  # train (or resume) a run: the notebook's one call

__all__ = ["EBMConfig", "EnergyNet", "KIND", "TrainedEBM", "cd_loss", "check_divergence", "figures", "ood_auroc",
           "train"]
