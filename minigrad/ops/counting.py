"""Counting and searching, with PyTorch's results and dtypes: ``unique``, ``unique_consecutive``,
``bincount``, ``histc``, ``searchsorted``, ``bucketize``.

None of these has a gradient in PyTorch (``bincount`` is differentiable here in its ``weights``,
where PyTorch raises at backward). Their results depend on the values, so each is a recorded draw
(``note_draw``) or an op: an ``mg.compile`` replay recomputes it from the new values.
"""

from __future__ import annotations

import math
from typing import Any

from .. import backend
from ..arguments import allocating
from ..autograd import AxisError, Function
from ..recording import note_draw
from ..tensor import Tensor
from ._stl_order import MAX_REPLAYED, stl_sort
from ._util import (
    ArgumentTypeError,
    ArgumentValueError,
    DtypeNotImplementedError,
    ShapeMismatchError,
    complex_order_error,
    count_arg,
    flag,
    int_arg,
    one_axis,
    tensor_arg,
)
from .select import _torch_sort_ties


def _drawn(name: str, make: Any, inputs: tuple) -> Tensor:
    """A tensor without gradient computed as ``make(*arrays of inputs)``; replayed by ``mg.compile``."""
    arrays = [x.data if isinstance(x, Tensor) else x for x in inputs]
    with allocating(name):
        data = make(*arrays)
    return note_draw(name, make, inputs, Tensor._make(data, False, None, 0))


# --- unique, unique_consecutive ----------------------------------------------------------------------

def _runs(xp: Any, items: Any) -> Any:
    """True where a run of equal items starts along the first axis of ``items`` (elements, or rows that
    are equal when every entry is; NaNs never equal: each its own)."""
    starts = xp.ones(items.shape[:1], dtype=bool)
    differs = items[1:] != items[:-1]
    starts[1:] = differs if items.ndim == 1 else differs.any(axis=1)
    return starts


def _sort_order(xp: Any, items: Any) -> Any:
    """Stable ascending order of the elements of the 1-D ``items``, or of the rows of the 2-D ``items``
    compared entry by entry (lexicographically), as torch.unique with ``dim`` sorts its slices."""
    if items.ndim == 1:
        return backend.stable_argsort(xp, items)   # NaN last and -0.0 == 0.0 on CuPy too (not its radix order)
    if items.shape[0] == 0:
        return xp.zeros(0, dtype="int64")
    keys = items.astype("uint8") if items.dtype == bool else items
    return xp.lexsort(keys.T[::-1])   # lexsort's last key is the primary one: the first column


def _row_less(a: tuple, b: tuple) -> bool:
    """PyTorch's unique(dim=) comparator of two (row, index) pairs: the first entry that is < or > decides
    (a NaN is neither, so it passes on to the next entry)."""
    for left, right in zip(a[0], b[0]):
        if left < right:
            return True
        if left > right:
            return False
    return False


def _order_shows(items: Any) -> bool:
    """Whether PyTorch's order of the float ``items`` shows in unique's result: with a NaN (the NaNs' inverse
    indices, the rows' order), or with both 0.0 and -0.0 (which zero comes first, and so is the value)."""
    zeros = backend.numpy.signbit(items[items == 0])
    return bool(backend.numpy.isnan(items).any() or (zeros.any() and not zeros.all()))


def _torch_order(items: Any, order: Any) -> Any:
    """PyTorch's CPU order of ``items`` (1-D, or rows) with NaNs or signed zeros (:func:`_order_shows`): its
    sort(stable=False) of the elements (NaN last), or its std::sort of the rows by :func:`_row_less` (which a
    NaN makes inconsistent: PyTorch's rows then come out of order, equal rows apart), replayed by
    :mod:`._stl_order`."""
    if items.ndim == 1:
        return _torch_sort_ties(items, order, 0, descending=False)
    pairs = list(zip(map(tuple, items.tolist()), range(items.shape[0])))
    stl_sort(pairs, 0, len(pairs), _row_less)
    return backend.numpy.asarray([index for _, index in pairs], dtype="int64")


def _unique_parts(xp: Any, data: Any, consecutive: bool, axis: int | None = None) -> tuple:
    """(values, inverse, counts): the sorted unique elements of the flattened ``data`` (or one per run of
    equal neighbours), for each element the index of its value (data's shape), and how many each value
    has. With ``axis``, the same for the slices of ``data`` along it: values keep data's other dims, the
    inverse has one entry per slice."""
    if axis is None:
        items = data.reshape(-1)
    else:   # one row per slice
        moved = xp.moveaxis(data, axis, 0)
        items = moved.reshape(moved.shape[0], math.prod(moved.shape[1:]))
    order = None
    if not consecutive:
        order = _sort_order(xp, items)
        if xp is backend.numpy and items.dtype.kind == "f" and items.size <= MAX_REPLAYED and _order_shows(items):
            order = _torch_order(items, order)
        items = items[order]
    starts = _runs(xp, items)
    values = items[starts]
    if axis is not None:
        values = xp.moveaxis(values.reshape(values.shape[:1] + moved.shape[1:]), 0, axis)
    run = xp.cumsum(starts, dtype="int64") - 1
    inverse = run
    if order is not None:
        inverse = xp.empty_like(run)
        inverse[order] = run
    first = xp.nonzero(starts)[0]
    counts = xp.diff(xp.concatenate([first, xp.asarray([items.shape[0]], dtype=first.dtype)])).astype("int64")
    return values, inverse.reshape(data.shape) if axis is None else inverse, counts


def _unique(name: str, x: Any, return_inverse: bool, return_counts: bool, dim: Any, consecutive: bool) -> Any:
    x = tensor_arg(x, name)
    if x.data.dtype.kind == "c":   # PyTorch's unique kernels (sorted or not) refuse complex values
        raise complex_order_error(name, x.dtype)
    axis = None
    if dim is not None:
        if x.ndim == 0:
            raise AxisError(f"{name}: dim {dim} is out of range for a 0-d tensor (dim= needs at least 1 dim)")
        axis = one_axis(dim, x.ndim, name)
        if any(size == 0 for d, size in enumerate(x.shape) if d != axis) and x.shape[axis] != 0:
            raise ShapeMismatchError(f"{name}: dim {dim} of shape {x.shape}: the other dims include one of size 0, "
                                     "so there are no slices to compare (as PyTorch refuses)")
        if x.shape[axis] == 0 and x.shape.count(0) > 1:
            raise ShapeMismatchError(f"{name}: dim {dim} of shape {x.shape}: more than one dim has size 0, so there "
                                     "is no slice shape to keep (as PyTorch refuses)")
    xp = backend.array_module(x.data)
    wanted = [0] + [i for i, on in ((1, flag(return_inverse, name, "return_inverse")),
                                    (2, flag(return_counts, name, "return_counts"))) if on]
    outs = tuple(_drawn(name, lambda data, i=i: _unique_parts(xp, data, consecutive, axis)[i], (x,)) for i in wanted)
    if x.requires_grad:   # PyTorch's values require grad, and backward through them raises
        outs = (Underived(name)(outs[0], x), *outs[1:])
    return outs[0] if len(outs) == 1 else outs


class Underived(Function):
    """``values`` (computed from ``x`` without a gradient) standing in the graph for an op whose derivative PyTorch
    does not implement (``unique``): the result requires grad when ``x`` does, and backward raises PyTorch's
    NotImplementedError instead of passing nothing to ``x``."""

    def __init__(self, op: str) -> None:
        self.op = op

    def forward(self, values: Any, x: Any) -> Any:
        return values

    def backward(self, gy: Any) -> Any:
        raise NotImplementedError(f"{self.op}: the derivative for '{self.op}' is not implemented (as in PyTorch)")


def unique(input: Tensor, sorted: bool = True, return_inverse: bool = False,  # noqa: A002 - PyTorch's name
           return_counts: bool = False, dim: int | None = None) -> Any:
    """The unique elements of ``x`` (flattened), in ascending order, as torch.unique.

    x: any shape → values: (U,); with ``return_inverse`` also the index of each element's value
    (int64, x's shape); with ``return_counts`` also each value's count (int64, (U,)): a tuple in that
    order. NaNs are each unique, as PyTorch's. The result is always sorted (as PyTorch's CPU and CUDA
    results for ``sorted=False`` are). With ``dim``, the unique slices along it, sorted
    lexicographically: x: (..., n, ...) → values (..., U, ...), inverse (n,), counts (U,). No gradient (the values
    require grad when x does, and backward through them raises NotImplementedError, as PyTorch's).
    With NaNs (up to 8,192 elements, on the CPU) the NaNs' inverse indices, and with ``dim`` the whole result,
    follow PyTorch's CPU sort, whose row comparison a NaN breaks (slices out of order, equal ones apart).
    """
    x = input
    flag(sorted, "unique", "sorted")
    return _unique("unique", x, return_inverse, return_counts, dim, consecutive=False)


def unique_consecutive(input: Tensor, return_inverse: bool = False, return_counts: bool = False,  # noqa: A002
                       dim: int | None = None) -> Any:
    """One element per run of equal neighbours in ``x`` (flattened), as torch.unique_consecutive.

    x: any shape → values: (U,) in order of appearance, optionally the inverse (int64, x's shape) and
    the run lengths (int64, (U,)), as :func:`unique`. With ``dim``, one slice per run of equal
    neighbouring slices along it: x: (..., n, ...) → values (..., U, ...), inverse (n,). No gradient (as
    :func:`unique`: backward through the values raises).
    """
    return _unique("unique_consecutive", input, return_inverse, return_counts, dim, consecutive=True)


# --- bincount, histc ---------------------------------------------------------------------------------

class BincountError(ValueError, TypeError, NotImplementedError):
    """A refused bincount input or weights: NumPy's ValueError/TypeError and PyTorch's RuntimeError
    (NotImplementedError, which PyTorch raises for a float input, is one)."""


def _bincount(xp: Any, index: Any, minlength: int, weights: Any = None, check: bool = False) -> Any:
    """``xp.bincount`` that also takes an empty ``index`` (CuPy's asks for its max); ``check``: a user's
    index, whose values must be non-negative (checked here, so an ``mg.compile`` replay checks each call's)."""
    if check and index.size and int(index.min()) < 0:
        raise BincountError(f"bincount: only non-negative inputs, got the value {int(index.min())}")
    if index.size == 0:
        return xp.zeros(minlength, dtype="int64" if weights is None else "float64")
    return xp.bincount(index, weights=weights, minlength=minlength)


class BinCount(Function):
    """out[v] = Σ weights[i] over the i with input[i] = v; the gradient of weights[i] is gy[input[i]]."""

    name = "bincount"

    def __init__(self, minlength: int, dtype: Any) -> None:
        self.minlength, self.dtype = minlength, dtype

    def forward(self, weights: Any, index: Any) -> Any:
        self.saved = (index,)
        if self.dtype != "float32":
            out = _bincount(self.xp, index, self.minlength, weights.astype("float64"), check=True)
            return out.astype(self.dtype, copy=False)
        # float32 weights add up in float32 one by one, as PyTorch's (float64 keeps the rest of weights that cancel)
        low, high = (int(v) for v in self.xp.stack((index.min(), index.max())).tolist())   # one host read
        if low < 0:
            raise BincountError(f"bincount: only non-negative inputs, got the value {low}")
        out = self.xp.zeros(max(self.minlength, high + 1), dtype="float32")
        backend.scatter_add(self.xp, out, index, weights)
        return out

    def backward(self, gy: Any) -> tuple:
        (index,) = self.saved
        return gy[index], None


def bincount(input: Tensor, weights: Tensor | None = None, minlength: int = 0) -> Tensor:  # noqa: A002
    """The number of occurrences of each value 0, 1, … in the 1-D non-negative int tensor ``x``, as
    torch.bincount; with ``weights`` (x's shape), their sums instead.

    x: (n,) → (max(max(x) + 1, minlength),): int64 without weights (or for an empty x); with them float32
    for float32 weights, else float64. Differentiable in ``weights`` (PyTorch's is not).
    """
    x = tensor_arg(input, "bincount")
    if x.ndim != 1 or x.dtype.kind not in "iu":
        raise BincountError(f"bincount: only 1-D non-negative integer inputs, got dtype {x.dtype} and shape {x.shape}")
    minlength = count_arg(minlength, "bincount", "minlength", one_element=True)
    xp = backend.array_module(x.data)
    if weights is None:
        return _drawn("bincount", lambda data: _bincount(xp, data, minlength, check=True).astype("int64"), (x,))
    weights = tensor_arg(weights, "bincount")
    if weights.shape != x.shape:
        raise BincountError(f"bincount: weights must be 1-D with the input's length, got shapes {weights.shape} "
                         f"and {x.shape}")
    if weights.dtype.kind not in "biuf":
        raise TypeError(f"bincount: weights must be numeric, got dtype {weights.dtype}")
    if x.shape[0] == 0:   # PyTorch: an empty input gives int64 zeros of minlength, weights or not
        return bincount(x, None, minlength)
    dtype = weights.dtype if weights.dtype == "float32" else backend.numpy.dtype("float64")
    return BinCount(minlength, dtype)(weights, x)


def _histc_range(xp: Any, data: Any, low: float, high: float) -> tuple:
    """The outer bin edges as torch.histc chooses them (the data's extremes when min == max)."""
    if low == high and data.size:
        low, high = (float(v) for v in xp.stack((data.min(), data.max())).tolist())   # one host read
    if low == high:
        low, high = low - 1, high + 1
    if not (math.isfinite(low) and math.isfinite(high)):
        raise ArgumentValueError(f"histc: range of [{low}, {high}] is not finite")
    if not low < high:
        raise ArgumentValueError(f"histc: max must be larger than min, got min={low}, max={high}")
    return low, high


def histc(input: Tensor, bins: int = 100, min: float = 0, max: float = 0) -> Tensor:  # noqa: A002
    """A histogram of ``x``'s elements in ``bins`` equal bins over [min, max], as torch.histc.

    When min == max the data's own min and max are used. Elements outside the range (and NaNs) are
    not counted; the last bin includes its right edge. x: any shape (float) → (bins,) counts in x's
    dtype. No gradient.
    """
    x = tensor_arg(input, "histc")
    if x.dtype.kind == "c":   # its range is a min and max: complex values have no order
        raise complex_order_error("histc", x.dtype)
    if x.dtype.kind != "f":
        raise DtypeNotImplementedError(f"histc: only floating-point tensors (as PyTorch), got dtype {x.dtype}")
    bins = int_arg(bins, "histc", "bins")
    if bins <= 0:
        raise ShapeMismatchError(f"histc: bins must be > 0, got {bins}")
    low, high = (float(v.item() if isinstance(v, Tensor) else v) for v in (min, max))
    xp = backend.array_module(x.data)
    _histc_range(xp, x.data, low, high)   # the errors, now rather than at a replay

    def make(data: Any) -> Any:
        dtype = data.dtype
        first, last = (xp.asarray(edge, dtype=dtype) for edge in _histc_range(xp, data, low, high))
        flat = data.reshape(-1)
        inside = (flat >= first) & (flat <= last)   # not a mask index: on a GPU that reads its count back
        # PyTorch's arithmetic, in x's dtype: (x - first) · bins / (last - first), truncated
        position = ((xp.where(inside, flat, first) - first) * xp.asarray(bins, dtype=dtype) / (last - first))
        position = xp.minimum(position.astype("int64"), bins - 1)   # the last bin includes its right edge
        return _bincount(xp, xp.where(inside, position, bins), bins + 1)[:bins].astype(dtype)   # outside: dropped

    return _drawn("histc", make, (x,))


# --- searchsorted, bucketize -------------------------------------------------------------------------

_CATEGORY = {"b": 0, "u": 1, "i": 1, "f": 2}


def _common_dtype(a: Any, b: Any) -> Any:
    """The dtype PyTorch compares two arrays in: the higher category (bool < int < float) wins; within
    a category a 0-d array gives way to a dimensioned one, else the wider dtype."""
    ca, cb = _CATEGORY[a.dtype.kind], _CATEGORY[b.dtype.kind]
    if ca != cb:
        return a.dtype if ca > cb else b.dtype
    if (a.ndim == 0) != (b.ndim == 0):
        return b.dtype if a.ndim == 0 else a.dtype
    return backend.numpy.promote_types(a.dtype, b.dtype)


def _binary_search(xp: Any, boundaries: Any, values: Any, sorter: Any, right: bool) -> Any:
    """For each value, the first position in its line of ``boundaries`` (the last axis) whose element is
    > value (``right``) or >= value: PyTorch's binary search step for step, so NaNs land where PyTorch's
    do. boundaries: (L, n), values: (L, m), sorter: (L, n) or None → (L, m) int64."""
    n = boundaries.shape[-1]
    start = xp.zeros(values.shape, dtype="int64")
    end = xp.full(values.shape, n, dtype="int64")
    for _ in range(n.bit_length()):   # each step at least halves every interval
        active = start < end
        middle = (start + end) // 2
        at = xp.minimum(middle, n - 1)
        if sorter is not None:
            at = xp.take_along_axis(sorter, at, axis=-1)
        element = xp.take_along_axis(boundaries, at, axis=-1)
        go_right = ~(element > values) if right else ~(element >= values)
        start = xp.where(active & go_right, middle + 1, start)
        end = xp.where(active & ~go_right, middle, end)
    return start


def _value_array(xp: Any, value: Any, name: str) -> Any:
    if isinstance(value, Tensor):
        return value.data
    if isinstance(value, (bool, int, float)):
        return xp.asarray(value, dtype="bool" if isinstance(value, bool) else
                          "int64" if isinstance(value, int) else "float64")
    raise TypeError(f"{name}: the values must be a Tensor or a number, got {type(value).__name__}")


def _search(name: str, boundaries: Any, values: Any, out_int32: bool, right: bool, sorter: Any) -> Tensor:
    boundaries = tensor_arg(boundaries, name)
    xp = backend.array_module(boundaries.data)
    for t in (boundaries, values, sorter):
        if isinstance(t, Tensor) and t.device != boundaries.device:
            raise ValueError(f"{name}: tensors on {boundaries.device} and {t.device}")
    value_array = _value_array(xp, values, name)
    for t in (boundaries.data, value_array):
        if t.dtype.kind == "c":   # complex values have no order (PyTorch's NotImplementedError)
            raise complex_order_error(name, t.dtype)
        if t.dtype.kind not in _CATEGORY:
            raise TypeError(f"{name}: expects real tensors, got dtype {t.dtype}")
    if boundaries.ndim == 0:
        raise ShapeMismatchError(f"{name}: the sorted sequence must have at least 1 dim, got a 0-d tensor")
    if boundaries.ndim > 1 and (value_array.ndim != boundaries.ndim
                                or value_array.shape[:-1] != boundaries.shape[:-1]):
        raise ShapeMismatchError(f"{name}: the sorted sequence must be 1-D or match the values in all but the "
                                 f"last dim, got shapes {boundaries.shape} and {tuple(value_array.shape)}")
    if sorter is not None:
        sorter = tensor_arg(sorter, name)
        if sorter.dtype != "int64" or sorter.shape != boundaries.shape:
            raise ArgumentTypeError(f"{name}: sorter must be an int64 tensor of the sorted sequence's shape "
                                    f"{boundaries.shape}, got {sorter.dtype}{sorter.shape}")
    out_dtype = "int32" if flag(out_int32, name, "out_int32") else "int64"
    dtype = _common_dtype(boundaries.data, value_array)
    # PyTorch's searchsorted has no bool kernel (a bool with an integer compares as integers); with no values its
    # empty result comes before the kernel
    if dtype.kind == "b" and value_array.size:
        raise DtypeNotImplementedError(f"{name}: not implemented for 'Bool' (both the sorted sequence and the values "
                                       "are bool), as in PyTorch")

    def make(sequence: Any, found: Any, order: Any = None) -> Any:
        shape = found.shape
        if order is not None and order.size:   # checked here: an mg.compile replay checks each call's sorter
            n = sequence.shape[-1]
            low, high = int(order.min()), int(order.max())
            if low < 0 or high >= n:
                raise ValueError(f"{name}: sorter indices must be in [0, {n}), got {low}..{high}")
        if found.size == 0:
            return xp.zeros(shape, dtype=out_dtype)
        count = 1
        for size in sequence.shape[:-1]:
            count *= size
        lines = sequence.astype(dtype, copy=False).reshape(count, sequence.shape[-1])
        points = found.astype(dtype, copy=False).reshape(count, -1)
        if order is not None:
            order = order.reshape(lines.shape)
        return _binary_search(xp, lines, points, order, right).reshape(shape).astype(out_dtype)

    inputs = (boundaries, values if isinstance(values, Tensor) else value_array)
    return _drawn(name, make, inputs + ((sorter,) if sorter is not None else ()))


def searchsorted(sorted_sequence: Tensor, input: Any, *, out_int32: bool = False,  # noqa: A002
                 right: bool = False, side: str | None = None, sorter: Tensor | None = None) -> Tensor:
    """Where each value would be inserted into the innermost dim of ``sorted_sequence`` to keep it
    sorted, as torch.searchsorted: the first index whose element is >= the value (``side='left'``), or
    > it (``right=True`` / ``side='right'``).

    sorted_sequence: (n,) with values of any shape, or (..., n) with values (..., m) → the values'
    shape (a number gives a 0-d tensor); int64, or int32 with ``out_int32``. ``sorter``: int64
    indices that sort an unsorted sequence. Mixed dtypes compare in PyTorch's common dtype. No gradient.
    """
    right = flag(right, "searchsorted", "right")
    if side is not None:
        if side not in ("left", "right"):
            raise ShapeMismatchError(f"searchsorted: side must be 'left' or 'right', got {side!r}")
        if right and side == "left":
            raise ShapeMismatchError("searchsorted: side='left' and right=True contradict each other")
        right = side == "right"
    return _search("searchsorted", sorted_sequence, input, out_int32, right, sorter)


def bucketize(input: Any, boundaries: Tensor, *, out_int32: bool = False,  # noqa: A002
              right: bool = False) -> Tensor:
    """The bucket of each element of ``input`` given the sorted 1-D ``boundaries``, as torch.bucketize:
    i with boundaries[i-1] < x <= boundaries[i] (``right=True``: boundaries[i-1] <= x < boundaries[i]).

    input: any shape (or a number) → its shape, int64 (int32 with ``out_int32``). No gradient.
    """
    boundaries = tensor_arg(boundaries, "bucketize")
    if boundaries.ndim != 1:
        raise ShapeMismatchError(f"bucketize: boundaries must be 1-D, got shape {boundaries.shape}")
    return _search("bucketize", boundaries, input, out_int32, flag(right, "bucketize", "right"), None)
