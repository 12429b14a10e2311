"""What one generation request may ask for, and its validation against the model's own sampler options.

The body's fixed fields (model, n, labels, seed, output) are checked by pydantic, strictly: a boolean or a
string is not a number. Every other field is a sampling option, checked against the chosen model's
``sampler_options()`` (type, range, choices), and the request as a whole against the service's caps and
its cost budget (:mod:`genlab.serve.budget`). Every rejection is a :class:`RequestError` that names the
field and what is allowed; the app turns it into a 422.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Literal, Union

import torch
from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr

from ..base.config import SEED_MAX
from ..data import balanced_labels
from .budget import DEFAULT_BUDGET, RequestError, check_budget

LARGEST_NUMBER = 2**63 - 1  # any number in a request beyond this is refused before a model sees it


@dataclass(frozen=True)
class Limits:
    """Caps per request, so that one request cannot occupy a worker for minutes or exhaust memory.

    ``budget`` bounds the work: n x network steps (see :mod:`genlab.serve.budget`), per model kind
    (``budgets`` overrides the default for some kinds).
    """

    max_n: int = 64  # images per request
    max_steps: int = 1000  # network steps per image (any option called 'steps')
    max_pixels: int = 64 * 64 * 64  # n x height x width, summed over the request
    max_body_bytes: int = 64 * 1024  # a request body beyond this is a 413 before it is read whole
    budget: int = DEFAULT_BUDGET
    budgets: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for kind, value in {"default": self.budget, **self.budgets}.items():
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"--budget {kind}={value!r}: the budget must be a whole number >= 1 "
                                 f"(images x network steps per request)")

    def budget_for(self, kind: str) -> int:
        return self.budgets.get(kind, self.budget)

    def describe(self, kinds: list[str] | None = None) -> dict[str, Any]:
        from ..models.registry import names
        return {"max_n": self.max_n, "max_steps": self.max_steps, "max_pixels": self.max_pixels,
                "max_body_bytes": self.max_body_bytes,
                "budget": {kind: self.budget_for(kind) for kind in (kinds or names())},
                "budget_unit": "images x network steps per request (n x steps; 1 step for a GAN)"}


class GenerateRequest(BaseModel):
    """POST /generate body. Extra fields are sampling options (sampler, steps, guidance, eta, ...)."""

    model_config = ConfigDict(extra="allow", json_schema_extra={"examples": [
        {"model": "quick/dcgan", "n": 8, "labels": [7], "seed": 0, "output": "json"},
        {"model": "quick/ddpm", "n": 8, "labels": "balanced", "seed": 1, "sampler": "ddim", "steps": 20,
         "guidance": 2.0, "output": "png"}]})

    model: StrictStr | None = Field(None, description="model name from GET /models (a kind name works when only "
                                                      "one model of that kind is loaded)")
    n: StrictInt = Field(8, ge=1, description="number of images (at most the server's max_n, see GET /models)")
    labels: Union[Literal["balanced"], StrictInt, list[StrictInt], None] = Field(
        "balanced", description="class index, list of class indices (cycled to n), or 'balanced'")
    seed: StrictInt = Field(0, ge=0, le=SEED_MAX, description="same request + same seed = same images")
    output: Literal["png", "json"] = Field("json", description="png: one grid image; json: base64 PNGs + timing")

    def options(self) -> dict[str, Any]:
        return dict(self.model_extra or {})


def check_number(key: str, value: Any) -> None:
    """Non-finite and overflowing numbers never reach a model (``int(inf)`` would be a 500)."""
    if isinstance(value, float) and not math.isfinite(value):
        raise RequestError(key, f"{key} = {value}: not a finite number")
    if isinstance(value, (int, float)) and not isinstance(value, bool) and abs(value) > LARGEST_NUMBER:
        raise RequestError(key, f"{key} = {str(value)[:12]}...: too large a number")


def check_request(req: GenerateRequest, model: Any, limits: Limits) -> tuple[torch.Tensor | None, dict[str, Any]]:
    """(labels as n int64 or None, checked sampling options), or RequestError naming the bad field."""
    if req.n > limits.max_n:
        raise RequestError("n", f"n = {req.n} is above this server's limit; allowed 1..{limits.max_n}")
    channels, height, width = model.image_shape()
    if req.n * height * width > limits.max_pixels:
        most = max(1, limits.max_pixels // (height * width))
        raise RequestError("n", f"n = {req.n} images of {height}x{width} exceed the limit of {limits.max_pixels} "
                                f"pixels per request; allowed n = 1..{most}")
    labels = check_labels(req, model.num_classes, model.class_names)
    known = model.sampler_options()
    options = req.options()
    for key, value in options.items():
        if key not in known:
            raise RequestError(key, f"{key!r} is not a sampling option of this {model.kind}; allowed: "
                                    f"{', '.join(known) or 'none'}")
        check_number(key, value)
        option = known[key]
        try:
            options[key] = option.check(value)
        except (ValueError, OverflowError) as exc:
            raise RequestError(key, str(exc)) from None
        if key == "steps" and options[key] > limits.max_steps:
            high = min(limits.max_steps, option.high or limits.max_steps)
            raise RequestError(key, f"steps = {options[key]} is above this server's limit; allowed "
                                    f"{int(option.low or 1)}..{int(high)}")
    default_steps = known.get("steps")
    if "steps" not in options and default_steps is not None and default_steps.default > limits.max_steps:
        raise RequestError("steps", f"this model's default steps ({default_steps.default}) is above the server's "
                                    f"limit; ask for steps in 1..{limits.max_steps}")
    check_budget(model, req.n, options, limits.budget_for(model.kind))
    return labels, options


def check_labels(req: GenerateRequest, num_classes: int, class_names: tuple[str, ...]) -> torch.Tensor | None:
    """Class labels for n images: one class, a list cycled to n, or balanced; None for unconditional models."""
    if not num_classes:
        if req.labels not in (None, "balanced"):
            raise RequestError("labels", "this model is unconditional; leave 'labels' out or set it to 'balanced'")
        return None
    if req.labels in (None, "balanced"):
        return balanced_labels(req.n, num_classes)
    labels = [req.labels] if isinstance(req.labels, int) else list(req.labels)
    if not labels:
        raise RequestError("labels", "labels is an empty list; give class indices or 'balanced'")
    bad = [c for c in labels if not 0 <= c < num_classes]
    if bad:
        raise RequestError("labels", f"labels {bad[:8]} out of range; allowed 0..{num_classes - 1} "
                                     f"({', '.join(class_names)})")
    reps = -(-req.n // len(labels))
    return torch.tensor(labels * reps, dtype=torch.int64)[:req.n]
