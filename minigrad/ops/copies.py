"""PyTorch's ``*_copy`` functions (``torch.permute_copy``, ``torch.view_copy`` …): the view op of the same name,
then a copy, so the result never shares memory with the input. Each is the view followed by :func:`clone`,
so its gradient is the view's.

Only the dense ones torch 2.13 has at its top level: its ``indices_copy``/``values_copy``/``crow_indices_copy``
… read sparse layouts and ``view_as_real_copy``/``view_as_complex_copy`` complex ones, which minigrad does not have.
"""

from __future__ import annotations

from typing import Any

from .. import backend
from ..memory_formats import contiguous_format
from ..outputs import write_out
from ..tensor import Tensor
from ._util import NOT_GIVEN, axis_alias, required_dim, tensor_arg
from .arrange import diagonal, select, split_with_sizes, unfold
from .extras import detach
from .join import split, unbind
from .shape import clone, expand, getitem, permute, reshape, squeeze, t, transpose, unsqueeze, view
from .strided import as_strided

__all__ = ["alias_copy", "as_strided_copy", "detach_copy", "diagonal_copy", "expand_copy", "permute_copy",
           "select_copy", "slice_copy", "split_copy", "split_with_sizes_copy", "squeeze_copy", "t_copy",
           "transpose_copy", "unbind_copy", "unfold_copy", "unsqueeze_copy", "view_copy"]


def _copied(name: str, view_op: Any, input: Any, *args: Any) -> Any:  # noqa: A002 - PyTorch's name
    """``view_op(input, *args)`` copied (each part of a tuple of views); errors name ``name``."""
    x = tensor_arg(input, name)
    try:
        out = view_op(x, *args)
    except (IndexError, TypeError, ValueError, RuntimeError) as error:
        raise backend.reworded(error, f"{name}: {error}") from error
    # C order whatever the view's strides: PyTorch's *_copy ops are view(...).clone(contiguous_format)
    if isinstance(out, (tuple, list)):
        return tuple(clone(part, memory_format=contiguous_format) for part in out)
    return clone(out, memory_format=contiguous_format)


def alias_copy(input: Tensor) -> Tensor:  # noqa: A002
    """torch.alias_copy: a copy of ``input`` (same shape, its own memory, C order), differentiable."""
    return _copied("alias_copy", lambda x: x, input)


def as_strided_copy(input: Tensor, size: Any, stride: Any, storage_offset: int | None = None) -> Tensor:  # noqa: A002
    """torch.as_strided_copy: ``input.as_strided(size, stride, storage_offset)`` copied; shape ``size``."""
    return _copied("as_strided_copy", as_strided, input, size, stride, storage_offset)


def detach_copy(input: Tensor) -> Tensor:  # noqa: A002
    """torch.detach_copy: a copy of ``input`` cut from the graph (no gradient flows through it)."""
    return _copied("detach_copy", detach, input)


def diagonal_copy(input: Tensor, offset: int = 0, dim1: int = 0, dim2: int = 1) -> Tensor:  # noqa: A002
    """torch.diagonal_copy: ``input.diagonal(offset, dim1, dim2)`` copied (the other dims, then the diagonal)."""
    return _copied("diagonal_copy", diagonal, input, offset, dim1, dim2)


def expand_copy(input: Tensor, size: Any, *, implicit: bool = False) -> Tensor:  # noqa: A002
    """torch.expand_copy: ``input.expand(size)`` copied (-1 keeps a dim); shape ``size``. ``implicit`` changes
    nothing (PyTorch's flag for its tracer)."""
    return _copied("expand_copy", lambda x: expand(x, size=tuple(size) if isinstance(size, list) else size), input)


def permute_copy(input: Tensor, dims: Any) -> Tensor:  # noqa: A002
    """torch.permute_copy: ``input.permute(dims)`` copied."""
    return _copied("permute_copy", lambda x: permute(x, dims=dims), input)


def select_copy(input: Tensor, dim: int = NOT_GIVEN, index: int = NOT_GIVEN, *,  # noqa: A002
                axis: Any = NOT_GIVEN) -> Tensor:
    """torch.select_copy: ``input.select(dim, index)`` copied (that dim removed). ``axis=`` is
    PyTorch's alias of ``dim=``."""
    dim = required_dim("select_copy", dim, axis, index=index)
    return _copied("select_copy", select, input, dim, index)


def _slice(x: Tensor, dim: int, start: int | None, end: int | None, step: int) -> Tensor:
    if x.ndim == 0:
        raise IndexError("slice() cannot be applied to a 0-dim tensor")
    if step <= 0:
        raise ValueError(f"slice step must be positive, got {step}")
    axis = dim % x.ndim if -x.ndim <= dim < x.ndim else dim
    if not 0 <= axis < x.ndim:
        raise IndexError(f"dim {dim} is out of range for a tensor with {x.ndim} dims (shape {x.shape})")
    return getitem(x, (slice(None),) * axis + (slice(start, end, step),))


def slice_copy(input: Tensor, dim: int = 0, start: int | None = None, end: int | None = None,  # noqa: A002
               step: int = 1, *, axis: Any = NOT_GIVEN) -> Tensor:
    """torch.slice_copy: ``input[start:end:step]`` along ``dim``, copied; the shape is input's with ``dim``'s
    length that of ``range(start, end, step)`` (clipped to the dim). ``axis=`` is PyTorch's alias of ``dim=``."""
    dim = axis_alias("slice_copy", dim, axis, 0)
    return _copied("slice_copy", _slice, input, dim, start, end, step)


def _pieces_out(name: str, pieces: tuple, out: Any) -> None:
    """PyTorch's ``out=`` of a ``*_copy`` giving several pieces: ``out`` (a list or tuple of as many tensors, each
    of its piece's dtype) gets each piece, resized as ``write_out`` resizes, and None is returned."""
    if not isinstance(out, (list, tuple)):
        raise TypeError(f"{name}(): argument 'out' must be tuple of Tensors, not {type(out).__name__}")
    if len(out) != len(pieces):
        raise RuntimeError(f"{name}(): expected an out= argument of size {len(pieces)}, got size {len(out)}")
    for piece, target in zip(pieces, out):   # detached: PyTorch's takes an input that requires grad
        write_out(name, piece.detach(), target, "exact")
    return None


def split_copy(input: Tensor, split_size: Any, dim: int = 0, *, out: Any = None,  # noqa: A002
               axis: Any = NOT_GIVEN) -> tuple | None:
    """torch.split_copy: ``input.split(split_size, dim)``, each part copied; a tuple (with ``out=``, a list of
    tensors: each part written into one, None returned). ``axis=`` is PyTorch's alias of ``dim=``."""
    dim = axis_alias("split_copy", dim, axis, 0)
    pieces = _copied("split_copy", split, input, split_size, dim)
    return pieces if out is None else _pieces_out("split_copy", pieces, out)


def split_with_sizes_copy(input: Tensor, split_sizes: Any, dim: int = 0, *,  # noqa: A002
                          out: Any = None, axis: Any = NOT_GIVEN) -> tuple | None:
    """torch.split_with_sizes_copy: ``input.split_with_sizes(split_sizes, dim)``, each part copied; a tuple (with
    ``out=``, a list of tensors: each part written into one, None returned).
    ``axis=`` is PyTorch's alias of ``dim=``."""
    dim = axis_alias("split_with_sizes_copy", dim, axis, 0)
    pieces = _copied("split_with_sizes_copy", split_with_sizes, input, split_sizes, dim)
    return pieces if out is None else _pieces_out("split_with_sizes_copy", pieces, out)


def squeeze_copy(input: Tensor, dim: Any = NOT_GIVEN, *, axis: Any = NOT_GIVEN) -> Tensor:  # noqa: A002
    """torch.squeeze_copy: ``input.squeeze(dim)`` copied (every length-1 dim when ``dim`` is left out; None is
    PyTorch's TypeError). ``axis=`` is PyTorch's alias of ``dim=`` (a dim whose length is not 1 is left, as
    PyTorch's)."""
    dim = axis_alias("squeeze_copy", dim, axis, NOT_GIVEN)
    return _copied("squeeze_copy", squeeze, input, dim)


def t_copy(input: Tensor) -> Tensor:  # noqa: A002
    """torch.t_copy: ``input.t()`` copied (a 2-D input transposed; fewer dims unchanged)."""
    return _copied("t_copy", t, input)


def transpose_copy(input: Tensor, dim0: int, dim1: int) -> Tensor:  # noqa: A002
    """torch.transpose_copy: ``input.transpose(dim0, dim1)`` copied."""
    return _copied("transpose_copy", lambda x: transpose(x, dim0=dim0, dim1=dim1), input)


def unbind_copy(input: Tensor, dim: int = 0, *, out: Any = None, axis: Any = NOT_GIVEN) -> tuple | None:  # noqa: A002
    """torch.unbind_copy: ``input.unbind(dim)``, each slice copied; a tuple (with ``out=``, a list of tensors: each
    slice written into one, None returned). ``axis=`` is PyTorch's alias of ``dim=``."""
    dim = axis_alias("unbind_copy", dim, axis, 0)
    pieces = _copied("unbind_copy", unbind, input, dim)
    return pieces if out is None else _pieces_out("unbind_copy", pieces, out)


def unfold_copy(input: Tensor, dimension: int, size: int, step: int) -> Tensor:  # noqa: A002
    """torch.unfold_copy: ``input.unfold(dimension, size, step)`` copied: (…, windows, …, size)."""
    return _copied("unfold_copy", unfold, input, dimension, size, step)


def unsqueeze_copy(input: Tensor, dim: int = NOT_GIVEN, *, axis: Any = NOT_GIVEN) -> Tensor:  # noqa: A002
    """torch.unsqueeze_copy: ``input.unsqueeze(dim)`` copied. ``axis=`` is PyTorch's alias of ``dim=``."""
    dim = required_dim("unsqueeze_copy", dim, axis)
    return _copied("unsqueeze_copy", unsqueeze, input, dim)


def view_copy(input: Tensor, size: Any = None, *, dtype: Any = None) -> Tensor:  # noqa: A002
    """torch.view_copy: ``input.view(size)`` (a shape, -1 inferred) or ``input.view(dtype)`` copied. A copy needs
    no view, so a shape works on any layout, as PyTorch's (``input.reshape(size)``)."""
    if (size is None) == (dtype is None):
        raise TypeError("view_copy: give a size or a dtype (one of them)")
    if dtype is not None:
        size = dtype
    is_shape = isinstance(size, (tuple, list)) or (hasattr(size, "__index__") and not isinstance(size, bool))
    return _copied("view_copy", lambda x: reshape(x, size) if is_shape else view(x, dtype=size), input)
