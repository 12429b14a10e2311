"""One source of parameters: each chapter's parameters cell holds exactly its kind's config defaults.

So `genlab train <kind>` with no -p trains what the chapter trains (the same config.json, one resumes
the other), and the smoke profile of every chapter is its kind's (``models/<kind>/kind.yaml``).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from genlab.book.runner import profile_parameters
from genlab.book.slurm import notebook_defaults
from genlab.models import registry

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("name", registry.names())
def test_the_parameters_cell_is_the_config_default_for_every_field(name):
    kind = registry.get(name)
    cell = notebook_defaults(ROOT / kind.notebook)
    fields = {f.name: f.default for f in dataclasses.fields(kind.config)}
    assert set(cell) == set(fields), (f"{kind.notebook}: fields missing from the cell {sorted(set(fields) - set(cell))}, "
                                      f"unknown to the config {sorted(set(cell) - set(fields))}")
    differ = {k: (v, fields[k]) for k, v in cell.items() if (tuple(v) if isinstance(v, list) else v) != fields[k]}
    assert not differ, f"{kind.notebook}: cell value vs config default {differ}"


@pytest.mark.parametrize("name", registry.names())
def test_the_cli_without_overrides_trains_the_chapters_config(name):
    from genlab.cli import load_params_file
    kind = registry.get(name)
    notebook = kind.config.from_globals(notebook_defaults(ROOT / kind.notebook))
    cli = kind.config.from_dict({**load_params_file(None)})  # what `genlab train <kind>` builds with no -p
    assert cli.to_dict() == notebook.to_dict()
    assert cli.run_dir == notebook.run_dir  # the same run folder: one resumes the other


def test_the_smoke_profile_of_a_chapter_is_its_kinds():
    for name in registry.names():
        kind = registry.get(name)
        params = profile_parameters(Path(kind.notebook), "smoke", ROOT)
        assert params == kind.smoke
        kind.config.from_dict(params)  # valid
    assert "run" in profile_parameters(Path("notebooks/06_compare.ipynb"), "smoke", ROOT)


@pytest.mark.parametrize("profile", ["smoke", "full"])
def test_every_chapter_has_its_profile(profile):
    """A chapter without a profile file would run at its quick defaults, and write under outputs/quick."""
    from genlab.book.toc import toc_notebooks
    for notebook in toc_notebooks(ROOT):
        params = profile_parameters(notebook, profile, ROOT)
        assert params.get("run") == profile, f"{notebook.name}: no slurm/params/{profile}/{notebook.stem}.yaml"


def test_a_plugged_in_kind_needs_its_kind_yaml(tmp_path, monkeypatch):
    (tmp_path / "bare").mkdir()
    (tmp_path / "bare" / "__init__.py").write_text("")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv(registry.PLUGINS, "bare=bare")
    assert "bare" in registry.names()
    with pytest.raises(ValueError, match="missing title, notebook, smoke"):
        registry.info("bare")
    monkeypatch.setenv(registry.PLUGINS, "bare")
    with pytest.raises(ValueError, match="name=package"):
        registry.names()
