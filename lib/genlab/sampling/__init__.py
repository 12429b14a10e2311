"""Samplers: diffusion (schedules, one loop with per-sampler steps) and Langevin dynamics."""
