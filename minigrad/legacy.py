"""PyTorch's legacy tensor types: ``mg.FloatTensor([1, 2])``, ``mg.LongTensor(3)``, ``isinstance(x, mg.FloatTensor)``
and ``x.type(mg.DoubleTensor)``, as older PyTorch programs write them.

Each is a constructor with a fixed dtype (read as :class:`Tensor`'s legacy constructor reads its arguments)
and an ``isinstance`` test of the dtype; on any device (PyTorch's ``torch.cuda.FloatTensor`` is the same
type with ``device="cuda"`` here).
"""

from __future__ import annotations

from typing import Any

import numpy

from .tensor import Tensor

__all__ = ["BoolTensor", "ByteTensor", "CharTensor", "DoubleTensor", "FloatTensor", "HalfTensor", "IntTensor",
           "LongTensor", "ShortTensor"]


class _LegacyType(type):
    dtype: numpy.dtype

    def __call__(cls, *data: Any, device: Any = None) -> Tensor:
        return Tensor(*data, dtype=cls.dtype, device=device)

    def __instancecheck__(cls, obj: Any) -> bool:
        return isinstance(obj, Tensor) and obj.dtype == cls.dtype

    def __repr__(cls) -> str:
        return f"<class 'minigrad.{cls.__name__}'>"


def _legacy(name: str, dtype: str) -> _LegacyType:
    return _LegacyType(name, (), {"dtype": numpy.dtype(dtype), "__doc__": f"A {dtype} tensor (PyTorch's {name})."})


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


def legacy_dtype(value: Any) -> Any:
    """The dtype a legacy type names (the class, or its name as ``'torch.FloatTensor'``), else ``value``."""
    if isinstance(value, _LegacyType):
        return value.dtype
    if isinstance(value, str) and value.rsplit(".", 1)[-1] in BY_NAME:
        return BY_NAME[value.rsplit(".", 1)[-1]].dtype
    return value
