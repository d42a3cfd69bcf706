"""``torch.autograd.function``'s public names, for programs that import them from there
(``from torch.autograd.function import Function, once_differentiable``): the same objects as
``mg.autograd.Function``, ``mg.autograd.FunctionCtx`` and ``mg.autograd.once_differentiable``."""

from __future__ import annotations

from .custom import FunctionCtx, once_differentiable
from .engine import Function

__all__ = ["Function", "FunctionCtx", "once_differentiable"]
