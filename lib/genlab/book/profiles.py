"""Parameter profiles: ``quick`` (the notebooks' own defaults), ``smoke`` and ``full`` (``slurm/params/<profile>``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..base.config import load_yaml
from ..models.registry import info, kind_of_notebook

PROFILES = ("quick", "smoke", "full")


def profile_parameters(notebook: Path, profile: str, root: Path, params_dir: Path | None = None) -> dict[str, Any]:
    """Parameters of ``profile`` for ``notebook``: ``<params_dir or slurm/params/profile>/<stem>.yaml``."""
    if params_dir is None:
        if profile not in PROFILES:
            raise ValueError(f"profile '{profile}' unknown; choose one of {', '.join(PROFILES)} "
                             f"(or pass a parameter folder with --params-dir)")
        if profile == "quick":
            return {}
        params_dir = root / "slurm" / "params" / profile
    path = Path(params_dir) / f"{Path(notebook).stem}.yaml"
    values = load_yaml(path.read_text()) if path.exists() else {}
    if not isinstance(values, dict):
        raise ValueError(f"{path} must hold 'name: value' lines, not {type(values).__name__}")
    kind = kind_of_notebook(notebook)
    if profile == "smoke" and kind:  # a model chapter's smoke run is its kind's (models/<kind>/kind.yaml)
        values = {**info(kind)["smoke"], **values}
    return values
