"""Ops that join tensors or take one apart: cat/concat, stack, split, chunk, unbind.

Each part-producing op is one graph node with several outputs, so its
backward builds one gradient array instead of one per part.
"""

from __future__ import annotations

from typing import Any, Sequence

from .. import backend
from .. import memory_formats as _memory_format
from ..autograd import AxisError, Function
from ..autograd.names import spelled
from ..outputs import write_out
from ..recording import is_recording
from ..tensor import Tensor
from ._util import (
    NOT_GIVEN,
    ShapeMismatchError,
    dim_or_axis,
    int_arg,
    int_tuple,
    one_axis,
    one_dim_or_axis,
    one_of,
    tensor_arg,
)
from .shape import NO_GRAD_VIEW, _at_slice_starts, _note_view, made_under_no_grad


class EmptyTensorListError(TypeError, ValueError, RuntimeError):
    """cat/stack of no tensors: TypeError here, ValueError in torch.cat, RuntimeError in torch.stack."""


class Concat(Function):
    complex_grad = True   # complex values: see autograd.engine._complex_gate

    def __init__(self, axis: int) -> None:
        self.axis = axis

    def forward(self, *xs: Any) -> Any:
        self.sizes = [x.shape[self.axis] for x in xs]
        out = self.xp.concatenate(xs, axis=self.axis)
        if out.flags.c_contiguous and (out.ndim not in (4, 5) or _memory_format.suggests_c_order(xs[0])):
            return out   # only 4-D and 5-D arrays have a channels-last, and a C-order input suggests none
        # PyTorch's layout: channels-last when every input suggests it, else C order (NumPy's keeps a transposed
        # input's order of strides; CuPy's is always C order, also where PyTorch's is channels-last)
        return _memory_format.in_format(out, _memory_format.common((x.shape, x.strides) for x in xs), "cat")

    def backward(self, gy: Any) -> tuple:
        points, total = [], 0
        for size in self.sizes[:-1]:
            total += size
            points.append(total)
        return tuple(self.xp.split(gy, points, axis=self.axis))


class Stack(Function):
    complex_grad = True   # complex values: see autograd.engine._complex_gate

    def __init__(self, axis: int) -> None:
        self.axis = axis

    def forward(self, *xs: Any) -> Any:
        out = self.xp.stack(xs, axis=self.axis)
        # as Concat's: a 4-D to 6-D result may be channels-last (from the inputs', or from the inputs with the
        # new dim last), where CuPy's stack is always C order
        if out.flags.c_contiguous and (out.ndim not in (4, 5, 6) or _memory_format.suggests_c_order(xs[0])):
            return out
        # PyTorch's layout: its stack is cat(xs, dim).view(...) for a dim the inputs have, else a cat of the inputs
        # unsqueezed at the end (the new dim's stride 1), so a channels-last result only from channels-last inputs
        if self.axis < xs[0].ndim:
            fmt = _memory_format.common((x.shape, x.strides) for x in xs)
            if fmt is _memory_format.contiguous_format:
                return self.xp.ascontiguousarray(out)
            joined = self.xp.concatenate(xs, axis=self.axis)
            return _memory_format.in_format(joined, fmt, "stack").reshape(out.shape)   # splitting a dim: a view
        ends = ((x.shape + (1,), x.strides + (x.itemsize,)) for x in xs)
        return _memory_format.in_format(out, _memory_format.common(ends), "stack")

    def backward(self, gy: Any) -> tuple:
        return tuple(self.xp.moveaxis(gy, self.axis, 0))


class Split(Function):
    """Split along ``axis`` at ``points`` into several outputs (one node), as ``numpy.split``.

    Part i is ``x[points[i-1]:points[i]]`` along the axis, with Python's slice
    rules, so points may be negative, past the end or out of order as in NumPy.
    """

    complex_grad = True   # complex values: see autograd.engine._complex_gate

    multiple = True
    gated_inside = True   # its outputs are in its input's dtype (autograd.engine._shared_meta)

    def __init__(self, points: list, axis: int, n_outputs: int) -> None:
        self.points, self.axis, self.n_outputs = points, axis, n_outputs
        # the usual case (every chunk and torch-style split): sorted points from 0 up, so the parts
        # tile the input in order if the last point is inside the axis; worked out once, not per backward
        self.sorted_end = max(points, default=0) if points == sorted(points) and min(points, default=0) >= 0 \
            else None
        # basic slices with the raw points, exactly as numpy.split takes them (the last part runs to the
        # end); made once here, not per forward: a recurrent step splits its gates every step
        before = (slice(None),) * axis
        self.indices = [before + (slice(lo, hi),) for lo, hi in zip([0, *points], [*points, None])]
        # a part the points alone may leave empty (split sizes with a 0, points out of order): see forward
        self.empty_part = self.sorted_end is None or 0 in points or len(set(points)) < len(points)

    def forward(self, x: Any) -> Any:
        self.in_shape = x.shape
        parts = tuple([x[index] for index in self.indices])   # views of x
        # a part may be empty (the last one if the points reach the end): it must start where PyTorch's does
        if self.empty_part or self.sorted_end >= x.shape[self.axis]:
            parts = tuple([part if part.size else _at_slice_starts(x, index, part)
                           for part, index in zip(parts, self.indices)])
        return parts

    def backward(self, *grads: Any) -> Any:
        xp = self.xp
        size = self.in_shape[self.axis]
        if self.sorted_end is not None and self.sorted_end <= size:
            for g in grads:   # a plain loop: the cheapest "all parts have a gradient" on this hot path
                if g is None:
                    break
            else:   # the parts tile the input in order
                return xp.concatenate(grads, axis=self.axis)
        points = self.points
        bounds = [0, *points, size]
        spans = [slice(*slice(lo, hi).indices(size)[:2]) for lo, hi in zip(bounds, bounds[1:])]
        # negative points may tile too
        tiled = all(b.start == a.stop for a, b in zip(spans, spans[1:])) and all(s.start <= s.stop for s in spans)
        if tiled and all(g is not None for g in grads):
            return xp.concatenate(grads, axis=self.axis)
        dtype = next(g for g in grads if g is not None).dtype
        gx = xp.zeros(self.in_shape, dtype=dtype)
        index = [slice(None)] * len(self.in_shape)
        for span, g in zip(spans, grads):
            if g is not None:
                index[self.axis] = span
                gx[tuple(index)] += g   # parts may overlap when the points are out of order
        return gx


class Unbind(Function):
    """The slices x[i] along ``axis`` as separate outputs of one node.

    A recurrent layer uses this to read each time step: its backward builds
    one gradient array instead of one full-size array per step.
    """

    complex_grad = True   # complex values: see autograd.engine._complex_gate

    multiple = True
    gated_inside = True   # its outputs are in its input's dtype (autograd.engine._shared_meta)

    def __init__(self, axis: int, n_outputs: int) -> None:
        self.axis, self.n_outputs = axis, n_outputs

    def forward(self, x: Any) -> Any:
        self.in_shape, self.in_dtype = x.shape, x.dtype
        moved = self.xp.moveaxis(x, self.axis, 0)
        return tuple(moved[i, ...] for i in range(len(moved)))   # [i, ...]: a 0-d array, never a NumPy scalar

    def backward(self, *grads: Any) -> Any:
        xp = self.xp
        # every slice written (a recurrent layer's usual case): no zero-filling pass first
        whole = all(g is not None for g in grads)
        gx = (xp.empty if whole else xp.zeros)(self.in_shape, dtype=self.in_dtype)
        view = xp.moveaxis(gx, self.axis, 0)
        for i, g in enumerate(grads):
            if g is not None:
                view[i] = g
        return gx


class _PartOf(Function):
    """Part ``index`` of a split, chunk or unbind of x (``x[index]``, a view). Each part is recorded as a view
    of x made by this op, so that an in-place change of x re-points the parts' graphs (ops/inplace.py reads
    them again through this op; without it a part used after the change had x's new values but the old
    graph: silently wrong gradients). An in-place op on a part itself is refused while recording, as
    PyTorch refuses it for the outputs of a function that returns several views."""

    complex_grad = True   # complex values: see autograd.engine._complex_gate
    view_args = ("index", "name")   # __init__'s, for ops/inplace.py's re-read

    def __init__(self, index: tuple, name: str) -> None:
        self.index, self.name = index, name

    def forward(self, x: Any) -> Any:
        self.in_shape = x.shape
        return x[self.index]

    def backward(self, gy: Any) -> Any:
        gx = self.xp.zeros(self.in_shape, dtype=gy.dtype)
        gx[self.index] = gy
        return gx

    def scatter(self, *_: Any) -> Any:   # ops/inplace.py's write-through of an in-place op on the part
        raise RuntimeError(f"in-place op on a view of another tensor (a part of {self.name}) while recording "
                           f"gradients: {self.name} returns several views of one tensor, and PyTorch refuses in-place "
                           "ops on them too. Use the out-of-place op, or clone() the part first.")


def _parts(x: Tensor, parts: tuple, indices: list, name: str) -> list:
    """``parts`` (views ``x[index]``) as a list, each recorded as a view of x (:class:`_PartOf`) where x has a
    graph to re-point: a leaf's parts, and parts made under no_grad, need no record."""
    if is_recording():
        if x._node is not None:
            for part, index in zip(parts, indices):
                _note_view(x, part, _PartOf(index, name))
        elif getattr(x.data, "base", None) is not None and made_under_no_grad(x):   # parts of a no_grad view
            for part in parts:   # in-place with grad on: refused, as PyTorch's
                part._view = NO_GRAD_VIEW
    elif x.requires_grad or getattr(x, "_view", None) is NO_GRAD_VIEW:   # in-place with grad on: refused
        for part in parts:
            part._view = NO_GRAD_VIEW
    return list(parts)


# --- public functions -------------------------------------------------------

class NoDimError(AxisError, RuntimeError):
    """A 0-d tensor given to an op that cuts along a dim (split, chunk, tensor_split, unflatten): PyTorch's
    RuntimeError, and an AxisError (ValueError, IndexError) as NumPy's."""


def _existing_axis(axis: Any, x: Tensor, name: str) -> int:
    """One axis of ``x`` (a 0-d tensor has none to split along)."""
    if x.ndim == 0:
        raise NoDimError(f"{name}: a 0-d tensor has no axis {axis!r} to {name} along")
    return one_axis(axis, x.ndim, name)


def _as_list(tensors: Any, name: str) -> list:
    if isinstance(tensors, Tensor) or not isinstance(tensors, Sequence) or not tensors:
        raise EmptyTensorListError(f"{name}: expected a non-empty list of tensors")
    return [tensor_arg(t, name) for t in tensors]


def cat(tensors: Sequence[Tensor], dim: int = NOT_GIVEN, *, axis: int | None = None,
        out: Tensor | None = None) -> Tensor:
    """Join tensors along an existing ``dim`` (0 by default; ``axis=`` also works; ``concat`` is the same op).

    As torch.cat, a 1-D empty tensor (shape ``(0,)``) joins tensors of any number of dims (Transformer-XL's
    ``torch.empty(0)`` memories); with ``axis=`` it is numpy.concatenate, which refuses it. ``out=``: written
    into that tensor (minigrad/outputs.py).
    """
    if out is not None:
        return write_out("cat", cat(tensors, dim, axis=axis), out, inputs=tensors, overlap="any")
    given, tensors = tensors, _as_list(tensors, "concat")
    zero_d = next((i for i, t in enumerate(tensors) if t.ndim == 0), None)
    if zero_d is not None and not isinstance(given[zero_d], Tensor) and not backend.is_array(given[zero_d]):
        raise TypeError(f"concat: expected a Tensor as element {zero_d} of the list, got "   # PyTorch's TypeError
                        f"{type(given[zero_d]).__name__}")
    if zero_d is not None:   # checked before the dim, as PyTorch; NumPy's own error is an IndexError naming a tuple
        raise ShapeMismatchError(f"concat: a zero-dimensional tensor (at position {zero_d}) cannot be "
                                 f"concatenated (shapes {[t.shape for t in tensors]})")
    legacy = axis is None and any(t.shape == (0,) for t in tensors)
    first = next((t for t in tensors if t.shape != (0,)), tensors[0]) if legacy else tensors[0]
    a = one_dim_or_axis("concat", dim, axis, 0)
    if legacy and first.shape == (0,):   # legacy empties alone: PyTorch checks the dim's type, not its range
        one_axis(a, 2**63 - 1, "concat")   # (torch.cat([torch.empty(0)], 1) is (0,))
        a = 0
    else:
        a = one_axis(a, getattr(first, "ndim", 0), "concat")
    if legacy and first.ndim != 1:
        tensors = _legacy_empties_shaped(tensors, first.shape, a)
    return Concat(a)(*tensors)


def _legacy_empties_shaped(tensors: list, shape: tuple, axis: int) -> list:
    """torch.cat's legacy rule: tensors of shape (0,) are left out of the join whatever the others' dims.
    Each is reshaped here to ``shape`` with 0 along ``axis``, so it still takes part in dtype promotion and
    gets its (empty) gradient through the one Concat node."""
    empty_shape = shape[:axis] + (0,) + shape[axis + 1:]
    return [t.reshape(empty_shape) if t.shape == (0,) else t for t in tensors]


concat = cat


def stack(tensors: Sequence[Tensor], dim: int = NOT_GIVEN, *, axis: int | None = None,
          out: Tensor | None = None) -> Tensor:
    """Join same-shape tensors along a new ``dim`` (0 by default); ``out=`` as :func:`cat`'s."""
    if out is not None:
        return write_out("stack", stack(tensors, dim, axis=axis), out, inputs=tensors, overlap="any")
    tensors = _as_list(tensors, "stack")
    ndim = getattr(tensors[0], "ndim", 0)
    a = one_axis(one_dim_or_axis("stack", dim, axis, 0), ndim + 1, "stack")
    return Stack(a)(*tensors)


def _numpy_split_points(indices_or_sections: Any, size: int, a: int) -> list:
    """numpy.split's meaning: an int is a count of equal parts, a list gives split points."""
    if backend.is_array(indices_or_sections) and indices_or_sections.ndim:
        indices_or_sections = indices_or_sections.tolist()   # an array of split points, as numpy.split takes
    if backend.is_array(indices_or_sections) or isinstance(indices_or_sections, (int, backend.numpy.integer)) \
            and not isinstance(indices_or_sections, bool):
        n = int_tuple(indices_or_sections, "split", "indices_or_sections")[0]   # an int or a 0-d array: sections
        if n <= 0 or size % n:
            raise ValueError(f"split: axis {a} of size {size} does not divide into {n} equal parts")
        return [size // n * i for i in range(1, n)]
    return list(int_tuple(indices_or_sections, "split", "indices_or_sections"))


def _torch_split_points(split_size_or_sections: Any, size: int, a: int) -> list:
    """torch.split's meaning: an int is the size of each part (the last may be smaller), a list the sizes."""
    step = split_size_or_sections
    if type(step) is not list:   # (a list of sizes, a GRU's, and an int take the fewest tests)
        if type(step) is not int:
            if isinstance(step, Tensor):   # PyTorch's Tensor.split takes int(t) of a one-element tensor (tensor(2.7)
                try:                       # is 2, tensor(True) 1); more are sizes
                    step = int(step)
                except ValueError:
                    pass
            elif not isinstance(step, tuple):
                if not isinstance(step, int) or isinstance(step, bool):
                    # PyTorch's Tensor.split tests isinstance(split_size, int) and reads anything else as a list of
                    # sizes: a NumPy int, a 0-d array or an __index__ object is split_with_sizes' TypeError there
                    # (NumPy's axis= takes it)
                    raise TypeError(f"split(): split_size_or_sections must be an int or a list of ints, got "
                                    f"{type(step).__name__} {step!r:.40} (as PyTorch's; pass int(...))")
                step = int(step)
        if type(step) is int:
            if step < 0 or step == 0 and size:
                raise ShapeMismatchError(f"split: split_size must be positive (0 only for an empty dim), got {step} "
                                         f"for dim {a} of size {size}")
            return list(range(step, size, step)) if step else []
    sizes = int_tuple(step, "split", "split_size_or_sections")
    if any(s < 0 for s in sizes) or sum(sizes) != size:
        raise ShapeMismatchError(f"split: sizes {list(sizes)} must be non-negative and sum exactly to the size {size} "
                                 f"of dim {a} (for NumPy's split points pass axis=)")
    points, total = [], 0
    for s in sizes[:-1]:
        total += s
        points.append(total)
    return points


def split(tensor: Tensor, split_size_or_sections: Any = NOT_GIVEN, dim: int | None = None, *, axis: int | None = None,
          split_size: Any = NOT_GIVEN) -> list:
    """Split along ``dim`` as torch.split: an int gives parts of that size, a list gives the parts' sizes
    (``split_size=`` too, the name of PyTorch's method ``x.split``).

    With ``axis=`` it is numpy.split instead: an int is a count of equal parts,
    a list gives split points (``split(x, [4], axis=1)``: columns :4 and 4:).
    """
    if split_size_or_sections is NOT_GIVEN or split_size is not NOT_GIVEN:
        split_size_or_sections = one_of("split", split_size_or_sections=split_size_or_sections, split_size=split_size)
    x = tensor_arg(tensor, "split")
    numpy_style = axis is not None
    a = _existing_axis(dim_or_axis("split", dim, axis, 0), x, "split")
    size = x.shape[a]
    points = (_numpy_split_points if numpy_style else _torch_split_points)(split_size_or_sections, size, a)
    op = Split(points, a, len(points) + 1)
    if not numpy_style and isinstance(split_size_or_sections, (list, tuple)):   # PyTorch's split_with_sizes
        op.name = spelled("split", "SplitWithSizesBackward0")
    return _parts(x, op(x), op.indices, "split")


def chunk(input: Tensor, chunks: int, dim: int | None = None, *, axis: int | None = None) -> list:  # noqa: A002
    """Split into ``chunks`` parts of ceil(size / chunks) along ``dim`` (0 by default), as torch.chunk."""
    x = tensor_arg(input, "chunk")
    a = _existing_axis(dim_or_axis("chunk", dim, axis, 0), x, "chunk")
    chunks = int_arg(chunks, "chunk", "chunks")   # an int, a NumPy int or a 0-d int tensor
    if chunks <= 0:
        raise ShapeMismatchError(f"chunk: chunks must be positive, got {chunks}")
    size = x.shape[a]
    step = -(-size // chunks)
    # fewer parts than asked when the size does not divide; an empty axis gives `chunks` empty parts (as torch)
    points = list(range(step, size, step)) if step else [0] * (chunks - 1)
    op = Split(points, a, len(points) + 1)
    return _parts(x, op(x), op.indices, "chunk")


def unbind(input: Tensor, dim: int | None = None, *, axis: int | None = None) -> list:  # noqa: A002
    """The slices along ``dim`` (0 by default) as a list (one graph node for all of them)."""
    x = tensor_arg(input, "unbind")
    a = _existing_axis(dim_or_axis("unbind", dim, axis, 0), x, "unbind")
    parts = Unbind(a, x.shape[a])(x)
    return _parts(x, parts, [(slice(None),) * a + (i,) for i in range(len(parts))], "unbind")
