"""Argument checks shared by ``nn.functional`` and its activation functions: each error names the function."""

from __future__ import annotations

import warnings
from typing import Any

import numpy

import minigrad as mg
from minigrad import Tensor

from ._errors import ComplexInputError, InputDtypeError


def _tensor(x: Any, name: str, what: str = "input") -> Tensor:
    """``x`` if it is a Tensor, else a TypeError naming the function and the argument."""
    if not isinstance(x, Tensor):
        raise TypeError(f"{name}: {what} must be a Tensor, got {type(x).__name__}")
    return x


def _floating(x: Any, name: str) -> Tensor:
    """``x`` if it is a floating-point Tensor, else an InputDtypeError (TypeError, RuntimeError) naming the function."""
    x = _tensor(x, name)
    if x.dtype.kind != "f":
        kind = ComplexInputError if x.dtype.kind == "c" else InputDtypeError   # torch: NotImplementedError for complex
        raise kind(f"{name}: input must be floating point, got {x.dtype}")
    return x


def _promoted(x: Any, name: str) -> Tensor:
    """``x`` as a floating-point (or complex: kept) Tensor: integers and bools become the default float dtype
    (float32 unless ``mg.set_default_dtype`` changed it), as PyTorch's composite functions."""
    x = _tensor(x, name)
    return x if x.dtype.kind in "fc" else x.astype(mg.get_default_dtype())


def _number(value: Any, name: str, what: str) -> float:
    """``value`` as a Python float, which never changes a tensor's dtype (a NumPy float64 scalar would
    promote float32 to float64), or a TypeError naming the function and the argument."""
    if isinstance(value, bool) or not isinstance(value, (int, float, numpy.integer, numpy.floating)):
        raise TypeError(f"{name}: {what} must be a number, got {value!r}")
    return float(value)


def _like_input(value: Any, x: Tensor) -> Any:
    """A bound or fill value for ``x``: truncated to an int for an integer tensor (as PyTorch), else as given."""
    return int(value) if x.dtype.kind in "iu" else value


def _dim(dim: Any, ndim: int, name: str) -> int | None:
    """``dim`` as a non-negative int; None for a 0-d tensor, whose only dims are 0 and -1 (as in PyTorch)."""
    if isinstance(dim, bool) or not isinstance(dim, (int, numpy.integer)):
        raise TypeError(f"{name}: dim must be an int, got {dim!r}")
    size = max(ndim, 1)
    if not -size <= dim < size:
        raise IndexError(f"{name}: dim {dim} is out of range for a tensor with {ndim} dimensions "
                         f"(expected in [{-size}, {size - 1}])")
    return int(dim) % size if ndim else None


def _implicit_dim(name: str, ndim: int, stacklevel: int = 3) -> int:
    """PyTorch's choice when no ``dim`` is given (deprecated there too): 0 for 0-, 1- and 3-D inputs, else 1."""
    warnings.warn(f"{name}: implicit dim is deprecated (as in PyTorch); pass dim= explicitly", stacklevel=stacklevel)
    return 0 if ndim in (0, 1, 3) else 1
