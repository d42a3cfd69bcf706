"""``torch.autograd.Variable`` as PyTorch (0.4 on) keeps it for older programs.

``Variable(t)`` / ``Variable(t, requires_grad=True)`` give a Tensor that shares ``t``'s memory, detached
from ``t``'s graph, with ``requires_grad`` as asked; every Tensor is an instance of ``Variable``, and
``volatile=True`` only warns (PyTorch removed it: ``with mg.no_grad():`` is its replacement).
"""

from __future__ import annotations

import warnings
from typing import Any

from ..tensor import Tensor

__all__ = ["Variable"]


class _VariableType(type):
    def __call__(cls, data: Any = None, requires_grad: bool = False, volatile: bool = False) -> Tensor:
        if not isinstance(data, Tensor):
            raise TypeError(f"Variable data has to be a tensor, but got {type(data).__name__}")
        if volatile:
            warnings.warn("volatile was removed and now has no effect. Use `with torch.no_grad():` instead.",
                          UserWarning, stacklevel=2)
        return data.detach().requires_grad_(bool(requires_grad))

    def __instancecheck__(cls, obj: Any) -> bool:
        return isinstance(obj, Tensor)

    def __subclasscheck__(cls, subclass: type) -> bool:
        return issubclass(subclass, Tensor)


class Variable(metaclass=_VariableType):
    """PyTorch's legacy ``Variable(data, requires_grad=False, volatile=False)``: ``data`` (any shape) as a
    detached Tensor of the same shape and memory; see the module's docstring."""
