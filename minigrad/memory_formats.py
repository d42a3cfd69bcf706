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


def suggest(shape: tuple, strides: tuple) -> memory_format:
    """PyTorch's ``suggest_memory_format`` of an array with this ``shape`` and ``strides``: ``channels_last``
    (``channels_last_3d``) when 4-D (5-D) with channels-last-like strides (its ``is_channels_last_strides_2d``:
    in the order C, W, H (D), N from innermost, each stride at least the one before times its size; ambiguous
    cases, as an (N, 1, 1, 1) array, are NCHW), else ``contiguous_format``. ``cat`` and ``roll`` lay their
    results out by it."""
    fmt = {4: channels_last, 5: channels_last_3d}.get(len(shape))
    if fmt is None or strides[1] == 0:
        return contiguous_format
    smallest = 0
    for dim in reversed(_ORDER[fmt]):   # innermost first: C, then W, H (D), then N
        if shape[dim] == 0 or strides[dim] < smallest or (dim == 0 and smallest == strides[1]):
            return contiguous_format
        smallest = strides[dim] * shape[dim] if shape[dim] > 1 else strides[dim]
    return fmt


def suggests_c_order(array: Any) -> bool:
    """A quick sufficient test that :func:`suggest` gives ``contiguous_format``: a C-contiguous array without size-1
    dims (NumPy's C-contiguous flag ignores those dims' strides, and by PyTorch's rule a (N, 1, H, W) array with
    channels-last strides, C-contiguous too, is channels-last)."""
    return bool(array.flags.c_contiguous) and 1 not in array.shape


def common(layouts: Any) -> memory_format:
    """The memory format of PyTorch's ``cat`` of arrays with these ``(shape, strides)``: their :func:`suggest`
    when they all agree, else ``contiguous_format``."""
    formats = {suggest(shape, strides) for shape, strides in layouts}
    return formats.pop() if len(formats) == 1 else contiguous_format


def in_format(array: Any, fmt: memory_format, where: str) -> Any:
    """``array`` (one the caller owns) laid out densely in ``fmt`` (C order or a channels-last format) with
    PyTorch's strides, a size-1 dim's too (NumPy's results may give those any stride): itself when it already
    is, else a copy."""
    if array.size == 0 or (fmt is contiguous_format and suggests_c_order(array)) \
            or array.strides == dense_strides(array.shape, fmt, array.itemsize):   # (the first: one flags check)
        return array
    out = new_in_order(backend.array_module(array), array.shape, array.dtype,
                       _ORDER.get(fmt, tuple(range(array.ndim))))   # fresh: exact strides
    out[...] = array
    return out


def new_in_order(xp: Any, shape: tuple, dtype: Any, order: tuple) -> Any:
    """A new uninitialised array of ``shape`` laid out densely with its dims in ``order`` (outermost first; a
    size-1 dim's stride the product of the sizes inside it, as PyTorch's), owning its memory: a transposed view
    of a new array has a ``base``, and in-place ops refuse a view of memory they cannot tell is the result's own
    (PyTorch's result is an ordinary tensor). NumPy's constructor takes the strides; CuPy's only with memory
    given, so there order "K" copies the layout of a transposed new array."""
    if xp is backend.numpy:
        strides, step = [0] * len(shape), backend.numpy.dtype(dtype).itemsize
        for dim in reversed(order):
            strides[dim] = step
            step *= max(shape[dim], 1)
        return xp.ndarray(shape, dtype, strides=tuple(strides))
    inverse = tuple(sorted(range(len(order)), key=order.__getitem__))
    return xp.empty_like(xp.empty(tuple(shape[d] for d in order), dtype=dtype).transpose(inverse), order="K")


def dense_strides(shape: tuple, fmt: memory_format, itemsize: int) -> tuple:
    """The strides (in bytes) of a dense array of ``shape`` laid out in ``fmt`` (C order or a channels-last
    format)."""
    order = _ORDER.get(fmt, tuple(range(len(shape))))
    strides = [0] * len(shape)
    step = itemsize
    for dim in reversed(order):
        strides[dim] = step
        step *= max(shape[dim], 1)
    return tuple(strides)


def _stride_order(array: Any) -> tuple | None:
    """The dims of ``array`` from outermost to innermost, ordered by stride as PyTorch's ``preserve_format``
    orders them (its ``infer_dense_strides``: a 0 stride or a tie of sizes leaves two dims as they are), when
    that is not C order (a transposed, permuted or channels-last array, or a slice of one); else None."""
    if array.flags.c_contiguous or array.size == 0 or min(array.strides, default=0) < 0:
        return None
    strides, shape = list(array.strides), array.shape
    for dim in reversed(range(array.ndim)):   # a size-1 dim's stride as PyTorch's unsqueeze gives it (NumPy: any)
        if shape[dim] == 1:
            strides[dim] = array.itemsize if dim == array.ndim - 1 else strides[dim + 1] * shape[dim + 1]
    order = tuple(reversed(_dense_order(shape, strides)))
    return None if order == tuple(range(array.ndim)) else order


def _dense_order(shape: tuple, strides: Any) -> list:
    """The dims from innermost to outermost as PyTorch's ``infer_dense_strides`` sorts them (an insertion sort by
    stride from C order: a pair with a 0 stride, or of equal strides where the inner dim is not the longer, is
    skipped without ending the dim's move, as a smaller stride outside ends it)."""
    perm = list(reversed(range(len(shape))))
    for i in range(1, len(perm)):
        later = i
        for earlier in range(i - 1, -1, -1):
            a, b = perm[earlier], perm[later]
            if strides[a] == 0 or strides[b] == 0:
                continue
            if strides[a] < strides[b]:
                break
            if strides[a] > strides[b] or shape[a] > shape[b]:
                perm[earlier], perm[later] = b, a
                later = earlier
    return perm


def _dense(shape: tuple, strides: tuple) -> bool:
    """PyTorch's ``is_non_overlapping_and_dense`` (strides in elements): the dims of size 2 or more, from the
    smallest stride, each step the product of the sizes inside it (a size-1 dim's stride does not matter)."""
    expected = 1
    for dim in sorted((d for d in range(len(shape)) if shape[d] > 1), key=strides.__getitem__):
        if strides[dim] != expected:
            return False
        expected *= shape[dim]
    return True


def _preserved_strides(like: Any) -> tuple | None:
    """The strides (in elements) PyTorch's ``preserve_format`` gives a copy of ``like`` (``clone``, ``empty_like``,
    ``.to``): ``like``'s own when its elements are dense and do not overlap (a size-1 dim's too), else its
    ``infer_dense_strides`` (the dims sorted by stride as :func:`_stride_order` sorts them, a size-1 dim given the
    stride of the dims inside it); None where that is C order (or ``like`` is empty or has a negative stride)."""
    if like.size == 0 or (like.flags.c_contiguous and 1 not in like.shape) or min(like.strides, default=0) < 0:
        return None
    shape, itemsize = like.shape, like.itemsize
    if like.flags.c_contiguous:   # dense: its own strides, unless a size-1 dim's differ from C order's
        step = itemsize
        for size, stride in zip(reversed(shape), reversed(like.strides)):
            if stride != step:
                return tuple(s // itemsize for s in like.strides)
            step *= size
        return None
    strides = tuple(s // itemsize for s in like.strides)
    if not _dense(shape, strides):
        dense, step = [0] * like.ndim, 1
        for dim in _dense_order(shape, strides):
            dense[dim] = step
            step *= shape[dim]
        strides = tuple(dense)
    return None if strides == dense_strides(shape, contiguous_format, 1) else strides


def _with_strides(array: Any, strides: tuple) -> Any:
    """A copy of host ``array`` in new memory with these ``strides`` (in elements, dense: see :func:`_dense`);
    None for a GPU array (the caller lays out the order of dims instead: size-1 dims get C order's strides)."""
    numpy = backend.numpy
    if type(array) is not numpy.ndarray:
        return None
    out = numpy.ndarray(array.shape, array.dtype, strides=tuple(s * array.itemsize for s in strides))   # (owned)
    out[...] = array
    return out


def lay_out(array: Any, fmt: Any, where: str, like: Any = None) -> Any:
    """``array`` (a new array the caller owns) in format ``fmt``; ``preserve_format`` takes ``like``'s layout,
    as PyTorch's: its strides when its elements are dense and do not overlap (a transposed or channels-last one,
    size-1 dims' strides too), else dense strides in its order of strides (:func:`_preserved_strides`).
    ``None`` changes nothing."""
    fmt = check(fmt, where)
    if fmt is None or fmt is contiguous_format:
        return array
    if fmt is preserve_format:
        strides = None if like is None or like.shape != array.shape else _preserved_strides(like)
        if strides is None:
            return array
        if array.strides == tuple(s * array.itemsize for s in strides):
            return array
        copy = _with_strides(array, strides)
        if copy is not None:
            return copy
        order = _stride_order(like)
        if order is None:
            return array
    else:   # PyTorch's strides, a size-1 dim's too (NumPy's ascontiguousarray would keep a C-contiguous (N, 1, H, W)
        _rank(array, fmt, where)   # array as it is: x[:, :1].contiguous(memory_format=channels_last) then stacks
        return in_format(array, fmt, where)   # or cats as PyTorch's does)
    out = new_in_order(backend.array_module(array), array.shape, array.dtype, order)
    out[...] = array
    return out


def relayout(tensor: Any, fmt: Any, where: str, like: Any = None) -> Any:
    """A tensor just made (a leaf its caller owns) laid out in ``fmt`` (see :func:`lay_out`); returned.
    Made like another (the ``*_like`` constructors), no ``fmt`` means ``preserve_format``, PyTorch's default
    there: a transposed input gives a transposed result, as NumPy's ``zeros_like`` does too."""
    if fmt is None and like is not None:
        fmt = preserve_format
    if fmt is not None:
        tensor.data = lay_out(tensor.data, fmt, where, None if like is None else like.data)
        if getattr(tensor.data, "base", None) is not None:   # a permuted view of memory its own (as fresh_memory)
            tensor._view = ()   # so in-place ops write it, as PyTorch's (ops/inplace.py refuses untracked views)
    return tensor
