"""A strict CuPy stand-in: the GPU code paths tested on a machine without a GPU.

It is backed by NumPy but behaves like CuPy where GPU bugs hide:

* its :class:`ndarray` refuses implicit conversion to NumPy (``numpy.asarray(x)``
  raises ``TypeError``, as CuPy does), and refuses to be mixed with NumPy
  arrays in ufuncs, functions, operators and indexing values;
* reductions give 0-d arrays, never NumPy scalars, as CuPy does;
* ``.get()``, ``asnumpy``, ``.item()``, ``.tolist()``, ``float(x)``… are the
  only ways back to the host, and each one is counted (``copies``), as are
  host-to-device copies (``asarray`` of host data, NumPy index arrays), and the size read-backs of boolean
  mask indexing and ``nonzero``/``unique``…;
* every array keeps its device, an op needs its arrays on the current device
  (CuPy's "array device must be same as the current device"), and
  ``cuda.Device(i)`` switches the current one;
* ``ElementwiseKernel`` source runs on the host through the C++ runner of
  :mod:`tests.support.host_kernels`.

``install(monkeypatch)`` makes the engine's backend use it; ``pytest -m gpu``
then runs every GPU test on a CPU-only machine (tests/conftest.py does that
when no real GPU is present).
"""

from __future__ import annotations

import numbers
import types
import weakref
from typing import Any

import numpy

from tests.support.host_kernels import CXX, HostElementwiseKernel

__all__ = ["ndarray", "copies", "reset_copies", "install"]

DEVICE_COUNT = 2
_current = [0]      # the current device index
copies = {"to_host": 0, "to_device": 0}


def reset_copies() -> None:
    copies["to_host"] = copies["to_device"] = 0


class _DeviceInfo:
    __slots__ = ("id",)

    def __init__(self, index: int) -> None:
        self.id = index

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _DeviceInfo) and other.id == self.id

    def __hash__(self) -> int:
        return hash(self.id)

    def __repr__(self) -> str:
        return f"<CUDA Device {self.id}>"


_SELF = "strict_cupy.ndarray"   # the key under which a stand-in array's interface carries the array
_owners: weakref.WeakValueDictionary = weakref.WeakValueDictionary()   # id(backing array) -> its device array


class ndarray:  # noqa: N801 - CuPy's name
    """A device array: a NumPy array that will not silently become one."""

    __slots__ = ("_a", "device", "_base", "__weakref__")   # cupy.ndarray allows weak references (version counters)
    __array_priority__ = 100.0

    def __init__(self, array: numpy.ndarray, device: int | None = None) -> None:
        if not isinstance(array, numpy.ndarray):
            raise TypeError(f"strict_cupy.ndarray wraps a numpy.ndarray, got {type(array).__name__}")
        self._a = array
        self._base = None   # the owner's device array, found once and held, as a CuPy view holds its base
        self.device = _DeviceInfo(_current[0] if device is None else device)
        _owners.setdefault(id(array), self)   # so that a view's .base is this very object, as in CuPy

    @property
    def __cuda_array_interface__(self) -> dict:
        """CuPy's export of device memory; here the array itself rides along (``_SELF``) for ``_unwrap``."""
        return {"shape": self._a.shape, "typestr": self._a.dtype.str, "strides": self._a.strides,
                "data": (self._a.__array_interface__["data"][0], False), "version": 3, _SELF: self}

    # --- the ways back to the host (each one counted) ---
    def get(self, stream: Any = None, out: Any = None) -> numpy.ndarray:
        copies["to_host"] += 1
        return self._a.copy()

    def item(self) -> Any:
        copies["to_host"] += 1
        return self._a.item()

    def tolist(self) -> Any:
        copies["to_host"] += 1
        return self._a.tolist()

    def __float__(self) -> float:
        return float(self.item())

    def __int__(self) -> int:
        return int(self.item())

    def __index__(self) -> int:
        raise TypeError("strict_cupy: a device array cannot be used as a Python index (read it with .item())")

    def __bool__(self) -> bool:
        return bool(self.item())

    def __complex__(self) -> complex:
        return complex(self.item())

    def __array__(self, *args: Any, **kwargs: Any) -> numpy.ndarray:
        raise TypeError("Implicit conversion to a NumPy array is not allowed. "
                        "Please use `.get()` to construct a NumPy array explicitly.")

    def __iter__(self) -> Any:
        if self._a.ndim == 0:
            raise TypeError("iteration over a 0-d array")
        return (self[i] for i in range(self._a.shape[0]))

    def __len__(self) -> int:
        return len(self._a)

    def __repr__(self) -> str:
        return f"strict_cupy.ndarray({self._a!r}, device={self.device.id})"

    # --- NumPy's protocols: dispatch to the device functions, refuse host arrays ---
    def __array_ufunc__(self, ufunc: numpy.ufunc, method: str, *inputs: Any, **kwargs: Any) -> Any:
        return _call(getattr(ufunc, method) if method != "__call__" else ufunc, inputs, kwargs, ufunc.__name__)

    def __array_function__(self, func: Any, types_: Any, args: Any, kwargs: Any) -> Any:
        return _call(func, args, kwargs, func.__name__)

    # --- attributes and methods ---
    shape = property(lambda self: self._a.shape)
    dtype = property(lambda self: self._a.dtype)
    ndim = property(lambda self: self._a.ndim)
    size = property(lambda self: self._a.size)
    nbytes = property(lambda self: self._a.nbytes)
    strides = property(lambda self: self._a.strides)
    itemsize = property(lambda self: self._a.itemsize)
    flags = property(lambda self: self._a.flags)
    T = property(lambda self: _wrap(self._a.T, self.device.id))
    mT = property(lambda self: _wrap(numpy.swapaxes(self._a, -1, -2), self.device.id))
    # CuPy's real/imag: views, and assignable (out.real = re)
    real = property(lambda self: _wrap(self._a.real, self.device.id),
                    lambda self, value: setattr(self._a, "real", _unwrap_value(value, "ndarray.real")))
    imag = property(lambda self: _wrap(self._a.imag, self.device.id),
                    lambda self, value: setattr(self._a, "imag", _unwrap_value(value, "ndarray.imag")))

    @property
    def base(self) -> Any:
        """CuPy's: None for an array that owns its memory, else the device array that does (a view of a view
        names the owner, as in CuPy and NumPy)."""
        root = self._a.base
        if root is None:
            return None
        if self._base is None:   # the same object on every read, alive with the view (CuPy's view holds it)
            while not isinstance(root, numpy.ndarray) or root.base is not None:   # NumPy's holder objects too
                root = root.base
            owner = _owners.get(id(root))
            self._base = owner if owner is not None and owner._a is root else ndarray(root, self.device.id)
        return self._base

    @property
    def data(self) -> Any:
        """CuPy's MemoryPointer: ``.ptr`` is the address of the first element (here the host address)."""
        return types.SimpleNamespace(ptr=self._a.__array_interface__["data"][0], device=self.device)

    def __getattr__(self, name: str) -> Any:
        method = getattr(numpy.ndarray, name, None)
        if method is None or not callable(method):
            raise AttributeError(f"strict_cupy.ndarray has no attribute {name!r}")

        def bound(*args: Any, **kwargs: Any) -> Any:
            if name in _SYNCING:
                copies["to_host"] += 1
            if name in _STABLE_SORTS:
                kwargs.setdefault("kind", "stable")
            return _call(method, (self, *args), kwargs, f"ndarray.{name}")

        return bound

    def __getitem__(self, index: Any) -> Any:
        _check_current(self)
        _count_mask_sync(index)
        index = _wrapped(_index(index), self._a.shape)
        if _basic(_parts(index)) and Ellipsis not in _parts(index):   # CuPy's x[i, j] is a 0-d view, NumPy's a copy
            index = _parts(index) + (Ellipsis,)
        return _wrap(self._a[index], self.device.id)

    def __setitem__(self, index: Any, value: Any) -> None:
        _check_current(self)
        if isinstance(value, ndarray) and value.size > 1:   # a scalar or 1-element value is written by a where
            _count_mask_sync(index)
        index = _wrapped(_index(index), self._a.shape)
        if isinstance(value, ndarray) and _same_memory(self._a, index, value._a):
            return
        if _is_zero_scalar(value) and numpy.asarray(value).dtype.kind in "fc":   # CuPy's _scatter_op: a basic
            # index fills the view (a memset when C-contiguous), an advanced one makes core.array(value) first
            # (a 0-d fill: a memset): either way a signed zero loses its sign
            parts = _parts(index)
            view = self._a[parts + (Ellipsis,) if Ellipsis not in parts else parts] if _basic(parts) else None
            if view is None or view.flags.c_contiguous:
                value = 0
        self._a[index] = _unwrap_value(value, "ndarray.__setitem__")


def _parts(index: Any) -> tuple:
    return index if isinstance(index, tuple) else (index,)


def _basic(index: Any) -> bool:
    """Whether ``index`` (a tuple after ``_wrapped``) is basic indexing: integers, slices, None and Ellipsis."""
    return isinstance(index, tuple) and all(
        p is None or p is Ellipsis or isinstance(p, (int, numpy.integer, slice)) for p in index)


def _same_memory(a: numpy.ndarray, index: Any, value: numpy.ndarray) -> bool:
    """Whether CuPy's ``a[index] = value`` writes nothing: for a basic index, CuPy skips the copy when the target
    view and ``value`` have the same shape, strides and data pointer, whatever their dtypes (so ``x[k, k] =
    x[k, k].real`` leaves a complex element's imaginary part)."""
    index = _parts(index)
    if not _basic(index):
        return False
    target = a[index + (Ellipsis,)] if Ellipsis not in index else a[index]   # a view, also for a 0-d target
    return (target.shape == value.shape and target.strides == value.strides
            and target.__array_interface__["data"][0] == value.__array_interface__["data"][0])


def _count_mask_sync(index: Any) -> None:
    """A boolean device-array index makes CuPy read how many elements it selects back to the host (the result's
    size), as ``nonzero`` does: count it as a device-to-host read."""
    for part in index if isinstance(index, tuple) else (index,):
        if isinstance(part, ndarray) and part.dtype == numpy.bool_:
            copies["to_host"] += 1


def _defers(other: Any) -> bool:
    """CuPy's operators hand over to the other operand's reflected method when it opts out of ufuncs
    (``__array_ufunc__`` None, as minigrad's Tensor and lazy gradients give it), as NumPy's do. CuPy reads the
    attribute from the instance (``y.__array_ufunc__`` in its ``_should_use_rop``), so this does too."""
    return getattr(other, "__array_ufunc__", False) is None


def _binary(name: str) -> Any:
    ufunc = getattr(numpy, name)

    def op(self: ndarray, other: Any) -> Any:
        if _defers(other):
            return NotImplemented
        return _call(ufunc, (self, other), {}, name)

    def rop(self: ndarray, other: Any) -> Any:
        if _defers(other):
            return NotImplemented
        return _call(ufunc, (other, self), {}, name)

    def iop(self: ndarray, other: Any) -> Any:   # CuPy's in-place operators never defer (core.pyx's __iadd__)
        _call(ufunc, (self, other), {"out": (self,)}, name)
        return self

    return op, rop, iop


for _dunder, _ufunc in [("add", "add"), ("sub", "subtract"), ("mul", "multiply"), ("truediv", "true_divide"),
                        ("floordiv", "floor_divide"), ("mod", "remainder"), ("pow", "power"),
                        ("matmul", "matmul"), ("and", "bitwise_and"), ("or", "bitwise_or"),
                        ("xor", "bitwise_xor")]:
    _op, _rop, _iop = _binary(_ufunc)
    setattr(ndarray, f"__{_dunder}__", _op)
    setattr(ndarray, f"__r{_dunder}__", _rop)
    setattr(ndarray, f"__i{_dunder}__", _iop)
for _dunder, _ufunc in [("lt", "less"), ("le", "less_equal"), ("gt", "greater"), ("ge", "greater_equal"),
                        ("eq", "equal"), ("ne", "not_equal")]:
    setattr(ndarray, f"__{_dunder}__", _binary(_ufunc)[0])
for _dunder, _ufunc in [("neg", "negative"), ("pos", "positive"), ("abs", "absolute"), ("invert", "invert")]:
    setattr(ndarray, f"__{_dunder}__",
            (lambda f: lambda self: _call(f, (self,), {}, f.__name__))(getattr(numpy, _ufunc)))
ndarray.__hash__ = None  # type: ignore[assignment]   # arrays are unhashable, as in CuPy


# --- wrapping and unwrapping ------------------------------------------------

def _wrap(result: Any, device: int) -> Any:
    if isinstance(result, numpy.ndarray):
        known = _owners.get(id(result))   # CuPy gives the array itself back (astype(copy=False), asarray …)
        return known if known is not None and known._a is result else ndarray(result, device)
    if isinstance(result, numpy.generic):   # CuPy gives 0-d arrays where NumPy gives scalars
        return ndarray(numpy.asarray(result), device)
    if isinstance(result, tuple):
        return tuple(_wrap(r, device) for r in result)
    if isinstance(result, list):
        return [_wrap(r, device) for r in result]
    return result


def _unwrap(value: Any, where: str, devices: set) -> Any:
    if isinstance(value, ndarray):
        devices.add(value.device.id)
        return value._a
    if isinstance(value, numpy.ndarray):
        raise TypeError(f"strict_cupy: {where} got a numpy.ndarray {value.dtype}{value.shape} mixed with device "
                        "arrays (CuPy: Unsupported type <class 'numpy.ndarray'>); move it with cupy.asarray first")
    interface = getattr(value, "__cuda_array_interface__", None)   # another library's device array: CuPy views it
    if interface is not None:
        return _unwrap(interface[_SELF], where, devices)
    if not isinstance(value, (list, tuple, dict, int, float, complex, bool, str, slice, type(None), type(...),
                              numpy.generic, numpy.dtype, type)) and hasattr(value, "__array__"):
        raise TypeError(f"strict_cupy: {where} got a {type(value).__name__} (CuPy: Unsupported type)")
    if isinstance(value, (list, tuple)):
        return type(value)(_unwrap(v, where, devices) for v in value)
    if isinstance(value, dict):
        return {k: _unwrap(v, where, devices) for k, v in value.items()}
    return value


def _unwrap_value(value: Any, where: str) -> Any:
    devices: set = set()
    out = _unwrap(value, where, devices)
    _check_devices(devices, where)
    return out


def _check_devices(devices: set, where: str) -> None:
    for device in devices:
        if device != _current[0]:
            raise ValueError(f"strict_cupy: {where}: array device must be same as the current device: "
                             f"array device = {device} while current = {_current[0]}")


def _check_current(array: ndarray) -> None:
    _check_devices({array.device.id}, "indexing")


def _index(index: Any) -> Any:
    """An index for the backing array: device arrays unwrap; NumPy index arrays are copied to the device."""
    if isinstance(index, tuple):
        return tuple(_index(i) for i in index)
    if isinstance(index, ndarray):
        _check_current(index)
        return index._a
    if isinstance(index, numpy.ndarray):
        copies["to_device"] += 1
        return index
    return index


def _wrapped(index: Any, shape: tuple) -> Any:
    """``index`` (for the backing array, of ``shape``) with each integer index array taken modulo its dim's size,
    as CuPy reads an out-of-range integer array index (it wraps around; NumPy raises IndexError)."""
    parts = index if isinstance(index, tuple) else (index,)
    dims = [1 if isinstance(p, (int, numpy.integer, slice)) or _integer_array(p)
            else getattr(p, "ndim", 0) if getattr(p, "dtype", None) == numpy.bool_ else 0 for p in parts]
    if any(p is Ellipsis for p in parts):
        dims[[p is Ellipsis for p in parts].index(True)] = len(shape) - sum(dims)
    wrapped, at = [], 0
    for p, used in zip(parts, dims):
        if _integer_array(p) and at < len(shape) and shape[at]:
            p = numpy.asarray(p) % shape[at]
        wrapped.append(p)
        at += used
    return tuple(wrapped) if isinstance(index, tuple) else wrapped[0]


def _integer_array(part: Any) -> bool:
    return isinstance(part, (numpy.ndarray, list)) and numpy.asarray(part).dtype.kind in "iu"


def _call(func: Any, args: Any, kwargs: dict, where: str) -> Any:
    devices: set = set()
    args = _unwrap(tuple(args), where, devices)
    kwargs = _unwrap(kwargs, where, devices)
    _check_devices(devices, where)
    try:
        func = _CUPY_SEMANTICS.get(func, func)   # CuPy's own answer where it differs from NumPy's
    except TypeError:   # an unhashable callable
        pass
    return _wrap(func(*args, **kwargs), _current[0])


# --- where CuPy's answers differ from NumPy's -------------------------------------------------------------

def _is_zero_scalar(value: Any) -> bool:
    """A host number (not a device array) equal to 0: CuPy writes it with ``memset(0)`` (so +0.0, whatever
    the sign of a zero, of either part of a complex zero)."""
    return not isinstance(value, ndarray) and numpy.ndim(value) == 0 and value == 0


def _fill(a: numpy.ndarray, value: Any) -> None:
    """CuPy's ``ndarray.fill`` (core.pyx): a host value equal to 0 into a C-contiguous array is a memset."""
    if isinstance(value, numpy.ndarray) and value.shape != ():
        raise ValueError("non-scalar numpy.ndarray cannot be used for fill")
    if _is_zero_scalar(value) and a.flags.c_contiguous:
        a.fill(0)
    else:
        a.fill(value)


def _full_like(a: numpy.ndarray, fill_value: Any, dtype: Any = None, order: str = "K", subok: Any = None,
               shape: Any = None) -> numpy.ndarray:
    out = numpy.empty_like(a, dtype=dtype, order=order, shape=shape)
    _fill(out, fill_value)
    return out


def _full(shape: Any, fill_value: Any, dtype: Any = None, order: str = "C") -> numpy.ndarray:
    out = numpy.full(shape, fill_value, dtype=dtype, order=order)
    if _is_zero_scalar(fill_value) and out.flags.c_contiguous:
        out.fill(0)
    return out


def _with_out(result: numpy.ndarray, out: Any) -> numpy.ndarray:
    if out is None:
        return result
    target = out[0] if isinstance(out, tuple) else out
    target[...] = result
    return target


def _floor_divide(a: Any, b: Any, out: Any = None, **kwargs: Any) -> Any:
    """CuPy's floor_divide: ``floor(x / y)`` for floats (carray.cuh's ``_floor_divide``), so -0.39 // inf is
    -0.0 and -inf // -0.1 is inf where NumPy (and PyTorch) give -1.0 and NaN; integers as NumPy's."""
    reference = numpy.floor_divide(a, b, **kwargs)
    if numpy.asarray(reference).dtype.kind != "f":
        return _with_out(reference, out)
    return _with_out(numpy.floor(numpy.true_divide(a, b, dtype=reference.dtype)), out)


def _remainder(a: Any, b: Any, out: Any = None, **kwargs: Any) -> Any:
    """CuPy's remainder: ``x - floor(x / y) * y`` for floats (-0.39 % inf is NaN; NumPy's and PyTorch's inf)."""
    reference = numpy.remainder(a, b, **kwargs)
    if numpy.asarray(reference).dtype.kind != "f":
        return _with_out(reference, out)
    dtype = reference.dtype
    quotient = numpy.floor(numpy.true_divide(a, b, dtype=dtype))
    return _with_out(numpy.subtract(a, numpy.multiply(quotient, b, dtype=dtype), dtype=dtype), out)


def _true_divide(a: Any, b: Any, out: Any = None, **kwargs: Any) -> Any:
    """CuPy's complex division (cupy/complex/arithmetic.h): both scaled by s = |re b| + |im b| first, so a zero
    or infinite divisor gives NaN + NaNj (NumPy: infinities, zeros); real division as NumPy's."""
    reference = numpy.true_divide(a, b, **kwargs)
    dtype = numpy.asarray(reference).dtype
    if dtype.kind != "c":
        return _with_out(reference, out)
    a, b = numpy.asarray(a, dtype=dtype), numpy.asarray(b, dtype=dtype)
    s = numpy.abs(b.real) + numpy.abs(b.imag)
    oos = 1 / s
    ars, ais, brs, bis = a.real * oos, a.imag * oos, b.real * oos, b.imag * oos
    oos = 1 / (brs * brs + bis * bis)
    result = numpy.empty(numpy.broadcast_shapes(a.shape, b.shape), dtype=dtype)
    result.real, result.imag = (ars * brs + ais * bis) * oos, (ais * brs - ars * bis) * oos
    return _with_out(result if result.ndim else result[()], out)


def _zero_tie(ufunc: numpy.ufunc, larger: bool) -> Any:
    """CuPy's float maximum/minimum (and fmax/fmin) are CUDA's max/min: at a tie of zeros of either sign they give
    +0.0 (maximum) or -0.0 (minimum) whatever the order; NumPy gives its second argument."""
    def call(a: Any, b: Any, out: Any = None, **kwargs: Any) -> Any:
        result = numpy.asarray(ufunc(a, b, **kwargs))
        if result.dtype.kind != "f":
            return _with_out(result if result.ndim else result[()], out)
        tie = numpy.asarray((numpy.asarray(a) == 0) & (numpy.asarray(b) == 0))
        result = numpy.where(tie, result.dtype.type(0.0 if larger else -0.0), result)
        return _with_out(result if result.ndim else result[()], out)
    return call


def _no_complex_loop(ufunc: numpy.ufunc) -> Any:
    """CuPy's logical_and/or/xor/not have no complex loops: a complex operand raises TypeError."""
    def call(*args: Any, **kwargs: Any) -> Any:
        inputs = args[:ufunc.nin]
        if any(numpy.asarray(v).dtype.kind == "c" for v in inputs):
            types_ = tuple(numpy.asarray(v).dtype for v in inputs)
            raise TypeError(f"Wrong type ({types_}) of arguments for cupy_{ufunc.__name__}")
        return ufunc(*args, **kwargs)
    return call


def _radix_key(a: numpy.ndarray) -> numpy.ndarray:
    """The unsigned key Thrust's (CUB's) radix sort orders floats by: the bits, all flipped for a set sign bit,
    else the sign bit flipped, -0.0 read as 0.0 first (equal, in index order, as seen on an H200). So a NaN with
    its sign bit set (NumPy's NaN from log(-1) on x86, CUDA's float64 NaN from log(-1)) sorts before -inf."""
    bits = {2: numpy.uint16, 4: numpy.uint32, 8: numpy.uint64}[a.dtype.itemsize]
    u = numpy.ascontiguousarray(numpy.where(a == 0, a.dtype.type(0), a)).view(bits)
    high = bits(1) << bits(8 * a.dtype.itemsize - 1)
    return numpy.where(u & high, ~u, u | high)


def _thrust_1d(a: Any, axis: Any) -> bool:
    """CuPy sorts a 1-D float array (or a flattened one) with Thrust's radix sort (cupy_thrust.cu: plain
    ``thrust::less`` there); other shapes with its NaN-aware comparator (NaN last, as NumPy)."""
    a = numpy.asarray(a)
    return a.dtype.kind == "f" and a.dtype.itemsize >= 4 and (a.ndim == 1 or axis is None)   # float16: comparator


def _argsort(a: Any, axis: Any = -1, kind: Any = None, order: Any = None, **kwargs: Any) -> Any:
    if _thrust_1d(a, axis):
        return numpy.argsort(_radix_key(numpy.asarray(a).reshape(-1)), kind="stable")
    return numpy.argsort(a, axis=axis, kind="stable")


def _sort(a: Any, axis: Any = -1, kind: Any = None, order: Any = None, **kwargs: Any) -> Any:
    if _thrust_1d(a, axis):
        flat = numpy.asarray(a).reshape(-1)
        return flat[_argsort(flat)]
    return numpy.sort(a, axis=axis, kind="stable")


def _sort_in_place(a: numpy.ndarray, axis: int = -1, kind: Any = None, order: Any = None) -> None:
    a[...] = _sort(a, axis)


def _arg_extreme(pick: Any) -> Any:
    """CuPy's argmax/argmin of floats (my_argmax_float): a NaN wins, but which NaN of several depends on the
    order of the parallel reduction, not the first as NumPy's; here the last one, as seen on an H200."""
    def call(a: Any, axis: Any = None, out: Any = None, *, keepdims: bool = False, **kwargs: Any) -> Any:
        result = pick(a, axis=axis, keepdims=keepdims, **kwargs)
        a = numpy.asarray(a)
        if a.dtype.kind not in "fc" or not numpy.isnan(a).any():
            return _with_out(result, out)
        nan = numpy.isnan(a)
        if axis is None:
            nan, axis = nan.reshape(-1), 0
        n = nan.shape[axis]
        last = n - 1 - numpy.argmax(numpy.flip(nan, axis), axis=axis, keepdims=keepdims)
        return _with_out(numpy.where(nan.any(axis=axis, keepdims=keepdims), last, result), out)
    return call


_CUPY_SEMANTICS: dict = {
    numpy.ndarray.fill: _fill, numpy.full_like: _full_like, numpy.full: _full,
    numpy.floor_divide: _floor_divide, numpy.remainder: _remainder, numpy.true_divide: _true_divide,
    numpy.maximum: _zero_tie(numpy.maximum, True), numpy.minimum: _zero_tie(numpy.minimum, False),
    numpy.fmax: _zero_tie(numpy.fmax, True), numpy.fmin: _zero_tie(numpy.fmin, False),
    **{getattr(numpy, name): _no_complex_loop(getattr(numpy, name))
       for name in ("logical_and", "logical_or", "logical_xor", "logical_not")},
    numpy.argsort: _argsort, numpy.ndarray.argsort: _argsort, numpy.sort: _sort, numpy.ndarray.sort: _sort_in_place,
    numpy.argmax: _arg_extreme(numpy.argmax), numpy.ndarray.argmax: _arg_extreme(numpy.argmax),
    numpy.argmin: _arg_extreme(numpy.argmin), numpy.ndarray.argmin: _arg_extreme(numpy.argmin),
}


# --- the module -------------------------------------------------------------

def asarray(data: Any, dtype: Any = None, order: Any = None) -> ndarray:
    if isinstance(data, ndarray):
        if data.device.id != _current[0]:   # a peer copy between GPUs
            return ndarray(numpy.array(data._a, dtype=dtype, order=order or "K"), _current[0])
        return data if dtype is None or data.dtype == dtype else data.astype(dtype)
    if isinstance(data, numpy.ndarray):
        copies["to_device"] += 1
        return ndarray(_from_host(numpy.array(data, dtype=dtype, order=order or "K")), _current[0])
    if not isinstance(data, (numbers.Number, numpy.generic)):
        copies["to_device"] += 1   # nested lists: host data
    return ndarray(_from_host(numpy.array(_unwrap_value(data, "asarray"), dtype=dtype, order=order or "K")),
                   _current[0])


def _from_host(host: numpy.ndarray) -> numpy.ndarray:
    """CuPy's copy of host data (_send_object_to_gpu): a memcpy, but a 0-d array is written with ``fill``, so a
    zero of either sign arrives as +0.0."""
    if host.ndim == 0 and host.dtype.kind in "fc" and host == 0:
        host = numpy.zeros((), dtype=host.dtype)
    return host


def array(data: Any, dtype: Any = None, copy: bool = True, order: Any = None) -> ndarray:
    result = asarray(data, dtype=dtype, order=order)
    return ndarray(result._a.copy(), _current[0]) if copy and result is data else result


def asnumpy(data: Any, stream: Any = None) -> numpy.ndarray:
    if isinstance(data, ndarray):
        return data.get()
    return numpy.asarray(data)


def get_array_module(*arrays: Any) -> Any:
    return module if any(isinstance(a, ndarray) for a in arrays) else numpy


class _Ufunc:
    """A device ufunc: ``add(a, b)``, ``add.at(...)``, ``add.reduce(...)``."""

    def __init__(self, ufunc: numpy.ufunc) -> None:
        self._ufunc = ufunc
        self.__name__ = ufunc.__name__

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return _call(self._ufunc, args, kwargs, self.__name__)

    def __getattr__(self, name: str) -> Any:
        method = getattr(self._ufunc, name)
        if not callable(method):
            return method
        if name == "at" and self.__name__ == "add":
            return self._add_at
        return lambda *args, **kwargs: _call(method, args, kwargs, f"{self.__name__}.{name}")

    # CuPy's add.at (atomicAdd) takes these dtypes only: no complex, no int64 (CUDA has no signed 64-bit atomicAdd)
    _ADD_AT_DTYPES = frozenset(numpy.dtype(t) for t in ("int32", "float16", "float32", "float64", "uint32", "uint64"))

    def _add_at(self, target: Any, index: Any, values: Any) -> Any:
        if target.dtype not in self._ADD_AT_DTYPES:
            raise TypeError(f"cupy.add.at only supports int32, float16, float32, float64, uint32, uint64, as data "
                            f"type (got {target.dtype})")
        return _call(self._ufunc.at, (target, index, values), {}, "add.at")


class _Device:
    """``cupy.cuda.Device(i)``: the current device inside ``with``."""

    def __init__(self, index: int | None = None) -> None:
        self.id = _current[0] if index is None else int(index)
        if not 0 <= self.id < DEVICE_COUNT:
            raise ValueError(f"strict_cupy: no device {self.id} ({DEVICE_COUNT} exist)")
        self._previous: list[int] = []

    def __enter__(self) -> _Device:
        self._previous.append(_current[0])
        _current[0] = self.id
        return self

    def __exit__(self, *exc: object) -> None:
        _current[0] = self._previous.pop()

    def use(self) -> None:
        _current[0] = self.id

    def synchronize(self) -> None:
        return None


class _Stream:
    def synchronize(self) -> None:
        return None


# what the GPU benchmarks read (bench/gpu.py, bench/gpu_fusion.py), so that a test can run them here
_runtime = types.SimpleNamespace(getDeviceCount=lambda: DEVICE_COUNT, deviceSynchronize=lambda: None,
                                 runtimeGetVersion=lambda: 0,
                                 getDeviceProperties=lambda index: {"name": b"strict CuPy stand-in"})
cuda = types.SimpleNamespace(Device=_Device, runtime=_runtime, get_current_stream=lambda: _Stream(),
                             Stream=_Stream)


class RandomState:
    """``cupy.random.RandomState``: one device's stream, drawing on that device.

    Philox, not NumPy's default PCG64: as with real CuPy, the same seed gives the GPU other numbers than the
    host, so a test that expects equal draws on both devices fails here as it would there. Array parameters
    (``poisson(lam)``, ``binomial(n, p)``) must be device arrays, as the GPU kernels read them there."""

    def __init__(self, seed: int | None = None) -> None:
        self._gen = numpy.random.Generator(numpy.random.Philox(seed))

    def _draw(self, name: str, *args: Any, dtype: Any = None, **kwargs: Any) -> ndarray:
        args = _unwrap_value(args, f"random.{name}")
        values = numpy.asarray(getattr(self._gen, name)(*args, **kwargs))
        return ndarray(values if dtype is None else values.astype(dtype), _current[0])

    def standard_normal(self, size: Any = None, dtype: Any = float) -> ndarray:
        return self._draw("standard_normal", size, dtype=dtype)

    def normal(self, loc: Any = 0.0, scale: Any = 1.0, size: Any = None, dtype: Any = float) -> ndarray:
        return self._draw("normal", loc, scale, size, dtype=dtype)

    def uniform(self, low: Any = 0.0, high: Any = 1.0, size: Any = None, dtype: Any = float) -> ndarray:
        return self._draw("uniform", low, high, size, dtype=dtype)

    def random_sample(self, size: Any = None, dtype: Any = float) -> ndarray:
        return self._draw("random", size, dtype=dtype)

    def rand(self, *size: int, dtype: Any = float) -> ndarray:
        return self._draw("random", size, dtype=dtype)

    def randn(self, *size: int, dtype: Any = float) -> ndarray:
        return self._draw("standard_normal", size, dtype=dtype)

    def randint(self, low: int, high: int | None = None, size: Any = None, dtype: Any = int) -> ndarray:
        return self._draw("integers", low, high, size, dtype=dtype)

    def permutation(self, n: int) -> ndarray:
        return self._draw("permutation", n)

    def exponential(self, scale: Any = 1.0, size: Any = None, dtype: Any = float) -> ndarray:
        return self._draw("exponential", scale, size, dtype=dtype)

    def standard_gamma(self, shape: Any, size: Any = None, dtype: Any = float) -> ndarray:
        return self._draw("standard_gamma", shape, size, dtype=dtype)

    def gamma(self, shape: Any, scale: Any = 1.0, size: Any = None, dtype: Any = float) -> ndarray:
        return self._draw("gamma", shape, scale, size, dtype=dtype)

    def beta(self, a: Any, b: Any, size: Any = None, dtype: Any = float) -> ndarray:
        return self._draw("beta", a, b, size, dtype=dtype)

    def poisson(self, lam: Any = 1.0, size: Any = None, dtype: Any = int) -> ndarray:
        return self._draw("poisson", lam, size, dtype=dtype)

    def binomial(self, n: Any, p: Any, size: Any = None, dtype: Any = int) -> ndarray:
        return self._draw("binomial", n, p, size, dtype=dtype)

    def geometric(self, p: Any, size: Any = None, dtype: Any = int) -> ndarray:
        return self._draw("geometric", p, size, dtype=dtype)


class _Random:
    """``cupy.random``: one :class:`RandomState` per device (``get_random_state``/``set_random_state``), and
    module functions that draw from the current device's."""

    RandomState = RandomState

    def __init__(self) -> None:
        self._states: dict[int, RandomState] = {}

    def get_random_state(self) -> RandomState:
        return self._states.setdefault(_current[0], RandomState())

    def set_random_state(self, state: RandomState) -> None:
        if not isinstance(state, RandomState):
            raise TypeError(f"set_random_state takes a cupy.random.RandomState, got {type(state).__name__}")
        self._states[_current[0]] = state

    def seed(self, seed: int | None = None) -> None:
        self._states[_current[0]] = RandomState(seed)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_") or not callable(getattr(RandomState, name, None)):
            raise AttributeError(f"strict_cupy.random has no attribute {name!r}")
        return getattr(self.get_random_state(), name)


class _Module(types.ModuleType):
    """The ``cupy`` namespace: NumPy's functions on device arrays (and nothing that takes host arrays)."""

    def __getattr__(self, name: str) -> Any:
        target = getattr(numpy, name)
        if isinstance(target, numpy.ufunc):
            wrapped: Any = _Ufunc(target)
        elif isinstance(target, types.ModuleType):
            wrapped = _Submodule(target, f"{self.__name__}.{name}")
        elif callable(target) and not isinstance(target, type):
            wrapped = _function(target, name)
        else:
            wrapped = target    # dtypes, constants (inf, pi, newaxis)
        setattr(self, name, wrapped)
        return wrapped


class _Submodule(types.ModuleType):
    def __init__(self, target: types.ModuleType, name: str) -> None:
        super().__init__(name)
        self._target = target

    def __getattr__(self, name: str) -> Any:
        target = getattr(self._target, name)
        return _function(target, name) if callable(target) and not isinstance(target, type) else target


_CREATORS = {"zeros", "ones", "empty", "full", "arange", "linspace", "eye", "identity", "tri"}


_STABLE_SORTS = {"sort", "argsort"}   # CuPy's sorts are stable (radix sorts); NumPy's default quicksort is not


_C_ORDER = {"concatenate", "stack", "hstack", "vstack", "dstack", "column_stack"}   # CuPy's join into a new
# C-order array; NumPy's keep the inputs' order of strides (a join of transposed arrays comes out transposed)


_SYNCING = {"nonzero", "flatnonzero", "argwhere", "unique", "extract", "compress"}   # output size is data's


def _function(target: Any, name: str) -> Any:
    def device_function(*args: Any, **kwargs: Any) -> Any:
        if name in _SYNCING:
            copies["to_host"] += 1
        if name in _STABLE_SORTS and kwargs.get("kind") is None:   # CuPy's sorts are stable, kind=None too
            kwargs["kind"] = "stable"
        if name in _CREATORS:   # shapes and fill values are host numbers, not array data
            return _wrap(_CUPY_SEMANTICS.get(target, target)(*args, **kwargs), _current[0])
        result = _call(target, args, kwargs, name)
        if name in _C_ORDER and kwargs.get("out") is None and not result._a.flags.c_contiguous:
            return ndarray(numpy.ascontiguousarray(result._a), result.device.id)
        return result

    device_function.__name__ = name
    return device_function


def fuse(*args: Any, kernel_name: str | None = None) -> Any:
    """``cupy.fuse``: here the function runs as written, op by op, on the stand-in's arrays (no generated kernel)."""
    if args and callable(args[0]):
        return args[0]
    return lambda function: function


module = _Module("strict_cupy")
module.ndarray = ndarray
module.asarray = asarray
module.array = array
module.asnumpy = asnumpy
module.get_array_module = get_array_module
module.cuda = cuda
module.random = _Random()
module.ElementwiseKernel = HostElementwiseKernel
module.fuse = fuse
module.__version__ = "stand-in"
module.get_default_memory_pool = lambda: types.SimpleNamespace(free_all_blocks=lambda: None)
module.copies = copies
module.reset_copies = reset_copies
module.is_strict_stand_in = True


class _Setter:
    """``monkeypatch.setattr`` for a whole process (the stand-in in a subprocess)."""

    @staticmethod
    def setattr(target: Any, name: str, value: Any) -> None:
        setattr(target, name, value)


def install(monkeypatch: Any = None) -> Any:
    """Make minigrad's backend use this stand-in as its CuPy (undone with the monkeypatch, if given)."""
    monkeypatch = monkeypatch or _Setter()
    from minigrad import backend  # noqa: PLC0415 - only tests install the stand-in
    from minigrad.ops import fused  # noqa: PLC0415

    if HostElementwiseKernel.cache_dir is None and CXX is None:
        import pytest  # noqa: PLC0415

        pytest.skip("no C++ compiler (g++/clang++) to run the CUDA kernel bodies of the stand-in on the host")
    monkeypatch.setattr(backend, "_cupy", module)
    monkeypatch.setattr(backend, "_cuda_devices", {})
    monkeypatch.setattr(fused, "_compiled", {})
    monkeypatch.setattr(backend, "_default_device", backend._default_device)
    monkeypatch.setattr(backend._thread_device, "device", backend._thread_device.device)
    _current[0] = 0
    module.random = _Random()
    reset_copies()
    HostElementwiseKernel.array_type = ndarray
    return module
