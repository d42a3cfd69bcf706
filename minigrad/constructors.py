"""The basic constructors: ``tensor``, ``zeros``/``ones``/``empty``/``full`` (and ``*_like``),
``arange``, ``randn``/``rand``/``randint``, ``as_tensor``."""

from __future__ import annotations

import math
from typing import Any, Callable

import numpy

from . import backend, generators
from . import memory_formats as _memory_format
from .arguments import AllocationError, ArgumentTypeError, ShapeMismatchError, as_bool, is_tensor_dtype
from .backend import Device
from .dtypes import get_default_dtype
from .int_arguments import int_arg, int_tuple
from .outputs import creation_args, write_out
from .recording import note_draw
from .tensor import GradTypeError, Tensor, _infer_dtype, int64, is_torch_tensor, torch_values


def tensor(data: Any, dtype: Any = None, requires_grad: bool = False,
           device: str | Device | None = None, *, pin_memory: Any = False) -> Tensor:
    """A new leaf tensor copying ``data`` (scalar, nested list, NumPy/CuPy array or Tensor).

    Python floats become the default dtype (float32 unless ``mg.set_default_dtype``), ints int64,
    bools bool; arrays keep their dtype. The copy of an array or Tensor keeps its layout as PyTorch's
    (``preserve_format``: a transposed array gives a transposed tensor). ``pin_memory``: see
    :func:`tensor_options`.
    """
    if pin_memory is not False:   # a bool here (None too is a TypeError, as PyTorch's)
        tensor_options("tensor", None, as_bool(pin_memory, "tensor", "pin_memory"), device)
    if isinstance(data, Tensor):
        data = data.data
    data = _buffer_numbers(torch_values(data) if is_torch_tensor(data) else data, "tensor")
    source = data if backend.is_array(data) and not data.flags.c_contiguous else None
    if backend.is_array(data) and (device is None or backend.resolve_device(device) == backend.device_of(data)):
        data = data.copy()
    out = Tensor._new(data, dtype=dtype, requires_grad=requires_grad, device=device)
    if getattr(out.data, "base", None) is not None:   # read through a buffer (a torch tensor, a memoryview): copied
        out.data = out.data.copy()
    if source is not None and out.data.ndim > 1:
        out.data = _memory_format.lay_out(out.data, _memory_format.preserve_format, "tensor", source)
    return out


def _buffer_numbers(data: Any, name: str) -> Any:
    """A bytearray or memoryview as PyTorch's ``tensor``/``as_tensor`` read it: a sequence of Python numbers
    (``bytearray(b"ab")`` gives int64 [97, 98], a memoryview of float64s float32 values), not NumPy's typed
    buffer (uint8, float64). ``mg.frombuffer`` and ``mg.asarray`` read the bytes as a dtype instead."""
    if not isinstance(data, (bytearray, memoryview)):
        return data
    view = memoryview(data)
    if view.ndim != 1:
        raise ValueError(f"{name}: could not determine the shape of object type 'memoryview' ({view.ndim}-D, "
                         f"shape {view.shape}; as PyTorch, only a 1-D one is read as a sequence)")
    return view.tolist()


def _buffer_array(obj: Any, dtype: Any) -> Any:
    """The bytes of a bytes, bytearray or memoryview as a 1-D NumPy array of ``dtype`` (the default dtype when
    None), sharing a writable buffer's memory, as ``torch.asarray`` reads a buffer (``torch.frombuffer``)."""
    dt = get_default_dtype() if dtype is None else backend.as_dtype(dtype, "asarray")
    view = memoryview(obj).cast("B")
    if view.nbytes % dt.itemsize:
        raise ValueError(f"asarray: buffer length ({view.nbytes} bytes) must be a multiple of element size "
                         f"({dt.itemsize}) of dtype {dt}")
    array = numpy.frombuffer(view, dtype=dt)
    return array if not view.readonly else array.copy()   # PyTorch would alias read-only memory (with a warning)


def _shape_arg(shape: Any, name: str = "tensor") -> tuple:
    """A shape given as ints, or as one tuple/list of ints; anything else raises naming the constructor."""
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = tuple(shape[0])
    shape = tuple(shape)
    if not _PLAIN_INT.issuperset(map(type, shape)) or shape and max(shape) >= 2**63:   # (plain ints: the usual)
        shape = int_tuple(shape, name)
    if shape and min(shape) < 0:
        raise ShapeMismatchError(f"{name}: negative dimension in shape {shape}")
    return shape


_PLAIN_INT = frozenset((int,))


def _device_arg(device: Any, name: str) -> Device:
    """``device=`` resolved (None: the default device); a bad one raises naming the constructor."""
    try:
        return backend.resolve_device(device)
    except (TypeError, ValueError) as error:
        raise backend.reworded(error, f"{name}: {error}") from error


class SampleDtypeError(TypeError, NotImplementedError):
    """Samples asked for in a dtype they cannot be drawn in (``rand``, ``randn``, ``normal`` in an integer or bool
    dtype; ``randint`` in a complex one, ``randperm`` in a bool or complex one): TypeError here,
    NotImplementedError (a RuntimeError) as PyTorch's ("not implemented for 'Long'")."""


def tensor_options(name: str, layout: Any = None, pin_memory: Any = None, device: Any = None) -> None:
    """Check PyTorch's ``layout=`` and ``pin_memory=`` of the constructor ``name`` (``device``: the result's).

    ``layout``: None or ``mg.strided`` (``torch.strided`` too), the one layout; another layout object raises
    NotImplementedError (a RuntimeError), anything else TypeError, as PyTorch's. ``pin_memory``: a bool or None;
    True asks for page-locked host memory, which PyTorch refuses on a machine without a GPU (RuntimeError) and for
    a result off the CPU; with a GPU it is accepted and changes nothing (CuPy copies from any host array)."""
    if layout is not None:
        if type(layout).__name__ != "layout":
            raise TypeError(f"{name}(): argument 'layout' must be mg.layout (mg.strided), not {type(layout).__name__}")
        if str(layout) not in ("mg.strided", "torch.strided"):
            raise NotImplementedError(f"{name}(): layout={layout!r} is not supported: minigrad has one layout, "
                                      "mg.strided (dense tensors only)")
    if pin_memory is not None and as_bool(pin_memory, name, "pin_memory"):
        dev = _device_arg(device, name)
        if dev.type != "cpu":
            raise RuntimeError(f"{name}(): pin_memory=True pins host memory; only dense CPU tensors can be pinned, "
                               f"got device {dev}")
        if not backend.cuda_is_available():
            raise RuntimeError(f"{name}(): pin_memory=True requires a CUDA or other accelerator backend; no pinned "
                               "memory allocator is available on this system (no usable GPU)")


def out_requires_grad(out: Tensor, requires_grad: Any, name: str) -> Tensor:
    """``out`` after a constructor wrote into it, its ``requires_grad`` set to ``requires_grad`` as PyTorch's
    ``out.requires_grad_(requires_grad)``: ``zeros(2, out=t, requires_grad=True)`` makes ``t`` require grad (an
    integer ``out`` raises), and the default ``False`` makes a leaf ``t`` stop requiring grad (``with no_grad():
    zeros(3, out=weight)``); a non-leaf ``out`` keeps its flag, as PyTorch's."""
    if requires_grad is not None:
        flag = as_bool(requires_grad, name, "requires_grad")
        if flag != out.requires_grad and (flag or out.is_leaf):
            out.requires_grad_(flag)
    return out


def unresizable_out(out: Any, name: str) -> None:
    """PyTorch's ``empty``/``randn`` resize ``out`` through autograd's check, so an ``out`` that requires grad
    is refused even with the right shape and under ``no_grad``."""
    if getattr(out, "requires_grad", False):
        raise RuntimeError(f"{name}(): cannot resize variables that require grad (out, shape {out.shape}), as "
                           "PyTorch's; pass out.detach() or a tensor that does not require grad")


def keep_out_shape(values: Tensor, out: Any) -> Tensor:
    """``values`` (1-D) in ``out``'s shape when out has as many elements: PyTorch's ``arange``/``linspace``/
    ``logspace`` resize out only when its element count differs (``arange(6, out=empty(2, 3))`` stays (2, 3))."""
    if isinstance(out, Tensor) and out.data.size == values.data.size and out.shape != values.shape:
        return Tensor._make(values.data.reshape(out.shape), False, None, 0)
    return values


def _filled(fill: Callable[[Any, tuple, Any], Any], shape: tuple, dtype: Any, device: Any,
            requires_grad: bool, name: str = "tensor") -> Tensor:
    dev = _device_arg(device, name)
    xp = backend.module_for(dev)
    dt = backend.as_dtype(dtype, name) if dtype is not None else get_default_dtype()
    requires_grad = False if requires_grad is None else as_bool(requires_grad, name, "requires_grad")
    try:
        with backend.on_device(dev):
            data = fill(xp, shape, dt)
    except MemoryError as error:
        raise AllocationError(f"{name}: can't allocate memory for shape {shape} of dtype {dt} ({error})") from None
    except (TypeError, ValueError) as error:
        message = f"{name}: {error} (shape {shape}, dtype {dtype!r})"
        # a negative size: PyTorch's RuntimeError as well as NumPy's ValueError
        raise (ShapeMismatchError(message) if type(error) is ValueError else backend.reworded(error, message)) \
            from error
    t = Tensor._make(data, False, None, 0)
    if requires_grad:
        t.requires_grad_(True)
    return t


def _zeros(xp: Any, shape: tuple, dtype: Any) -> Any:
    return xp.zeros(shape, dtype=dtype)


def _ones(xp: Any, shape: tuple, dtype: Any) -> Any:
    return xp.ones(shape, dtype=dtype)


def _sized(shape: Any, dims: tuple, size: Any, name: str) -> tuple:
    """The shape of ``name(*shape_and_dims)`` or ``name(size=...)`` (PyTorch's keyword), checked."""
    if size is not None:
        if shape is not None or dims:
            raise TypeError(f"{name}(): give the shape once, as ints, one tuple or size=, not both")
        shape = size
    if shape is None:   # as PyTorch's zeros(): the size is required (zeros(()) is the 0-d tensor)
        raise TypeError(f'{name}() missing 1 required positional arguments: "size" ({name}(2, 3), {name}((2, 3)) '
                        f"or {name}(size=(2, 3)); {name}(()) for a 0-d tensor)")
    return _shape_arg((shape, *dims), name)


def zeros(shape: Any = None, *dims: Any, out: Any = None, dtype: Any = None, device: Any = None,
          requires_grad: bool = False, size: Any = None, layout: Any = None, pin_memory: Any = None) -> Tensor:
    """Tensor of zeros; ``shape`` as ints or one tuple: ``zeros(2, 3)``, ``zeros((2, 3))``, ``zeros(shape=(2, 3))``
    or ``zeros(size=(2, 3))`` (PyTorch's keyword).

    The default dtype (float32 unless ``mg.set_default_dtype``) when ``dtype`` is None, as every float constructor.
    ``out=``: written into that tensor, in its dtype (minigrad/outputs.py), as every constructor here.
    """
    tensor_options("zeros", layout, None if out is not None else pin_memory, device)
    if out is not None:
        dtype, device = creation_args("zeros", out, dtype, device)
        values = zeros(shape, *dims, dtype=dtype, device=device, size=size)
        return out_requires_grad(write_out("zeros", values, out, warn=False), requires_grad, "zeros")
    return _filled(_zeros, _sized(shape, dims, size, "zeros"), dtype, device, requires_grad, "zeros")


def ones(shape: Any = None, *dims: Any, out: Any = None, dtype: Any = None, device: Any = None,
         requires_grad: bool = False, size: Any = None, layout: Any = None, pin_memory: Any = None) -> Tensor:
    """Tensor of ones; ``shape`` as ints or one tuple (or ``size=``)."""
    tensor_options("ones", layout, None if out is not None else pin_memory, device)
    if out is not None:
        dtype, device = creation_args("ones", out, dtype, device)
        values = ones(shape, *dims, dtype=dtype, device=device, size=size)
        return out_requires_grad(write_out("ones", values, out, warn=False), requires_grad, "ones")
    return _filled(_ones, _sized(shape, dims, size, "ones"), dtype, device, requires_grad, "ones")


def empty(shape: Any = None, *dims: Any, out: Any = None, dtype: Any = None, device: Any = None,
          requires_grad: bool = False, size: Any = None, memory_format: Any = None, layout: Any = None,
          pin_memory: Any = None) -> Tensor:
    """Uninitialised tensor; ``shape`` as ints or one tuple (or ``size=``); ``memory_format`` as PyTorch's
    (``mg.channels_last`` for 4-D; ``preserve_format`` is refused: there is nothing to preserve)."""
    if memory_format is _memory_format.preserve_format:
        raise RuntimeError("empty: unsupported memory format preserve_format (there is no tensor to preserve)")
    tensor_options("empty", layout, None if out is not None else pin_memory, device)
    if out is not None:
        unresizable_out(out, "empty")
        dtype, device = creation_args("empty", out, dtype, device)
        values = empty(shape, *dims, dtype=dtype, device=device, size=size)
        if values.shape == getattr(out, "shape", None):   # nothing to write: PyTorch leaves out (and its version)
            return out_requires_grad(out, requires_grad, "empty")
        return out_requires_grad(write_out("empty", values, out, warn=False), requires_grad, "empty")
    out = _filled(lambda xp, s, d: xp.empty(s, dtype=d), _sized(shape, dims, size, "empty"), dtype, device,
                  requires_grad, "empty")
    return _memory_format.relayout(out, memory_format, "empty")


def full(shape: Any = None, fill_value: Any = None, dtype: Any = None, device: Any = None,
         requires_grad: bool = False, *, size: Any = None, out: Any = None, layout: Any = None,
         pin_memory: Any = None) -> Tensor:
    """Tensor of ``shape`` (or PyTorch's ``size=``) filled with ``fill_value``, a number: its dtype is
    PyTorch's (a bool gives bool, an int int64, a float the default dtype; a NumPy number counts as the
    Python number of its kind, a ``numpy.bool_`` as a float, as in PyTorch) unless ``dtype`` is given."""
    if fill_value is None or (shape is None and size is None):
        missing = [f'"{n}"' for n, v in (("size", size if shape is None else shape), ("fill_value", fill_value))
                   if v is None]
        raise TypeError(f"full() missing {len(missing)} required positional argument: {', '.join(missing)}")
    tensor_options("full", layout, None if out is not None else pin_memory, device)
    if out is not None:
        dtype, device = creation_args("full", out, dtype, device)
        values = full(shape, fill_value, dtype, device, size=size)
        return out_requires_grad(write_out("full", values, out, warn=False), requires_grad, "full")
    return _full(_sized(shape, (), size, "full"), fill_value, dtype, device, requires_grad, "full")


def _full(shape: tuple, fill_value: Any, dtype: Any, device: Any, requires_grad: bool, name: str) -> Tensor:
    fill_value = _fill_number(fill_value, name)
    if dtype is None:
        # PyTorch reads a NumPy number as the Python number of its kind (full((2,), numpy.int32(2)) is int64),
        # but a numpy.bool_ as a float
        number = fill_value.item() if isinstance(fill_value, numpy.number) else fill_value
        dtype = _infer_dtype(number) or get_default_dtype()
    dtype = backend.as_dtype(dtype, name)
    fill_value = _fill_in(fill_value, dtype, name)
    # backend.full: on CuPy a fill with -0.0 keeps its sign (CuPy's own fill writes a zero with a memset)
    return _filled(lambda xp, s, d: backend.full(xp, s, fill_value, dtype=d), shape, dtype, device,
                   requires_grad, name)


def _fill_in(value: Any, dtype: numpy.dtype, name: str) -> Any:
    """``value`` checked to fit ``dtype`` as PyTorch converts a number for ``full``, ``fill_``, ``masked_fill``,
    ``index_fill`` and ``x[i] = v`` (RuntimeError "value cannot be converted ... without overflow"): NaN,
    infinities and floats outside an integer dtype's range, ints outside it (an unsigned dtype takes
    -max ... max, a negative wrapping: -1 is 255 in uint8), a complex with an imaginary part for a real dtype,
    and a finite number beyond a float (or complex) dtype's range (float16 and float32 included). NumPy would
    fill the minimum integer, wrap or store inf without a word. Returns the number to write (a bool for a bool
    dtype, an int for an integer one)."""
    number = value.item() if isinstance(value, numpy.generic) else value
    if dtype.kind == "b":
        return bool(number)   # any number converts (NaN is True), as PyTorch's
    if isinstance(number, bool):
        return value
    if isinstance(number, complex) and dtype.kind != "c":
        if number.imag != 0:
            raise RuntimeError(f"{name}: value {number} cannot be converted to type {dtype} without overflow "
                               "(it has an imaginary part)")
        number = number.real
    lowest, limit = _RANGES.get(dtype) or _range(dtype)
    if dtype.kind in "iu":
        if dtype.kind == "u" and isinstance(number, int):
            lowest = -limit
        if (isinstance(number, float) and not math.isfinite(number)) or not lowest <= number <= limit:
            raise RuntimeError(f"{name}: value {number} cannot be converted to type {dtype} without overflow")
        return int(number) % (limit + 1) if dtype.kind == "u" else int(number)
    for part in (number.real, number.imag) if isinstance(number, complex) else (number,):
        if abs(part) > limit and abs(part) != math.inf:   # inf and NaN convert; an int compares exactly
            raise RuntimeError(f"{name}: value {number} cannot be converted to type {dtype} without overflow")
    return number


_RANGES: dict = {}   # dtype -> (lowest, largest) finite value, for _fill_in (numpy.iinfo/finfo are slow)


def _range(dtype: numpy.dtype) -> tuple:
    """(lowest, largest) finite value of an integer dtype (as ints) or of a float or complex one's real type."""
    kind = int if dtype.kind in "iu" else float
    info = numpy.iinfo(dtype) if kind is int else numpy.finfo(dtype)
    _RANGES[dtype] = kind(info.min), kind(info.max)
    return _RANGES[dtype]


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


def zeros_like(input: Tensor, *, dtype: Any = None, device: Any = None, requires_grad: bool = False,  # noqa: A002
               memory_format: Any = None, layout: Any = None, pin_memory: Any = None) -> Tensor:
    """Zeros with ``x``'s shape, and its dtype and device unless given (``memory_format``: minigrad.memory_format)."""
    x = _like(input, "zeros_like")
    tensor_options("zeros_like", layout, pin_memory, x.device if device is None else device)
    out = _filled(_zeros, x.shape, x.dtype if dtype is None else dtype, x.device if device is None else device,
                  requires_grad, "zeros_like")
    return _memory_format.relayout(out, memory_format, "zeros_like", x)


def ones_like(input: Tensor, *, dtype: Any = None, device: Any = None, requires_grad: bool = False,  # noqa: A002
              memory_format: Any = None, layout: Any = None, pin_memory: Any = None) -> Tensor:
    """Ones with ``x``'s shape, and its dtype and device unless given (``memory_format``: minigrad.memory_format)."""
    x = _like(input, "ones_like")
    tensor_options("ones_like", layout, pin_memory, x.device if device is None else device)
    out = _filled(_ones, x.shape, x.dtype if dtype is None else dtype, x.device if device is None else device,
                  requires_grad, "ones_like")
    return _memory_format.relayout(out, memory_format, "ones_like", x)


def full_like(input: Tensor, fill_value: Any, *, dtype: Any = None, device: Any = None,  # noqa: A002
              requires_grad: bool = False, memory_format: Any = None, layout: Any = None,
              pin_memory: Any = None) -> Tensor:
    """``fill_value`` (a number) with ``x``'s shape, and its dtype and device unless given."""
    x = _like(input, "full_like")
    tensor_options("full_like", layout, pin_memory, x.device if device is None else device)
    out = _full(x.shape, fill_value, x.dtype if dtype is None else dtype, x.device if device is None else device,
                requires_grad, "full_like")
    return _memory_format.relayout(out, memory_format, "full_like", x)


_NOT_GIVEN = object()   # arange's start when only end is given (a None start is refused, as PyTorch's)


def arange(start: Any = _NOT_GIVEN, end: Any = None, step: Any = 1, *, dtype: Any = None, device: Any = None,
           requires_grad: bool = False, stop: Any = None, out: Any = None, layout: Any = None,
           pin_memory: Any = None) -> Tensor:
    """Evenly spaced values in [start, end), as ``torch.arange``: ``arange(5)``, ``arange(1, 5)``,
    ``arange(0, 1, 0.1)``, ``arange(end=5)`` (``stop=`` is NumPy's name); int64 when every bound is an
    int, else the default dtype (float32).

    Length ``ceil((end - start) / step)`` in float64 and values ``start + i * step`` in float64, as PyTorch
    (``arange(0, 1, 0.1)`` has 10 elements, its last float32(0.9)), not by NumPy's repeated float32 steps;
    float16, float32 and float64 values on the CPU bit for bit as PyTorch's vector kernel makes them
    (:func:`_cpu_arange`).
    An integer ``dtype`` with float bounds truncates them as PyTorch does (int64 truncates the bounds before
    the length; narrower ints only start and step) and wraps out-of-range values. A zero step, an infinite or
    NaN bound, or a step that leads away from ``end`` raises a ValueError, as PyTorch's (with NumPy's ``stop=``,
    the last gives NumPy's empty range); an int bound beyond int64 a RuntimeError, and a bool dtype
    NotImplementedError, as PyTorch's.
    ``out=`` (``arange(0, n, out=mg.LongTensor(n))``): computed in out's dtype and written into it.
    """
    tensor_options("arange", layout, None if out is not None else pin_memory, device)
    if out is not None:
        dtype, device = creation_args("arange", out, dtype, device)
        values = keep_out_shape(arange(start, end, step, dtype=dtype, device=device, stop=stop), out)
        return out_requires_grad(write_out("arange", values, out), requires_grad, "arange")
    if stop is not None:
        if end is not None:
            raise TypeError("arange(): give end (PyTorch's name) or stop (NumPy's), not both")
        end = stop
    if end is None:
        if start is _NOT_GIVEN:
            raise TypeError("arange() missing the argument 'end'")
        start, end = 0, start
    elif start is _NOT_GIVEN:
        start = 0
    start, end, step = (_arange_number(v, what) for v, what in ((start, "start"), (end, "end"), (step, "step")))
    asked = None if dtype is None else backend.as_dtype(dtype, "arange")
    if asked is not None and asked.kind in "bc":   # PyTorch refuses the dtype before a complex number
        raise NotImplementedError(f"arange: not implemented for dtype {asked} (as PyTorch's)")
    for v, what in ((start, "start"), (end, "end"), (step, "step")):
        if isinstance(v, (complex, numpy.complexfloating)):   # RuntimeError in PyTorch
            raise ArgumentTypeError(f"arange(): argument '{what}' must be a real number, not {type(v).__name__}")
    if step == 0:
        raise ShapeMismatchError("arange: step must be nonzero")
    if any(isinstance(v, (float, numpy.floating)) and not math.isfinite(v) for v in (start, end, step)):
        raise ShapeMismatchError(f"arange: unsupported range: {start} -> {end} (step {step}): every bound must be "
                                 "finite")
    if stop is None and (end - start) * step < 0:   # PyTorch refuses; NumPy's stop= gives an empty range
        raise ShapeMismatchError(f"arange: upper bound and lower bound inconsistent with step sign: {start} -> {end} "
                                 f"(step {step})")
    integral = all(isinstance(v, (int, numpy.integer)) for v in (start, end, step))
    kind = (int64 if integral else get_default_dtype()) if asked is None else asked
    for v in (start, end, step):   # PyTorch reads an int bound as an int64 (NumPy would wrap it: values < 0)
        if isinstance(v, (int, numpy.integer)) and not -2**63 <= int(v) < 2**63:
            raise RuntimeError(f"arange: value {v} cannot be converted to type int64 without overflow")
    if integral or (kind == int64):
        first, last, stride = int(start), int(end), int(step)   # int() truncates, as PyTorch's int64 path
        if stride == 0:
            raise ValueError(f"arange: step must be nonzero (step {step} truncates to 0 for dtype {kind})")
        count = max(0, -((first - last) // stride))   # ceil((last - first) / stride) in exact integers
    else:
        first, stride = (int(start), int(step)) if kind.kind in "biu" else (start, step)
        count = max(0, math.ceil((float(end) - float(start)) / float(step)))

    def fill(xp: Any, shape: tuple, d: Any) -> Any:
        exact = "int64" if isinstance(first, int) and isinstance(stride, int) else "float64"
        if xp is numpy and exact == "float64" and d in (numpy.float16, numpy.float32, numpy.float64):
            return _cpu_arange(float(first), float(stride), count, d)
        values = xp.arange(count, dtype=exact) * xp.asarray(stride, dtype=exact) + xp.asarray(first, dtype=exact)
        return values.astype(d)
    return _filled(fill, (), kind, device, requires_grad, "arange")


def _cpu_arange(start: float, step: float, count: int, dtype: numpy.dtype) -> numpy.ndarray:
    """PyTorch's CPU ``arange`` in float16, float32 or float64, bit for bit: (count,). Its kernel fills vectors
    of 16 float16s, 8 float32s or 4 float64s, two at a time: each vector's first value ``start + step * i`` (a
    fused multiply-add in float32 for float16, else float64), rounded to dtype, then ``first + lane * step``
    (fused) for the lanes after it; the elements past the last pair of vectors are ``start + step * i`` each.
    (PyTorch splits an arange of over 32768 elements between its threads, each restarting the vectors at its own
    first element, so its last bits there depend on the thread count; this is the one-thread answer.)"""
    exact = {numpy.float16: 2.0 ** 11, numpy.float32: 2.0 ** 24}.get(dtype.type, 2.0 ** 53)
    if start.is_integer() and step.is_integer() and abs(start) + abs(step) * count <= exact:
        # every value (and every partial sum) is a whole number the dtype holds: no rounding anywhere
        return (numpy.arange(count, dtype=numpy.float64) * step + start).astype(dtype)
    lanes = {numpy.float16: 16, numpy.float32: 8}.get(dtype.type, 4)
    if dtype == numpy.float16:   # float32 arithmetic; float64 holds a float32 product exactly
        start, step = float(numpy.float32(start)), float(numpy.float32(step))

        def fused(a: Any, b: Any, c: Any) -> Any:
            return (a * b + c).astype(numpy.float32)
    else:
        fused = _fused_multiply_add
    body = count - count % (2 * lanes)   # the elements filled as vectors, (body / lanes, lanes)
    # start + step * i: each vector's first element, then each element of the tail
    index = numpy.concatenate([numpy.arange(0, body, lanes), numpy.arange(body, count)]).astype(numpy.float64)
    heads = fused(numpy.float64(step), index, numpy.float64(start)).astype(dtype)
    if not body:
        return heads
    firsts, tail = heads[:body // lanes, None], heads[body // lanes:]
    lane = numpy.arange(lanes, dtype=numpy.float64)
    vectors = fused(lane, numpy.float64(step), firsts.astype(numpy.float64)).astype(dtype)   # (body / lanes, lanes)
    return numpy.concatenate([vectors.reshape(-1), tail])


def _fused_multiply_add(a: Any, b: Any, c: Any) -> Any:
    """``a * b + c`` of float64 arrays rounded once (C's fma; NumPy has none), from the exact product's error
    (Dekker's splitting) and the exact sum's (Knuth's two-sum); off in the last bit only in the rarest ties."""
    with numpy.errstate(all="ignore"):
        product = a * b
        split_a, split_b = a * 134217729.0, b * 134217729.0   # 2**27 + 1: the high 26 bits of each
        a_high = split_a - (split_a - a)
        b_high = split_b - (split_b - b)
        a_low, b_low = a - a_high, b - b_high
        product_error = ((a_high * b_high - product) + a_high * b_low + a_low * b_high) + a_low * b_low
        total = product + c
        back = total - product
        sum_error = (product - (total - back)) + (c - back)
        correction = sum_error + product_error
        fused = numpy.where(correction == 0, total, total + correction)   # keeps -0.0 + -0.0's sign (-0.0)
        finite = numpy.isfinite(fused)
        return fused if finite.all() else numpy.where(finite, fused, product + c)


def _arange_number(value: Any, what: str) -> Any:
    if value is None and what == "step":
        return 1   # numpy.arange's default
    if isinstance(value, Tensor) and value.ndim == 0:   # PyTorch's Number: a 0-d tensor (tensor([3]) is refused)
        value = value.item()
    if not isinstance(value, (int, float, complex, numpy.number)):   # a complex one is refused after the dtype
        raise TypeError(f"arange(): argument '{what}' must be a real number, not {type(value).__name__}")
    return value


def _samples(name: str, method: str, shape: tuple, dtype: Any, device: Any, requires_grad: bool,
             again: Callable[[], Any], generator: Any = None, size: Any = None) -> Tensor:
    """``shape`` (or ``size=``) samples drawn with the generator's ``method`` (``generator``'s, an
    ``mg.Generator``, else the device's); ``again`` redraws them for a replay.

    Only float and complex dtypes, as PyTorch: a cast of float samples to an integer dtype would give
    zeros (rand) or truncated values (randn). A complex sample draws the real and imaginary parts;
    randn's each have variance 1/2, so the complex variance is 1, as PyTorch's.
    """
    dev = _device_arg(device, name)
    kind = get_default_dtype() if dtype is None else backend.as_dtype(dtype, name)
    if kind.kind not in "fc":
        raise SampleDtypeError(f"{name}: samples must be floating point or complex, got dtype {kind}"
                        + (" (mg.randint draws integers)" if kind.kind in "iu" else ""))
    if size is not None:
        if shape:
            raise TypeError(f"{name}(): give the shape once, as ints, one tuple or size=, not both")
        shape = (size,)
    source = generators.drawing_from(generator, dev, name)
    if method == "random" and not hasattr(source, "random"):
        method = "random_sample"   # CuPy's RandomState
    draw = getattr(source, method)

    def fill(xp: Any, s: tuple, d: Any) -> Any:
        if d.kind == "c":
            parts = draw((2, *s)) * (0.5 ** 0.5 if method == "standard_normal" else 1.0)
            parts = below_one(parts, d) if method != "standard_normal" else parts
            return (parts[0] + 1j * parts[1]).astype(d)
        if d.itemsize >= 4:   # drawn in d itself: NumPy's float32 draws are k / 2**24, below 1
            return draw(s, dtype=d)
        return (below_one(draw(s), d) if method != "standard_normal" else draw(s)).astype(d)
    out = _filled(fill, _shape_arg(shape, name), kind, dev, requires_grad, name)
    # inside an mg.compile capture, a replay draws again from the generator (in eager's order)
    return note_draw(name, again, (), out)


def below_one(u: Any, dtype: Any) -> Any:
    """float64 draws ``u`` of U[0, 1) rounded down to multiples of ``dtype``'s spacing below 1 (2**-11 for float16,
    2**-24 for float32 and complex64), as PyTorch draws k / 2**digits: cast as they are, a draw just below 1
    would round up to 1 (about 2.4e-4 of float16 draws)."""
    steps = 2.0 ** (numpy.finfo(dtype).nmant + 1)
    return backend.array_module(u).floor(u * steps) / steps


def _needs_size(name: str, shape: tuple, size: Any) -> None:
    """PyTorch's ``rand()``/``randn()`` without a size raise TypeError (``rand(())`` is the 0-d sample)."""
    if not shape and size is None:
        raise TypeError(f"{name}() missing the size: {name}(2, 3), {name}((2, 3)) or {name}(size=(2, 3)); "
                        f"{name}(()) for a 0-d tensor, as PyTorch's")


def randn(*shape: Any, generator: Any = None, out: Any = None, dtype: Any = None, device: Any = None,
          requires_grad: bool = False, size: Any = None, layout: Any = None, pin_memory: Any = None) -> Tensor:
    """Standard normal samples from ``generator`` or the device's generator (see ``manual_seed``);
    ``randn(2, 3)``, ``randn((2, 3))`` or ``randn(size=(2, 3))``; float or complex dtypes only."""
    _needs_size("randn", shape, size)
    tensor_options("randn", layout, None if out is not None else pin_memory, device)
    if out is not None:
        unresizable_out(out, "randn")
        dtype, device = creation_args("randn", out, dtype, device)
        values = randn(*shape, generator=generator, dtype=dtype, device=device, size=size)
        return out_requires_grad(write_out("randn", values, out, warn=False), requires_grad, "randn")
    return _samples("randn", "standard_normal", shape, dtype, device, requires_grad,
                    lambda: randn(*shape, generator=generator, dtype=dtype, device=device, size=size).data,
                    generator, size)


def rand(*shape: Any, generator: Any = None, out: Any = None, dtype: Any = None, device: Any = None,
         requires_grad: bool = False, size: Any = None, layout: Any = None, pin_memory: Any = None) -> Tensor:
    """Uniform samples in [0, 1) from ``generator`` or the device's generator; float or complex dtypes only."""
    _needs_size("rand", shape, size)
    tensor_options("rand", layout, None if out is not None else pin_memory, device)
    if out is not None:
        dtype, device = creation_args("rand", out, dtype, device)
        values = rand(*shape, generator=generator, dtype=dtype, device=device, size=size)
        return out_requires_grad(write_out("rand", values, out, warn=False), requires_grad, "rand")
    return _samples("rand", "random", shape, dtype, device, requires_grad,
                    lambda: rand(*shape, generator=generator, dtype=dtype, device=device, size=size).data,
                    generator, size)


def exact_integers(dtype: Any, name: str) -> tuple[int, int]:
    """The range of integers ``dtype`` holds exactly (bool: 0 and 1; float16: ±2048 …); complex raises."""
    if dtype.kind == "b":
        return 0, 1
    if dtype.kind in "iu":
        info = numpy.iinfo(dtype)
        return int(info.min), int(info.max)
    if dtype.kind == "f":
        limit = 2 ** (numpy.finfo(dtype).nmant + 1)
        return -limit, limit
    raise SampleDtypeError(f"{name}: cannot draw integers of dtype {dtype} (integer, float or bool dtypes only)")


def randint(low: Any = None, high: Any = None, size: Any = None, *, generator: Any = None, out: Any = None,
            dtype: Any = None, device: Any = None, requires_grad: bool = False, layout: Any = None,
            pin_memory: Any = None) -> Tensor:
    """Integers in [low, high) (int64 by default), as ``torch.randint``: ``randint(low, high, size)``,
    ``randint(high, size)`` or ``randint(high=5, size=(3,))``, from ``generator`` or the device's generator.

    ``low`` and ``high - 1`` must fit in ``dtype`` (as PyTorch checks; a cast would wrap); a float
    ``dtype`` may require grad.
    """
    tensor_options("randint", layout, None if out is not None else pin_memory, device)
    if out is not None:
        dtype, device = creation_args("randint", out, dtype, device)
        values = randint(low, high, size, generator=generator, dtype=dtype, device=device)
        return out_requires_grad(write_out("randint", values, out, warn=False), requires_grad, "randint")
    if size is None:
        if low is None or high is None:
            raise TypeError("randint: give randint(high, size), randint(low, high, size) or randint(high=, size=)")
        low, high, size = 0, low, high
    elif high is None:
        if low is None:
            raise TypeError("randint: missing the argument 'high'")
        low, high = 0, low
    elif low is None:
        low = 0
    # PyTorch's SymInts: tensor([3]) too; a bool or a bool tensor raises (operator.index read them as 0 or 1)
    low, high = (int_arg(v, "randint()", what, one_element=True) for v, what in ((low, "low"), (high, "high")))
    kind = int64 if dtype is None else backend.as_dtype(dtype, "randint")
    lowest, highest = exact_integers(kind, "randint")
    if not low < high:
        raise ShapeMismatchError(f"randint: expects low < high, got low={low} >= high={high}")
    if low < lowest or high - 1 > highest:
        raise ShapeMismatchError(f"randint: [low, high) = [{low}, {high}) does not fit in dtype {kind} "
                         f"(it holds {lowest} … {highest})")
    if requires_grad is not None and as_bool(requires_grad, "randint", "requires_grad") and kind.kind not in "fc":
        raise GradTypeError(f"randint: integer tensors cannot require grad (dtype {kind}); use a float dtype")
    dev = _device_arg(device, "randint")
    gen = generators.drawing_from(generator, dev, "randint")
    shape = _shape_arg((size,), "randint")
    draw = gen.integers if hasattr(gen, "integers") else gen.randint   # NumPy's Generator / CuPy's
    out = _filled(lambda xp, s, d: draw(low, high, s).astype(d), shape, kind, dev, requires_grad, "randint")
    return note_draw("randint", lambda: randint(low, high, size, generator=generator, dtype=dtype,
                                                device=device).data, (), out)


def asarray(obj: Any, dtype: Any = None, device: str | Device | None = None, *, like: Tensor | None = None,
            copy: bool | None = None, requires_grad: bool | None = None) -> Tensor:
    """torch.asarray: :func:`as_tensor` of ``obj`` (PyTorch names the argument ``obj`` here, ``data`` there),
    except that a bytes, bytearray or memoryview is read as raw memory of ``dtype`` (the default dtype when None),
    shared when writable, as PyTorch's ``asarray(bytearray(8))`` is two float32s, and a 0-d NumPy array is
    copied, as PyTorch's."""
    if isinstance(obj, (bytes, bytearray, memoryview)):
        obj = _buffer_array(obj, dtype)
    elif type(obj) is numpy.ndarray and obj.ndim == 0:   # PyTorch's asarray reads a 0-d NumPy array as a NumPy
        obj = obj.copy()   # scalar: a copy, even with copy=False (as_tensor and from_numpy share its memory)
    return as_tensor(obj, dtype, device, like=like, copy=copy, requires_grad=requires_grad)


def as_tensor(data: Any, dtype: Any = None, device: str | Device | None = None, *,
              like: Tensor | None = None, copy: bool | None = None, requires_grad: bool | None = None) -> Tensor:
    """``data`` as a Tensor, without a copy where none is needed (PyTorch's ``as_tensor``; ``mg.asarray``
    calls it, so it also takes ``torch.asarray``'s ``copy=`` and ``requires_grad=``).

    A Tensor, or a NumPy/CuPy array already of ``dtype`` on ``device``, is used as it is (an array
    stays on its own device when ``device`` is None: no copy is ever made behind the caller's back).
    Python numbers and lists become a new tensor; ``like=`` (minigrad's) takes its device, and its
    dtype for a Python number that fits it, so ``x * 2.0`` stays in ``x``'s dtype.
    ``copy=True`` always copies (a Tensor differentiably, as ``clone``); ``copy=False`` raises where a
    copy is needed. ``requires_grad=True`` makes the result require grad; ``False`` gives a Tensor
    that requires grad detached (PyTorch's asarray would switch it off on the caller's tensor).
    """
    out = _as_tensor(data, dtype, device, like, copy)
    if requires_grad is not None:
        if as_bool(requires_grad, "asarray", "requires_grad"):
            if not out.requires_grad:
                out.requires_grad_(True)
        elif out.requires_grad:
            out = out.detach()
    return out


def _as_tensor(data: Any, dtype: Any, device: Any, like: Any, copy: bool | None) -> Tensor:
    if copy is not None:
        copy = as_bool(copy, "asarray", "copy")
    if dtype is not None:
        dtype = backend.as_dtype(dtype, "as_tensor")
    if device is not None:
        device = _device_arg(device, "as_tensor")
    if isinstance(data, Tensor):
        if (dtype is None or dtype == data.dtype) and (device is None or data.device == device):
            return data.clone() if copy else data
        _no_copy(copy, f"a {data.dtype} tensor on {data.device}", dtype, device)
        return data.to(device=data.device if device is None else device, dtype=data.dtype if dtype is None else dtype)
    if backend.is_array(data):
        if not is_tensor_dtype(data.dtype):   # object, string, datetime, longdouble ...: refused, as tensor() does
            raise TypeError(f"as_tensor: cannot make a tensor of dtype {data.dtype} (numbers only, at most float64 "
                            "and complex128, as PyTorch)")
        target = backend.device_of(data) if device is None else device
        if data.dtype.isnative and (dtype is None or dtype == data.dtype) and target == backend.device_of(data):
            return Tensor._make(data.copy() if copy else shared_memory(data), False, None, 0)
        _no_copy(copy, f"a {data.dtype} array on {backend.device_of(data)}", dtype, device)
        return Tensor._new(data, dtype=dtype, device=target)
    if is_torch_tensor(data):   # read as torch.tensor reads it (detached, its lazy conj/neg bits resolved); a CPU
        if copy is False and (data.is_conj() or data.is_neg()):   # tensor without them stays aliased, as torch's
            raise ValueError("asarray: copy=False cannot alias a torch tensor with its conjugate or negative bit set "
                             "(its values are resolved into a copy)")
        data = torch_values(data)
    data = _buffer_numbers(data, "as_tensor")
    if copy is False:   # an object NumPy reads in place (a torch tensor, an ndarray subclass) may be aliased
        out = Tensor._new(data, dtype=dtype, device=device) if _array_like(data) else None
        if out is None or type(out.data) is not numpy.ndarray or not numpy.may_share_memory(out.data, data):
            raise ValueError(f"asarray: copy=False cannot alias a {type(data).__name__} into a tensor (a copy is "
                             "needed)")
        return out
    if copy and isinstance(data, numpy.ndarray):   # an ndarray subclass (matrix, masked array) is read in place
        data = numpy.array(data, subok=False)
    if like is not None and not isinstance(like, Tensor):
        raise TypeError(f"as_tensor: like must be a Tensor, got {type(like).__name__}")
    if device is None and like is not None:
        device = like.device
    if dtype is None and like is not None and isinstance(data, (int, float)) and not isinstance(data, bool):
        dtype = like.dtype if like.dtype.kind == "f" or isinstance(data, int) else None
    out = Tensor._new(data, dtype=dtype, device=device)
    if copy and getattr(out.data, "base", None) is not None:   # read in place through __array__ (a torch tensor)
        out.data = out.data.copy(order="K")
    return out


def _array_like(data: Any) -> bool:
    """Whether NumPy reads ``data`` through the array protocols (``__array__``, ``__array_interface__``)."""
    return hasattr(data, "__array__") or hasattr(data, "__array_interface__")


class _ViewedMemory:
    """A NumPy view's memory from its first element on (the view keeps its strides and read-only flag)."""

    def __init__(self, array: numpy.ndarray) -> None:
        # its strides as they are (the interface gives None for a C-contiguous view, which NumPy reads as C strides
        # on its size-1 dims too: a 0 stride there, as PyTorch's from_numpy keeps it, would be lost)
        self.__array_interface__ = dict(array.__array_interface__, strides=array.strides)
        self._array = array   # keeps the memory alive


def shared_memory(array: Any) -> Any:
    """``array`` for a tensor that shares its memory (``from_numpy``, ``as_tensor``): a NumPy view is seen from its
    first element, as PyTorch's storage of it starts there (``storage_offset()`` 0, and ``as_strided`` reads the
    view's memory, never the memory before it)."""
    if type(array) is numpy.ndarray and array.base is not None:
        return numpy.asarray(_ViewedMemory(array))
    return array


def _no_copy(copy: bool | None, what: str, dtype: Any, device: Any) -> None:
    if copy is False:
        raise ValueError(f"asarray: copy=False cannot alias {what} as dtype {dtype} on device {device} "
                         "(a copy is needed)")
