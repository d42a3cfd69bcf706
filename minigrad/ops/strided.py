"""PyTorch's strided views and layout: ``as_strided``, ``mg.strided`` (``Tensor.layout``), and the
conjugate transposes ``Tensor.H``/``mH``/``adjoint``. ``arrange.py`` lists them in its ``__all__`` and
``METHODS``.

``as_strided(x, size, stride, storage_offset)`` reads element ``[i, j, …]`` at
``storage_offset + i * stride[0] + j * stride[1] + …`` of x's storage, in elements, as PyTorch's.
On the CPU the storage is the memory x's array views (the array at the end of its ``.base`` chain, as
``Tensor.storage_offset()`` counts), and the result is a NumPy view of it: writes reach x, and a result
whose elements may overlap in memory is read-only (an in-place op on it raises, naming the op). On
a GPU the result is a copy, read from a tensor that owns contiguous memory. Reads past the storage
raise instead of reading other memory.
"""

from __future__ import annotations

import contextlib
import math
import threading
import warnings
from typing import Any, Iterator

from .. import backend
from ..autograd import Function
from ..recording import is_recording
from ..tensor import Tensor, _address
from ._util import ShapeMismatchError, int_arg, int_tuple, tensor_arg
from .complex_ops import conj
from .shape import reshape, swapaxes, track_view

# --- the layout ----------------------------------------------------------------------------------------


class layout:  # noqa: N801 - PyTorch's name (torch.layout)
    """A tensor's memory layout; minigrad has one, :data:`strided` (a dense array with strides)."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return f"mg.{self.name}"

    def __reduce__(self) -> str:
        return self.name   # pickles as the module attribute: the one object


strided = layout("strided")


def _layout(x: Tensor) -> layout:
    """``x.layout``: always :data:`strided` (PyTorch's sparse layouts do not exist here)."""
    return strided


# --- as_strided ----------------------------------------------------------------------------------------

def _storage(array: Any) -> tuple:
    """``(flat storage array or None, x's offset in it, its size, x's strides)``, all in elements.

    NumPy: the memory at the end of the ``.base`` chain, as a 1-D view in x's dtype. Elsewhere: x's
    own memory, which must be C-contiguous and x's own (``None`` when it is not).
    """
    itemsize = array.itemsize
    strides = tuple(s // itemsize for s in array.strides)
    if type(array) is not backend.numpy.ndarray:
        owns = array.base is None and array.flags.c_contiguous
        return (array.reshape(-1) if owns else None), 0, array.size, strides
    root = array
    while True:   # NumPy's own strided views (unfold's windows) hang from their array through a holder object
        base = root.base if backend.is_array(root.base) else getattr(root.base, "base", None)
        if not backend.is_array(base):
            break
        root = base
    flat = None
    if root.flags.c_contiguous or root.flags.f_contiguous:
        flat = root.reshape(-1, order="A")
        if flat.dtype != array.dtype:
            flat = flat.view(backend.numpy.uint8)[:flat.nbytes - flat.nbytes % itemsize].view(array.dtype)
    return flat, (_address(array) - _address(root)) // itemsize, root.nbytes // itemsize, strides


# --- as_strided under vmap ----------------------------------------------------------------------------
# torch.func.vmap's as_strided reads example i at ``storage_offset + i * (the batch dim's stride)``: offsets
# count from example 0's place in the storage, and the result must stay inside the example. minigrad's vmap
# calls its function on ``x.select(dim, i)``, a plain view, so it says here (per call) by how much each
# mapped input's storage is shifted; a ``None`` shift: two mapped inputs share the storage at different shifts.

_vmapped = threading.local()

# not empty once as_strided has made a view of a view (whose places may lie outside that view's elements): an
# in-place op that nothing records then has ops/inplace.py read the written tensor's views again from their root
STRIDED_VIEWS_OF_VIEWS: list = []


def _root_key(array: Any) -> int | None:
    """The address of the memory at the end of a NumPy array's ``.base`` chain (None off the CPU)."""
    if type(array) is not backend.numpy.ndarray:
        return None
    flat, x_offset, _, _ = _storage(array)
    return None if flat is None else _address(array) - x_offset * array.itemsize


@contextlib.contextmanager
def vmapped_storage(examples: list) -> Iterator[None]:
    """Around one call of a vmapped function: ``examples`` is ``[(mapped input, i * its batch dim's stride)]``."""
    shifts: dict = {}
    for x, shift in examples:
        key = _root_key(x.data)
        if key is not None:
            shifts[key] = shift if shifts.get(key, shift) == shift else None
    outer = getattr(_vmapped, "levels", ())
    _vmapped.levels = (*outer, shifts)
    try:
        yield
    finally:
        _vmapped.levels = outer


def _vmapped_offset(x: Tensor, size: tuple, stride: tuple, offset: int | None, x_offset: int) -> int | None:
    """``offset`` for example i of a vmap (as torch.func.vmap's), after checking that the result stays in x."""
    key = _root_key(x.data)
    found, shift = False, 0
    for shifts in _vmapped.levels:
        if key in shifts:
            if shifts[key] is None:
                raise NotImplementedError("as_strided inside vmap: two mapped inputs share this tensor's storage "
                                          f"(shape {x.shape}); clone() them first")
            found, shift = True, shift + shifts[key]
    if not found:
        return offset
    first = x_offset - shift if offset is None else offset
    x_strides = tuple(s // x.data.itemsize for s in x.data.strides)
    low, high = _span(size, stride, first) if math.prod(size) else (first, first)
    x_low, x_high = _span(x.shape, x_strides, x_offset - shift) if x.numel() else (x_offset - shift,) * 2
    if low < x_low or high > x_high:
        raise RuntimeError(f"result = tensor.as_strided({list(size)}, {list(stride)}, {first}) can access memory "
                           f"outside of `tensor`. `result` can access some memory in range [{low}, {high}], but "
                           f"`tensor` can only access some memory in range [{x_low}, {x_high}]. This is not "
                           "supported inside of vmap, please try to rewrite the `as_strided` call as a sequence of "
                           "PyTorch view operations")
    if x.requires_grad and is_recording() and high - low and x_high - x_low != x.numel():
        xp = backend.numpy   # an example interleaved with others (vmap over a dim that is not the outermost)
        read = _places(xp, size, stride, first + shift)
        if not xp.isin(read, _places(xp, x.shape, x_strides, x_offset)).all():
            raise NotImplementedError(f"as_strided inside vmap: the result reads elements of other examples (size "
                                      f"{list(size)}, stride {list(stride)}, offset {first}, example shape "
                                      f"{x.shape}); their gradient is not built: vmap over the outermost dim")
    return None if offset is None else offset + shift


def _span(shape: tuple, strides: tuple, offset: int) -> tuple:
    """The lowest and one past the highest storage place that ``shape``/``strides`` from ``offset`` reads."""
    low = offset + sum((n - 1) * s for n, s in zip(shape, strides) if s < 0)
    high = offset + sum((n - 1) * s for n, s in zip(shape, strides) if s > 0) + 1
    return low, high


def _may_overlap(shape: tuple, strides: tuple) -> bool:
    """Whether two elements may share a place: PyTorch's test (each stride, smallest first, past the
    reach of the smaller ones); False is certain, True may be a layout too irregular to tell."""
    reach = 0
    for n, s in sorted(((n, abs(s)) for n, s in zip(shape, strides) if n > 1), key=lambda p: p[1]):
        if s <= reach:
            return True
        reach += (n - 1) * s
    return False


def _places(xp: Any, shape: tuple, strides: tuple, offset: int) -> Any:
    """The storage place of every element of a view, an int64 array of ``shape``."""
    places = xp.zeros((), dtype="int64") + offset
    for d, (n, s) in enumerate(zip(shape, strides)):
        places = places + (xp.arange(n, dtype="int64") * s).reshape((n,) + (1,) * (len(shape) - d - 1))
    return xp.broadcast_to(places, shape)


class AsStrided(Function):
    """Element ``[i, j, …]`` of the output is storage place ``offset + i * stride[0] + j * stride[1] + …``.

    Backward (PyTorch's ``as_strided_backward``): the output's gradient is added up per storage place
    (overlapping windows sum), then each element of x takes its place's sum, shared equally among the
    elements of x at one place (an expanded x); places x does not cover get nothing.
    """

    name = "as_strided"
    complex_grad = True   # linear, real coefficients (a gather and its scatter-add): the same backward (engine's gate)
    view_args = ("size", "stride", "offset")   # __init__'s: a base changed in place reads its views again (inplace.py)

    def __init__(self, size: tuple, stride: tuple, offset: int | None) -> None:
        self.size, self.stride, self.offset = size, stride, offset

    def forward(self, x: Any) -> Any:
        xp = self.xp
        flat, x_offset, _, x_strides = _storage(x)
        offset = x_offset if self.offset is None else self.offset
        self.geometry = (x.shape, x_strides, x_offset, offset)
        if xp is backend.numpy:   # a view of x's memory, as PyTorch's, whose .base is that memory
            view = backend.numpy.ndarray(self.size, x.dtype, buffer=flat, offset=min(offset, flat.size) * x.itemsize,
                                         strides=tuple(s * x.itemsize for s in self.stride))
            if _may_overlap(self.size, self.stride):
                view.flags.writeable = False
            return view
        return flat[_places(xp, self.size, self.stride, offset)]

    def backward(self, gy: Any) -> Any:
        xp = self.xp
        in_shape, x_strides, x_offset, offset = self.geometry
        if gy.size == 0 or math.prod(in_shape) == 0:
            return xp.zeros(in_shape, dtype=gy.dtype)
        out_low, out_high = _span(self.size, self.stride, offset)
        in_low, in_high = _span(in_shape, x_strides, x_offset)
        low, high = min(out_low, in_low), max(out_high, in_high)
        summed = xp.zeros(high - low, dtype=gy.dtype)
        backend.scatter_add(xp, summed, _places(xp, self.size, self.stride, offset - low), gy)
        x_places = _places(xp, in_shape, x_strides, x_offset - low)
        gx = summed[x_places]
        if _may_overlap(in_shape, x_strides):   # several elements of x at one place share its gradient
            counts = xp.zeros(high - low, dtype=gy.dtype)
            backend.scatter_add(xp, counts, x_places, xp.ones(in_shape, dtype=gy.dtype))
            gx = gx / counts[x_places]
        return gx


def as_strided(input: Tensor, size: Any, stride: Any, storage_offset: int | None = None) -> Tensor:  # noqa: A002
    """A view of ``x``'s storage with shape ``size``, element strides ``stride`` and first element at
    ``storage_offset`` (x's own offset when None), as torch.as_strided: (12,).as_strided((3, 3), (3, 1), 1)
    → the 3×3 block starting at element 1; ``(n - k + 1, k), (1, 1)`` gives overlapping windows.

    Strides are non-negative; every place read must lie in the storage (else a RuntimeError naming the
    sizes). On the CPU the result shares x's memory and is read-only where its elements may overlap; on
    a GPU it is a copy. Overlapping windows add their gradients.
    """
    x = tensor_arg(input, "as_strided")
    size, stride = int_tuple(size, "as_strided", "size"), int_tuple(stride, "as_strided", "stride")
    if len(size) != len(stride):
        raise ShapeMismatchError(f"as_strided: size {list(size)} and stride {list(stride)} must have the same length")
    if any(n < 0 for n in size):
        raise ShapeMismatchError(f"as_strided: sizes must be non-negative, got {list(size)}")
    if any(s < 0 for s in stride):
        raise ShapeMismatchError(f"as_strided: negative strides are not supported (as in PyTorch), got {list(stride)}")
    offset = None if storage_offset is None else int_arg(storage_offset, "as_strided", "storage_offset",
                                                            one_element=True)   # a SymInt: tensor([1]) too
    if offset is not None and offset < 0:
        raise ShapeMismatchError(f"as_strided: storage_offset must be non-negative, got {offset}")
    flat, x_offset, storage, _ = _storage(x.data)
    if flat is None:
        where = "x's memory is not a contiguous array" if backend.array_module(x.data) is backend.numpy else \
            "on a GPU the input must own C-contiguous memory"
        raise NotImplementedError(f"as_strided: {where} (shape {x.shape}); clone() it first")
    if getattr(_vmapped, "levels", ()):
        offset = _vmapped_offset(x, size, stride, offset, x_offset)
    first = x_offset if offset is None else offset
    if math.prod(size) and _span(size, stride, first)[1] > storage:
        raise RuntimeError(f"as_strided: size {list(size)}, stride {list(stride)} and storage offset {first} "
                           f"need a storage of {_span(size, stride, first)[1]} elements, but the tensor's "
                           f"storage (shape {x.shape}, dtype {x.dtype}) has {storage}")
    op = AsStrided(size, stride, offset)
    out = op(x)   # on the CPU a view: an in-place op on it reaches x and x's graph (on a GPU a copy)
    if type(out.data) is not backend.numpy.ndarray:
        return out
    if not STRIDED_VIEWS_OF_VIEWS and getattr(x, "_view", None):
        STRIDED_VIEWS_OF_VIEWS.append(True)
    return track_view(x, out, op)


# --- conjugate transposes ------------------------------------------------------------------------------

def _conjugate_transpose(x: Tensor, name: str, ndims: str) -> Tensor:
    """The last two dims swapped (``ndims`` "2": a matrix only; "2+": batches too), and conjugated if complex."""
    if x.dtype.kind == "c":
        x = conj(x)
    if x.ndim == 0:   # PyTorch: deprecated, the 0-d tensor itself (conjugated)
        warnings.warn(f"Tensor.{name} is deprecated on 0-D tensors (as in PyTorch); it is x.conj() there",
                      UserWarning, stacklevel=3)
        return reshape(x, ())
    if (x.ndim != 2) if ndims == "2" else (x.ndim < 2):
        what = "matrices (2-D tensors)" if ndims == "2" else "matrices or batches of matrices"
        hint = "; for batches of matrices use mH" if ndims == "2" and x.ndim > 2 else ""
        raise ShapeMismatchError(f"{name}: only supported on {what}, got a {x.ndim}-D tensor (shape {x.shape}){hint}")
    return swapaxes(x, -2, -1)


def adjoint(input: Tensor) -> Tensor:  # noqa: A002
    """The conjugate transpose of the last two dims (torch.adjoint, ``x.mH``); for real tensors ``x.mT``:
    (…, m, n) → (…, n, m)."""
    return _conjugate_transpose(tensor_arg(input, "adjoint"), "adjoint", "2+")


def _mh(x: Tensor) -> Tensor:
    """``x.mH``: the last two dims swapped and conjugated (real tensors: ``x.mT``); (…, m, n) → (…, n, m)."""
    return _conjugate_transpose(x, "mH", "2+")


def _h(x: Tensor) -> Tensor:
    """``x.H``: a matrix's conjugate transpose (real: ``x.T``); 2-D only (a 0-d tensor is itself)."""
    return _conjugate_transpose(x, "H", "2")


PROPERTIES: dict = {"layout": property(_layout), "mH": property(_mh), "H": property(_h)}
