"""PyTorch's legacy tensor types: ``mg.FloatTensor([1, 2])``, ``mg.LongTensor(3)``, ``isinstance(x, mg.FloatTensor)``
and ``x.type(mg.DoubleTensor)``, as older PyTorch programs write them.

Each is a constructor with a fixed dtype (read as :class:`Tensor`'s legacy constructor reads its arguments)
and an ``isinstance`` test of the dtype (on any device). ``mg.cuda.FloatTensor`` and its kin (PyTorch's
``torch.cuda.FloatTensor``) build on the GPU and test the device too. A legacy type names a device as well as a
dtype: ``x.type(mg.cuda.FloatTensor)`` / ``x.type('torch.cuda.FloatTensor')`` moves x to the GPU, and
``x.type('torch.FloatTensor')`` to the CPU, as PyTorch's.
"""

from __future__ import annotations

from typing import Any

import numpy

from . import backend
from .tensor import Tensor

__all__ = ["BoolTensor", "ByteTensor", "CharTensor", "DoubleTensor", "FloatTensor", "HalfTensor", "IntTensor",
           "LongTensor", "ShortTensor"]


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
