"""What one generation request may ask for, and its validation against the model's own sampler options.

The body's fixed fields (model, n, labels, seed, output) are checked by pydantic; every other field
is a sampling option, checked against the chosen model's ``sampler_options()`` (type, range,
choices) and against the service's caps below. Every rejection is a :class:`RequestError` that names
the field and what is allowed; the app turns it into a 422.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, Union

import torch
from pydantic import BaseModel, ConfigDict, Field

from ..data import balanced_labels


class RequestError(ValueError):
    """A bad field in a request: ``field`` names it, the message says what is allowed."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class Limits:
    """Caps per request, so that one request cannot occupy a worker for minutes or exhaust memory."""

    max_n: int = 64  # images per request
    max_steps: int = 1000  # sampling steps (any option called 'steps')
    max_pixels: int = 64 * 64 * 64  # n x height x width, summed over the request

    def describe(self) -> dict[str, int]:
        return {"max_n": self.max_n, "max_steps": self.max_steps, "max_pixels": self.max_pixels}


class GenerateRequest(BaseModel):
    """POST /generate body. Extra fields are sampling options (sampler, steps, guidance, eta, ...)."""

    model_config = ConfigDict(extra="allow", json_schema_extra={"examples": [
        {"model": "quick/dcgan", "n": 8, "labels": [7], "seed": 0, "output": "json"},
        {"model": "quick/ddpm", "n": 8, "labels": "balanced", "seed": 1, "sampler": "ddim", "steps": 20,
         "guidance": 2.0, "output": "png"}]})

    model: str | None = Field(None, description="model name from GET /models (a kind name works when only one "
                                                 "model of that kind is loaded)")
    n: int = Field(8, ge=1, description="number of images")
    labels: Union[Literal["balanced"], int, list[int], None] = Field(
        "balanced", description="class index, list of class indices (cycled to n), or 'balanced'")
    seed: int = Field(0, ge=0, le=2**63 - 1, description="same request + same seed = same images")
    output: Literal["png", "json"] = Field("json", description="png: one grid image; json: base64 PNGs + timing")

    def options(self) -> dict[str, Any]:
        return dict(self.model_extra or {})


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
        option = known[key]
        try:
            options[key] = option.check(value)
        except ValueError as exc:
            raise RequestError(key, str(exc)) from None
        if key == "steps" and options[key] > limits.max_steps:
            high = min(limits.max_steps, option.high or limits.max_steps)
            raise RequestError(key, f"steps = {options[key]} is above this server's limit; allowed "
                                    f"{int(option.low or 1)}..{int(high)}")
    default_steps = known.get("steps")
    if "steps" not in options and default_steps is not None and default_steps.default > limits.max_steps:
        raise RequestError("steps", f"this model's default steps ({default_steps.default}) is above the server's "
                                    f"limit; ask for steps in 1..{limits.max_steps}")
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
        raise RequestError("labels", f"labels {bad} out of range; allowed 0..{num_classes - 1} "
                                     f"({', '.join(class_names)})")
    reps = -(-req.n // len(labels))
    return torch.tensor(labels * reps, dtype=torch.int64)[:req.n]
