"""Rearranging and indexing ops with PyTorch's names: ``flip``, ``roll``, ``tril``/``triu``, ``diag``,
``nonzero``, ``masked_select``, ``scatter``/``scatter_add``, ``repeat_interleave``,
``broadcast_tensors`` and ``meshgrid``.

Each moves elements without arithmetic, so its backward moves the gradient back
the same way (a flip flips it back, a roll rolls it back, a scatter gathers it).
"""

from __future__ import annotations

import types
from typing import Any

from .. import backend
from .. import memory_formats as _memory_format
from ..autograd import AxisError, Function
from ..autograd.names import respelled
from ..outputs import write_out
from ..recording import note_draw, note_read
from ..tensor import Tensor
from ._util import (
    NOT_GIVEN,
    AllocationError,
    ArgumentTypeError,
    DtypeMismatchError,
    DtypeNotImplementedError,
    ShapeMismatchError,
    axis_alias,
    fresh_memory,
    index_data,
    int_arg,
    int_tuple,
    last_backward,
    normalize_axis,
    one_axis,
    required_dim,
    sizes_keyword,
    tensor_arg,
)
from .inplace import _inplace
from .select import _index_array, check_along, index_select
from .shape import broadcast_to, getitem, reshape


def _dims(dims: tuple, name: str) -> tuple:
    """``f(x, 0, 1)`` or ``f(x, (0, 1))`` or ``f(x, [0, 1])``: the dims as one tuple."""
    if len(dims) == 1 and isinstance(dims[0], (tuple, list)):
        dims = tuple(dims[0])
    return int_tuple(dims, name, "dims", dims=True)


class Flip(Function):
    complex_grad = True   # linear with real coefficients: the same backward; see autograd.engine._complex_gate

    def __init__(self, axes: tuple) -> None:
        self.axes = axes

    def forward(self, x: Any) -> Any:
        out = self.xp.flip(x, self.axes).copy()
        if x.flags.c_contiguous:
            return out
        # PyTorch's layout: the input's (a transposed or channels-last input gives a transposed or channels-last
        # result), as clone's preserve_format
        return _memory_format.lay_out(out, _memory_format.preserve_format, "flip", x)

    def backward(self, gy: Any) -> Any:
        return self.xp.flip(gy, self.axes)


def flip(input: Tensor, *axes: Any, dims: Any = None, axis: Any = NOT_GIVEN) -> Tensor:  # noqa: A002
    """``x`` with the order of elements reversed along ``dims`` (torch.flip: ``flip(x, 0, 1)``, ``flip(x, (0, 1))``
    or ``flip(x, dims=(0, 1))``); same shape. NumPy's ``axis=`` (an int, a tuple, or None: every dim) gives
    np.flip's result."""
    if axis is not NOT_GIVEN:
        if axes or dims is not None:
            raise TypeError("flip: give dims (PyTorch) or axis= (NumPy), not both")
        x = tensor_arg(input, "flip")
        dims = tuple(range(x.ndim)) if axis is None else normalize_axis(axis, x.ndim, "flip")   # 0-d: no dim 0
        if isinstance(dims, int):
            dims = (dims,)
        if len(set(dims)) != len(dims):
            raise ShapeMismatchError(f"flip: axis {axis} names a dim more than once")
        return Flip(tuple(dims))(x)   # np.flip(a, ()) and a 0-d tensor's axis=None flip nothing
    dims = axes if dims is None else sizes_keyword("flip", axes, "dims", dims)
    x = tensor_arg(input, "flip")
    if not dims:
        raise TypeError("flip: give the dims to flip, e.g. flip(x, 0) or flip(x, (0, 1))")
    axes = normalize_axis(_dims(dims, "flip"), max(x.ndim, 1), "flip")
    if len(set(axes)) != len(axes):
        raise ShapeMismatchError(f"flip: dim appears multiple times in {_dims(dims, 'flip')}")
    return Flip(axes if x.ndim else ())(x)


class Roll(Function):
    complex_grad = True   # linear with real coefficients: the same backward; see autograd.engine._complex_gate

    def __init__(self, shifts: tuple, axes: tuple | None) -> None:
        self.shifts, self.axes = shifts, axes

    def forward(self, x: Any) -> Any:
        out = self.xp.roll(x, self.shifts, self.axes)
        if _memory_format.suggests_c_order(x) or self.axes is None or x.size == 0:
            return out
        # NumPy's roll keeps any input's order of strides
        return _memory_format.in_format(out, _roll_layout(x, self.shifts, self.axes), "roll")

    def backward(self, gy: Any) -> Any:
        return self.xp.roll(gy, tuple(-s for s in self.shifts), self.axes)


def _roll_layout(x: Any, shifts: tuple, axes: tuple) -> Any:
    """The memory format of PyTorch's ``roll(x, shifts, axes)`` (x not empty): it rolls one dim after the other,
    each as ``cat`` of two narrowed pieces, which is channels-last when both pieces suggest channels-last (a
    channels-last input, rolled by other than a multiple of the size) and C order otherwise."""
    fmt, strides = _memory_format.contiguous_format, x.strides
    for shift, axis in zip(shifts, axes):
        size = x.shape[axis]
        start = (size - shift) % size
        pieces = {_memory_format.suggest(x.shape[:axis] + (n,) + x.shape[axis + 1:], strides)
                  for n in (size - start, start)}
        fmt = pieces.pop() if len(pieces) == 1 else _memory_format.contiguous_format
        if fmt is _memory_format.contiguous_format:
            return fmt   # a C-ordered array's pieces are C-ordered
        strides = _memory_format.dense_strides(x.shape, fmt, x.itemsize)
    return fmt


def roll(input: Tensor, shifts: Any, dims: Any = None) -> Tensor:  # noqa: A002
    """Elements shifted cyclically by ``shifts`` along ``dims`` (the flattened tensor when None)."""
    x = tensor_arg(input, "roll")
    # shifts is PyTorch's SymInt[1]: a bool tensor in a list is refused, a bare one read by __index__ (its parser's)
    shift_tuple = int_tuple(shifts, "roll", "shifts", dims=not isinstance(shifts, (tuple, list)), sized=True)
    if not shift_tuple:
        raise ShapeMismatchError(f"roll: `shifts` required (got {shifts!r}), as in PyTorch")
    dim_tuple = () if dims is None else int_tuple(dims, "roll", "dims", dims=True, sized=True)
    if not dim_tuple:   # dims None or (): the flattened tensor rolls, as PyTorch
        if len(shift_tuple) != 1:
            raise ShapeMismatchError(f"roll: without dims, shifts must be one int, got {shifts!r}")
        return fresh_memory(Roll(shift_tuple, None)(x))
    if len(dim_tuple) != len(shift_tuple):
        raise ShapeMismatchError(f"roll: shifts {shifts!r} and dims {dims!r} must have the same length")
    if x.ndim == 0:
        raise AxisError(f"roll: dim {dims!r} is out of range for a 0-d tensor (it has no dims; PyTorch's IndexError)")
    return Roll(shift_tuple, normalize_axis(dim_tuple, x.ndim, "roll"))(x)


class Triangle(Function):
    """The lower (``upper=False``) or upper triangle of the last two dims; the rest set to 0."""

    complex_grad = True   # linear with real coefficients: the same backward; see autograd.engine._complex_gate

    def __init__(self, k: int, upper: bool) -> None:
        self.k, self.upper = k, upper
        self.name = "triu" if upper else "tril"

    def forward(self, x: Any) -> Any:
        # C order whatever x's layout, as PyTorch's (NumPy's keeps a transposed x's)
        return self.xp.ascontiguousarray(self.xp.triu(x, self.k) if self.upper else self.xp.tril(x, self.k))

    def backward(self, gy: Any) -> Any:
        return self.forward(gy)


def _triangle(x: Any, diagonal: Any, upper: bool) -> Tensor:
    name = "triu" if upper else "tril"
    x = tensor_arg(x, name)
    if x.ndim < 2:
        raise ShapeMismatchError(f"{name}: input must have at least 2 dims, got shape {x.shape}")
    return Triangle(int_arg(diagonal, name, "diagonal", one_element=True), upper)(x)


def tril(input: Tensor, diagonal: int = 0) -> Tensor:  # noqa: A002
    """The lower triangle of the last two dims (on and below ``diagonal``), the rest 0 (torch.tril)."""
    return _triangle(input, diagonal, upper=False)


def triu(input: Tensor, diagonal: int = 0) -> Tensor:  # noqa: A002
    """The upper triangle of the last two dims (on and above ``diagonal``), the rest 0 (torch.triu)."""
    return _triangle(input, diagonal, upper=True)


class Diag(Function):
    """1-D (n,) → the (n+|k|, n+|k|) matrix with x on diagonal k; 2-D → its diagonal k as 1-D."""

    complex_grad = True   # linear with real coefficients: the same backward; see autograd.engine._complex_gate

    def __init__(self, k: int) -> None:
        self.k = k

    def forward(self, x: Any) -> Any:
        self.in_shape = x.shape
        return self.xp.diag(x, self.k).copy()

    def backward(self, gy: Any) -> Any:
        xp = self.xp
        if len(self.in_shape) == 1:
            return xp.diagonal(gy, self.k).copy()
        gx = xp.zeros(self.in_shape, dtype=gy.dtype)
        rows, cols = self.in_shape
        start_row, start_col = (0, self.k) if self.k >= 0 else (-self.k, 0)
        n = gy.shape[0]
        gx[xp.arange(start_row, start_row + n), xp.arange(start_col, start_col + n)] = gy
        return gx


def diag(input: Tensor, diagonal: int = 0) -> Tensor:  # noqa: A002
    """torch.diag: a 1-D tensor becomes a square matrix with it on ``diagonal``; a 2-D tensor gives its
    ``diagonal`` as a 1-D tensor. Shapes, k = |diagonal|: (N,) → (N + k, N + k); (M, N) → (the length of
    that diagonal,)."""
    x = tensor_arg(input, "diag")
    if x.ndim not in (1, 2):
        raise ShapeMismatchError(f"diag: expects a 1-D or 2-D tensor, got shape {x.shape}")
    return Diag(int_arg(diagonal, "diag", "diagonal"))(x)


def nonzero(input: Tensor, *, as_tuple: bool = False) -> Any:  # noqa: A002
    """The indices of the non-zero elements: an int64 (count, ndim) tensor, in row-major order (laid out
    column-major, strides (1, count), as PyTorch's);
    with ``as_tuple=True`` one 1-D int64 tensor per dim (as ``x[x.nonzero(as_tuple=True)]`` wants)."""
    x = tensor_arg(input, "nonzero")
    xp = backend.array_module(x.data)

    def found(data: Any) -> list:
        return [i.astype("int64", copy=False) for i in xp.nonzero(data.reshape(1) if data.ndim == 0 else data)]

    # recorded draws: an mg.compile replay finds the new values' indices (a new count captures again)
    if as_tuple:   # contiguous 1-D tensors, as PyTorch's (NumPy's are strided views of one (count, ndim) array)
        return tuple(note_draw("nonzero", lambda data, d=d: found(data)[d].copy(), (x,),
                               Tensor._make(i.copy(), False, None, 0))
                     for d, i in enumerate(found(x.data)))
    # PyTorch's (count, ndim) result is column-major, strides (1, count): each column (a dim's indices) contiguous
    if x.ndim == 0:
        make = lambda data: xp.zeros((0, len(found(data)[0])), dtype="int64").T   # noqa: E731
    else:
        make = lambda data: xp.stack(found(data), axis=0).T   # noqa: E731
    return note_draw("nonzero", make, (x,), Tensor._make(make(x.data), False, None, 0))


def argwhere(input: Tensor) -> Tensor:  # noqa: A002
    """The indices of the non-zero elements as a (count, ndim) int64 tensor (torch.argwhere)."""
    return nonzero(input)


def masked_select(input: Tensor, mask: Any, *, out: Any = None) -> Tensor:  # noqa: A002
    """The elements of ``x`` where the bool ``mask`` is True (both broadcast together), as a 1-D tensor (``out=``:
    written into that tensor, of x's dtype)."""
    if out is not None:
        return write_out("masked_select", masked_select(input, mask), out, "exact", inputs=(input, mask),
                         overlap="any")
    x = tensor_arg(input, "masked_select")
    mask = tensor_arg(mask, "masked_select")
    if mask.dtype != bool:
        raise ArgumentTypeError(f"masked_select: mask must be a bool tensor, got dtype {mask.dtype}")
    try:
        shape = tuple(backend.numpy.broadcast_shapes(x.shape, mask.shape))
    except ValueError:
        raise ShapeMismatchError(f"masked_select: mask of shape {mask.shape} does not broadcast with shape "
                                 f"{x.shape}") from None
    # the mask as a Tensor index: an mg.compile replay selects with each call's mask
    source = broadcast_to(x, shape) if shape != x.shape else x
    out = getitem(source, broadcast_to(mask, shape) if shape != mask.shape else mask)
    if out._node is not None:   # x's gradient in x's layout, as PyTorch's zeros_like(x) (C order: None, as GetItem's)
        out._node.grad_order = _memory_format._stride_order(source.data)
    return respelled(out, x, "getitem", "MaskedSelectBackward0")   # PyTorch's node


# --- scatter ---------------------------------------------------------------------------------------

class Scatter(Function):
    """out = copy of x; ``out[..., index[i], ...] = src[i]`` along ``axis`` (``add``: ``+=``, accumulating).

    Gradients as PyTorch's: x gets gy except where overwritten (all of it for ``add``);
    src gets gy gathered at index. ``check``: the name the index's range check (made here, so each
    ``mg.compile`` replay checks its own index) gives in its error; None: not checked.
    """

    complex_grad = True   # linear with real coefficients: the same backward; see autograd.engine._complex_gate

    def __init__(self, axis: int, index: Any, add: bool, check: str | None = None) -> None:
        self.axis, self.index, self.add, self.check = axis, index, add, check
        self.name = check or ("scatter_add" if add else "scatter")

    def _where(self, xp: Any) -> tuple:
        ndim = self.index.ndim
        return tuple(self.index if d == self.axis else
                     xp.arange(n).reshape((1,) * d + (n,) + (1,) * (ndim - d - 1))
                     for d, n in enumerate(self.index.shape))

    def forward(self, x: Any, src: Any) -> Any:
        xp = self.xp
        if self.check is not None:
            check_along(self.index, x.shape[self.axis], self.check, self.axis)
        self.src_shape = getattr(src, "shape", None)
        self.saved = (self.index,)   # freed by a backward without retain_graph: a second one raises, as PyTorch's
        where = self._where(xp)
        part = src[tuple(slice(0, n) for n in self.index.shape)] if self.src_shape else src
        out = x.copy()
        if self.add:
            backend.scatter_add(xp, out, where, part)
        elif backend.signed_zero(part):   # a -0.0 number, copied from a device scalar: CuPy fills a host zero
            out[where] = backend.device_scalar(xp, part, out.dtype)   # with a memset (+0.0)
        else:
            out[where] = part
        return out

    def kept_for_backward(self) -> tuple:
        """The index too: changed in place after the forward, backward raises, as PyTorch's (which saves it),
        instead of reading the gradient at the places it names now."""
        return (self.saved, self.index)

    def backward(self, gy: Any) -> tuple:
        xp = self.xp
        where = self._where(xp)
        gx = gsrc = None
        if self.needs_grad[0]:
            gx = gy if self.add else gy.copy()
            if not self.add:
                gx[where] = 0
        if self.needs_grad[1]:
            gsrc = xp.zeros(self.src_shape, dtype=gy.dtype)
            gsrc[tuple(slice(0, n) for n in self.index.shape)] = gy[where]
        elif self.add:   # PyTorch saves scatter_add's index for src's gradient only: x's runs again, as PyTorch's
            self.saved = ()
        if self.saved and last_backward(self):   # the index goes with saved, as PyTorch's
            self.index = None
        return gx, gsrc


def _scatter(x: Any, dim: Any, index: Any, src: Any, add: bool, name: str, value: Any = None) -> Tensor:
    x = tensor_arg(x, name)
    if src is None:
        src = value
    if isinstance(src, backend.numpy.generic):   # a NumPy scalar is the number it holds, as PyTorch's Scalar
        src = src.item()
    if x.ndim == 0:   # PyTorch reads a 0-d tensor (and a 0-d index or src) as shape (1,); index and src may be 1-D
        one_axis(dim, 1, name)
        data = index_data(index, name)
        tensor_src = isinstance(src, Tensor) or backend.is_array(src)
        src_ndim = tensor_arg(src, name).ndim if tensor_src else 0
        if (data.ndim > 1 or src_ndim > 1) and data.size:   # (an empty index changes nothing: PyTorch's no-op)
            raise ShapeMismatchError(f"{name}: a 0-d tensor takes a 0-d or 1-D index and src, got index shape "
                                     f"{tuple(data.shape)} and src shape {tuple(src.shape) if tensor_src else ()}")
        flat = reshape(index, (-1,)) if isinstance(index, Tensor) else data.reshape(-1)
        flat_src = reshape(tensor_arg(src, name), (-1,)) if tensor_src else src
        return reshape(_scatter(reshape(x, (1,)), 0, flat, flat_src, add, name), ())
    axis = one_axis(dim, x.ndim, name)
    index = _index_array(index, x, axis, name)
    if isinstance(src, Tensor) or backend.is_array(src):
        src = tensor_arg(src, name)
        if src.ndim != index.ndim or any(n > m for n, m in zip(index.shape, src.shape)):
            raise ShapeMismatchError(f"{name}: index shape {tuple(index.shape)} must not be larger than src shape "
                                     f"{src.shape} in any dim (and both need x's {x.ndim} dims)")
        if src.device != x.device:
            raise ValueError(f"{name}: src is on {src.device} but the tensor is on {x.device}")
    elif add or not (isinstance(src, (bool, int, float)) or isinstance(src, complex) and x.dtype.kind == "c"):
        # a bool fills a mask (mask.scatter(1, i, True)); a complex number a complex x
        raise TypeError(f"{name}: src must be a Tensor{'' if add else ' or a number'}, got {type(src).__name__}")
    if isinstance(src, Tensor) and src.dtype != x.dtype:   # torch refuses for scatter_add too (ints truncated)
        raise DtypeMismatchError(f"{name}: src has dtype {src.dtype} but the tensor has dtype {x.dtype} (cast one)")
    return Scatter(axis, index, add, check=name)(x, src)


def scatter(x: Tensor, dim: int, index: Any, src: Any = None, *, value: Any = None) -> Tensor:
    """A copy of ``x`` with ``out[..., index[i, j], ...] = src[i, j]`` along ``dim`` (torch.scatter).

    ``index`` (int, x's number of dims) is no larger than ``src`` in any dim, nor than x except
    along ``dim``; ``src`` may be a number (or ``value=``). With repeated indices one write wins.
    """
    return _scatter(x, dim, index, src, False, "scatter", value)


def scatter_add(input: Any, dim: Any = NOT_GIVEN, index: Any = NOT_GIVEN, src: Any = None, *,  # noqa: A002
                axis: Any = NOT_GIVEN) -> Any:
    """torch.scatter_add: a copy of ``x`` with ``src`` added at ``index`` along ``dim`` (accumulating).
    ``axis=`` is PyTorch's alias of ``dim=``.

    Called with an array module first, ``mg.scatter_add(xp, target, index, values)`` is the array
    interop function (``target[index] += values`` in place on raw arrays) that ``nn`` uses.
    """
    if axis is not NOT_GIVEN or dim is NOT_GIVEN or index is NOT_GIVEN:   # PyTorch's axis= alias of dim=
        dim = required_dim("scatter_add", dim, axis, index=index)
    x = input
    if isinstance(x, types.ModuleType):   # numpy or cupy: the array interop form
        return backend.scatter_add(x, dim, index, src)
    return _scatter(x, dim, index, src, True, "scatter_add")


def scatter_(x: Tensor, dim: int, index: Any, src: Any = None, *, value: Any = None) -> Tensor:
    """:func:`scatter` in place."""
    source = value if src is None else src
    return _inplace(x, "scatter_", lambda cur: scatter(cur, dim, index, source), source)


def scatter_add_(x: Tensor, dim: int = NOT_GIVEN, index: Any = NOT_GIVEN, src: Any = NOT_GIVEN, *,
                 axis: Any = NOT_GIVEN) -> Tensor:
    """:func:`scatter_add` in place: x keeps its shape; ``index`` has x's ndim and ``src`` is at least its shape.
    ``axis=`` is PyTorch's alias of ``dim=``."""
    if axis is not NOT_GIVEN or dim is NOT_GIVEN or index is NOT_GIVEN or src is NOT_GIVEN:
        dim = required_dim("scatter_add_", dim, axis, index=index, src=src)
    return _inplace(x, "scatter_add_", lambda cur: _scatter(cur, dim, index, src, True, "scatter_add_"), src)


# --- repeats, broadcasting, grids ------------------------------------------------------------------

_REPEAT_DTYPES = (backend.numpy.dtype("int64"), backend.numpy.dtype("int32"))


def repeat_interleave(input: Tensor, repeats: Any = None, dim: Any = None, *,  # noqa: A002
                      output_size: int | None = None, axis: Any = NOT_GIVEN) -> Tensor:
    """Each element (slice along ``dim``) repeated ``repeats`` times in place (flattened when ``dim`` is
    None): ``[a, b]`` → ``[a, a, b, b]``. ``repeats`` is an int or a 1-D int tensor, one per slice.
    ``output_size`` (PyTorch's hint, the total length along ``dim``) is checked against it.
    With no ``repeats``, ``input`` (n,) is the counts and each position i is repeated counts[i] times
    (``mg.repeat_interleave(tensor([2, 0, 1]))`` → ``[0, 0, 2]``, the segment of each element), in its dtype.
    ``axis=`` is PyTorch's alias of ``dim=`` (np.repeat's result)."""
    dim = axis_alias("repeat_interleave", dim, axis, None)
    x = tensor_arg(input, "repeat_interleave")
    counts_tensor = x if repeats is None else repeats
    if isinstance(counts_tensor, Tensor) and counts_tensor.dtype not in _REPEAT_DTYPES:   # PyTorch's kernels
        raise DtypeNotImplementedError(f"repeat_interleave: repeats must be integers, int64 or int32, got dtype "
                                       f"{counts_tensor.dtype} (PyTorch: \"repeat_interleave_cpu\" not implemented "
                                       f"for it)")
    if repeats is None:
        if x.ndim != 1:
            raise ShapeMismatchError(f"repeat_interleave: repeats must be a 1-D int tensor, got shape {x.shape}")
        with backend.on_device(x.device):
            positions = backend.array_module(x.data).arange(x.shape[0], dtype=x.dtype)
        return repeat_interleave(Tensor._make(positions, False, None, 0), x, output_size=output_size)
    if dim is None:
        x, axis = reshape(x, -1), 0
    else:
        if x.ndim == 0:
            raise AxisError(f"repeat_interleave: dim {dim!r} is out of range for a 0-d tensor (it has no dims; "
                            f"PyTorch's IndexError); pass dim=None")
        axis = one_axis(dim, x.ndim, "repeat_interleave")
    xp = backend.array_module(x.data)
    if isinstance(repeats, Tensor):   # the output's shape depends on these values: mg.compile runs it eagerly
        note_read(repeats, "tolist")
    if isinstance(repeats, Tensor):
        counts = backend.to_numpy(repeats.data)
    else:   # PyTorch's SymInt overload: an int, a NumPy int, a 0-d array or an __index__ object (a list is refused)
        counts = backend.numpy.asarray(int_arg(repeats, "repeat_interleave", "repeats (an int or a 1-D int tensor)",
                                               one_element=True))
    if counts.dtype.kind not in "iu":
        raise DtypeNotImplementedError(f"repeat_interleave: repeats must be integers, got dtype {counts.dtype} "
                                       f"(PyTorch: not implemented for it)")
    if counts.ndim > 1:
        raise ArgumentTypeError(f"repeat_interleave: repeats must be an int or a 1-D int tensor, got shape "
                                f"{counts.shape}")
    if (counts < 0).any():
        raise ShapeMismatchError("repeat_interleave: repeats must be non-negative")
    n = x.shape[axis]
    if counts.ndim == 1 and counts.size not in (1, n):
        raise ShapeMismatchError(f"repeat_interleave: {counts.size} repeats for dim {axis} of size {n}")
    total = int(counts.reshape(-1)[0]) * n if counts.size == 1 else sum(counts.tolist())
    if total * (x.data.size // n if n else 0) >= 2**63:   # NumPy's repeat would wrap the count (and crash)
        raise ShapeMismatchError(f"repeat_interleave: dim {axis} of the result (input shape {x.shape}) would be "
                                 f"{total} long: more elements than int64 can count (PyTorch: numel overflow)")
    try:
        picks = backend.numpy.repeat(backend.numpy.arange(n), counts.reshape(-1) if counts.ndim else counts)
    except (MemoryError, ValueError) as error:   # ValueError: "array is too big"
        raise AllocationError(f"repeat_interleave: can't allocate {total} repeats ({error})") from None
    if output_size is not None and output_size != picks.size:
        raise ShapeMismatchError(f"repeat_interleave: output_size={output_size!r} but the repeats give {picks.size}")
    with backend.on_device(x.device):
        return index_select(x, axis, Tensor._make(xp.asarray(picks, dtype="int64"), False, None, 0))


def broadcast_shapes(*shapes: Any) -> tuple:
    """The shape that ``shapes`` broadcast to (torch.broadcast_shapes)."""
    try:
        return tuple(backend.numpy.broadcast_shapes(*(int_tuple(s, "broadcast_shapes") for s in shapes)))
    except ValueError:
        raise ShapeMismatchError(f"broadcast_shapes: shapes {list(shapes)} do not broadcast together") from None


def broadcast_tensors(*tensors: Any) -> tuple:
    """The tensors broadcast to one shape (a tuple of expanded tensors; gradients summed back)."""
    tensors = tuple(tensor_arg(t, "broadcast_tensors") for t in tensors)
    try:
        shape = tuple(backend.numpy.broadcast_shapes(*(t.shape for t in tensors)))
    except ValueError:
        raise ShapeMismatchError(f"broadcast_tensors: shapes {[t.shape for t in tensors]} do not broadcast "
                                 f"together") from None
    return tuple(t if t.shape == shape else broadcast_to(t, shape) for t in tensors)


def meshgrid(*tensors: Any, indexing: str = "ij") -> tuple:
    """Coordinate grids from 1-D tensors (torch.meshgrid): with ``indexing="ij"`` (PyTorch's default)
    output k varies along dim k, shape (n0, n1, …); with ``"xy"`` the first two dims are swapped."""
    if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)):
        tensors = tuple(tensors[0])
    if indexing not in ("ij", "xy"):
        raise ShapeMismatchError(f"meshgrid: indexing must be 'ij' or 'xy', got {indexing!r}")
    tensors = tuple(tensor_arg(t, "meshgrid") for t in tensors)
    if not tensors:   # PyTorch's RuntimeError (NumPy's meshgrid() gives ())
        raise ShapeMismatchError("meshgrid: expects a non-empty list of tensors")
    for t in tensors:
        if t.ndim > 1:
            raise ShapeMismatchError(f"meshgrid: expects 0-d or 1-D tensors, got shape {t.shape}")
        if t.dtype != tensors[0].dtype:   # PyTorch refuses to promote here
            raise DtypeMismatchError(f"meshgrid: expects all tensors to have the same dtype, got "
                                     f"{[str(u.dtype) for u in tensors]}")
        if t.device != tensors[0].device:
            raise ValueError(f"meshgrid: expects all tensors to have the same device, got "
                             f"{[str(u.device) for u in tensors]}")
    sizes = [t.numel() for t in tensors]
    if indexing == "xy" and len(tensors) >= 2:
        sizes[0], sizes[1] = sizes[1], sizes[0]
    out = []
    for k, t in enumerate(tensors):
        position = k
        if indexing == "xy" and len(tensors) >= 2 and k < 2:
            position = 1 - k
        shape = [1] * len(tensors)
        shape[position] = sizes[position]
        out.append(broadcast_to(reshape(t, tuple(shape)), tuple(sizes)))
    return tuple(out)
