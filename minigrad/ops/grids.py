"""Tensors PyTorch builds from index grids and spacings: ``logspace``, ``tril_indices``/``triu_indices``,
``cartesian_prod``, ``block_diag``, ``trapezoid``, ``randint_like`` and ``scalar_tensor``.

The ones of tensors (``cartesian_prod``, ``block_diag``, ``trapezoid``) are compositions of
differentiable ops, so their gradients are those ops'.
"""

from __future__ import annotations

import math
from typing import Any

import numpy

from .. import backend
from .. import memory_formats as _memory_format
from ..arguments import allocating
from ..constructors import _fill_in, keep_out_shape, out_requires_grad, randint, tensor, tensor_options
from ..dtypes import default_complex_dtype, get_default_dtype
from ..outputs import creation_args, write_out
from ..tensor import Tensor, int64
from ._util import (
    NOT_GIVEN,
    ArgumentTypeError,
    DtypeMismatchError,
    ShapeMismatchError,
    axis_alias,
    count_arg,
    int_arg,
    number,
    one_axis,
    tensor_arg,
)
from .elementwise import add, mul
from .join import cat, stack
from .shape import getitem, reshape

__all__ = ["block_diag", "cartesian_prod", "logspace", "randint_like", "scalar_tensor", "trapezoid", "trapz",
           "tril_indices", "triu_indices"]


def logspace(start: float, end: float, steps: int, base: float = 10.0, *, out: Any = None, dtype: Any = None,
             device: Any = None, requires_grad: bool = False, layout: Any = None, pin_memory: Any = None) -> Tensor:
    """``steps`` values base**t for t evenly spaced from ``start`` to ``end`` (torch.logspace): (steps,). Complex
    ends give the default complex dtype; a complex dtype is computed in complex arithmetic (a negative base too)."""
    tensor_options("logspace", layout, None if out is not None else pin_memory, device)
    if out is not None:
        dtype, device = creation_args("logspace", out, dtype, device)
        values = keep_out_shape(logspace(start, end, steps, base, dtype=dtype, device=device), out)
        return out_requires_grad(write_out("logspace", values, out, warn=False), requires_grad, "logspace")
    start, end = (v.item() if isinstance(v, Tensor) and v.data.size == 1 else v for v in (start, end))   # 0-d bool
    start, end, base = (number(int(v) if isinstance(v, (bool, numpy.bool_)) else v, "logspace", what,  # True is 1
                               complex_ok=what != "base")
                        for v, what in ((start, "start"), (end, "end"), (base, "base")))
    steps = count_arg(steps, "logspace", "steps")
    complex_ends = any(isinstance(v, (complex, numpy.complexfloating)) for v in (start, end))
    if complex_ends or (dtype is not None and backend.as_dtype(dtype, "logspace").kind == "c"):
        with numpy.errstate(all="ignore"), allocating("logspace"):
            values = _complex_logspace(complex(start), complex(end), steps, float(base), dtype)
        return tensor(values, dtype=values.dtype, device=device,
                      requires_grad=False if requires_grad is None else requires_grad)
    dtype = backend.as_dtype(get_default_dtype() if dtype is None else dtype, "logspace")
    if dtype.kind == "b" and steps > 1:   # 0 or 1 step: base**start as a bool, as PyTorch's
        raise NotImplementedError("logspace: not implemented for dtype bool (as PyTorch's)")
    with numpy.errstate(all="ignore"), allocating("logspace"):
        values = _logspace_values(start, end, steps, float(base), dtype)
    return tensor(values, dtype=dtype, device=device, requires_grad=False if requires_grad is None else requires_grad)


def _logspace_values(start: Any, end: Any, steps: int, base: float, dtype: numpy.dtype) -> numpy.ndarray:
    """PyTorch's CPU ``logspace`` in ``dtype``, bit for bit: (steps,). One step: ``base ** start`` in float64,
    then checked into dtype. More: the ends converted into dtype first (checked: -4.0 into uint8 raises, the int
    -4 wraps), the exponents ``start + step * i`` for the first half and ``end - step * (steps - 1 - i)`` for the
    second, in float64 (float32 for integer dtypes, as PyTorch's integer kernel), then ``base ** t`` by C's pow
    in that float (NumPy's float64 power may differ from it in the last bit)."""
    if steps == 0:
        return numpy.empty(0, dtype=dtype)
    if steps == 1:
        return numpy.full(steps, _fill_in(_c_pow(base, float(start)), dtype, "logspace"), dtype=dtype)
    low, high = (_fill_in(v, dtype, "logspace") for v in (start, end))
    if dtype.kind in "iu":   # float32 throughout; the difference of the ends in exact integers
        compute, span = numpy.dtype(numpy.float32), numpy.float32(high - low)
    else:   # the ends in dtype and their difference rounded to dtype (float16 as c10::Half), the rest in float64
        compute = numpy.dtype(numpy.float64)
        low, high = numpy.asarray(low, dtype=dtype), numpy.asarray(high, dtype=dtype)
        span = (high - low).astype(compute)
    step = span / compute.type(steps - 1)
    i = numpy.arange(steps)
    up = numpy.asarray(low).astype(compute) + step * i.astype(compute)
    down = numpy.asarray(high).astype(compute) - step * (steps - 1 - i).astype(compute)
    exponents = numpy.where(i < steps // 2, up, down)
    if dtype.kind in "iu":
        return numpy.power(compute.type(base), exponents)
    values = numpy.fromiter((_c_pow(base, t) for t in exponents.tolist()), numpy.float64, count=steps)
    return values.astype(numpy.float32) if dtype == numpy.float16 else values   # c10::Half is made from a float


def _complex_logspace(low: complex, high: complex, steps: int, base: float, dtype: Any) -> numpy.ndarray:
    """PyTorch's CPU ``logspace`` in a complex dtype (the default complex dtype when None): (steps,). The
    exponents ``start + step * i`` (first half) and ``end - step * (steps - 1 - i)`` in that dtype, then
    ``base ** t`` as PyTorch's ``std::pow`` of complex numbers computes it, ``exp(t · log(base))`` in that dtype
    (a base of 0 or inf gives its inf+nanj and signed zeros; values within a few ulps). Complex ends with a real
    ``dtype`` raise RuntimeError, as PyTorch's (the imaginary parts would be dropped)."""
    dtype = backend.as_dtype(default_complex_dtype() if dtype is None else dtype, "logspace")
    if dtype.kind != "c":
        raise RuntimeError(f"logspace: complex start {low} and end {high} give a complex dtype; it can't be safely "
                           f"cast to the passed dtype {dtype}")
    log_base = numpy.log(dtype.type(base))
    if steps <= 1:
        return numpy.exp(numpy.full(steps, low, dtype=dtype) * log_base)
    part = numpy.float32 if dtype == numpy.complex64 else numpy.float64
    low, high = dtype.type(low), dtype.type(high)
    span, count = high - low, part(steps - 1)
    step = dtype.type(complex(span.real / count, span.imag / count))   # PyTorch's complex / int, part by part
    i = numpy.arange(steps)
    up = low + step * i.astype(dtype)
    down = high - step * (steps - 1 - i).astype(dtype)
    return numpy.exp(numpy.where(i < steps // 2, up, down) * log_base)


def _c_pow(base: float, exponent: float) -> float:
    """C's ``pow(base, exponent)`` in float64 (math.pow, with C's inf and NaN where it raises)."""
    try:
        return math.pow(base, exponent)
    except (OverflowError, ValueError):
        return float(numpy.power(base, exponent))


def _triangle_indices(name: str, row: int, col: int, offset: int, upper: bool, dtype: Any, device: Any) -> Tensor:
    row, col, offset = count_arg(row, name, "row"), count_arg(col, name, "col"), int_arg(offset, name, "offset")
    with allocating(name):
        rows, cols = numpy.indices((row, col))
        keep = cols - rows >= offset if upper else cols - rows <= offset
        pairs = numpy.stack([rows[keep], cols[keep]])   # row-major order, as PyTorch
    dtype = int64 if dtype is None else backend.as_dtype(dtype, name)
    if dtype not in (numpy.int32, numpy.int64):   # PyTorch's index types only
        raise NotImplementedError(f"{name}: not implemented for dtype {dtype} (int32 or int64 indices, as PyTorch's)")
    return tensor(pairs, dtype=dtype, device=device)


def tril_indices(row: int, col: int, offset: int = 0, *, dtype: Any = None, device: Any = None,
                 layout: Any = None, pin_memory: Any = None) -> Tensor:
    """The (row, col) indices of the lower triangle of a (row, col) matrix, on and below diagonal ``offset``:
    (2, N) int64, row by row (torch.tril_indices)."""
    tensor_options("tril_indices", layout, pin_memory, device)
    return _triangle_indices("tril_indices", row, col, offset, False, dtype, device)


def triu_indices(row: int, col: int, offset: int = 0, *, dtype: Any = None, device: Any = None,
                 layout: Any = None, pin_memory: Any = None) -> Tensor:
    """The (row, col) indices of the upper triangle, on and above diagonal ``offset``: (2, N) int64."""
    tensor_options("triu_indices", layout, pin_memory, device)
    return _triangle_indices("triu_indices", row, col, offset, True, dtype, device)


def cartesian_prod(*tensors: Tensor) -> Tensor:
    """Every combination of one element from each 1-D tensor, in order: (Π len, k), or (len,) for one tensor."""
    if not tensors:
        raise ArgumentTypeError("cartesian_prod: expected at least one tensor")
    tensors = tuple(tensor_arg(t, "cartesian_prod") for t in tensors)
    if any(t.ndim != 1 for t in tensors):
        raise ShapeMismatchError(f"cartesian_prod: expects 1-D tensors, got shapes {[t.shape for t in tensors]}")
    if any(t.dtype != tensors[0].dtype for t in tensors):   # PyTorch refuses to promote here
        raise DtypeMismatchError(f"cartesian_prod: expects all tensors to have the same dtype, got "
                                 f"{[str(t.dtype) for t in tensors]}")
    if len(tensors) == 1:
        return tensors[0]
    sizes = [t.shape[0] for t in tensors]
    columns = []
    for i, t in enumerate(tensors):
        picks = numpy.indices(sizes)[i].reshape(-1)
        columns.append(getitem(t, backend.make_array(picks, numpy.int64, t.device)))
    return stack(columns, 1)


def block_diag(*tensors: Tensor) -> Tensor:
    """The given matrices (0-d and 1-D tensors count as (1, 1) and (1, n)) down the diagonal of one matrix,
    zeros elsewhere (torch.block_diag): (Σ rows, Σ cols)."""
    blocks = []
    for t in tensors:
        t = tensor_arg(t, "block_diag")
        if t.ndim > 2:
            raise ShapeMismatchError(f"block_diag: expects tensors of at most 2 dims, got shape {t.shape}")
        blocks.append(reshape(t, (1, -1) if t.ndim == 1 else (1, 1) if t.ndim == 0 else t.shape))
    if not blocks:
        return tensor(numpy.zeros((1, 0)), dtype=get_default_dtype())
    total = sum(b.shape[1] for b in blocks)
    rows, before = [], 0
    for b in blocks:
        after = total - before - b.shape[1]
        pads = [b.new_zeros((b.shape[0], n)) if n else None for n in (before, after)]
        parts = [p for p in (pads[0], b, pads[1]) if p is not None]   # b even of width 0: it gets its gradient
        rows.append(cat(parts, 1) if len(parts) > 1 else b)
        before += b.shape[1]
    return cat(rows, 0)


def trapezoid(y: Tensor, x: Any = None, *, dx: Any = None, dim: int = -1, axis: Any = NOT_GIVEN) -> Tensor:
    """The trapezoidal rule along ``dim``: Σ (y[i] + y[i+1]) / 2 · Δx, with sample points ``x`` (a tensor)
    or a spacing ``dx`` (1 by default), as torch.trapezoid. y (…, n, …) → (…, …).

    An integer y is integrated with PyTorch's formulas and dtypes: ``((y[:-1] + y[1:]) * Δx).sum(dim) / 2`` with
    sample points, ``(y.sum(dim) - (y[0] + y[-1]) / 2) · dx`` with a spacing, the pair sums and integer products
    in the integers' dtype (wrapping as PyTorch's), integer sums in int64, then the default float dtype.
    ``axis=`` is PyTorch's alias of ``dim=`` (np.trapezoid's keyword, the same result)."""
    dim = axis_alias("trapezoid", dim, axis, -1)
    y = tensor_arg(y, "trapezoid")
    if y.ndim == 0:
        raise IndexError(f"trapezoid: dim {dim} is out of range for a 0-d tensor (PyTorch's IndexError)")
    axis = one_axis(dim, y.ndim, "trapezoid")
    if y.shape[axis] == 0:   # no samples: zeros of y's dtype (bool and integer ones too), as PyTorch, before its checks
        return y.new_zeros(y.shape[:axis] + y.shape[axis + 1:])
    if y.dtype.kind == "b":
        raise ArgumentTypeError("trapezoid: a bool y is not supported (as in PyTorch)")
    integer = y.dtype.kind in "iu"
    if isinstance(x, Tensor) and x.dtype.kind == "b":
        raise ArgumentTypeError("trapezoid: received a bool input for `x`, but bool is not supported (as in PyTorch)")
    n = y.shape[axis]
    before = (slice(None),) * axis
    pairs = add(getitem(y, before + (slice(1, None),)), getitem(y, before + (slice(None, -1),)))   # in y's dtype
    if isinstance(x, Tensor):
        if dx is not None:
            raise TypeError("trapezoid: give x or dx, not both")
        spacing = x[1:] - x[:-1] if x.ndim == 1 else getitem(x, (slice(None),) * axis + (slice(1, None),)) - \
            getitem(x, (slice(None),) * axis + (slice(None, -1),))
        # integer sample points: their differences in x's dtype (wrapping as PyTorch's do), then y's dtype (an
        # integer y: PyTorch's promotion of the two, an integer or x's float dtype)
        if integer and spacing.dtype.kind not in "iu":
            pairs = pairs.to(dtype=spacing.dtype)
        elif not integer and spacing.dtype.kind in "iu":
            spacing = spacing.to(dtype=y.dtype)
        if x.ndim == 1:
            if x.shape[0] != n:   # else reshape's error, naming neither trapezoid nor the sample points
                raise ShapeMismatchError(f"trapezoid: there must be one `x` value for each sample point: x has "
                                         f"{x.shape[0]}, y {n} along dim {dim} (shape {y.shape})")
            spacing = reshape(spacing, (n - 1,) + (1,) * (y.ndim - axis - 1))
        try:
            total = mul(pairs, spacing).sum(dim=axis)
        except ValueError:
            raise ShapeMismatchError(f"trapezoid: x of shape {x.shape} does not broadcast with y of shape "
                                     f"{y.shape}") from None
        return mul(total.to(dtype=get_default_dtype()) if total.dtype.kind in "iu" else total, 0.5)
    step = 1.0 if dx is None and x is None else float(number(x if dx is None else dx, "trapezoid", "dx"))
    if integer:
        default = get_default_dtype()
        ends = add(getitem(y, before + (0,)), getitem(y, before + (-1,))).to(dtype=default)
        return mul(y.sum(dim=axis).to(dtype=default) - mul(ends, 0.5), step)
    return mul(pairs.sum(dim=axis), step / 2)


trapz = trapezoid


def randint_like(input: Tensor, low: int = 0, high: Any = None, *, generator: Any = None, dtype: Any = None,  # noqa: A002
                 device: Any = None, requires_grad: bool = False, memory_format: Any = None, layout: Any = None,
                 pin_memory: Any = None) -> Tensor:
    """Integers in [low, high) with ``x``'s shape, dtype and device unless given (``randint_like(x, high)``
    or ``randint_like(x, low, high)``), from ``generator`` if given."""
    x = tensor_arg(input, "randint_like")
    tensor_options("randint_like", layout, pin_memory, x.device if device is None else device)
    if high is None:
        low, high = 0, low
    out = randint(low, high, x.shape, generator=generator, dtype=x.dtype if dtype is None else dtype,
                  device=x.device if device is None else device, requires_grad=requires_grad)
    return _memory_format.relayout(out, memory_format, "randint_like", x)


def scalar_tensor(s: Any, *, dtype: Any = None, layout: Any = None, device: Any = None, pin_memory: Any = None,
                  requires_grad: bool = False) -> Tensor:
    """A 0-d tensor of the number ``s`` (a bool or a complex too), the default float dtype unless given
    (torch.scalar_tensor). A value that does not fit the dtype raises PyTorch's RuntimeError (NaN into int64,
    300 into uint8, 1e39 into float32, an imaginary part into a real dtype); into float16 it is cast (inf)."""
    tensor_options("scalar_tensor", layout, pin_memory, device)
    exact = (bool, complex, numpy.bool_, numpy.complexfloating)
    value = s if isinstance(s, exact) else number(s, "scalar_tensor", "s")
    kind = backend.as_dtype(get_default_dtype() if dtype is None else dtype, "scalar_tensor")
    value = _fill_in(value, numpy.dtype(numpy.float64) if kind == numpy.float16 else kind, "scalar_tensor")
    with numpy.errstate(over="ignore"):
        data = numpy.asarray(value).astype(kind)
    return tensor(data, device=device, requires_grad=requires_grad)
