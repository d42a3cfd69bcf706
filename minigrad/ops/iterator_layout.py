"""The layout PyTorch's TensorIterator gives a new result: which dim varies fastest in memory.

PyTorch allocates the output of an elementwise op, a comparison or an advanced index from the strides of its
operands (``TensorIteratorBase::reorder_dimensions``): dims are sorted by stride, the first operand with a strict
order deciding, broadcast (stride 0) dims deciding nothing. NumPy's ``order="K"`` is a similar but not equal rule,
so a result of mixed-layout operands can have other strides than PyTorch's (``.view(-1)`` then raises in one and
not the other). :func:`torch_strides` computes PyTorch's; :func:`lay_out_as_torch` copies a result into them.
"""

from __future__ import annotations

from typing import Any, Sequence

from .. import backend
from ..memory_formats import new_in_order


def _order(shape: Sequence[int], operands: Sequence[Sequence[int]]) -> list:
    """The dims of ``shape`` from fastest to slowest varying, as TensorIterator's insertion sort orders them.
    ``operands``: each operand's strides (bytes or elements, all in one unit per operand) over ``shape``, 0 where
    it is broadcast."""
    ndim = len(shape)
    perm = list(range(ndim - 1, -1, -1))   # C order reversed: the last dim first

    def should_swap(dim0: int, dim1: int) -> int:
        for strides in operands:
            s0, s1 = strides[dim0], strides[dim1]
            if s0 == 0 or s1 == 0:
                continue
            if s0 < s1:
                return -1
            if s0 > s1:
                return 1
            if shape[dim0] > shape[dim1]:
                return 1
        return 0

    return insertion_sort(perm, should_swap)


def insertion_sort(perm: list, should_swap: Any) -> list:
    """``perm`` (dims) sorted in place by PyTorch's insertion sort of dims, and returned: each dim moves towards the
    front while ``should_swap(earlier, dim)`` is positive, and stops at the first negative answer (0 skips a pair
    without stopping, as for a broadcast dim)."""
    for i in range(1, len(perm)):
        dim1 = i
        for dim0 in range(i - 1, -1, -1):
            comparison = should_swap(perm[dim0], perm[dim1])
            if comparison > 0:
                perm[dim0], perm[dim1] = perm[dim1], perm[dim0]
                dim1 = dim0
            elif comparison < 0:
                break
    return perm


def torch_strides(shape: Sequence[int], operands: Sequence[Sequence[int]], same_shape: bool = True) -> tuple:
    """PyTorch's element strides for a new result of ``shape`` computed from ``operands`` (each one's strides over
    ``shape``; 0 for a broadcast dim or one of size 1 in the operand and not in ``shape``). A size-1 dim of both
    keeps its stride, as in PyTorch: it takes part in the order (and so can change that of the other dims).
    ``same_shape=False``: the op had other operands too (a Python number, a 0-d tensor), so PyTorch's fast setup
    (operands of one shape and one layout) is not taken even where the arrays share their strides."""
    shape = tuple(shape)
    operands = [tuple(strides) for strides in operands]
    if same_shape and len(operands) > 1 and all(s == operands[0] for s in operands) and _dense(shape, operands[0]):
        return _dense_strides(shape, operands[0])   # TensorIterator's fast setup: the operands' own layout
    strides = [0] * len(shape)
    step = 1
    for d in _order(shape, operands):
        strides[d] = step
        step *= shape[d]
    return tuple(strides)


def _dense(shape: tuple, strides: tuple) -> bool:
    """Whether ``strides`` lay out ``shape`` without gaps or overlaps (size-1 dims ignored)."""
    dims = sorted((abs(s), n) for s, n in zip(strides, shape) if n != 1)
    step = 1
    for s, n in dims:
        if s != step:
            return False
        step *= n
    return True


def _dense_strides(shape: tuple, strides: tuple) -> tuple:
    """``strides`` (dense) with each size-1 dim given PyTorch's stride: that of the next dim times its size."""
    out = list(strides)
    for d in range(len(shape) - 1, -1, -1):
        if shape[d] == 1:
            out[d] = 1 if d == len(shape) - 1 else out[d + 1] * shape[d + 1]
    return tuple(out)


def strides_over(array: Any, shape: tuple) -> list:
    """``array``'s element strides over ``shape``, which it broadcasts to (0 for a broadcast dim): an operand of
    :func:`torch_strides`."""
    lead = len(shape) - array.ndim
    return [0] * lead + [0 if n == 1 and shape[lead + d] != 1 else s // array.itemsize
                         for d, (n, s) in enumerate(zip(array.shape, array.strides))]


def elementwise_layout(xp: Any, result: Any, operands: Sequence[Any]) -> Any:
    """``result``, computed by NumPy or CuPy from ``operands`` (arrays or Python numbers, in the op's argument
    order), in PyTorch's layout for an elementwise op (TensorIterator's): itself when it has it, else a copy.
    Where every array operand's strides are in C order both libraries give C order (checked first); with mixed
    layouts PyTorch's first operand with an order decides, where NumPy's order "K" falls back to C order
    (``x.t() + y`` is transposed in PyTorch, so its ``.view(-1)`` raises there), and a broadcast operand's dims
    are ordered otherwise (``x.t() * y[None]``)."""
    try:
        if result.ndim < 2:
            return result
        c_order = result.flags.c_contiguous
    except AttributeError:   # cupy.fuse's proxies while it traces (a fused group has one shape): no layout
        return result
    if c_order:   # each operand's strides in C order (C-contiguous, a slice of rows): PyTorch's result is C order
        for v in operands:
            strides = getattr(v, "strides", None)
            if strides and list(strides) != sorted(strides, reverse=True):
                break
        else:
            return result
    arrays = [v for v in operands if getattr(v, "ndim", 0)]
    return lay_out_as_torch(xp, result, [strides_over(v, result.shape) for v in arrays], len(arrays) == len(operands))


def gradient_layout(xp: Any, gradient: Any, first: Any, second: Any) -> Any:
    """``gradient``, an elementwise op's input gradient computed by NumPy or CuPy from the incoming gradient and
    the op's input (or result), in the layout of PyTorch's backward kernel, a TensorIterator over ``first`` then
    ``second`` (most formulas: the incoming gradient first, ``grad * f'(x)``; erf's and a few others': f'(x)
    first). Itself when all three share their strides (the usual case, one comparison), else as
    :func:`elementwise_layout` lays it out: an incoming gradient given transposed to ``autograd.grad`` makes a
    C-order input's gradient transposed, as PyTorch's (NumPy's order "K" gave C order where the two disagree)."""
    if gradient.strides == first.strides == second.strides:
        return gradient
    return elementwise_layout(xp, gradient, (first, second))


def lay_out_as_torch(xp: Any, result: Any, operands: Sequence[Sequence[int]], same_shape: bool = True) -> Any:
    """``result`` (an array) itself when its strides already are PyTorch's for these ``operands``, else a copy in
    PyTorch's layout (a permuted dense array). Where only size-1 dims' strides differ (they step over no memory),
    a NumPy result is restrided to PyTorch's, a GPU one kept. A NumPy copy owns its memory (no ``base``: in-place
    ops refuse a view of memory they cannot tell is the result's own; PyTorch's result is an ordinary tensor)."""
    shape = result.shape
    want = torch_strides(shape, operands, same_shape)
    have = tuple(s // result.itemsize for s in result.strides)
    if result.size <= 1 or want == have:
        return result
    if xp is backend.numpy:   # an array of its own with PyTorch's strides (NumPy's constructor takes them)
        out = xp.ndarray(shape, result.dtype, strides=tuple(s * result.itemsize for s in want))
        out[...] = result
        return out
    if all(a == b for a, b, n in zip(want, have, shape) if n != 1):
        return result
    order = sorted(range(len(shape)), key=lambda d: (-want[d], shape[d] == 1))   # slowest first (size 1: faster)
    out = new_in_order(xp, shape, result.dtype, tuple(order))   # (memory of its own, as the NumPy copy above)
    out[...] = result
    return out
