"""More of PyTorch's top-level functions: ``nonzero_static`` (nonzero padded to a fixed count), ``fill`` (a new
tensor of input's shape holding one value), ``frombuffer`` and ``from_dlpack`` (tensors over memory another object
owns), the deprecated inclusive ``range``, the legacy ``frobenius_norm``/``nuclear_norm`` (with PyTorch's
deprecation warnings), and ``matrix_rank``, which torch 2.13 keeps at its top level only to say it was removed.
Also the Tensor methods ``new_empty_strided``, ``nonzero_static``, ``prelu`` and ``hardshrink``.
"""

from __future__ import annotations

import ctypes
import enum
import math
import warnings
from typing import Any

from .. import backend
from ..autograd import Function
from ..dtypes import get_default_dtype
from ..outputs import user_stacklevel
from ..recording import note_draw
from ..tensor import Tensor
from ._util import NOT_GIVEN, ArgumentTypeError, flag, int_arg, int_tuple, keep_flag, number, required_dim, tensor_arg
from .extras import empty_strided
from .norms import matrix_norm, vector_norm

__all__ = ["fill", "frobenius_norm", "from_dlpack", "frombuffer", "matrix_rank", "nonzero_static", "nuclear_norm",
           "range", "to_dlpack"]


# --- nonzero_static ------------------------------------------------------------------------------------

def nonzero_static(input: Tensor, *, size: int, fill_value: int = -1) -> Tensor:  # noqa: A002 - PyTorch's name
    """The indices of the non-zero elements as :func:`nonzero` gives them, (count, ndim) int64, cut or padded
    with rows of ``fill_value`` to exactly ``size`` rows (torch.nonzero_static): (size, ndim)."""
    name = "nonzero_static"
    x = tensor_arg(input, name)
    size = int_arg(size, name, "size")
    if size < 0:
        raise RuntimeError(f"{name}: 'size' must be an non-negative integer, got {size}")
    fill_value = int_arg(fill_value, name, "fill_value")
    xp = backend.array_module(x.data)

    def make(data: Any) -> Any:
        found = xp.stack([i.astype("int64", copy=False) for i in xp.nonzero(data)], axis=1) if data.ndim else \
            xp.zeros((int(bool(data)), 0), dtype="int64")
        out = xp.full((size, data.ndim), fill_value, dtype="int64")
        n = min(size, found.shape[0])
        out[:n] = found[:n]
        return out
    # a recorded draw, as nonzero's: an mg.compile replay finds the new values' indices
    return note_draw(name, make, (x,), Tensor._make(make(x.data), False, None, 0))


# --- fill ----------------------------------------------------------------------------------------------

class Fill(Function):
    """A tensor of x's shape and dtype holding ``value``: no gradient to x, the sum of the gradient to a
    0-d tensor ``value``."""

    def forward(self, x: Any, value: Any) -> Any:
        self.value_dtype = getattr(value, "dtype", None)
        out = self.xp.empty(x.shape, dtype=x.dtype)
        out[...] = value   # a number or a 0-d array (CuPy's full takes no array)
        return out

    def backward(self, gy: Any) -> tuple:
        gx = self.xp.zeros_like(gy) if self.needs_grad[0] else None
        gvalue = gy.sum().astype(self.value_dtype) if len(self.needs_grad) > 1 and self.needs_grad[1] else None
        return gx, gvalue


def fill(input: Tensor, value: Any) -> Tensor:  # noqa: A002
    """torch.fill: a new tensor of input's shape and dtype, every element ``value`` (a number or a 0-d tensor,
    cast as ``fill_`` casts); differentiable in a tensor ``value`` (input gets a zero gradient)."""
    name = "fill"
    x = tensor_arg(input, name)
    if isinstance(value, Tensor):
        if value.ndim != 0:
            raise RuntimeError(f"{name}: fill_ only supports 0-dimension value tensor but got tensor with "
                               f"{value.ndim} dimensions.")
        if value.device != x.device:
            raise ValueError(f"{name}: input is on {x.device} but value on {value.device}")
    elif isinstance(value, bool):
        value = int(value)
    else:
        value = number(value, name, "value")
    return Fill()(x, value)


# --- memory other objects own ----------------------------------------------------------------------------

def frombuffer(buffer: Any, *, dtype: Any, count: int = -1, offset: int = 0, requires_grad: bool = False) -> Tensor:
    """A 1-D CPU tensor over the memory of an object with the buffer protocol (bytes, bytearray, memoryview,
    array.array …), as torch.frombuffer: ``count`` elements of ``dtype`` (-1: all) from byte ``offset``. The
    tensor shares the memory; a read-only buffer gives PyTorch's warning and a read-only tensor (in-place ops on
    it raise)."""
    name = "frombuffer"
    dtype = backend.as_dtype(dtype, name)
    count, offset = int_arg(count, name, "count"), int_arg(offset, name, "offset")
    requires_grad = flag(requires_grad, name, "requires_grad")
    try:
        view = memoryview(buffer)
    except TypeError:
        raise ValueError(f"{name}: object does not implement Python buffer protocol (got "
                         f"{type(buffer).__name__}).") from None
    length, itemsize = view.nbytes, dtype.itemsize
    if length <= 0 or count == 0:
        raise ValueError(f"{name}: both buffer length ({length}) and count ({count}) must not be 0")
    if not 0 <= offset < length:
        raise ValueError(f"{name}: offset ({offset} bytes) must be non-negative and no greater than buffer length "
                         f"({length} bytes) minus 1")
    if count < 0:
        if (length - offset) % itemsize:
            raise ValueError(f"{name}: buffer length ({length - offset} bytes) after offset ({offset} bytes) must be "
                             f"a multiple of element size ({itemsize})")
        count = (length - offset) // itemsize
    elif length - offset < count * itemsize:
        raise ValueError(f"{name}: requested buffer length ({count} * {itemsize} bytes) after offset ({offset} "
                         f"bytes) must not be greater than actual buffer length ({length} bytes)")
    if view.readonly:
        warnings.warn("The given buffer is not writable, and PyTorch does not support non-writable tensors; minigrad "
                      "keeps the tensor read-only. Copy the buffer (or make it writable) to write to the tensor.",
                      UserWarning, stacklevel=2)
    data = backend.numpy.frombuffer(view.cast("B"), dtype=dtype, count=count, offset=offset)
    out = Tensor._make(data, False, None, 0)
    if requires_grad:
        out.requires_grad_(True)
    return out


class DLDeviceType(enum.IntEnum):
    """DLPack's device types (``torch.utils.dlpack.DLDeviceType``), as ``__dlpack_device__`` names them."""

    kDLCPU = 1
    kDLCUDA = 2
    kDLCUDAHost = 3
    kDLOpenCL = 4
    kDLVulkan = 7
    kDLMetal = 8
    kDLVPI = 9
    kDLROCM = 10
    kDLROCMHost = 11
    kDLExtDev = 12
    kDLCUDAManaged = 13
    kDLOneAPI = 14
    kDLWebGPU = 15
    kDLHexagon = 16
    kDLMAIA = 17


_DLPACK_CUDA = (DLDeviceType.kDLCUDA, DLDeviceType.kDLCUDAHost, DLDeviceType.kDLCUDAManaged)


def from_dlpack(ext_tensor: Any, *, device: Any = None, copy: bool | None = None) -> Tensor:
    """A tensor sharing the memory of another library's array through the DLPack protocol (torch.from_dlpack):
    a NumPy or CuPy array, a torch tensor, a JAX array … (anything with ``__dlpack__``), or a bare DLPack capsule
    (``torch.utils.dlpack.to_dlpack(t)``; it can be consumed once only, as PyTorch's). CPU memory gives a NumPy-
    backed tensor, CUDA memory a CuPy-backed one. ``device``: move the result there (a copy); ``copy=True`` always
    copies, ``copy=False`` refuses a move."""
    name = "from_dlpack"
    shared = _shared_from_dlpack(name, ext_tensor)
    if device is not None and shared.device != backend.Device(str(device)):
        if copy is False:
            raise ValueError(f"{name}: copy=False, but the array is on {shared.device} and device={device!r} "
                             f"needs a copy")
        return shared.to(device)
    return shared.clone() if copy else shared


def _shared_from_dlpack(name: str, ext_tensor: Any) -> Tensor:
    """A tensor over ``ext_tensor``'s memory (see :func:`from_dlpack`): NumPy's array for host memory, CuPy's for
    CUDA memory; a minigrad Tensor's own array."""
    if isinstance(ext_tensor, Tensor):
        if ext_tensor.requires_grad:   # as torch.from_dlpack(tensor): its __dlpack__ refuses it
            raise BufferError(f"{name}: can't export a tensor that requires grad; use tensor.detach()")
        return Tensor._make(ext_tensor.data, False, None, 0)
    if type(ext_tensor).__name__ == "PyCapsule":
        ext_tensor = _Capsule(name, ext_tensor)
    if not hasattr(ext_tensor, "__dlpack__") or not hasattr(ext_tensor, "__dlpack_device__"):
        raise TypeError(f"{name}: expected an object with __dlpack__ and __dlpack_device__ (a tensor or array of "
                        f"another library) or a DLPack capsule, got {type(ext_tensor).__name__}")
    device_type = int(ext_tensor.__dlpack_device__()[0])
    if device_type == DLDeviceType.kDLCPU:
        data = backend.numpy.from_dlpack(ext_tensor)
        if isinstance(ext_tensor, _Capsule) and ext_tensor.legacy:   # NumPy makes it read-only, PyTorch does not
            data = backend.numpy.asarray(_WritableView(data))
    elif device_type in _DLPACK_CUDA:
        data = backend.cupy_module().from_dlpack(ext_tensor)
    else:
        raise NotImplementedError(f"{name}: DLPack device type {device_type} is not supported (CPU and CUDA are)")
    return Tensor._make(data, False, None, 0)


_capsule_name = ctypes.pythonapi.PyCapsule_GetName
_capsule_name.restype, _capsule_name.argtypes = ctypes.c_char_p, [ctypes.py_object]
_capsule_pointer = ctypes.pythonapi.PyCapsule_GetPointer
_capsule_pointer.restype, _capsule_pointer.argtypes = ctypes.c_void_p, [ctypes.py_object, ctypes.c_char_p]
# where the DLTensor's device (int32 type, int32 index) lies in the struct a capsule holds: after the DLTensor's
# data pointer, in a DLManagedTensor ("dltensor") at its start, in a DLManagedTensorVersioned after its version,
# manager context, deleter and flags
_DEVICE_OFFSET = {b"dltensor": 8, b"dltensor_versioned": 32 + 8}


class _Capsule:
    """A bare DLPack capsule behind the protocol NumPy's and CuPy's ``from_dlpack`` read: ``__dlpack__`` hands the
    capsule over (the reader consumes it), ``__dlpack_device__`` reads its DLTensor's device."""

    def __init__(self, name: str, capsule: Any) -> None:
        kind = _capsule_name(capsule)
        if kind not in _DEVICE_OFFSET:   # "used_dltensor": renamed by the reader that consumed it
            raise RuntimeError(f"{name} received an invalid capsule (named {kind and kind.decode()!r}). Note that "
                               f"DLTensor capsules can be consumed only once, so you might have already constructed "
                               f"a tensor from it once.")
        address = _capsule_pointer(capsule, kind) + _DEVICE_OFFSET[kind]
        self.capsule, self.legacy = capsule, kind == b"dltensor"   # a legacy DLTensor has no read-only flag
        self.device = (ctypes.c_int32.from_address(address).value, ctypes.c_int32.from_address(address + 4).value)

    def __dlpack__(self, **_options: Any) -> Any:
        return self.capsule

    def __dlpack_device__(self) -> tuple:
        return self.device


class _WritableView:
    """The memory of a read-only NumPy array ``base`` as a writable array (``numpy.asarray(_WritableView(base))``),
    which keeps ``base`` alive; for an array NumPy made read-only only because its DLPack capsule had no flags."""

    def __init__(self, base: Any) -> None:
        self.base = base   # the name memory_owner follows (as NumPy's as_strided holder)
        self.__array_interface__ = {**base.__array_interface__, "data": (base.ctypes.data, False)}


def _dlpack(self: Tensor, *, stream: Any = None, max_version: Any = None, dl_device: Any = None,
            copy: bool | None = None) -> Any:
    """``Tensor.__dlpack__``: the array's DLPack capsule, so ``torch.from_dlpack(t)``, ``np.from_dlpack(t)`` and
    ``cupy.from_dlpack(t)`` share this tensor's memory. A tensor that requires grad is refused (BufferError, as
    PyTorch's: the other library would see its values but not its graph): export ``t.detach()``. So is a view with
    a negative stride (``x[::-1]``) unless ``copy=True``: PyTorch has no such strides (its ``from_dlpack`` would
    abort the process). A legacy capsule (no ``max_version``: ``mg.to_dlpack``) of an expanded view, which NumPy
    marks read-only, is exported as PyTorch exports it (such capsules carry no read-only flag)."""
    _check_exportable(self, copy)
    data = self.data
    if (max_version is None or tuple(max_version) < (1, 0)) and _broadcast_view(data):
        data = backend.numpy.asarray(_WritableView(data))
    given = {"stream": stream, "max_version": max_version, "dl_device": dl_device, "copy": copy}
    return data.__dlpack__(**{k: v for k, v in given.items() if v is not None})


def _check_exportable(tensor: Tensor, copy: bool | None) -> None:
    """BufferError, as PyTorch's ``__dlpack__``, for a tensor DLPack cannot hand over (see ``_dlpack``)."""
    if tensor.requires_grad:
        raise BufferError("__dlpack__: can't export a tensor that requires grad; use tensor.detach()")   # torch's
    data = tensor.data
    if not copy and any(n > 1 and step < 0 for n, step in zip(data.shape, data.strides)):   # (a size-1 dim's: none)
        raise BufferError(f"__dlpack__: can't export a view with a negative stride (strides {tensor.stride()}); "
                          f"PyTorch does not support them: export x.contiguous() or pass copy=True")


def _broadcast_view(array: Any) -> bool:
    """Whether a read-only host array is a view NumPy made read-only (an expanded view) of writable memory."""
    if type(array) is not backend.numpy.ndarray or array.flags.writeable:
        return False
    owner = array
    while isinstance(owner.base, backend.numpy.ndarray):
        owner = owner.base
    return owner.base is None and owner.flags.writeable


def _dlpack_device(self: Tensor) -> tuple:
    """``Tensor.__dlpack_device__``: (DLPack device type, index) of the array (``DLDeviceType.kDLCPU``, 0 for a
    host tensor; ``kDLCUDA`` and the GPU's index for a CUDA one), as PyTorch's."""
    kind, index = self.data.__dlpack_device__()
    return DLDeviceType(int(kind)), int(index)


def to_dlpack(tensor: Tensor) -> Any:
    """torch.to_dlpack: a DLPack capsule over ``tensor``'s memory (``tensor.__dlpack__()``), for a library that
    reads capsules; prefer handing the tensor itself to ``from_dlpack``. The capsule keeps the shape, strides
    and dtype."""
    if not isinstance(tensor, Tensor):
        raise TypeError(f"to_dlpack: expected a Tensor, got {type(tensor).__name__}")
    return _dlpack(tensor)


# --- the deprecated range ----------------------------------------------------------------------------------

_RANGE_DEPRECATED = ("torch.range is deprecated and will be removed in a future release because its behavior is "
                     "inconsistent with Python's range builtin. Instead, use torch.arange, which produces values in "
                     "[start, end).")


def range(start: Any, end: Any, step: Any = 1, *, dtype: Any = None, device: Any = None,  # noqa: A001
          requires_grad: bool = False) -> Tensor:
    """The deprecated torch.range (with its warning): ``start, start + step, …`` up to and including ``end``,
    ``⌊(end - start) / step⌋ + 1`` values, in the default float dtype unless ``dtype`` says otherwise."""
    warnings.warn(_RANGE_DEPRECATED, UserWarning, stacklevel=user_stacklevel(2))
    name = "range"
    start, end, step = (number(v, name, what) for v, what in ((start, "start"), (end, "end"), (step, "step")))
    if step == 0:
        raise RuntimeError(f"{name}: step must be nonzero")
    if (end - start) * step < 0:
        raise RuntimeError(f"{name}: upper bound and lower bound inconsistent with step sign (start {start}, end "
                           f"{end}, step {step})")
    dtype = get_default_dtype() if dtype is None else backend.as_dtype(dtype, name)
    n = math.floor((end - start) / step) + 1
    dev = backend.resolve_device(device)
    xp = backend.module_for(dev)
    with backend.on_device(dev):
        data = (start + xp.arange(n, dtype="float64") * step).astype(dtype)   # in float64, as PyTorch's
    out = Tensor._make(data, False, None, 0)
    if flag(requires_grad, name, "requires_grad"):
        out.requires_grad_(True)
    return out


# --- legacy norms -----------------------------------------------------------------------------------------------

def frobenius_norm(input: Tensor, dim: Any = NOT_GIVEN, keepdim: bool = False, *, axis: Any = NOT_GIVEN,  # noqa: A002
                   keepdims: bool | None = None) -> Tensor:
    """The legacy torch.frobenius_norm (with its deprecation warning): ``linalg.vector_norm(input, 2, dim,
    keepdim)`` over one or two dims. ``axis=`` and ``keepdims=`` are PyTorch's aliases of ``dim=`` and
    ``keepdim=``."""
    dim, keepdim = required_dim("frobenius_norm", dim, axis), keep_flag("frobenius_norm", keepdim, keepdims)
    warnings.warn("frobenius_norm is deprecated and it is just left for JIT compatibility. It will be removed in "
                  "a future PyTorch release. Please use `linalg.vector_norm(A, 2., dim, keepdim)` instead",
                  UserWarning, stacklevel=user_stacklevel(2))
    name = "frobenius_norm"
    x = tensor_arg(input, name)
    dims = int_tuple(dim, name, "dim")
    if len(dims) > 2:
        raise RuntimeError(f"{name}: Expected at most 2 dimensions, but got {len(dims)} dimensions instead.")
    if x.dtype.kind not in "fc":
        raise ArgumentTypeError(f"{name}: input dtype should be either floating point or complex, got {x.dtype}")
    return vector_norm(x, 2, dims, flag(keepdim, name, "keepdim"))


def nuclear_norm(input: Tensor, dim: Any = None, keepdim: bool = False, *, axis: Any = NOT_GIVEN,  # noqa: A002
                 keepdims: bool | None = None) -> Tensor:
    """The legacy torch.nuclear_norm (with its deprecation warning): ``linalg.matrix_norm(input, 'nuc', dim,
    keepdim)``: over the last two dims (a batch of matrices: (…, m, n) → (…)), or the two ``dim``. ``axis=`` and
    ``keepdims=`` are PyTorch's aliases of ``dim=`` and ``keepdim=``."""
    if axis is not NOT_GIVEN:
        if dim is not None:
            raise TypeError("nuclear_norm() got multiple values for argument 'dim' (axis= is its alias)")
        dim = axis
    keepdim = keep_flag("nuclear_norm", keepdim, keepdims)
    warnings.warn("nuclear_norm is deprecated and it is just left for JIT compatibility. It will be removed in a "
                  "future PyTorch release. Please use `linalg.matrix_norm(A, 'nuc', dim, keepdim)` instead",
                  UserWarning, stacklevel=user_stacklevel(2))
    name = "nuclear_norm"
    x = tensor_arg(input, name)
    if isinstance(dim, bool):   # nuclear_norm(input, keepdim)
        dim, keepdim = None, dim
    if dim is None:   # PyTorch 2.13 reduces the last two dims of any batch
        dim = (-2, -1)
    dims = int_tuple(dim, name, "dim")
    if len(dims) != 2:
        raise RuntimeError(f"{name}: dim must be a 2-tuple of ints, got {list(dims)}")
    return matrix_norm(x, "nuc", dims, flag(keepdim, name, "keepdim"))


def matrix_rank(input: Any, tol: Any = None, symmetric: bool = False, *args: Any, **kwargs: Any) -> Any:  # noqa: A002
    """torch.matrix_rank as torch 2.13 has it: a RuntimeError saying it was removed (``mg.linalg.matrix_rank``
    takes (…, m, n) → (…))."""
    raise RuntimeError("matrix_rank: This function was deprecated since version 1.9 and is now removed. Please use "
                       "the `mg.linalg.matrix_rank` function instead. The parameter 'symmetric' was renamed in "
                       "`linalg.matrix_rank()` to 'hermitian'.")


# --- Tensor methods ----------------------------------------------------------------------------------------

def _new_empty_strided(self: Tensor, size: Any, stride: Any, *, dtype: Any = None, device: Any = None,
                       requires_grad: bool = False, layout: Any = None, pin_memory: bool = False) -> Tensor:
    """``x.new_empty_strided(size, stride)``: :func:`empty_strided` with x's dtype and device unless given."""
    return empty_strided(size, stride, dtype=self.dtype if dtype is None else dtype,
                         device=self.device if device is None else device, requires_grad=requires_grad,
                         layout=layout, pin_memory=pin_memory)


def _nn_function(name: str) -> Any:
    """``mg.<name>``, which the nn package defines (minigrad loads it on first use; it never imports nn)."""
    import minigrad
    return getattr(minigrad, name)


def _prelu(self: Tensor, weight: Tensor) -> Tensor:
    """``x.prelu(weight)``: ``F.prelu(x, weight)`` — x where positive, else weight · x (weight per channel, dim 1)."""
    return _nn_function("prelu")(self, weight)


def _hardshrink(self: Tensor, lambd: float = 0.5) -> Tensor:
    """``x.hardshrink(lambd)``: ``F.hardshrink`` — x where |x| > lambd, else 0."""
    return _nn_function("hardshrink")(self, lambd)


def _nonzero_static(self: Tensor, *, size: int, fill_value: int = -1) -> Tensor:
    """``x.nonzero_static(size=, fill_value=-1)``: :func:`nonzero_static`."""
    return nonzero_static(self, size=size, fill_value=fill_value)


METHODS: dict = {"new_empty_strided": _new_empty_strided, "prelu": _prelu, "hardshrink": _hardshrink,
                 "nonzero_static": _nonzero_static, "__dlpack__": _dlpack, "__dlpack_device__": _dlpack_device}
