"""PyTorch's legacy tensor types: ``mg.FloatTensor([1, 2])``, ``mg.LongTensor(3)``, ``isinstance(x, mg.FloatTensor)``
and ``x.type(mg.DoubleTensor)``, as older PyTorch programs write them.

Each is a constructor with a fixed dtype (read as :class:`Tensor`'s legacy constructor reads its arguments)
and an ``isinstance`` test of the dtype (on any device). ``mg.cuda.FloatTensor`` and its kin (PyTorch's
``torch.cuda.FloatTensor``) build on the GPU and test the device too. A legacy type names a device as well as a
dtype: ``x.type(mg.cuda.FloatTensor)`` / ``x.type('torch.cuda.FloatTensor')`` moves x to the GPU, and
``x.type('torch.FloatTensor')`` to the CPU, as PyTorch's.

Around them, PyTorch's functions of that era: ``set_default_tensor_type`` (deprecated, as in PyTorch),
``typename`` (``'minigrad.FloatTensor'``: minigrad's names of the legacy types), ``get_device``, and the storages
(``is_storage``, ``UntypedStorage``, ``TypedStorage``: ``minigrad/storage.py``).
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy

from . import backend, dtypes
from .storage import TypedStorage, UntypedStorage, is_storage
from .tensor import Tensor

__all__ = ["BoolTensor", "ByteTensor", "CharTensor", "DoubleTensor", "FloatTensor", "HalfTensor", "IntTensor",
           "LongTensor", "ShortTensor", "TypedStorage", "UntypedStorage", "get_device", "is_storage",
           "set_default_tensor_type", "typename"]


class _LegacyType(type):
    dtype: numpy.dtype
    device_type: str   # "cpu" (mg.FloatTensor) or "cuda" (mg.cuda.FloatTensor): where x.type(T) puts x

    def __call__(cls, *data: Any, device: Any = None) -> Tensor:
        if cls.device_type == "cuda":
            if device is None:
                device = "cuda"
            elif backend.Device(device).type != "cuda":
                raise RuntimeError(f"{cls.__name__}: legacy constructor expects a cuda device, got {device!r} "
                                   f"(mg.{cls.__name__} builds on the CPU)")
        return Tensor(*data, dtype=cls.dtype, device=device)

    def __instancecheck__(cls, obj: Any) -> bool:
        return isinstance(obj, Tensor) and obj.dtype == cls.dtype and (cls.device_type == "cpu"
                                                                       or obj.device.type == "cuda")

    def __repr__(cls) -> str:
        return f"<class 'minigrad.{'cuda.' if cls.device_type == 'cuda' else ''}{cls.__name__}'>"


def _legacy(name: str, dtype: str, device_type: str = "cpu") -> _LegacyType:
    where = " on the GPU" if device_type == "cuda" else ""
    prefix = "cuda." if device_type == "cuda" else ""
    return _LegacyType(name, (), {"dtype": numpy.dtype(dtype), "device_type": device_type,
                                  "__doc__": f"A {dtype} tensor{where} (PyTorch's torch.{prefix}{name})."})


FloatTensor = _legacy("FloatTensor", "float32")
DoubleTensor = _legacy("DoubleTensor", "float64")
HalfTensor = _legacy("HalfTensor", "float16")
LongTensor = _legacy("LongTensor", "int64")
IntTensor = _legacy("IntTensor", "int32")
ShortTensor = _legacy("ShortTensor", "int16")
CharTensor = _legacy("CharTensor", "int8")
ByteTensor = _legacy("ByteTensor", "uint8")
BoolTensor = _legacy("BoolTensor", "bool")

BY_NAME = {t.__name__: t for t in (FloatTensor, DoubleTensor, HalfTensor, LongTensor, IntTensor, ShortTensor,
                                   CharTensor, ByteTensor, BoolTensor)}
# mg.cuda's (torch.cuda.FloatTensor ...; no BFloat16Tensor: minigrad has no bfloat16)
CUDA_BY_NAME = {name: _legacy(name, str(t.dtype), "cuda") for name, t in BY_NAME.items()}


def legacy_type(value: Any) -> _LegacyType | None:
    """The legacy type ``value`` is or names (``mg.cuda.FloatTensor``, ``'torch.cuda.FloatTensor'``,
    ``'torch.FloatTensor'``), else None."""
    if isinstance(value, _LegacyType):
        return value
    if isinstance(value, str):
        parts = value.split(".")
        if parts[-1] in BY_NAME:
            return (CUDA_BY_NAME if "cuda" in parts[:-1] else BY_NAME)[parts[-1]]
    return None


def legacy_dtype(value: Any) -> Any:
    """The dtype a legacy type names (the class, or its name as ``'torch.FloatTensor'``), else ``value``."""
    legacy = legacy_type(value)
    return value if legacy is None else legacy.dtype


# --- PyTorch's functions of the legacy types' era ----------------------------------------------------------------

# the legacy type's name of each dtype, PyTorch's (complex and wide unsigned ones have no minigrad class)
_TYPE_NAMES = {**{t.dtype: name for name, t in BY_NAME.items()},
               numpy.dtype("complex64"): "ComplexFloatTensor", numpy.dtype("complex128"): "ComplexDoubleTensor",
               numpy.dtype("uint16"): "UInt16Tensor", numpy.dtype("uint32"): "UInt32Tensor",
               numpy.dtype("uint64"): "UInt64Tensor"}

_DEPRECATED = ("set_default_tensor_type() is deprecated (as torch.set_default_tensor_type() is as of PyTorch 2.1), "
               "please use mg.set_default_dtype() and mg.set_default_device() as alternatives.")
_warned = False          # PyTorch warns once per process
_moved_to_cuda = False   # whether a cuda type put the default device on the GPU (a CPU type then puts it back)


def set_default_tensor_type(t: Any) -> None:
    """Make ``t``'s dtype the default float dtype, as the deprecated torch.set_default_tensor_type: a legacy type
    or its name, ``mg.DoubleTensor`` / ``'torch.DoubleTensor'`` (float64), ``'minigrad.FloatTensor'`` (float32).
    A cuda type (``mg.cuda.FloatTensor``, ``'torch.cuda.FloatTensor'``) also makes the GPU the default device,
    and a CPU type after it the CPU again. Warns once that it is deprecated, as PyTorch's; anything but a float
    type raises PyTorch's TypeError."""
    global _warned, _moved_to_cuda
    if not _warned:
        _warned = True
        warnings.warn(_DEPRECATED, UserWarning, stacklevel=2)
    legacy = legacy_type(t)
    if legacy is None:
        what = repr(t) if isinstance(t, str) else f"a {type(t).__name__}"
        raise TypeError(f"set_default_tensor_type: invalid type object {what}: only floating-point types are "
                        "supported as the default type (mg.FloatTensor, mg.DoubleTensor or their names; for a "
                        "dtype use mg.set_default_dtype)")
    if legacy.dtype.kind != "f":
        raise TypeError(f"set_default_tensor_type: only floating-point types are supported as the default type, "
                        f"got {legacy.__name__}")
    if legacy.device_type == "cuda":
        if not backend.cuda_is_available():
            raise TypeError(f"set_default_tensor_type: type cuda.{legacy.__name__} not available: no CUDA device "
                            "(CuPy and an NVIDIA GPU are needed)")
    dtypes.set_default_dtype(legacy.dtype)
    if legacy.device_type == "cuda":
        backend.set_default_device("cuda")
        _moved_to_cuda = True
    elif _moved_to_cuda:
        backend.set_default_device("cpu")
        _moved_to_cuda = False


def typename(obj: Any, /) -> str:
    """The type's name of ``obj`` (torch.typename): a tensor's legacy type, ``'minigrad.FloatTensor'``,
    ``'minigrad.cuda.LongTensor'`` (PyTorch: ``'torch.FloatTensor'``; minigrad names its own legacy types,
    which ``x.type()`` and ``set_default_tensor_type`` accept); anything else: its dotted class or function
    name, ``'int'``, ``'nn.layers.Linear'``."""
    if isinstance(obj, Tensor):
        name = _TYPE_NAMES.get(obj.dtype, f"{obj.dtype}Tensor")
        return f"minigrad.{'cuda.' if obj.device.type == 'cuda' else ''}{name}"
    module = getattr(obj, "__module__", "") or ""
    if hasattr(obj, "__qualname__"):
        qualname = obj.__qualname__
    elif hasattr(obj, "__name__"):
        qualname = obj.__name__
    else:
        module = obj.__class__.__module__ or ""
        qualname = obj.__class__.__qualname__
    return qualname if module in ("", "builtins") else f"{module}.{qualname}"


def get_device(input: Tensor) -> int:  # noqa: A002 - PyTorch's name
    """The CUDA device index of a GPU tensor, -1 for a CPU one (torch.get_device)."""
    if not isinstance(input, Tensor):
        raise TypeError(f"get_device(): argument 'input' (position 1) must be Tensor, not {type(input).__name__}")
    return input.get_device()
