"""The ADA experiment: one short run on a small training subset, twice, with ADA off and on.

With few images D memorises the reals: r_t = E[sign(D(real))] climbs toward 1 and, without
augmentation, nothing stops it (ADA paper, Karras et al. 2020, §2 and Fig. 1). With ADA the controller
raises p until r_t sits at its target. Each arm is an ordinary run folder, ``<run>_ada_off`` and
``<run>_ada_on``, so both resume and evaluate like any other run.
"""

from __future__ import annotations

from ..registry import get
from .config import StyleGANConfig
from .trained import TrainedStyleGAN


def arms(config: StyleGANConfig) -> dict[str, StyleGANConfig]:
    """The two configs: identical but for ``ada``, on the first ``ada_demo_images`` training images, with
    the weak R1 of ``ada_demo_r1_gamma`` (a strong R1 alone keeps D from memorising them)."""
    if config.ada_demo_images <= 0 or config.ada_demo_steps <= 0:
        raise ValueError("the ADA experiment needs ada_demo_images > 0 and ada_demo_steps > 0 "
                         "(set ada_demo_images = 0 to skip it)")
    base = config.replace(max_train=config.ada_demo_images, max_steps=config.ada_demo_steps, epochs=100_000,
                          augment_p=0.0, ada_kimg=config.ada_demo_kimg, r1_gamma=config.ada_demo_r1_gamma,
                          sample_every=0, checkpoint_every=0)
    return {arm: base.replace(run=f"{config.run}_ada_{arm}", ada=arm == "on") for arm in ("off", "on")}


def run(config: StyleGANConfig) -> dict[str, TrainedStyleGAN]:
    """Train (or resume) both arms; returns {"off": ..., "on": ...}."""
    kind = get("stylegan")
    return {arm: kind.train(cfg) for arm, cfg in arms(config).items()}
