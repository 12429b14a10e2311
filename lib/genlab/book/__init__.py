"""The book: executing notebooks with papermill, building with jupyter-book, and the Slurm helpers (no torch)."""
