"""Memory formats, as PyTorch's ``torch.memory_format``: how a 4-D/5-D array's elements lie in memory.

    state["exp_avg"] = mg.zeros_like(p, memory_format=mg.preserve_format)   # PyTorch's optimizers' habit
    x = x.contiguous(memory_format=mg.channels_last)                         # NHWC strides, same values

A format never changes a value, only the strides (``x.stride()``) and what ``is_contiguous``
answers. ``channels_last`` lays an (N, C, H, W) array out as NumPy's
``ascontiguousarray(a.transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2)``; NumPy's ufuncs keep such a
layout (their ``order="K"``), as PyTorch's elementwise ops keep it.
"""

from __future__ import annotations

from typing import Any

from . import backend

__all__ = ["channels_last", "channels_last_3d", "contiguous_format", "memory_format", "preserve_format"]


class memory_format:  # noqa: N801 - PyTorch's name
    """One of PyTorch's memory formats (the four module constants are the only instances)."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return f"minigrad.{self.name}"

    def __reduce__(self) -> str:
        return self.name   # the module constant, by name


contiguous_format = memory_format("contiguous_format")
preserve_format = memory_format("preserve_format")
channels_last = memory_format("channels_last")
channels_last_3d = memory_format("channels_last_3d")

# the dims in memory order, outermost first, for the channels-last formats
_ORDER = {channels_last: (0, 2, 3, 1), channels_last_3d: (0, 2, 3, 4, 1)}


def check(fmt: Any, where: str) -> memory_format | None:
    """``fmt`` if it is a memory format (or None); else PyTorch's TypeError naming ``where``."""
    if fmt is None or isinstance(fmt, memory_format):
        return fmt
    raise TypeError(f"{where}(): argument 'memory_format' must be minigrad.memory_format, not {type(fmt).__name__}")


def _rank(array: Any, fmt: memory_format, where: str) -> tuple:
    order = _ORDER[fmt]
    if array.ndim != len(order):
        raise RuntimeError(f"{where}: required rank {len(order)} tensor to use {fmt.name} format "
                           f"(got shape {tuple(array.shape)})")
    return order


def is_contiguous_as(array: Any, fmt: Any, where: str = "is_contiguous") -> bool:
    """Whether ``array``'s strides are ``fmt``'s dense layout (size-1 dims ignored, as PyTorch ignores them)."""
    fmt = check(fmt, where)
    if fmt not in _ORDER:
        return bool(array.flags.c_contiguous)
    order = _ORDER[fmt]
    if array.ndim != len(order):
        return False
    expected = array.itemsize
    for dim in reversed(order):   # innermost first
        size = array.shape[dim]
        if size != 1:
            if array.strides[dim] != expected:
                return False
            expected *= size
    return True


def lay_out(array: Any, fmt: Any, where: str, like: Any = None) -> Any:
    """``array`` (a new array the caller owns) in format ``fmt``; ``preserve_format`` takes ``like``'s layout
    when ``like`` is channels-last (else the array stays C-ordered). ``None`` changes nothing."""
    fmt = check(fmt, where)
    if fmt is None or fmt is contiguous_format:
        return array
    if fmt is preserve_format:
        fmt = next((f for f in _ORDER if like is not None and like.ndim == len(_ORDER[f])
                    and not like.flags.c_contiguous and is_contiguous_as(like, f)), None)
        if fmt is None:
            return array
    order = _rank(array, fmt, where)
    inverse = tuple(sorted(range(len(order)), key=order.__getitem__))
    return backend.array_module(array).ascontiguousarray(array.transpose(order)).transpose(inverse)


def relayout(tensor: Any, fmt: Any, where: str, like: Any = None) -> Any:
    """A tensor just made (a leaf its caller owns) laid out in ``fmt`` (see :func:`lay_out`); returned."""
    if fmt is not None:
        tensor.data = lay_out(tensor.data, fmt, where, None if like is None else like.data)
    return tensor
