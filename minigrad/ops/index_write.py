"""PyTorch's writes at integer indices, each returning a new tensor, and their in-place twins:
``index_add``, ``index_copy``, ``index_fill``, ``masked_scatter`` (and ``index_add_`` …). ``arrange.py``
lists them in its ``__all__`` and ``METHODS``, with the reads ``take`` and ``take_along_dim``.

The index is a 1-D (or 0-d) integer tensor naming slices along ``dim``, checked against the size of
that dim as PyTorch checks it. ``index_fill`` is a composition (a masked fill); the others are one
``Function`` each, whose backward sends each slice's gradient to where it came from.
"""

from __future__ import annotations

import math
from typing import Any

from .. import backend
from ..autograd import Function
from ..tensor import Tensor
from ._util import check_index_range, device_array, flag, index_data, number, one_axis, sum_to, tensor_arg
from .inplace import SetItem, _fill, _inplace
from .shape import _index_arrays, broadcast_to, reshape


def _index_vector(x: Tensor, dim: Any, index: Any, name: str, negative: bool) -> tuple:
    """(axis, 1-D int64 index array on x's device) for the ``index_*`` ops; a 0-d x counts as shape (1,).

    A 1-D int64 index Tensor's own array is kept (not a copy), so an ``mg.compile`` replay reads each call's.
    """
    axis = one_axis(dim, max(x.ndim, 1), name)
    data = index_data(index, name, max_ndim=1)
    size = x.shape[axis] if x.ndim else 1
    check_index_range(data, size, name, f"dim {axis} (shape {x.shape})", negative)
    vector = data if data.ndim == 1 else data.reshape(-1)
    return axis, backend.to_device(vector, x.device).astype("int64", copy=False)


class IndexWrite(Function):
    """``out = x`` with the slices ``source[…, i, …]`` added (``add``) or copied to ``out[…, index[i], …]``
    along ``axis``; repeated indices accumulate when adding.

    Gradients as PyTorch's: x gets gy (less the overwritten slices for a copy); source gets gy's
    slices at ``index``.
    """

    def __init__(self, axis: int, index: Any, add: bool) -> None:
        self.axis, self.index, self.add = axis, index, add
        self.name = "index_add" if add else "index_copy"

    def forward(self, x: Any, source: Any) -> Any:
        xp = self.xp
        out = x.copy()
        target, values = xp.moveaxis(out, self.axis, 0), xp.moveaxis(source, self.axis, 0)   # views
        if self.add:
            backend.scatter_add(xp, target, self.index, values)
        else:
            target[self.index] = values
        return out

    def backward(self, gy: Any) -> tuple:
        xp = self.xp
        gx = gsource = None
        if self.needs_grad[0]:
            gx = gy if self.add else gy.copy()
            if not self.add:
                xp.moveaxis(gx, self.axis, 0)[self.index] = 0
        if self.needs_grad[1]:
            gsource = xp.moveaxis(xp.moveaxis(gy, self.axis, 0)[self.index], 0, self.axis)
        return gx, gsource


def _index_write(x: Any, dim: Any, index: Any, source: Any, name: str, add: bool, alpha: Any = 1) -> Tensor:
    """index_add (``add``) or index_copy, checked as PyTorch checks them."""
    x, source = tensor_arg(x, name), tensor_arg(source, name)
    axis, data = _index_vector(x, dim, index, name, negative=False)
    expected = x.shape[:axis] + (data.size,) + x.shape[axis + 1:] if x.ndim else ()
    if source.shape != expected:
        raise ValueError(f"{name}: source of shape {source.shape} must have the shape {expected} of the tensor "
                         f"{x.shape} with dim {axis} the index's length {data.size}")
    if source.dtype != x.dtype:
        raise TypeError(f"{name}: the tensor ({x.dtype}) and source ({source.dtype}) must have the same dtype")
    if source.device != x.device:
        raise ValueError(f"{name}: source is on {source.device} but the tensor is on {x.device}")
    alpha = number(alpha, name, "alpha")
    if alpha != 1:
        if x.dtype.kind in "iub" and (x.dtype.kind == "b" or not float(alpha).is_integer()):
            raise TypeError(f"{name}: alpha {alpha!r} for a tensor of dtype {x.dtype} (ints take a whole number, "
                            "bools none)")
        source = source * (int(alpha) if x.dtype.kind in "iu" else alpha)
    if x.ndim == 0:
        return reshape(IndexWrite(0, data, add)(reshape(x, (1,)), reshape(source, (1,))), ())
    return IndexWrite(axis, data, add)(x, source)


def index_add(x: Tensor, dim: int, index: Any, source: Tensor, *, alpha: Any = 1) -> Tensor:
    """A copy of ``x`` with ``alpha * source[…, i, …]`` added at ``x[…, index[i], …]`` along ``dim``
    (repeated indices accumulate). source: x's shape with dim ``dim`` of index's length (torch.index_add)."""
    return _index_write(x, dim, index, source, "index_add", True, alpha)


def index_copy(x: Tensor, dim: int, index: Any, source: Tensor) -> Tensor:
    """A copy of ``x`` with ``x[…, index[i], …] = source[…, i, …]`` along ``dim`` (torch.index_copy)."""
    return _index_write(x, dim, index, source, "index_copy", False)


def index_fill(x: Tensor, dim: int, index: Any, value: Any) -> Tensor:
    """A copy of ``x`` with the slices at ``index`` along ``dim`` set to ``value`` (a number or a 0-d tensor,
    cast to x's dtype; a tensor value gets the sum of the gradient at the filled places)."""
    x = tensor_arg(x, "index_fill")
    axis, data = _index_vector(x, dim, index, "index_fill", negative=True)
    if isinstance(value, Tensor):
        if value.ndim:
            raise ValueError(f"index_fill: value must be a number or a 0-d tensor, got shape {value.shape}")
        value = value.to(x.device, x.dtype)
    elif isinstance(value, (bool, int, float, backend.numpy.number, backend.numpy.bool_)):
        value = device_array(x, lambda xp: xp.asarray(value).astype(x.dtype))
    else:
        raise TypeError(f"index_fill: value must be a number or a 0-d tensor, got {type(value).__name__}")

    def make_mask(xp: Any) -> Any:
        mask = xp.zeros(x.shape[axis] if x.ndim else 1, dtype=bool)
        mask[data] = True
        return mask.reshape((1,) * axis + (-1,) + (1,) * (x.ndim - axis - 1)) if x.ndim else mask.reshape(())

    return _fill("index_fill", device_array(x, make_mask), value)(x)


class MaskedScatter(Function):
    """``out[mask] = source.flatten()[:count]``: x's gradient where the mask is False, source's at its first
    ``count`` elements (the rest 0)."""

    name = "masked_scatter"

    def forward(self, x: Any, mask: Any, source: Any) -> Any:
        mask = self.xp.broadcast_to(mask, x.shape)
        self.saved, self.source_shape = (mask,), source.shape   # saved: an mg.compile replay uses each call's
        count = int(mask.sum())
        if count > source.size:
            raise ValueError(f"the mask has {count} True elements but source has only {source.size}")
        out = x.copy()
        out[mask] = source.reshape(-1)[:count]
        return out

    def backward(self, gy: Any) -> tuple:
        xp = self.xp
        (mask,) = self.saved
        gx = gsource = None
        if self.needs_grad[0]:
            gx = xp.where(mask, xp.zeros((), dtype=gy.dtype), gy)
        if self.needs_grad[2]:
            picked = gy[mask]
            gsource = xp.zeros(math.prod(self.source_shape), dtype=gy.dtype)
            gsource[:picked.size] = picked
            gsource = gsource.reshape(self.source_shape)
        return gx, None, gsource


def masked_scatter(x: Tensor, mask: Any, source: Tensor) -> Tensor:
    """``x`` with the places where the bool ``mask`` is True filled, in row-major order, from the first
    elements of ``source`` (which needs at least as many); x and mask broadcast (torch.masked_scatter)."""
    x, mask, source = (tensor_arg(t, "masked_scatter") for t in (x, mask, source))
    if mask.dtype != bool:
        raise TypeError(f"masked_scatter: mask must be a bool tensor, got dtype {mask.dtype}")
    if source.dtype != x.dtype:
        raise TypeError(f"masked_scatter: the tensor ({x.dtype}) and source ({source.dtype}) must have the same "
                        "dtype")
    try:
        shape = tuple(backend.numpy.broadcast_shapes(x.shape, mask.shape))
    except ValueError:
        raise ValueError(f"masked_scatter: mask of shape {mask.shape} does not broadcast with shape {x.shape}") \
            from None
    return MaskedScatter()(x if x.shape == shape else broadcast_to(x, shape), mask, source)


def index_add_(x: Tensor, dim: int, index: Any, source: Tensor, *, alpha: Any = 1) -> Tensor:
    """:func:`index_add` in place."""
    return _inplace(x, "index_add_", lambda cur: _index_write(cur, dim, index, source, "index_add_", True, alpha),
                    source)


def index_copy_(x: Tensor, dim: int, index: Any, source: Tensor) -> Tensor:
    """:func:`index_copy` in place."""
    return _inplace(x, "index_copy_", lambda cur: _index_write(cur, dim, index, source, "index_copy_", False),
                    source)


def index_fill_(x: Tensor, dim: int, index: Any, value: Any) -> Tensor:
    """:func:`index_fill` in place."""
    return _inplace(x, "index_fill_", lambda cur: index_fill(cur, dim, index, value), value)


def masked_scatter_(x: Tensor, mask: Any, source: Tensor) -> Tensor:
    """:func:`masked_scatter` in place (the mask broadcasts to x's shape, x does not grow)."""
    return _inplace(x, "masked_scatter_", lambda cur: masked_scatter(cur, mask, source), source)



# --- index_put and put: writes at a tuple of index tensors, or into the flattened tensor -------------------

class IndexPutAdd(Function):
    """``out = x`` with ``values`` (broadcast to ``x[index]``'s shape) added at ``index``, repeated places
    accumulating: x gets gy, values get gy at index summed back to their shape."""

    name = "index_put"

    def __init__(self, index: tuple) -> None:
        self.index = index

    def forward(self, x: Any, values: Any) -> Any:
        xp = self.xp
        self.index = index = _index_arrays(self.index, xp)
        self.values_shape = values.shape
        out = x.copy()
        backend.scatter_add(xp, out, index, xp.broadcast_to(values, out[index].shape))
        return out

    def backward(self, gy: Any) -> tuple:
        gvalues = sum_to(self.xp.asarray(gy[self.index]), self.values_shape) if self.needs_grad[1] else None
        return gy, gvalues


def index_put(x: Tensor, indices: Any, values: Any, accumulate: bool = False) -> Tensor:
    """A copy of ``x`` with ``x[indices] = values`` (``indices`` a tuple of int or bool tensors; values
    broadcast), or ``+=`` with ``accumulate=True``, repeated indices then adding up (torch.index_put)."""
    x = tensor_arg(x, "index_put")
    if not isinstance(indices, (tuple, list)) or not all(isinstance(i, Tensor) or backend.is_array(i) for i in indices):
        raise TypeError(f"index_put: indices must be a tuple of tensors, got {type(indices).__name__}")
    values = tensor_arg(values, "index_put")
    if values.dtype != x.dtype:
        raise TypeError(f"index_put: values ({values.dtype}) must have the dtype of the tensor ({x.dtype})")
    index = tuple(indices)
    try:
        if flag(accumulate, "index_put", "accumulate"):
            return IndexPutAdd(index)(x, values)
        return SetItem(index)(x, values)
    except (IndexError, ValueError) as error:
        raise backend.reworded(error, f"index_put: {error} (tensor shape {x.shape}, values shape "
                                      f"{values.shape})") from error


def index_put_(x: Tensor, indices: Any, values: Any, accumulate: bool = False) -> Tensor:
    """:func:`index_put` in place."""
    return _inplace(x, "index_put_", lambda cur: index_put(cur, indices, values, accumulate), values)


def put(x: Tensor, index: Any, source: Any, accumulate: bool = False) -> Tensor:
    """A copy of ``x`` with ``x.flatten()[index] = source`` (source has index's number of elements; negative
    indices count from the end), ``+=`` with ``accumulate=True`` (torch.put)."""
    x, source = tensor_arg(x, "put"), tensor_arg(source, "put")
    data = index_data(index, "put")
    check_index_range(data, x.numel(), "put", f"a tensor of shape {x.shape} read as 1-D", negative=True)
    if data.size != source.numel():
        raise ValueError(f"put: index ({tuple(data.shape)}) and source ({source.shape}) must have the same number "
                         "of elements")
    flat_index = reshape(index, -1) if isinstance(index, Tensor) else backend.to_device(data.reshape(-1), x.device)
    out = index_put(reshape(x, -1), (flat_index,), reshape(source, -1), accumulate)
    return reshape(out, x.shape)


def put_(x: Tensor, index: Any, source: Any, accumulate: bool = False) -> Tensor:
    """:func:`put` in place (Tensor.put_)."""
    return _inplace(x, "put_", lambda cur: put(cur, index, source, accumulate), source)
