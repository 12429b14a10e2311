"""genlab: image generative models (DCGAN, DDPM, EBM) for a notebook-centric course."""

__version__ = "0.1.0"
