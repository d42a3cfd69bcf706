"""The basic constructors: ``tensor``, ``zeros``/``ones``/``empty``/``full`` (and ``*_like``),
``arange``, ``randn``/``rand``/``randint``, ``as_tensor``."""

from __future__ import annotations

import operator
from typing import Any, Callable

import numpy

from . import backend
from .backend import Device
from .recording import note_draw
from .tensor import Tensor, _infer_dtype, float32, int64


def tensor(data: Any, dtype: Any = None, requires_grad: bool = False,
           device: str | Device | None = None) -> Tensor:
    """A new leaf tensor copying ``data`` (scalar, nested list, NumPy/CuPy array or Tensor).

    Python floats become float32, ints int64, bools bool; arrays keep their dtype.
    """
    if isinstance(data, Tensor):
        data = data.data
    if backend.is_array(data) and (device is None or backend.resolve_device(device) == backend.device_of(data)):
        data = data.copy()
    return Tensor(data, dtype=dtype, requires_grad=requires_grad, device=device)


def _shape_arg(shape: Any, name: str = "tensor") -> tuple:
    """A shape given as ints, or as one tuple/list of ints; anything else raises naming the constructor."""
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = tuple(shape[0])
    try:
        if any(isinstance(s, bool) for s in shape):
            raise TypeError("bools are not sizes")
        shape = tuple(operator.index(s) for s in shape)
    except TypeError:
        raise TypeError(f"{name}: a shape is ints or one tuple of ints, got {shape!r}") from None
    if any(s < 0 for s in shape):
        raise ValueError(f"{name}: negative dimension in shape {shape}")
    return shape


def _filled(fill: Callable[[Any, tuple, Any], Any], shape: tuple, dtype: Any, device: Any,
            requires_grad: bool, name: str = "tensor") -> Tensor:
    dev = backend.resolve_device(device)
    xp = backend.module_for(dev)
    try:
        dt = numpy.dtype(dtype) if dtype is not None else float32
        with backend.on_device(dev):
            data = fill(xp, shape, dt)
    except (TypeError, ValueError) as error:
        raise type(error)(f"{name}: {error} (shape {shape}, dtype {dtype!r})") from error
    t = Tensor._make(data, False, None, 0)
    if requires_grad:
        t.requires_grad_(True)
    return t


def zeros(shape: Any = (), *dims: Any, dtype: Any = None, device: Any = None, requires_grad: bool = False) -> Tensor:
    """Tensor of zeros; ``shape`` as ints or one tuple: ``zeros(2, 3)``, ``zeros((2, 3))``, ``zeros(shape=(2, 3))``.

    float32 by default.
    """
    return _filled(lambda xp, s, d: xp.zeros(s, dtype=d), _shape_arg((shape, *dims), "zeros"), dtype, device,
                   requires_grad, "zeros")


def ones(shape: Any = (), *dims: Any, dtype: Any = None, device: Any = None, requires_grad: bool = False) -> Tensor:
    """Tensor of ones; ``shape`` as ints or one tuple."""
    return _filled(lambda xp, s, d: xp.ones(s, dtype=d), _shape_arg((shape, *dims), "ones"), dtype, device,
                   requires_grad, "ones")


def empty(shape: Any = (), *dims: Any, dtype: Any = None, device: Any = None, requires_grad: bool = False) -> Tensor:
    """Uninitialised tensor; ``shape`` as ints or one tuple."""
    return _filled(lambda xp, s, d: xp.empty(s, dtype=d), _shape_arg((shape, *dims), "empty"), dtype, device,
                   requires_grad, "empty")


def full(shape: Any, fill_value: Any, dtype: Any = None, device: Any = None,
         requires_grad: bool = False) -> Tensor:
    """Tensor of ``shape`` filled with ``fill_value`` (dtype inferred like ``tensor``)."""
    shape = _shape_arg((shape,), "full")
    if dtype is None:
        try:
            dtype = _infer_dtype(fill_value) or float32
        except ValueError as error:
            raise ValueError(f"full: fill_value is not a number or an array ({error})") from error
    return _filled(lambda xp, s, d: xp.full(s, fill_value, dtype=d), shape, dtype, device, requires_grad, "full")


def _like(x: Any, name: str) -> Tensor:
    if not isinstance(x, Tensor):
        raise TypeError(f"{name}: expected a Tensor to take the shape, dtype and device of, got {type(x).__name__}")
    return x


def zeros_like(x: Tensor, dtype: Any = None, device: Any = None, requires_grad: bool = False) -> Tensor:
    x = _like(x, "zeros_like")
    return zeros(x.shape, dtype=x.dtype if dtype is None else dtype, device=device or x.device,
                 requires_grad=requires_grad)


def ones_like(x: Tensor, dtype: Any = None, device: Any = None, requires_grad: bool = False) -> Tensor:
    x = _like(x, "ones_like")
    return ones(x.shape, dtype=x.dtype if dtype is None else dtype, device=device or x.device,
                requires_grad=requires_grad)


def full_like(x: Tensor, fill_value: Any, dtype: Any = None, device: Any = None,
              requires_grad: bool = False) -> Tensor:
    x = _like(x, "full_like")
    return full(x.shape, fill_value, dtype=x.dtype if dtype is None else dtype, device=device or x.device,
                requires_grad=requires_grad)


def arange(start: Any, stop: Any = None, step: Any = 1, dtype: Any = None, device: Any = None,
           requires_grad: bool = False) -> Tensor:
    """Evenly spaced values as ``numpy.arange``; int64 for ints, float32 for floats."""
    if stop is None:
        start, stop = 0, start
    if dtype is None:
        dtype = int64 if all(isinstance(v, (int, numpy.integer)) for v in (start, stop, step)) else float32
    return _filled(lambda xp, s, d: xp.arange(start, stop, step, dtype=d), (), dtype, device, requires_grad,
                   "arange")


def randn(*shape: Any, dtype: Any = None, device: Any = None, requires_grad: bool = False) -> Tensor:
    """Standard normal samples from the device's generator (see ``manual_seed``)."""
    dev = backend.resolve_device(device)
    gen = backend.generator(dev)
    out = _filled(lambda xp, s, d: gen.standard_normal(s, dtype=d) if d.kind == "f" and d.itemsize >= 4
                  else gen.standard_normal(s).astype(d), _shape_arg(shape, "randn"), dtype, dev,
                  requires_grad, "randn")
    # inside an mg.compile capture, a replay draws again from the generator (in eager's order)
    return note_draw("randn", lambda: randn(*shape, dtype=dtype, device=device).data, (), out)


def rand(*shape: Any, dtype: Any = None, device: Any = None, requires_grad: bool = False) -> Tensor:
    """Uniform samples in [0, 1) from the device's generator."""
    dev = backend.resolve_device(device)
    gen = backend.generator(dev)
    out = _filled(lambda xp, s, d: gen.random(s, dtype=d) if d.kind == "f" and d.itemsize >= 4
                  else gen.random(s).astype(d), _shape_arg(shape, "rand"), dtype, dev,
                  requires_grad, "rand")
    # inside an mg.compile capture, a replay draws again from the generator (in eager's order)
    return note_draw("rand", lambda: rand(*shape, dtype=dtype, device=device).data, (), out)


def randint(low: int, high: int, shape: Any, dtype: Any = None, device: Any = None) -> Tensor:
    """Integers in [low, high) from the device's generator (int64 by default)."""
    dev = backend.resolve_device(device)
    gen = backend.generator(dev)
    size = _shape_arg((shape,), "randint")
    kind = int64 if dtype is None else dtype
    if dev.type == "cpu":
        out = _filled(lambda xp, s, d: gen.integers(low, high, s).astype(d), size, kind, dev, False, "randint")
    else:
        out = _filled(lambda xp, s, d: gen.randint(low, high, s).astype(d), size, kind, dev, False, "randint")
    return note_draw("randint", lambda: randint(low, high, shape, dtype=dtype, device=device).data, (), out)


def as_tensor(data: Any, dtype: Any = None, device: str | Device | None = None, *,
              like: Tensor | None = None) -> Tensor:
    """``data`` as a Tensor, without a copy where none is needed (PyTorch's ``as_tensor``).

    A Tensor, or a NumPy/CuPy array already of ``dtype`` on ``device``, is used as it is (an array
    stays on its own device when ``device`` is None: no copy is ever made behind the caller's back).
    Python numbers and lists become a new tensor; ``like=`` (minigrad's) takes its device, and its
    dtype for a Python number that fits it, so ``x * 2.0`` stays in ``x``'s dtype.
    """
    if isinstance(data, Tensor):
        if (dtype is None or numpy.dtype(dtype) == data.dtype) and (device is None or data.device == device):
            return data
        return data.to(device=device or data.device, dtype=dtype or data.dtype)
    if backend.is_array(data):
        if data.dtype.kind not in "biufc":   # object, string, datetime ...: refused, as tensor() does
            raise TypeError(f"as_tensor: cannot make a tensor of dtype {data.dtype} (numbers only)")
        target = backend.device_of(data) if device is None else backend.resolve_device(device)
        if (dtype is None or numpy.dtype(dtype) == data.dtype) and target == backend.device_of(data):
            return Tensor._make(data, False, None, 0)
        return Tensor(data, dtype=dtype, device=target)
    if like is not None and not isinstance(like, Tensor):
        raise TypeError(f"as_tensor: like must be a Tensor, got {type(like).__name__}")
    if device is None and like is not None:
        device = like.device
    if dtype is None and like is not None and isinstance(data, (int, float)) and not isinstance(data, bool):
        dtype = like.dtype if like.dtype.kind == "f" or isinstance(data, int) else None
    return Tensor(data, dtype=dtype, device=device)
