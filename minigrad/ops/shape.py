"""Ops that move data around: reshape, transpose/permute, expand/repeat, indexing,
copies, dtype casts and device copies (joining and splitting: ``join.py``)."""

from __future__ import annotations

import math
import operator
import warnings
import weakref
from typing import Any

from .. import backend
from .. import memory_formats as _memory_format
from ..autograd import AxisError, Function
from ..autograd.engine import dtype_graphs_begin
from ..autograd.names import spelled
from ..recording import _state, is_recording, note_read
from ..tensor import Tensor, cast_as_torch
from ..versions import memory_owner
from ._util import (
    NOT_GIVEN,
    ArgumentTypeError,
    IndexRangeError,
    ShapeMismatchError,
    axis_alias,
    dim_or_axis,
    fresh_memory,
    int_arg,
    int_tuple,
    last_backward,
    normalize_axis,
    one_axis,
    one_of,
    required_dim,
    sizes_keyword,
    some_sizes,
    sum_to,
    tensor_arg,
)
from .iterator_layout import lay_out_as_torch


class Reshape(Function):
    """``x.reshape(shape)``; with ``insert``, the unsqueeze that gives ``shape`` by a new size-1 dim there; with
    ``keep`` (the dims of x it keeps), the squeeze that gives ``shape`` by leaving x's other (size-1) dims out."""
    complex_grad = True   # complex values: see autograd.engine._complex_gate
    insert: int | None = None
    keep: tuple | None = None

    def __init__(self, shape: tuple, insert: int | None = None, keep: tuple | None = None) -> None:
        self.shape, self.insert, self.keep = shape, insert, keep

    def forward(self, x: Any) -> Any:
        self.in_shape = x.shape
        out = x.reshape(self.shape)
        a = self.insert
        if a is not None and type(x) is backend.numpy.ndarray:
            # unsqueeze: PyTorch keeps x's strides and gives the new dim size * stride of the next dim (one element
            # at the end); NumPy's reshape may pick others for size-1 dims. (A GPU array keeps its reshape's.)
            strides = x.strides
            strides = strides[:a] + (x.itemsize if a == len(strides) else x.shape[a] * strides[a],) + strides[a:]
            if out.strides != strides:   # a new last dim through a one-element subarray dtype: quicker
                out = x.view((x.dtype, (1,))) if a == x.ndim else \
                    backend.numpy.lib.stride_tricks.as_strided(out, strides=strides)
        elif 1 in out.shape and type(x) is backend.numpy.ndarray and (not x.flags.c_contiguous or 1 in x.shape) \
                and out.size:   # a view with size-1 dims of a strided x: PyTorch's strides there
            # (squeeze keeps the strides of the dims it keeps; view and reshape: PyTorch's computeStride)
            strides = tuple(x.strides[d] for d in self.keep) if self.keep is not None else \
                _view_strides(x.shape, x.strides, out.shape)
            if strides is not None and strides != out.strides:
                out = backend.numpy.lib.stride_tricks.as_strided(x, out.shape, strides)
        return out

    def backward(self, gy: Any) -> Any:
        return gy.reshape(self.in_shape)


class Transpose(Function):
    complex_grad = True   # complex values: see autograd.engine._complex_gate

    def __init__(self, axes: tuple | None) -> None:
        self.axes = axes

    def forward(self, x: Any) -> Any:
        return x.transpose(self.axes)

    def backward(self, gy: Any) -> Any:
        if self.axes is None:
            return gy.transpose()
        inverse = [0] * len(self.axes)
        for i, a in enumerate(self.axes):
            inverse[a] = i
        return gy.transpose(inverse)


class BroadcastTo(Function):
    complex_grad = True   # complex values: see autograd.engine._complex_gate

    name = "broadcast_to"
    view_args = ("shape",)   # __init__'s: a base changed in place reads its expanded views again (inplace.py)

    def __init__(self, shape: tuple) -> None:
        self.shape = shape

    def forward(self, x: Any) -> Any:
        self.in_shape = x.shape
        lead = len(self.shape) - x.ndim
        if self.shape[lead:] == x.shape and self.shape[:lead] == (1,) * lead:
            # nothing is repeated (only new dims of size 1): a writable view, as PyTorch's (NumPy's is read-only)
            out = x[(None,) * lead] if lead else x.view()
        else:
            out = self.xp.broadcast_to(x, self.shape)
        if 1 in self.shape and type(out) is backend.numpy.ndarray:   # (a GPU array keeps NumPy's 0 strides)
            strides = _expanded_strides(x, self.shape)
            if strides != out.strides:   # PyTorch's on the size-1 dims (x.expand(1, 3).stride() is (3, 1))
                out = backend.numpy.lib.stride_tricks.as_strided(out, strides=strides)
        return out

    def backward(self, gy: Any) -> Any:
        return sum_to(gy, self.in_shape)


def _is_basic(index: Any) -> bool:
    """True when ``index`` uses only ints, slices, None and Ellipsis (a view, no repeats)."""
    if type(index) is slice:   # x[a:b], the most common index: no loop
        return True
    for p in index if isinstance(index, tuple) else (index,):
        if not (p is None or p is Ellipsis or isinstance(p, (int, slice))):
            return False
    return True


_PLAIN = (int, slice, type(None), type(Ellipsis))


def _is_int_index(p: Any) -> bool:
    """An int PyTorch selects with (a view): a Python or NumPy int, or a 0-d integer Tensor or array."""
    if isinstance(p, bool):
        return False
    if isinstance(p, (int, backend.numpy.integer)):
        return True
    data = p.data if isinstance(p, Tensor) else p
    return backend.is_array(data) and data.ndim == 0 and data.dtype.kind in "iu" and data.dtype != "uint8"


def _as_int(p: Any) -> int:
    if isinstance(p, Tensor):
        note_read(p, "item")   # an mg.compile capture whose index values change runs eagerly
    return int(p.item()) if hasattr(p, "item") else int(p)


def _index_dims(p: Any) -> int | None:
    """How many dims of the tensor an advanced index consumes (a k-dim mask: k), None for a basic part."""
    if p is None or p is Ellipsis or isinstance(p, slice) or _is_int_index(p):
        return None
    if isinstance(p, (bool, backend.numpy.bool_)):
        return 0
    data = p.data if isinstance(p, Tensor) else p
    if isinstance(data, (list, tuple)):
        data = backend.numpy.asarray(data)
    if backend.is_array(data) and data.dtype.kind == "b":
        return data.ndim
    return 1


_INDEX_DTYPES = ("int64", "int32", "uint8")   # the integer dtypes PyTorch indexes with (a 0-d tensor: any, an int)


def _torch_index(index: Any, ndim: int) -> tuple:
    """``(first, then)``: PyTorch's reading of ``index`` into a tensor of ``ndim`` dims as NumPy indices
    applied in turn, ``first`` None when there is one step (``then`` alone).

    Where the two differ: PyTorch selects with ints (0-d integer tensors too) before it applies the
    advanced indices, so ``x[1, :, [2, 3]]`` has shape (5, 2) for x (4, 5, 6), not NumPy's (2, 5);
    a list holding a slice, None, ``...``, a Tensor or a sequence is read as a tuple (PyTorch's legacy rule,
    with its warning); an empty list is an int64 index; a uint8 index is a mask (deprecated, as in PyTorch);
    an ``...`` that covers no dims is dropped, so it does not part advanced indices (``x[:, t, ..., t2]`` of a
    3-d x is ``x[:, t, t2]``, shape (4, 2) for x (4, 3, 5): NumPy's would be (2, 4)).
    """
    if type(index) in _PLAIN or type(index) is tuple and all(type(p) in _PLAIN for p in index):
        return None, index   # ints, slices, None and ...: as NumPy (the usual case, checked first)
    if type(index) is list and len(index) < 32 and any(
            p is None or p is Ellipsis or isinstance(p, (slice, Tensor, list, tuple)) or backend.is_array(p)
            for p in index):
        warnings.warn("Using a non-tuple sequence for multidimensional indexing is deprecated (as in PyTorch); "
                      "use x[tuple(seq)] instead of x[seq]", UserWarning, stacklevel=3)
        index = tuple(index)
    parts = index if isinstance(index, tuple) else (index,)
    fixed = []
    for p in parts:
        if type(p) is list and not p:
            p = backend.numpy.zeros(0, dtype="int64")
        elif isinstance(p, backend.numpy.bool_):   # NumPy's bool scalar (a mask of one) is not PyTorch's index
            raise IndexError(f"getitem/setitem: only integers, slices (`:`), ellipsis (`...`), None and long or byte "
                             f"tensors are valid indices (got {type(p).__name__}; as in PyTorch: pass bool(...))")
        data = p.data if isinstance(p, Tensor) else p
        if isinstance(p, Tensor) and data.ndim and data.dtype.kind in "iu" and data.dtype not in _INDEX_DTYPES:
            raise IndexError(f"getitem/setitem: tensors used as indices must be long, int, byte or bool tensors (as in "
                             f"PyTorch), got an index tensor of dtype {data.dtype} and shape {tuple(data.shape)}")
        if backend.is_array(data) and data.dtype == "uint8":
            warnings.warn("indexing with dtype uint8 is deprecated (as in PyTorch), use a bool tensor instead",
                          UserWarning, stacklevel=3)
            p = data.astype(bool)
        fixed.append(p)
    dims = [_index_dims(p) for p in fixed]
    if any(p is Ellipsis for p in fixed) and sum(
            0 if p is None or p is Ellipsis else 1 if d is None else d for p, d in zip(fixed, dims)) == ndim:
        dims = [d for p, d in zip(fixed, dims) if p is not Ellipsis]
        fixed = [p for p in fixed if p is not Ellipsis]
        index = parts = tuple(fixed)
    has_int = any(_is_int_index(p) for p in fixed)
    if not has_int or all(d is None for d in dims):
        fixed = [_as_int(p) if _is_int_index(p) and not isinstance(p, int) else p for p in fixed]
        if all(a is b for a, b in zip(fixed, parts)):
            return None, index
        return None, tuple(fixed) if isinstance(index, tuple) or len(fixed) != 1 else fixed[0]
    first, then = [], []
    for p, d in zip(fixed, dims):
        if _is_int_index(p):
            first.append(_as_int(p))
        elif d is None:   # a slice, None or ...: kept in the first step, all of what it made in the second
            first.append(p)
            then.append(Ellipsis if p is Ellipsis else slice(None))
        else:
            first.extend([slice(None)] * d)
            then.append(p)
    return tuple(first), tuple(then)


def _uint8_mask_fill(index: Any) -> bool:
    """True when ``index``'s only tensor part is a uint8 mask: PyTorch fills such a mask with a one-element value
    by masked_fill_, which refuses uint8 (RuntimeError), so ``x[uint8_mask] = 1.0`` raises there."""
    parts = index if type(index) is tuple else (index,)
    tensors = [p for p in parts if isinstance(p, (Tensor, list)) or backend.is_array(p)]
    if len(tensors) != 1:
        return False
    data = tensors[0].data if isinstance(tensors[0], Tensor) else tensors[0]
    return backend.is_array(data) and data.dtype == "uint8" and data.ndim > 0   # a 0-d uint8 is an int


def _part_dims(shape: tuple, index: Any) -> list:
    """``(part, dim)`` for each part of ``index``: the first dim of ``shape`` it indexes (None and Ellipsis
    index none, a bool mask as many as it has dims)."""
    parts = index if isinstance(index, tuple) else (index,)
    used = [0 if p is None or p is Ellipsis or isinstance(p, (bool, backend.numpy.bool_)) else
            p.ndim if backend.is_array(p) and p.dtype.kind == "b" else 1 for p in parts]
    pairs, dim = [], 0
    for p, n in zip(parts, used):
        if p is Ellipsis:
            dim += len(shape) - sum(used)
            continue
        pairs.append((p, dim))
        dim += n
    return pairs


def _check_empty_masks(shape: tuple, index: Any) -> None:
    """NumPy takes an empty bool mask for a dim of any length (an empty result); PyTorch's IndexError."""
    for p, dim in _part_dims(shape, index):
        if backend.is_array(p) and p.dtype.kind == "b" and p.size == 0 and tuple(shape[dim:dim + p.ndim]) != p.shape:
            raise IndexError(f"getitem: the shape of the mask {list(p.shape)} at index {dim} does not match the "
                             f"shape of the indexed tensor {list(shape)} at index {dim}")


def _check_device_ranges(shape: tuple, index: Any, xp: Any, on_host: bool = False) -> None:
    """CuPy wraps an out-of-range integer index array around (``x[[5]]`` of 3 elements reads ``x[2]``) where
    NumPy raises: on a GPU the integer arrays of an index are checked against their dims (one host read for
    all of them; ``on_host``: only the host's arrays, lists and NumPy's, read for free), and an out-of-range
    value raises NumPy's IndexError."""
    checks = [(p, dim, shape[dim]) for p, dim in _part_dims(shape, index)
              if backend.is_array(p) and (backend.array_module(p) is backend.numpy) == on_host
              and p.dtype.kind in "iu" and p.ndim and p.size and dim < len(shape)]
    if not checks:
        return
    inside = xp.stack([((p >= -n) & (p < n)).all() for p, _, n in checks]).tolist()
    for (p, dim, n), ok in zip(checks, inside):
        if not ok:
            flat = p.reshape(-1)
            value = int(flat[int(((flat < -n) | (flat >= n)).argmax())])
            raise IndexError(f"index {value} is out of bounds for axis {dim} with size {n}")


def _index_arrays(index: Any, xp: Any, shape: tuple | None = None) -> Any:
    """Tensors and lists inside an index become arrays of the right module; with ``shape`` (the indexed tensor's),
    an empty bool mask must match its dims, as PyTorch's, and on a GPU integer arrays must fit theirs."""
    def convert(p: Any) -> Any:
        if isinstance(p, Tensor):
            p = p.data          # an index Tensor on another device is copied below, like an array
        if isinstance(p, list):
            return xp.asarray(p)
        if backend.is_array(p) and backend.array_module(p) is not xp:
            return xp.asarray(backend.to_numpy(p)) if xp is not backend.numpy else backend.to_numpy(p)
        return p
    if shape is not None and xp is not backend.numpy:   # NumPy raises for these itself
        parts = tuple(p.data if isinstance(p, Tensor) else backend.numpy.asarray(p) if isinstance(p, list) else p
                      for p in (index if isinstance(index, tuple) else (index,)))
        _check_device_ranges(shape, parts, backend.numpy, on_host=True)   # host data: before it moves
        _check_device_ranges(shape, parts, xp)
    index = tuple(convert(p) for p in index) if isinstance(index, tuple) else convert(index)
    if shape is not None:
        _check_empty_masks(shape, index)
    return index


def _expanded_strides(x: Any, shape: tuple) -> tuple:
    """The byte strides of PyTorch's ``x.expand(shape)``: a dim that keeps its size keeps its stride, a repeated
    one has 0; a new dim of size 1 has the next dim's size * stride (0 for the last: a 0-d x), NumPy's 0."""
    strides = [0] * len(shape)
    lead = len(shape) - x.ndim
    for i in reversed(range(len(shape))):
        if i >= lead:
            size, stride = x.shape[i - lead], x.strides[i - lead]
        else:
            size, stride = 1, shape[i + 1] * strides[i + 1] if i + 1 < len(shape) else 0
        strides[i] = stride if size == shape[i] else 0
    return tuple(strides)


def _none_strides(index: Any, x: Any, strides: tuple) -> tuple:
    """The byte strides PyTorch gives ``x[index]`` (a basic index with None), from NumPy's ``strides`` of it, whose
    None dims have stride 0: PyTorch applies the index left to right, each None unsqueezing the result so far, so
    its dim takes size * stride of x's next dim not yet indexed (one element when none is left)."""
    parts = index if type(index) is tuple else (index,)
    covered = x.ndim - sum(p is not None and p is not Ellipsis for p in parts)   # the dims ... stands for
    strides, d, o = list(strides), 0, 0   # the next dim of x, and of the result
    for p in parts:
        if p is None:
            strides[o] = x.itemsize if d == x.ndim else x.shape[d] * x.strides[d]
            o += 1
        elif p is Ellipsis:
            d, o = d + covered, o + covered
        else:   # an int selects a dim away, a slice keeps it
            d, o = d + 1, o + (type(p) is slice)
    return tuple(strides)


def _c_ordered(index: Any) -> bool:
    """Whether each array of an advanced index is C-contiguous (or 1-D), so that it leaves a C-order x's result in
    C order (one flags check for the usual single index array)."""
    if type(index) is not tuple:
        return index.ndim < 2 or index.flags.c_contiguous if backend.is_array(index) else True
    return all(p.ndim < 2 or p.flags.c_contiguous for p in index if backend.is_array(p))


def _c_strides(shape: tuple, itemsize: int) -> tuple:
    """C order's byte strides for ``shape``, size-1 dims' too (``itemsize`` times the sizes of the later dims)."""
    strides, step = [], itemsize
    for n in reversed(shape):
        strides.append(step)
        step *= n
    return tuple(reversed(strides))


def _advanced_operands(x: Any, index: Any, shape: tuple) -> list | None:
    """The operands PyTorch's advanced indexing iterates over for ``x[index]`` (of ``shape``), as element strides
    over the result's dims (:func:`iterator_layout.torch_strides`), size-1 dims included. x restrided: its sliced
    dims' strides, 0 over the indexed dims, and a ``None`` dim PyTorch's ``unsqueeze`` stride (size * stride of
    x's next dim, 1 at the end). Each index tensor: expanded to the indices' broadcast shape (0 where it repeats),
    then reshaped with 1s around it to the result's dims, with PyTorch's view strides (:func:`_view_strides`), 0
    where the result is wider; a bool mask of k dims gives k columns of its (n, k) nonzero(). None where ``index``
    is not of that form."""
    parts = index if type(index) is tuple else (index,)
    arrays = [p for p in parts if backend.is_array(p)]
    used = sum(p.ndim if p.dtype == bool else 1 for p in arrays) + sum(type(p) is slice for p in parts)
    if 0 in shape or any(p is not None and p is not Ellipsis and type(p) is not slice and not backend.is_array(p)
                         for p in parts):   # (an empty result's strides are NumPy's)
        return None
    strides = tuple(step // x.itemsize for step in x.strides)
    dims, columns, d = [], [], 0   # per dim of the basic view: a stride, or the place of an index column
    for p in parts:
        if p is None:   # PyTorch unsqueezes x before it indexes
            dims.append(x.shape[d] * strides[d] if d < x.ndim else 1)
        elif p is Ellipsis:
            dims.extend(strides[d:d + x.ndim - used])
            d += x.ndim - used
        elif type(p) is slice:
            dims.append(strides[d] * p.indices(x.shape[d])[2])
            d += 1
        elif p.dtype == bool:   # torch: the columns of nonzero(), an (n, k) C-order array
            dims.extend([None] * p.ndim)
            columns.extend([((int(p.sum()),), (p.ndim,))] * p.ndim)
            d += p.ndim
        else:
            dims.append(None)
            columns.append((p.shape, tuple(s // p.itemsize for s in p.strides)))
            d += 1
    dims.extend(strides[d:])
    try:
        block = tuple(backend.numpy.broadcast_shapes(*(c[0] for c in columns)))
    except ValueError:
        return None
    places = [i for i, s in enumerate(dims) if s is None]
    if not places:
        return None
    front = 0 if places[-1] - places[0] + 1 != len(places) else places[0]   # apart: the block comes first
    rest = [s for s in dims if s is not None]
    if len(rest) + len(block) != len(shape):
        return None
    operands = [rest[:front] + [0] * len(block) + rest[front:]]
    around = (1,) * front + block + (1,) * (len(rest) - front)   # each index reshaped to the result's dims
    for col_shape, col_strides in columns:
        lead = len(block) - len(col_shape)   # torch.expand: new leading dims and repeated size-1 dims step 0
        expanded = (0,) * lead + tuple(0 if n != b else s for s, n, b in zip(col_strides, col_shape, block[lead:]))
        reshaped = _view_strides(block, expanded, around)   # inserting size-1 dims always views
        operands.append([0 if m != n else s for s, m, n in zip(reshaped, around, shape)])
    return operands


class GetItem(Function):
    """x[index]; repeated integer indices accumulate their gradients."""

    complex_grad = True   # complex values: see autograd.engine._complex_gate

    name = "getitem"

    def __init__(self, index: Any) -> None:
        self.index = index
        if type(index) is slice:   # x[a:b], the most common index: a view that adds no dims
            self.basic, self.adds_dims = True, False
            return
        self.basic = _is_basic(index)   # ints and slices only: nothing to convert, a view; fixed per op
        self.adds_dims = self.basic and (index is None or type(index) is tuple and None in index)

    def forward(self, x: Any) -> Any:
        index = self.index
        if not self.basic:
            self.index = index = _index_arrays(index, self.xp, x.shape)
            if not _is_basic(index):   # index arrays: freed by a backward without retain_graph (a second one
                self.saved = (index,)  # raises, as PyTorch's index and index_select)
        self.in_shape, self.in_dtype = x.shape, x.dtype
        out = x[index]
        if type(out) is not type(x):   # NumPy gives a scalar for all-int indices: PyTorch's is a 0-d view
            out = x[(*index, Ellipsis) if type(index) is tuple else (index, Ellipsis)]
        if not self.basic:
            # NumPy's layout of an advanced index is its own; PyTorch's is C order for a C-order x and indices,
            # size-1 dims included: NumPy's flag passes any stride there, PyTorch's order sees it (x[0] of a permute);
            # an index in another order orders the dims x does not (x[idx.T] of a C-order x: NumPy gives C order)
            c_order = x.flags.c_contiguous and (1 not in x.shape or x.strides == _c_strides(x.shape, x.itemsize)) \
                and _c_ordered(index)
            if not (c_order and out.flags.c_contiguous):
                operands = None if c_order else _advanced_operands(x, index, out.shape)
                if operands is not None:
                    out = lay_out_as_torch(self.xp, out, operands)
                elif x.flags.c_contiguous:
                    out = self.xp.ascontiguousarray(out)
            elif 1 in out.shape and type(out) is backend.numpy.ndarray:   # NumPy's strides of its size-1 dims
                strides = _c_strides(out.shape, out.itemsize)
                if out.strides != strides:
                    out = backend.numpy.lib.stride_tricks.as_strided(out, strides=strides)
        if not out.size and self.basic:   # an empty view: where PyTorch's starts
            out = _at_slice_starts(x, index, out)
        if self.adds_dims and type(x) is backend.numpy.ndarray:   # (a GPU array keeps NumPy's 0 strides)
            strides = _none_strides(index, x, out.strides)
            if strides != out.strides:   # NumPy's reshape often gives PyTorch's (quicker than as_strided)
                again = out.reshape(tuple(n for n in out.shape if n != 1)).reshape(out.shape)
                out = again if again.strides == strides else \
                    backend.numpy.lib.stride_tricks.as_strided(out, strides=strides)
        return out

    def kept_for_backward(self) -> tuple:
        """The index arrays too: an index tensor changed in place after ``x[i]`` (``i[0] = 1``) makes backward
        raise, as PyTorch's (which saves it), instead of sending the gradient to the rows it names now."""
        return (self.saved, self.index)

    grad_order = None   # (masked_select) the dims in x's order of strides: its gradient laid out as x

    def backward(self, gy: Any) -> Any:
        if self.saved:
            if self.grad_order is None:
                gx = self.xp.zeros(self.in_shape, dtype=gy.dtype)
            else:   # PyTorch's masked_select_backward: zeros_like(x, preserve_format), then masked_scatter_
                gx = _memory_format.new_in_order(self.xp, self.in_shape, gy.dtype, self.grad_order)
                gx[...] = 0
            backend.scatter_add(self.xp, gx, self.saved[0], gy)
            if last_backward(self):   # the index arrays go with saved, as PyTorch's IndexBackward0 frees them
                self.index = None
        else:
            gx = self.xp.zeros(self.in_shape, dtype=gy.dtype)
            gx[self.index] = gy
        return gx


def _at_slice_starts(x: Any, index: Any, out: Any) -> Any:
    """``out = x[index]`` (a basic index, ``out`` empty) starting where PyTorch's view does: past the start of each
    empty slice too (NumPy leaves an empty slice's start out of the view's address: ``x[5:5]`` starts at x's first
    element, PyTorch's has ``storage_offset()`` 5). The same view of the same memory otherwise."""
    if type(x) is not backend.numpy.ndarray:   # (a GPU array keeps NumPy's address)
        return out
    items = index if type(index) is tuple else (index,)
    dim, skip = 0, 0   # skip: bytes from x's first element to the view's
    for item in items:
        if item is Ellipsis:
            dim += x.ndim - sum(p is not None and p is not Ellipsis for p in items)
        elif type(item) is slice:
            start, _, step = item.indices(x.shape[dim])
            if step < 0:   # a negative step gives NumPy's view (see README)
                return out
            skip += start * x.strides[dim]
            dim += 1
        elif isinstance(item, bool):   # (NumPy's x[True]: a new dim, not an index)
            return out
        elif item is not None:   # an int
            skip += operator.index(item) % x.shape[dim] * x.strides[dim]
            dim += 1
    owner = memory_owner(x)
    offset = int(x.__array_interface__["data"][0]) + skip - int(owner.__array_interface__["data"][0])
    if offset == int(out.__array_interface__["data"][0]) - int(owner.__array_interface__["data"][0]):
        return out
    try:
        return backend.numpy.ndarray(out.shape, out.dtype, buffer=owner, offset=offset, strides=out.strides)
    except (TypeError, ValueError, BufferError):   # an owner without a plain buffer: NumPy's address
        return out


class Repeat(Function):
    """Tile ``x`` ``repeats[i]`` times along each dim (torch's ``repeat``, NumPy's ``tile``)."""

    complex_grad = True   # linear with real coefficients: the same backward; see autograd.engine._complex_gate

    def __init__(self, repeats: tuple) -> None:
        self.repeats = repeats

    def forward(self, x: Any) -> Any:
        self.in_shape = x.shape
        return self.xp.tile(x, self.repeats)

    def backward(self, gy: Any) -> Any:
        # view gy as (r0, s0, r1, s1, ...) and sum the copies (the r axes) back onto one
        shape = (1,) * (len(self.repeats) - len(self.in_shape)) + tuple(self.in_shape)
        split = [n for pair in zip(self.repeats, shape) for n in pair]
        summed = gy.reshape(split).sum(axis=tuple(range(0, len(split), 2)))
        return summed.reshape(self.in_shape)


class Clone(Function):
    """A copy of the array (C-contiguous, or in ``memory_format``'s layout); the gradient passes through."""

    complex_grad = True   # complex values: see autograd.engine._complex_gate

    def __init__(self, memory_format: Any = None) -> None:
        self.memory_format = memory_format

    def forward(self, x: Any) -> Any:
        if self.memory_format is None:
            return self.xp.array(x, copy=True, order="C")
        return _memory_format.lay_out(self.xp.array(x, copy=True, order="C"), self.memory_format, self.name, x)

    def backward(self, gy: Any) -> Any:
        return gy


class AsType(Function):
    name = "astype"
    casts_to_input_dtypes = True   # its backward gives the input's dtype: autograd.engine._dtype_gate leaves it be

    def __init__(self, dtype: Any) -> None:
        self.dtype = dtype

    def forward(self, x: Any) -> Any:
        self.in_dtype = x.dtype
        out = cast_as_torch(x, self.dtype, "C")   # PyTorch's values (a float into uint8 through int64), silently
        if self.needs_grad and self.needs_grad[0] and out.dtype.kind in "fc" and out.dtype != x.dtype:
            dtype_graphs_begin()   # values that need grad in two precisions: ops where they meet are gated from now
        if x.flags.c_contiguous and 1 not in x.shape:   # (NumPy's flag ignores a size-1 dim's stride; PyTorch not)
            return out
        # PyTorch's preserve_format, as clone's: a transposed or permuted input keeps its order of strides and a
        # broadcast one becomes C order (NumPy's order="K" gives (4, 3) expanded from (1, 3) strides (1, 4))
        return _memory_format.lay_out(out, _memory_format.preserve_format, "to", x)

    def backward(self, gy: Any) -> Any:
        return _quiet_cast(gy, self.in_dtype)

    complex_grad = True   # complex values: see autograd.engine._complex_gate

    def complex_backward(self, gy: Any) -> Any:
        """To a real input from a complex output: the real part of the gradient, as PyTorch."""
        return _quiet_cast(gy.real if gy.dtype.kind == "c" and self.in_dtype.kind != "c" else gy, self.in_dtype)


def _quiet_cast(array: Any, dtype: Any, order: str = "K") -> Any:
    """``array.astype(dtype, order=order)`` (same shape) without NumPy's RuntimeWarnings for NaN, inf or out-of-range
    values (float64 1e40 to float32 is inf, NaN to int64 is -2**63 on x86), which PyTorch's casts do not give."""
    with backend.errstate(backend.array_module(array), invalid="ignore", over="ignore"):
        return array.astype(dtype, order=order)


class ToDevice(Function):
    complex_grad = True   # complex values: see autograd.engine._complex_gate

    name = "to_device"

    def __init__(self, device: backend.Device) -> None:
        self.device = device

    def forward(self, x: Any) -> Any:
        self.in_device = backend.device_of(x)
        return backend.to_device(x, self.device)

    def backward(self, gy: Any) -> Any:
        return backend.to_device(gy, self.in_device)


# --- public functions -------------------------------------------------------

class Size(tuple):
    """A tensor's shape as ``x.size()`` returns it: a tuple of ints with ``numel()`` (torch.Size)."""

    def __new__(cls, sizes: Any = ()) -> Size:
        if not isinstance(sizes, (tuple, list, range)):
            raise TypeError(f"Size: expected a tuple or list of ints, got {type(sizes).__name__}")
        sizes = tuple(sizes)
        if sizes and type(sizes[0]) is bool:   # torch.Size reads each item by __index__: a first bool too, and a
            sizes = (int(sizes[0]),) + sizes[1:]   # bool tensor (dims=True), which PyTorch's size lists refuse
        return super().__new__(cls, int_tuple(sizes, "Size", "sizes", dims=True))

    def numel(self) -> int:
        """The number of elements a tensor of this shape holds (the product of the sizes; 1 for ``()``)."""
        return math.prod(self)

    def __getitem__(self, index: Any) -> Any:
        item = tuple.__getitem__(self, index)
        return Size(item) if isinstance(index, slice) else item

    def __repr__(self) -> str:
        return f"mg.Size({list(self)})"


def size(x: Tensor, dim: int | None = None, *, axis: Any = NOT_GIVEN) -> Any:
    """``x.size()``: the shape as a :class:`Size`; ``x.size(d)``: the length of dim ``d`` (PyTorch's method;
    ``axis=`` is its alias of ``dim=``)."""
    if axis is not NOT_GIVEN:
        dim = axis_alias("size", dim, axis, None)
    x = tensor_arg(x, "size")
    if dim is None:
        return Size(x.data.shape)   # (a lazy placeholder's is its empty (0,) array's, as PyTorch's)
    return x.data.shape[one_axis(dim, x.ndim, "size")] if x.ndim else _no_dims("size", dim)


def _no_dims(name: str, dim: Any) -> Any:
    raise AxisError(f"{name}: dim {dim!r} is out of range for a 0-d tensor")


def numel(input: Tensor) -> int:  # noqa: A002
    """The number of elements."""
    return int(tensor_arg(input, "numel").data.size)


def dim(x: Tensor) -> int:
    """The number of dims (``x.ndim``)."""
    return tensor_arg(x, "dim").data.ndim


def _sizes(values: tuple, name: str, inferred: bool = False) -> tuple:
    """Sizes given as ints or as one tuple/list: ``view(2, 3)`` and ``view((2, 3))``; ``inferred``: a -1 is
    inferred from the others (reshape, view), so at most one is allowed."""
    if len(values) == 1 and isinstance(values[0], (tuple, list)):
        values = tuple(values[0])
    sizes = int_tuple(values, name)
    if sizes and min(sizes) < 0:
        if min(sizes) < -1:   # NumPy reads any negative size as -1; PyTorch refuses all but -1
            raise ShapeMismatchError(f"{name}: invalid shape dimension {min(sizes)} at index "
                                     f"{sizes.index(min(sizes))} of shape {list(sizes)} (only -1 is inferred)")
        if inferred and sizes.count(-1) > 1:   # NumPy's message names neither the op nor the shape
            raise ShapeMismatchError(f"{name}: only one dimension can be inferred (-1), got shape {list(sizes)}")
    return sizes


def reshape(input: Tensor, *sizes: Any, shape: Any = None) -> Tensor:  # noqa: A002
    """The same data in a new shape (one dimension may be -1): ``reshape(2, 3)``, ``reshape((2, 3))`` or
    PyTorch's ``reshape(shape=(2, 3))``; ``view`` is the same op."""
    if shape is not None:
        sizes = sizes_keyword("reshape", sizes, "shape", shape)
    sizes = some_sizes("reshape", sizes, "shape")
    return _view_op(tensor_arg(input, "reshape"), Reshape(_sizes(sizes, "reshape", True)))


def view(x: Tensor, *shape: Any, size: Any = None, dtype: Any = None) -> Tensor:
    """PyTorch's ``view``: the same memory in a new shape (one size may be -1; or ``size=``); as PyTorch,
    it raises where the layout does not allow that (a transposed tensor flattened: use :func:`reshape`).

    ``view(dtype)`` (or ``dtype=``) reinterprets the bytes (no gradient unless the dtype is the same); the
    last dim scales by the ratio of the item sizes.
    """
    if size is not None:
        shape = sizes_keyword("view", shape, "size", size)
    if dtype is not None:
        shape = sizes_keyword("view", shape, "dtype", dtype)
    shape = some_sizes("view", shape, "size")
    x = tensor_arg(x, "view")
    if len(shape) == 1 and not isinstance(shape[0], (int, tuple, list, backend.numpy.integer, Tensor)) \
            and type(shape[0]).__name__ != "Size":   # a NumPy int or a 0-d tensor is a size, as in PyTorch
        return _view_dtype(x, backend.as_dtype(shape[0], "view"))
    op = Reshape(_sizes(shape, "view", True))
    op.name = "view"
    out = _view_op(x, op)
    if out.data.size and _view_strides(x.shape, x.data.strides, out.shape) is None:
        raise RuntimeError(f"view: view size {out.shape} is not compatible with input tensor's size {x.shape} and "
                           f"stride {tuple(s // x.data.itemsize for s in x.data.strides)} (at least one dimension "
                           "spans across two contiguous subspaces). Use .reshape(...) instead.")
    return out


def _view_strides(shape: tuple, strides: tuple, new_shape: tuple) -> tuple | None:
    """The strides (in ``strides``' unit) PyTorch gives a view of memory of ``shape`` and ``strides`` as
    ``new_shape``, or None where it cannot view it (PyTorch's ``computeStride``: each run of dims contiguous with
    one another must map onto whole new dims; a new size-1 dim steps as the new dims after it in its run). Not
    for memory of no elements (PyTorch views it as any shape of its size)."""
    if not shape:
        return (1,) * len(new_shape)
    new_strides = [0] * len(new_shape)
    new_dim = len(new_shape) - 1
    chunk_stride, numel, new_numel = strides[-1], 1, 1
    for d in range(len(shape) - 1, -1, -1):
        numel *= shape[d]
        if d == 0 or (shape[d - 1] != 1 and strides[d - 1] != numel * chunk_stride):   # a run of dims ends
            while new_dim >= 0 and (new_numel < numel or new_shape[new_dim] == 1):
                new_strides[new_dim] = new_numel * chunk_stride
                new_numel *= new_shape[new_dim]
                new_dim -= 1
            if new_numel != numel:
                return None
            if d > 0:
                chunk_stride, numel, new_numel = strides[d - 1], 1, 1
    return tuple(new_strides) if new_dim == -1 else None


def _view_dtype(x: Tensor, dtype: Any) -> Tensor:
    """``x.view(dtype)``: x's bytes read as ``dtype`` (torch's ``Tensor.view(dtype)``)."""
    if dtype == x.dtype:
        return view(x, x.shape)
    data = x.data
    if dtype.itemsize != data.itemsize and (data.ndim == 0 or data.strides[-1] != data.itemsize
                                            or (data.shape[-1] * data.itemsize) % dtype.itemsize):
        raise RuntimeError(f"view: cannot view a tensor of dtype {x.dtype} and shape {x.shape} as dtype {dtype}: "
                           "the item sizes differ, so the last dim must have stride 1 and a size whose bytes "
                           f"{dtype.itemsize} divides")
    if dtype.itemsize > data.itemsize and (any(s % dtype.itemsize for s in data.strides[:-1])
                                           or x.storage_offset() * data.itemsize % dtype.itemsize):
        raise RuntimeError(f"view: cannot view a tensor of dtype {x.dtype} (shape {x.shape}, strides "
                           f"{tuple(s // data.itemsize for s in data.strides)}, storage offset {x.storage_offset()}) "
                           f"as the larger dtype {dtype}: its other strides and its storage offset must be whole "
                           f"{dtype} elements, as PyTorch requires")
    try:
        reinterpreted = data.view(dtype)
    except ValueError as error:
        raise RuntimeError(f"view: cannot view a tensor of dtype {x.dtype} and shape {x.shape} as dtype {dtype} "
                           f"({error})") from error
    return Tensor._make(reinterpreted, False, None, 0)


def flatten(input: Tensor, start_dim: int = 0, end_dim: int = -1) -> Tensor:  # noqa: A002
    """Merge dims ``start_dim``..``end_dim`` into one (a 0-d tensor becomes shape (1,)), as torch.flatten."""
    x = tensor_arg(input, "flatten")
    if x.ndim == 0:   # as torch.flatten: 0 and -1 are its dims, as a 1-d tensor's
        one_axis(start_dim, 1, "flatten of a 0-d tensor"), one_axis(end_dim, 1, "flatten of a 0-d tensor")
        return _view_op(x, Reshape((1,)))
    start, end = one_axis(start_dim, x.ndim, "flatten"), one_axis(end_dim, x.ndim, "flatten")
    if start > end:
        raise ShapeMismatchError(f"flatten: start_dim {start_dim} comes after end_dim {end_dim} (shape {x.shape})")
    if start == end:   # nothing to merge: x itself, as PyTorch's
        return x
    shape = x.shape[:start] + (math.prod(x.shape[start:end + 1]),) + x.shape[end + 1:]
    return _view_op(x, Reshape(shape))


def narrow(input: Tensor, dim: int = NOT_GIVEN, start: int = NOT_GIVEN, length: int = NOT_GIVEN, *,  # noqa: A002
           axis: Any = NOT_GIVEN) -> Tensor:
    """``x`` along ``dim`` from ``start`` for ``length`` elements (a view: ``x[..., start:start + length]``).
    ``axis=`` is PyTorch's alias of ``dim=``."""
    if axis is not NOT_GIVEN or dim is NOT_GIVEN or start is NOT_GIVEN or length is NOT_GIVEN:
        dim = required_dim("narrow", dim, axis, start=start, length=length)
    x = tensor_arg(input, "narrow")
    if x.ndim == 0:
        raise IndexRangeError("narrow: cannot be applied to a 0-dim tensor")
    a = one_axis(dim, x.ndim, "narrow")
    size = x.shape[a]
    try:   # a 0-d int tensor for start, as PyTorch's Tensor overload; its length takes any one-element int tensor
        start = int_arg(start, "narrow", "start", one_element=not isinstance(start, Tensor))   # SymInt or Tensor
        length = int_arg(length, "narrow", "length", one_element=True)
    except TypeError:
        raise ArgumentTypeError(f"narrow: start and length must be ints or 0-d integer tensors, got {start!r:.40} "
                                f"and {length!r:.40}") from None
    start = start + size if start < 0 else start
    if not (0 <= start <= size and 0 <= length <= size - start):
        raise IndexRangeError(f"narrow: start {start} and length {length} do not fit dim {a} of size {size}")
    return getitem(x, (slice(None),) * a + (slice(start, start + length),))


def transpose(input: Tensor, *dims: Any, axes: Any = None, dim0: Any = None, dim1: Any = None) -> Tensor:  # noqa: A002
    """``transpose(d0, d1)`` (or PyTorch's ``transpose(dim0=d0, dim1=d1)``) swaps two dims, as PyTorch (also on a
    2-D tensor).

    NumPy's meanings stay where they cannot be read as a swap: ``transpose()``
    reverses the dims; a full permutation, as separate ints for a tensor with
    other than 2 dims (``transpose(2, 0, 1)``) or as one tuple / ``axes=``,
    reorders them.
    """
    x = tensor_arg(input, "transpose")
    if dim0 is not None or dim1 is not None:   # PyTorch's keywords: transpose(dim0=0, dim1=1) or (0, dim1=1)
        given = (*dims, *(d for d in (dim0, dim1) if d is not None))
        if len(given) != 2 or (dims and dim0 is not None):
            raise TypeError(f"transpose: give two dims, positionally or as dim0= and dim1= (got {dims}, dim0={dim0}, "
                            f"dim1={dim1})")
        dims = given
    if axes is not None:
        if dims:
            raise TypeError("transpose: give the dims positionally or as axes=, not both")
        dims = (axes,)
    if len(dims) == 2 and not isinstance(dims[0], (tuple, list)):
        return swapaxes(x, dims[0], dims[1])
    if len(dims) == 1 and isinstance(dims[0], (tuple, list)):
        dims = tuple(dims[0])
    if not dims or (len(dims) == 1 and dims[0] is None):   # NumPy's transpose(None) (numpy.transpose(x)): reversed
        return _view_op(x, Transpose(None))
    return permute(x, dims, name="transpose")


def permute(input: Tensor, *order: Any, dims: Any = None, name: str = "permute") -> Tensor:  # noqa: A002
    """Reorder the dims: ``permute(2, 0, 1)``, ``permute((2, 0, 1))`` or PyTorch's ``permute(dims=(2, 0, 1))``;
    output dim i is input dim ``dims[i]``: (A, B, C) with dims (2, 0, 1) → (C, A, B), a view."""
    if not order and dims is None:   # PyTorch's TypeError, a 0-d tensor's too (dims=() is its permutation)
        raise TypeError(f'{name}() missing 1 required positional argument: "dims" (one per dim of the tensor of '
                        f'shape {tuple(getattr(input, "shape", ()))})')
    dims = order if dims is None else sizes_keyword(name, order, "dims", dims)
    x = tensor_arg(input, name)
    if len(dims) == 1 and isinstance(dims[0], (tuple, list)):
        dims = tuple(dims[0])
    if any(isinstance(d, (tuple, list)) or isinstance(d, Tensor) and d.numel() > 1 for d in dims):
        raise TypeError(f"{name}: dims must be ints or one sequence of ints, got {dims} (as in PyTorch)")
    if len(dims) != x.ndim:   # first, as PyTorch (a 0-d tensor takes only ())
        raise ShapeMismatchError(f"{name}: {len(dims)} dims {dims} given for the {x.ndim} dims of shape {x.shape}")
    permutation = normalize_axis(dims, x.ndim, name)
    if sorted(permutation) != list(range(x.ndim)):
        raise ShapeMismatchError(f"{name}: dims {dims} are not a permutation of the {x.ndim} dims of shape {x.shape}")
    op = Transpose(permutation)
    op.name = name
    return _view_op(x, op)


def swapaxes(input: Tensor, axis1: int, axis2: int = NOT_GIVEN, *, axis0: int = NOT_GIVEN) -> Tensor:  # noqa: A002
    """Exchange two axes (PyTorch's ``transpose(d0, d1)``): NumPy's ``swapaxes(x, axis1=, axis2=)`` or PyTorch's
    ``swapaxes(x, axis0=, axis1=)``."""
    if axis0 is not NOT_GIVEN:   # PyTorch's keywords: the pair is (axis0, axis1)
        if axis2 is not NOT_GIVEN:
            raise TypeError("swapaxes: give axis0= and axis1= (PyTorch) or axis1= and axis2= (NumPy), not a mix")
        axis1, axis2 = axis0, axis1
    elif axis2 is NOT_GIVEN:
        raise TypeError("swapaxes: missing the second axis (axis2=, or PyTorch's axis0= and axis1=)")
    x = tensor_arg(input, "swapaxes")
    a, b = one_axis(axis1, max(x.ndim, 1), "transpose"), one_axis(axis2, max(x.ndim, 1), "transpose")
    if x.ndim == 0:
        return _view_op(x, Transpose(None))   # PyTorch accepts dims 0/-1 of a 0-d tensor
    perm = list(range(x.ndim))
    perm[a], perm[b] = perm[b], perm[a]
    return _view_op(x, Transpose(tuple(perm)))


def t(input: Tensor) -> Tensor:  # noqa: A002
    """Transpose a 2-D tensor; 0-d and 1-D give a view of the same shape (torch's ``t``: a new tensor, so that
    ``requires_grad_()`` or an in-place shape change on it leaves x alone)."""
    x = tensor_arg(input, "t")
    if x.ndim > 2:
        raise ShapeMismatchError(f"t: expects a tensor with at most 2 dims, got shape {x.shape} (use transpose or mT)")
    op = Transpose((1, 0) if x.ndim == 2 else tuple(range(x.ndim)))
    op.name = _T
    return _view_op(x, op)


_T = spelled("transpose", "TBackward0")   # PyTorch's nodes of t(), unsqueeze(), squeeze() (no dim, a dim, dims)
_UNSQUEEZE = spelled("reshape", "UnsqueezeBackward0")
_SQUEEZE = tuple(spelled("reshape", f"SqueezeBackward{i}") for i in range(3))


def matrix_transpose(x: Tensor) -> Tensor:
    """``x.mT``: swap the last two dims (a batch of matrices)."""
    x = tensor_arg(x, "mT")
    if x.ndim == 0:   # PyTorch: deprecated, the identity (a view)
        warnings.warn("Tensor.mT is deprecated on 0-D tensors (as in PyTorch); it is the identity", UserWarning,
                      stacklevel=2)
        return _view_op(x, Reshape(()))
    if x.ndim < 2:
        raise ShapeMismatchError(f"mT: expects a tensor with at least 2 dims, got shape {x.shape}")
    return swapaxes(x, -2, -1)


def expand_dims(x: Tensor, axis: int) -> Tensor:
    """Insert a length-1 axis at ``axis`` (``unsqueeze`` is the same op): (A, B) with axis 1 → (A, 1, B), a view."""
    return _insert_dim(x, axis, "expand_dims")


def _insert_dim(x: Tensor, axis: int, name: str) -> Tensor:
    """expand_dims/unsqueeze, with errors under the name the user called."""
    x = tensor_arg(x, name)
    if type(axis) is int and not -x.ndim - 1 <= axis <= x.ndim:
        raise AxisError(f"{name}: dim {axis} is out of range to insert a dim into a tensor of shape {x.shape} "
                        f"(expected a dim in [{-x.ndim - 1}, {x.ndim}])")
    a = one_axis(axis, x.ndim + 1, name)
    shape = list(x.shape)
    shape.insert(a, 1)
    op = Reshape(tuple(shape), a)
    op.name = _UNSQUEEZE
    return _view_op(x, op)


def unsqueeze(input: Tensor, dim: int = NOT_GIVEN, *, axis: Any = NOT_GIVEN) -> Tensor:  # noqa: A002
    """Insert a length-1 dim at ``dim`` (-1: at the end): (A, B) with dim -1 → (A, B, 1), a view.
    ``axis=`` is PyTorch's alias of ``dim=``."""
    if axis is not NOT_GIVEN or dim is NOT_GIVEN:   # one check on the common path
        dim = axis_alias("unsqueeze", dim, axis, NOT_GIVEN)
        if dim is NOT_GIVEN:
            raise TypeError("unsqueeze() missing 1 required positional argument: 'dim'")
    return _insert_dim(input, dim, "unsqueeze")


def squeeze(input: Tensor, dim: Any = NOT_GIVEN, *, axis: Any = None) -> Tensor:  # noqa: A002
    """Remove length-1 dims: all of them, or those in ``dim``: (A, 1, B, 1) → (A, B), a view.

    As PyTorch, a ``dim`` whose length is not 1 is left alone; with NumPy's
    ``axis=`` it raises, as numpy.squeeze does. ``dim=None`` is PyTorch's TypeError (it has no such overload;
    leave ``dim`` out to squeeze every dim), where NumPy's ``axis=None`` squeezes every dim.
    """
    x = tensor_arg(input, "squeeze")
    if dim is NOT_GIVEN or dim is None:
        if dim is None:
            raise TypeError("squeeze(): dim=None is not one of PyTorch's overloads (an int, a tuple of ints or no "
                            "dim: leave it out to squeeze every length-1 dim)")
        dim = None
    numpy_style = axis is not None
    if not isinstance(dim, (int, tuple, list, Tensor)) and hasattr(dim, "__index__"):
        dim = (dim,)   # (a 0-d NumPy array, an __index__ object: PyTorch reads it as a one-dim list, SqueezeBackward2)
    axes = normalize_axis(dim_or_axis("squeeze", dim, axis), x.ndim, "squeeze")
    if axes is None:
        shape = tuple(s for s in x.shape if s != 1)
    else:
        if len(set(axes)) != len(axes):
            raise ShapeMismatchError(f"squeeze: a dim appears more than once in dims {dim if axis is None else axis} "
                                     f"(shape {x.shape})")
        if numpy_style:
            for a in axes:
                if x.ndim and x.shape[a] != 1:
                    raise ValueError(f"squeeze: axis {a} has size {x.shape[a]}, not 1 (shape {x.shape})")
        shape = tuple(s for i, s in enumerate(x.shape) if i not in axes or s != 1)
    op = Reshape(shape, keep=tuple(i for i, s in enumerate(x.shape) if s != 1 or axes is not None and i not in axes))
    op.name = _SQUEEZE[0 if axes is None else 2 if isinstance(dim if axis is None else axis, (tuple, list)) else 1]
    return _view_op(x, op)


def method_dims(name: str, dims: tuple, dim: Any) -> Any:
    """The dims of a ``squeeze``/``count_nonzero`` method call: PyTorch's methods take them as separate ints too
    (``x.squeeze(0, 2)`` is ``x.squeeze((0, 2))``), or one int, one tuple or ``dim=``; None when none is given."""
    if dims and dim is not None:
        raise TypeError(f"{name}(): give the dims positionally or as dim=, not both")
    return dims if len(dims) > 1 else dims[0] if dims else dim


def squeeze_method(self: Tensor, *dims: Any, dim: Any = NOT_GIVEN, axis: Any = None) -> Tensor:
    """``x.squeeze()``, ``x.squeeze(1)``, ``x.squeeze((0, 2))`` or ``x.squeeze(0, 2)``: :func:`squeeze`, a view
    (``x.squeeze(None)`` and ``x.squeeze(dim=None)`` are PyTorch's TypeError)."""
    if dim is NOT_GIVEN:
        if len(dims) == 1:   # the common call, x.squeeze(1)
            return squeeze(self, dims[0], axis=axis)
        return squeeze(self, dims, axis=axis) if dims else squeeze(self, axis=axis)
    return squeeze(self, method_dims("squeeze", dims, dim), axis=axis)


def broadcast_to(input: Tensor, size: Any = NOT_GIVEN, *, shape: Any = NOT_GIVEN) -> Tensor:  # noqa: A002
    """A broadcast view of ``x`` with shape ``size`` (NumPy's ``shape=`` too); the gradient is summed back.
    As PyTorch's (``expand``), a -1 in ``size`` keeps that dim: (3, 1) to (2, -1, 4) → (2, 3, 4)."""
    if size is NOT_GIVEN or shape is not NOT_GIVEN:
        size = one_of("broadcast_to", size=size, shape=shape)
    size = int_tuple(size, "broadcast_to")
    if -1 in size:
        return expand(input, size)
    x = tensor_arg(input, "broadcast_to")
    op = BroadcastTo(size)
    try:
        out = op(x)
    except ValueError:   # NumPy's message speaks of "remapped shapes"
        raise ShapeMismatchError(f"broadcast_to: the tensor of shape {x.shape} cannot broadcast to {size} (each dim "
                                 f"must match or be 1, counting from the last)") from None
    return track_view(x, out, op)   # a read-only view: a base changed in place re-points its graph


def broadcast_to_method(self: Tensor, *sizes: Any, size: Any = NOT_GIVEN, shape: Any = NOT_GIVEN) -> Tensor:
    """``x.broadcast_to(2, 3)``, ``x.broadcast_to((2, 3))`` or ``size=``: :func:`broadcast_to`; the method takes
    the sizes as arguments too, as PyTorch's (its function takes one sequence)."""
    if sizes:
        if size is not NOT_GIVEN:
            raise TypeError("broadcast_to: give the size positionally or as size=, not both")
        size = sizes[0] if len(sizes) == 1 else sizes
    return broadcast_to(self, size, shape=shape)


def expand(x: Tensor, *sizes: Any, size: Any = None) -> Tensor:
    """Broadcast length-1 dims to ``sizes`` (or ``size=``; -1 keeps a dim), new dims in front; as torch's
    ``expand``."""
    if size is not None:
        sizes = sizes_keyword("expand", sizes, "size", size)
    x = tensor_arg(x, "expand")
    sizes = _sizes(some_sizes("expand", sizes, "size"), "expand")
    lead = len(sizes) - x.ndim
    if lead < 0:
        raise ShapeMismatchError(f"expand: {len(sizes)} sizes {sizes} for a tensor with {x.ndim} dims (shape "
                                 f"{x.shape})")
    shape = []
    for i, n in enumerate(sizes):
        old = x.shape[i - lead] if i >= lead else None
        if n == -1:
            if old is None:
                raise ShapeMismatchError(f"expand: -1 is not allowed for a new leading dim (sizes {sizes})")
            n = old
        if old is not None and old != 1 and old != n:
            raise ShapeMismatchError(f"expand: the tensor of shape {x.shape} cannot expand to {sizes}: its dim "
                                     f"{i - lead} has size {old}, which only expands from 1 (to {n})")
        shape.append(n)
    op = BroadcastTo(tuple(shape))
    op.name = "expand"
    return track_view(x, op(x), op)   # a read-only view: a base changed in place re-points its graph


def repeat(x: Tensor, *counts: Any, repeats: Any = None, axis: Any = NOT_GIVEN) -> Tensor:
    """Tile the data ``repeats[i]`` times along dim i (at least one count per dim; positional or ``repeats=``),
    as torch's ``repeat``. NumPy's ``axis=`` gives np.repeat's result instead: each element (slice along
    ``axis``; of the flattened tensor for None) repeated ``repeats`` times in place (torch's repeat_interleave),
    ``repeats`` one int or one count per slice: ``repeat(x, 2, axis=0)``, ``x.repeat(repeats=[1, 2], axis=0)``."""
    if axis is not NOT_GIVEN:
        given = counts if repeats is None else sizes_keyword("repeat", counts, "repeats", repeats)
        if len(given) != 1:
            raise TypeError(f"repeat: with axis= (NumPy's repeat) give one repeats argument (an int or one count "
                            f"per slice), got {len(given)}")
        return _numpy_repeat(tensor_arg(x, "repeat"), given[0], axis)
    x = tensor_arg(x, "repeat")
    if not counts and repeats is None:
        raise TypeError('repeat() missing 1 required positional argument: "repeats" (one count per dim)')
    repeats = _sizes(counts if repeats is None else sizes_keyword("repeat", counts, "repeats", repeats), "repeat")
    if len(repeats) < x.ndim:
        raise ShapeMismatchError(f"repeat: {len(repeats)} counts {repeats} for a tensor with {x.ndim} dims "
                         f"(give at least one per dim)")
    if any(r < 0 for r in repeats):
        raise ShapeMismatchError(f"repeat: counts must be non-negative, got {repeats}")
    return fresh_memory(Repeat(repeats)(x))


def _numpy_repeat(x: Tensor, count: Any, axis: Any) -> Tensor:
    """np.repeat(x, count, axis): each slice along ``axis`` (each element of the flattened tensor for None)
    repeated in place, ``count`` times (an int) or count[i] times (one per slice, or one for all);
    differentiable (the copies' gradients add up)."""
    if axis is None:
        x, axis = reshape(x, (-1,)), 0
    elif isinstance(axis, bool) or not hasattr(axis, "__index__"):
        raise TypeError(f"repeat: axis= takes one int or None (np.repeat's), got {axis!r}")
    else:
        axis = normalize_axis(axis, x.ndim, "repeat")[0] if x.ndim else 0
        if x.ndim == 0:
            x = reshape(x, (1,))
    # (count.numpy(): mg.compile sees the read, so a replay does not reuse the capture's counts)
    data = count.numpy() if isinstance(count, Tensor) else backend.numpy.asarray(count)
    if data.dtype.kind not in "iu" or data.ndim > 1:   # np.repeat casts only safely: 2.5 or True is not a count
        raise TypeError(f"repeat: repeats must be an int or a 1-D sequence of ints, got {count!r}")
    n = x.shape[axis]
    if data.ndim == 1 and data.shape[0] not in (1, n):
        raise ValueError(f"repeat: {data.shape[0]} repeats for axis {axis} of size {n} (shape {x.shape})")
    if (data < 0).any():
        raise ValueError(f"repeat: repeats must be non-negative, got {data.tolist()}")
    if data.size == 1:   # one count for every slice: a broadcast copy, each slice then its copies
        r = int(data.reshape(()))
        wide = broadcast_to(unsqueeze(x, axis + 1), x.shape[:axis + 1] + (r,) + x.shape[axis + 1:])
        return fresh_memory(reshape(wide, x.shape[:axis] + (n * r,) + x.shape[axis + 1:]))
    with backend.on_device(x.device):
        index = backend.array_module(x.data).asarray(backend.numpy.repeat(backend.numpy.arange(n), data))
    return getitem(x, (slice(None),) * axis + (index,))


def clone(input: Tensor, *, memory_format: Any = None) -> Tensor:  # noqa: A002
    """A copy with its own memory; the gradient flows back to ``x``. In ``memory_format``'s layout: by default
    ``mg.preserve_format``, as PyTorch's (a transposed, permuted or channels-last input's order of strides is
    kept, densely; a broadcast one becomes C order); ``mg.contiguous_format`` is C order."""
    fmt = _memory_format.check(memory_format, "clone")
    if fmt is None:   # PyTorch's default: preserve_format (a transposed input's clone keeps its strides)
        fmt = _memory_format.preserve_format
    # a layout other than C order is a transposed view of the op's own copy: memory of its own
    return fresh_memory(Clone(None if fmt is _memory_format.contiguous_format else fmt)(tensor_arg(input, "clone")))


def contiguous(x: Tensor, memory_format: Any = None) -> Tensor:
    """``x`` itself when its array is C-contiguous (or dense in ``memory_format``'s layout, e.g.
    ``mg.channels_last``), else a copy that is (as PyTorch; ``mg.preserve_format`` then raises RuntimeError)."""
    x = tensor_arg(x, "contiguous")
    fmt = _memory_format.check(memory_format, "contiguous")
    preserve = fmt is _memory_format.preserve_format
    if preserve or fmt is _memory_format.contiguous_format:
        fmt = None
    if _memory_format.is_contiguous_as(x.data, fmt):
        return x
    if preserve:   # as PyTorch: only a tensor that already is contiguous passes
        raise RuntimeError(f"contiguous: preserve memory format is unsupported by the contiguous operator (a tensor "
                           f"of shape {x.shape} and strides {x.stride()} is not contiguous)")
    op = Clone(fmt)
    op.name = "contiguous"
    return fresh_memory(op(x))


class IndexKindError(IndexError, TypeError):
    """An index of a kind no tensor takes (a str, bytes, a dict): NumPy's IndexError and PyTorch's TypeError."""


def _index_error(error: IndexError, index: Any) -> IndexError:
    """``error`` from indexing, with each array in ``index`` described (a float tensor used as an index)."""
    parts = index if isinstance(index, tuple) else (index,)
    odd = next((p for p in parts if isinstance(p, (str, bytes, dict, set, float, complex))), None)
    if odd is not None:
        return IndexKindError(f"{error}; got {type(odd).__name__} {odd!r:.40}")
    arrays = [p for p in parts if isinstance(p, Tensor) or backend.is_array(p)]
    if not arrays:
        return error
    held = ", ".join(f"{type(p).__name__} of shape {tuple(p.shape)} and dtype {p.dtype}" for p in arrays)
    hint = "" if all(p.dtype.kind in "biu" for p in arrays) else " (indices must be integer or bool tensors)"
    text = f"{error}; the index holds {held}{hint}"
    try:
        return type(error)(text)
    except TypeError:
        return IndexError(text)


def getitem(x: Tensor, index: Any) -> Tensor:
    """x[index]: ints, slices, None, Ellipsis, integer arrays and boolean masks, read as PyTorch reads them
    (:func:`_torch_index`: ints select before the advanced indices apply)."""
    if type(index) is not slice:   # (a slice, the most common index, is read alike by both)
        first, index = _torch_index(index, x.ndim)
        if first is not None:
            x = getitem(x, first)
    op = GetItem(index)
    try:
        out = op(x)
    except IndexError as error:   # NumPy's message names neither the index's dtype nor its shape
        raise _index_error(error, index) from None
    if not op.basic:   # advanced indexing copies: NumPy's result may view a (transposed) temporary of its own
        return fresh_memory(out)
    if out.data.base is not None:
        if _state.get().grad:   # is_recording(), inline: x[t] runs at every step of a loop
            _note_view(x, out, index)
        elif x.requires_grad or getattr(x, "_view", None) is NO_GRAD_VIEW:
            out._view = NO_GRAD_VIEW
    return out


# the view record of a view made under no_grad from a tensor that requires grad: an in-place op on it with
# grad mode on is refused, as PyTorch's (nothing would update the base's graph)
NO_GRAD_VIEW = (None, "no_grad")


def made_under_no_grad(x: Tensor) -> bool:
    """Whether ``x`` is a view made under no_grad of a tensor that requires grad (NO_GRAD_VIEW), or a view of
    one made in either mode (x[0][1:], x[0].t(): PyTorch refuses in-place ops on them with grad mode on too).
    The chain is walked here, at an in-place op, to keep view ops free of the check."""
    view = getattr(x, "_view", None)
    while view and view[0] is not None:
        view = getattr(view[0], "_view", None)
    return view is NO_GRAD_VIEW


def _note_view(x: Tensor, out: Tensor, how: Any) -> None:
    """Record that ``out`` reads x's memory through ``how``: a basic index, or the Reshape/Transpose (Diagonal,
    Unfold, AsStrided) op that made it. An in-place op on either then re-points the other's graph (ops/inplace.py)."""
    out._view = (x, how)
    views = getattr(x, "_views", None)
    if views is None:
        x._views = views = []
    elif len(views) >= 32 and not len(views) & (len(views) - 1):
        views[:] = [v for v in views if v() is not None]   # at powers of two: amortised O(1) per view
    views.append(weakref.ref(out))


def track_view(x: Tensor, out: Tensor, how: Any) -> Tensor:
    """``out``, a view of ``x`` made by ``how`` (the Diagonal, Unfold or AsStrided op, or the basic index of a
    tensor_split part), recorded as one (:func:`_note_view`) by the rules of :func:`_view_op`. On the CPU the
    memory says whether it is a view; another array module's ``.base`` may not name the owner, so there the
    caller passes only views (unfold and as_strided copy on a GPU)."""
    if out.requires_grad:
        if x._node is None:
            return out
    elif not is_recording():
        if (x.requires_grad or getattr(x, "_view", None) is NO_GRAD_VIEW) and _shares_memory(out, x):
            out._view = NO_GRAD_VIEW   # also a view of such a view (x[:1].squeeze()), as PyTorch
        return out
    if type(out.data) is not backend.numpy.ndarray or memory_owner(out.data) is memory_owner(x.data):
        _note_view(x, out, how)
    return out


def _shares_memory(out: Tensor, x: Tensor) -> bool:
    """Whether ``out`` views x's memory: a reshape that had to copy (``x.t().reshape(-1)``) may be a NumPy view
    of its own copy (``.base`` set), which PyTorch's is not: in-place ops on it are fine with grad mode on.
    (Another array module's ``.base`` may not name the owner: there any ``.base`` counts, as before.)"""
    data = out.data
    return data.base is not None and (type(data) is not backend.numpy.ndarray
                                      or memory_owner(data) is memory_owner(x.data))


def _view_op(x: Tensor, op: Reshape | Transpose) -> Tensor:
    """``op(x)``, recorded as a view of x (:func:`_note_view`) when it shares x's memory while recording.

    A view of a leaf that requires grad is not recorded: in-place ops on it are refused anyway, and
    ``x @ W.T`` runs in every recurrent step.
    """
    out = op(x)
    if out.requires_grad:
        if x._node is None:
            return out
    elif not is_recording():
        if (x.requires_grad or getattr(x, "_view", None) is NO_GRAD_VIEW) and _shares_memory(out, x):
            out._view = NO_GRAD_VIEW   # also a view of such a view (x[:1].squeeze()), as PyTorch
        return out
    base = out.data.base
    if base is not None:
        data = x.data
        if type(data) is backend.numpy.ndarray:   # .base is the memory's owner, or holds it (unsqueeze's as_strided)
            shared = base is data or base is data.base or memory_owner(out.data) is memory_owner(data)
        else:   # another array module's .base may not name the owner: the layout says
            shared = base is data or base is data.base or type(op) is Transpose or \
                _view_strides(x.shape, data.strides, out.shape) is not None
        if shared:
            _note_view(x, out, op)
        else:
            out._view = ()   # reshape copied (a layout it cannot view): out's memory is its own, as in PyTorch
    return out


def astype(x: Tensor, dtype: Any) -> Tensor:
    """Cast to ``dtype`` (the gradient is cast back)."""
    dtype = backend.as_dtype(dtype, "astype")
    out = fresh_memory(AsType(dtype)(tensor_arg(x, "astype")))   # a transposed layout views the op's own copy
    if out.requires_grad and out.dtype.kind not in "fc":
        out = out.detach()
    return out


def to_device(x: Tensor, device: Any) -> Tensor:
    """Copy to another device (the gradient is copied back)."""
    return ToDevice(backend.Device(device))(x)
