"""Ops that pick elements by index: gather, max/min along a dim with their indices, argmax, topk.

The indices are computed on raw arrays (no gradient), as a recorded draw
(:func:`_indices`) so that an ``mg.compile`` replay recomputes them from the
new values; the values are a :class:`Gather` of the input at those indices, so
the gradient goes to exactly the picked elements, as PyTorch's ``max(dim)``
and ``topk`` send it.
"""

from __future__ import annotations

from typing import Any

from .. import backend, return_types
from ..arguments import EmptyReductionError
from ..autograd import AxisError, Function
from ..autograd.names import respelled
from ..memory_formats import _stride_order, contiguous_format, in_format
from ..outputs import write_out
from ..recording import note_draw
from ..return_types import ValuesIndices
from ..tensor import Tensor
from ._stl_order import MAX_REPLAYED, sort_line, topk_line
from ._util import (
    NOT_GIVEN,
    ArgumentTypeError,
    IndexArgumentError,
    IndexRangeError,
    ShapeMismatchError,
    axis_alias,
    complex_order_error,
    dim_or_axis,
    flag,
    fresh_memory,
    index_data,
    int_arg,
    int_tuple,
    keep_flag,
    last_backward,
    one_axis,
    required_dim,
    tensor_arg,
    unsupported,
)
from .shape import clone, contiguous, permute, reshape


def c_order(y: Any) -> Any:
    """``y``, an array an op made (a reduction's, a scan's, softmax's), in C order as PyTorch lays those out:
    NumPy's keeps a transposed or channels-last input's order of strides (``.view(-1)`` of it raised where
    PyTorch's works). One flags check when it already is."""
    return y if y.flags.c_contiguous else backend.array_module(y).ascontiguousarray(y)


def kept_dims_c_order(y: Any) -> Any:
    """:func:`c_order` of a reduction's ``keepdim=True`` result, a size-1 dim's stride too: NumPy's keeps the
    input's order of strides there, which decides the layout of a later ``cat``/``stack`` (a channels-last
    ``x.sum(1, keepdim=True)`` read as channels-last, where PyTorch's is C order)."""
    return in_format(y, contiguous_format, "reduction")


def _in_memory_order(x: Tensor) -> tuple | None:
    """The permutation that views a transposed, permuted or channels-last ``x`` in its memory order (C order
    when dense), as PyTorch's ``preserve_format`` orders dims; None for a C-ordered (or broadcast) x."""
    return _stride_order(x.data)


class SelectedIndexError(ValueError, RuntimeError):
    """topk's or kthvalue's k out of range for the dim: PyTorch's RuntimeError, and a ValueError as before."""


class Gather(Function):
    """``out[..., j, ...] = x[..., index[..., j, ...], ...]`` along ``axis`` (torch.gather).

    ``index`` has the input's number of dims and may be shorter in every dim;
    ``squeeze`` drops the (length-1) ``axis`` from the output, for ``max(dim)``.
    ``check``: the op's name for a user's index, whose range the forward checks (each ``mg.compile``
    replay checks its own index: NumPy would wrap a negative one); None for indices the engine made.
    Repeated indices accumulate their gradients.
    """

    # linear with real coefficients: the same backward (autograd.engine._complex_gate), for the picks PyTorch takes
    # of complex values; max(dim), topk, sort … of complex values, which PyTorch refuses, stay refused
    complex_grad = staticmethod(lambda node, arrays: node.name in ("gather", "take_along_dim"))

    def __init__(self, axis: int, index: Any, squeeze: bool = False, check: str | None = None) -> None:
        self.axis, self.index, self.squeeze, self.check = axis, index, squeeze, check

    def forward(self, x: Any) -> Any:
        self.in_shape = x.shape
        index = self.index
        if self.check is not None:
            check_along(index, x.shape[self.axis], self.check, self.axis)
        self.saved = (index,)   # freed by a backward without retain_graph: a second one raises, as PyTorch's
        part = tuple(slice(None) if d == self.axis else slice(0, n) for d, n in enumerate(index.shape))
        y = self.xp.take_along_axis(x[part], index, axis=self.axis)
        if self.name in ("gather", "take_along_dim"):   # PyTorch's result is C order (NumPy's takes the index's)
            y = kept_dims_c_order(y)
        return y.squeeze(self.axis) if self.squeeze else y

    def kept_for_backward(self) -> tuple:
        """The index too: changed in place after the forward (gather's index, or the indices max(dim), sort or
        topk returned), backward raises, as PyTorch's, instead of scattering the gradient by the new values."""
        return (self.saved, self.index)

    def backward(self, gy: Any) -> Any:
        xp = self.xp
        (index,) = self.saved
        if self.squeeze:
            gy = xp.expand_dims(gy, self.axis)
        ndim = len(self.in_shape)
        # a full fancy index: an arange per dim, the gathered indices along `axis`
        where = tuple(index if d == self.axis else
                      xp.arange(n).reshape((1,) * d + (n,) + (1,) * (ndim - d - 1))
                      for d, n in enumerate(index.shape))
        gx = xp.zeros(self.in_shape, dtype=gy.dtype)
        backend.scatter_add(xp, gx, where, gy)
        if last_backward(self):   # the index goes with saved (a sort's, topk's, max(dim)'s), as PyTorch's
            self.index = None
        return gx


def check_along(index: Any, size: int, name: str, axis: int) -> None:
    """Every value of ``index`` in ``[0, size)``, the size of dim ``axis`` (gather, scatter and scatter_reduce's
    check, made by their ops' forward); one host read of min and max together."""
    if index.size:
        xp = backend.array_module(index)
        low, high = xp.stack((index.min(), index.max())).tolist()
        if low < 0 or high >= size:
            raise IndexRangeError(f"{name}: index out of range for dim {axis} of size {size} "
                                  f"(index values {low}..{high})")


class InRange(Function):
    """An index tensor passed through unchanged once its values are in ``[0, size)``: the check is in the forward,
    so each ``mg.compile`` replay makes it on its own index (``index_select``: a negative index is refused, as
    PyTorch refuses it, where indexing would wrap it)."""

    def __init__(self, size: int, axis: int, name: str) -> None:
        self.size, self.axis, self.name = size, axis, name

    def forward(self, index: Any) -> Any:
        check_along(index, self.size, self.name, self.axis)
        return index

    def backward(self, gy: Any) -> Any:
        return None


def check_index_dtype(data: Any, name: str) -> None:
    """PyTorch's index ops take int64 or int32 indices only: a uint8 index would read as a mask (a silent wrong
    result), so every other integer dtype raises, as PyTorch's."""
    if data.dtype.kind in "iu" and data.dtype.name not in ("int64", "int32"):
        raise IndexArgumentError(f"{name}(): Expected dtype int32/int64 for index, got {data.dtype}")


def _index_array(index: Any, x: Tensor, axis: int, name: str) -> Any:
    """``index`` as an integer array on ``x``'s device, its dtype and shapes checked against ``x``'s.

    The values are checked by the op that reads them (:func:`check_along`), so an ``mg.compile`` replay
    checks each call's; an index Tensor's own array is kept (not an int64 copy), so a replay reads each call's.
    """
    xp = backend.array_module(x.data)
    data = index.data if isinstance(index, Tensor) else index
    try:
        data = backend.to_device(data, x.device) if backend.is_array(data) else xp.asarray(data)
    except (TypeError, ValueError) as error:   # a ragged list
        message = f"{name}: index must be an integer tensor or a nested list of ints ({error})"
        raise backend.reworded(error, message) from error
    if data.dtype.kind not in "iu":
        raise ArgumentTypeError(f"{name}: index must be an integer tensor, got dtype {data.dtype}")
    check_index_dtype(data, name)
    if data.ndim != x.ndim:
        raise ShapeMismatchError(f"{name}: index has {data.ndim} dims but the input has {x.ndim} (shape {x.shape}); "
                                 f"the index has shape {tuple(data.shape)}")
    for d, (n, m) in enumerate(zip(data.shape, x.shape)):
        if d != axis and n > m:
            raise ShapeMismatchError(f"{name}: index shape {tuple(data.shape)} is larger than input shape {x.shape} "
                                     f"in dim {d}")
    return data


def _indices(name: str, make: Any, x: Tensor) -> Tensor:
    """Int64 indices ``make(x's array)``: no gradient; inside ``mg.compile`` a replay calls ``make`` on that
    call's values (indices computed once from the capture's values would be frozen: a wrong result)."""
    return note_draw(name, make, (x,), Tensor._make(make(x.data), False, None, 0))


def gather(input: Tensor, dim: int = NOT_GIVEN, index: Any = NOT_GIVEN, *, sparse_grad: bool = False,  # noqa: A002
           out: Tensor | None = None, axis: Any = NOT_GIVEN) -> Tensor:
    """``x`` picked along ``dim`` at ``index`` (an int tensor with x's number of dims), as torch.gather;
    ``out=``: written into that tensor, of x's dtype (minigrad/outputs.py). ``axis=`` is PyTorch's alias of ``dim=``."""
    if axis is not NOT_GIVEN or dim is NOT_GIVEN or index is NOT_GIVEN:   # one check on the common path
        dim = required_dim("gather", dim, axis, index=index)
    if out is not None:
        return write_out("gather", gather(input, dim, index, sparse_grad=sparse_grad), out, "exact",
                         inputs=(input,), overlap="any")
    if sparse_grad:
        raise unsupported("gather", "sparse_grad=True", "minigrad has no sparse tensors: the gradient is dense")
    x = tensor_arg(input, "gather")
    data = index.data if isinstance(index, Tensor) else index
    if backend.is_array(data):
        if data.size == 0:   # PyTorch: an empty index of any shape and dtype gives an empty result of its shape
            one_axis(dim, max(x.ndim, 1), "gather")
            return reshape(reshape(x, (-1,))[0:0], tuple(data.shape))
        if data.dtype.kind in "iu" and (data.dtype.kind == "u" or data.dtype.itemsize < 4):
            raise ArgumentTypeError(f"gather(): Expected dtype int32/int64 for index, got {data.dtype}")
    if x.ndim == 0:   # PyTorch reads a 0-d input as shape (1,) and takes a 0-d or 1-D index; out: index's shape
        one_axis(dim, 1, "gather")
        data = index_data(index, "gather")
        if data.ndim > 1:
            raise ValueError(f"gather: index has {data.ndim} dims but the input is 0-d (it takes a 0-d or 1-D index)")
        flat = reshape(index, (-1,)) if isinstance(index, Tensor) else data.reshape(-1)
        return reshape(gather(reshape(x, (1,)), 0, flat), tuple(data.shape))
    axis = one_axis(dim, x.ndim, "gather")
    return Gather(axis, _index_array(index, x, axis, "gather"), check="gather")(x)


def _reduction_axis(x: Tensor, dim: Any, name: str) -> int:
    axis = one_axis(dim, max(x.ndim, 1), name)
    if x.ndim and x.shape[axis] == 0:
        raise AxisError(f"{name}: expected reduction dim {axis} to have non-zero size (shape {x.shape})")
    return axis


def max_with_indices(x: Tensor, dim: int, keepdim: bool = False, smallest: bool = False) -> ValuesIndices:
    """``(values, indices)`` of the max (min) along ``dim``; ties and NaN give the first index, as PyTorch.

    The gradient goes to the element at the index only (PyTorch's ``max(dim)``;
    ``amax`` shares it among ties instead).
    """
    name = "min" if smallest else "max"
    result = return_types.min if smallest else return_types.max
    x = tensor_arg(x, name)
    if x.data.dtype.kind == "c":   # complex values have no order (NumPy's is lexicographic)
        raise complex_order_error(name, x.dtype, runtime=True)
    axis = _reduction_axis(x, dim, name)
    if x.ndim == 0:   # PyTorch accepts dim 0 / -1 of a 0-d tensor: the value itself, index 0
        xp = backend.array_module(x.data)
        return result(clone(x), Tensor._make(xp.zeros((), dtype="int64"), False, None, 0))   # a bool stays bool
    xp, pick = backend.array_module(x.data), backend.argmin if smallest else backend.argmax
    index = _indices(name, lambda data: pick(xp, data, axis, True).astype("int64", copy=False), x)
    op = Gather(axis, index.data, squeeze=not keepdim)
    op.name = name
    values = fresh_memory(op(x))
    return result(values, index if keepdim else index.squeeze(axis))


def _argextreme(x: Any, dim: Any, keepdim: bool, axis: Any, keepdims: Any, smallest: bool) -> Tensor:
    name = "argmin" if smallest else "argmax"
    x = tensor_arg(x, name)
    if x.data.dtype.kind == "c":   # complex values have no order (NumPy's is lexicographic)
        raise complex_order_error(name, x.dtype, runtime=True)
    if x.dtype.kind == "b" and axis is NOT_GIVEN and (keepdims is None or dim is not None):   # NumPy's axis= (or
        # keepdims= alone) call keeps NumPy's answer
        raise ArgumentTypeError(f"{name}(): does not support bool input (shape {x.shape}), as in PyTorch")
    dim = dim_or_axis(name, dim, axis)
    keep = keep_flag(name, keepdim, keepdims)
    xp, pick = backend.array_module(x.data), backend.argmin if smallest else backend.argmax
    if dim is None:
        if x.data.size == 0:
            raise EmptyReductionError(f"{name}: the input is empty (shape {x.shape})")
        return _indices(name, lambda data: xp.asarray(pick(xp, data, None, keep)).astype("int64"), x)
    a = _reduction_axis(x, dim, name)
    if x.ndim == 0:
        return Tensor._make(xp.zeros((), dtype="int64"), False, None, 0)
    return _indices(name, lambda data: xp.asarray(pick(xp, data, a, keep)).astype("int64"), x)


def argmax(input: Tensor, dim: int | None = None, keepdim: bool = False, *, axis: Any = NOT_GIVEN,  # noqa: A002
           keepdims: bool | None = None) -> Tensor:
    """Index of the max along ``dim`` (of the flattened tensor when None); int64, no gradient."""
    return _argextreme(input, dim, keepdim, axis, keepdims, smallest=False)


def argmin(input: Tensor, dim: int | None = None, keepdim: bool = False, *, axis: Any = NOT_GIVEN,  # noqa: A002
           keepdims: bool | None = None) -> Tensor:
    """Index of the min along ``dim`` (of the flattened tensor when None); int64, no gradient."""
    return _argextreme(input, dim, keepdim, axis, keepdims, smallest=True)


def topk(input: Tensor, k: int, dim: int = -1, largest: bool = True, sorted: bool = True, *,  # noqa: A002
         out: Any = None, axis: Any = NOT_GIVEN) -> ValuesIndices:
    """The ``k`` largest (smallest) elements along ``dim`` and their indices, as torch.topk.

    Values come in descending (ascending) order (``sorted=False``: in PyTorch's CPU order); NaN counts as the
    largest value. Among equal values the indices are PyTorch's CPU ones (:mod:`._stl_order`, up to 8,192
    elements of such lines per call; on a GPU and past that: index order). The gradient goes to the picked
    elements.
    x: (..., n, ...) → values, indices: (..., k, ...). ``out=``: a (values, indices) pair of tensors.
    ``axis=`` is PyTorch's alias of ``dim=``.
    """
    dim = axis_alias("topk", dim, axis, -1)
    if out is not None:
        return write_out("topk", topk(input, k, dim, largest, sorted), out, "exact", inputs=(input,))
    x = tensor_arg(input, "topk")
    if x.data.dtype.kind == "c":   # complex values have no order (NumPy's is lexicographic)
        raise complex_order_error("topk", x.dtype, runtime=True)
    if x.dtype.kind == "b":
        raise ArgumentTypeError(f"topk: does not support bool dtypes on CPU (shape {x.shape}), as in PyTorch")
    k = int_arg(k, "topk", "k", one_element=True)
    if x.ndim == 0:   # dim 0 / -1 only; k = 0 or 1 both give the value itself at index 0, as PyTorch
        one_axis(dim, 1, "topk")
        if k not in (0, 1):
            raise SelectedIndexError(f"topk: k ({k}) is out of range for a 0-d tensor")
        return return_types.topk(*max_with_indices(x, 0))
    axis = one_axis(dim, x.ndim, "topk")
    largest = flag(largest, "topk", "largest")
    size = x.shape[axis]
    if not 0 <= k <= size:
        raise SelectedIndexError(f"topk: k ({k}) is out of range for dim {axis} of size {size} (shape {x.shape})")
    xp = backend.array_module(x.data)

    def make(data: Any) -> Any:
        if xp is backend.numpy:   # the first k + 1 of the stable order (the replay's tie test reads the next one)
            order = _order_head(data, axis, min(k + 1, size), descending=largest)
        else:
            order = _order(xp, data, axis, descending=largest)
        chosen = xp.take(order, xp.arange(k), axis=axis).astype("int64", copy=False)
        if xp is backend.numpy:
            chosen = _torch_topk_ties(data, order, chosen, axis, largest, sorted)
        # PyTorch's topk allocates both results C-contiguous (values follow the index's layout): not a transposed
        # array from the replay, nor one with NumPy's strides on size-1 dims
        return in_format(chosen, contiguous_format, "topk")

    index = _indices("topk", make, x)
    op = Gather(axis, index.data)
    op.name = "topk"
    return return_types.topk(op(x), index)


def _torch_topk_ties(data: Any, order: Any, chosen: Any, axis: int, largest: bool, ordered: bool) -> Any:
    """topk's indices ``chosen`` (the first k of the stable ``order`` along ``axis``), with PyTorch's CPU pick
    and order (:mod:`._stl_order` replays its steps) on the lines where equal values meet the selection and,
    for ``sorted=False``, on every line (its k values unordered), up to ``MAX_REPLAYED`` elements of such lines per
    call (past that, the stable order)."""
    np, n, k = backend.numpy, data.shape[axis], chosen.shape[axis]
    if chosen.size == 0:
        return chosen
    lines = data.swapaxes(axis, -1).reshape(-1, n)   # (L, n); swapaxes is its own inverse, and cheap
    line_order = order.swapaxes(axis, -1).reshape(len(lines), -1)
    replay = _tied(lines, line_order[:, :k + 1])   # among the picked values and the next one
    if not ordered and 1 < k and n < 64 * k:   # sorted=False: the k values in std::nth_element's order
        replay[:] = True
    lines_replayed = np.nonzero(replay)[0]
    if not len(lines_replayed) or len(lines_replayed) * n > MAX_REPLAYED:
        return chosen
    picked = chosen.swapaxes(axis, -1).reshape(-1, k).copy()
    for line in lines_replayed:
        picked[line] = topk_line(lines[line].tolist(), k, largest, ordered)
    return picked.reshape(chosen.swapaxes(axis, -1).shape).swapaxes(axis, -1)


def _tied(lines: Any, line_order: Any) -> Any:
    """Which lines hold equal values (NaN equal to NaN) where PyTorch's unstable order may differ from the stable
    one. lines: (L, n) host array; line_order: (L, m) int64, each line's first m positions in stable sorted
    order → (L,) bool. Sorted, equal values sit side by side, so neighbours are compared."""
    np = backend.numpy
    ranked = lines[np.arange(len(lines))[:, None], line_order]   # take_along_axis's gather, without its checks
    same = ranked[:, 1:] == ranked[:, :-1]
    if ranked.dtype.kind == "f":
        same |= np.isnan(ranked[:, 1:]) & np.isnan(ranked[:, :-1])
    return same.any(axis=-1)


def _order(xp: Any, data: Any, axis: int, descending: bool) -> Any:
    """Stable sort indices of an array along ``axis``; NaN counts as the largest value, as in PyTorch.

    Descending: the ascending order of the reversed line, read backwards (equal values then keep their
    index order). No key is negated: -x wraps for unsigned ints and the most negative int, and a NaN key
    of -inf would tie with +inf.
    """
    if not descending:   # NumPy's default quicksort is not stable; CuPy's 1-D radix sort puts -NaN first
        return backend.stable_argsort(xp, data, axis).astype("int64", copy=False)
    n = data.shape[axis]
    order = xp.flip(backend.stable_argsort(xp, xp.flip(data, axis), axis), axis)
    return (n - 1 - order).astype("int64", copy=False)


def _order_head(data: Any, axis: int, m: int, descending: bool) -> Any:
    """The first ``m`` positions along ``axis`` of :func:`_order`'s stable order of a host array, without sorting
    every element: a partition finds each line's m-th value t, and only the candidates (the values before t and
    every value equal to t, NaN equal to NaN) are sorted, by value and then by line, ties in index order as
    :func:`_order`'s. data: (..., n, ...) → int64 (..., m, ...)."""
    np, n = backend.numpy, data.shape[axis]
    # little to leave out, or a small array (a sort of 300 values takes 10 µs, the partition's steps 19): sort all
    if m == 0 or 4 * m >= n or data.size < 1024:
        return np.take(_order(np, data, axis, descending), np.arange(m), axis=axis)
    lines = data.swapaxes(axis, -1).reshape(-1, n)   # (L, n)
    kth = n - m if descending else m - 1   # NumPy's partition puts NaN last, as the largest value
    t = np.partition(lines, kth, axis=-1)[:, kth:kth + 1]
    keep = lines >= t if descending else lines <= t
    if lines.dtype.kind == "f":   # NaN ranks above every number; a NaN t keeps the NaNs (and, ascending, all)
        keep |= np.isnan(lines) if descending else np.isnan(t)
    rows, cols = np.nonzero(keep)   # row by row, each row's in index order
    by_value = _order(np, lines[rows, cols], 0, descending)   # equal values keep that order
    ranked = by_value[backend.stable_argsort(np, rows[by_value])]   # then row by row
    counts = np.bincount(rows, minlength=len(lines))
    starts = np.cumsum(counts) - counts
    head = cols[ranked][starts[:, None] + np.arange(m)]   # (L, m)
    shape = data.swapaxes(axis, -1).shape[:-1] + (m,)
    return head.reshape(shape).swapaxes(axis, -1).astype("int64", copy=False)


def _torch_sort_ties(data: Any, order: Any, axis: int, descending: bool) -> Any:
    """The stable ``order`` of ``data`` along ``axis``, with PyTorch's CPU ``sort(stable=False)`` order on lines
    of more than 16 elements with equal values (its std::sort, replayed by :mod:`._stl_order`; up to 16 it is an
    insertion sort: stable). PyTorch keeps the stable order for a stride-0 dim and for its radix sort (a 1-D
    integer tensor of 32768 elements or more, ascending); so does this past ``MAX_REPLAYED`` tied elements."""
    np, n = backend.numpy, data.shape[axis]
    if n <= 16 or data.size == 0 or data.strides[axis] == 0:
        return order
    if data.ndim == 1 and not descending and data.dtype.kind in "iu" and n >= 32768:
        return order
    lines = data.swapaxes(axis, -1).reshape(-1, n)   # (L, n); swapaxes is its own inverse, and cheap
    shape = order.swapaxes(axis, -1).shape
    line_order = order.swapaxes(axis, -1).reshape(-1, n)
    tied = np.nonzero(_tied(lines, line_order))[0]
    if not len(tied) or len(tied) * n > MAX_REPLAYED:
        return order
    picked = line_order.copy()
    for line in tied:
        picked[line] = sort_line(lines[line].tolist(), descending)
    # C order, as PyTorch's result (the swapped view left sort(x, 0)'s values and indices Fortran-ordered: .view raised)
    return np.ascontiguousarray(picked.reshape(shape).swapaxes(axis, -1))


def _sort_order(x: Tensor, axis: int, descending: bool, name: str, stable: bool = True) -> Tensor:
    """Sort indices of ``x`` along ``axis`` as an int64 Tensor: stable (see :func:`_order`), or with
    ``stable=False`` on the CPU PyTorch's order among equal values (:func:`_torch_sort_ties`)."""
    xp = backend.array_module(x.data)

    def make(data: Any) -> Any:
        order = _order(xp, data, axis, descending)
        return order if stable or xp is not backend.numpy else _torch_sort_ties(data, order, axis, descending)

    return _indices(name, make, x)


def sort(input: Tensor, dim: int = -1, descending: bool = False, *, stable: bool = False,  # noqa: A002
         out: Any = None, axis: Any = NOT_GIVEN) -> Any:
    """``(values, indices)`` sorted along ``dim``; the gradient follows. Equal values keep their order with
    ``stable=True``; with ``stable=False`` (on the CPU) they come in PyTorch's order (:func:`_torch_sort_ties`).
    ``out=``: a (values, indices) pair of tensors (minigrad/outputs.py). NumPy's ``axis=`` gives NumPy's
    result, the sorted values alone (``axis=None``: of the flattened tensor, shape (n,))."""
    if axis is not NOT_GIVEN:
        return _numpy_sorted("sort", input, dim, axis, descending, out, values=True)
    if out is not None:
        return write_out("sort", sort(input, dim, descending, stable=stable), out, "exact", inputs=(input,))
    x = tensor_arg(input, "sort")
    if x.data.dtype.kind == "c":   # complex values have no order (NumPy's is lexicographic)
        raise complex_order_error("sort", x.dtype, runtime=True)
    if x.ndim == 0:
        one_axis(dim, 1, "sort")   # only dim 0 / -1 of a 0-d tensor, as PyTorch
        return return_types.sort(*max_with_indices(x, 0))
    axis = one_axis(dim, x.ndim, "sort")
    order = _in_memory_order(x)
    if order is not None:   # PyTorch's results keep x's layout: sort x viewed in memory order, view back
        values, indices = sort(permute(x, order), order.index(axis), descending, stable=stable)
        back = tuple(order.index(d) for d in range(x.ndim))
        return return_types.sort(permute(values, back), permute(indices, back))
    index = _sort_order(x, axis, flag(descending, "sort", "descending"), "sort", flag(stable, "sort", "stable"))
    op = Gather(axis, index.data)
    op.name = "sort"
    return return_types.sort(op(x), index)


def argsort(input: Tensor, dim: int = -1, descending: bool = False, *, stable: bool = False,  # noqa: A002
            axis: Any = NOT_GIVEN) -> Tensor:
    """The indices that sort ``x`` along ``dim`` (int64, no gradient; equal values as :func:`sort`'s). NumPy's
    ``axis=`` gives NumPy's result: along that axis, or of the flattened tensor (shape (n,)) for ``axis=None``."""
    if axis is not NOT_GIVEN:
        return _numpy_sorted("argsort", input, dim, axis, descending, None, values=False)
    x = tensor_arg(input, "argsort")
    if x.data.dtype.kind == "c":   # complex values have no order (NumPy's is lexicographic)
        raise complex_order_error("argsort", x.dtype, runtime=True)
    if x.ndim == 0:
        one_axis(dim, 1, "argsort")   # only dim 0 / -1 of a 0-d tensor, as PyTorch
        return Tensor._make(backend.array_module(x.data).zeros((), dtype="int64"), False, None, 0)
    axis = one_axis(dim, x.ndim, "argsort")
    order = _in_memory_order(x)
    if order is not None:   # PyTorch's result keeps x's layout (as sort's)
        back = tuple(order.index(d) for d in range(x.ndim))
        return permute(argsort(permute(x, order), order.index(axis), descending, stable=stable), back)
    return _sort_order(x, axis, flag(descending, "argsort", "descending"), "argsort",
                       flag(stable, "argsort", "stable"))


def _numpy_sorted(name: str, input: Any, dim: Any, axis: Any, descending: bool, out: Any,  # noqa: A002
                  values: bool) -> Tensor:
    """np.sort / np.argsort with ``axis=``: values (sort) or indices (argsort) along ``axis``, of the
    flattened tensor when it is None; ``dim`` other than its default beside it is refused, as both spellings."""
    if dim != -1:
        raise TypeError(f"{name}: give dim= (PyTorch) or axis= (NumPy), not both")
    x = tensor_arg(input, name)
    if axis is None:
        x, axis = reshape(x, (-1,)), -1
    result = sort(x, axis, descending, stable=True) if values else argsort(x, axis, descending, stable=True)
    result = result.values if values else result   # NumPy's spelling: equal values keep their order
    return result if out is None else write_out(name, result, out, "exact")


def index_select(input: Tensor, dim: int = NOT_GIVEN, index: Any = NOT_GIVEN, *,  # noqa: A002
                 out: Tensor | None = None, axis: Any = NOT_GIVEN) -> Tensor:
    """The slices of ``x`` at the 1-D int ``index`` along ``dim``; repeated indices accumulate gradients.
    ``out=``: written into that tensor, of x's dtype (minigrad/outputs.py). ``axis=`` is PyTorch's alias of
    ``dim=``."""
    if axis is not NOT_GIVEN or dim is NOT_GIVEN or index is NOT_GIVEN:   # one check on the common path
        dim = required_dim("index_select", dim, axis, index=index)
    if out is not None:
        return write_out("index_select", index_select(input, dim, index), out, "exact",
                         inputs=(input, index), overlap="any")
    x = tensor_arg(input, "index_select")
    axis = one_axis(dim, max(x.ndim, 1), "index_select")
    data = index.data if isinstance(index, Tensor) else backend.numpy.asarray(index)
    if data.ndim > 1 or data.dtype.kind not in "iu":
        raise IndexArgumentError(f"index_select: index must be a 1-D integer tensor, got "
                                 f"{data.dtype}{tuple(data.shape)}")
    check_index_dtype(data, "index_select")
    if x.ndim == 0:   # PyTorch reads a 0-d input as shape (1,): a one-element index gives a 0-d result
        if data.size != 1:
            raise ShapeMismatchError(f"index_select: a 0-d input takes a one-element index, got shape "
                                     f"{tuple(data.shape)}")
        flat = reshape(index, (1,)) if isinstance(index, Tensor) else data.reshape(1)
        return reshape(index_select(reshape(x, (1,)), 0, flat), ())
    if isinstance(index, Tensor):
        if index.ndim == 0:   # a 0-d index keeps the dim (length 1), as PyTorch's; x[..., t] would drop it
            index = reshape(index, (1,))
        index = InRange(x.shape[axis], axis, "index_select")(index)
    else:
        check_along(data, x.shape[axis], "index_select", axis)
        index = data.reshape(-1)
    out = respelled(x[(slice(None),) * axis + (index,)], x, "getitem", "IndexSelectBackward0")   # PyTorch's node
    return out if out.data.flags.c_contiguous else contiguous(out)   # PyTorch's result is C order


def _logical(x: Any, dim: Any, keepdim: bool, name: str, numpy_call: bool = False) -> Tensor:
    x = tensor_arg(x, name)
    xp = backend.array_module(x.data)
    # a list of dims is PyTorch's int[]: a later bool is 0 or 1, tensor(True) and tensor([1]) are the dim 1
    dims = int_tuple(dim, name, "dim", dims=True) if isinstance(dim, (tuple, list)) else (dim,)
    axis = None if dim is None else tuple(one_axis(d, max(x.ndim, 1), name) for d in dims)
    if axis is not None and len(set(axis)) != len(axis):
        raise ShapeMismatchError(f"{name}: dim {next(a for a in axis if axis.count(a) > 1)} appears multiple times "
                                 f"in the list of dims {dim} (shape {x.shape})")
    if x.ndim == 0:
        axis = None   # dim 0 / -1 of a 0-d tensor is the tensor itself, as in PyTorch
    reduce = xp.all if name == "all" else xp.any

    def make(data: Any) -> Any:
        out = xp.asarray(reduce(data.astype(bool), axis=axis, keepdims=keepdim))
        out = kept_dims_c_order(out) if keepdim else c_order(out)
        return out.astype("uint8") if data.dtype == "uint8" and not numpy_call else out   # PyTorch's uint8 for uint8

    return note_draw(name, make, (x,), Tensor._make(make(x.data), False, None, 0))   # replayed on new values


def all(input: Tensor, dim: Any = None, keepdim: bool = False, *, axis: Any = NOT_GIVEN,  # noqa: A002, A001
        keepdims: bool | None = None) -> Tensor:
    """Whether every element (along ``dim``, or NumPy's ``axis=``/``keepdims=``) is non-zero: a bool tensor
    (uint8 for uint8 along a dim, as PyTorch; NumPy's keywords give bool)."""
    return _logical(input, dim_or_axis("all", dim, axis), keep_flag("all", keepdim, keepdims), "all",
                    axis is not NOT_GIVEN or (keepdims is not None and dim is None))


def any(input: Tensor, dim: Any = None, keepdim: bool = False, *, axis: Any = NOT_GIVEN,  # noqa: A002, A001
        keepdims: bool | None = None) -> Tensor:
    """Whether some element (along ``dim``, or NumPy's ``axis=``/``keepdims=``) is non-zero: a bool tensor
    (uint8 for uint8 along a dim, as PyTorch; NumPy's keywords give bool)."""
    return _logical(input, dim_or_axis("any", dim, axis), keep_flag("any", keepdim, keepdims), "any",
                    axis is not NOT_GIVEN or (keepdims is not None and dim is None))
