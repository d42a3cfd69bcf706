"""Bitwise ops with PyTorch's names and operators: ``a & b``, ``a | b``, ``a ^ b``, ``~a``, ``a << n``,
``a >> n`` and their in-place forms (``mask &= other``), on integer and bool tensors.

The everyday use is combining masks: ``valid & ~padding``. On bool tensors ``&``/``|``/``^``/``~``
are the logical ops; on integers they work bit by bit. Results follow NumPy's promotion (bool with
bool stays bool; a Python int makes a bool tensor int64, as in PyTorch). Like comparisons, the
results carry no gradient, and an ``mg.compile`` replay recomputes them from the new values.
Float tensors are refused, as PyTorch refuses them.
"""

from __future__ import annotations

import numbers
from typing import Any, Callable

import numpy

from .. import backend
from ..tensor import Tensor
from ._util import same_device
from .inplace import _inplace
from .math import _bool_result, _xp_of

__all__ = ["bitwise_and", "bitwise_left_shift", "bitwise_not", "bitwise_or", "bitwise_right_shift", "bitwise_xor"]


class BitwiseDtypeError(TypeError, NotImplementedError):
    """A bitwise op on a float tensor: TypeError here, NotImplementedError (no kernel for the dtype) in PyTorch."""


def _operand(value: Any, name: str) -> Any:
    """A Tensor or a NumPy/CuPy array of integers or bools, or a Python/NumPy integer or bool."""
    if isinstance(value, Tensor):
        if value.dtype.kind not in "biu":
            raise BitwiseDtypeError(f"{name}: only integer and bool tensors, got dtype {value.dtype} (compare "
                                    "first, e.g. (x > 0) & mask)")
        return value
    if isinstance(value, (bool, numbers.Integral, numpy.bool_)):
        return value
    if backend.is_array(value) and value.dtype.kind in "biu":   # a NumPy/CuPy array keeps its dtype
        return Tensor._make(value, False, None, 0)
    if isinstance(value, numbers.Number) or backend.is_array(value):   # a float or complex: PyTorch's error
        raise BitwiseDtypeError(f"{name}: expected an integer or bool tensor or number, got {type(value).__name__} "
                                f"{getattr(value, 'dtype', value)}")
    raise TypeError(f"{name}: expected an integer or bool tensor or number, got {type(value).__name__}")


def _is_bool(value: Any) -> bool:
    return isinstance(value, (bool, numpy.bool_)) or getattr(value, "dtype", None) == numpy.bool_


def _binary(name: str, fn: Callable[[Any, Any, Any], Any], bools: bool = True) -> Callable[[Any, Any], Tensor]:
    """The op ``name`` computing ``fn(xp, a, b)``; ``bools=False``: two bool operands raise (PyTorch has no bool
    kernel for the shifts)."""
    def op(input: Any, other: Any) -> Tensor:  # noqa: A002 - PyTorch's argument name
        if not isinstance(input, Tensor) and not isinstance(other, Tensor):
            raise TypeError(f"{name}: expected at least one Tensor, got {type(input).__name__} and "
                            f"{type(other).__name__}")
        a, b = same_device(name, (_operand(input, name), _operand(other, name)))
        if not bools and _is_bool(a) and _is_bool(b):
            raise BitwiseDtypeError(f"{name}: not implemented for two bool operands (as in PyTorch); shapes "
                                    f"{getattr(a, 'shape', ())} and {getattr(b, 'shape', ())}")
        xp = _xp_of(a, b)
        return _bool_result(name, lambda x, y: xp.asarray(fn(xp, x, y)), (a, b))
    op.__name__ = name
    op.__doc__ = (f"``{name}(input, other)``: elementwise, broadcast; integer or bool operands (a Tensor and "
                  "a Tensor or an int). The result has the promoted dtype and no gradient.")
    return op


bitwise_and = _binary("bitwise_and", lambda xp, a, b: xp.bitwise_and(a, b))
bitwise_or = _binary("bitwise_or", lambda xp, a, b: xp.bitwise_or(a, b))
bitwise_xor = _binary("bitwise_xor", lambda xp, a, b: xp.bitwise_xor(a, b))
bitwise_left_shift = _binary("bitwise_left_shift", lambda xp, a, b: xp.left_shift(a, b), bools=False)
bitwise_right_shift = _binary("bitwise_right_shift", lambda xp, a, b: xp.right_shift(a, b), bools=False)


def bitwise_not(input: Tensor) -> Tensor:  # noqa: A002 - PyTorch's argument name
    """``~input``: logical not of a bool tensor, every bit flipped of an integer one (no gradient)."""
    if not isinstance(input, Tensor):
        raise TypeError(f"bitwise_not: expected a Tensor, got {type(input).__name__}")
    x = _operand(input, "bitwise_not")
    xp = backend.array_module(x.data)
    return _bool_result("bitwise_not", lambda a: xp.asarray(xp.invert(a)), (x,))


def _reflected(op: Callable) -> Callable:
    def reflected(self: Tensor, other: Any) -> Tensor:
        return op(other, self)
    reflected.__name__ = f"r{op.__name__}"
    return reflected


def _in_place(op: Callable) -> Callable:
    """``x.op_(other)`` / ``x &= other``: the result written into x (a bool x stays bool: ``mask &= 1`` raises)."""
    name = op.__name__ + "_"

    def method(self: Tensor, other: Any) -> Tensor:
        return _inplace(self, name, lambda current: op(current, other), other)
    method.__name__ = name
    method.__doc__ = f"``x.{name}(other)``: ``{op.__name__}`` in place (other broadcasts to x's shape); returns x."
    return method


def bitwise_not_(self: Tensor) -> Tensor:
    """``x.bitwise_not_()``: :func:`bitwise_not` written into x (elementwise, same shape and dtype); returns x."""
    return _inplace(self, "bitwise_not_", bitwise_not)


METHODS: dict = {
    "bitwise_and": bitwise_and, "bitwise_or": bitwise_or, "bitwise_xor": bitwise_xor, "bitwise_not": bitwise_not,
    "bitwise_left_shift": bitwise_left_shift, "bitwise_right_shift": bitwise_right_shift,
    "__and__": bitwise_and, "__or__": bitwise_or, "__xor__": bitwise_xor, "__invert__": bitwise_not,
    "__lshift__": bitwise_left_shift, "__rshift__": bitwise_right_shift,
    "__rand__": _reflected(bitwise_and), "__ror__": _reflected(bitwise_or), "__rxor__": _reflected(bitwise_xor),
    "__rlshift__": _reflected(bitwise_left_shift), "__rrshift__": _reflected(bitwise_right_shift),
    "bitwise_and_": _in_place(bitwise_and), "bitwise_or_": _in_place(bitwise_or),
    "bitwise_xor_": _in_place(bitwise_xor), "bitwise_left_shift_": _in_place(bitwise_left_shift),
    "bitwise_right_shift_": _in_place(bitwise_right_shift),
    "bitwise_not_": bitwise_not_,
}
METHODS.update({"__iand__": METHODS["bitwise_and_"], "__ior__": METHODS["bitwise_or_"],
                "__ixor__": METHODS["bitwise_xor_"], "__ilshift__": METHODS["bitwise_left_shift_"],
                "__irshift__": METHODS["bitwise_right_shift_"]})
