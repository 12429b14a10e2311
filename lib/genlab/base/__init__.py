"""The base layer: config parsing, paths, atomic files and the run-folder layout, run logs.

Nothing here imports torch, so the book runner and the Slurm helpers start fast on a login node.
"""
