"""Reductions (sum, mean, max, min, var, logsumexp) and softmax / log_softmax."""

from __future__ import annotations

import builtins
from typing import Any

from .. import backend
from ..autograd import Function
from ..tensor import Tensor
from ._util import normalize_axis, one_axis, tensor_arg


def _expand(gy: Any, in_shape: tuple, axes: Any, keepdims: bool) -> Any:
    """Re-insert the reduced axes of ``gy`` so it broadcasts against the input."""
    if axes is None:
        return gy.reshape((1,) * len(in_shape))
    if keepdims:
        return gy
    shape = list(gy.shape)
    for a in sorted(axes):
        shape.insert(a, 1)
    return gy.reshape(shape)


class Sum(Function):
    def __init__(self, axis: Any, keepdims: bool) -> None:
        self.axis, self.keepdims = axis, keepdims

    def forward(self, x: Any) -> Any:
        self.in_shape = x.shape
        return x.sum(axis=self.axis, keepdims=self.keepdims)

    def backward(self, gy: Any) -> Any:
        g = _expand(gy, self.in_shape, self.axis, self.keepdims)
        return self.xp.broadcast_to(g, self.in_shape)


class Mean(Function):
    def __init__(self, axis: Any, keepdims: bool) -> None:
        self.axis, self.keepdims = axis, keepdims

    def forward(self, x: Any) -> Any:
        self.in_shape = x.shape
        return x.mean(axis=self.axis, keepdims=self.keepdims)

    def backward(self, gy: Any) -> Any:
        count = _count(self.in_shape, self.axis)
        g = _expand(gy, self.in_shape, self.axis, self.keepdims) / count
        return self.xp.broadcast_to(g, self.in_shape)


def _count(shape: tuple, axes: Any) -> int:
    n = 1
    for i, s in enumerate(shape):
        if axes is None or i in axes:
            n *= s
    return n


def _check_reducible(name: str, shape: tuple, axes: Any) -> None:
    """An empty max/min has no value: raise naming the empty axis, as NumPy and PyTorch refuse it."""
    for i, size in enumerate(shape):
        if size == 0 and (axes is None or i in axes):
            where = "an empty tensor" if axes is None else f"axis {i}, which has size 0,"
            raise ValueError(f"{name}: cannot reduce {where} of shape {tuple(shape)} "
                             "(an empty maximum/minimum has no value)")


def _shift(xp: Any, x: Any, axes: Any) -> Any:
    """x.max over ``axes`` (keepdims), the shift that keeps exp() from overflowing; 0 where that
    max is not finite (all -inf, or +inf) or where the reduced axes are empty (no max exists)."""
    if x.size == 0:
        return xp.zeros(tuple(1 if axes is None or i in axes else s for i, s in enumerate(x.shape)), x.dtype)
    m = x.max(axis=axes, keepdims=True)
    return xp.where(xp.isfinite(m), m, 0)


class Max(Function):
    """max (or min) over axes, values only. Ties share the gradient equally, as torch.max() and
    torch.amax; where the result is NaN, the NaN elements share it (as torch.max())."""

    def __init__(self, axis: Any, keepdims: bool, smallest: bool = False) -> None:
        self.axis, self.keepdims, self.smallest = axis, keepdims, smallest

    def forward(self, x: Any) -> Any:
        _check_reducible("min" if self.smallest else "max", x.shape, self.axis)
        y = x.min(axis=self.axis, keepdims=True) if self.smallest else x.max(axis=self.axis, keepdims=True)
        self.saved = (x, y)
        if self.keepdims:
            return y
        return y.reshape(()) if self.axis is None else y.squeeze(axis=self.axis)

    def backward(self, gy: Any) -> Any:
        x, y = self.saved
        xp = self.xp
        ties = (x == y) | (xp.isnan(x) & xp.isnan(y))
        count = ties.sum(axis=self.axis, keepdims=True).astype(gy.dtype)
        share = _expand(gy, x.shape, self.axis, self.keepdims) / count
        return xp.where(ties, share, gy.dtype.type(0))   # select: elements that are not the max get exactly 0


class Var(Function):
    """Variance with NumPy's ``ddof`` (0 by default)."""

    def __init__(self, axis: Any, keepdims: bool, ddof: int) -> None:
        self.axis, self.keepdims, self.ddof = axis, keepdims, ddof

    def forward(self, x: Any) -> Any:
        # NumPy's own algorithm, written out so that no degrees of freedom (an empty axis, or
        # ddof >= n) gives NaN or inf without NumPy's warnings, as PyTorch does
        n = _count(x.shape, self.axis)
        with backend.errstate(self.xp, divide="ignore", invalid="ignore"):
            centred = x - x.sum(axis=self.axis, keepdims=True) / n
            self.saved = (centred,)
            return (centred * centred).sum(axis=self.axis, keepdims=self.keepdims) / builtins.max(n - self.ddof, 0)

    def backward(self, gy: Any) -> Any:
        (centred,) = self.saved
        dof = _count(centred.shape, self.axis) - self.ddof
        scale = 2.0 / dof if dof != 0 else float("inf")   # as PyTorch: inf * 0 makes a one-element variance NaN
        return scale * centred * _expand(gy, centred.shape, self.axis, self.keepdims)


class LogSumExp(Function):
    def __init__(self, axis: Any, keepdims: bool) -> None:
        self.axis, self.keepdims = axis, keepdims

    def forward(self, x: Any) -> Any:
        xp = self.xp
        m = _shift(xp, x, self.axis)
        with backend.errstate(xp, divide="ignore"):   # log(0) = -inf: an empty sum, or all -inf
            y = xp.log(xp.exp(x - m).sum(axis=self.axis, keepdims=True)) + m
        self.saved = (x, y)
        if self.keepdims:
            return y
        return y.reshape(()) if self.axis is None else y.squeeze(axis=self.axis)

    def backward(self, gy: Any) -> Any:
        x, y = self.saved
        return self.xp.exp(x - y) * _expand(gy, x.shape, self.axis, self.keepdims)


class Softmax(Function):
    def __init__(self, axis: int) -> None:
        self.axis = axis

    def forward(self, x: Any) -> Any:
        xp = self.xp
        z = x - (x.max(axis=self.axis, keepdims=True) if x.size else _shift(xp, x, (self.axis,)))
        y = xp.exp(z, out=z)
        y /= y.sum(axis=self.axis, keepdims=True)
        self.saved = (y,)
        return y

    def backward(self, gy: Any) -> Any:
        (y,) = self.saved
        g = gy * y
        g -= y * g.sum(axis=self.axis, keepdims=True)
        return g


class LogSoftmax(Function):
    name = "log_softmax"

    def __init__(self, axis: int) -> None:
        self.axis = axis

    def forward(self, x: Any) -> Any:
        xp = self.xp
        z = x - (x.max(axis=self.axis, keepdims=True) if x.size else _shift(xp, x, (self.axis,)))
        z -= xp.log(xp.exp(z).sum(axis=self.axis, keepdims=True))
        self.saved = (z,)
        return z

    def backward(self, gy: Any) -> Any:
        (y,) = self.saved
        return gy - self.xp.exp(y) * gy.sum(axis=self.axis, keepdims=True)


# --- public functions -------------------------------------------------------

def sum(x: Tensor, axis: Any = None, keepdims: bool = False) -> Tensor:  # noqa: A001
    """Sum over ``axis`` (int, tuple or None for all)."""
    x = tensor_arg(x, "sum")
    return Sum(normalize_axis(axis, x.ndim, "sum"), keepdims)(x)


def mean(x: Tensor, axis: Any = None, keepdims: bool = False) -> Tensor:
    """Mean over ``axis`` (int, tuple or None for all)."""
    x = tensor_arg(x, "mean")
    return Mean(normalize_axis(axis, x.ndim, "mean"), keepdims)(x)


def max(x: Tensor, axis: Any = None, keepdims: bool = False) -> Tensor:  # noqa: A001
    """Maximum over ``axis``; ties share the gradient."""
    x = tensor_arg(x, "max")
    return Max(normalize_axis(axis, x.ndim, "max"), keepdims)(x)


def min(x: Tensor, axis: Any = None, keepdims: bool = False) -> Tensor:  # noqa: A001
    """Minimum over ``axis``; ties share the gradient."""
    x = tensor_arg(x, "min")
    op = Max(normalize_axis(axis, x.ndim, "min"), keepdims, smallest=True)
    op.name = "min"
    return op(x)


def var(x: Tensor, axis: Any = None, keepdims: bool = False, ddof: int = 0) -> Tensor:
    """Variance over ``axis`` with NumPy's ``ddof`` (0: population variance)."""
    x = tensor_arg(x, "var")
    return Var(normalize_axis(axis, x.ndim, "var"), keepdims, ddof)(x)


def logsumexp(x: Tensor, axis: Any = None, keepdims: bool = False) -> Tensor:
    """log(sum(exp(x))) over ``axis``, stable for large inputs."""
    x = tensor_arg(x, "logsumexp")
    return LogSumExp(normalize_axis(axis, x.ndim, "logsumexp"), keepdims)(x)


def softmax(x: Tensor, axis: int = -1) -> Tensor:
    """exp(x) / sum(exp(x)) along ``axis``, stable for large inputs."""
    x = tensor_arg(x, "softmax")
    return Softmax(one_axis(axis, x.ndim, "softmax"))(x)


def log_softmax(x: Tensor, axis: int = -1) -> Tensor:
    """x - logsumexp(x) along ``axis``, stable for large inputs."""
    x = tensor_arg(x, "log_softmax")
    return LogSoftmax(one_axis(axis, x.ndim, "log_softmax"))(x)
