"""The basic constructors: ``tensor``, ``zeros``/``ones``/``empty``/``full`` (and ``*_like``),
``arange``, ``randn``/``rand``/``randint``, ``as_tensor``."""

from __future__ import annotations

import math
import operator
from typing import Any, Callable

import numpy

from . import backend, generators
from .arguments import as_bool
from .backend import Device
from .dtypes import get_default_dtype
from .recording import note_draw
from .tensor import Tensor, _infer_dtype, int64


def tensor(data: Any, dtype: Any = None, requires_grad: bool = False,
           device: str | Device | None = None) -> Tensor:
    """A new leaf tensor copying ``data`` (scalar, nested list, NumPy/CuPy array or Tensor).

    Python floats become the default dtype (float32 unless ``mg.set_default_dtype``), ints int64,
    bools bool; arrays keep their dtype.
    """
    if isinstance(data, Tensor):
        data = data.data
    if backend.is_array(data) and (device is None or backend.resolve_device(device) == backend.device_of(data)):
        data = data.copy()
    return Tensor._new(data, dtype=dtype, requires_grad=requires_grad, device=device)


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


def _device_arg(device: Any, name: str) -> Device:
    """``device=`` resolved (None: the default device); a bad one raises naming the constructor."""
    try:
        return backend.resolve_device(device)
    except (TypeError, ValueError) as error:
        raise backend.reworded(error, f"{name}: {error}") from error


def _filled(fill: Callable[[Any, tuple, Any], Any], shape: tuple, dtype: Any, device: Any,
            requires_grad: bool, name: str = "tensor") -> Tensor:
    dev = _device_arg(device, name)
    xp = backend.module_for(dev)
    dt = backend.as_dtype(dtype, name) if dtype is not None else get_default_dtype()
    requires_grad = as_bool(requires_grad, name, "requires_grad")
    try:
        with backend.on_device(dev):
            data = fill(xp, shape, dt)
    except (TypeError, ValueError) as error:
        raise backend.reworded(error, f"{name}: {error} (shape {shape}, dtype {dtype!r})") from error
    t = Tensor._make(data, False, None, 0)
    if requires_grad:
        t.requires_grad_(True)
    return t


def _zeros(xp: Any, shape: tuple, dtype: Any) -> Any:
    return xp.zeros(shape, dtype=dtype)


def _ones(xp: Any, shape: tuple, dtype: Any) -> Any:
    return xp.ones(shape, dtype=dtype)


def zeros(shape: Any = (), *dims: Any, dtype: Any = None, device: Any = None, requires_grad: bool = False) -> Tensor:
    """Tensor of zeros; ``shape`` as ints or one tuple: ``zeros(2, 3)``, ``zeros((2, 3))``, ``zeros(shape=(2, 3))``.

    The default dtype (float32 unless ``mg.set_default_dtype``) when ``dtype`` is None, as every float constructor.
    """
    return _filled(_zeros, _shape_arg((shape, *dims), "zeros"), dtype, device, requires_grad, "zeros")


def ones(shape: Any = (), *dims: Any, dtype: Any = None, device: Any = None, requires_grad: bool = False) -> Tensor:
    """Tensor of ones; ``shape`` as ints or one tuple."""
    return _filled(_ones, _shape_arg((shape, *dims), "ones"), dtype, device, requires_grad, "ones")


def empty(shape: Any = (), *dims: Any, dtype: Any = None, device: Any = None, requires_grad: bool = False) -> Tensor:
    """Uninitialised tensor; ``shape`` as ints or one tuple."""
    return _filled(lambda xp, s, d: xp.empty(s, dtype=d), _shape_arg((shape, *dims), "empty"), dtype, device,
                   requires_grad, "empty")


def full(shape: Any, fill_value: Any, dtype: Any = None, device: Any = None,
         requires_grad: bool = False) -> Tensor:
    """Tensor of ``shape`` filled with ``fill_value``, a number (dtype inferred like ``tensor``)."""
    return _full(_shape_arg((shape,), "full"), fill_value, dtype, device, requires_grad, "full")


def _full(shape: tuple, fill_value: Any, dtype: Any, device: Any, requires_grad: bool, name: str) -> Tensor:
    fill_value = _fill_number(fill_value, name)
    if dtype is None:
        dtype = _infer_dtype(fill_value) or get_default_dtype()
    return _filled(lambda xp, s, d: xp.full(s, fill_value, dtype=d), shape, dtype, device, requires_grad, name)


def _fill_number(value: Any, name: str) -> Any:
    """A fill value: a Python or NumPy number, or a 0-d Tensor/array (its value), as PyTorch's ``full`` takes."""
    if isinstance(value, Tensor):
        value = value.data
    if backend.is_array(value) and value.ndim == 0 and value.dtype.kind in backend.NUMERIC_KINDS:
        value = value.item()
    if not isinstance(value, (int, float, complex, numpy.number, numpy.bool_)):
        shape = f" of shape {value.shape}" if backend.is_array(value) else ""
        raise TypeError(f"{name}(): argument 'fill_value' must be a number, not {type(value).__name__}{shape}")
    return value


def _like(x: Any, name: str) -> Tensor:
    if not isinstance(x, Tensor):
        raise TypeError(f"{name}: expected a Tensor to take the shape, dtype and device of, got {type(x).__name__}")
    return x


def zeros_like(x: Tensor, dtype: Any = None, device: Any = None, requires_grad: bool = False) -> Tensor:
    """Zeros with ``x``'s shape, and its dtype and device unless given."""
    x = _like(x, "zeros_like")
    return _filled(_zeros, x.shape, x.dtype if dtype is None else dtype, x.device if device is None else device,
                   requires_grad, "zeros_like")


def ones_like(x: Tensor, dtype: Any = None, device: Any = None, requires_grad: bool = False) -> Tensor:
    """Ones with ``x``'s shape, and its dtype and device unless given."""
    x = _like(x, "ones_like")
    return _filled(_ones, x.shape, x.dtype if dtype is None else dtype, x.device if device is None else device,
                   requires_grad, "ones_like")


def full_like(x: Tensor, fill_value: Any, dtype: Any = None, device: Any = None,
              requires_grad: bool = False) -> Tensor:
    """``fill_value`` (a number) with ``x``'s shape, and its dtype and device unless given."""
    x = _like(x, "full_like")
    return _full(x.shape, fill_value, x.dtype if dtype is None else dtype, x.device if device is None else device,
                 requires_grad, "full_like")


def arange(start: Any, stop: Any = None, step: Any = 1, dtype: Any = None, device: Any = None,
           requires_grad: bool = False) -> Tensor:
    """Evenly spaced values as ``numpy.arange``; int64 for ints, the default dtype (float32) for floats.

    ``start``, ``stop`` and ``step`` are numbers (or 0-d tensors); a zero step or an infinite or NaN
    bound raises a ValueError, as in PyTorch.
    """
    if stop is None:
        start, stop = 0, start
    start, stop, step = (_arange_number(v, what) for v, what in ((start, "start"), (stop, "end"), (step, "step")))
    if step == 0:
        raise ValueError("arange: step must be nonzero")
    if any(isinstance(v, (float, numpy.floating)) and not math.isfinite(v) for v in (start, stop, step)):
        raise ValueError(f"arange: unsupported range: {start} -> {stop} (step {step}): every bound must be finite")
    if dtype is None:
        integral = all(isinstance(v, (int, numpy.integer)) for v in (start, stop, step))
        dtype = int64 if integral else get_default_dtype()
    return _filled(lambda xp, s, d: xp.arange(start, stop, step, dtype=d), (), dtype, device, requires_grad,
                   "arange")


def _arange_number(value: Any, what: str) -> Any:
    if value is None and what == "step":
        return 1   # numpy.arange's default
    if isinstance(value, Tensor) and value.data.size == 1:
        value = value.item()
    if isinstance(value, complex) or not isinstance(value, (int, float, numpy.integer, numpy.floating)):
        raise TypeError(f"arange(): argument '{what}' must be a real number, not {type(value).__name__}")
    return value


def _samples(name: str, method: str, shape: tuple, dtype: Any, device: Any, requires_grad: bool,
             again: Callable[[], Any], generator: Any = None) -> Tensor:
    """``shape`` samples drawn with the generator's ``method`` (``generator``'s, an ``mg.Generator``, else the
    device's); ``again`` redraws them for a replay."""
    dev = _device_arg(device, name)
    source = generators.drawing_from(generator, dev, name)
    if method == "random" and not hasattr(source, "random"):
        method = "random_sample"   # CuPy's RandomState
    draw = getattr(source, method)
    out = _filled(lambda xp, s, d: draw(s, dtype=d) if d.kind == "f" and d.itemsize >= 4 else draw(s).astype(d),
                  _shape_arg(shape, name), dtype, dev, requires_grad, name)
    # inside an mg.compile capture, a replay draws again from the generator (in eager's order)
    return note_draw(name, again, (), out)


def randn(*shape: Any, generator: Any = None, dtype: Any = None, device: Any = None,
          requires_grad: bool = False) -> Tensor:
    """Standard normal samples from ``generator`` or the device's generator (see ``manual_seed``)."""
    return _samples("randn", "standard_normal", shape, dtype, device, requires_grad,
                    lambda: randn(*shape, generator=generator, dtype=dtype, device=device).data, generator)


def rand(*shape: Any, generator: Any = None, dtype: Any = None, device: Any = None,
         requires_grad: bool = False) -> Tensor:
    """Uniform samples in [0, 1) from ``generator`` or the device's generator."""
    return _samples("rand", "random", shape, dtype, device, requires_grad,
                    lambda: rand(*shape, generator=generator, dtype=dtype, device=device).data, generator)


def randint(low: int, high: Any = None, size: Any = None, *, generator: Any = None, dtype: Any = None,
            device: Any = None, requires_grad: bool = False) -> Tensor:
    """Integers in [low, high) (int64 by default), as ``torch.randint``: ``randint(low, high, size)`` or
    ``randint(high, size)``, from ``generator`` or the device's generator."""
    if size is None:
        if high is None:
            raise TypeError("randint: give randint(high, size) or randint(low, high, size)")
        low, high, size = 0, low, high
    if requires_grad:
        raise TypeError("randint: integer tensors cannot require grad")
    dev = _device_arg(device, "randint")
    gen = generators.drawing_from(generator, dev, "randint")
    shape = _shape_arg((size,), "randint")
    kind = int64 if dtype is None else dtype
    draw = gen.integers if hasattr(gen, "integers") else gen.randint   # NumPy's Generator / CuPy's
    out = _filled(lambda xp, s, d: draw(low, high, s).astype(d), shape, kind, dev, False, "randint")
    return note_draw("randint", lambda: randint(low, high, size, generator=generator, dtype=dtype,
                                                device=device).data, (), out)


def as_tensor(data: Any, dtype: Any = None, device: str | Device | None = None, *,
              like: Tensor | None = None) -> Tensor:
    """``data`` as a Tensor, without a copy where none is needed (PyTorch's ``as_tensor``).

    A Tensor, or a NumPy/CuPy array already of ``dtype`` on ``device``, is used as it is (an array
    stays on its own device when ``device`` is None: no copy is ever made behind the caller's back).
    Python numbers and lists become a new tensor; ``like=`` (minigrad's) takes its device, and its
    dtype for a Python number that fits it, so ``x * 2.0`` stays in ``x``'s dtype.
    """
    if dtype is not None:
        dtype = backend.as_dtype(dtype, "as_tensor")
    if device is not None:
        device = _device_arg(device, "as_tensor")
    if isinstance(data, Tensor):
        if (dtype is None or dtype == data.dtype) and (device is None or data.device == device):
            return data
        return data.to(device=data.device if device is None else device, dtype=data.dtype if dtype is None else dtype)
    if backend.is_array(data):
        if data.dtype.kind not in backend.NUMERIC_KINDS:   # object, string, datetime ...: refused, as tensor() does
            raise TypeError(f"as_tensor: cannot make a tensor of dtype {data.dtype} (numbers only)")
        target = backend.device_of(data) if device is None else device
        if (dtype is None or dtype == data.dtype) and target == backend.device_of(data):
            return Tensor._make(data, False, None, 0)
        return Tensor._new(data, dtype=dtype, device=target)
    if like is not None and not isinstance(like, Tensor):
        raise TypeError(f"as_tensor: like must be a Tensor, got {type(like).__name__}")
    if device is None and like is not None:
        device = like.device
    if dtype is None and like is not None and isinstance(data, (int, float)) and not isinstance(data, bool):
        dtype = like.dtype if like.dtype.kind == "f" or isinstance(data, int) else None
    return Tensor._new(data, dtype=dtype, device=device)
