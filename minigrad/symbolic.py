"""PyTorch's ``torch.sym_*`` helpers for sizes that may be symbolic under ``torch.compile``. minigrad's sizes are
always plain numbers (``mg.compile`` captures concrete shapes), so these compute on Python and NumPy numbers as
PyTorch's do on non-symbolic ones: model code that calls them runs unchanged."""

from __future__ import annotations

import builtins
import math
from typing import Any

import numpy

__all__ = ["sym_float", "sym_int", "sym_ite", "sym_max", "sym_min", "sym_not", "sym_sqrt", "sym_sum"]

_NUMBERS = (builtins.int, builtins.float, numpy.integer, numpy.floating)
_FLOATS = (builtins.float, numpy.floating)


class SymbolicArgumentError(TypeError, AssertionError):
    """A ``sym_*`` helper given something that is not a number (PyTorch: TypeError; ``sym_ite``: AssertionError)."""


def _number(a: Any, name: str) -> Any:
    """``a`` when it is a real number (a bool counts, as for ``int``/``float``), else PyTorch's TypeError."""
    if not isinstance(a, (*_NUMBERS, builtins.bool, numpy.bool_)):
        raise SymbolicArgumentError(f"{name}: argument must be a real number, not '{type(a).__name__}'")
    return a


def sym_int(a: Any) -> int:
    """``int(a)`` (truncating a float), as ``torch.sym_int``."""
    return builtins.int(_number(a, "sym_int"))


def sym_float(a: Any) -> float:
    """``float(a)``, as ``torch.sym_float``."""
    return builtins.float(_number(a, "sym_float"))


def _either_float(a: Any, b: Any, name: str) -> bool:
    """Whether either of the two numbers is a float (AssertionError, as PyTorch's, for anything else)."""
    for value in (a, b):
        if not isinstance(value, _NUMBERS):
            raise SymbolicArgumentError(f"{name}: expected int or float, got {type(value)}")
    return isinstance(a, _FLOATS) or isinstance(b, _FLOATS)


def sym_max(a: Any, b: Any) -> Any:
    """The larger of two numbers, a float if either is one (``sym_max(1, 0.5)`` is 1.0), as ``torch.sym_max``."""
    return _pick(builtins.max, a, b, "sym_max")


def sym_min(a: Any, b: Any) -> Any:
    """The smaller of two numbers, a float if either is one, as ``torch.sym_min``."""
    return _pick(builtins.min, a, b, "sym_min")


def _pick(choose: Any, a: Any, b: Any, name: str) -> Any:
    """``choose(a, b)`` (max or min), as a float if either number is one."""
    is_float = _either_float(a, b, name)
    chosen = choose(a, b)
    return builtins.float(chosen) if is_float else chosen


def sym_not(a: Any) -> bool:
    """``not a``, as ``torch.sym_not``."""
    return not a


def sym_sqrt(a: Any) -> float:
    """``math.sqrt(a)``, as ``torch.sym_sqrt``."""
    return math.sqrt(_number(a, "sym_sqrt"))


def sym_ite(b: Any, t: Any, f: Any) -> Any:
    """``t if b else f`` for a bool ``b`` and two values of one type, as ``torch.sym_ite`` (AssertionError
    otherwise, as PyTorch's)."""
    if not isinstance(b, builtins.bool):
        raise SymbolicArgumentError(f"sym_ite: expected SymBool or bool, got {type(b)}")
    if type(t) is not type(f):
        raise SymbolicArgumentError(f"sym_ite: type mismatch: {type(t)} vs {type(f)}")
    return t if b else f


def sym_sum(*args: Any) -> Any:
    """The sum of the numbers, given as ``sym_sum([a, b, c])`` or ``sym_sum(a, b, c)``, as ``torch.sym_sum``."""
    if len(args) == 1 and isinstance(args[0], (list, tuple)):
        args = args[0]
    return builtins.sum(_number(a, "sym_sum") for a in args)
