"""Ops that move data around: reshape, transpose, indexing, concat/stack/split,
dtype casts and device copies."""

from __future__ import annotations

from typing import Any, Sequence

from .. import backend
from ..autograd import AxisError, Function
from ..tensor import Tensor
from ._util import int_tuple, normalize_axis, one_axis, sum_to, tensor_arg


class Reshape(Function):
    def __init__(self, shape: tuple) -> None:
        self.shape = shape

    def forward(self, x: Any) -> Any:
        self.in_shape = x.shape
        return x.reshape(self.shape)

    def backward(self, gy: Any) -> Any:
        return gy.reshape(self.in_shape)


class Transpose(Function):
    def __init__(self, axes: tuple | None) -> None:
        self.axes = axes

    def forward(self, x: Any) -> Any:
        return x.transpose(self.axes)

    def backward(self, gy: Any) -> Any:
        if self.axes is None:
            return gy.transpose()
        inverse = [0] * len(self.axes)
        for i, a in enumerate(self.axes):
            inverse[a] = i
        return gy.transpose(inverse)


class BroadcastTo(Function):
    name = "broadcast_to"

    def __init__(self, shape: tuple) -> None:
        self.shape = shape

    def forward(self, x: Any) -> Any:
        self.in_shape = x.shape
        return self.xp.broadcast_to(x, self.shape)

    def backward(self, gy: Any) -> Any:
        return sum_to(gy, self.in_shape)


def _is_basic(index: Any) -> bool:
    """True when ``index`` uses only ints, slices, None and Ellipsis (a view, no repeats)."""
    parts = index if isinstance(index, tuple) else (index,)
    return all(p is None or p is Ellipsis or isinstance(p, (int, slice)) for p in parts)


def _index_arrays(index: Any, xp: Any) -> Any:
    """Tensors and lists inside an index become arrays of the right module."""
    def convert(p: Any) -> Any:
        if isinstance(p, Tensor):
            p = p.data          # an index Tensor on another device is copied below, like an array
        if isinstance(p, list):
            return xp.asarray(p)
        if backend.is_array(p) and backend.array_module(p) is not xp:
            return xp.asarray(backend.to_numpy(p)) if xp is not backend.numpy else backend.to_numpy(p)
        return p
    if isinstance(index, tuple):
        return tuple(convert(p) for p in index)
    return convert(index)


class GetItem(Function):
    """x[index]; repeated integer indices accumulate their gradients."""

    name = "getitem"

    def __init__(self, index: Any) -> None:
        self.index = index

    def forward(self, x: Any) -> Any:
        self.index = index = _index_arrays(self.index, self.xp)
        self.in_shape, self.in_dtype = x.shape, x.dtype
        return x[index]

    def backward(self, gy: Any) -> Any:
        gx = self.xp.zeros(self.in_shape, dtype=gy.dtype)
        if _is_basic(self.index):
            gx[self.index] = gy
        else:
            backend.scatter_add(self.xp, gx, self.index, gy)
        return gx


class Concat(Function):
    def __init__(self, axis: int) -> None:
        self.axis = axis

    def forward(self, *xs: Any) -> Any:
        self.sizes = [x.shape[self.axis] for x in xs]
        return self.xp.concatenate(xs, axis=self.axis)

    def backward(self, gy: Any) -> tuple:
        points, total = [], 0
        for size in self.sizes[:-1]:
            total += size
            points.append(total)
        return tuple(self.xp.split(gy, points, axis=self.axis))


class Stack(Function):
    def __init__(self, axis: int) -> None:
        self.axis = axis

    def forward(self, *xs: Any) -> Any:
        return self.xp.stack(xs, axis=self.axis)

    def backward(self, gy: Any) -> tuple:
        return tuple(self.xp.moveaxis(gy, self.axis, 0))


class Split(Function):
    """Split along ``axis`` at ``points`` into several outputs (one node), as ``numpy.split``.

    Part i is ``x[points[i-1]:points[i]]`` along the axis, with Python's slice
    rules, so points may be negative, past the end or out of order as in NumPy.
    """

    multiple = True

    def __init__(self, points: list, axis: int, n_outputs: int) -> None:
        self.points, self.axis, self.n_outputs = points, axis, n_outputs

    def forward(self, x: Any) -> Any:
        self.in_shape = x.shape
        bounds = [0, *self.points, x.shape[self.axis]]
        # basic slices with the raw points, exactly as numpy.split takes them: views of x,
        # without numpy.split's per-call Python overhead
        before = (slice(None),) * self.axis
        return tuple([x[before + (slice(lo, hi),)] for lo, hi in zip(bounds, bounds[1:])])

    def backward(self, *grads: Any) -> Any:
        xp = self.xp
        size = self.in_shape[self.axis]
        points = self.points
        if all(g is not None for g in grads) and points == sorted(points) and 0 <= min(points, default=0) \
                and max(points, default=0) <= size:
            # the usual case (chunk): sorted points inside the axis, the parts tile the input in order
            return xp.concatenate(grads, axis=self.axis)
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

    multiple = True

    def __init__(self, axis: int, n_outputs: int) -> None:
        self.axis, self.n_outputs = axis, n_outputs

    def forward(self, x: Any) -> Any:
        self.in_shape, self.in_dtype = x.shape, x.dtype
        moved = self.xp.moveaxis(x, self.axis, 0)
        return tuple(moved[i, ...] for i in range(len(moved)))   # [i, ...]: a 0-d array, never a NumPy scalar

    def backward(self, *grads: Any) -> Any:
        xp = self.xp
        gx = xp.zeros(self.in_shape, dtype=self.in_dtype)
        view = xp.moveaxis(gx, self.axis, 0)
        for i, g in enumerate(grads):
            if g is not None:
                view[i] = g
        return gx


class AsType(Function):
    name = "astype"

    def __init__(self, dtype: Any) -> None:
        self.dtype = dtype

    def forward(self, x: Any) -> Any:
        self.in_dtype = x.dtype
        return x.astype(self.dtype)

    def backward(self, gy: Any) -> Any:
        return gy.astype(self.in_dtype)


class ToDevice(Function):
    name = "to_device"

    def __init__(self, device: backend.Device) -> None:
        self.device = device

    def forward(self, x: Any) -> Any:
        self.in_device = backend.device_of(x)
        return backend.to_device(x, self.device)

    def backward(self, gy: Any) -> Any:
        return backend.to_device(gy, self.in_device)


# --- public functions -------------------------------------------------------

def reshape(x: Tensor, *shape: Any) -> Tensor:
    """The same data in a new shape (one dimension may be -1)."""
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = tuple(shape[0])
    return Reshape(int_tuple(shape, "reshape"))(tensor_arg(x, "reshape"))


def transpose(x: Tensor, *axes: Any) -> Tensor:
    """Permute the axes (reverse them when none are given), as ``numpy.transpose``."""
    if len(axes) == 1 and isinstance(axes[0], (tuple, list)):
        axes = tuple(axes[0])
    x = tensor_arg(x, "transpose")
    if not axes:
        return Transpose(None)(x)
    permutation = normalize_axis(axes, x.ndim, "transpose")
    if sorted(permutation) != list(range(x.ndim)):
        raise ValueError(f"transpose: axes {axes} are not a permutation of the {x.ndim} axes of shape {x.shape}")
    return Transpose(permutation)(x)


def swapaxes(x: Tensor, axis1: int, axis2: int) -> Tensor:
    """Exchange two axes."""
    x = tensor_arg(x, "swapaxes")
    a, b = one_axis(axis1, x.ndim, "swapaxes"), one_axis(axis2, x.ndim, "swapaxes")
    perm = list(range(x.ndim))
    perm[a], perm[b] = perm[b], perm[a]
    return Transpose(tuple(perm))(x)


def expand_dims(x: Tensor, axis: int) -> Tensor:
    """Insert a length-1 axis at ``axis``."""
    x = tensor_arg(x, "expand_dims")
    a = one_axis(axis, x.ndim + 1, "expand_dims")
    shape = list(x.shape)
    shape.insert(a, 1)
    return Reshape(tuple(shape))(x)


def squeeze(x: Tensor, axis: Any = None) -> Tensor:
    """Remove length-1 axes (all of them, or those in ``axis``)."""
    x = tensor_arg(x, "squeeze")
    axes = normalize_axis(axis, x.ndim, "squeeze")
    if axes is None:
        shape = tuple(s for s in x.shape if s != 1)
    else:
        for a in axes:
            if x.ndim and x.shape[a] != 1:
                raise ValueError(f"squeeze: axis {a} has size {x.shape[a]}, not 1 (shape {x.shape})")
        shape = tuple(s for i, s in enumerate(x.shape) if i not in axes)
    return Reshape(shape)(x)


def broadcast_to(x: Tensor, shape: Any) -> Tensor:
    """A broadcast view of ``x`` with ``shape``; the gradient is summed back."""
    return BroadcastTo(int_tuple(shape, "broadcast_to"))(tensor_arg(x, "broadcast_to"))


def getitem(x: Tensor, index: Any) -> Tensor:
    """x[index]: ints, slices, None, Ellipsis, integer arrays and boolean masks."""
    return GetItem(index)(x)


def _existing_axis(axis: Any, x: Tensor, name: str) -> int:
    """One axis of ``x`` (a 0-d tensor has none to split along)."""
    if x.ndim == 0:
        raise AxisError(f"{name}: a 0-d tensor has no axis {axis!r} to {name} along")
    return one_axis(axis, x.ndim, name)


def _as_list(tensors: Any, name: str) -> list:
    if isinstance(tensors, Tensor) or not isinstance(tensors, Sequence) or not tensors:
        raise TypeError(f"{name}: expected a non-empty list of tensors")
    return [tensor_arg(t, name) for t in tensors]


def concat(tensors: Sequence[Tensor], axis: int = 0) -> Tensor:
    """Join tensors along an existing ``axis``."""
    tensors = _as_list(tensors, "concat")
    ndim = getattr(tensors[0], "ndim", 0)
    a = one_axis(axis, ndim, "concat")
    return Concat(a)(*tensors)


def stack(tensors: Sequence[Tensor], axis: int = 0) -> Tensor:
    """Join same-shape tensors along a new ``axis``."""
    tensors = _as_list(tensors, "stack")
    ndim = getattr(tensors[0], "ndim", 0)
    a = one_axis(axis, ndim + 1, "stack")
    return Stack(a)(*tensors)


def split(x: Tensor, indices_or_sections: Any, axis: int = 0) -> list:
    """As ``numpy.split``: an int gives that many equal parts, a list gives split points."""
    x = tensor_arg(x, "split")
    a = _existing_axis(axis, x, "split")
    size = x.shape[a]
    if backend.is_array(indices_or_sections) and indices_or_sections.ndim:
        indices_or_sections = indices_or_sections.tolist()   # an array of split points, as numpy.split takes
    if backend.is_array(indices_or_sections) or isinstance(indices_or_sections, (int, backend.numpy.integer)) \
            and not isinstance(indices_or_sections, bool):
        n = int_tuple(indices_or_sections, "split", "indices_or_sections")[0]   # an int or a 0-d array: sections
        if n <= 0 or size % n:
            raise ValueError(f"split: axis {a} of size {size} does not divide into {n} equal parts")
        points = [size // n * i for i in range(1, n)]
    else:
        points = list(int_tuple(indices_or_sections, "split", "indices_or_sections"))
    return list(Split(points, a, len(points) + 1)(x))


def chunk(x: Tensor, chunks: int, axis: int = 0) -> list:
    """Split into ``chunks`` parts of ceil(size / chunks) along ``axis`` (as torch.chunk)."""
    x = tensor_arg(x, "chunk")
    a = _existing_axis(axis, x, "chunk")
    if isinstance(chunks, bool) or not isinstance(chunks, int):
        raise TypeError(f"chunk: chunks must be an int, got {chunks!r}")
    if chunks <= 0:
        raise ValueError(f"chunk: chunks must be positive, got {chunks}")
    size = x.shape[a]
    step = -(-size // chunks)
    # fewer parts than asked when the size does not divide; an empty axis gives `chunks` empty parts (as torch)
    points = list(range(step, size, step)) if step else [0] * (chunks - 1)
    return list(Split(points, a, len(points) + 1)(x))


def unbind(x: Tensor, axis: int = 0) -> list:
    """The slices along ``axis`` as a list (one graph node for all of them)."""
    x = tensor_arg(x, "unbind")
    a = _existing_axis(axis, x, "unbind")
    return list(Unbind(a, x.shape[a])(x))


def astype(x: Tensor, dtype: Any) -> Tensor:
    """Cast to ``dtype`` (the gradient is cast back)."""
    try:
        dtype = backend.numpy.dtype(dtype)
    except TypeError as error:
        raise TypeError(f"astype: {dtype!r} is not a dtype ({error})") from error
    if dtype.kind not in "biufc":
        raise TypeError(f"astype: tensors hold numbers; cannot cast to {dtype}")
    out = AsType(dtype)(tensor_arg(x, "astype"))
    if out.requires_grad and out.dtype.kind not in "fc":
        out = out.detach()
    return out


def to_device(x: Tensor, device: Any) -> Tensor:
    """Copy to another device (the gradient is copied back)."""
    return ToDevice(backend.Device(device))(x)
