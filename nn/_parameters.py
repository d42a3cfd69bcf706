"""How the layers make their parameters, as PyTorch's constructors do: a floating dtype checked once, a
``weight`` with an optional ``bias`` that ``reset_parameters`` then fills, and a normalisation's ``weight``
(ones) and ``bias`` (zeros)."""

from __future__ import annotations

from typing import Any

import numpy

import minigrad as mg
from minigrad.int_arguments import int_tuple

from ._errors import InputDtypeError, InputShapeError
from .module import Module, Parameter


def size_arg(value: Any, name: str, what: str, low: int = 0, position: int | None = None) -> int:
    """A layer's size argument (features, channels, embeddings: the size of a parameter's dim) as an int >= ``low``.
    PyTorch's errors: a TypeError for one that is not an int (a float, None, a bool), a RuntimeError ("negative
    dimension") for one below ``low`` (an InputShapeError here, also a ValueError).

    ``position``: the layer passes the value untouched to ``torch.empty``'s shape at that place (Linear,
    Embedding), so it is read as PyTorch's size lists read an item: an object with ``__index__`` (a 0-d NumPy
    array), a one-element integer tensor, and a bool unless it comes first (``nn.Linear(True, 3)``'s weight is
    (3, 1); ``nn.Embedding(True, 3)`` is a TypeError)."""
    if position is not None and not isinstance(value, (int, numpy.integer)):
        try:
            value = int_tuple((0,) * position + (value,), name, what)[-1]
        except TypeError:   # (a bool tensor: ArgumentTypeError, PyTorch's RuntimeError, raised as it is)
            if isinstance(value, mg.Tensor):
                raise
            raise TypeError(f"{name}: {what} must be a {'positive' if low else 'non-negative'} int, got "
                            f"{type(value).__name__} {value!r:.40}") from None
    elif position and type(value) is bool:
        value = int(value)
    if isinstance(value, (bool, numpy.bool_)) or not isinstance(value, (int, numpy.integer)):
        raise TypeError(f"{name}: {what} must be a {'positive' if low else 'non-negative'} int, got "
                        f"{type(value).__name__} {value!r}")
    if value < low:
        raise InputShapeError(f"{name}: {what} must be a {'positive' if low else 'non-negative'} int, got {value}")
    return int(value)   # a NumPy integer too, as PyTorch takes it


def integer_size(value: Any, name: str, what: str, low: int, below: type = ValueError) -> int:
    """An integer size that PyTorch's Python layer compares and computes with before ``torch.empty`` reads it
    (MultiheadAttention's embed_dim and num_heads, a Transformer layer's d_model, nhead, dim_feedforward): a Python
    or NumPy int or a 0-d integer array or tensor, as an int. A bool, float, None or other object is a TypeError
    (PyTorch's from its comparison or ``torch.empty``), a value below ``low`` a ``below`` naming the layer."""
    if isinstance(value, (numpy.ndarray, mg.Tensor)) and value.ndim == 0 and numpy.dtype(value.dtype).kind in "iu":
        value = int(value)
    if isinstance(value, (bool, numpy.bool_)) or not isinstance(value, (int, numpy.integer)):
        raise TypeError(f"{name}: {what} must be an int, got {type(value).__name__} {value!r:.40}")
    if value < low:
        raise below(f"{name}: {what} must be {'a positive' if low else 'a non-negative'} int, got {value}")
    return int(value)


def float_dtype(dtype: Any, name: str, complex_ok: bool = False) -> numpy.dtype:
    """``dtype`` (None: the default dtype) if it is a floating type (or, with ``complex_ok``, a complex one: the
    layers whose forward complex autograd covers), else an error naming the layer (a TypeError here, PyTorch's
    RuntimeError: its parameters of an integer dtype cannot require grad)."""
    if dtype is not None and "bfloat16" in str(dtype):   # mg.bfloat16 reads as NumPy's object dtype
        raise InputDtypeError(f"{name}: NumPy (and so minigrad) has no bfloat16 dtype; use float16 (mg.half) or "
                              "float32 (mg.float) instead")
    dt = mg.get_default_dtype() if dtype is None else numpy.dtype(dtype)
    if dt.kind != "f" and not (complex_ok and dt.kind == "c"):
        raise InputDtypeError(f"{name}: dtype must be a floating type, got {dt}")
    return dt


def weight_and_bias(module: Module, weight_shape: tuple, bias: bool, dtype: numpy.dtype, device: Any) -> None:
    """``module.weight`` of ``weight_shape`` and ``module.bias`` (weight_shape[0],), both uninitialised (the
    layer's ``reset_parameters`` fills them); ``bias=False`` registers the bias as None."""
    module.weight = Parameter(mg.empty(*weight_shape, dtype=dtype, device=device))
    if bias:
        module.bias = Parameter(mg.empty(weight_shape[0], dtype=dtype, device=device))
    else:
        module.register_parameter("bias", None)


def affine_parameters(module: Module, shape: Any, affine: bool, bias: bool, dtype: Any, device: Any) -> None:
    """A normalisation's ``weight`` (ones) and ``bias`` (zeros) of ``shape``, or None where PyTorch has None:
    both without ``affine``, the bias without ``bias``."""
    dt = mg.get_default_dtype() if dtype is None else dtype
    if affine:
        module.weight = Parameter(mg.ones(shape, dtype=dt, device=device))
        if bias:
            module.bias = Parameter(mg.zeros(shape, dtype=dt, device=device))
        else:
            module.register_parameter("bias", None)
    else:
        module.register_parameter("weight", None)
        module.register_parameter("bias", None)


def reset_affine(module: Module) -> None:
    """A normalisation's ``weight`` back to ones and ``bias`` to zeros, in place (either may be None)."""
    with mg.no_grad():
        if module.weight is not None:
            module.weight.fill_(1.0)
        if module.bias is not None:
            module.bias.zero_()
