"""PyTorch's writes at integer indices, each returning a new tensor, and their in-place twins:
``index_add``, ``index_copy``, ``index_fill``, ``masked_scatter`` (and ``index_add_`` …). ``arrange.py``
lists them in its ``__all__`` and ``METHODS``, with the reads ``take`` and ``take_along_dim``.

The index is a 1-D (or 0-d) integer tensor naming slices along ``dim``, checked against the size of
that dim as PyTorch checks it. ``index_fill`` is a composition (a masked fill); the others are one
``Function`` each, whose backward sends each slice's gradient to where it came from.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

from .. import backend
from ..autograd import Function
from ..autograd.names import spelled
from ..constructors import _fill_in
from ..tensor import Tensor
from . import index as _index
from ._util import (
    NOT_GIVEN,
    ArgumentTypeError,
    ArgumentValueError,
    ComplexOrderError,
    DtypeMismatchError,
    IndexArgumentError,
    ShapeMismatchError,
    check_index_range,
    device_array,
    flag,
    index_data,
    last_backward,
    number,
    one_axis,
    real_scalar,
    required_dim,
    sum_to,
    tensor_arg,
)
from .inplace import SetItem, _fill, _first_write_error, _in_range, _inplace, _item_fits, number_in
from .select import _index_array, check_along, check_index_dtype
from .shape import _index_arrays, broadcast_to, reshape


def _index_vector(x: Tensor, dim: Any, index: Any, name: str) -> tuple:
    """(axis, the 0-d or 1-D integer index array on x's device) for the ``index_*`` ops; a 0-d x counts as
    shape (1,). The values are checked by the op that reads them (:func:`_check_vector`), so an ``mg.compile``
    replay checks each call's; an index Tensor's own array is kept (no int64 or 1-D copy), so a replay reads
    each call's.
    """
    axis = one_axis(dim, max(x.ndim, 1), name)
    data = index_data(index, name, max_ndim=1)
    check_index_dtype(data, name)
    return axis, backend.to_device(data, x.device)


def _check_vector(index: Any, size: int, check: tuple) -> Any:
    """``index`` (0-d or 1-D) as a 1-D array, its values checked: ``check`` is (op name, where, negative)."""
    name, where, negative = check
    check_index_range(index, size, name, where, negative)
    return index if index.ndim == 1 else index.reshape(1)


class IndexWrite(Function):
    """``out = x`` with the slices ``source[…, i, …]`` added (``add``) or copied to ``out[…, index[i], …]``
    along ``axis``; repeated indices accumulate when adding.

    Gradients as PyTorch's: x gets gy (less the overwritten slices for a copy); source gets gy's
    slices at ``index``. ``check``: (op name, where, negative) for the index's range check, made here so
    that each ``mg.compile`` replay checks its own index (see :func:`_check_vector`).
    """

    complex_grad = True   # linear with real coefficients: the same backward; see autograd.engine._complex_gate

    def __init__(self, axis: int, index: Any, add: bool, check: tuple, zero_d: bool = False) -> None:
        self.axis, self.index, self.add, self.check, self.zero_d = axis, index, add, check, zero_d
        self.name = check[0]   # index_add, index_copy or their in-place names, which the check's errors give

    def forward(self, x: Any, source: Any) -> Any:
        xp = self.xp
        index = _check_vector(self.index, x.shape[self.axis], self.check)
        self.saved = (index,)   # saved: an mg.compile replay's backward uses each call's
        out = x.copy()
        target, values = xp.moveaxis(out, self.axis, 0), xp.moveaxis(source, self.axis, 0)   # views
        if self.add:
            backend.scatter_add(xp, target, index, values)   # on NumPy wide slices go in rounds: add.at's bits
        else:
            target[index] = values
        return out

    def backward(self, gy: Any) -> tuple:
        xp = self.xp
        gx = gsource = None
        if self.needs_grad[0]:
            gx = gy if self.add else gy.copy()
            if not self.add:
                xp.moveaxis(gx, self.axis, 0)[self.saved[0]] = 0
        if self.needs_grad[1]:
            if self.zero_d and self.saved[0].size != 1:   # PyTorch's index_select of the 0-d gradient refuses too
                raise RuntimeError(f"{self.name}: backward to source of a 0-d tensor takes a single index, got "
                                   f"{self.saved[0].size}")
            gsource = xp.moveaxis(xp.moveaxis(gy, self.axis, 0)[self.saved[0]], 0, self.axis)
        elif self.add:   # PyTorch saves index_add's index for source's gradient only: x's runs again, as PyTorch's
            self.saved = ()
        if self.saved and last_backward(self):   # the index goes with saved, as PyTorch's
            self.index = None
        return gx, gsource


class IndexMask(Function):
    """The bool mask of :func:`index_fill`, from its index (the op's one input, no gradient): True at the
    slices ``index`` names along ``axis`` of a tensor of shape ``shape``, shaped to broadcast against it.

    Made from the index in the forward, so an ``mg.compile`` replay fills each call's slices and checks
    each call's index (``check``: (op name, where, negative), see :func:`_check_vector`).
    """

    name = "index_fill"

    def __init__(self, axis: int, shape: tuple, check: tuple) -> None:
        self.axis, self.shape, self.check = axis, shape, check

    def forward(self, index: Any) -> Any:
        axis, shape = self.axis, self.shape
        size = shape[axis] if shape else 1
        mask = self.xp.zeros(size, dtype=bool)
        mask[_check_vector(index, size, self.check)] = True
        return mask.reshape((1,) * axis + (-1,) + (1,) * (len(shape) - axis - 1)) if shape else mask.reshape(())

    def backward(self, gy: Any) -> Any:
        return None


class SourceShapeError(ShapeMismatchError, IndexError):
    """index_copy's (or put's) source does not fit: PyTorch's IndexError (a ShapeMismatchError too)."""


def _index_write(x: Any, dim: Any, index: Any, source: Any, name: str, add: bool, alpha: Any = 1) -> Tensor:
    """index_add (``add``) or index_copy, checked as PyTorch checks them."""
    x, source = tensor_arg(x, name), tensor_arg(source, name)
    axis, data = _index_vector(x, dim, index, name)
    expected = x.shape[:axis] + (data.size,) + x.shape[axis + 1:] if x.ndim else ()
    copies_to_0d = x.ndim == 0 and not add and source.ndim <= 1
    if copies_to_0d and source.numel() != data.size:   # PyTorch's index_copy of a 0-d x: source () or (len(index),)
        raise SourceShapeError(f"{name}: source of shape {source.shape} for a 0-d tensor needs one element per index "
                               f"(the index has {data.size})")
    if source.shape != expected and not copies_to_0d:
        # PyTorch's index_copy raises a RuntimeError when a dim other than ``dim`` differs (a 0-d x: a source of 2
        # dims or more), else an IndexError; index_add always a RuntimeError
        slices_differ = source.ndim == x.ndim and any(source.shape[d] != x.shape[d] for d in range(x.ndim) if d != axis)
        index_error = name.startswith("index_copy") and not slices_differ and x.ndim > 0
        error = SourceShapeError if index_error else ShapeMismatchError
        raise error(f"{name}: source of shape {source.shape} must have the shape {expected} of the tensor "
                         f"{x.shape} with dim {axis} the index's length {data.size}")
    if source.dtype != x.dtype:
        raise DtypeMismatchError(f"{name}: the tensor ({x.dtype}) and source ({source.dtype}) must have the same dtype")
    if source.device != x.device:
        raise ValueError(f"{name}: source is on {source.device} but the tensor is on {x.device}")
    alpha = int(alpha) if isinstance(alpha, bool) else number(alpha, name, "alpha", complex_ok=True)   # bool too
    if x.dtype.kind != "c":   # a complex alpha only for complex tensors (or of no imaginary part), as PyTorch's
        alpha = real_scalar(name, "alpha", alpha, x.dtype)
    if alpha != 1:
        if x.dtype.kind == "b":   # PyTorch's bool index_add: any non-zero alpha adds (an or), zero adds nothing
            source = source * bool(alpha)
        elif x.dtype.kind in "iu":   # converted into x's dtype as PyTorch's: 2.5 is 2, 300 for int8 or NaN raise
            source = source * _fill_in(alpha, x.dtype, name)
        else:
            source = source * alpha
    check = (name, f"dim {axis} (shape {x.shape})", False)
    if x.ndim == 0:
        return reshape(IndexWrite(0, data, add, check, zero_d=True)(reshape(x, (1,)), reshape(source, (-1,))), ())
    return IndexWrite(axis, data, add, check)(x, source)


def index_add(input: Tensor, dim: int = NOT_GIVEN, index: Any = NOT_GIVEN, source: Tensor = NOT_GIVEN, *,  # noqa: A002
              alpha: Any = 1, axis: Any = NOT_GIVEN) -> Tensor:
    """A copy of ``x`` with ``alpha * source[…, i, …]`` added at ``x[…, index[i], …]`` along ``dim``
    (repeated indices accumulate). source: x's shape with dim ``dim`` of index's length (torch.index_add).
    ``axis=`` is PyTorch's alias of ``dim=``."""
    if axis is not NOT_GIVEN or dim is NOT_GIVEN or index is NOT_GIVEN or source is NOT_GIVEN:
        dim = required_dim("index_add", dim, axis, index=index, source=source)
    return _index_write(input, dim, index, source, "index_add", True, alpha)


def index_copy(input: Tensor, dim: int = NOT_GIVEN, index: Any = NOT_GIVEN, source: Tensor = NOT_GIVEN, *,  # noqa: A002
               axis: Any = NOT_GIVEN) -> Tensor:
    """A copy of ``x`` with ``x[…, index[i], …] = source[…, i, …]`` along ``dim`` (torch.index_copy).
    ``axis=`` is PyTorch's alias of ``dim=``."""
    if axis is not NOT_GIVEN or dim is NOT_GIVEN or index is NOT_GIVEN or source is NOT_GIVEN:
        dim = required_dim("index_copy", dim, axis, index=index, source=source)
    return _index_write(input, dim, index, source, "index_copy", False)


def index_fill(input: Tensor, dim: int = NOT_GIVEN, index: Any = NOT_GIVEN, value: Any = NOT_GIVEN, *,  # noqa: A002
               axis: Any = NOT_GIVEN) -> Tensor:
    """A copy of ``x`` with the slices at ``index`` along ``dim`` set to ``value`` (a number or a 0-d tensor,
    cast to x's dtype; a tensor value gets the sum of the gradient at the filled places). ``axis=`` is
    PyTorch's alias of ``dim=``."""
    if axis is not NOT_GIVEN or dim is NOT_GIVEN or index is NOT_GIVEN or value is NOT_GIVEN:
        dim = required_dim("index_fill", dim, axis, index=index, value=value)
    x = tensor_arg(input, "index_fill")
    axis, data = _index_vector(x, dim, index, "index_fill")
    if isinstance(value, Tensor) and value.ndim:
        raise ShapeMismatchError(f"index_fill: value must be a number or a 0-d tensor, got shape {value.shape}")
    complex_value = (value.dtype.kind == "c" if isinstance(value, Tensor)
                     else isinstance(value, (complex, backend.numpy.complexfloating)))
    if complex_value and x.dtype.kind != "c":
        raise ArgumentTypeError(f"index_fill: a complex value can't fill a tensor of dtype {x.dtype} (as PyTorch's)")
    if isinstance(value, Tensor):
        value = _item_fits(x, value, "index_fill").to(x.device, x.dtype)
    elif isinstance(value, (bool, int, float, complex, backend.numpy.number, backend.numpy.bool_)):
        number = number_in(x, value, "index_fill")   # NaN or 300 into uint8 refused, as PyTorch's
        value = device_array(x, lambda xp: backend.device_scalar(xp, number))   # -0.0 kept on CuPy too
    else:
        raise TypeError(f"index_fill: value must be a number or a 0-d tensor, got {type(value).__name__}")
    # the mask is an op of the index (the caller's Tensor when it is one): a compiled replay uses each call's
    index = index if isinstance(index, Tensor) and index.data is data else Tensor._make(data, False, None, 0)
    mask = IndexMask(axis, x.shape, ("index_fill", f"dim {axis} (shape {x.shape})", True))(index)
    # a Tensor value is PyTorch's overload 1
    return _fill(spelled("index_fill", "IndexFillBackward1") if isinstance(value, Tensor) else "index_fill", mask,
                 value)(x)


class MaskedScatter(Function):
    """``out[mask] = source.flatten()[:count]``: x's gradient where the mask is False, source's at its first
    ``count`` elements (the rest 0)."""

    complex_grad = True   # linear with real coefficients: the same backward; see autograd.engine._complex_gate
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


def masked_scatter(input: Tensor, mask: Any, source: Tensor) -> Tensor:  # noqa: A002
    """``x`` with the places where the bool ``mask`` is True filled, in row-major order, from the first
    elements of ``source`` (which needs at least as many); x and mask broadcast (torch.masked_scatter)."""
    x = input
    x, mask, source = (tensor_arg(t, "masked_scatter") for t in (x, mask, source))
    if mask.dtype != bool:
        raise ArgumentTypeError(f"masked_scatter: mask must be a bool tensor, got dtype {mask.dtype}")
    if source.dtype != x.dtype:
        raise DtypeMismatchError(f"masked_scatter: the tensor ({x.dtype}) and source ({source.dtype}) must have the "
                                 "same dtype")
    try:
        shape = tuple(backend.numpy.broadcast_shapes(x.shape, mask.shape))
    except ValueError:
        raise ShapeMismatchError(f"masked_scatter: mask of shape {mask.shape} does not broadcast with shape "
                                 f"{x.shape}") from None
    return MaskedScatter()(x if x.shape == shape else broadcast_to(x, shape), mask, source)


def index_add_(x: Tensor, dim: int = NOT_GIVEN, index: Any = NOT_GIVEN, source: Tensor = NOT_GIVEN, *,
               alpha: Any = 1, axis: Any = NOT_GIVEN) -> Tensor:
    """:func:`index_add` in place: x keeps its shape; ``source`` has x's shape with ``dim``'s length ``len(index)``."""
    if axis is not NOT_GIVEN or dim is NOT_GIVEN or index is NOT_GIVEN or source is NOT_GIVEN:
        dim = required_dim("index_add_", dim, axis, index=index, source=source)
    return _inplace(x, "index_add_", lambda cur: _index_write(cur, dim, index, source, "index_add_", True, alpha),
                    source)


def index_copy_(x: Tensor, dim: int = NOT_GIVEN, index: Any = NOT_GIVEN, source: Tensor = NOT_GIVEN, *,
                axis: Any = NOT_GIVEN) -> Tensor:
    """:func:`index_copy` in place: x keeps its shape; ``source`` has x's shape with ``dim``'s length
    ``len(index)``."""
    if axis is not NOT_GIVEN or dim is NOT_GIVEN or index is NOT_GIVEN or source is NOT_GIVEN:
        dim = required_dim("index_copy_", dim, axis, index=index, source=source)
    return _inplace(x, "index_copy_", lambda cur: _index_write(cur, dim, index, source, "index_copy_", False),
                    source)


def index_fill_(x: Tensor, dim: int = NOT_GIVEN, index: Any = NOT_GIVEN, value: Any = NOT_GIVEN, *,
                axis: Any = NOT_GIVEN) -> Tensor:
    """:func:`index_fill` in place: x keeps its shape; ``value`` is a number or a 0-d tensor."""
    if axis is not NOT_GIVEN or dim is NOT_GIVEN or index is NOT_GIVEN or value is NOT_GIVEN:
        dim = required_dim("index_fill_", dim, axis, index=index, value=value)
    return _inplace(x, "index_fill_", lambda cur: index_fill(cur, dim, index, value), value)


def masked_scatter_(x: Tensor, mask: Any, source: Tensor) -> Tensor:
    """:func:`masked_scatter` in place (the mask broadcasts to x's shape, x does not grow)."""
    return _inplace(x, "masked_scatter_", lambda cur: masked_scatter(cur, mask, source), source)



# --- index_put and put: writes at a tuple of index tensors, or into the flattened tensor -------------------

class IndexPutAdd(Function):
    """``out = x`` with ``values`` (broadcast to ``x[index]``'s shape) added at ``index``, repeated places
    accumulating: x gets gy, values get gy at index summed back to their shape."""

    complex_grad = True   # linear with real coefficients: the same backward; see autograd.engine._complex_gate
    name = "index_put"

    def __init__(self, index: tuple) -> None:
        self.index = index

    def forward(self, x: Any, values: Any) -> Any:
        xp = self.xp
        self.index = index = _index_arrays(self.index, xp, x.shape)
        self.saved = (index,)   # freed by a backward without retain_graph: a second one raises, as PyTorch's
        self.values_shape = values.shape
        out = x.copy(order="K")   # x's layout, as PyTorch's clone of self
        try:
            backend.scatter_add(xp, out, index, xp.broadcast_to(values, out[index].shape))
        except (IndexError, ValueError) as error:   # PyTorch's order: an empty dim, the values' shape, the range
            first = _first_write_error(x, index, values.shape, error if isinstance(error, IndexError) else
                                       ShapeMismatchError(f"index_put: {error}"))
            if first is not None:
                raise first from error
            self.index = _in_range(index)   # the part has no elements: nothing added, no gradient read
        return out

    def backward(self, gy: Any) -> tuple:
        gvalues = sum_to(self.xp.asarray(gy[self.index]), self.values_shape) if self.needs_grad[1] else None
        return gy, gvalues


def _put_index(index: Any) -> Any:
    """One of index_put's index tensors as PyTorch reads it: a uint8 one is a (deprecated) mask, as in ``x[i]``;
    int64, int32 and bool are kept; other integer dtypes raise PyTorch's IndexError."""
    data = index.data if isinstance(index, Tensor) else index
    if data.dtype == "uint8":
        warnings.warn("indexing with dtype uint8 is deprecated (as in PyTorch), use a bool tensor instead",
                      UserWarning, stacklevel=4)
        return data.astype(bool)
    if data.dtype.kind in "iu" and data.dtype.name not in ("int64", "int32"):
        raise IndexArgumentError(f"index_put: tensors used as indices must be long, int, byte or bool tensors, "
                                 f"got {data.dtype}")
    return index


def index_put(input: Tensor, indices: Any, values: Any, accumulate: bool = False) -> Tensor:  # noqa: A002
    """A copy of ``x`` with ``x[indices] = values`` (``indices`` a tuple of int or bool tensors; values
    broadcast), or ``+=`` with ``accumulate=True``, repeated indices then adding up (torch.index_put)."""
    x = tensor_arg(input, "index_put")
    if not isinstance(indices, (tuple, list)) or not all(isinstance(i, Tensor) or backend.is_array(i) for i in indices):
        raise TypeError(f"index_put: indices must be a tuple of tensors, got {type(indices).__name__}")
    if not indices:   # (NumPy's x[()] would write everywhere)
        raise ArgumentValueError(f"index_put: indices must hold at least one tensor, got an empty "
                                 f"{type(indices).__name__} (tensor shape {x.shape})")
    values = tensor_arg(values, "index_put")
    if values.dtype != x.dtype:
        raise ArgumentTypeError(f"index_put: values ({values.dtype}) must have the dtype of the tensor ({x.dtype})")
    index = tuple(_put_index(i) for i in indices)
    if (len(index) == 1 and index[0] is not indices[0] and index[0].ndim and values.numel() == 1
            and not flag(accumulate, "index_put", "accumulate")):
        raise ArgumentTypeError("index_put: PyTorch fills a uint8 mask with a one-element value by masked_fill_, "
                                "which only supports bool masks; use a bool mask")
    try:
        if flag(accumulate, "index_put", "accumulate"):
            return IndexPutAdd(index)(x, values)
        return SetItem(index, order="K")(x, values)   # x's layout, as PyTorch's clone of self
    except (IndexError, ValueError) as error:   # the op's own message already names the shapes
        message = str(error).removeprefix("index_put: ").removeprefix("setitem: ")
        raise backend.reworded(error, f"index_put: {message}") from error


def index_put_(x: Tensor, indices: Any, values: Any, accumulate: bool = False) -> Tensor:
    """:func:`index_put` in place: x keeps its shape; ``values`` broadcast to the shape of ``x[indices]``."""
    return _inplace(x, "index_put_", lambda cur: index_put(cur, indices, values, accumulate), values)


def put(input: Tensor, index: Any, source: Any, accumulate: bool = False) -> Tensor:  # noqa: A002
    """A copy of ``x`` with ``x.flatten()[index] = source`` (source has index's number of elements; negative
    indices count from the end), ``+=`` with ``accumulate=True`` (torch.put)."""
    return _put(input, index, source, accumulate, "put")


def _put(x: Any, index: Any, source: Any, accumulate: Any, name: str) -> Tensor:
    """put or put_ (``name``, which the errors name), checked as PyTorch checks them."""
    x, source = tensor_arg(x, name), tensor_arg(source, name)
    data = index_data(index, name)
    check_index_dtype(data, name)
    check_index_range(data, x.numel(), name, f"a tensor of shape {x.shape} read as 1-D", negative=True)
    if data.size != source.numel():
        raise SourceShapeError(f"{name}: index ({tuple(data.shape)}) and source ({source.shape}) must have the same "
                               "number of elements")
    if source.dtype != x.dtype:
        raise ArgumentTypeError(f"{name}: source ({source.dtype}) must have the dtype of the tensor ({x.dtype})")
    flat_index = reshape(index, -1) if isinstance(index, Tensor) else backend.to_device(data.reshape(-1), x.device)
    try:
        out = index_put(reshape(x, -1), (flat_index,), reshape(source, -1), flag(accumulate, name, "accumulate"))
    except Exception as error:   # noqa: BLE001 - reworded to name this op, then raised again
        if not str(error).startswith("index_put: "):
            raise
        raise backend.reworded(error, f"{name}: {str(error).removeprefix('index_put: ')}") from error
    return reshape(out, x.shape)


def put_(x: Tensor, index: Any, source: Any, accumulate: bool = False) -> Tensor:
    """:func:`put` in place (Tensor.put_)."""
    return _inplace(x, "put_", lambda cur: _put(cur, index, source, accumulate, "put_"), source)


# --- scatter_reduce: reductions at the places an index names along a dim, and scatter's older reduce= ------

class BoolReduceError(TypeError, NotImplementedError):
    """scatter_reduce's 'mean' and every index_reduce of a bool tensor: PyTorch's NotImplementedError."""


_REDUCTIONS = ("sum", "prod", "mean", "amax", "amin")
_UFUNCS = {"sum": "add", "mean": "add", "prod": "multiply", "amax": "maximum", "amin": "minimum"}


def _reduce_at(xp: Any, out: Any, where: tuple, values: Any, reduce: str, include_self: bool) -> None:
    """``out[where] ⊕= values`` in place for the reduction ``reduce`` (mean: the sum), repeated places
    combining in index order; without ``include_self`` the places ``where`` names start from the
    reduction's identity (amax/amin: from one of their values, which max and min may repeat).

    NumPy has ``ufunc.at`` for each; CuPy only for add, so prod, amax and amin combine the values one
    rank of repetition at a time (the k-th value aimed at each place), a loop as long as the most
    values one place receives.
    """
    if not include_self:
        out[where] = values if reduce in ("amax", "amin") else (1 if reduce == "prod" else 0)
    ufunc = getattr(xp, _UFUNCS[reduce])
    if reduce in ("sum", "mean"):
        backend.scatter_add(xp, out, where, values)
        return
    if xp is backend.numpy:
        ufunc.at(out, where, values)
        return
    flat = out.reshape(-1)   # out is a fresh C-ordered array: a view
    places = sum(w * math.prod(out.shape[d + 1:]) for d, w in enumerate(where))
    places = xp.broadcast_to(places, values.shape).reshape(-1)
    order = xp.argsort(places)   # CuPy's sort is stable: equal places keep the index order
    places, values = places[order], values.reshape(-1)[order]
    rank = xp.arange(places.size) - xp.searchsorted(places, places, side="left")
    for k in range(int(rank.max()) + 1 if places.size else 0):
        pick = rank == k
        flat[places[pick]] = ufunc(flat[places[pick]], values[pick])


class ScatterReduce(Function):
    """``out = x`` reduced with ``src[i]`` at ``out[..., index[i], ...]`` along ``axis`` (torch.scatter_reduce).

    ``reduce``: sum, prod, mean, amax or amin; ``include_self``: whether x's value at a place the index
    names takes part (else only the src values aimed there). Places no index names keep x's value.
    Gradients are PyTorch's (``scatter_reduce_backward``): mean divides by the counts, prod divides the
    product by each factor and treats a single zero exactly, amax/amin share the gradient equally among
    the values equal to the result (x's included when it takes part).
    """

    name = "scatter_reduce"

    def __init__(self, axis: int, index: Any, reduce: str, include_self: bool, check: str | None = None) -> None:
        self.axis, self.index, self.reduce, self.include_self = axis, index, reduce, include_self
        self.check = check   # the name the index's range check gives (checked here: each mg.compile replay's own)

    def _where(self, xp: Any) -> tuple:
        ndim = self.index.ndim
        return tuple(self.index if d == self.axis else
                     xp.arange(n).reshape((1,) * d + (n,) + (1,) * (ndim - d - 1))
                     for d, n in enumerate(self.index.shape))

    def _part(self, src: Any) -> Any:
        return src[tuple(slice(0, n) for n in self.index.shape)]

    def _counts(self, xp: Any, where: tuple, shape: tuple, dtype: Any) -> Any:
        """How many values each place of the result averages (at least 1)."""
        counts = xp.full(shape, 1 if self.include_self else 0, dtype=dtype)
        backend.scatter_add(xp, counts, where, xp.ones(self.index.shape, dtype=dtype))
        return xp.maximum(counts, xp.ones((), dtype=dtype))

    def forward(self, x: Any, src: Any) -> Any:
        xp = self.xp
        if self.check is not None:
            check_along(self.index, x.shape[self.axis], self.check, self.axis)
        where, part = self._where(xp), self._part(src)
        out = x.copy()
        with backend.errstate(xp, invalid="ignore"):   # NaN propagates through amax/amin, as in PyTorch
            _reduce_at(xp, out, where, part, self.reduce, self.include_self)
        if self.reduce == "mean":
            if out.dtype.kind in "iu":   # PyTorch divides integers rounding down
                out = xp.floor_divide(out, self._counts(xp, where, out.shape, out.dtype))
            else:
                out = out / self._counts(xp, where, out.shape, out.dtype)
        self.saved = (x, src, out)
        return out

    def backward(self, gy: Any) -> tuple:
        xp = self.xp
        x, src, out = self.saved
        where, part, reduce = self._where(xp), self._part(src), self.reduce
        with backend.errstate(xp, divide="ignore", invalid="ignore"):
            if reduce == "sum":
                gx, gpart = gy, gy[where]
            elif reduce == "mean":
                counts = self._counts(xp, where, gy.shape, gy.dtype)
                gx, gpart = gy / counts, gy[where] / counts[where]
            elif reduce == "prod":
                gx, gpart = self._prod_grads(xp, gy, x, part, out, where)
            else:   # amax, amin: shared equally among the values equal to the result
                value = out[where]
                x_is, part_is = x == out, part == value
                ties = x_is.astype(gy.dtype)
                backend.scatter_add(xp, ties, where, part_is.astype(gy.dtype))
                shared = gy / ties
                gx, gpart = xp.where(x_is, shared, 0), xp.where(part_is, shared[where], 0)
        gx = gx.astype(gy.dtype, copy=False)
        if not self.include_self:
            gx = gx.copy()
            gx[where] = 0
        gsrc = None
        if self.needs_grad[1]:
            gsrc = xp.zeros(src.shape, dtype=gy.dtype)
            gsrc[tuple(slice(0, n) for n in self.index.shape)] = gpart
        return (gx if self.needs_grad[0] else None), gsrc

    def _prod_grads(self, xp: Any, gy: Any, x: Any, part: Any, out: Any, where: tuple) -> tuple:
        """PyTorch's: the product without a factor is the product over the factor, except where that
        factor is the only zero at its place, whose gradient is the product of the others."""
        one = xp.ones((), dtype=x.dtype)
        x_ones = xp.where(x == 0, one, x)
        others = x_ones.copy()
        _reduce_at(xp, others, where, part, "prod", self.include_self)
        gx = gy * others / x_ones
        part_zero = part == 0
        zeros_at = xp.zeros(x.shape, dtype=gy.dtype)
        backend.scatter_add(xp, zeros_at, where, part_zero.astype(gy.dtype))
        single_zero = part_zero & (zeros_at[where] == 1)
        without = x.copy()
        _reduce_at(xp, without, where, xp.where(single_zero, one, part), "prod", self.include_self)
        gpart = xp.where(single_zero, (gy * without)[where], (gy * out)[where] / xp.where(part_zero, one, part))
        return gx, gpart


def _scatter_reduce(x: Any, dim: Any, index: Any, src: Any, reduce: Any, include_self: Any, name: str) -> Tensor:
    """scatter_reduce, checked as PyTorch checks it; errors name ``name``."""
    x, src = tensor_arg(x, name), tensor_arg(src, name)
    if not isinstance(reduce, str) or reduce not in _REDUCTIONS + ("max", "min"):
        raise ShapeMismatchError(f"{name}: reduce must be one of 'sum', 'prod', 'mean', 'amax' or 'amin', got "
                                 f"{reduce!r}")
    reduce = {"max": "amax", "min": "amin"}.get(reduce, reduce)   # PyTorch's forward takes these too
    include_self = flag(include_self, name, "include_self")
    if x.ndim == 0:   # PyTorch treats a 0-d tensor as one of shape (1,)
        scalar_index = index_data(index, name)
        one_axis(dim, 1, name)
        if (src.ndim or scalar_index.ndim) and scalar_index.size:   # (an empty index: PyTorch's no-op)
            raise ShapeMismatchError(f"{name}: a 0-d tensor needs a 0-d index and src, got index shape "
                                     f"{tuple(scalar_index.shape)} and src shape {src.shape}")
        flat_index = backend.to_device(scalar_index.reshape(-1), x.device)
        out = _scatter_reduce(reshape(x, (1,)), 0, flat_index, reshape(src, (-1,)), reduce, include_self, name)
        return reshape(out, ())
    axis = one_axis(dim, x.ndim, name)
    data = _index_array(index, x, axis, name)
    if src.ndim != x.ndim or any(n > m for n, m in zip(data.shape, src.shape)):
        raise ShapeMismatchError(f"{name}: index {tuple(data.shape)} must be no larger than src {src.shape} in any "
                                 f"dim (and src needs the tensor's {x.ndim} dims, shape {x.shape})")
    if src.dtype != x.dtype:
        raise DtypeMismatchError(f"{name}: src has dtype {src.dtype} but the tensor has dtype {x.dtype} (cast one)")
    if src.device != x.device:
        raise ValueError(f"{name}: src is on {src.device} but the tensor is on {x.device}")
    # PyTorch's kernels lack these (index_reduce of a bool tensor of 2 dims or more, including itself, reduces
    # slice by slice: prod, amax and amin work there)
    if x.dtype.kind == "b" and (reduce == "mean" or name == "index_reduce" and (x.ndim < 2 or not include_self)):
        raise BoolReduceError(f"{name}: reduce={reduce!r} is not implemented for bool tensors (as in PyTorch)")
    if reduce in ("amax", "amin") and x.dtype.kind == "c":   # PyTorch's NotImplementedError
        raise ComplexOrderError(f"{name}: reduce={reduce!r} is not implemented for complex tensors (dtype {x.dtype})")
    op = ScatterReduce(axis, data, reduce, include_self, check=name)
    op.name = name
    return op(x, src)


def scatter_reduce(input: Tensor, dim: int = NOT_GIVEN, index: Any = NOT_GIVEN, src: Tensor = NOT_GIVEN,  # noqa: A002
                   reduce: str = NOT_GIVEN, *, include_self: bool = True, axis: Any = NOT_GIVEN) -> Tensor:
    """A copy of ``x`` where each ``src[i, j]`` is combined into ``out[index[i, j], j]`` (dim 0; likewise for
    any ``dim``) by ``reduce``: 'sum', 'prod', 'mean', 'amax' or 'amin' (torch.scatter_reduce).

    index: an int tensor with x's number of dims, no larger than src in any dim nor than x outside ``dim``;
    src: x's dtype. With ``include_self=False`` x's values at the places the index names are left out
    (places it does not name keep x's value). Integer means round down, as PyTorch's. ``axis=`` is PyTorch's
    alias of ``dim=``.
    """
    if axis is not NOT_GIVEN or dim is NOT_GIVEN or index is NOT_GIVEN or src is NOT_GIVEN or reduce is NOT_GIVEN:
        dim = required_dim("scatter_reduce", dim, axis, index=index, src=src, reduce=reduce)
    return _scatter_reduce(input, dim, index, src, reduce, include_self, "scatter_reduce")


def scatter_reduce_(x: Tensor, dim: int = NOT_GIVEN, index: Any = NOT_GIVEN, src: Tensor = NOT_GIVEN,
                    reduce: str = NOT_GIVEN, *, include_self: bool = True, axis: Any = NOT_GIVEN) -> Tensor:
    """:func:`scatter_reduce` in place: x keeps its shape; ``index`` has x's ndim and ``src`` is at least its
    shape."""
    if axis is not NOT_GIVEN or dim is NOT_GIVEN or index is NOT_GIVEN or src is NOT_GIVEN or reduce is NOT_GIVEN:
        dim = required_dim("scatter_reduce_", dim, axis, index=index, src=src, reduce=reduce)
    return _inplace(x, "scatter_reduce_", lambda cur: _scatter_reduce(cur, dim, index, src, reduce, include_self,
                                                                      "scatter_reduce_"), src)


def _scatter_with_reduce(x: Any, dim: Any, index: Any, src: Any, value: Any, reduce: Any, name: str) -> Tensor:
    """PyTorch's older ``scatter(..., reduce='add'|'multiply')``: scatter_reduce 'sum'/'prod' with x included
    (src a tensor, or a number at every place the index names)."""
    if reduce not in ("add", "multiply"):
        raise ShapeMismatchError(f"{name}: reduce must be either 'add' or 'multiply', got {reduce!r} (scatter_reduce "
                                 "takes 'sum', 'prod', 'mean', 'amax' and 'amin')")
    x = tensor_arg(x, name)
    if src is None:
        src = value
    if isinstance(src, Tensor) or backend.is_array(src):
        warnings.warn("The reduce argument of scatter with Tensor src is deprecated (as in PyTorch); use "
                      "scatter_reduce instead", UserWarning, stacklevel=3)
        src = tensor_arg(src, name)
    elif isinstance(src, (bool, int, float, complex)):
        data, number = index_data(index, name), _fill_in(src, x.dtype, name)   # 300 into int8 raises, as PyTorch's
        src = device_array(x, lambda xp: backend.full(xp, tuple(data.shape), number).astype(x.dtype))
        src = tensor_arg(src, name)
    else:
        raise TypeError(f"{name}: src must be a Tensor or a number, got {type(src).__name__}")
    return _scatter_reduce(x, dim, index, src, "sum" if reduce == "add" else "prod", True, name)


def scatter(input: Tensor, dim: int = NOT_GIVEN, index: Any = NOT_GIVEN, src: Any = None, *,  # noqa: A002
            value: Any = None, reduce: str | None = None, axis: Any = NOT_GIVEN) -> Tensor:
    """torch.scatter (see :func:`minigrad.ops.index.scatter`), with PyTorch's older ``reduce='add'`` or
    ``'multiply'`` (src or value combined into the places instead of written; a Tensor src warns that this
    is deprecated, as PyTorch does). Unlike PyTorch, the reduce forms have gradients (scatter_reduce's).
    ``axis=`` is PyTorch's alias of ``dim=``."""
    if axis is not NOT_GIVEN or dim is NOT_GIVEN or index is NOT_GIVEN:   # PyTorch's axis= alias of dim=
        dim = required_dim("scatter", dim, axis, index=index)
    x = input
    if reduce is None:
        return _index.scatter(x, dim, index, _number_in(x, src, "scatter"), value=_number_in(x, value, "scatter"))
    return _scatter_with_reduce(x, dim, index, src, value, reduce, "scatter")


def _number_in(x: Any, src: Any, name: str) -> Any:
    """A Python number written by scatter, converted into x's dtype as PyTorch converts it: 300 into int8, 255.9
    into uint8, 1e39 into float32 or 1e39j into complex64 raise RuntimeError (NumPy wrapped them); a complex one
    with no imaginary part is its real part in a real x. Anything else passes as it is."""
    if isinstance(x, Tensor) and type(src) in (int, float, complex):
        return _fill_in(src, x.dtype, name)
    return src


def scatter_(x: Tensor, dim: int = NOT_GIVEN, index: Any = NOT_GIVEN, src: Any = None, *, value: Any = None,
             reduce: str | None = None, axis: Any = NOT_GIVEN) -> Tensor:
    """:func:`scatter` in place: x keeps its shape; ``index`` has x's ndim, ``src`` is at least its shape (or
    ``value`` a scalar)."""
    if axis is not NOT_GIVEN or dim is NOT_GIVEN or index is NOT_GIVEN:   # PyTorch's axis= alias of dim=
        dim = required_dim("scatter_", dim, axis, index=index)
    if reduce is None:
        return _index.scatter_(x, dim, index, _number_in(x, src, "scatter_"), value=_number_in(x, value, "scatter_"))
    source = value if src is None else src
    return _inplace(x, "scatter_", lambda cur: _scatter_with_reduce(cur, dim, index, src, value, reduce, "scatter_"),
                    source)
