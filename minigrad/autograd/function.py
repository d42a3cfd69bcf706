"""``torch.autograd.function``'s public names, for programs that import them from there
(``from torch.autograd.function import Function, once_differentiable``): the same objects as
``mg.autograd.Function``, ``mg.autograd.FunctionCtx`` and ``mg.autograd.once_differentiable``;
``BackwardCFunction`` is the class of a custom Function's ``grad_fn`` (``isinstance(y.grad_fn, BackwardCFunction)``)."""

from __future__ import annotations

from .custom import FunctionCtx, once_differentiable
from .custom import _CustomNode as BackwardCFunction
from .engine import Function

__all__ = ["BackwardCFunction", "Function", "FunctionCtx", "once_differentiable"]
