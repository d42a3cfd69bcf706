"""All differentiable ops, and their binding to Tensor operators and methods.

Each op lives in one place (a ``Function`` subclass plus a public function);
this module only attaches those functions to :class:`Tensor` so that both
spellings exist: ``x.tanh()`` and ``mg.tanh(x)``.
"""

from __future__ import annotations

from typing import Any

from .. import backend
from ..tensor import Tensor
from ._util import sum_to, unwrap
from .elementwise import (
    abs,
    add,
    clip,
    div,
    exp,
    log,
    maximum,
    minimum,
    mul,
    neg,
    pow,
    relu,
    sigmoid,
    sqrt,
    sub,
    tanh,
    where,
)
from .linalg import matmul
from .reduce import log_softmax, logsumexp, max, mean, min, softmax, sum, var
from .shape import (
    astype,
    broadcast_to,
    chunk,
    concat,
    expand_dims,
    getitem,
    reshape,
    split,
    squeeze,
    stack,
    swapaxes,
    to_device,
    transpose,
    unbind,
)

__all__ = [
    "abs", "add", "astype", "broadcast_to", "chunk", "clip", "concat", "div", "exp",
    "expand_dims", "getitem", "log", "log_softmax", "logsumexp", "matmul", "max", "maximum",
    "mean", "min", "minimum", "mul", "neg", "pow", "relu", "reshape", "sigmoid", "softmax",
    "split", "sqrt", "squeeze", "stack", "sub", "sum", "sum_to", "swapaxes", "tanh", "to_device",
    "transpose", "unbind", "var", "where",
]


def _compare(name: str, op: Any) -> Any:
    def compare(self: Tensor, other: Any) -> Tensor:
        other = unwrap(other)
        try:
            result = op(self.data, other)
        except (ValueError, TypeError) as error:
            raise type(error)(f"{name}: {error} (shapes {self.shape} and {getattr(other, 'shape', ())})") from error
        if not backend.is_array(result):
            result = backend.numpy.asarray(result)   # NumPy gives a scalar for 0-d operands
        return Tensor._make(result, False, None, 0)
    compare.__name__ = name
    compare.__doc__ = f"Elementwise ``{name}`` comparison: a bool tensor with no gradient."
    return compare


def _reflected(fn: Any) -> Any:
    def reflected(self: Tensor, other: Any) -> Tensor:
        return fn(other, self)
    return reflected


def _where_method(self: Tensor, condition: Any, other: Any) -> Tensor:
    """``x.where(condition, y)``: x where condition is true, else y (PyTorch's method spelling)."""
    return where(condition, self, other)


_methods = {
    "__add__": add, "__radd__": add,
    "__sub__": sub, "__rsub__": _reflected(sub),
    "__mul__": mul, "__rmul__": mul,
    "__truediv__": div, "__rtruediv__": _reflected(div),
    "__pow__": pow, "__rpow__": _reflected(pow),
    "__matmul__": matmul, "__rmatmul__": _reflected(matmul),
    "__neg__": neg, "__getitem__": getitem, "__abs__": abs,
    "exp": exp, "log": log, "tanh": tanh, "sigmoid": sigmoid, "relu": relu, "abs": abs,
    "sqrt": sqrt, "clip": clip, "clamp": clip, "maximum": maximum, "minimum": minimum,
    "sum": sum, "mean": mean, "max": max, "min": min, "var": var, "logsumexp": logsumexp,
    "softmax": softmax, "log_softmax": log_softmax, "matmul": matmul,
    "reshape": reshape, "view": reshape, "transpose": transpose, "swapaxes": swapaxes,
    "expand_dims": expand_dims, "unsqueeze": expand_dims, "squeeze": squeeze,
    "broadcast_to": broadcast_to, "chunk": chunk, "split": split, "unbind": unbind, "where": _where_method,
}
for _name, _fn in _methods.items():
    setattr(Tensor, _name, _fn)

_comparisons = {
    "__lt__": lambda a, b: a < b, "__le__": lambda a, b: a <= b,
    "__gt__": lambda a, b: a > b, "__ge__": lambda a, b: a >= b,
    "__eq__": lambda a, b: a == b, "__ne__": lambda a, b: a != b,
}
for _name, _op in _comparisons.items():
    setattr(Tensor, _name, _compare(_name.strip("_"), _op))
