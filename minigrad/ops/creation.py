"""PyTorch's ways to make tensors: ``from_numpy``, ``*_like``, ``x.new_*``, ``linspace``, and dtype casts.

The basic constructors (``tensor``, ``zeros``, ``rand`` …) live in
:mod:`minigrad.constructors`; these build on them.
"""

from __future__ import annotations

import math
from typing import Any

import numpy

from .. import backend
from .. import memory_formats as _memory_format
from ..arguments import allocating, is_tensor_dtype
from ..constructors import (
    _device_arg,
    _fill_in,
    _fill_number,
    _full,
    _fused_multiply_add,
    _like,
    keep_out_shape,
    out_requires_grad,
    rand,
    randn,
    shared_memory,
    tensor,
    tensor_options,
)
from ..dtypes import default_complex_dtype, get_default_dtype
from ..outputs import creation_args, write_out
from ..tensor import Tensor, bool_, float16, int32
from ._util import ShapeMismatchError, int_arg, int_tuple, number


def from_numpy(array: numpy.ndarray) -> Tensor:
    """A tensor sharing ``array``'s memory and dtype (writes to either show in both), as torch.from_numpy."""
    if not isinstance(array, numpy.ndarray):
        raise TypeError(f"from_numpy: expected a numpy.ndarray, got {type(array).__name__}")
    if not is_tensor_dtype(array.dtype):
        raise TypeError(f"from_numpy: cannot make a tensor of dtype {array.dtype} (numbers only, at most float64 "
                        "and complex128, as PyTorch)")
    if not array.dtype.isnative:   # a tensor's dtype is native (== mg.float32 …); sharing memory keeps the order
        raise ValueError(f"from_numpy: the array's byte order ({array.dtype.str}) is not the machine's, so it cannot "
                         "share memory with a tensor (as in PyTorch); mg.tensor(array) converts it, or use "
                         "array.astype(array.dtype.newbyteorder('='))")
    return Tensor._make(shared_memory(array), False, None, 0)


def rand_like(input: Tensor, *, dtype: Any = None, device: Any = None, requires_grad: bool = False,  # noqa: A002
              generator: Any = None, memory_format: Any = None, layout: Any = None,
              pin_memory: Any = None) -> Tensor:
    """Uniform samples in [0, 1) with ``x``'s shape (and its dtype and device unless given), from ``generator``
    (an ``mg.Generator``) if given."""
    x = _like(input, "rand_like")
    device = x.device if device is None else _device_arg(device, "rand_like")
    tensor_options("rand_like", layout, pin_memory, device)
    out = rand(x.shape, dtype=x.dtype if dtype is None else dtype, device=device,
               requires_grad=requires_grad, generator=generator)
    return _memory_format.relayout(out, memory_format, "rand_like", x)


def randn_like(input: Tensor, *, dtype: Any = None, device: Any = None, requires_grad: bool = False,  # noqa: A002
               generator: Any = None, memory_format: Any = None, layout: Any = None,
               pin_memory: Any = None) -> Tensor:
    """Standard normal samples with ``x``'s shape (and its dtype and device unless given), from ``generator``
    if given."""
    x = _like(input, "randn_like")
    device = x.device if device is None else _device_arg(device, "randn_like")
    tensor_options("randn_like", layout, pin_memory, device)
    out = randn(x.shape, dtype=x.dtype if dtype is None else dtype, device=device,
                requires_grad=requires_grad, generator=generator)
    return _memory_format.relayout(out, memory_format, "randn_like", x)


def linspace(start: float, end: float, steps: int, *, dtype: Any = None, device: Any = None,
             requires_grad: bool = False, out: Any = None, layout: Any = None, pin_memory: Any = None) -> Tensor:
    """``steps`` evenly spaced values from ``start`` to ``end`` inclusive (float32 by default); ``out=``: computed
    in out's dtype and written into it."""
    tensor_options("linspace", layout, None if out is not None else pin_memory, device)
    if out is not None:
        dtype, device = creation_args("linspace", out, dtype, device)
        values = keep_out_shape(linspace(start, end, steps, dtype=dtype, device=device), out)
        return out_requires_grad(write_out("linspace", values, out, warn=False), requires_grad, "linspace")
    steps = int_arg(steps, "linspace", "steps")   # a 0-d int tensor too, as PyTorch's
    if steps < 0:
        raise ShapeMismatchError(f"linspace: steps must be non-negative, got {steps}")
    start, end = (v.item() if isinstance(v, Tensor) and v.data.size == 1 else v for v in (start, end))
    start, end = (int(v) if isinstance(v, (bool, numpy.bool_)) else v for v in (start, end))   # True is 1
    if isinstance(start, (complex, numpy.complexfloating)) or isinstance(end, (complex, numpy.complexfloating)):
        values = _complex_linspace(complex(start), complex(end), steps, dtype)
        dtype = values.dtype
    else:
        start, end = number(start, "linspace", "start"), number(end, "linspace", "end")
        dtype = backend.as_dtype(get_default_dtype() if dtype is None else dtype, "linspace")
        if dtype.kind == "b" and steps > 1:   # 0 or 1 step: start as a bool, as PyTorch's
            raise NotImplementedError("linspace: not implemented for dtype bool (as PyTorch's)")
        if dtype.kind != "b" and steps > 0:   # the ends converted into dtype first, checked as PyTorch's
            start = _fill_in(start, dtype, "linspace")   # (-4.0 into uint8 raises; the int -4 wraps to 252)
            end = _fill_in(end, dtype, "linspace") if steps > 1 else end
        start, end = float(start), float(end)
        with allocating("linspace"):
            values = linspace_arrays(numpy, start, end, steps, numpy.float64 if dtype.kind == "b" else dtype)
    return tensor(values, dtype=dtype, device=device, requires_grad=False if requires_grad is None else requires_grad)


def _complex_linspace(low: complex, high: complex, steps: int, dtype: Any) -> numpy.ndarray:
    """``linspace`` between complex ends (the default complex dtype, complex64 unless ``mg.set_default_dtype``),
    as PyTorch's: the real and imaginary parts each spaced as :func:`linspace_arrays` spaces floats. A real
    ``dtype`` raises RuntimeError, as PyTorch's (the imaginary parts would be dropped)."""
    dtype = backend.as_dtype(default_complex_dtype() if dtype is None else dtype, "linspace")
    if dtype.kind != "c":
        raise RuntimeError(f"linspace: complex start {low} and end {high} give a complex dtype; it can't be safely "
                           f"cast to the passed dtype {dtype}")
    part = numpy.dtype(numpy.float32 if dtype == numpy.complex64 else numpy.float64)
    real = linspace_arrays(numpy, low.real, high.real, steps, part)
    imag = linspace_arrays(numpy, low.imag, high.imag, steps, part)
    return (real + 1j * imag).astype(dtype)


def linspace_arrays(xp: Any, low: float, high: float, steps: int, dtype: Any) -> Any:
    """PyTorch's CPU ``linspace`` in ``dtype``, bit for bit: the first half from ``low`` up, the second from
    ``high`` down, each ``start ± step · i`` rounded once (PyTorch's loop fuses the multiply-add; here float32's
    runs in float64, float64's in an exact fused multiply-add, CuPy's in float64). Integer dtypes truncate ``low`` and
    ``high`` to integers first and take float64's values, truncated, as PyTorch's do (``linspace(4.3, -3, 10)``
    steps from 4). float16 steps in c10::Half's arithmetic (each operation rounded to float16). CuPy's
    float64 may differ from PyTorch's in the last bit."""
    dtype = xp.dtype(dtype)
    compute = dtype if dtype.kind == "f" else xp.dtype(xp.float64)
    if dtype.kind in "iu":
        low, high = math.trunc(low), math.trunc(high)
    if steps == 1:
        return xp.full(1, low, dtype=compute).astype(dtype)
    start, end = xp.asarray(low, dtype=compute), xp.asarray(high, dtype=compute)
    step = (end - start) / xp.asarray(max(steps - 1, 1), dtype=compute)
    if dtype == xp.float16:   # c10::Half's arithmetic: each operation rounded to float16, the index too
        i = xp.arange(steps).astype(compute)
        up, down = start + step * i, end - step * (xp.asarray(steps - 1, dtype=compute) - i)
        return xp.where(xp.arange(steps) < steps // 2, up, down)
    if compute == xp.float64 and xp is numpy:   # C's fused multiply-add, rounded once (exactly)
        i = numpy.arange(steps, dtype=numpy.float64)
        up, down = _fused_multiply_add(step, i, start), _fused_multiply_add(-step, steps - 1 - i, end)
        return numpy.where(i < steps // 2, up, down).astype(dtype)
    wide = xp.float64 if compute.itemsize < 8 else getattr(xp, "longdouble", xp.float64)   # CuPy has no long double
    start, end, step = start.astype(wide), end.astype(wide), step.astype(wide)
    i = xp.arange(steps).astype(wide)
    first_half = xp.arange(steps) < steps // 2
    return xp.where(first_half, start + step * i, end - step * (steps - 1 - i)).astype(compute).astype(dtype)


# --- x.new_* : the dtype and device of x unless given ------------------------

def _new_shape(size: tuple, name: str, keyword: Any = None) -> tuple:
    if keyword is not None:   # PyTorch's x.new_zeros(size=(2, 3))
        if size:
            raise TypeError(f"{name}(): give the size once, as ints, one tuple or size=, not both")
        size = (keyword,)
    elif not size:   # as PyTorch's x.new_zeros(): the size is required (x.new_zeros(()) is 0-d)
        raise TypeError(f'{name}() missing 1 required positional arguments: "size" ({name}(2, 3), '
                        f"{name}((2, 3)) or {name}(size=(2, 3)); {name}(()) for a 0-d tensor)")
    if len(size) == 1 and isinstance(size[0], (tuple, list)):
        size = tuple(size[0])
    return int_tuple(size, name)


def _new(x: Tensor, size: tuple, fill: Any, dtype: Any, device: Any, requires_grad: bool, name: str,
         keyword: Any = None, layout: Any = None, pin_memory: Any = None) -> Tensor:
    tensor_options(name, layout, pin_memory, x.device if device is None else device)
    return _full(_new_shape(size, name, keyword), fill, x.dtype if dtype is None else dtype,
                 x.device if device is None else device, requires_grad, name)


def new_zeros(x: Tensor, *sizes: Any, size: Any = None, dtype: Any = None, device: Any = None,
              requires_grad: bool = False, layout: Any = None, pin_memory: Any = None) -> Tensor:
    """Zeros of shape ``size`` (not x's shape) with x's dtype and device: ``x.new_zeros(2, 3)``,
    ``x.new_zeros((2, 3))`` or ``x.new_zeros(size=(2, 3))``."""
    return _new(x, sizes, 0, dtype, device, requires_grad, "new_zeros", size, layout, pin_memory)


def new_ones(x: Tensor, *sizes: Any, size: Any = None, dtype: Any = None, device: Any = None,
             requires_grad: bool = False, layout: Any = None, pin_memory: Any = None) -> Tensor:
    """Ones of shape ``size`` (not x's shape) with x's dtype and device, as :func:`new_zeros` takes it."""
    return _new(x, sizes, 1, dtype, device, requires_grad, "new_ones", size, layout, pin_memory)


def new_empty(x: Tensor, *sizes: Any, size: Any = None, dtype: Any = None, device: Any = None,
              requires_grad: bool = False, layout: Any = None, pin_memory: Any = None) -> Tensor:
    """An uninitialised (here: zero) tensor of ``size`` with x's dtype and device."""
    return _new(x, sizes, 0, dtype, device, requires_grad, "new_empty", size, layout, pin_memory)


def new_full(x: Tensor, size: Any, fill_value: Any, dtype: Any = None, device: Any = None,
             requires_grad: bool = False, *, layout: Any = None, pin_memory: Any = None) -> Tensor:
    """``size`` filled with ``fill_value`` (a number, a bool too), with x's dtype and device."""
    return _new(x, (size,), _fill_number(fill_value, "new_full"), dtype, device, requires_grad, "new_full",
                layout=layout, pin_memory=pin_memory)


def new_tensor(x: Tensor, data: Any, dtype: Any = None, device: Any = None, requires_grad: bool = False) -> Tensor:
    """A copy of ``data`` as a new leaf with x's dtype and device (as PyTorch's ``new_tensor``)."""
    return tensor(data, dtype=x.dtype if dtype is None else dtype, device=x.device if device is None else device,
                  requires_grad=requires_grad)


# --- dtype casts (x.float() and x.double() are Tensor methods already) -------

def to_int(x: Tensor, memory_format: Any = None) -> Tensor:
    """``x.int()``: cast to int32 (PyTorch's ``int``)."""
    return x.to(dtype=int32, memory_format=memory_format)


def to_bool(x: Tensor, memory_format: Any = None) -> Tensor:
    """``x.bool()``: cast to bool (non-zero is True)."""
    return x.to(dtype=bool_, memory_format=memory_format)


def to_half(x: Tensor, memory_format: Any = None) -> Tensor:
    """``x.half()``: cast to float16, same shape (itself when already float16)."""
    return x.to(dtype=float16, memory_format=memory_format)


def type_as(x: Tensor, other: Tensor) -> Tensor:
    """``x`` cast to ``other``'s dtype and moved to its device (PyTorch's type string names both:
    ``torch.arange(W).type_as(cuda_image)`` is a CUDA float tensor)."""
    if not isinstance(other, Tensor):
        raise TypeError(f"type_as: expected a Tensor, got {type(other).__name__}")
    return x.to(device=other.device, dtype=other.dtype)


def element_size(x: Tensor) -> int:
    """Bytes per element."""
    return int(backend.numpy.dtype(x.dtype).itemsize)
