"""The model registry: every model kind by name. Adding a kind is one folder plus one line below.

Each entry names a package that holds:

- ``kind.yaml``: what the tools need without importing the kind (no torch): its ``title``, the
  ``notebook`` that teaches and trains it, and its ``smoke`` parameters (a seconds-long CPU run, used
  by the tests, the smoke book and fault injection);
- ``KIND`` in its ``__init__``: a :class:`ModelKind` (config class, training recipe, trained wrapper,
  figures). The trained wrapper's ``options(config, num_classes)`` declares its sampling options; the
  CLI's flags, the service and the comparison read them from there.

More kinds can be plugged in without editing this file: ``GENLAB_KINDS="name=package,..."`` (an
importable package laid out as above).
"""

from __future__ import annotations

import importlib
import importlib.util
import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable

from ..base.config import load_yaml

PACKAGES = {
    "dcgan": "genlab.models.dcgan",
    "stylegan": "genlab.models.stylegan",
    "ddpm": "genlab.models.ddpm",
    "ebm": "genlab.models.ebm",
    "flow": "genlab.models.flow",
}

PLUGINS = "GENLAB_KINDS"


def packages() -> dict[str, str]:
    """Kind name -> package: the built-in kinds, then those named in ``$GENLAB_KINDS``."""
    found = dict(PACKAGES)
    for item in filter(None, (s.strip() for s in os.environ.get(PLUGINS, "").split(","))):
        name, sep, package = item.partition("=")
        if not sep or not name.isidentifier() or not package:
            raise ValueError(f"${PLUGINS} entry {item!r}: write name=package (e.g. toy=mypkg.toy)")
        found[name] = package
    return found


@dataclass(frozen=True)
class ModelKind:
    """A model kind: its config class, its training recipe and its trained wrapper.

    ``recipe(config, data, device)`` returns a :class:`genlab.train.recipe.Recipe`: what the kind
    trains (its networks, one step, the fixed grid); :meth:`train` runs it through the library's
    skeleton (:func:`genlab.train.run.train`). ``data(config)`` loads the training images (default:
    the config's dataset).
    """

    name: str
    config: type  # a genlab.base.config.RunConfig subclass
    recipe: Callable[..., Any]
    trained: type  # a TrainedBase subclass with from_checkpoint(path, device) and options(config, num_classes)
    figures: Any  # the module of the kind's figures
    data: Callable[[Any], Any] | None = None

    def train(self, config):
        """Train (or resume) as ``config`` says; the trained model (every rank returns one)."""
        from ..train.run import train
        return train(config, self.recipe, self.data)

    @property
    def info(self) -> dict[str, Any]:
        return info(self.name)

    @property
    def title(self) -> str:
        return self.info["title"]

    @property
    def notebook(self) -> str:
        return self.info["notebook"]

    @property
    def smoke(self) -> dict[str, Any]:
        return dict(self.info["smoke"])


def names() -> list[str]:
    return list(packages())


def _package(name: str) -> str:
    found = packages()
    if name not in found:
        raise ValueError(f"model '{name}' unknown; choose one of {', '.join(found)}")
    return found[name]


def get(name: str) -> ModelKind:
    return importlib.import_module(_package(name)).KIND


@lru_cache(maxsize=None)
def _read_info(package: str) -> dict[str, Any]:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise ValueError(f"model package {package!r} not found (is it importable?)")
    path = Path(next(iter(spec.submodule_search_locations))) / "kind.yaml"
    values = load_yaml(path.read_text()) if path.exists() else None
    missing = [k for k in ("title", "notebook", "smoke") if not isinstance(values, dict) or k not in values]
    if missing:
        raise ValueError(f"{path}: missing {', '.join(missing)} (every kind declares its title, notebook and "
                         f"smoke parameters there)")
    return values


def info(name: str) -> dict[str, Any]:
    """``{"title", "notebook", "smoke"}`` of kind ``name``, read without importing it (no torch)."""
    return _read_info(_package(name))


def kind_of_notebook(notebook: str | Path) -> str | None:
    """The kind whose chapter ``notebook`` is (any path or executed copy of it: chapter names are unique), or None."""
    for name in names():
        if Path(info(name)["notebook"]).stem == Path(notebook).stem:
            return name
    return None


def sampling_options() -> dict[str, tuple[type, list[str]]]:
    """Every kind's sampling options: name -> (type, help per kind); the CLI makes a flag of each."""
    found: dict[str, tuple[type, list[str]]] = {}
    for name in names():
        kind = get(name)
        for opt in kind.trained.options(kind.config(), 1).values():
            typ, helps = found.setdefault(opt.name, (opt.type, []))
            if typ is not opt.type:
                raise TypeError(f"sampling option '{opt.name}' is a {typ.__name__} in one kind and a "
                                f"{opt.type.__name__} in {name}; one flag cannot take both")
            helps.append(f"{name}: {opt.help}")
    return found


def load_trained(checkpoint: str | Path, device: str = "auto"):
    """Rebuild whatever model ``checkpoint`` holds (its ``model_name`` picks the kind)."""
    from ..train.checkpoint import CheckpointError, load_checkpoint
    ckpt = load_checkpoint(checkpoint)
    name = ckpt.get("model_name")
    if name not in packages():
        raise CheckpointError(f"checkpoint {checkpoint} holds a model of kind {name!r}, which this genlab does not "
                              f"know (kinds: {', '.join(names())})")
    return get(name).trained.from_checkpoint(checkpoint, device=device)


def find_runs(runs_dir: str | Path) -> list[Path]:
    """Checkpoints of every known kind under ``runs_dir`` (``<runs_dir>/<kind>/checkpoint.pt``, any depth)."""
    from ..base.run_folder import CHECKPOINT
    root = Path(runs_dir)
    kinds = set(names())
    return sorted(p for p in root.rglob(CHECKPOINT) if p.parent.name in kinds)
