"""Validated, frozen run configurations built from a notebook's parameters cell.

A notebook's ``parameters`` cell is a block of literals. The next cell calls
``SomeConfig.from_globals(globals())``, which keeps only the user's literal
values and rejects unknown names, wrong types and out-of-range values with a
message that names the parameter and what is allowed.

Fields declare their constraints through ``param(default, ...)``::

    @dataclass(frozen=True)
    class MyConfig(Config):
        lr: float = param(2e-4, low=0, low_open=True, high=1, help="Adam learning rate")
        dataset: str = param("mnist5k", help="dataset name", check=check_dataset)
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import re
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import yaml

from .paths import resolve_path

_LITERAL_TYPES = (bool, int, float, str, type(None), list, tuple, dict)
# Seeds: derived seeds (seed * 1_000_003 + epoch, seed + small offsets) must stay inside torch's 64-bit range.
SEED_MAX = 2**32 - 1
INT_MAX = 2**63 - 1  # any other integer parameter: what torch and numpy can hold
_IPYTHON_NAMES = {"In", "Out", "get_ipython", "exit", "quit", "open"}


def param(default: Any, *, low: float | None = None, high: float | None = None,
          low_open: bool = False, choices: tuple | None = None,
          check: Callable[[str, Any], None] | None = None, help: str = "",
          arch: bool = False, resumable: bool = False) -> Any:
    """A config field with validation metadata (see module docstring).

    ``arch``: the field shapes the networks (a checkpoint's weights only fit the same value).
    ``resumable``: the field may change when a run resumes (it does not change what is learned).
    """
    meta = {"low": low, "high": high, "low_open": low_open, "choices": choices,
            "check": check, "help": help, "arch": arch, "resumable": resumable}
    if isinstance(default, (list, dict)):
        raise TypeError("use tuples for sequence defaults so configs stay frozen")
    return field(default=default, metadata=meta)


def _type_name(tp: Any) -> str:
    return getattr(tp, "__name__", str(tp))


def _coerce(name: str, value: Any, tp: Any) -> Any:
    """Check ``value`` against the annotation ``tp``; return it converted (int->float, list->tuple)."""
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin is typing.Union or origin is types.UnionType:
        if value is None and type(None) in args:
            return None
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _coerce(name, value, arg)
            except (TypeError, ValueError):
                continue
        raise TypeError(f"parameter '{name}' = {value!r} has the wrong type; expected "
                        f"{' or '.join(_type_name(a) for a in args)}")
    if origin is tuple:
        if not isinstance(value, (list, tuple)):
            raise TypeError(f"parameter '{name}' = {value!r} must be a list of values")
        inner = args[0] if args else Any
        return tuple(_coerce(name, v, inner) for v in value) if inner is not Any else tuple(value)
    if tp is Any:
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise TypeError(f"parameter '{name}' = {value!r} must be a number (float)")
        return float(value)
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            if isinstance(value, float) and value.is_integer():
                return int(value)
            raise TypeError(f"parameter '{name}' = {value!r} must be a whole number (int)")
        return value
    if tp is bool:
        if not isinstance(value, bool):
            raise TypeError(f"parameter '{name}' = {value!r} must be True or False")
        return value
    if tp is str:
        if not isinstance(value, str):
            raise TypeError(f"parameter '{name}' = {value!r} must be a string")
        return value
    return value


@dataclass(frozen=True)
class Config:
    """Base class: frozen dataclass that validates itself on construction."""

    def __post_init__(self) -> None:
        hints = typing.get_type_hints(type(self))
        for f in dataclasses.fields(self):
            value = _coerce(f.name, getattr(self, f.name), hints[f.name])
            object.__setattr__(self, f.name, value)
            meta = f.metadata
            if value is None:
                continue
            if meta.get("choices") is not None and value not in meta["choices"]:
                raise ValueError(f"parameter '{f.name}' = {value!r} is not allowed; choose one of "
                                 f"{', '.join(map(repr, meta['choices']))}")
            for item in (value if isinstance(value, tuple) else (value,)):
                if isinstance(item, float) and not math.isfinite(item):
                    raise ValueError(f"parameter '{f.name}' = {item!r} must be a finite number")
                if isinstance(item, (int, float)) and not isinstance(item, bool):
                    low, high = meta.get("low"), meta.get("high")
                    if isinstance(item, int) and high is None:
                        high = INT_MAX
                    too_low = low is not None and (item <= low if meta.get("low_open") else item < low)
                    if too_low or (high is not None and item > high):
                        lo = "-inf" if low is None else low
                        hi = "inf" if high is None else high
                        bracket = "(" if meta.get("low_open") else "["
                        raise ValueError(f"parameter '{f.name}' = {item!r} is out of range; allowed "
                                         f"{bracket}{lo}, {hi}]")
            if meta.get("check") is not None:
                meta["check"](f.name, value)
        self.validate()

    def validate(self) -> None:
        """Cross-field checks; subclasses override and raise ValueError naming the parameters."""

    @classmethod
    def field_names(cls) -> list[str]:
        return [f.name for f in dataclasses.fields(cls)]

    @classmethod
    def from_dict(cls, values: dict[str, Any]):
        """Build from a mapping; unknown keys raise ValueError with the closest valid name."""
        names = cls.field_names()
        unknown = [k for k in values if k not in names]
        if unknown:
            hints = []
            for k in unknown:
                close = difflib.get_close_matches(k, names, n=1)
                hints.append(f"'{k}'" + (f" (did you mean '{close[0]}'?)" if close else ""))
            raise ValueError(f"unknown parameter {', '.join(hints)} for {cls.__name__}; "
                             f"valid parameters: {', '.join(names)}")
        return cls(**values)

    @classmethod
    def from_globals(cls, namespace: dict[str, Any]):
        """Build from a notebook's ``globals()``: keeps public names bound to literal values."""
        values = {k: v for k, v in namespace.items()
                  if not k.startswith("_") and k not in _IPYTHON_NAMES and isinstance(v, _LITERAL_TYPES)}
        return cls.from_dict(values)

    def to_dict(self) -> dict[str, Any]:
        return {f.name: (list(v) if isinstance(v := getattr(self, f.name), tuple) else v)
                for f in dataclasses.fields(self)}

    def replace(self, **changes: Any):
        return dataclasses.replace(self, **changes)

    def describe(self) -> str:
        """One line per parameter with its help text, for notebooks and --help."""
        lines = []
        for f in dataclasses.fields(self):
            lines.append(f"{f.name} = {getattr(self, f.name)!r}  # {f.metadata.get('help', '')}")
        return "\n".join(lines)

    @classmethod
    def resumable_fields(cls) -> frozenset[str]:
        """Fields marked ``resumable``: a run may resume with other values of these."""
        return frozenset(f.name for f in dataclasses.fields(cls) if f.metadata.get("resumable"))

    @classmethod
    def arch_fields(cls) -> tuple[str, ...]:
        """Fields marked ``arch``: they fix the networks' shapes."""
        return tuple(f.name for f in dataclasses.fields(cls) if f.metadata.get("arch"))

    def changed(self) -> dict[str, Any]:
        """The fields whose value differs from the class default (what a reader needs to see)."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)
                if getattr(self, f.name) != f.default}


# ----------------------------------------------------------------------------- checks shared by configs

DATASETS = ("mnist5k", "mnist", "fashion_mnist", "cifar10")
DOWNLOADABLE = ("mnist", "fashion_mnist", "cifar10")


def check_dataset(param_name: str, name: str) -> None:
    """Raise ValueError naming ``param_name`` unless ``name`` is a known dataset."""
    if name in DATASETS or (name.startswith("folder:") and len(name) > len("folder:")):
        return
    raise ValueError(f"parameter '{param_name}': dataset '{name}' unknown; choose one of "
                     f"{', '.join(DATASETS)}, folder:<path>")


def check_device(param_name: str, name: str) -> None:
    """``name`` must be a device spelling ``genlab.train.devices.select_device`` understands."""
    if name in ("auto", "cpu", "mps", "cuda") or (name.startswith("cuda:") and name[5:].isdigit()):
        return
    raise ValueError(f"parameter '{param_name}' = '{name}' unknown; choose auto, cpu, cuda, cuda:N or mps")


@dataclass(frozen=True)
class RunConfig(Config):
    """The fields every training run has; a model's config subclasses it and adds its own.

    ``model`` (a class attribute, not a field) names the run folder ``<output_dir>/<run>/<model>``.
    A subclass redeclares a field to change its default.
    """

    model = ""

    run: str = param("quick", resumable=True, help="run name: results go to <output_dir>/<run>/<model>")
    dataset: str = param("mnist5k", check=check_dataset, help="mnist5k, mnist, fashion_mnist, cifar10, folder:<path>")
    seed: int = param(0, low=0, high=SEED_MAX, help="seed for initialisation, batches and fixed noise")
    epochs: int = param(10, low=1, high=100_000, resumable=True, help="passes over the training split")
    sample_every: int = param(2, low=0, resumable=True, help="save a sample grid every N epochs (0 = only at the end)")
    checkpoint_every: int = param(5, low=0, resumable=True, help="checkpoint every N epochs (always at the end)")
    max_steps: int = param(0, low=0, resumable=True,
                           help="stop after this many steps in total (0 = epochs decide; for smoke runs)")
    time_budget_s: float = param(0.0, low=0, resumable=True,
                                 help="checkpoint and stop after this many seconds (0 = no limit)")
    eval_samples: int = param(500, low=4, resumable=True, help="samples scored by the evaluation at the end")
    device: str = param("auto", check=check_device, resumable=True,
                        help="auto (CUDA, then MPS, then CPU), cpu, cuda, mps")
    tensorboard: bool = param(False, resumable=True, help="also log scalars and grids to <run dir>/tensorboard")
    logger: str = param("none", choices=("none", "tensorboard", "wandb", "both"), resumable=True,
                        help="none, tensorboard, wandb (Weights & Biases; offline without an API key) or both")
    data_dir: str = param("data", resumable=True, help="where downloaded datasets live")
    output_dir: str = param("outputs", resumable=True,
                            help="root of all runs (relative paths: from the project root)")

    @property
    def run_dir(self) -> Path:
        return resolve_path(self.output_dir) / self.run / self.model

    def total_steps(self, steps_per_epoch: int) -> int:
        total = self.epochs * steps_per_epoch
        return min(self.max_steps, total) if self.max_steps else total


class _Yaml12Booleans(yaml.SafeLoader):
    """YAML with YAML 1.2's booleans (true and false only): ``off``, ``on``, ``yes`` and ``no`` stay strings,
    so ``amp: off`` means the choice "off", not False."""


_Yaml12Booleans.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()}
_Yaml12Booleans.add_implicit_resolver("tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"),
                                      list("tTfF"))


def load_yaml(text: str) -> Any:
    """Parameter values from YAML text (files, ``-p`` values) with YAML 1.2 booleans (:class:`_Yaml12Booleans`)."""
    return yaml.load(text, Loader=_Yaml12Booleans)


def parse_assignments(items: list[str] | None) -> dict[str, Any]:
    """``["lr=1e-3", "conditional=false"]`` -> ``{"lr": 0.001, "conditional": False}`` (YAML values)."""
    out = {}
    for item in items or []:
        if "=" not in item or not item.split("=", 1)[0].strip():
            raise ValueError(f"-p {item!r}: write parameters as name=value, e.g. -p epochs=5")
        key, value = item.split("=", 1)
        parsed = load_yaml(value)
        if isinstance(parsed, str):  # YAML 1.1 reads 2e-4 (no dot) as a string; a number was meant
            try:
                parsed = float(parsed)
            except ValueError:
                pass
        out[key.strip()] = parsed
    return out


def redefault(name: str, default: Any) -> Any:
    """The :class:`RunConfig` field ``name`` with another default (a kind's quick profile), same checks and help."""
    return field(default=default, metadata=RunConfig.__dataclass_fields__[name].metadata)
