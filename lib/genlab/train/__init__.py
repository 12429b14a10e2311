"""Training: the fit loop, checkpoints, EMA, stop signals, devices and RNG, timing."""
