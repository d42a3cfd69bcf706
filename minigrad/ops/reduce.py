"""Reductions (sum, mean, max, min, var, logsumexp) and softmax / log_softmax."""

from __future__ import annotations

import builtins
import math
from typing import Any

from .. import backend
from ..arguments import EmptyReductionError
from ..autograd import Function
from ..autograd.engine import frees_saved
from ..dtypes import get_default_dtype
from ..outputs import OutDtypeError, write_out
from ..recording import is_recording
from ..tensor import Tensor
from ._util import (
    NOT_GIVEN,
    ArgumentTypeError,
    ShapeMismatchError,
    complex_order_error,
    dim_or_axis,
    flag,
    float16_in_float32,
    keep_flag,
    normalize_axis,
    one_axis,
    one_dim_or_axis,
    tensor_arg,
)
from .elementwise import abs, maximum, minimum  # noqa: A004 - the op's name
from .select import c_order, kept_dims_c_order, max_with_indices


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


_FLOAT16, _FLOAT32 = backend.numpy.dtype("float16"), backend.numpy.dtype("float32")

# Up to this many elements, a reduction's gradient is a filled array rather than a broadcast view:
# numpy.broadcast_to costs ~3 us of Python, a small fill well under 1 us
FILL_UP_TO = 4096


def _to_input_shape(xp: Any, g: Any, shape: tuple, size: int) -> Any:
    """``g`` (the reduced gradient, axes re-inserted) broadcast to the input's ``shape``."""
    if size > FILL_UP_TO:
        return xp.broadcast_to(g, shape)   # a view: no memory for a large input
    out = xp.empty(shape, dtype=g.dtype)
    out[...] = g
    return out


class Sum(Function):
    complex_grad = True   # complex values: see autograd.engine._complex_gate

    def __init__(self, axis: Any, keepdims: bool) -> None:
        self.axis, self.keepdims = axis, keepdims

    def forward(self, x: Any) -> Any:
        self.in_shape, self.in_size = x.shape, x.size
        if x.dtype == _FLOAT16:   # PyTorch sums float16 in float32 and rounds once (NumPy rounds at each row)
            y = _sum_in_float32(x, self.axis, self.keepdims)
        elif type(x) is backend.numpy.ndarray:   # what ndarray.sum runs, without its Python wrapper
            y = backend.numpy.add.reduce(x, axis=self.axis, keepdims=self.keepdims)
        else:
            y = x.sum(axis=self.axis, keepdims=self.keepdims)
        return kept_dims_c_order(y) if self.keepdims else c_order(y)

    def backward(self, gy: Any) -> Any:
        g = _expand(gy, self.in_shape, self.axis, self.keepdims)
        return _to_input_shape(self.xp, g, self.in_shape, self.in_size)


def _sum_in_float32(x: Any, axis: Any, keepdims: bool) -> Any:
    """The sum of a float16 ``x`` over ``axis`` in float32, rounded once to float16. NumPy's through ``add.reduce``
    called from here, so that its warning about inf - inf is minigrad's to filter (ndarray.sum's would be NumPy's)."""
    if type(x) is backend.numpy.ndarray:
        return backend.numpy.add.reduce(x, axis=axis, keepdims=keepdims, dtype=_FLOAT32).astype(_FLOAT16)
    return x.sum(axis=axis, keepdims=keepdims, dtype=_FLOAT32).astype(_FLOAT16)


class Mean(Function):
    """Mean over axes; the mean of nothing is NaN, as NumPy and PyTorch (without NumPy's warning)."""

    complex_grad = True   # complex values: see autograd.engine._complex_gate

    def __init__(self, axis: Any, keepdims: bool) -> None:
        self.axis, self.keepdims = axis, keepdims

    def forward(self, x: Any) -> Any:
        self.in_shape = x.shape
        if _count(x.shape, self.axis) == 0:
            with backend.errstate(self.xp, invalid="ignore"):
                y = x.sum(axis=self.axis, keepdims=self.keepdims) / 0
        else:
            y = x.mean(axis=self.axis, keepdims=self.keepdims)
        return kept_dims_c_order(y) if self.keepdims else c_order(y)

    def backward(self, gy: Any) -> Any:
        count = _count(self.in_shape, self.axis)
        if count == 0:   # the input is empty, and so is its gradient
            return self.xp.zeros(self.in_shape, dtype=gy.dtype)
        g = _expand(gy, self.in_shape, self.axis, self.keepdims) / count
        return _to_input_shape(self.xp, g, self.in_shape, count * g.size)


def _count(shape: tuple, axes: Any) -> int:
    """How many elements of an array of ``shape`` each result of a reduction over ``axes`` combines."""
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
            raise EmptyReductionError(f"{name}: cannot reduce {where} of shape {tuple(shape)} "
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
    torch.amax. Where the result is NaN, the NaN elements share it (as torch.max()); with
    ``nan_shares=False`` (torch.amax/amin) every element of that line gets NaN instead, as PyTorch's
    (gy / count) · mask with no element equal to the NaN."""

    def __init__(self, axis: Any, keepdims: bool, smallest: bool = False, nan_shares: bool = True) -> None:
        self.axis, self.keepdims, self.smallest, self.nan_shares = axis, keepdims, smallest, nan_shares

    def forward(self, x: Any) -> Any:
        if x.dtype.kind == "c":   # complex values have no order (NumPy's is lexicographic)
            raise complex_order_error(self.name, x.dtype)
        _check_reducible(self.name, x.shape, self.axis)
        y = x.min(axis=self.axis, keepdims=True) if self.smallest else x.max(axis=self.axis, keepdims=True)
        self.saved = (x, y)
        if self.keepdims:
            return kept_dims_c_order(y)
        return c_order(y.reshape(()) if self.axis is None else y.squeeze(axis=self.axis))

    def backward(self, gy: Any) -> Any:
        if not self.nan_shares:
            return self._amax_backward(gy)
        x, y = self.saved
        xp = self.xp
        ties = (x == y) | (xp.isnan(x) & xp.isnan(y))
        count = ties.sum(axis=self.axis, keepdims=True).astype(gy.dtype)
        share = _expand(gy, x.shape, self.axis, self.keepdims) / count
        return xp.where(ties, share, gy.dtype.type(0))   # select: elements that are not the max get exactly 0

    def _amax_backward(self, gy: Any) -> Any:
        x, y = self.saved
        xp = self.xp
        ties = x == y
        count = ties.sum(axis=self.axis, keepdims=True).astype(gy.dtype)   # 0 where the result is NaN
        share = _expand(gy, x.shape, self.axis, self.keepdims) / xp.maximum(count, 1)
        g = xp.where(ties, share, gy.dtype.type(0))   # select: elements that are not the max get exactly 0
        return xp.where(count == 0, gy.dtype.type("nan"), g)   # a NaN result: NaN for its whole line


class Var(Function):
    """Variance with NumPy's ``ddof`` (0 by default); of complex x, the mean of |x - mean|², real."""

    complex_grad = True   # 2 (x - mean) gy / dof is PyTorch's for complex x too; see autograd.engine._complex_gate

    def __init__(self, axis: Any, keepdims: bool, ddof: int) -> None:
        self.axis, self.keepdims, self.ddof = axis, keepdims, ddof

    def forward(self, x: Any) -> Any:
        y = self._variance(x)
        y = y.astype(x.dtype) if x.dtype == "float16" else y
        return kept_dims_c_order(y) if self.keepdims else c_order(y)

    def _variance(self, x: Any) -> Any:
        """The variance, in float32 for a float16 ``x`` (rounded once at the end, as PyTorch's)."""
        # NumPy's own algorithm, written out so that no degrees of freedom (an empty axis, or
        # ddof >= n) gives NaN or inf without NumPy's warnings, as PyTorch does
        n = _count(x.shape, self.axis)
        # x itself only for backward's rule with no degrees of freedom over all of x (a graph holds `saved`, the
        # centred values, and no second array of x's size, as PyTorch's holds one)
        self.input = x if n <= self.ddof and (self.axis is None or x.ndim == 0) else None
        wide = x.astype("float32") if x.dtype == "float16" else x
        with backend.errstate(self.xp, divide="ignore", invalid="ignore"):
            centred = wide - wide.sum(axis=self.axis, keepdims=True) / n
            self.saved = (centred.astype(x.dtype) if x.dtype == "float16" else centred,)
            dof = builtins.max(n - self.ddof, 0)
            if centred.dtype.kind == "c":   # var(real) + var(imag): real, and NaN where either is 0 / 0 (PyTorch's)
                parts = (centred.real, centred.imag)
                return builtins.sum([(p * p).sum(axis=self.axis, keepdims=self.keepdims) / dof for p in parts])
            return (centred * centred).sum(axis=self.axis, keepdims=self.keepdims) / dof

    def backward(self, gy: Any) -> Any:
        (centred,) = self.saved
        dof = _count(centred.shape, self.axis) - self.ddof
        g = _expand(gy, centred.shape, self.axis, self.keepdims)
        if dof <= 0 and (self.axis is None or centred.ndim == 0):   # PyTorch's rule with no dim: inf, NaN at the mean
            x = self.input   # x == mean compared as PyTorch (an inf x is its mean: NaN)
            mean = x.sum(axis=self.axis, keepdims=True) / builtins.max(x.size, 1)
            return g * self.xp.where(x == mean, math.nan, math.inf).astype(centred.real.dtype)
        scale = 2.0 / dof if dof != 0 else float("inf")   # as PyTorch: inf * 0 makes a one-element variance NaN
        return scale * centred * g


class Std(Var):
    """sqrt of :class:`Var`; where the deviation is 0 the gradient is 0 (not inf * 0), as PyTorch."""

    def forward(self, x: Any) -> Any:
        y = self.xp.sqrt(self._variance(x))
        y = y.astype(x.dtype) if x.dtype == "float16" else y
        y = kept_dims_c_order(y) if self.keepdims else c_order(y)
        self.deviation = y
        return y

    def kept_for_backward(self) -> tuple:
        return (*self.saved, self.deviation)   # the backward reads the output too: a write into it is refused

    def backward(self, gy: Any) -> Any:
        y = self.deviation
        with backend.errstate(self.xp, divide="ignore", invalid="ignore"):
            g_var = self.xp.where(y == 0, gy.dtype.type(0), gy / (2 * y))
        gx = super().backward(g_var)
        if frees_saved():   # the engine frees `saved` after this backward: the output it read goes too, as PyTorch's
            self.deviation = None
        return gx


class Norm(Function):
    """The vector p-norm over axes, (Σ|x|ᵖ)^(1/p); max|x| for p = inf, min|x| for -inf, the count of
    non-zeros for p = 0. At a zero norm the gradient is 0, and ties of the inf-norms share it, as PyTorch."""

    def __init__(self, p: float, axis: Any, keepdims: bool) -> None:
        self.p, self.axis, self.keepdims = p, axis, keepdims

    def forward(self, x: Any) -> Any:
        xp, axis = self.xp, self.axis
        y = self._norm(xp.abs(x.astype("float32") if x.dtype == "float16" else x), x.size)   # float16: as PyTorch
        y = y.astype(x.dtype, copy=False)
        self.saved = (x, y)
        if self.keepdims:
            return kept_dims_c_order(y)
        return c_order(y.reshape(()) if axis is None else y.squeeze(axis=axis))

    def _norm(self, abs_x: Any, size: int) -> Any:
        """The p-norm of ``abs_x = |x|`` over the axes, keepdims shape."""
        xp, p, axis = self.xp, self.p, self.axis
        if p == float("inf"):
            y = abs_x.max(axis=axis, keepdims=True)
        elif p == float("-inf"):
            y = abs_x.min(axis=axis, keepdims=True)
        elif p == 0:
            y = (abs_x != 0).sum(axis=axis, keepdims=True).astype(abs_x.dtype)
        elif (size if axis is None else math.prod(abs_x.shape[a] for a in axis)) == 1:
            y = abs_x   # one element per norm: |x|, as PyTorch (no |x|^p over- or underflowing)
        elif p == 1:
            y = abs_x.sum(axis=axis, keepdims=True)
        elif p == 2:
            y = xp.sqrt((abs_x * abs_x).sum(axis=axis, keepdims=True))
        else:
            y = (abs_x ** p).sum(axis=axis, keepdims=True) ** (1.0 / p)
        return y

    def backward(self, gy: Any) -> Any:
        # PyTorch's norm_backward term by term, so that inf, NaN and zero norms give what PyTorch gives
        x, y = self.saved
        xp, p = self.xp, self.p
        if p == 0:
            return None   # a count of non-zeros has no backward in PyTorch: x gets no gradient ("not used")
        g = _expand(gy, x.shape, self.axis, self.keepdims)
        sign = (x > 0).astype(x.dtype) - (x < 0)   # torch.sgn: 0 at 0 and at NaN
        with backend.errstate(xp, divide="ignore", invalid="ignore"):
            if p == 1:
                return sign * g
            if p == 2:
                return g * xp.where(y == 0, 0, x / y)
            abs_x = xp.abs(x)
            if p in (float("inf"), float("-inf")):   # the max (min) |x| and the NaNs share the gradient
                ties = (abs_x == y) | xp.isnan(abs_x)
                return sign * ((g / ties.sum(axis=self.axis, keepdims=True).astype(g.dtype)) * ties)
            if p < 1:
                return sign * xp.where(x == 0, 0, abs_x ** (p - 1)) * g * y ** (1 - p)
            scaled = sign * abs_x ** (p - 1) if p < 2 else x * abs_x ** (p - 2)
            return scaled * xp.where(y == 0, 0, g / y ** (p - 1))


class LogSumExp(Function):
    """log Σ exp(x) over ``axis``; of complex x shifted by the max of the real parts (PyTorch's branch of log)."""

    complex_grad = "holomorphic"   # exp(x - y) gy; see autograd.engine._complex_gate

    def __init__(self, axis: Any, keepdims: bool) -> None:
        self.axis, self.keepdims = axis, keepdims

    def forward(self, x: Any) -> Any:
        xp = self.xp
        m = _shift(xp, x, self.axis) if x.dtype.kind != "c" else _shift(xp, x.real, self.axis)
        with backend.errstate(xp, divide="ignore"):   # log(0) = -inf: an empty sum, or all -inf
            # float16: PyTorch's steps in float16, each rounded (its composite), the sum in float32 (Sum's)
            y = xp.log(Sum(self.axis, True).forward(xp.exp(x - m))) + m
        self.saved = (x, y)
        if self.keepdims:
            return kept_dims_c_order(y)
        return c_order(y.reshape(()) if self.axis is None else y.squeeze(axis=self.axis))

    def backward(self, gy: Any) -> Any:
        x, y = self.saved
        with backend.errstate(self.xp, invalid="ignore"):   # a line of all -inf (or a +inf): NaN, as PyTorch's
            return self.xp.exp(x - y) * _expand(gy, x.shape, self.axis, self.keepdims)


def _max_along(x: Any, axis: int) -> Any:
    """``x.max(axis, keepdims=True)``; for NumPy the same ``maximum.reduce`` without ndarray.max's Python
    wrapper (~0.3 µs: softmax runs at every step of a small recurrent net)."""
    if type(x) is backend.numpy.ndarray:
        return backend.numpy.maximum.reduce(x, axis=axis, keepdims=True)
    return x.max(axis=axis, keepdims=True)


def _sum_along(x: Any, axis: int) -> Any:
    """``x.sum(axis, keepdims=True)``, for NumPy through ``add.reduce`` as ndarray.sum does."""
    if type(x) is backend.numpy.ndarray:
        return backend.numpy.add.reduce(x, axis=axis, keepdims=True)
    return x.sum(axis=axis, keepdims=True)


class Softmax(Function):
    narrow = False   # a float16 input, computed in float32

    def __init__(self, axis: int) -> None:
        self.axis = axis

    def forward(self, x: Any) -> Any:
        if x.dtype == _FLOAT16:   # in float32, rounded once, as PyTorch's
            self.narrow = True
            y = float16_in_float32(self.forward, x)
            self.saved = (y,)   # the float16 output, which PyTorch's backward reads (not the float32 before rounding)
            return y
        xp = self.xp
        x = c_order(x)   # PyTorch's result is C order whatever the input's layout
        z = x - (_max_along(x, self.axis) if x.size else _shift(xp, x, (self.axis,)))
        y = xp.exp(z, out=z)
        if self.narrow and self.axis != x.ndim - 1 and x.size and math.prod(x.shape[self.axis + 1:]) < 16:
            # PyTorch's scalar kernel for another dim (fewer than 16 float16 after it: narrower than any x86 vector):
            # e stored in float16, Σe summed in order in float32, then e · (1 / Σe)
            total = xp.cumsum(y, axis=self.axis).take([-1], axis=self.axis)
            y = y.astype(_FLOAT16).astype(y.dtype) * (1 / total)
        else:
            y /= _sum_along(y, self.axis)
        self.saved = (y,)
        return y

    def backward(self, gy: Any) -> Any:
        (y,) = self.saved
        if self.narrow:   # PyTorch's kernel: the float16 output and gy in float32, the result rounded once
            y, gy = y.astype(_FLOAT32), gy.astype(_FLOAT32)
            g = gy - _sum_along(gy * y, self.axis)
            g *= y
            return g.astype(_FLOAT16)
        g = gy * y
        g -= y * _sum_along(g, self.axis)
        return g


class LogSoftmax(Function):
    name = "log_softmax"
    narrow = False   # a float16 input, computed in float32

    def __init__(self, axis: int) -> None:
        self.axis = axis

    def forward(self, x: Any) -> Any:
        if x.dtype == _FLOAT16:   # in float32 (see below), rounded once, as PyTorch's
            self.narrow = True
            z = float16_in_float32(self.forward, x)
            self.saved = (z,)   # the float16 output, which PyTorch's backward reads (not e and Σe in float32)
            return z
        xp = self.xp
        x = c_order(x)   # PyTorch's result is C order whatever the input's layout
        z = x - (_max_along(x, self.axis) if x.size else _shift(xp, x, (self.axis,)))
        e = xp.exp(z)
        total = _sum_along(e, self.axis)
        if self.narrow and self.axis == x.ndim - 1:   # PyTorch's last-dim kernel keeps Σe and its log in float16
            z -= xp.log(total.astype(_FLOAT16)).astype(_FLOAT16)
        else:
            z -= xp.log(total)
        # Keep e and Σe for backward: softmax = e / Σe there, so backward needs no second exp
        # over the (N, C) array (it equals exp(log_softmax) up to rounding).
        self.saved = (e, total)
        return z

    def backward(self, gy: Any) -> Any:
        xp = self.xp
        if self.narrow:   # PyTorch's kernel: gy - exp(output) · Σgy in float32 from the float16 output, rounded once
            (z,) = self.saved
            gy = gy.astype(_FLOAT32)
            return (gy - xp.exp(z.astype(_FLOAT32)) * _sum_along(gy, self.axis)).astype(_FLOAT16)
        e, total = self.saved
        if not e.size:   # an empty axis (Σe = 0: 0/0 below) or an empty input: nothing to pass on
            return xp.zeros_like(gy)
        g = e * (_sum_along(gy, self.axis) / total)
        return xp.subtract(gy, g, out=g)    # gy - softmax·Σgy, without a second (N, C) temporary


# --- public functions -------------------------------------------------------
#
# The keyword says which convention a call means (DESIGN §3): dim=/keepdim= or
# positional arguments get PyTorch's result, axis=/keepdims= NumPy's. They
# differ for max/min along a dim (PyTorch also returns the indices) and for
# var/std (PyTorch's correction=1, NumPy's ddof=0).

def reduced_axes(dims: Any, ndim: int, name: str) -> Any:
    """``dims`` (an int, a sequence of ints or None) as :func:`normalize_axis` gives them; a 0-d tensor's one
    dim named twice (``(0, -1)``, ``(0, 0)``) raises, as torch's (NumPy's duplicates raise for more dims)."""
    axes = normalize_axis(dims, ndim, name)
    if ndim == 0 and isinstance(dims, (tuple, list)) and len(dims) > 1:
        raise ShapeMismatchError(f"{name}: dim 0 appears multiple times in the list of dims {tuple(dims)} (a 0-d "
                                 "tensor has one dim, 0 or -1)")
    if axes is not None and len(axes) > 1 and len(set(axes)) != len(axes):   # NumPy's message names no dim
        repeated = next(a for a in axes if axes.count(a) > 1)
        raise ShapeMismatchError(f"{name}: dim {repeated} appears multiple times in the list of dims {tuple(dims)} "
                                 f"(a tensor with {ndim} dims)")
    return axes


def _reduced(op_class: Any, name: str, x: Any, dim: Any, keepdim: bool, axis: Any, keepdims: Any) -> Tensor:
    if dim is None and axis is None and keepdim is False and keepdims is None and isinstance(x, Tensor):
        op = op_class(None, False)   # x.sum(): over everything, nothing to check (a loss, once per step)
    else:
        x = tensor_arg(x, name)
        if isinstance(dim, (tuple, list)) and not dim:
            dim = None   # PyTorch: an empty dim list reduces every dim (NumPy's axis=() reduces none)
        axes = reduced_axes(dim_or_axis(name, dim, axis), x.ndim, name)
        op = op_class(axes, keep_flag(name, keepdim, keepdims))
    op.name = name
    return op(x)


def summed_as(x: Tensor, dtype: Any, name: str) -> Tensor:
    """``x`` cast to a sum's ``dtype=``. An integer or bool ``dtype`` for an ``x`` whose gradient is recorded
    raises PyTorch's RuntimeError (its autograd has no integer results) rather than give a result that silently
    drops out of the graph."""
    y = x.to(dtype=dtype)
    if y.dtype.kind in "biu" and x.requires_grad and is_recording():
        raise RuntimeError(f"{name}: autograd does not support the integer dtype {y.dtype} for an input that "
                           f"requires grad (dtype {x.dtype}, shape {x.shape}); detach it or use mg.no_grad()")
    return y


def sum(input: Tensor, dim: Any = None, keepdim: bool = False, *, axis: Any = None,  # noqa: A002, A001
        keepdims: bool | None = None, dtype: Any = None, out: Tensor | None = None) -> Tensor:
    """Sum over ``dim`` (int, tuple, or None or () for all); ``dtype`` casts first, as torch.sum.

    Integer and bool inputs give int64 (unsigned ones too, as PyTorch); an integer or bool ``dtype``
    gives that dtype (bool: whether any element is non-zero). ``out=`` (minigrad/outputs.py): summed in out's
    dtype, as torch's (x cast first); an explicit ``dtype`` must be out's.
    """
    if out is not None:
        dtype = getattr(out, "dtype", None) if dtype is None else dtype
        return write_out("sum", sum(input, dim, keepdim, axis=axis, keepdims=keepdims, dtype=dtype), out, "exact",
                         inputs=(input,), overlap="any")
    x = input
    if dtype is None and isinstance(x, Tensor) and x.data.dtype.kind != "u":
        return _reduced(Sum, "sum", x, dim, keepdim, axis, keepdims)
    x = tensor_arg(x, "sum")
    if dtype is not None:
        x = summed_as(x, dtype, "sum")
    wanted = x.dtype if dtype is not None and x.dtype.kind in "biu" else None
    if x.dtype.kind == "u":   # NumPy sums unsigned ints as uint64; PyTorch gives int64
        x = x.to(dtype="int64")
    out = _reduced(Sum, "sum", x, dim, keepdim, axis, keepdims)
    return out.to(dtype=wanted) if wanted is not None and out.dtype != wanted else out


def _mean_dtype(dtype: Any, name: str) -> Any:
    """The ``dtype=`` of a mean: a floating one, as PyTorch's (an integer mean would not be that dtype)."""
    dtype = backend.as_dtype(dtype, name)
    if dtype.kind not in "fc":
        raise ArgumentTypeError(f"{name}: dtype must be a floating point dtype, got {dtype} (as PyTorch)")
    return dtype


def mean(input: Tensor, dim: Any = None, keepdim: bool = False, *, axis: Any = NOT_GIVEN,  # noqa: A002
         keepdims: bool | None = None, dtype: Any = None, out: Tensor | None = None) -> Tensor:
    """Mean over ``dim`` (int, tuple or None for all); ``dtype`` (a floating one, as torch.mean) casts first.

    An integer or bool tensor needs ``dtype=`` (PyTorch raises RuntimeError without it); NumPy's keywords
    (``axis=``, ``axis=None`` too, or ``keepdims=`` without a dim) give NumPy's float64 mean."""
    if out is not None:
        into = getattr(out, "dtype", None)   # PyTorch's mean computes in a float (complex) out's dtype
        if dtype is None and isinstance(input, Tensor) and into is not None and into.kind == input.dtype.kind in "fc":
            dtype = into
        result = mean(input, dim, keepdim, axis=axis, keepdims=keepdims, dtype=dtype)
        if dim is not None and result.dtype.kind == "c" and getattr(getattr(out, "dtype", None), "kind", "") == "f":
            result = result.to(out.dtype)   # PyTorch's mean along a dim writes the real part (with the cast's
            # warning) into a real out; without a dim it refuses, as here
        return write_out("mean", result, out, inputs=(input,), overlap="any")
    x = input
    if dtype is not None:
        x = tensor_arg(x, "mean").to(dtype=_mean_dtype(dtype, "mean"))
    elif isinstance(x, Tensor) and x.data.dtype.kind not in "fc" and axis is NOT_GIVEN and not _numpy_call(
            dim, axis, keepdims):
        raise ArgumentTypeError("mean(): could not infer output dtype. Input dtype must be either a floating point "
                                f"or complex dtype. Got: {x.dtype} (pass dtype=, or call .float() first)")
    return _reduced(Mean, "mean", x, dim, keepdim, None if axis is NOT_GIVEN else axis, keepdims)


def _numpy_call(dim: Any, axis: Any, keepdims: Any) -> bool:
    """Whether a reduction was called with NumPy's keywords (``axis=``, or ``keepdims=`` without a dim)."""
    return (axis is not None and axis is not NOT_GIVEN) or (keepdims is not None and dim is None)


def _extreme(x: Any, dim: Any, keepdim: bool, axis: Any, keepdims: Any, smallest: bool, other: Any) -> Any:
    name = "min" if smallest else "max"
    if other is not None:   # torch.max(a, other=b)
        if dim is not None or keepdim is not None:
            raise TypeError(f"{name}: give a dim or other=, not both (keepdim goes with a dim)")
        dim = other
    if isinstance(dim, Tensor) and keepdim is None and keepdims is None:   # torch.max(a, b): elementwise
        return minimum(x, dim) if smallest else maximum(x, dim)   # (with keepdim given, a 0-d int tensor is the dim)
    keepdim = False if keepdim is None else keepdim
    if dim is not None and axis is None:   # PyTorch: (values, indices); keepdims= is PyTorch's alias here
        return max_with_indices(x, dim, keep_flag(name, keepdim, keepdims), smallest)
    x = tensor_arg(x, name)
    op = Max(reduced_axes(dim_or_axis(name, dim, axis), x.ndim, name), keep_flag(name, keepdim, keepdims),
             smallest=smallest)
    op.name = name
    return op(x)


def _out_dtypes(dim: Any, other: Any, keepdim: Any) -> str:
    """max/min's out= rule: values along a dim need out of their own dtype; the elementwise form
    (``max(a, b)``, ``max(a, other=b)``) casts into out as torch.maximum does."""
    return "cast" if other is not None or (isinstance(dim, Tensor) and keepdim is None) else "exact"


def max(input: Tensor, dim: Any = None, keepdim: bool | None = None, *, axis: Any = None,  # noqa: A002, A001
        keepdims: bool | None = None, other: Tensor | None = None, out: Any = None) -> Any:
    """The maximum: of all elements (no dim), ``(values, indices)`` along ``dim``, values along ``axis=``.

    ``x.max()`` and ``x.max(axis=...)`` share the gradient among ties (as
    torch.amax); ``x.max(dim)`` sends it to the returned index, and
    ``mg.max(a, b)`` (or ``other=b``) with a Tensor ``b`` is the elementwise maximum, as in PyTorch.
    ``out=``: a ``(values, indices)`` pair of tensors along ``dim``, else one tensor (minigrad/outputs.py).
    """
    if out is not None:
        rule = _out_dtypes(dim, other, keepdim)   # "exact": a reduction, else elementwise
        return write_out("max", _extreme(input, dim, keepdim, axis, keepdims, False, other), out, rule,
                         inputs=(input, dim, other), overlap="reduce" if rule == "exact" else "partial")
    return _extreme(input, dim, keepdim, axis, keepdims, False, other)


def min(input: Tensor, dim: Any = None, keepdim: bool | None = None, *, axis: Any = None,  # noqa: A002, A001
        keepdims: bool | None = None, other: Tensor | None = None, out: Any = None) -> Any:
    """The minimum; the same conventions as :func:`max`: x (*) → () with no dim, ``(values, indices)`` with
    ``dim`` removed (kept as 1 with ``keepdim``), or the elementwise minimum with a Tensor ``other``."""
    if out is not None:
        rule = _out_dtypes(dim, other, keepdim)   # "exact": a reduction, else elementwise
        return write_out("min", _extreme(input, dim, keepdim, axis, keepdims, True, other), out, rule,
                         inputs=(input, dim, other), overlap="reduce" if rule == "exact" else "partial")
    return _extreme(input, dim, keepdim, axis, keepdims, True, other)


def amax(input: Tensor, dim: Any = (), keepdim: bool = False, *, axis: Any = None,  # noqa: A002
         keepdims: bool | None = None, out: Any = None) -> Tensor:
    """Maximum values over ``dim`` (int or tuple; ``()`` or None: all), which are removed from the shape (kept as 1
    with ``keepdim``); ties share the gradient. ``out=``: written
    into that tensor, of x's dtype."""
    if out is not None:
        return write_out("amax", amax(input, dim, keepdim, axis=axis, keepdims=keepdims), out, "exact",
                         inputs=(input,), overlap="any")
    return _reduced(lambda axes, keep: Max(axes, keep, nan_shares=False), "amax", input, dim, keepdim, axis, keepdims)


def amin(input: Tensor, dim: Any = (), keepdim: bool = False, *, axis: Any = None,  # noqa: A002
         keepdims: bool | None = None, out: Any = None) -> Tensor:
    """Minimum values over ``dim`` (int or tuple; ``()`` or None: all), which are removed from the shape (kept as 1
    with ``keepdim``); ties share the gradient. ``out=``: written
    into that tensor, of x's dtype."""
    if out is not None:
        return write_out("amin", amin(input, dim, keepdim, axis=axis, keepdims=keepdims), out, "exact",
                         inputs=(input,), overlap="any")
    return _reduced(lambda axes, keep: Max(axes, keep, smallest=True, nan_shares=False), "amin", input, dim, keepdim,
                    axis, keepdims)


def _correction(name: str, unbiased: Any, correction: Any, ddof: Any, numpy_style: bool) -> Any:
    given = [v for v in (unbiased, correction, ddof) if v is not None]
    if len(given) > 1:
        raise TypeError(f"{name}: give one of unbiased=, correction= (PyTorch) and ddof= (NumPy)")
    if unbiased is not None:
        return 1 if flag(unbiased, name, "unbiased") else 0
    if given:
        value = given[0]
        if isinstance(value, Tensor) and value.ndim == 0 and value.dtype.kind in "biuf":
            value = value.item()   # a 0-d tensor, as PyTorch's parser reads a Number (tensor(True) too)
        if isinstance(value, (bool, backend.numpy.bool_)):
            return int(value)   # PyTorch's correction=True is 1
        if not isinstance(value, (int, float, backend.numpy.integer, backend.numpy.floating)):
            raise TypeError(f"{name}: correction / ddof must be a number, got {type(value).__name__}")
        # a NumPy scalar as its Python number: its dtype would promote the result (std of float32 was float64)
        return value.item() if isinstance(value, backend.numpy.generic) else value
    return 0 if numpy_style else 1


def var(input: Tensor, dim: Any = None, unbiased: bool | None = None, keepdim: bool = False, *,  # noqa: A002
        correction: Any = None, axis: Any = NOT_GIVEN, keepdims: bool | None = None,
        ddof: Any = None) -> Tensor:
    """Variance over ``dim``: PyTorch's ``correction=1`` (``unbiased=True``) by default.

    With NumPy's keywords (``axis=``, ``keepdims=``, ``ddof=``) the default is
    NumPy's ``ddof=0``: ``x.var(axis=0)`` is the population variance.
    """
    return _spread(Var, "var", input, dim, unbiased, keepdim, correction, axis, keepdims, ddof)


def _spread(op_class: Any, name: str, x: Any, dim: Any, unbiased: Any, keepdim: bool, correction: Any,
            axis: Any, keepdims: Any, ddof: Any) -> Tensor:
    if isinstance(dim, bool):   # torch's var(unbiased) overload: x.var(False)
        dim, unbiased = None, dim
    if isinstance(dim, (tuple, list)) and not dim:
        dim = None   # PyTorch: an empty dim list reduces every dim
    # NumPy's ddof=0 with axis= or ddof=, or keepdims= without a dim; a dim (NumPy has none) means PyTorch's
    # correction=1 even with keepdims=, which PyTorch takes as its keepdim
    numpy_style = axis is not NOT_GIVEN or ddof is not None or (keepdims is not None and dim is None)
    correction = _correction(name, unbiased, correction, ddof, numpy_style)
    x = tensor_arg(x, name)
    if x.data.dtype.kind not in "fc" and not numpy_style:
        raise ArgumentTypeError(f"{name}: std and var only support floating point and complex dtypes, got {x.dtype} "
                                "(call .float() first)")
    axes = reduced_axes(dim_or_axis(name, dim, axis), x.ndim, name)
    op = op_class(axes, keep_flag(name, keepdim, keepdims), correction)
    op.name = name
    return op(x)


def std(input: Tensor, dim: Any = None, unbiased: bool | None = None, keepdim: bool = False, *,  # noqa: A002
        correction: Any = None, axis: Any = NOT_GIVEN, keepdims: bool | None = None,
        ddof: Any = None) -> Tensor:
    """Standard deviation, ``sqrt(var(...))``, with :func:`var`'s conventions."""
    return _spread(Std, "std", input, dim, unbiased, keepdim, correction, axis, keepdims, ddof)


def logsumexp(input: Tensor, dim: Any = None, keepdim: bool = False, *, axis: Any = None,  # noqa: A002
              keepdims: bool | None = None, out: Tensor | None = None) -> Tensor:
    """log(sum(exp(x))) over ``dim`` (None: all), stable for large inputs.

    Integer and bool inputs give the default float dtype (float32), as PyTorch. ``out=`` takes any floating or
    complex dtype, computed as PyTorch's (see :func:`_logsumexp_into`).
    """
    x = tensor_arg(input, "logsumexp")
    if x.dtype.kind not in "fc":
        x = x.to(dtype=get_default_dtype())
    if out is None:
        return _reduced(LogSumExp, "logsumexp", x, dim, keepdim, axis, keepdims)
    if dim is None and axis is None:   # PyTorch's logsumexp always takes a dim (here: all without out, as NumPy)
        raise TypeError("logsumexp() missing 1 required positional argument: \"dim\" (PyTorch's logsumexp "
                        f"takes out= only with a dim; input shape {x.shape})")
    if isinstance(out, Tensor) and out.dtype.kind not in "fc":
        raise OutDtypeError(f"logsumexp(): expected a floating point or complex out, got {out.dtype} (shape "
                            f"{out.shape}), as in PyTorch")
    if isinstance(out, Tensor) and out.dtype != x.dtype and axis is None and keepdims is None:
        result = _logsumexp_into(x, dim, keepdim, out.dtype)
    else:   # (NumPy's keywords: the result cast into out)
        result = _reduced(LogSumExp, "logsumexp", x, dim, keepdim, axis, keepdims)
    return write_out("logsumexp", result, out)   # PyTorch's composed logsumexp is right with any overlap


def _logsumexp_into(x: Tensor, dim: Any, keepdim: bool, dtype: Any) -> Tensor:
    """logsumexp of ``x`` over ``dim`` into an out of another ``dtype``, PyTorch's steps: e^(x - max) in x's dtype
    (an infinite max taken as 0), then the sum, its log and the max added back in ``dtype`` (a float32 x into a
    float64 out is not the float32 result cast). The result's shape, of ``dtype``."""
    if not x.numel():   # no max to take: log(0) = -inf, as PyTorch's
        return sum(x.exp(), dim, keepdim, dtype=dtype).log()
    kept = amax(x, () if dim is None else dim, keepdim=True)
    kept = kept.masked_fill(abs(kept) == math.inf, 0)
    total = sum((x - kept).exp(), dim, keepdim, dtype=dtype)
    return total.log() + kept.reshape(total.shape)


def softmax(input: Tensor, dim: int = NOT_GIVEN, dtype: Any = None, *, axis: int | None = None) -> Tensor:  # noqa: A002
    """exp(x) / sum(exp(x)) along ``dim`` (the last by default), stable for large inputs; ``dtype`` casts
    first, as torch.softmax. Same shape as x."""
    return _along_one_dim(Softmax, "softmax", input, dim, dtype, axis)


def log_softmax(input: Tensor, dim: int = NOT_GIVEN, dtype: Any = None, *, axis: int | None = None) -> Tensor:  # noqa: A002
    """x - logsumexp(x) along ``dim`` (the last by default), stable for large inputs; ``dtype`` casts
    first, as torch.log_softmax. Same shape as x."""
    return _along_one_dim(LogSoftmax, "log_softmax", input, dim, dtype, axis)


class SoftmaxDtypeError(TypeError, NotImplementedError):
    """softmax of an integer or bool tensor: TypeError here, NotImplementedError (no kernel) in PyTorch."""


def _along_one_dim(op: type, name: str, x: Tensor, dim: Any, dtype: Any, axis: Any) -> Tensor:
    """softmax or log_softmax: the checks, the ``dtype`` cast, and a 0-d tensor's only element."""
    x = tensor_arg(x, name)
    if dtype is not None:
        x = x.to(dtype=dtype)
    kind, ndim = x.data.dtype.kind, x.data.ndim   # (read once: softmax runs at every step of a small recurrent net)
    if kind in "biu":   # no integer kernel in PyTorch either (its NotImplementedError)
        raise SoftmaxDtypeError(f"{name}: not implemented for dtype {x.dtype} (shape {tuple(x.shape)}), as in "
                                f"PyTorch; pass dtype= or convert with .float()")
    if kind == "c":   # PyTorch has no complex kernel either (its NotImplementedError)
        raise NotImplementedError(f"{name}: not implemented for complex tensors (dtype {x.dtype}, shape "
                                  f"{tuple(x.shape)}), as in PyTorch")
    # (dim=None: PyTorch's TypeError, as torch.softmax(x, None); only nn.functional's softmax infers a dim then)
    axis = one_axis(one_dim_or_axis(name, dim, axis, -1), ndim, name)
    if ndim == 0:   # over a 0-d tensor's only element, as PyTorch
        return op(0)(x.reshape(1)).reshape(())
    return op(axis)(x)


def norm(input: Tensor, p: Any = 2, dim: Any = None, keepdim: bool = False, *, axis: Any = None,  # noqa: A002
         keepdims: bool | None = None, dtype: Any = None) -> Tensor:
    """The vector p-norm over ``dim`` (None: all elements), as torch.norm / torch.linalg.vector_norm.

    ``p`` is a number, ``inf``, ``-inf`` or ``"fro"`` (the 2-norm of the entries); ``dtype`` casts x
    first (a floating dtype at least as wide as x's), as torch's.
    """
    x = input
    if p is None or isinstance(p, str) and p == "fro":   # None: the default, as PyTorch's
        p = 2
    if isinstance(p, Tensor) and p.ndim == 0 and not p.requires_grad and p.dtype.kind in "biuf":
        p = float(p.item())   # a 0-d tensor that needs no grad counts as its value, as in PyTorch
    if isinstance(p, bool) or not isinstance(p, (int, float, backend.numpy.integer, backend.numpy.floating)):
        raise ShapeMismatchError(f"norm: p must be a number, inf, -inf or 'fro', got {p!r}")
    x = tensor_arg(x, "norm")
    if isinstance(dim, (tuple, list)) and not dim:   # no dims listed: all of them, as PyTorch's (sum's too)
        dim = None
    if x.dtype.kind not in "fc":
        raise ArgumentTypeError(f"norm: expected a floating-point tensor, got {x.dtype}")
    if dtype is not None:
        dtype = backend.as_dtype(dtype, "norm")
        if dtype.kind not in "fc" or not backend.numpy.can_cast(x.dtype, dtype, "safe"):
            raise ArgumentTypeError(f"norm: dtype={dtype} must be a floating dtype x's {x.dtype} casts to without "
                                    f"narrowing")
        x = x.to(dtype=dtype)
    if x.dtype.kind == "c":   # a complex entry counts by its modulus; the norm is real, as PyTorch's
        x = abs(x)
    axes = reduced_axes(dim_or_axis("norm", dim, axis), x.ndim, "norm")
    if (p < 0 or p == math.inf) and any(x.shape[a] == 0 for a in (range(x.ndim) if axes is None else axes)):
        raise ShapeMismatchError(f"norm: cannot compute the {p} norm over an empty dim (shape {x.shape}): the "
                                 f"operation has no identity, as in PyTorch")
    return Norm(float(p), axes, keep_flag("norm", keepdim, keepdims))(x)
