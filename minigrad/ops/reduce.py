"""Reductions (sum, mean, max, min, var, logsumexp) and softmax / log_softmax."""

from __future__ import annotations

from typing import Any

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


class Max(Function):
    """max over axes; ties share the gradient equally (as torch.amax)."""

    def __init__(self, axis: Any, keepdims: bool, smallest: bool = False) -> None:
        self.axis, self.keepdims, self.smallest = axis, keepdims, smallest

    def forward(self, x: Any) -> Any:
        if x.size == 0:
            raise ValueError(f"{'min' if self.smallest else 'max'}: reduction of an empty tensor of shape {x.shape}")
        y = x.min(axis=self.axis, keepdims=True) if self.smallest else x.max(axis=self.axis, keepdims=True)
        self.saved = (x, y)
        if self.keepdims:
            return y
        return y.reshape(()) if self.axis is None else y.squeeze(axis=self.axis)

    def backward(self, gy: Any) -> Any:
        x, y = self.saved
        mask = (x == y).astype(x.dtype)
        mask /= mask.sum(axis=self.axis, keepdims=True)
        return mask * _expand(gy, x.shape, self.axis, self.keepdims)


class Var(Function):
    """Variance with NumPy's ``ddof`` (0 by default)."""

    def __init__(self, axis: Any, keepdims: bool, ddof: int) -> None:
        self.axis, self.keepdims, self.ddof = axis, keepdims, ddof

    def forward(self, x: Any) -> Any:
        centred = x - x.mean(axis=self.axis, keepdims=True)
        self.saved = (centred,)
        return x.var(axis=self.axis, keepdims=self.keepdims, ddof=self.ddof)

    def backward(self, gy: Any) -> Any:
        (centred,) = self.saved
        n = _count(centred.shape, self.axis) - self.ddof
        scale = 2.0 / n if n > 0 else float("nan")   # no degrees of freedom: NaN, as NumPy's forward
        return scale * centred * _expand(gy, centred.shape, self.axis, self.keepdims)


class LogSumExp(Function):
    def __init__(self, axis: Any, keepdims: bool) -> None:
        self.axis, self.keepdims = axis, keepdims

    def forward(self, x: Any) -> Any:
        xp = self.xp
        m = x.max(axis=self.axis, keepdims=True)
        m = xp.where(xp.isfinite(m), m, 0)
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
        z = x - x.max(axis=self.axis, keepdims=True)
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
        z = x - x.max(axis=self.axis, keepdims=True)
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
