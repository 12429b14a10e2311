"""The cost of one request, bounded: a budget of images x network steps, and a meter that enforces it.

Sampling time is close to proportional to n x (network evaluations per image): one for a GAN, ``steps`` for
a diffusion sampler or a Langevin chain. The service refuses, before any work, a request whose predicted
cost n x steps is above its kind's budget (a 422 naming the budget and the largest n at those steps).
A model may declare its own count with ``network_steps(**options)``; otherwise the count is its ``steps``
option (given, or its default), or 1 when it has none.

The prediction cannot see everything (the DDPM's ancestral sampler always runs all its steps), so a
:class:`Meter` also counts the network's forward calls while it samples and stops the work at the budget,
and stops it as soon as the client has gone (``cancel``): the check runs before every network call.
"""

from __future__ import annotations

import threading
from typing import Any

from torch import nn

DEFAULT_BUDGET = 64 * 50  # 64 images at 50 steps (the DDPM's default DDIM); any n x steps up to this


class RequestError(ValueError):
    """A bad field in a request: ``field`` names it, the message says what is allowed."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field


class Abandoned(RuntimeError):
    """The client disconnected; the sampling was stopped at its next network call."""


class OverBudget(RequestError):
    """The sampling ran more network steps than the budget allows (found while it ran)."""


def steps_per_image(model: Any, options: dict[str, Any]) -> int:
    """Network evaluations per image for ``options`` (checked), as the model declares or its 'steps' option."""
    declared = getattr(model, "network_steps", None)
    if callable(declared):
        return int(declared(**options))
    known = model.sampler_options()
    if "steps" in known:
        return int(options.get("steps", known["steps"].default))
    return 1


def check_budget(model: Any, n: int, options: dict[str, Any], budget: int) -> None:
    """RequestError when n x steps per image is above ``budget``, naming the largest n (or steps) allowed."""
    steps = steps_per_image(model, options)
    if n * steps <= budget:
        return
    where = f"this server's budget of {budget} images x network steps per request for a {model.kind}"
    if steps <= budget:
        raise RequestError("n", f"n = {n} images x {steps} steps = {n * steps} is above {where}; at {steps} "
                                f"steps allowed n = 1..{budget // steps} (or ask for fewer steps)")
    raise RequestError("steps", f"{steps} steps per image are above {where}; allowed steps 1..{budget} with n = 1")


class Meter:
    """Counts forward calls of the model's networks while it samples (``with Meter(...): model.sample(...)``).

    Raises :class:`Abandoned` when ``cancel`` is set and :class:`OverBudget` at call ``max_calls + 1`` of any
    one network, before that call runs. The hooks are removed on exit.
    """

    def __init__(self, model: Any, n: int, budget: int, cancel: threading.Event | None = None):
        self.model, self.n, self.budget, self.cancel = model, n, budget, cancel
        self.max_calls = max(1, budget // n)
        self.calls: dict[str, int] = {}
        self._handles: list[Any] = []

    def networks(self) -> dict[str, nn.Module]:
        return {k: v for k, v in vars(self.model).items() if isinstance(v, nn.Module)}

    def _hook(self, name: str):
        def before_call(module, args):
            if self.cancel is not None and self.cancel.is_set():
                raise Abandoned("the client disconnected")
            self.calls[name] = self.calls.get(name, 0) + 1
            if self.calls[name] > self.max_calls:
                raise OverBudget("n", f"the sampling was stopped after {self.max_calls} network steps per image: "
                                      f"n = {self.n} x more steps is above this server's budget of {self.budget} "
                                      f"images x network steps per request for a {self.model.kind} (this "
                                      f"sampler runs more steps than its 'steps' option says); ask for fewer "
                                      f"images or another sampler")
        return before_call

    def __enter__(self) -> "Meter":
        if self.cancel is not None and self.cancel.is_set():  # gone while queued: do not start
            raise Abandoned("the client disconnected")
        for name, net in self.networks().items():
            self._handles.append(net.register_forward_pre_hook(self._hook(name)))
        return self

    def __exit__(self, *exc: Any) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles.clear()
