"""Order statistics with PyTorch's results and gradients: ``kthvalue``, ``mode``, ``nanmedian``,
``quantile``/``nanquantile``, ``msort``, and the running ``cummax``/``cummin``.

Ops that return ``(values, indices)`` compute the indices on raw arrays (a
recorded draw, :func:`select._indices`, so an ``mg.compile`` replay recomputes
them) and take the values as a :class:`select.Gather` at those indices, so the
gradient goes to exactly the picked elements, as PyTorch's does.

Ties. ``mode`` picks the most frequent value (the smallest such value) and, on
the CPU, PyTorch's index of it: the last of its run after PyTorch's std::sort,
replayed (:mod:`._stl_order`) on lines of more than 16 elements where the value
repeats and on lines with a NaN (each NaN its own value there), up to 8,192
elements per call; otherwise (and on a GPU) its last occurrence, which is
PyTorch's on lines of up to 16 elements.
``kthvalue`` on the CPU runs PyTorch's own quickselect on the lines where the
k-th value is tied, so it picks PyTorch's CPU index (on a GPU: the position k
of the stable order). The values always agree.
"""

from __future__ import annotations

import math
from typing import Any

from .. import backend, return_types
from ..arguments import EmptyReductionError
from ..autograd import Function
from ..outputs import write_out
from ..tensor import Tensor
from ._stl_order import MAX_REPLAYED, stl_sort
from ._util import (
    NOT_GIVEN,
    DtypeNotImplementedError,
    axis_alias,
    complex_order_error,
    flag,
    fresh_memory,
    int_arg,
    keep_flag,
    last_backward,
    one_axis,
    tensor_arg,
)
from .scan import MedianAll, _numpy_median, _zero_as_torch
from .select import (
    Gather,
    SelectedIndexError,
    ValuesIndices,
    _indices,
    _order,
    _reduction_axis,
    _torch_sort_ties,
    c_order,
    kept_dims_c_order,
    sort,
)
from .shape import clone


def _real(x: Any, name: str, kinds: str = "iuf") -> Tensor:
    x = tensor_arg(x, name)
    if x.dtype.kind == "c":   # complex values have no order (PyTorch's NotImplementedError)
        raise complex_order_error(name, x.dtype)
    if x.dtype.kind not in kinds:
        raise DtypeNotImplementedError(f"{name}: not supported for dtype {x.dtype} (as in PyTorch)")
    return x


def _zero_index(x: Tensor) -> Tensor:
    return Tensor._make(backend.array_module(x.data).zeros((), dtype="int64"), False, None, 0)


def _picked(name: str, x: Tensor, axis: int, keep: bool, make: Any) -> ValuesIndices:
    """``(values, indices)``: ``make(xp, array)`` gives the picked index along ``axis`` (keepdims shape);
    a 0-d ``x`` is its own value, at index 0."""
    if x.ndim == 0:
        return getattr(return_types, name)(clone(x), _zero_index(x))
    xp = backend.array_module(x.data)
    index = _indices(name, lambda data: kept_dims_c_order(make(xp, data)), x)   # PyTorch's strides, size-1 dim too
    op = Gather(axis, index.data, squeeze=not keep)
    op.name = name
    return getattr(return_types, name)(fresh_memory(op(x)), index if keep else index.squeeze(axis))


def _nan_mask(xp: Any, data: Any) -> Any:
    return xp.isnan(data) if data.dtype.kind == "f" else xp.zeros(data.shape, dtype=bool)


# --- kthvalue, mode ----------------------------------------------------------------------------------

def kthvalue(input: Tensor, k: int, dim: int = -1, keepdim: bool = False, *,  # noqa: A002
             out: Any = None, axis: Any = NOT_GIVEN, keepdims: bool | None = None) -> ValuesIndices:
    """The ``k``-th smallest element along ``dim`` (k from 1) and its index, as torch.kthvalue (``out=``: a pair
    of tensors, of x's dtype and int64, written into).

    x: (..., n, ...) → values, indices: (..., ...) (``dim`` kept as 1 with ``keepdim=True``).
    NaN counts as the largest value. Among equal values the index is PyTorch's CPU one (see the module
    docstring). The gradient goes to the picked element. ``axis=`` and ``keepdims=`` are PyTorch's aliases of
    ``dim=`` and ``keepdim=``.
    """
    dim, keepdim = axis_alias("kthvalue", dim, axis, -1), keep_flag("kthvalue", keepdim, keepdims)
    if out is not None:
        return write_out("kthvalue", kthvalue(input, k, dim, keepdim), out, "exact", inputs=(input,),
                         overlap="not_self")
    x = _real(input, "kthvalue", kinds="iufb")   # bool: refused below, after PyTorch's earlier checks
    k = int_arg(k, "kthvalue", "k", one_element=True)
    keep = flag(keepdim, "kthvalue", "keepdim")
    axis = one_axis(dim, max(x.ndim, 1), "kthvalue")
    size = x.shape[axis] if x.ndim else 1
    if size == 0:   # PyTorch's IndexError, before the range of k
        raise EmptyReductionError(f"kthvalue: expected reduction dim {axis} to have non-zero size (shape {x.shape})")
    if not 1 <= k <= size:
        raise SelectedIndexError(f"kthvalue: k ({k}) is out of range for dim {axis} of size {size} (shape {x.shape})")
    if x.dtype.kind == "b" and x.ndim:   # a 0-d bool is its own value, as PyTorch's
        raise DtypeNotImplementedError(f"kthvalue: not supported for dtype bool (as in PyTorch; shape {x.shape})")
    pick = (slice(None),) * axis + (slice(k - 1, k),)

    def index(xp: Any, data: Any) -> Any:
        stable = _order(xp, data, axis, descending=False)[pick]
        if xp is not backend.numpy or data.ndim == 0:
            return xp.ascontiguousarray(stable)   # a slice of the whole order: its own memory, as PyTorch's
        lines = xp.moveaxis(data, axis, -1).reshape(-1, size)   # (lines, n)
        chosen = xp.moveaxis(stable, axis, -1).reshape(-1, 1).copy()
        value = xp.take_along_axis(lines, chosen, axis=-1)
        ties = ((lines == value) | (_nan_mask(xp, lines) & _nan_mask(xp, value))).sum(axis=-1) > 1
        for line in xp.nonzero(ties)[0]:   # only where the k-th value is tied: PyTorch's pick among equals
            chosen[line, 0] = _quickselect(lines[line].tolist(), k - 1)
        return xp.moveaxis(chosen.reshape(xp.moveaxis(stable, axis, -1).shape), -1, axis)

    return _picked("kthvalue", x, axis, keep, index)


def _quickselect(values: list, k: int) -> int:
    """The index of the k-th smallest (k from 0) of ``values`` that PyTorch's CPU kthvalue picks: its
    quickselect with a median-of-three pivot (aten/src/ATen/native/SortingUtils.h), NaN the largest."""
    index = list(range(len(values)))

    def greater(a: Any, b: Any) -> bool:
        return (a != a and b == b) or a > b   # NaN above everything

    def swap(i: int, j: int) -> None:
        values[i], values[j] = values[j], values[i]
        index[i], index[j] = index[j], index[i]

    left, right = 0, len(values) - 1
    while right > left:
        if right == left + 1:
            if greater(values[left], values[right]):
                swap(left, right)
            break
        swap(left + (right - left) // 2, left + 1)
        if greater(values[left + 1], values[right]):
            swap(left + 1, right)
        if greater(values[left], values[right]):
            swap(left, right)
        if greater(values[left + 1], values[left]):
            swap(left + 1, left)
        i, j, pivot = left + 1, right, values[left]
        while True:
            i += 1
            while greater(pivot, values[i]):
                i += 1
            j -= 1
            while greater(values[j], pivot):
                j -= 1
            if j < i:
                break
            swap(i, j)
        swap(left, j)
        if j <= k:
            left = i
        if j >= k:
            right = j - 1
    return index[k]


def _running_max_int(xp: Any, a: Any) -> Any:
    """Running maximum of a non-negative int array along the last axis (a doubling scan: CuPy has no
    ``maximum.accumulate``)."""
    offset, n = 1, a.shape[-1]
    while offset < n:
        a = xp.concatenate([a[..., :offset], xp.maximum(a[..., offset:], a[..., :-offset])], axis=-1)
        offset *= 2
    return a


def _mode_index(xp: Any, data: Any, axis: int) -> Any:
    """The index of the last occurrence of the most frequent value along ``axis`` (the smallest such
    value; NaNs count as equal), keepdims shape."""
    order = xp.moveaxis(_order(xp, data, axis, descending=False), axis, -1)
    ordered = xp.take_along_axis(xp.moveaxis(data, axis, -1), order, axis=-1)
    nan = _nan_mask(xp, ordered)
    changes = (ordered[..., 1:] != ordered[..., :-1]) & ~(nan[..., 1:] & nan[..., :-1])
    edge = xp.ones(ordered.shape[:-1] + (1,), dtype=bool)
    starts = xp.concatenate([edge, changes], axis=-1)    # the first position of each run of equal values
    ends = xp.concatenate([changes, edge], axis=-1)      # the last one
    position = xp.broadcast_to(xp.arange(ordered.shape[-1]), ordered.shape)
    run_start = _running_max_int(xp, xp.where(starts, position, 0))
    length = xp.where(ends, position - run_start + 1, 0)
    best = xp.argmax(length, axis=-1)[..., None]          # the first longest run: the smallest value
    return xp.moveaxis(xp.take_along_axis(order, best, axis=-1), -1, axis).astype("int64", copy=False)


def mode(input: Tensor, dim: int = -1, keepdim: bool = False, *, axis: Any = NOT_GIVEN,  # noqa: A002
         keepdims: bool | None = None) -> ValuesIndices:
    """The most frequent value along ``dim`` and an index of it, as torch.mode.

    x: (..., n, ...) → values, indices: (..., ...) (``dim`` kept as 1 with ``keepdim=True``). Of
    equally frequent values the smallest; its index is its last occurrence (see the module
    docstring). The gradient goes to the element at the index. ``axis=`` and ``keepdims=`` are PyTorch's aliases
    of ``dim=`` and ``keepdim=``.
    """
    dim, keepdim = axis_alias("mode", dim, axis, -1), keep_flag("mode", keepdim, keepdims)
    x = _real(input, "mode", "biuf")
    keep = flag(keepdim, "mode", "keepdim")
    axis = _reduction_axis(x, dim, "mode")
    def index(xp: Any, data: Any) -> Any:
        chosen = _mode_index(xp, data, axis)
        size = data.shape[axis] if data.ndim else 1
        if xp is not backend.numpy or data.size == 0 or size < 2:
            return chosen
        lines = xp.moveaxis(data, axis, -1).reshape(-1, size)   # (lines, n)
        flat = xp.moveaxis(chosen, axis, -1).reshape(-1).copy()
        replay = _nan_mask(xp, lines).any(axis=-1)   # NaN breaks the order PyTorch's sort relies on
        if size > 16:   # std::sort is no longer an insertion sort: which of the equal values ends the run
            replay |= (lines == lines[xp.arange(len(flat)), flat][:, None]).sum(axis=-1) > 1
            if replay.sum() * size > MAX_REPLAYED:
                return chosen
        for line in xp.nonzero(replay)[0]:
            flat[line] = _mode_index_replayed(lines[line].tolist())
        return xp.moveaxis(flat.reshape(xp.moveaxis(chosen, axis, -1).shape), -1, axis)

    return _picked("mode", x, axis, keep, index)


def _mode_index_replayed(values: list) -> int:
    """The index PyTorch's CPU mode picks on one line: that of the last element of the first longest run of
    ``==`` values after its std::sort of (value, index) pairs by ``<`` (replayed by :mod:`._stl_order`), where
    a NaN compares false both ways."""
    pairs = list(zip(values, range(len(values))))
    stl_sort(pairs, 0, len(pairs), lambda a, b: a[0] < b[0])
    best, best_count, count = 0, 0, 0
    for i, (value, index) in enumerate(pairs):
        count += 1
        if i == len(pairs) - 1 or value != pairs[i + 1][0]:
            if count > best_count:
                best, best_count = index, count
            count = 0
    return best


# --- nanmedian, msort --------------------------------------------------------------------------------

def _nanmedian_index(xp: Any, data: Any, axis: int) -> Any:
    """The index of the lower median of the non-NaN values along ``axis`` (keepdims shape); for a line of
    NaNs only, the first of them."""
    order = _order(xp, data, axis, descending=False)   # NaN last
    count = (~_nan_mask(xp, data)).sum(axis=axis, keepdims=True)
    k = xp.maximum((count - 1) // 2, 0).astype("int64", copy=False)
    return c_order(xp.take_along_axis(order, k, axis=axis))   # C order (the count's is x's): as PyTorch's result


class NanMedianAll(MedianAll):
    """The lower median of the non-NaN elements (NaN when there are none); equal elements share the
    gradient (the NaNs, for a NaN result), as torch.nanmedian()."""

    name = "nanmedian"

    def forward(self, x: Any) -> Any:
        xp = self.xp
        flat = x.reshape(-1)
        if flat.size == 0:
            return super().forward(x)   # NaN, or PyTorch's NaN cast to an integer dtype
        y = flat[_nanmedian_index(xp, flat, 0)].reshape(())   # all NaN: the first (no host test of that)
        y = _zero_as_torch(xp, x, y, ignore_nan=True)
        self.saved = (x, y)
        return y


def nanmedian(input: Tensor, dim: Any = None, keepdim: bool = False, *, axis: Any = NOT_GIVEN,  # noqa: A002
              keepdims: bool | None = None) -> Any:
    """The lower median ignoring NaNs, as torch.nanmedian: of all elements (a 0-d tensor) without
    ``dim``; with ``dim``, ``(values, indices)`` along it. A line of NaNs only gives NaN (its index: the
    first NaN; PyTorch's is unspecified there). x: (..., n, ...) → (..., ...). NumPy's ``axis=`` /
    ``keepdims=`` give np.nanmedian's result, as :func:`median`'s: values alone, the mean of the two middle
    non-NaN values of an even count (float64 for an integer x); ``keepdims=`` beside a dim is PyTorch's alias of
    ``keepdim=``."""
    if axis is not NOT_GIVEN or (keepdims is not None and dim is None):
        return _numpy_median(input, dim, keepdim, None if axis is NOT_GIVEN else axis, keepdims, "nanmedian")
    keepdim = keep_flag("nanmedian", keepdim, keepdims)   # keepdims= beside a dim: PyTorch's alias
    if dim is None:
        return NanMedianAll()(_real(input, "nanmedian"))
    x = _real(input, "nanmedian", kinds="iufb")
    keep = flag(keepdim, "nanmedian", "keepdim")
    axis = _reduction_axis(x, dim, "nanmedian")   # an empty dim: PyTorch's IndexError, before the dtype's
    if x.dtype.kind == "b":
        raise DtypeNotImplementedError(f"nanmedian: not supported for dtype bool (as in PyTorch; shape {x.shape})")
    return _picked("nanmedian", x, axis, keep, lambda xp, data: _nanmedian_index(xp, data, axis))


def msort(input: Tensor) -> Tensor:  # noqa: A002
    """``x`` sorted along its first dim (torch.msort: ``sort(x, dim=0).values``); same shape."""
    return sort(tensor_arg(input, "msort"), dim=0).values


# --- cummax, cummin ----------------------------------------------------------------------------------

def _running_arg(xp: Any, data: Any, axis: int, smallest: bool) -> Any:
    """Indices of the running max (min) along ``axis``, as PyTorch's cummax/cummin: a new element
    takes over when it is NaN or, while the running value is not NaN, when it is >= (<=) it, so ties
    and NaNs give the latest index.

    That rule combines two stretches (the earlier's result, the later's result) associatively, so a
    doubling scan (log2 n steps of whole-array ops) gives it on every array module; NumPy's ufunc
    ``accumulate`` (which CuPy lacks) gives it in two scans.
    """
    values = xp.moveaxis(data, axis, -1)
    if xp is backend.numpy:
        # the same rule in two NumPy scans (10x faster): an element takes over exactly where it is NaN or equals
        # the running max (min) that includes it
        running = (xp.minimum if smallest else xp.maximum).accumulate(values, axis=-1)
        take = _nan_mask(xp, values) | (values == running)
        position = xp.where(take, xp.arange(values.shape[-1], dtype="int64"), 0)
        return xp.ascontiguousarray(xp.moveaxis(xp.maximum.accumulate(position, axis=-1), -1, axis))
    index = xp.broadcast_to(xp.arange(values.shape[-1], dtype="int64"), values.shape)
    nan = _nan_mask(xp, values)
    offset, n = 1, values.shape[-1]
    while offset < n:
        earlier, later = values[..., :-offset], values[..., offset:]
        beats = later <= earlier if smallest else later >= earlier
        take = nan[..., offset:] | (~nan[..., :-offset] & beats)
        values = xp.concatenate([values[..., :offset], xp.where(take, later, earlier)], axis=-1)
        index = xp.concatenate([index[..., :offset], xp.where(take, index[..., offset:], index[..., :-offset])],
                               axis=-1)
        nan = xp.concatenate([nan[..., :offset], xp.where(take, nan[..., offset:], nan[..., :-offset])], axis=-1)
        offset *= 2
    return xp.ascontiguousarray(xp.moveaxis(index, -1, axis))


def _running_extreme(x: Any, dim: int, smallest: bool) -> ValuesIndices:
    name = "cummin" if smallest else "cummax"
    x = _real(x, name, "biuf")
    axis = one_axis(dim, max(x.ndim, 1), name)
    if x.ndim == 0:
        return getattr(return_types, name)(clone(x), _zero_index(x))
    xp = backend.array_module(x.data)
    index = _indices(name, lambda data: _running_arg(xp, data, axis, smallest), x)
    op = Gather(axis, index.data)   # backward: the gradient scatter-added to the indices, as PyTorch's
    op.name = name
    return getattr(return_types, name)(op(x), index)


def cummax(input: Tensor, dim: int = NOT_GIVEN, *, axis: Any = NOT_GIVEN) -> ValuesIndices:  # noqa: A002
    """Running maximum along ``dim`` and the index it came from, as torch.cummax; same shape as x.

    Ties and NaNs give the latest index (a NaN, once seen, stays). The gradient of each output goes
    to the element at its index. ``axis=`` is PyTorch's alias of ``dim=``.
    """
    return _running_extreme(input, _scan_dim("cummax", dim, axis), smallest=False)


def cummin(input: Tensor, dim: int = NOT_GIVEN, *, axis: Any = NOT_GIVEN) -> ValuesIndices:  # noqa: A002
    """Running minimum along ``dim`` and its index, as torch.cummin (the rules of :func:`cummax`)."""
    return _running_extreme(input, _scan_dim("cummin", dim, axis), smallest=True)


def _scan_dim(name: str, dim: Any, axis: Any) -> Any:
    """cummax/cummin's required dim, given as ``dim`` or as PyTorch's alias ``axis=``."""
    dim = axis_alias(name, dim, axis, NOT_GIVEN)
    if dim is NOT_GIVEN:
        raise TypeError(f"{name}() missing 1 required positional argument: 'dim'")
    return dim


# --- quantile, nanquantile ---------------------------------------------------------------------------

_INTERPOLATIONS = ("linear", "lower", "higher", "midpoint", "nearest")


class Quantile(Function):
    """Quantiles ``q`` (1-D) of each line along the last axis of ``x`` (already moved there), as
    PyTorch computes them: sort; rank = q · (n - 1) (n: the non-NaN count for nanquantile; a line with
    a NaN has rank n - 1 for quantile, so gives NaN); round the rank per ``interpolation``; lerp
    between the sorted values below and above it. The gradient goes to those two elements, with the
    weights (1 - w) and w, and (linear interpolation) to ``q`` through the rank, as PyTorch's:
    (above - below) · (n - 1) per line (0 where the rank is fixed: a line with a NaN, a clamped rank; NaN
    for an infinite line of one element, as PyTorch's inf - inf times 0).

    x: (..., n), q: (Q,) → (Q, ...).
    """

    def __init__(self, interpolation: str, ignore_nan: bool, q_grad: bool = False) -> None:
        self.interpolation, self.ignore_nan = interpolation, ignore_nan
        self.q_grad = q_grad   # q wants a gradient: keep x and q for create_graph's rule

    def forward(self, x: Any, q: Any) -> Any:
        xp = self.xp
        n = x.shape[-1]
        order = _order(xp, x, x.ndim - 1, descending=False)   # NaN last
        if xp is backend.numpy:   # PyTorch's sort(stable=False): which of equal values gets the gradient
            order = _torch_sort_ties(x, order, x.ndim - 1, descending=False)
        ordered = xp.take_along_axis(x, order, axis=-1)
        self.q_shape = q.shape
        q = q.reshape((-1,) + (1,) * x.ndim)                    # (Q, 1, ..., 1)
        out_shape = q.shape[:1] + x.shape[:-1] + (1,)
        nan = _nan_mask(xp, ordered)
        if self.ignore_nan:
            count = (~nan).sum(axis=-1, keepdims=True).astype(x.dtype)
            rank = q * (count - 1)
            fixed = rank < 0
            slope = xp.where(fixed, x.dtype.type(0), count - 1)   # d rank / d q
            rank = xp.where(fixed, x.dtype.type(0), rank)   # a line of NaNs: rank 0, a NaN
        else:
            last = x.dtype.type(n - 1)
            fixed = nan.any(axis=-1, keepdims=True)
            rank = xp.where(fixed, last, q * last)
            slope = xp.where(fixed, x.dtype.type(0), last)
        rank = xp.broadcast_to(rank, out_shape)
        if self.interpolation == "lower":
            rank = xp.floor(rank)
        elif self.interpolation == "higher":
            rank = xp.ceil(rank)
        elif self.interpolation == "nearest":
            rank = xp.rint(rank)   # half to even, as torch.round
        below = rank.astype("int64")
        if self.interpolation in ("linear", "midpoint"):
            above = xp.ceil(rank).astype("int64")
            weight = xp.full(out_shape, 0.5, dtype=x.dtype) if self.interpolation == "midpoint" \
                else (rank - below).astype(x.dtype)
        else:
            above, weight = below, xp.zeros(out_shape, dtype=x.dtype)
        lines = xp.broadcast_to(ordered, out_shape[:-1] + (n,))
        low = xp.take_along_axis(lines, below, axis=-1)
        high = xp.take_along_axis(lines, above, axis=-1)
        if self.interpolation in ("linear", "midpoint"):
            with backend.errstate(xp, invalid="ignore"):   # inf - inf in a line with infinities
                # torch.lerp's two formulas (exact at either end)
                y = xp.where(weight < 0.5, low + weight * (high - low), high - (high - low) * (1 - weight))
        else:
            y = low   # lower/higher/nearest gather one value, as PyTorch (no inf + 0 · (inf - inf))
        self.q_slope = None
        if self.interpolation == "linear":
            with backend.errstate(xp, invalid="ignore"):
                slope, self.fixed = xp.broadcast_to(slope, out_shape), xp.broadcast_to(fixed, out_shape)
                # 0 where the rank is fixed, else PyTorch's (high - low) · slope: NaN for inf - inf times a slope 0
                self.q_slope = xp.where(self.fixed, slope, (high - low) * slope)
            if self.q_grad:   # create_graph's rule: the weight and q's slope depend on both
                self.x_q, self.slope = (x, q), slope
        positions = xp.broadcast_to(order, out_shape[:-1] + (n,))
        self.saved = (xp.take_along_axis(positions, below, axis=-1), xp.take_along_axis(positions, above, axis=-1),
                      weight)
        self.in_shape = x.shape
        return y[..., 0]

    def backward(self, gy: Any) -> tuple:
        xp = self.xp
        below, above, weight = self.saved
        n = self.in_shape[-1]
        lines = 1
        for s in self.in_shape[:-1]:
            lines *= s
        gx = xp.zeros((lines, n), dtype=gy.dtype)
        line = xp.broadcast_to(xp.arange(lines).reshape(1, lines), (below.shape[0], lines))
        g = gy[..., None]
        parts = ((below, g * (1 - weight)), (above, g * weight))
        if self.interpolation not in ("linear", "midpoint"):
            parts = ((below, g),)   # all of it to the one value gathered (an inf gy gives no inf · 0)
        for index, part in parts:
            backend.scatter_add(xp, gx, (line, index.reshape(-1, lines)), part.reshape(-1, lines))
        gq = None
        if self.q_slope is not None and self.needs_grad[1]:
            per_q = g * self.q_slope   # (Q, lines, 1); Q may be 0, so no reshape(Q, -1)
            gq = per_q.reshape(per_q.shape[0], math.prod(per_q.shape[1:])).sum(axis=1).reshape(self.q_shape)
        if last_backward(self):   # q's slope (and, for create_graph's rule, x and q) go with saved, as PyTorch's
            self.q_slope = self.fixed = self.slope = self.x_q = None
        return gx.reshape(self.in_shape), gq


class QuantileArgumentError(RuntimeError, TypeError, ValueError):
    """An input or ``q`` that quantile/nanquantile refuse (a non-float or empty input, a ``q`` of another dtype,
    rank or device, or outside [0, 1], an unknown interpolation): PyTorch's RuntimeError, and the TypeError or
    ValueError minigrad raised before, so ``except`` clauses written for either catch it."""


def _quantile(name: str, x: Any, q: Any, dim: Any, keepdim: bool, interpolation: str) -> Tensor:
    x = tensor_arg(x, name)
    if x.dtype.kind != "f" or x.dtype.itemsize < 4:
        raise QuantileArgumentError(f"{name}: the input must be a float32 or float64 tensor (as PyTorch), "
                                    f"got dtype {x.dtype}")
    if x.data.size == 0:
        raise QuantileArgumentError(f"{name}: the input must be non-empty (shape {x.shape})")
    if interpolation not in _INTERPOLATIONS:
        raise QuantileArgumentError(f"{name}: interpolation must be one of {', '.join(_INTERPOLATIONS)}, "
                                    f"got {interpolation!r}")
    keep = flag(keepdim, name, "keepdim")
    xp = backend.array_module(x.data)
    if isinstance(q, Tensor):
        if q.ndim > 1:
            raise QuantileArgumentError(f"{name}: q must be a scalar or a 1-D tensor, got shape {q.shape}")
        if q.dtype != x.dtype:
            raise QuantileArgumentError(f"{name}: q must have the input's dtype {x.dtype}, got {q.dtype}")
        if q.device != x.device:
            raise QuantileArgumentError(f"{name}: q is on {q.device} but the input is on {x.device}")
        if q.data.size and not bool(((q.data >= 0) & (q.data <= 1)).all()):
            raise QuantileArgumentError(f"{name}: q values must be in the range [0, 1]")
        q_tensor, scalar_q = q, q.ndim == 0
    else:
        if isinstance(q, (bool, backend.numpy.bool_, backend.numpy.integer, backend.numpy.floating)):
            q = float(q)   # PyTorch's float q: True is 1.0, and a NumPy int or bool its value (they raised here)
        if not isinstance(q, (int, float)):
            raise TypeError(f"{name}: q must be a float or a Tensor, got {type(q).__name__}")
        if not 0 <= q <= 1:
            raise QuantileArgumentError(f"{name}: q must be in the range [0, 1], got {q}")
        q_tensor, scalar_q = Tensor._make(xp.asarray(q, dtype=x.dtype), False, None, 0), True
    if dim is None or x.ndim == 0:
        if dim is not None:
            one_axis(dim, 1, name)   # only dim 0 / -1 of a 0-d tensor, as PyTorch
        lines = x.reshape(-1)
        kept = (1,) * x.ndim
    else:
        axis = one_axis(dim, x.ndim, name)
        lines = x.permute(*[d for d in range(x.ndim) if d != axis], axis)
        kept = x.shape[:axis] + (1,) + x.shape[axis + 1:]
    out = Quantile(interpolation, name == "nanquantile", q_tensor.requires_grad)(lines, q_tensor)
    if keep:
        out = out.reshape(out.shape[:1] + kept)
    return out.reshape(out.shape[1:]) if scalar_q else out


def quantile(input: Tensor, q: Any, dim: int | None = None, keepdim: bool = False, *,  # noqa: A002
             interpolation: str = "linear", axis: Any = NOT_GIVEN, keepdims: bool | None = None) -> Tensor:
    """The ``q``-quantiles of ``x`` along ``dim`` (of all elements when None), as torch.quantile.

    ``q`` is a float or a 0-d/1-D tensor of x's dtype, in [0, 1]. x: (..., n, ...) → (..., ...) for a
    scalar q, (Q, ..., ...) for Q quantiles (``dim`` kept as 1 with ``keepdim=True``). A line with a NaN
    gives NaN. ``interpolation``: linear, lower, higher, midpoint or nearest (half to even).
    Differentiable: the gradient goes to the one or two sorted elements the quantile interpolates.
    ``axis=`` / ``keepdims=`` (np.quantile's keywords, PyTorch's aliases) give the same result.
    """
    return _quantile("quantile", input, q, axis_alias("quantile", dim, axis, None),
                     keep_flag("quantile", keepdim, keepdims), interpolation)


def nanquantile(input: Tensor, q: Any, dim: int | None = None, keepdim: bool = False, *,  # noqa: A002
                interpolation: str = "linear", axis: Any = NOT_GIVEN, keepdims: bool | None = None) -> Tensor:
    """:func:`quantile` of the non-NaN values of each line (NaN for a line of NaNs), as torch.nanquantile."""
    return _quantile("nanquantile", input, q, axis_alias("nanquantile", dim, axis, None),
                     keep_flag("nanquantile", keepdim, keepdims), interpolation)
