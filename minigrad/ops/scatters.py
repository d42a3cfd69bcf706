"""PyTorch's out-of-place writes into a view: ``select_scatter``, ``slice_scatter``, ``diagonal_scatter`` and
``as_strided_scatter``. Each returns a copy of ``input`` whose view (``input.select(dim, index)``,
``input[start:end:step]`` along ``dim``, ``input.diagonal(offset, dim1, dim2)``, ``input.as_strided(…)``) holds
``src``, which must have that view's shape exactly (its dtype is cast to input's, as ``copy_`` does).

One ``Function`` per kind of view, all with the same backward: ``src`` gets the output gradient read through the
view, ``input`` gets the rest (zeros where ``src`` was written).
"""

from __future__ import annotations

import math
from typing import Any

from ..autograd import Function
from ..tensor import Tensor
from ._util import NOT_GIVEN, axis_alias, int_arg, int_tuple, required_dim
from .strided import _may_overlap, _places, _span

__all__ = ["as_strided_scatter", "diagonal_scatter", "select_scatter", "slice_scatter"]


class _Embed(Function):
    """``input`` with ``src`` written into one view of it. Subclasses say which view: ``read(array)`` (a new
    array of the view's shape) and ``write(array, values)`` (in place); backward reads the gradient of ``src``
    through the view and zeroes it in the gradient of ``input``."""

    complex_grad = True   # linear (copies and zeros): the same backward; see autograd.engine._complex_gate

    def read(self, array: Any) -> Any:
        raise NotImplementedError

    def write(self, array: Any, values: Any) -> None:
        raise NotImplementedError

    def forward(self, x: Any, src: Any) -> Any:
        self.src_dtype = src.dtype
        out = x.copy(order="K")   # x's layout (a transposed x: a transposed result), as PyTorch's clone of self
        self.write(out, src.astype(x.dtype, copy=False))
        return out

    def backward(self, gy: Any) -> tuple:
        gx = gsrc = None
        if self.needs_grad[1]:
            gsrc = self.read(gy)
            if gsrc.dtype.kind == "c" and self.src_dtype.kind != "c":   # a real src written into a complex input
                gsrc = gsrc.real
            gsrc = gsrc.astype(self.src_dtype, copy=False)
        if self.needs_grad[0]:
            gx = self.xp.array(gy, copy=True)   # (a 0-d gradient may come as a NumPy scalar, which has no [...])
            self.write(gx, self.xp.zeros((), dtype=gy.dtype))
        return gx, gsrc


class _EmbedAt(_Embed):
    """The view is ``array[key]`` for a basic index ``key`` (ints and slices): select_scatter, slice_scatter."""

    def __init__(self, name: str, key: tuple) -> None:
        self.name, self.key = name, key

    def read(self, array: Any) -> Any:
        return array[self.key].copy()

    def write(self, array: Any, values: Any) -> None:
        array[self.key] = values


class _EmbedDiagonal(_Embed):
    """The view is diagonal ``offset`` of dims ``axis1``, ``axis2``, as a last dim of ``n`` elements."""

    name = "diagonal_scatter"

    def __init__(self, offset: int, axis1: int, axis2: int, n: int) -> None:
        self.axis1, self.axis2, self.n = axis1, axis2, n
        self.rows, self.cols = max(-offset, 0), max(offset, 0)

    def _where(self, array: Any) -> tuple:
        xp = self.xp
        moved = xp.moveaxis(array, (self.axis1, self.axis2), (-2, -1))   # a view: writes reach array
        return moved, (Ellipsis, xp.arange(self.n) + self.rows, xp.arange(self.n) + self.cols)

    def read(self, array: Any) -> Any:
        moved, key = self._where(array)
        return moved[key]

    def write(self, array: Any, values: Any) -> None:
        moved, key = self._where(array)
        moved[key] = values


class _EmbedStrided(_Embed):
    """The view is ``as_strided(size, stride, offset)`` of a storage laid out as input's strides say (PyTorch
    makes the output with input's strides, from storage offset 0): the storage is built, written and read back."""

    name = "as_strided_scatter"

    def __init__(self, x_strides: tuple, storage: int, size: tuple, stride: tuple, offset: int) -> None:
        self.x_strides, self.storage, self.size, self.stride, self.offset = x_strides, storage, size, stride, offset

    def _through(self, array: Any, values: Any) -> tuple:
        """The storage holding ``array``, ``values`` written at the view's places; and those places."""
        xp = self.xp
        flat = xp.zeros(self.storage, dtype=array.dtype)
        flat[_places(xp, array.shape, self.x_strides, 0)] = array
        places = _places(xp, self.size, self.stride, self.offset)
        if values is not None:
            flat[places] = values
        return flat, places

    def read(self, array: Any) -> Any:
        flat, places = self._through(array, None)
        return flat[places]

    def write(self, array: Any, values: Any) -> None:
        flat, _ = self._through(array, values)
        array[...] = flat[_places(self.xp, array.shape, self.x_strides, 0)]


def _pair(input: Any, src: Any, name: str) -> tuple:  # noqa: A002 - PyTorch's name
    for what, value in (("input", input), ("src", src)):
        if not isinstance(value, Tensor):
            raise TypeError(f"{name}(): argument '{what}' must be a Tensor, got {type(value).__name__}")
    if input.device != src.device:
        raise ValueError(f"{name}: input is on {input.device} but src on {src.device}")
    return input, src


def _check_shape(name: str, src: Tensor, view_shape: tuple) -> None:
    if tuple(src.shape) != tuple(view_shape):
        raise RuntimeError(f"{name}: expected src to have a size equal to the slice of self. src size = "
                           f"{list(src.shape)}, slice size = {list(view_shape)}")


def _dim(dim: Any, ndim: int, name: str) -> int:
    """A dim in range, or PyTorch's IndexError."""
    d = int_arg(dim, name, "dim")
    if not -max(ndim, 1) <= d < max(ndim, 1):
        raise IndexError(f"{name}: Dimension out of range (expected to be in range of [{-max(ndim, 1)}, "
                         f"{max(ndim, 1) - 1}], but got {d})")
    return d % max(ndim, 1)


def select_scatter(input: Tensor, src: Tensor, dim: int = NOT_GIVEN, index: int = NOT_GIVEN, *,  # noqa: A002
                   axis: Any = NOT_GIVEN) -> Tensor:
    """A copy of ``input`` (…, n, …) with ``src`` (``input.select(dim, index)``'s shape, that dim removed)
    written at ``index`` along ``dim`` (torch.select_scatter); differentiable in both. ``axis=`` is PyTorch's
    alias of ``dim=``."""
    name = "select_scatter"
    dim = required_dim(name, dim, axis, index=index)
    x, src = _pair(input, src, name)
    if x.ndim == 0:
        raise IndexError(f"{name}: select() cannot be applied to a 0-dim tensor")
    axis = _dim(dim, x.ndim, name)
    i, size = int_arg(index, name, "index", one_element=True), x.shape[axis]
    if not -size <= i < size:
        raise IndexError(f"{name}: index {i} out of range for tensor of size {list(x.shape)} at dimension {axis}")
    _check_shape(name, src, x.shape[:axis] + x.shape[axis + 1:])
    return _EmbedAt(name, (slice(None),) * axis + (i % size,))(x, src)


def slice_scatter(input: Tensor, src: Tensor, dim: int = 0, start: int | None = None,  # noqa: A002
                  end: int | None = None, step: int = 1, *, axis: Any = NOT_GIVEN) -> Tensor:
    """A copy of ``input`` with ``src`` written at ``start:end:step`` along ``dim`` (torch.slice_scatter): src has
    input's shape but ``len(range(n)[start:end:step])`` along dim; differentiable in both. ``axis=`` is
    PyTorch's alias of ``dim=``."""
    name = "slice_scatter"
    dim = axis_alias(name, dim, axis, 0)
    x, src = _pair(input, src, name)
    axis = _dim(dim, x.ndim, name)
    step = int_arg(step, name, "step", one_element=True)
    if step <= 0:
        raise RuntimeError(f"{name}: slice step must be positive, got {step}")
    start = None if start is None else int_arg(start, name, "start", one_element=True)
    end = None if end is None else int_arg(end, name, "end", one_element=True)
    if x.ndim == 0:
        raise IndexError(f"{name}: slice() cannot be applied to a 0-dim tensor")
    key = (slice(None),) * axis + (slice(start, end, step),)
    _check_shape(name, src, x.shape[:axis] + (len(range(x.shape[axis])[key[-1]]),) + x.shape[axis + 1:])
    return _EmbedAt(name, key)(x, src)


def diagonal_scatter(input: Tensor, src: Tensor, offset: int = 0, dim1: int = 0, dim2: int = 1) -> Tensor:  # noqa: A002
    """A copy of ``input`` with ``src`` written on diagonal ``offset`` of dims ``dim1``, ``dim2``
    (torch.diagonal_scatter): src has ``input.diagonal(offset, dim1, dim2)``'s shape (the other dims, then the
    diagonal's length); differentiable in both."""
    name = "diagonal_scatter"
    x, src = _pair(input, src, name)
    a1, a2 = _dim(dim1, x.ndim, name), _dim(dim2, x.ndim, name)
    if x.ndim < 2:
        raise IndexError(f"{name}: expects a tensor with at least 2 dims, got shape {x.shape}")
    if a1 == a2:
        raise RuntimeError(f"{name}: diagonal dimensions cannot be identical {dim1}, {dim2}")
    offset = int_arg(offset, name, "offset")
    n = max(min(x.shape[a1] + min(offset, 0), x.shape[a2] - max(offset, 0)), 0)
    _check_shape(name, src, tuple(s for d, s in enumerate(x.shape) if d not in (a1, a2)) + (n,))
    return _EmbedDiagonal(offset, a1, a2, n)(x, src)


def as_strided_scatter(input: Tensor, src: Tensor, size: Any, stride: Any,  # noqa: A002
                       storage_offset: int | None = None) -> Tensor:
    """A copy of ``input`` with ``src`` (shape ``size``) written into ``output.as_strided(size, stride,
    storage_offset)`` (torch.as_strided_scatter). As PyTorch's, the output has input's strides and its own storage
    from offset 0, so places count in input's layout (a transposed input keeps its order); places the output does
    not cover are dropped. Differentiable in both."""
    name = "as_strided_scatter"
    x, src = _pair(input, src, name)
    size, stride = int_tuple(size, name, "size"), int_tuple(stride, name, "stride")
    if len(size) != len(stride):
        raise RuntimeError(f"{name}: mismatch in length of strides and shape: size {list(size)}, stride "
                           f"{list(stride)}")
    if any(n < 0 for n in size) or any(s < 0 for s in stride):
        raise RuntimeError(f"{name}: sizes and strides must be non-negative, got {list(size)} and {list(stride)}")
    offset = 0 if storage_offset is None else int_arg(storage_offset, name, "storage_offset", one_element=True)
    if offset < 0:
        raise RuntimeError(f"{name}: storage_offset must be non-negative, got {offset}")
    x_strides = x.stride()
    if any(s < 0 for s in x_strides) or _may_overlap(x.shape, x_strides):   # PyTorch's clone: a dense layout
        x_strides = tuple(math.prod(x.shape[d + 1:]) for d in range(x.ndim))
    storage = _span(x.shape, x_strides, 0)[1] if math.prod(x.shape) else 0
    _check_shape(name, src, size)
    if math.prod(size) and _span(size, stride, offset)[1] > storage:
        raise RuntimeError(f"{name}: size {list(size)}, stride {list(stride)} and storage offset {offset} are out "
                           f"of bounds for the output's storage of {storage} elements (input shape {x.shape})")
    if math.prod(size) and _may_overlap(size, stride):
        raise RuntimeError(f"{name}: more than one element of the written-to view refers to a single memory "
                           f"location (size {list(size)}, stride {list(stride)})")
    return _EmbedStrided(x_strides, storage, size, stride, offset)(x, src)


METHODS: dict = {name: globals()[name] for name in __all__}
