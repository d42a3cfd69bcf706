"""Products, running sums and products along a dim, medians: ``prod``, ``cumsum``, ``cumprod``,
``logcumsumexp``, ``median``, with PyTorch's results and gradients.

The gradients of ``prod`` and ``cumprod`` are exact where the input has zeros:
each element's gradient is the product of the *other* factors, built from
running products from the left and from the right. Without a zero they divide
the result by the input, as PyTorch's, so an inf or NaN factor gives NaN there.
"""

from __future__ import annotations

import math
from typing import Any

import numpy

from .. import backend, return_types
from ..autograd import Function
from ..autograd.engine import frees_saved
from ..outputs import write_out
from ..tensor import Tensor
from ._stl_order import MAX_REPLAYED, nth_element
from ._util import (
    NOT_GIVEN,
    DtypeNotImplementedError,
    complex_order_error,
    dim_or_axis,
    fresh_memory,
    keep_flag,
    normalize_axis,
    one_axis,
    tensor_arg,
)
from .elementwise import where
from .math import _logaddexp
from .reduce import summed_as
from .select import Gather, _indices, _reduction_axis, c_order, kept_dims_c_order, sort
from .shape import astype, clone, permute, reshape


def _to_last(xp: Any, x: Any, axes: tuple) -> Any:
    """``x`` with ``axes`` moved to the end and merged into one: shape (rest..., n)."""
    moved = xp.moveaxis(x, axes, tuple(range(x.ndim - len(axes), x.ndim)))
    n = 1
    for a in axes:
        n *= x.shape[a]
    return moved.reshape(moved.shape[:x.ndim - len(axes)] + (n,))


def _from_last(xp: Any, y: Any, shape: tuple, axes: tuple) -> Any:
    """The inverse of :func:`_to_last` for an array of the same size."""
    rest = [s for i, s in enumerate(shape) if i not in axes]
    moved = y.reshape(tuple(rest) + tuple(shape[a] for a in axes))
    return xp.moveaxis(moved, tuple(range(len(rest), len(shape))), axes)


def _exclusive_cumprod(xp: Any, x: Any) -> Any:
    """Along the last axis: out[..., i] = x[..., 0] * … * x[..., i-1] (1 for i = 0); exact with zeros."""
    ones = xp.ones(x.shape[:-1] + (1,), dtype=x.dtype)
    return xp.concatenate([ones, xp.cumprod(x[..., :-1], axis=-1)], axis=-1)


_CPU_ACCUMULATOR = {"float32": "float64", "complex64": "complex128"}


def _wide(xp: Any, x: Any) -> Any:
    """The accumulation dtype of PyTorch's running sums and products (its ``acc_type``; one rounding at the
    end, not one per step): float32 for a float16 array; on the CPU also float64 for float32 and complex128
    for complex64 (on a GPU those keep their own); else the array's own."""
    if x.dtype == "float16":
        return "float32"
    if xp is numpy and x.dtype.name in _CPU_ACCUMULATOR:
        return _CPU_ACCUMULATOR[x.dtype.name]
    return x.dtype


def _integer_result(x: Tensor) -> Tensor:
    """Integer and bool inputs accumulate in int64, as PyTorch's sum/prod/cumsum."""
    return astype(x, "int64") if x.dtype.kind in "biu" and x.dtype != "int64" else x


def _accumulated(x: Tensor, dtype: Any, name: str) -> Tensor:
    """``x`` cast to ``dtype`` when given (:func:`~minigrad.ops.reduce.summed_as`: an integer ``dtype`` of an input
    that requires grad raises), else to its accumulation dtype (:func:`_integer_result`)."""
    return _integer_result(x) if dtype is None else summed_as(x, dtype, name)


class Prod(Function):
    """The product over ``axes`` (None: all); the gradient is the product of the other factors."""

    complex_grad = "holomorphic"   # products of the other factors, no division; see autograd.engine._complex_gate

    def __init__(self, axes: Any, keepdims: bool) -> None:
        self.axes, self.keepdims = axes, keepdims

    def forward(self, x: Any) -> Any:
        if x.dtype == "float16" and type(x) is backend.numpy.ndarray:   # the CPU
            y = _float16_steps_prod(x, self.axes, self.keepdims)
        else:
            y = self.xp.asarray(x.prod(axis=self.axes, keepdims=self.keepdims))
            y = kept_dims_c_order(y) if self.keepdims else c_order(y)
        self.saved, self.result = (x,), y   # saved: what minigrad/higher_order_rules.py reads
        return y

    def kept_for_backward(self) -> tuple:
        return (*self.saved, self.result)   # the backward reads the output too: a write into it is refused

    def backward(self, gy: Any) -> Any:
        gx = self._gradient(gy)
        if frees_saved():   # the engine frees `saved` after this backward: the output it read goes too, as PyTorch's
            self.result = None
        return gx

    def _gradient(self, gy: Any) -> Any:
        (x,), y = self.saved, self.result
        xp = self.xp
        axes = tuple(range(x.ndim)) if self.axes is None else self.axes
        if x.size == 0:
            return xp.zeros_like(x)
        g = gy if self.keepdims or not axes else xp.expand_dims(gy, axes)
        zeros = int((x == 0).sum())
        if self.axes is None and zeros > 1:   # PyTorch: every product of the others has a zero (even with an inf)
            return xp.zeros_like(x)
        if x.ndim and not zeros:   # PyTorch's rule without zeros: result / x (NaN at an inf or NaN x)
            with backend.errstate(xp, invalid="ignore"):
                return g * ((y if self.keepdims or not axes else xp.expand_dims(y, axes)) / x)
        flat = _to_last(xp, x, axes)
        right = xp.flip(_exclusive_cumprod(xp, xp.flip(flat, -1)), -1)
        others = _from_last(xp, _exclusive_cumprod(xp, flat) * right, x.shape, axes)
        return g * others


def _float16_steps_prod(x: Any, axes: Any, keepdims: bool) -> Any:
    """The product of a float16 NumPy array over ``axes`` (None: all) as PyTorch's CPU prod: factor by factor in
    order, each step rounded to float16. NumPy's product along the innermost run accumulates in float32 and rounds
    once, so the factors are laid along axis 0 of an (n, m) array, m ≥ 2, where each step is one multiply."""
    axes = tuple(range(x.ndim)) if axes is None else tuple(axes)
    kept = tuple(d for d in range(x.ndim) if d not in axes)
    n, width = math.prod(x.shape[d] for d in axes), math.prod(x.shape[d] for d in kept)
    columns = numpy.ascontiguousarray(x.transpose(axes + kept)).reshape(n, width)   # else NumPy may loop along axis 0
    y = numpy.multiply.reduce(numpy.broadcast_to(columns, (n, 2)) if width == 1 else columns, axis=0)[:width]
    shape = tuple(1 if d in axes else s for d, s in enumerate(x.shape)) if keepdims else \
        tuple(x.shape[d] for d in kept)
    return numpy.ascontiguousarray(y).reshape(shape)


def prod(input: Tensor, dim: Any = NOT_GIVEN, keepdim: bool = False, *, dtype: Any = None, axis: Any = NOT_GIVEN,  # noqa: A002
         keepdims: Any = NOT_GIVEN) -> Tensor:
    """The product of the elements over ``dim`` (all when not given); integer inputs give int64, and an
    integer or bool ``dtype`` that dtype (bool: whether every element is non-zero), as torch.prod.

    Shapes: x (..., n, ...) → ``dim`` removed (kept as 1 with ``keepdim=True``). NumPy's ``axis=``
    may be a tuple. The gradient is exact where x has zeros.
    """
    x = _accumulated(tensor_arg(input, "prod"), dtype, "prod")
    chosen = dim_or_axis("prod", dim, axis)
    if dim is not NOT_GIVEN and dim is not None:
        chosen = one_axis(dim, max(x.ndim, 1), "prod")
    axes = normalize_axis(chosen, x.ndim, "prod") if x.ndim else None
    out = Prod(axes, keep_flag("prod", keepdim, keepdims))(x)
    return astype(out, x.dtype) if out.dtype != x.dtype else out   # NumPy's int64 product of int32 or bool


def _scan_axis(x: Tensor, dim: Any, axis: Any, name: str) -> int | None:
    """The one axis a running sum/product goes along; None for a 0-d tensor (a scan of one element)."""
    chosen = dim_or_axis(name, dim, axis)
    if chosen is None or chosen is NOT_GIVEN:
        raise TypeError(f"{name}: give the dim to accumulate along, e.g. {name}(x, dim=0)")
    a = one_axis(chosen, max(x.ndim, 1), name)
    return a if x.ndim else None


def _numpy_scan_input(x: Tensor, dim: Any, axis: Any) -> tuple[Tensor, Any]:
    """x and the axis of a running sum/product called with NumPy's ``axis=``: None scans the flattened tensor,
    as np.cumsum's."""
    if axis is None and dim is NOT_GIVEN:
        return reshape(x, (-1,)), 0
    return x, axis


class CumSum(Function):
    complex_grad = True   # linear with real coefficients: the same backward; see autograd.engine._complex_gate

    def __init__(self, axis: int) -> None:
        self.axis = axis

    def forward(self, x: Any) -> Any:
        y = self.xp.cumsum(x, axis=self.axis, dtype=_wide(self.xp, x))
        if y.dtype.kind in "fc":
            y += 0   # PyTorch's running sum starts at +0.0: a leading -0.0 (or run of them) gives 0.0
        return c_order(y.astype(x.dtype, copy=False))

    def backward(self, gy: Any) -> Any:
        xp = self.xp
        from_right = xp.cumsum(xp.flip(gy, self.axis), axis=self.axis, dtype=_wide(xp, gy))
        return xp.flip(from_right, self.axis).astype(gy.dtype, copy=False)   # a sum from the right


def cumsum(input: Tensor, dim: Any = NOT_GIVEN, *, dtype: Any = None, axis: Any = NOT_GIVEN,  # noqa: A002
           out: Tensor | None = None) -> Tensor:
    """Running sums along ``dim``: out[i] = x[0] + … + x[i]; same shape (integer inputs give int64, as
    PyTorch; ``dtype`` casts first and is the result's dtype). ``out=`` (minigrad/outputs.py): summed in out's
    dtype, as torch's (x cast first); an explicit ``dtype`` must be out's."""
    if out is not None:
        dtype = getattr(out, "dtype", None) if dtype is None else dtype
        return write_out("cumsum", cumsum(input, dim, dtype=dtype, axis=axis), out, "exact", inputs=(input,),
                         overlap="reduce")
    x, axis = _numpy_scan_input(_accumulated(tensor_arg(input, "cumsum"), dtype, "cumsum"), dim, axis)
    if x.dtype.kind == "b" and x.ndim and x.numel():   # PyTorch has no bool kernel (0-d and empty skip it)
        raise NotImplementedError("cumsum: not implemented for dtype bool (as PyTorch's)")
    a = _scan_axis(x, dim, axis, "cumsum")
    return CumSum(a)(x) if a is not None else clone(x)   # a 0-d x: PyTorch copies it (-0.0 stays)


class CumProd(Function):
    """Running products, with PyTorch's gradient: before a row's first zero, grad[i] = Σ_{j≥i} y[j]·gy[j] / x[i]
    (NaN at an inf or NaN x, as PyTorch's); at the first zero z, y[z-1] · Σ_{z≤j<z2} gy[j]·x[z+1]…x[j] (z2: the
    next zero, exact); 0 after it."""

    complex_grad = "holomorphic"   # products and sums; see autograd.engine._complex_gate

    def __init__(self, axis: int) -> None:
        self.axis = axis

    def forward(self, x: Any) -> Any:
        factors = x
        if x.dtype.kind == "c":   # PyTorch's running product starts at 1: 1 · (inf + 0j) is inf + NaN j
            factors = x.copy()
            first = (slice(None),) * self.axis + (slice(0, 1),)
            factors[first] = factors[first] * 1
        y = c_order(self.xp.cumprod(factors, axis=self.axis, dtype=_wide(self.xp, x)).astype(x.dtype, copy=False))
        self.saved, self.result = (x,), y   # saved: what minigrad/higher_order_rules.py reads
        return y

    def kept_for_backward(self) -> tuple:
        return (*self.saved, self.result)   # the backward reads the output too: a write into it is refused

    def backward(self, gy: Any) -> Any:
        gx = self._gradient(gy)
        if frees_saved():   # the engine frees `saved` after this backward: the output it read goes too, as PyTorch's
            self.result = None
        return gx

    def _gradient(self, gy: Any) -> Any:
        (x,), y = self.saved, self.result
        xp, a = self.xp, self.axis
        if x.size == 0 or x.shape[a] == 1:
            return gy if x.size else xp.zeros_like(x)
        zeros_so_far = xp.cumsum(x == 0, axis=a)
        before, first = zeros_so_far == 0, (zeros_so_far == 1) & (x == 0)
        from_right = xp.flip(xp.cumsum(xp.flip(xp.where(before, y * gy, 0), a), axis=a), a)
        with backend.errstate(xp, divide="ignore", invalid="ignore"):
            grad = xp.where(before, from_right / x, 0)
        between = (zeros_so_far == 1) & ~first
        running = xp.cumprod(xp.where(between, x, 1), axis=a)   # x[z+1]…x[j] up to the next zero
        at_first = (running * xp.where(zeros_so_far == 1, gy, 0)).sum(axis=a, keepdims=True)
        y_before = xp.moveaxis(_exclusive_cumprod(xp, xp.moveaxis(x, a, -1)), -1, a)   # y[z-1], 1 at z = 0
        return xp.where(first, at_first * y_before, grad)


def cumprod(input: Tensor, dim: Any = NOT_GIVEN, *, dtype: Any = None, axis: Any = NOT_GIVEN) -> Tensor:  # noqa: A002
    """Running products along ``dim``: out[i] = x[0] · … · x[i]; same shape; exact gradients at zeros."""
    x, axis = _numpy_scan_input(_accumulated(tensor_arg(input, "cumprod"), dtype, "cumprod"), dim, axis)
    if x.dtype.kind == "b" and x.ndim and x.numel():   # PyTorch has no bool kernel (0-d and empty skip it)
        raise NotImplementedError("cumprod: not implemented for dtype bool (as PyTorch's)")
    a = _scan_axis(x, dim, axis, "cumprod")
    return CumProd(a)(x) if a is not None else clone(x)


def _logcumsumexp_array(xp: Any, x: Any, axis: int) -> Any:
    if x.dtype.kind == "c":
        # PyTorch's complex scan, step by step: acc = logaddexp(x[i], acc) from acc = -inf + 0j (the order and the
        # start matter only where real parts tie at an infinity: logcumsumexp of [-inf + 1j] is -inf + 0j there)
        y = xp.moveaxis(x, axis, -1)
        out = xp.empty_like(y)
        acc = xp.full(y.shape[:-1], complex(-math.inf, 0), dtype=y.dtype)
        for i in range(y.shape[-1]):
            acc = out[..., i] = _logaddexp(xp, y[..., i], acc)
        return xp.moveaxis(out, -1, axis)
    if xp is numpy:
        return numpy.logaddexp.accumulate(x, axis=axis)
    # CuPy has no logaddexp.accumulate: a doubling scan, log2(n) steps of logaddexp (never a shift by the
    # line's max, which would underflow the early terms of a line with a wide range)
    y = xp.moveaxis(x, axis, -1)
    offset, n = 1, y.shape[-1]
    while offset < n:
        y = xp.concatenate([y[..., :offset], xp.logaddexp(y[..., offset:], y[..., :-offset])], axis=-1)
        offset *= 2
    return xp.ascontiguousarray(xp.moveaxis(y, -1, axis))


class LogCumSumExp(Function):
    """out[i] = log Σ_{k<=i} exp(x[k]); grad[k] = Σ_{i>=k} gy[i] · exp(x[k] - out[i]), summed in
    log space (the positive and negative parts of gy apart) so that nothing overflows. Complex x: PyTorch's
    values and gradient (its conjugate: Σ gy[i] · conj(exp(x[k] - out[i])))."""

    complex_grad = True   # backward gives PyTorch's complex gradient (autograd.engine._complex_gate)

    def __init__(self, axis: int) -> None:
        self.axis = axis

    def forward(self, x: Any) -> Any:
        y = _logcumsumexp_array(self.xp, x.astype(_wide(self.xp, x), copy=False), self.axis)
        if y.dtype.kind == "f":
            y = y + 0   # PyTorch's log1p(exp(min - max)) + max from -inf is never -0.0: a leading -0.0 gives 0.0
            # (a new array: the scan of an empty broadcast input may hand back a read-only one)
        y = y.astype(x.dtype, copy=False)
        y = c_order(y)   # PyTorch's result is C order whatever x's layout
        self.saved = (x, y)
        return y

    def backward(self, gy: Any) -> Any:
        x, y = self.saved
        xp, axis = self.xp, self.axis
        if x.size == 0:
            return xp.zeros_like(x)
        if x.dtype.kind == "c":
            if x.shape[axis] <= 1:
                return gy
            # PyTorch's complex rule: grad[k] = Σ_{i>=k} gy[i] · conj(exp(x[k] - out[i])), in log space in one piece
            with backend.errstate(xp, divide="ignore", invalid="ignore", over="ignore"):
                terms = xp.log(xp.conj(gy)) - y   # log 0 = -inf: a zero gradient adds nothing
                from_right = xp.flip(_logcumsumexp_array(xp, xp.flip(terms, axis), axis), axis)
                return xp.conj(xp.exp(from_right + x))
        out = xp.zeros_like(x)
        with backend.errstate(xp, divide="ignore", invalid="ignore"):
            for sign, part in ((1, xp.maximum(gy, 0)), (-1, xp.maximum(-gy, 0))):
                terms = xp.log(part) - y   # log 0 = -inf: a zero part adds nothing
                from_right = xp.flip(_logcumsumexp_array(xp, xp.flip(terms, axis), axis), axis)
                out = out + sign * xp.exp(from_right + x)
        return out


def logcumsumexp(input: Tensor, dim: Any = NOT_GIVEN, *, axis: Any = NOT_GIVEN) -> Tensor:  # noqa: A002
    """log(cumsum(exp(x))) along ``dim`` without overflow; same shape."""
    x = tensor_arg(input, "logcumsumexp")
    if x.dtype.kind not in "fc":
        raise DtypeNotImplementedError(f"logcumsumexp: expected a floating point tensor, got dtype {x.dtype}")
    a = _scan_axis(x, dim, axis, "logcumsumexp")
    return LogCumSumExp(a)(x) if a is not None else clone(x)


# --- median ----------------------------------------------------------------------------------------

def _median_index(xp: Any, x: Any, axis: int) -> Any:
    """The index of the lower median along ``axis`` (keepdims); of the first NaN where there is one."""
    n = x.shape[axis]
    order = backend.stable_argsort(xp, x, axis)
    index = xp.take(order, [(n - 1) // 2], axis=axis)
    nans = xp.isnan(x) if x.dtype.kind == "f" else None
    if nans is not None:
        has_nan = nans.any(axis=axis, keepdims=True)
        index = xp.where(has_nan, xp.argmax(nans, axis=axis, keepdims=True), index)
    return index.astype("int64", copy=False)


def _numpy_median(input: Any, dim: Any, keepdim: bool, axis: Any, keepdims: bool | None,  # noqa: A002
                  name: str = "median") -> Tensor:
    """np.median(x, axis, keepdims=keepdims): each line sorted (NaN last), its middle value or the mean of its
    two middle values, NaN where the line has one; over one axis, several (moved last and merged) or all
    (None). Differentiable: the gradient goes to the middle element(s). ``name="nanmedian"``: np.nanmedian's,
    the middle of each line's non-NaN values (NaN where it has none)."""
    if dim is not None or keepdim:
        raise TypeError(f"{name}: give dim=/keepdim= (PyTorch) or axis=/keepdims= (NumPy), not both")
    x = tensor_arg(input, name)
    if x.dtype.kind not in "biuf":
        raise TypeError(f"{name}: expected a real tensor, got dtype {x.dtype}")
    if x.dtype.kind in "biu":
        x = astype(x, numpy.float64)   # NumPy's median of integers and bools is float64
    axes = tuple(range(x.ndim)) if axis is None else normalize_axis(axis, x.ndim, name)
    if len(set(axes)) != len(axes):
        raise ValueError(f"{name}: axis {axis} names a dim more than once (shape {x.shape})")
    rest = [d for d in range(x.ndim) if d not in axes]
    rest_shape, n = tuple(x.shape[d] for d in rest), math.prod(x.shape[d] for d in axes)
    lines = reshape(permute(x, *rest, *axes) if x.ndim else x, rest_shape + (n,))   # axis=(): lines of one
    if n == 0:   # NumPy's NaN (with its "Mean of empty slice" warning)
        out = lines.new_full(rest_shape, math.nan)
    else:
        out = _median_of_lines(lines, name)
    if keepdims:
        out = reshape(out, tuple(1 if d in axes else size for d, size in enumerate(x.shape)))
    return out


def _median_of_lines(lines: Tensor, name: str) -> Tensor:
    """np.median (np.nanmedian) of each line along the last dim of ``lines`` (..., n), n > 0 → (...)."""
    n = lines.shape[-1]
    ordered = sort(lines, -1).values
    if name == "nanmedian":   # the middle of the first `count` sorted values, the non-NaN ones
        count = (ordered == ordered).sum(-1, keepdim=True)
        low, high = ((count - 1) // 2).clamp_min(0), count // 2   # no values: both 0, a NaN
        low_value, high_value = ordered.gather(-1, low)[..., 0], ordered.gather(-1, high)[..., 0]
        out = where((low == high)[..., 0], low_value, (low_value + high_value) / 2)
    else:
        middle = ordered[..., n // 2] if n % 2 else (ordered[..., n // 2 - 1] + ordered[..., n // 2]) / 2
        last = ordered[..., -1]   # NaN when the line has one (sorted last)
        out = where(last != last, last, middle)
    return out


def _zero_as_torch(xp: Any, x: Any, y: Any, ignore_nan: bool) -> Any:
    """The median ``y`` of ``x``, with the sign PyTorch's CPU median() gives a zero median where ``x`` holds
    both 0.0 and -0.0: that of the element its std::nth_element leaves in the middle of x's elements in memory
    order (replayed by :mod:`._stl_order`; with ``ignore_nan``, nanmedian's comparator and middle of the
    non-NaN values)."""
    if xp is not numpy or y != 0 or x.dtype.kind != "f" or x.size > MAX_REPLAYED:
        return y
    flat = numpy.ravel(x, order="K")   # PyTorch clones x keeping its strides, then reads its memory
    zeros = flat[flat == 0]
    if numpy.signbit(zeros).all() or not numpy.signbit(zeros).any():
        return y
    pairs = list(zip(flat.tolist(), range(flat.size)))
    if ignore_nan:
        middle = (int((~numpy.isnan(flat)).sum()) - 1) // 2
        nth_element(pairs, middle, lambda a, b: a[0] < b[0] or (b[0] != b[0] and a[0] == a[0]))
    else:
        middle = (flat.size - 1) // 2
        nth_element(pairs, middle, lambda a, b: a[0] < b[0])
    return flat[pairs[middle][1]].reshape(())


def _partition_median(xp: Any, flat: Any) -> Any:
    """The lower median of ``flat`` (1-d, not empty) as a 0-d array by NumPy's partition, 10x faster than the
    stable sort; None where the value depends on which equal element is the median (a zero: its sign) or where
    there is a NaN (the first NaN is the result), and off NumPy, for ``_median_index`` to decide."""
    if xp is not numpy or flat.dtype.kind not in "iuf" or (flat.dtype.kind == "f" and numpy.isnan(flat).any()):
        return None
    middle = (flat.size - 1) // 2
    y = numpy.partition(flat, middle)[middle:middle + 1].reshape(())
    return None if y == 0 else y


class MedianAll(Function):
    """The lower median of all elements (NaN if any is NaN); equal elements share the gradient, as
    torch.median()."""

    def forward(self, x: Any) -> Any:
        xp = self.xp
        flat = x.reshape(-1)
        if flat.size == 0:   # NaN; of an integer dtype, PyTorch's NaN cast (the minimum from 32 bits up, else 0)
            empty = xp.nan if x.dtype.kind == "f" else xp.iinfo(x.dtype).min if x.dtype.itemsize >= 4 else 0
            y = xp.asarray(empty, dtype=x.dtype)
        else:
            y = _partition_median(xp, flat)
            if y is None:
                y = flat[_median_index(xp, flat, 0)].reshape(())
                y = _zero_as_torch(xp, x, y, ignore_nan=False)
        self.saved = (x, y)
        return y

    def backward(self, gy: Any) -> Any:
        x, y = self.saved
        xp = self.xp
        ties = (x == y) | (xp.isnan(x) & xp.isnan(y)) if x.dtype.kind == "f" else x == y
        count = xp.maximum(ties.sum(), 1).astype(gy.dtype)   # on the device: no host read
        return xp.where(ties, gy / count, gy.dtype.type(0))


def median(input: Tensor, dim: Any = None, keepdim: bool = False, *, axis: Any = NOT_GIVEN,  # noqa: A002
           keepdims: bool | None = None) -> Any:
    """The lower median, as torch.median: of all elements (a 0-d tensor) without ``dim``; with ``dim``,
    ``(values, indices)`` along it (the gradient goes to the element at the index). NumPy's ``axis=`` /
    ``keepdims=`` give np.median's result: values alone, the mean of the two middle elements of an even count
    (float64 for an integer input), NaN where a line has one; ``axis`` an int, a tuple or None (all).
    ``keepdims=`` beside a dim is PyTorch's alias of ``keepdim=``."""
    if axis is not NOT_GIVEN or (keepdims is not None and dim is None):
        return _numpy_median(input, dim, keepdim, None if axis is NOT_GIVEN else axis, keepdims)
    x = tensor_arg(input, "median")
    if x.dtype.kind == "c":   # complex values have no order (PyTorch's NotImplementedError)
        raise complex_order_error("median", x.dtype)
    if x.dtype.kind not in "iuf":
        empty_dim = dim is not None and x.ndim and x.shape[one_axis(dim, x.ndim, "median")] == 0
        if not empty_dim:   # an empty dim raises PyTorch's IndexError first (below), for a bool tensor too
            raise DtypeNotImplementedError(f"median: expected a real, non-bool tensor (as PyTorch), got dtype "
                                           f"{x.dtype}")
    if dim is None:
        return MedianAll()(x)
    axis = _reduction_axis(x, dim, "median")
    keep = keep_flag("median", keepdim, keepdims)   # keepdims= beside a dim: PyTorch's alias
    xp = backend.array_module(x.data)
    if x.ndim == 0:
        return return_types.median(clone(x), Tensor._make(xp.zeros((), dtype="int64"), False, None, 0))
    index = _indices("median", lambda data: _median_index(xp, data, axis), x)   # replayed on new values
    op = Gather(axis, index.data, squeeze=not keep)
    op.name = "median"
    values = fresh_memory(op(x))
    return return_types.median(values, index if keep else index.squeeze(axis))

