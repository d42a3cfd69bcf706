"""PyTorch's rearranging and indexing ops: ``movedim``, ``select``, ``tile``, ``unflatten``, ``diagonal``,
``diag_embed``, ``take``, ``take_along_dim``, ``rot90`` and ``unfold``. The writes at indices
(``index_add``/``index_copy``/``index_fill``, ``masked_scatter``) are in ``index_write.py``; the stacks
(``hstack`` …), splits (``tensor_split`` …) and products (``mv``, ``tensordot``, ``kron``, ``cross``,
``diff`` …) in ``combine.py``; both are listed here too.

Most are compositions of differentiable ops (``permute``, ``getitem``, ``gather``, ``scatter``,
``split`` …), so their gradients are those ops' gradients; a ``Function`` is written only where
no composition gives the gradient cheaply (``diagonal``/``diag_embed``, ``masked_scatter``).
"""

from __future__ import annotations

import math
from typing import Any, Sequence

from .. import backend
from .. import memory_formats as _memory_format
from ..autograd import AxisError, Function
from ..memory_formats import contiguous_format
from ..outputs import write_out
from ..tensor import Tensor
from ._util import (
    NOT_GIVEN,
    IndexArgumentError,
    ShapeMismatchError,
    axis_alias,
    check_index_range,
    index_data,
    int_arg,
    int_tuple,
    normalize_axis,
    one_axis,
    refuse_index_only,
    required_dim,
    sizes_keyword,
    some_sizes,
    tensor_arg,
)
from .combine import (  # listed in __all__ and METHODS below
    addbmm,
    addmv,
    addr,
    atleast_1d,
    atleast_2d,
    atleast_3d,
    column_stack,
    cross,
    diff,
    dsplit,
    dstack,
    hsplit,
    hstack,
    inner,
    kron,
    linalg_cross,
    matrix_power,
    mv,
    row_stack,
    split_with_sizes,
    tensor_split,
    tensordot,
    vdot,
    vsplit,
    vstack,
)
from .elementwise import where
from .index import flip
from .index_write import (  # listed in __all__ and METHODS below
    index_add,
    index_add_,
    index_copy,
    index_copy_,
    index_fill,
    index_fill_,
    index_put,
    index_put_,
    masked_scatter,
    masked_scatter_,
    put,
    put_,
    scatter,
    scatter_,
    scatter_reduce,
    scatter_reduce_,
)
from .join import NoDimError
from .scatters import diagonal_scatter
from .select import Gather
from .shape import (
    Reshape,
    _view_op,
    broadcast_to,
    clone,
    contiguous,
    getitem,
    narrow,
    permute,
    repeat,
    reshape,
    swapaxes,
    track_view,
)
from .strided import PROPERTIES, adjoint, as_strided, layout, strided  # listed in __all__ and METHODS below

# --- moving dims ---------------------------------------------------------------------------------------

def _movedim_dims(dims: Any, what: str) -> tuple:
    """movedim's ``source`` or ``destination`` (an int or a sequence of ints) as a tuple of ints; a tensor is
    PyTorch's int overload: a 0-d integer one (not a bool one, nor ``tensor([1])``)."""
    if isinstance(dims, Tensor):
        dims = int_arg(dims, "movedim", what)
    elif not isinstance(dims, (tuple, list)):   # one dim: PyTorch's int overload (a list's items may be __index__)
        refuse_index_only(dims, "movedim")
    return int_tuple(dims, "movedim", what, dims=True)


def movedim(input: Tensor, source: Any, destination: Any) -> Tensor:  # noqa: A002
    """The dims ``source`` (an int or a sequence) moved to positions ``destination``, the others kept in
    order (torch.movedim); (2, 3, 4).movedim(0, -1) → (3, 4, 2)."""
    x = tensor_arg(input, "movedim")
    src, dst = _movedim_dims(source, "source"), _movedim_dims(destination, "destination")
    if len(src) != len(dst):
        raise ShapeMismatchError(f"movedim: source {list(src)} and destination {list(dst)} must have the same "
                                 f"number of dims")
    ndim = max(x.ndim, 1)
    src, dst = normalize_axis(src, ndim, "movedim"), normalize_axis(dst, ndim, "movedim")
    for what, dims in (("source", src), ("destination", dst)):
        if len(set(dims)) != len(dims):
            raise ShapeMismatchError(f"movedim: repeated dim in {what} {list(dims)} (shape {x.shape})")
    if x.ndim == 0:
        return permute(x, (), name="movedim")
    order = [d for d in range(x.ndim) if d not in src]
    for d, s in sorted(zip(dst, src)):
        order.insert(d, s)
    return permute(x, order, name="movedim")


moveaxis = movedim


def swapdims(input: Tensor, dim0: int, dim1: int) -> Tensor:  # noqa: A002
    """Dims ``dim0`` and ``dim1`` exchanged (torch.swapdims: ``transpose(dim0, dim1)``)."""
    x = tensor_arg(input, "swapdims")
    for d in (dim0, dim1):
        one_axis(d, max(x.ndim, 1), "swapdims")   # an error names this op
    return swapaxes(x, dim0, dim1)


def select(input: Tensor, dim: int = NOT_GIVEN, index: int = NOT_GIVEN, *, axis: Any = NOT_GIVEN) -> Tensor:  # noqa: A002
    """The slice at ``index`` along ``dim`` (that dim removed): ``x.select(1, i)`` is ``x[:, i]``. ``axis=`` is
    PyTorch's alias of ``dim=``."""
    if axis is not NOT_GIVEN or dim is NOT_GIVEN or index is NOT_GIVEN:
        dim = required_dim("select", dim, axis, index=index)
    x = tensor_arg(input, "select")
    if x.ndim == 0:
        raise IndexError("select: cannot be applied to a 0-d tensor")
    axis = one_axis(dim, x.ndim, "select")
    i = int_arg(index, "select", "index", one_element=True)   # PyTorch's SymInt
    size = x.shape[axis]
    if not -size <= i < size:
        raise IndexError(f"select: index {i} is out of range for dim {axis} of size {size} (shape {x.shape})")
    return getitem(x, (slice(None),) * axis + (i,))


def tile(input: Tensor, *counts: Any, dims: Any = None) -> Tensor:  # noqa: A002
    """``x`` repeated ``dims[i]`` times along each dim (positional or ``dims=``); fewer counts than dims are
    padded with 1s in front (torch.tile): (3, 4).tile(2) → (3, 8)."""
    dims = some_sizes("tile", counts if dims is None else sizes_keyword("tile", counts, "dims", dims), "dims")
    x = tensor_arg(input, "tile")
    counts = int_tuple(dims[0] if len(dims) == 1 and isinstance(dims[0], (tuple, list)) else dims, "tile", "dims")
    if any(c < 0 for c in counts):
        raise ShapeMismatchError(f"tile: counts must be non-negative, got {list(counts)} (shape {x.shape})")
    return repeat(x, (1,) * (x.ndim - len(counts)) + counts)


def ravel(input: Tensor) -> Tensor:  # noqa: A002
    """The elements as a 1-D tensor in row-major order (a 0-d tensor gives shape (1,)): as PyTorch's
    ``contiguous().view(-1)``, a view of a C-contiguous x (an in-place op on it reaches x), else a copy (NumPy
    would view a strided 1-D x, so a write would reach x where PyTorch's does not)."""
    op = Reshape((-1,))
    op.name = "ravel"
    return _view_op(contiguous(tensor_arg(input, "ravel")), op)


def unflatten(input: Tensor, dim: int = NOT_GIVEN, sizes: Any = NOT_GIVEN, *, axis: Any = NOT_GIVEN) -> Tensor:  # noqa: A002
    """Dim ``dim`` split into several with ``sizes`` (one may be -1): (3, 4).unflatten(1, (2, 2)) → (3, 2, 2).
    ``axis=`` is PyTorch's alias of ``dim=`` (torch.unflatten's)."""
    if axis is not NOT_GIVEN or dim is NOT_GIVEN or sizes is NOT_GIVEN:
        dim = required_dim("unflatten", dim, axis, sizes=sizes)
    x = tensor_arg(input, "unflatten")
    if x.ndim == 0:
        raise NoDimError("unflatten: a 0-d tensor has no dim to unflatten")
    axis = one_axis(dim, x.ndim, "unflatten")
    sizes = int_tuple(sizes, "unflatten", "sizes")
    size = x.shape[axis]
    known = math.prod(s for s in sizes if s != -1)
    if not sizes or sizes.count(-1) > 1 or any(s < -1 for s in sizes) or (
            known != size if -1 not in sizes else (known == 0 or size % known)):
        raise ShapeMismatchError(f"unflatten: sizes {list(sizes)} do not multiply up to the size {size} of dim {axis} "
                                 f"(shape {x.shape}; give a non-empty list with at most one -1)")
    sizes = tuple(size // known if s == -1 else s for s in sizes)
    op = Reshape(x.shape[:axis] + sizes + x.shape[axis + 1:])
    op.name = "unflatten"
    return _view_op(x, op)


# --- diagonals -----------------------------------------------------------------------------------------

def _write_diagonal(xp: Any, shape: tuple, values: Any, offset: int, axis1: int, axis2: int) -> Any:
    """Zeros of ``shape`` with ``values`` (…, n) on diagonal ``offset`` of dims ``axis1``, ``axis2``."""
    out = xp.zeros(shape, dtype=values.dtype)
    n = values.shape[-1]
    rows, cols = xp.arange(n) + max(-offset, 0), xp.arange(n) + max(offset, 0)
    xp.moveaxis(out, (axis1, axis2), (-2, -1))[..., rows, cols] = values   # a view: writes into out
    return out


class Diagonal(Function):
    """Diagonal ``offset`` of dims ``axis1``, ``axis2``, as a new last dim; backward writes it back."""

    complex_grad = True   # linear with real coefficients: the same backward; see autograd.engine._complex_gate
    view_args = ("offset", "axis1", "axis2")   # __init__'s: a base changed in place reads its views again (inplace.py)
    scatter = staticmethod(diagonal_scatter)   # a write into the view, put back into its base (inplace.py)

    def __init__(self, offset: int, axis1: int, axis2: int) -> None:
        self.offset, self.axis1, self.axis2 = offset, axis1, axis2

    def forward(self, x: Any) -> Any:
        self.in_shape = x.shape
        out = self.xp.diagonal(x, self.offset, self.axis1, self.axis2)   # a view, as PyTorch's: writes reach x
        if out.shape[-1] == 0 and x.size and type(x) is backend.numpy.ndarray:
            # an empty diagonal starts where x does (its storage_offset is x's), as PyTorch's
            out = backend.numpy.lib.stride_tricks.as_strided(x, out.shape, out.strides)
        flags = getattr(out, "flags", None)
        if flags is not None and not getattr(flags, "writeable", True) and getattr(x.flags, "writeable", False):
            flags.writeable = True   # NumPy returns it read-only for backward compatibility only
        return out

    def backward(self, gy: Any) -> Any:
        return _write_diagonal(self.xp, self.in_shape, gy, self.offset, self.axis1, self.axis2)


class DiagEmbed(Function):
    """The last dim of x written on diagonal ``offset`` of new dims ``axis1``, ``axis2`` (Diagonal's adjoint)."""

    complex_grad = True   # linear with real coefficients: the same backward; see autograd.engine._complex_gate

    name = "diag_embed"

    def __init__(self, offset: int, axis1: int, axis2: int, out_shape: tuple) -> None:
        self.offset, self.axis1, self.axis2, self.out_shape = offset, axis1, axis2, out_shape

    def forward(self, x: Any) -> Any:
        return _write_diagonal(self.xp, self.out_shape, x, self.offset, self.axis1, self.axis2)

    def backward(self, gy: Any) -> Any:
        return self.xp.diagonal(gy, self.offset, self.axis1, self.axis2).copy()


def _two_dims(ndim: int, dim1: Any, dim2: Any, name: str) -> tuple:
    a1, a2 = one_axis(dim1, ndim, name), one_axis(dim2, ndim, name)
    if a1 == a2:
        raise ShapeMismatchError(f"{name}: the two dims must differ, got {dim1} and {dim2}")
    return a1, a2


def diagonal(input: Tensor, offset: int = 0, dim1: int = 0, dim2: int = 1) -> Tensor:  # noqa: A002
    """The elements ``x[…, i, …, i + offset, …]`` of dims ``dim1``, ``dim2``, as a new last dim (torch.diagonal):
    (3, 4, 5).diagonal(0, 1, 2) → (3, 4); an offset past the edge gives an empty last dim."""
    x = tensor_arg(input, "diagonal")
    if x.ndim < 2:
        raise AxisError(f"diagonal: expects a tensor with at least 2 dims, got shape {x.shape}")
    a1, a2 = _two_dims(x.ndim, dim1, dim2, "diagonal")
    op = Diagonal(int_arg(offset, "diagonal", "offset"), a1, a2)
    return track_view(x, op(x), op)   # a view: an in-place op on it reaches x and x's graph, as PyTorch's


def diag_embed(input: Tensor, offset: int = 0, dim1: int = -2, dim2: int = -1) -> Tensor:  # noqa: A002
    """Each last-dim vector (n,) of ``x`` as diagonal ``offset`` of an (n + |offset|) square in new dims
    ``dim1``, ``dim2`` of the output, zeros elsewhere (torch.diag_embed): (2, 3) → (2, 3, 3)."""
    x = tensor_arg(input, "diag_embed")
    if x.ndim == 0:
        raise AxisError("diag_embed: expects a tensor with at least 1 dim, got shape ()")
    offset = int_arg(offset, "diag_embed", "offset")
    a1, a2 = _two_dims(x.ndim + 1, dim1, dim2, "diag_embed")
    side = x.shape[-1] + abs(offset)
    batch = iter(x.shape[:-1])
    out_shape = tuple(side if d in (a1, a2) else next(batch) for d in range(x.ndim + 1))
    return DiagEmbed(offset, a1, a2, out_shape)(x)


class _NotForBool(TypeError, NotImplementedError):
    """An op PyTorch does not implement for bool tensors (its NotImplementedError; a TypeError too)."""


def trace(input: Tensor) -> Tensor:  # noqa: A002
    """The sum of the main diagonal of a 2-D tensor (integers sum to int64), a 0-d tensor (torch.trace)."""
    x = tensor_arg(input, "trace")
    if x.ndim != 2:
        raise ShapeMismatchError(f"trace: expects a 2-D tensor (a matrix), got shape {x.shape}")
    if x.dtype.kind == "b":
        raise _NotForBool("trace: not implemented for bool tensors (as in PyTorch); cast first")
    return diagonal(x).sum()


# --- picking by index ----------------------------------------------------------------------------------

def take(input: Tensor, index: Any, *, out: Any = None) -> Tensor:  # noqa: A002
    """``x`` read as 1-D at the integers ``index`` (negative count from the end); the result has index's
    shape. Repeated indices accumulate their gradients (torch.take). ``out=``: written into that tensor, of x's
    dtype."""
    if out is not None:
        return write_out("take", take(input, index), out, "exact", inputs=(input, index), overlap="any")
    x = tensor_arg(input, "take")
    data = index_data(index, "take")
    if data.dtype != "int64":   # PyTorch's take reads int64 only (a uint8 index would be read as a mask here)
        raise IndexArgumentError(f"take(): expected a long (int64) tensor for index, got dtype {data.dtype}")
    check_index_range(data, x.numel(), "take", f"a tensor of shape {x.shape} read as 1-D", negative=True)
    # x read in its memory's order (a view where x is dense), the indices moved to match: x's gradient then comes
    # back in x's layout, as PyTorch's take_backward (zeros_like(x), then put_)
    order = _memory_format._stride_order(x.data) if x.numel() else None
    flat = reshape(x, -1) if order is None else reshape(permute(x, order), -1)
    # a Tensor index stays one, so an mg.compile replay reads each call's indices; C order, as PyTorch's take
    # allocates its result (an advanced index would follow a transposed index's layout)
    if isinstance(index, Tensor):
        index = index if index.is_contiguous() else index.contiguous()
        return getitem(flat, index if order is None else _in_order(index, x.shape, order))
    data = backend.to_device(data, x.device)
    data = data if data.flags.c_contiguous else data.copy()
    return getitem(flat, data if order is None else _in_order(data, x.shape, order))


def _in_order(index: Any, shape: tuple, order: tuple) -> Any:
    """Positions in C order of ``shape`` (negative ones from the end; a Tensor or an array) as positions in the
    array of ``shape`` permuted to ``order`` and flattened."""
    index = index % math.prod(shape)
    position = 0
    for k, dim in enumerate(order):
        position = position + index // math.prod(shape[dim + 1:]) % shape[dim] * math.prod(
            shape[d] for d in order[k + 1:])
    return position


def take_along_dim(input: Tensor, indices: Any, dim: int | None = None, *, axis: Any = NOT_GIVEN) -> Tensor:  # noqa: A002
    """``x`` picked at ``indices`` along ``dim``, both broadcast in the other dims (torch.take_along_dim);
    without ``dim``, ``x`` flattened at ``indices`` flattened (a 1-D result). ``axis=`` is PyTorch's alias of
    ``dim=`` (np.take_along_axis's result)."""
    dim = axis_alias("take_along_dim", dim, axis, None)
    x = tensor_arg(input, "take_along_dim")
    data = index_data(indices, "take_along_dim")
    if dim is None:
        if data.dtype not in ("int64", "int32"):   # PyTorch's gather: int32 or int64 (a uint8 index is no mask here)
            raise IndexArgumentError(f"take_along_dim: indices must be int64 or int32 without a dim, got dtype "
                                     f"{data.dtype}")
        check_index_range(data, x.numel(), "take_along_dim", f"a tensor of shape {x.shape} read as 1-D", negative=False)
        flat_index = reshape(indices.to(x.device), -1).data if isinstance(indices, Tensor) else \
            backend.to_device(data, x.device).reshape(-1)
        # a Gather that checks its index: an mg.compile replay checks each call's (NumPy would wrap a negative one)
        op = Gather(0, flat_index, check="take_along_dim")
        op.name = "take_along_dim"
        return op(reshape(x, -1))
    if x.ndim == 0 or data.ndim != x.ndim:
        raise ShapeMismatchError(f"take_along_dim: input and indices need the same number of dims (at least 1), got "
                                 f"shapes {x.shape} and {tuple(data.shape)}")
    if data.dtype != "int64":   # PyTorch takes only int64 indices along a dim (int32 too without one)
        raise IndexArgumentError(f"take_along_dim: indices along a dim must be int64, got dtype {data.dtype}")
    axis = one_axis(dim, x.ndim, "take_along_dim")
    size = x.shape[axis]
    check_index_range(data, size, "take_along_dim", f"dim {axis}", negative=True)
    try:
        batch = backend.numpy.broadcast_shapes(x.shape[:axis] + (1,) + x.shape[axis + 1:],
                                               data.shape[:axis] + (1,) + data.shape[axis + 1:])
    except ValueError:
        raise ShapeMismatchError(f"take_along_dim: shapes {x.shape} and {tuple(data.shape)} do not broadcast "
                                 f"outside dim {axis}") from None
    x_shape = batch[:axis] + (size,) + batch[axis + 1:]
    index_shape = batch[:axis] + (data.shape[axis],) + batch[axis + 1:]
    # with tensor ops, so that the array Gather holds is a traced one an mg.compile replay recomputes
    index = indices.to(x.device) if isinstance(indices, Tensor) else tensor_arg(backend.to_device(data, x.device),
                                                                                 "take_along_dim")
    index = where(index < 0, index + size, index).astype("int64")
    op = Gather(axis, (index if index.shape == index_shape else broadcast_to(index, index_shape)).data)
    op.name = "take_along_dim"
    return op(x if x.shape == x_shape else broadcast_to(x, x_shape))


# --- flips, rotations, windows -------------------------------------------------------------------------

def rot90(input: Tensor, k: int = 1, dims: Sequence[int] = (0, 1)) -> Tensor:  # noqa: A002
    """``x`` rotated by 90° ``k`` times in the plane ``dims``, from the first dim towards the second
    (torch.rot90); (3, 4) → (4, 3) for odd k."""
    x = tensor_arg(input, "rot90")
    k = int_arg(k, "rot90", "k") % 4
    dims = int_tuple(dims, "rot90", "dims", dims=True)
    if len(dims) != 2:
        raise ShapeMismatchError(f"rot90: dims must be two dims, got {list(dims)}")
    if x.ndim < 2:
        raise ShapeMismatchError(f"rot90: expects a tensor with at least 2 dims, got shape {x.shape}")
    a, b = _two_dims(x.ndim, dims[0], dims[1], "rot90")
    if k == 0:
        return clone(x)
    if k == 2:
        return flip(x, (a, b))
    return swapaxes(flip(x, b if k == 1 else a), a, b)


def fliplr(input: Tensor) -> Tensor:  # noqa: A002
    """``x`` with dim 1 reversed (left/right); at least 2 dims."""
    x = tensor_arg(input, "fliplr")
    if x.ndim < 2:
        raise ShapeMismatchError(f"fliplr: expects a tensor with at least 2 dims, got shape {x.shape}")
    return flip(x, 1)


def flipud(input: Tensor) -> Tensor:  # noqa: A002
    """``x`` with dim 0 reversed (up/down); at least 1 dim."""
    x = tensor_arg(input, "flipud")
    if x.ndim < 1:
        raise ShapeMismatchError("flipud: expects a tensor with at least 1 dim, got shape ()")
    return flip(x, 0)


def narrow_copy(input: Tensor, dim: int = NOT_GIVEN, start: int = NOT_GIVEN, length: int = NOT_GIVEN, *,  # noqa: A002
                axis: Any = NOT_GIVEN) -> Tensor:
    """A copy of ``x.narrow(dim, start, length)`` (its own memory). ``axis=`` is PyTorch's alias of ``dim=``."""
    if axis is not NOT_GIVEN or dim is NOT_GIVEN or start is NOT_GIVEN or length is NOT_GIVEN:
        dim = required_dim("narrow_copy", dim, axis, start=start, length=length)
    x = input
    try:
        part = narrow(x, dim, start, length)
    except (IndexError, TypeError, ValueError) as error:
        raise backend.reworded(error, f"narrow_copy{str(error)[len('narrow'):]}") from error
    return clone(part, memory_format=contiguous_format)   # C order whatever x's layout, as PyTorch's


class Unfold(Function):
    """The windows of ``size`` along ``axis``, ``step`` apart, as a new last dim: (…, n, …) → (…, windows, …,
    size). On the CPU a strided view of x, as PyTorch's (writes reach x; overlapping windows are read-only);
    elsewhere a copy. Backward adds each window's gradient back, overlaps accumulating."""

    complex_grad = True   # linear with real coefficients: the same backward; see autograd.engine._complex_gate
    view_args = ("axis", "size", "step")   # __init__'s: a base changed in place reads its views again (inplace.py)

    def __init__(self, axis: int, size: int, step: int) -> None:
        self.axis, self.size, self.step = axis, size, step

    def forward(self, x: Any) -> Any:
        xp, axis, size, step = self.xp, self.axis, self.size, self.step
        self.in_shape = x.shape
        windows = (x.shape[axis] - size) // step + 1
        shape = x.shape[:axis] + (windows,) + x.shape[axis + 1:] + (size,)
        if xp is backend.numpy:
            strides = x.strides[:axis] + (x.strides[axis] * step,) + x.strides[axis + 1:] + (x.strides[axis],)
            apart = step >= size or windows <= 1   # one window, or windows that do not share elements
            out = backend.numpy.lib.stride_tricks.as_strided(x, shape, strides, writeable=x.flags.writeable)
            if apart or not x.flags.writeable:
                return out
            # overlapping windows: read-only, as a view of the writable windows, so that a part whose elements do
            # not share memory (windows[:, 0]) can be made writable again, as PyTorch writes it (inplace.py)
            out = out[...]
            out.flags.writeable = False
            return out
        starts = (xp.arange(windows) * step)[:, None] + xp.arange(size)[None, :]
        return xp.moveaxis(x[(slice(None),) * axis + (starts,)], axis + 1, -1)

    def backward(self, gy: Any) -> Any:
        gx = self.xp.zeros(self.in_shape, dtype=gy.dtype)
        windows = gy.shape[self.axis]
        for j in range(self.size):   # element j of every window: one strided slice of x, no repeats in it
            where = (slice(None),) * self.axis + (slice(j, j + self.step * (windows - 1) + 1, self.step),)
            gx[where] += gy[..., j]
        return gx


def unfold(x: Tensor, dimension: int, size: int, step: int) -> Tensor:
    """All windows of ``size`` along ``dimension``, ``step`` apart, as a new last dim (Tensor.unfold):
    (3, 7).unfold(1, 3, 2) → (3, 3, 3); overlapping windows add their gradients."""
    x = tensor_arg(x, "unfold")
    axis = one_axis(dimension, max(x.ndim, 1), "unfold")
    size, step = int_arg(size, "unfold", "size"), int_arg(step, "unfold", "step")
    length = x.shape[axis] if x.ndim else 1
    if size < 0 or size > length:
        raise ShapeMismatchError(f"unfold: size {size} must be in 0..{length}, the size of dim {axis} (shape "
                                 f"{x.shape})")
    if step <= 0:
        raise ShapeMismatchError(f"unfold: step must be positive, got {step}")
    if x.ndim == 0:
        return getitem(reshape(x, (1,)), slice(0, size))
    op = Unfold(axis, size, step)
    out = op(x)   # on the CPU a view: an in-place op on it reaches x and x's graph (on a GPU a copy)
    return track_view(x, out, op) if type(out.data) is backend.numpy.ndarray else out


# --- the tables ----------------------------------------------------------------------------------------

__all__ = [
    "movedim", "moveaxis", "swapdims", "select", "tile", "ravel", "unflatten", "diagonal", "diag_embed", "trace",
    "take", "take_along_dim", "index_add", "index_copy", "index_fill", "index_put", "put", "masked_scatter", "rot90",
    "fliplr", "flipud", "narrow_copy", "atleast_1d", "atleast_2d", "atleast_3d", "hstack", "vstack", "row_stack",
    "dstack", "column_stack", "tensor_split", "hsplit", "vsplit", "dsplit", "split_with_sizes",
    # from combine.py
    "mv", "vdot", "tensordot", "inner", "kron", "cross", "linalg_cross", "addmv", "addr", "addbmm", "matrix_power",
    "diff",
    # from index_write.py: scatter_reduce, and scatter with PyTorch's older reduce= (index.py's scatter otherwise)
    "scatter_reduce", "scatter",
    # from strided.py
    "as_strided", "adjoint", "layout", "strided",
]
# torch.Tensor's methods among them (no stacks, tensordot nor linalg_cross), the in-place ones and unfold
METHODS: dict = {name: globals()[name] for name in __all__ if name not in (
    "atleast_1d", "atleast_2d", "atleast_3d", "hstack", "vstack", "row_stack", "dstack", "column_stack",
    "tensordot", "linalg_cross", "layout", "strided")}
METHODS.update({"index_add_": index_add_, "index_copy_": index_copy_, "index_fill_": index_fill_,
                "masked_scatter_": masked_scatter_, "unfold": unfold,
                "index_put_": index_put_, "put_": put_, "scatter_reduce_": scatter_reduce_, "scatter_": scatter_})
METHODS.update(PROPERTIES)   # layout, mH, H
