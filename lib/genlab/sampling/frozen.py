"""Run a network as a fixed function, then hand it back exactly as it was."""

from __future__ import annotations

import contextlib
from typing import Iterator

import torch
from torch import nn


@contextlib.contextmanager
def frozen(model: nn.Module | None, grad: bool = False) -> Iterator[None]:
    """eval() and parameters that take no gradient; grad mode set to ``grad``.

    ``grad=False`` for plain sampling (no autograd at all); ``grad=True`` for Langevin, which
    needs grad_x E while the weights stay untouched. On exit every module's ``training``,
    every parameter's ``requires_grad`` and the global grad mode are restored, also after an
    exception (samplers leave the model as they found it).
    """
    training = [(m, m.training) for m in model.modules()] if model is not None else []
    requires = [(p, p.requires_grad) for p in model.parameters()] if model is not None else []
    grad_mode = torch.is_grad_enabled()
    try:
        if model is not None:
            model.eval()
            model.requires_grad_(False)
        torch.set_grad_enabled(grad)
        yield
    finally:
        torch.set_grad_enabled(grad_mode)
        for p, r in requires:
            p.requires_grad_(r)
        for m, t in training:
            m.training = t
