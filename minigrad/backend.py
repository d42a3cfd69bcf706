"""Devices and array modules: the only module that names NumPy or CuPy.

Every other file asks this one for the array module (``xp``) of an array, for
the device an array lives on, or for an array moved to another device. CuPy is
imported lazily, the first time a CUDA device is asked for, so the package
imports and runs on machines without it.
"""

from __future__ import annotations

import os
import threading
import warnings
from typing import Any

import numpy

from .arguments import NUMERIC_KINDS, as_dtype, reworded  # noqa: F401 - the ops read them here too


class DeviceSpecError(ValueError, RuntimeError):
    """A device string minigrad cannot read (PyTorch raises RuntimeError; minigrad's ValueError kept too)."""


def hide_floating_point_warnings() -> None:
    """PyTorch never warns about a floating-point result (``log(0) = -inf``, ``0 / 0 = nan``, an ``exp`` that
    overflows to ``inf``); NumPy does, from inside minigrad's ops. Called once at import: NumPy's
    ``RuntimeWarning`` s about them are not shown when they come from minigrad's or nn's own code (a
    user's NumPy code warns as before). A warnings filter, not ``numpy.errstate``: it costs an op
    nothing. A filter set later (``warnings.simplefilter("error")``, ``pytest -W error``) comes first and
    still applies."""
    warnings.filterwarnings("ignore", message=r"(divide by zero|invalid value|overflow|underflow) encountered",
                            category=RuntimeWarning, module=r"(minigrad|nn)(\.|$)")


hide_floating_point_warnings()

ndarray = numpy.ndarray

_cupy: Any = None          # the cupy module once imported, False when unavailable
_cupy_error: str = ""

INSTALL_HINT = (
    "install CuPy for your CUDA version, e.g. `pip install cupy-cuda12x` (CUDA 12) or "
    "`pip install cupy-cuda13x` (CUDA 13), on a machine with an NVIDIA GPU and driver"
)


class Device(str):
    """A device name: ``"cpu"`` or ``"cuda:N"``. Compares equal to its string.

    ``Device("cuda")`` means the current CUDA device, ``cuda:0`` unless CuPy
    says otherwise.
    """

    type: str
    index: int | None

    def __new__(cls, spec: str | Device | None = "cpu", index: int | None = None) -> Device:
        if index is not None:   # PyTorch's two-argument form: mg.device("cuda", 1)
            spec = _with_index(spec, index)
        if isinstance(spec, Device):
            return spec
        if spec is None:
            spec = "cpu"
        if isinstance(spec, (int, numpy.integer)) and not isinstance(spec, (bool, numpy.bool_)):
            if spec < 0:   # an int is a CUDA device index, as PyTorch's torch.device(0)
                raise DeviceSpecError(f"Device index must not be negative, got {spec}")
            spec = f"cuda:{int(spec)}"
        if not isinstance(spec, str):
            raise TypeError(f"device must be a string like 'cpu' or 'cuda:0', got {spec!r}")
        text = spec.strip().lower()
        if text == "cpu" or text.startswith("cpu:") and text[4:].isdigit():   # 'cpu:0' is the CPU, as PyTorch's
            self = super().__new__(cls, "cpu")
            self.type, self.index = "cpu", None
            return self
        if text == "cuda" or text == "gpu":
            index = None
        elif text.startswith("cuda:") and text[5:].isdigit():
            index = int(text[5:])
        else:
            raise DeviceSpecError(f"unknown device {spec!r}: expected 'cpu', 'cuda' or 'cuda:N'")
        if index is None:
            index = _current_cuda_index()
        self = super().__new__(cls, f"cuda:{index}")
        self.type, self.index = "cuda", index
        return self

    def __repr__(self) -> str:
        return f"device({str(self)!r})"

    def __enter__(self) -> Device:
        """``with mg.device("cuda"):``: this device is the default of factory functions in the block, as PyTorch's."""
        _thread_device.blocks.append(_thread_device.device)
        set_default_device(self)
        return self

    def __exit__(self, *exc: object) -> None:
        _thread_device.device = _thread_device.blocks.pop()


CPU = Device("cpu")


def _with_index(spec: object, index: object) -> str:
    """``Device(type, index)``'s spelling as one string, with PyTorch's checks on the pair."""
    if not isinstance(index, (int, numpy.integer)) or isinstance(index, (bool, numpy.bool_)):
        raise TypeError(f"device(): argument 'index' (position 2) must be int, not {type(index).__name__}")
    if index < 0:
        raise DeviceSpecError(f"Device index must not be negative, got {index}")
    if not isinstance(spec, str):
        raise TypeError(f"device(): argument 'type' (position 1) must be str, not {type(spec).__name__}")
    if ":" in spec:
        raise DeviceSpecError(f"type (string) must not include an index because index was passed explicitly: {spec}")
    return f"{spec}:{int(index)}"


def _current_cuda_index() -> int:
    cp = cupy_module(required=False)
    if cp is None:
        return 0
    try:
        return int(cp.cuda.Device().id)
    except Exception:  # no GPU present: the error comes when the device is used
        return 0


def cupy_module(required: bool = True) -> Any:
    """Import CuPy on first use; return it, or None / raise when unavailable."""
    global _cupy, _cupy_error
    if _cupy is None:
        try:
            import cupy  # noqa: PLC0415 - lazy on purpose

            cupy.cuda.runtime.getDeviceCount()
            _cupy = cupy
        except Exception as error:  # ImportError, or CUDA errors without a driver/GPU
            _cupy, _cupy_error = False, f"{type(error).__name__}: {error}"
    if _cupy is False:
        if required:
            raise RuntimeError(
                f"CUDA was requested but is not available ({_cupy_error}); {INSTALL_HINT}"
            )
        return None
    return _cupy


def cuda_is_available() -> bool:
    """True when CuPy imports and sees at least one GPU."""
    cp = cupy_module(required=False)
    if cp is None:
        return False
    try:
        return cp.cuda.runtime.getDeviceCount() > 0
    except Exception:
        return False


def cuda_device_count() -> int:
    cp = cupy_module(required=False)
    return 0 if cp is None else int(cp.cuda.runtime.getDeviceCount())


def cuda_synchronize() -> None:
    cp = cupy_module(required=False)
    if cp is not None:
        cp.cuda.get_current_stream().synchronize()


# --- default device ---------------------------------------------------------

_default_device: Device = CPU   # every thread's default until it sets its own: env MINIGRAD_DEVICE, else CPU


class _ThreadDevice(threading.local):
    """One thread's default device, as PyTorch's: ``set_default_device`` and ``with mg.device(...)`` in one thread
    leave the others' alone. ``device`` None means the process's ``_default_device``."""

    def __init__(self) -> None:
        self.device: Device | None = None
        self.blocks: list = []   # the defaults that `with mg.device(...)` blocks replaced, innermost last


_thread_device = _ThreadDevice()


def set_default_device(device: str | Device) -> None:
    """Device used by constructors when none is given, in this thread (as PyTorch's; env MINIGRAD_DEVICE sets
    every thread's starting default)."""
    _thread_device.device = resolve_device(Device(device))   # Device(): None means "cpu" here, not "the default"


def get_default_device() -> Device:
    """The device constructors use when none is given (``set_default_device`` in this thread, or env
    MINIGRAD_DEVICE; else CPU)."""
    device = _thread_device.device
    return _default_device if device is None else device


def _check_cuda(dev: Device) -> Any:
    cp = cupy_module(required=True)
    count = cp.cuda.runtime.getDeviceCount()
    if dev.index is not None and dev.index >= count:
        raise RuntimeError(f"device {dev} requested but only {count} CUDA device(s) exist")
    return cp


def resolve_device(device: str | Device | None) -> Device:
    """The Device for a user's ``device=`` argument (None: the default)."""
    if device is None:
        return get_default_device()
    dev = Device(device)
    if dev.type == "cuda":
        _check_cuda(dev)
    return dev


# --- arrays -----------------------------------------------------------------

def is_array(value: Any) -> bool:
    """True for a NumPy or CuPy ndarray."""
    if type(value) is ndarray:
        return True
    return _cupy not in (None, False) and isinstance(value, _cupy.ndarray)


def array_module(array: Any) -> Any:
    """NumPy for host arrays (and Python scalars), CuPy for device arrays."""
    if type(array) is ndarray or _cupy in (None, False):
        return numpy
    return _cupy if isinstance(array, _cupy.ndarray) else numpy


def module_for(device: Device) -> Any:
    """NumPy for the CPU, CuPy for a CUDA device (RuntimeError when CUDA is not available)."""
    return numpy if device.type == "cpu" else _check_cuda(device)


_cuda_devices: dict[int, Device] = {}   # one Device per GPU index: ops ask for their inputs' devices


def device_of(array: Any) -> Device:
    """The Device an array lives on: CPU for NumPy arrays and scalars, ``cuda:<id>`` for CuPy arrays."""
    if type(array) is ndarray or _cupy in (None, False) or not isinstance(array, _cupy.ndarray):
        return CPU
    index = array.device.id
    device = _cuda_devices.get(index)
    if device is None:
        device = _cuda_devices[index] = Device(f"cuda:{index}")
    return device


def to_device(array: Any, device: Device | str) -> Any:
    """Copy ``array`` to ``device`` (returns it unchanged if already there)."""
    device = _as_device(device, "to_device")
    if not is_array(array) and not isinstance(array, numpy.generic):
        # a list or a Tensor would come back unchanged on the CPU and fail only on a GPU
        raise TypeError(f"to_device: expected a NumPy or CuPy array, got {type(array).__name__} "
                        "(mg.make_array builds one from lists; a Tensor moves with tensor.to(device))")
    if device_of(array) == device:
        return array
    if device.type == "cpu":
        return array.get()
    cp = _check_cuda(device)
    with cp.cuda.Device(device.index):
        if array.ndim == 0 and not isinstance(array, cp.ndarray):   # CuPy writes a 0-d host array with fill, a
            return cp.asarray(numpy.reshape(array, 1)).reshape(())  # memset for any zero: -0.0 would come out 0.0
        return cp.asarray(array)


def to_numpy(array: Any) -> numpy.ndarray:
    """A host ``numpy.ndarray`` for any array (or a Tensor, a number, a nested list of numbers)."""
    if type(array) is ndarray:
        return array
    if is_array(array):
        return array.get()
    try:
        host = numpy.asarray(array)
    except (TypeError, ValueError) as error:   # ragged lists, one-element checks of a Tensor ...
        raise reworded(error, f"to_numpy: cannot make an array of this {type(array).__name__}: {error}") from error
    if host.dtype.kind not in NUMERIC_KINDS:
        raise TypeError(f"to_numpy: expected an array, a Tensor or numbers, got {type(array).__name__} "
                        f"(which would give an array of dtype {host.dtype})")
    return host


def _as_device(device: Any, caller: str) -> Device:
    """``device`` as a Device: the public array functions also take names (``"cuda:1"``)."""
    if type(device) is Device:
        return device
    if isinstance(device, str):
        return resolve_device(device)
    raise TypeError(f"{caller}: device must be a device name such as 'cpu' or 'cuda:0', got {type(device).__name__}")


def make_array(data: Any, dtype: Any, device: Device | str) -> Any:
    """Build an array on ``device`` from nested lists, scalars or arrays."""
    device = _as_device(device, "make_array")
    dtype = None if dtype is None else as_dtype(dtype, "make_array")
    try:
        if device.type == "cpu":
            if is_array(data) and not isinstance(data, ndarray):
                data = data.get()
            return numpy.asarray(data, dtype=dtype)
        cp = _check_cuda(device)
        with cp.cuda.Device(device.index):
            if isinstance(data, (int, float, complex, numpy.generic, numpy.ndarray)) and numpy.ndim(data) == 0:
                return cp.asarray(numpy.asarray(data, dtype=dtype).reshape(1)).reshape(())   # see to_device
            return cp.asarray(data, dtype=dtype)
    except (TypeError, ValueError) as error:   # ragged lists, strings for a numeric dtype ...
        raise reworded(error, f"make_array: {error}") from error


def signed_zero(value: Any) -> bool:
    """Whether ``value`` (a host number) is a float or complex zero that CuPy's ``fill`` would lose the sign of:
    CuPy writes a host zero with ``memset(0)`` (``ndarray.fill``, ``full``, ``x[i] = 0.0``, ``asarray`` of a 0-d
    array), which gives +0.0 for -0.0 and for either part of a complex zero."""
    return isinstance(value, (float, complex, numpy.inexact)) and value == 0 and (
        numpy.signbit(numpy.real(value)) or numpy.signbit(numpy.imag(value)))


def device_scalar(xp: Any, value: Any, dtype: Any = None) -> Any:
    """``value`` as a 0-d array of ``xp`` on the current device, the sign of a zero kept (copied as one element,
    not filled: see :func:`signed_zero`)."""
    host = numpy.asarray(value, dtype=dtype)
    return host if xp is numpy else xp.asarray(host.reshape(1)).reshape(())


def full(xp: Any, shape: Any, value: Any, dtype: Any = None) -> Any:
    """``xp.full(shape, value, dtype)``, with a signed zero kept on CuPy too (copied from a device scalar)."""
    if xp is numpy or not signed_zero(value):
        return xp.full(shape, value, dtype=dtype)
    return xp.broadcast_to(device_scalar(xp, value, dtype), shape).copy()


def assignable(xp: Any, value: Any, dtype: Any = None) -> Any:
    """``value`` (an array or a number, already of ``dtype``) as the right side of ``array[index] = value`` for an
    array of ``xp``: itself, except a float or complex zero number on CuPy, which becomes a device scalar (CuPy
    writes a host zero with a memset, so -0.0 would land as +0.0: see :func:`signed_zero`)."""
    if xp is numpy or not signed_zero(value):
        return value
    return device_scalar(xp, value, dtype)


def stable_argsort(xp: Any, data: Any, axis: int = -1) -> Any:
    """Stable sort indices along ``axis``, in NumPy's order on every device: NaN last, -0.0 equal to 0.0.

    CuPy sorts a 1-D float32/float64 array with Thrust's radix sort, which orders the bits: a NaN with its sign
    bit set (CUDA's float64 NaN from log(-1)) comes before -inf; arrays of more dims get a comparator with
    NumPy's order. So on CuPy a 1-D float array is sorted as the one row of a 2-D array."""
    if xp is numpy:
        return numpy.argsort(data, axis=axis, kind="stable")
    if data.ndim == 1 and data.dtype.kind == "f":
        return xp.argsort(data[None], axis=-1)[0]
    return xp.argsort(data, axis=axis)


def maximum(xp: Any, a: Any, b: Any) -> Any:
    """``xp.maximum(a, b)`` with NumPy's rule at a tie on every device: ``b`` (the sign of a zero is b's). CuPy's
    float maximum is CUDA's max, which gives +0.0 at a tie of zeros whatever the order (minigrad's ops rely on
    the tie rule for PyTorch's signs: relu(-0.0) is -0.0)."""
    y = xp.maximum(a, b)
    return y if xp is numpy or y.dtype.kind != "f" else xp.where(a == b, b, y)


def minimum(xp: Any, a: Any, b: Any) -> Any:
    """``xp.minimum(a, b)`` with NumPy's rule at a tie (``b``) on every device; see :func:`maximum`."""
    y = xp.minimum(a, b)
    return y if xp is numpy or y.dtype.kind != "f" else xp.where(a == b, b, y)


def fmax(xp: Any, a: Any, b: Any) -> Any:
    """``xp.fmax(a, b)`` (NaN loses to a number) with PyTorch's rule at a tie on every device: ``a``; see
    :func:`_tie_to_first`."""
    y = xp.fmax(a, b)
    return y if y.dtype.kind != "f" else _tie_to_first(xp, y, a, b)


def fmin(xp: Any, a: Any, b: Any) -> Any:
    """``xp.fmin(a, b)`` (NaN loses to a number) with PyTorch's rule at a tie on every device: ``a``; see
    :func:`_tie_to_first`."""
    y = xp.fmin(a, b)
    return y if y.dtype.kind != "f" else _tie_to_first(xp, y, a, b)


def _tie_to_first(xp: Any, y: Any, a: Any, b: Any) -> Any:
    """``y`` (fmax's or fmin's float result) with ``a`` where ``a == b``: the sign of a tie of zeros is a's, as
    PyTorch's. NumPy's float64 loop gives a, its float32 SIMD loop b, CuPy's (CUDA's) +0.0 / -0.0."""
    return xp.where(a == b, a, y)


def floor_divide(xp: Any, a: Any, b: Any) -> Any:
    """``a // b`` (arrays or numbers, broadcast) with NumPy's and PyTorch's values on every device.

    NumPy's floor_divide is PyTorch's (``div_floor_floating``: fmod, then adjusted), but CuPy's float kernel is
    ``floor(a / b)``: -0.39 // inf gives -0.0 there (not -1.0) and -inf // -0.1 inf (not NaN). On CuPy floats take
    PyTorch's formula (float16 in float32, as NumPy's half loop), integers CuPy's floor_divide (the same).
    """
    if xp is numpy:
        return xp.floor_divide(a, b)
    dtype = numpy.result_type(*(v.dtype if is_array(v) else v for v in (a, b)))
    if dtype.kind != "f":
        return xp.floor_divide(a, b)
    work = numpy.float32 if dtype == numpy.float16 else dtype
    a, b = (v.astype(work, copy=False) if is_array(v) else device_scalar(xp, v, work) for v in (a, b))
    mod = xp.fmod(a, b)
    div = (a - mod) / b
    div = xp.where((mod != 0) & ((b < 0) != (mod < 0)), div - 1, div)
    floor = xp.floor(div)
    floor = xp.where(div - floor > 0.5, floor + 1, floor)
    quotient = a / b
    floor = xp.where(div != 0, floor, xp.copysign(xp.zeros_like(floor), quotient))
    return xp.where(b == 0, quotient, floor).astype(dtype, copy=False)


def logical_operand(xp: Any, value: Any) -> Any:
    """``value`` (an array or a number) as an operand of ``xp.logical_and/or/xor/not``: itself, except on CuPy,
    whose logical ufuncs have no complex loops (TypeError), where a complex value is compared with 0 first
    (non-zero is True, as PyTorch reads a complex value)."""
    if xp is not numpy and (isinstance(value, complex) or getattr(getattr(value, "dtype", None), "kind", "") == "c"):
        return value != 0
    return value


def complex_quotient(xp: Any, a: Any, b: Any, y: Any) -> Any:
    """``a / b`` (arrays or numbers, broadcast; ``y``: the complex quotient ``xp`` gave) by NumPy's algorithm
    (Smith's; a zero divisor divides each part by +0), whose values PyTorch's CPU kernel gives too: ``y`` itself
    on NumPy. CuPy's complex division scales by 1 / (|re b| + |im b|): NaN + NaNj for a zero or infinite divisor,
    where NumPy and PyTorch give infinities and zeros."""
    if xp is numpy:
        return y
    dtype = y.dtype
    a, b = (v.astype(dtype, copy=False) if is_array(v) else device_scalar(xp, v, dtype) for v in (a, b))
    ar, ai, br, bi = a.real, a.imag, b.real, b.imag
    abs_r, abs_i = xp.abs(br), xp.abs(bi)
    real_larger = abs_r >= abs_i   # (False where b has a NaN part: the second branch, as NumPy's)
    zero = real_larger & (abs_r == 0)
    ratio = xp.where(real_larger, bi / xp.where(zero, 1, br), br / bi)
    scale = 1 / xp.where(real_larger, br + bi * ratio, bi + br * ratio)
    real = xp.where(real_larger, (ar + ai * ratio) * scale, (ar * ratio + ai) * scale)
    imag = xp.where(real_larger, (ai - ar * ratio) * scale, (ai * ratio - ar) * scale)
    real = xp.where(zero, ar / abs_r, real)
    imag = xp.where(zero, ai / abs_r, imag)
    out = xp.empty(real.shape, dtype=dtype)
    out.real, out.imag = real, imag
    return out


def argmax(xp: Any, data: Any, axis: int | None = None, keepdims: bool = False) -> Any:
    """``xp.argmax(data, axis, keepdims=keepdims)`` (``axis`` None: of the flattened array) with the first NaN's
    index where there is one, as NumPy and PyTorch, on every device; see :func:`_first_nan`."""
    index = xp.argmax(data, axis=axis, keepdims=keepdims)
    return index if xp is numpy or data.dtype.kind != "f" else _first_nan(xp, index, data, axis, keepdims)


def argmin(xp: Any, data: Any, axis: int | None = None, keepdims: bool = False) -> Any:
    """``xp.argmin(data, axis, keepdims=keepdims)`` with the first NaN's index where there is one; see
    :func:`argmax`."""
    index = xp.argmin(data, axis=axis, keepdims=keepdims)
    return index if xp is numpy or data.dtype.kind != "f" else _first_nan(xp, index, data, axis, keepdims)


def _first_nan(xp: Any, index: Any, data: Any, axis: int | None, keepdims: bool) -> Any:
    """``index`` (argmax's or argmin's of the float ``data`` on CuPy) with the first NaN's index where ``data`` has
    one: CuPy's float argmax/argmin returns one of the NaNs (its parallel reduction's pick), not the first, where
    NumPy's (and PyTorch's) returns the first."""
    nan = xp.isnan(data)
    return xp.where(nan.any(axis=axis, keepdims=keepdims), xp.argmax(nan, axis=axis, keepdims=keepdims), index)


def on_device(device: Device | str) -> Any:
    """Context manager making ``device`` current while arrays are created."""
    device = _as_device(device, "on_device")
    if device.type == "cpu":
        return _NullContext()
    return _check_cuda(device).cuda.Device(device.index)


class _NullContext:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


def errstate(xp: Any, **kwargs: str) -> Any:
    """``numpy.errstate`` on the host; a no-op for CuPy (which never warns)."""
    return numpy.errstate(**kwargs) if xp is numpy else _NullContext()


_ROUNDS_WIDTH, _MAX_ROUNDS = 64, 32   # slices at least this wide; at most this many repeats of an index
_FLAT_MIN = 2048   # elements added, from which one flat add.at beats add.at on slices (its set-up costs about 6 us)


def _slice_index(target: Any, index: Any, values: Any) -> Any:
    """The 1-D ``index`` of ``numpy.add.at(target, index, values)`` as intp in ``[0, N)``, when ``index`` (or a
    1-tuple of one) is a 1-D integer array naming whole slices ``target[i]`` and ``values`` holds one slice per
    entry in ``target``'s dtype; None for anything else, an index out of range included (``add.at`` then raises
    its IndexError). target: (N, ...), index: (n,), values: (n, ...)."""
    if isinstance(index, tuple) and len(index) == 1:   # target[(i,)] is target[i]
        index = index[0]
    if (target.ndim == 0 or not isinstance(index, numpy.ndarray) or index.ndim != 1 or index.dtype.kind not in "iu"
            or not isinstance(values, numpy.ndarray) or values.dtype != target.dtype
            or values.shape != index.shape + target.shape[1:] or index.shape[0] == 0):
        return None
    size = target.shape[0]
    if int(index.min()) < -size or int(index.max()) >= size:
        return None
    index = index.astype(numpy.intp, copy=False)   # an int8 index + size may not fit int8
    return numpy.where(index < 0, index + size, index)   # -1 and size - 1 are the same slice


def _add_slices_in_rounds(target: Any, index: Any, values: Any) -> bool:
    """``numpy.add.at(target, index, values)`` for a 1-D integer ``index`` (or a 1-tuple of one) of wide slices
    ``target[i]``, 2-4x faster and with the same bits: round k adds each index's k-th slice (in ``index`` order)
    with one fancy ``+=``, so every slice of ``target`` gets its additions in the order ``add.at`` gives them.
    False (nothing done) for another index (:func:`_slice_index`), narrow slices, fewer than two slices or one
    repeated more than ``_MAX_ROUNDS`` times: ``add.at`` is then the one to call.
    target: (N, ...), index: (n,), values: (n, ...)."""
    if target.ndim == 0 or target.size < _ROUNDS_WIDTH * target.shape[0]:
        return False
    index = _slice_index(target, index, values)
    if index is None or index.shape[0] < 2 or int(numpy.bincount(index, minlength=1).max()) > _MAX_ROUNDS:
        return False
    n = index.shape[0]
    order = numpy.argsort(index, kind="stable")
    ranked = index[order]
    first = numpy.concatenate([[True], ranked[1:] != ranked[:-1]])
    start = numpy.maximum.accumulate(numpy.where(first, numpy.arange(n), 0))
    rank = numpy.empty(n, dtype=numpy.int64)
    rank[order] = numpy.arange(n) - start   # how many earlier entries of index name the same slice
    for k in range(int(rank.max()) + 1):
        pick = numpy.flatnonzero(rank == k)
        target[index[pick]] += values[pick]
    return True


def _add_slices_flat(target: Any, index: Any, values: Any) -> bool:
    """``numpy.add.at(target, index, values)`` for a 1-D integer ``index`` (or a 1-tuple of one) of slices
    ``target[i]`` of a C-contiguous ``target``, as one ``add.at`` on the flat target: element j of slice i is
    ``target.flat[i * width + j]``, and each element gets its additions in ``index`` order, as ``add.at``'s (the
    same bits, 1.5-4x faster from ``_FLAT_MIN`` elements: NumPy's add.at is quickest on a 1-D target). False
    (nothing done) for another index (:func:`_slice_index`), another layout or fewer values: ``add.at`` is then
    the one to call. target: (N, ...), index: (n,), values: (n, ...)."""
    if target.ndim < 2 or not target.flags.c_contiguous or getattr(values, "size", 0) < _FLAT_MIN:
        return False
    index = _slice_index(target, index, values)
    if index is None:
        return False
    width = target.size // target.shape[0]
    places = (index[:, None] * width + numpy.arange(width)).reshape(-1)
    numpy.add.at(target.reshape(-1), places, values.reshape(-1))   # C-contiguous: reshape is a view
    return True


def scatter_add(xp: Any, target: Any, index: Any, values: Any) -> None:
    """target[index] += values with accumulation over repeated indices (``add.at``'s bits; on NumPy a 1-D index
    of slices at least 64 wide goes in rounds, :func:`_add_slices_in_rounds`, else, of a C-contiguous target, as
    one add.at on the flat target, :func:`_add_slices_flat`)."""
    if xp is not numpy and xp is not _cupy:
        raise TypeError(f"scatter_add: xp must be the array module of the target (numpy or cupy), got {xp!r:.60}")
    if xp is numpy and (_add_slices_in_rounds(target, index, values) or _add_slices_flat(target, index, values)):
        return
    if xp is _cupy and target.dtype.kind == "c":   # CuPy's add.at has no complex dtypes: the parts apart
        values = xp.asarray(values, dtype=target.dtype)
        xp.add.at(target.real, index, values.real)
        xp.add.at(target.imag, index, values.imag)
    elif xp is _cupy and target.dtype == numpy.int64:   # nor int64: uint64 adds the same bits (two's complement)
        xp.add.at(target.view(numpy.uint64), index, xp.asarray(values, dtype=numpy.int64).view(numpy.uint64))
    else:
        xp.add.at(target, index, values)   # CuPy has ufunc.at too (cupyx.scatter_add is deprecated)


def _initial_device() -> None:
    global _default_device
    env = os.environ.get("MINIGRAD_DEVICE")
    if env:
        _default_device = resolve_device(Device(env))


_initial_device()
