"""Helpers shared by the ops."""

from __future__ import annotations

from typing import Any

from ..tensor import Tensor


def sum_to(grad: Any, shape: tuple) -> Any:
    """Sum ``grad`` down to ``shape``: the inverse of NumPy broadcasting.

    Every op whose forward broadcasts uses this in its backward.
    """
    if grad.shape == shape:
        return grad
    lead = grad.ndim - len(shape)
    axes = tuple(range(lead)) + tuple(
        lead + i for i, size in enumerate(shape) if size == 1 and grad.shape[lead + i] != 1
    )
    out = grad.sum(axis=axes, keepdims=True)
    return out.reshape(shape) if lead else out


def unwrap(value: Any) -> Any:
    """The array of a Tensor; other values unchanged."""
    return value.data if isinstance(value, Tensor) else value


def normalize_axis(axis: Any, ndim: int, name: str) -> Any:
    """``axis`` as a tuple of non-negative ints (None stays None)."""
    if axis is None:
        return None
    axes = (axis,) if isinstance(axis, int) else tuple(axis)
    out = []
    for a in axes:
        if not isinstance(a, int) and not hasattr(a, "__index__"):
            raise TypeError(f"{name}: axis must be an int or a tuple of ints, got {axis!r}")
        a = int(a)
        if not -ndim <= a < max(ndim, 1):
            from ..autograd import AxisError  # noqa: PLC0415

            raise AxisError(f"{name}: axis {a} is out of range for a tensor with {ndim} dimensions")
        out.append(a % ndim if ndim else 0)
    return tuple(out)
