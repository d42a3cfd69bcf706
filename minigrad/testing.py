"""``mg.testing.assert_close``: PyTorch's ``torch.testing.assert_close`` for minigrad tensors."""

from __future__ import annotations

import cmath
import contextlib
import math
import warnings
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy

from . import backend
from .constructors import as_tensor, empty, randint
from .dtypes import get_default_dtype, promote_types
from .ops.shape import Size
from .tensor import Tensor

__all__ = ["assert_close", "make_tensor"]

# PyTorch's default (rtol, atol) by dtype
_TOLERANCES = {numpy.dtype("float16"): (1e-3, 1e-5), numpy.dtype("float32"): (1.3e-6, 1e-5),
               numpy.dtype("float64"): (1e-7, 1e-7), numpy.dtype("complex64"): (1.3e-6, 1e-5),
               numpy.dtype("complex128"): (1e-7, 1e-7)}
_NUMBER_DTYPES = {int: numpy.dtype("int64"), float: numpy.dtype("float64"), complex: numpy.dtype("complex128")}


def assert_close(actual: Any, expected: Any, *, allow_subclasses: bool = True, rtol: float | None = None,
                 atol: float | None = None, equal_nan: bool = False, check_device: bool = True,
                 check_dtype: bool = True, check_layout: bool = True, check_stride: bool = False,
                 msg: str | Callable[[str], str] | None = None) -> None:
    """Raise AssertionError unless ``actual`` and ``expected`` are close, exactly where PyTorch's
    ``torch.testing.assert_close`` would: tensors (or NumPy arrays, each with its own kind) of one shape,
    device and dtype (unless ``check_device``/``check_dtype=False``: then compared on the host in the promoted
    dtype) with ``|actual - expected| <= atol + rtol·|expected|`` everywhere; the default tolerances are the
    loosest of the two dtypes' (float16 1e-3/1e-5, float32 and complex64 1.3e-6/1e-5, float64 and complex128
    1e-7/1e-7, integers and bools exact); Python numbers, bools and None compared as numbers, bools and None;
    sequences and mappings item by item. The message is PyTorch's (mismatched elements, greatest absolute and
    relative difference and their index, the failing item's path); ``msg`` replaces it (a str) or receives it
    (a callable). ``check_layout`` has nothing to check (every tensor here is dense and strided);
    ``check_stride=True`` compares strides; ``allow_subclasses=False`` refuses a Parameter compared with a plain
    Tensor. Inputs no comparison takes (a Tensor with an array, a number with a tensor) raise TypeError, a
    tolerance given alone ValueError, as PyTorch's."""
    options = dict(allow_subclasses=allow_subclasses, rtol=rtol, atol=atol, equal_nan=equal_nan,
                   check_device=check_device, check_dtype=check_dtype, check_stride=check_stride)
    try:
        comparisons = _comparisons(actual, expected, (), options)
    except _Failure as failure:   # (PyTorch's: inputs that cannot be compared ignore msg)
        raise failure.error() from None
    for compare in comparisons:
        try:
            compare()
        except _Failure as failure:
            raise failure.error(msg) from None


class _Failure(Exception):
    """One failed check (PyTorch's ErrorMeta): the exception class, the message and the item's path in the
    containers; ``error(msg)`` builds what assert_close raises (``msg``: a str replaces the message, a
    callable receives it)."""

    def __init__(self, kind: type, message: str, path: tuple = ()) -> None:
        super().__init__(message)
        self.kind, self.message, self.path = kind, message, path

    def error(self, msg: Any = None) -> Exception:
        if isinstance(msg, str):
            return self.kind(msg)
        message = self.message
        if self.path:
            message += f"\n\nThe failure occurred for item {''.join(str([item]) for item in self.path)}"
        return self.kind(msg(message) if callable(msg) else message)


class _Unsupported(Exception):
    """A pair kind cannot take these two inputs; the next kind is tried."""


def _tolerances(rtol: Any, atol: Any, dtypes: tuple, path: tuple) -> tuple:
    """(rtol, atol): both given, or the loosest default of ``dtypes`` (0 for integer and bool dtypes)."""
    if (rtol is None) != (atol is None):
        raise _Failure(ValueError, f"Both 'rtol' and 'atol' must be either specified or omitted, but got no "
                                   f"{'rtol' if rtol is None else 'atol'}.", path)
    if rtol is not None:
        return rtol, atol
    rtols, atols = zip(*(_TOLERANCES.get(dtype, (0.0, 0.0)) for dtype in dtypes))
    return max(rtols), max(atols)


def _mismatch(identifier: str, extra: str, rtol: float, atol: float, absolute: Any, relative: Any,
              absolute_at: tuple | None = None, relative_at: tuple | None = None) -> str:
    """PyTorch's mismatch message: the header, ``extra``, the greatest absolute and relative differences."""
    equality = rtol == 0 and atol == 0
    lines = [f"{identifier} are not {'equal' if equality else 'close'}!", "", extra]
    for kind, difference, at, tolerance in (("absolute", absolute, absolute_at, atol),
                                            ("relative", relative, relative_at, rtol)):
        line = f"{kind.title()} difference: {difference}" if at is None else \
            f"Greatest {kind} difference: {difference} at index {at}"
        lines.append(line if equality else f"{line} (up to {tolerance} allowed)")
    return "\n".join(lines)


def _scalar_mismatch(actual: Any, expected: Any, rtol: float, atol: float) -> str:
    """PyTorch's message for two numbers (or 0-d arrays' values) that are not close."""
    absolute = abs(actual - expected)
    relative = math.inf if expected == 0 else absolute / abs(expected)
    return _mismatch("Scalars", f"Expected {expected} but got {actual}.", rtol, atol, absolute, relative)


def _leaf_comparison(actual: Any, expected: Any, path: tuple, options: dict) -> Callable[[], None]:
    """The comparison of two leaves by the first of PyTorch's pair kinds (None, bool, number, tensor-like, in its
    order) that takes both, or a TypeError. Each kind checks its arguments when called (PyTorch's: those errors
    ignore ``msg``) and returns the function that compares the values."""
    for kind in (_none_pair, _bool_pair, _number_pair, _array_pair):
        try:
            return kind(actual, expected, path, **options)
        except _Unsupported:
            continue
    raise _Failure(TypeError, f"No comparison pair was able to handle inputs of type {type(actual)} and "
                              f"{type(expected)}.", path)


def _none_pair(actual: Any, expected: Any, path: tuple, **_: Any) -> Callable[[], None]:
    """PyTorch's NonePair: either input is None; both must be."""
    if actual is not None and expected is not None:
        raise _Unsupported

    def compare() -> None:
        if not (actual is None and expected is None):
            raise _Failure(AssertionError, f"None mismatch: {actual} is not {expected}", path)
    return compare


def _bool_pair(actual: Any, expected: Any, path: tuple, **_: Any) -> Callable[[], None]:
    """PyTorch's BooleanPair: two Python or NumPy bools, equal."""
    if not all(isinstance(value, (bool, numpy.bool_)) for value in (actual, expected)):
        raise _Unsupported
    actual, expected = bool(actual), bool(expected)

    def compare() -> None:
        if actual is not expected:
            raise _Failure(AssertionError, f"Booleans mismatch: {actual} is not {expected}", path)
    return compare


def _number_pair(actual: Any, expected: Any, path: tuple, *, rtol: Any, atol: Any, equal_nan: bool,
                 check_dtype: bool, **_: Any) -> Callable[[], None]:
    """PyTorch's NumberPair: two Python or NumPy numbers (int, float, complex), close within the tolerances of their
    dtypes (int64, float64, complex128), of one type with ``check_dtype``."""
    if not all(isinstance(value, (*_NUMBER_DTYPES, numpy.number)) for value in (actual, expected)):
        raise _Unsupported
    actual, expected = (value.item() if isinstance(value, numpy.number) else value for value in (actual, expected))
    if isinstance(actual, bool) or isinstance(expected, bool):   # (PyTorch fails here too, with its own error)
        raise _Failure(RuntimeError, f"assert_close cannot compare {actual!r} ({type(actual).__name__}) with "
                                     f"{expected!r} ({type(expected).__name__}): a bool compares with a bool", path)
    rtol, atol = _tolerances(rtol, atol, (_NUMBER_DTYPES[type(actual)], _NUMBER_DTYPES[type(expected)]), path)

    def compare() -> None:
        if check_dtype and type(actual) is not type(expected):
            raise _Failure(AssertionError, f"The (d)types do not match: {type(actual)} != {type(expected)}.", path)
        if actual == expected or equal_nan and cmath.isnan(actual) and cmath.isnan(expected):
            return
        difference = abs(actual - expected)
        if cmath.isfinite(difference) and difference <= atol + rtol * abs(expected):
            return
        raise _Failure(AssertionError, _scalar_mismatch(actual, expected, rtol, atol), path)
    return compare


def _as_tensor(value: Any) -> Tensor:
    """``value`` as a Tensor: itself, or a NumPy/CuPy array's (no copy); anything else is not a tensor-like."""
    if isinstance(value, Tensor):
        return value
    if not (isinstance(value, numpy.ndarray) or backend.is_array(value)):
        raise _Unsupported
    try:
        return as_tensor(value)
    except (TypeError, ValueError):
        raise _Unsupported from None


def _array_pair(actual: Any, expected: Any, path: tuple, *, allow_subclasses: bool, rtol: Any, atol: Any,
                equal_nan: bool, check_device: bool, check_dtype: bool, check_stride: bool,
                **_: Any) -> Callable[[], None]:
    """PyTorch's TensorLikePair: two Tensors or two arrays (one's type a subclass of the other's) of one shape (and
    stride, device, dtype as asked), close elementwise after promotion to a common dtype."""
    if not (isinstance(actual, type(expected)) or isinstance(expected, type(actual))):
        raise _Unsupported
    if not allow_subclasses and type(actual) is not type(expected):
        raise _Unsupported
    actual, expected = _as_tensor(actual), _as_tensor(expected)
    rtol, atol = _tolerances(rtol, atol, (numpy.dtype(actual.dtype), numpy.dtype(expected.dtype)), path)
    if rtol < 0 or atol < 0:
        raise _Failure(RuntimeError, f"assert_close: rtol and atol must be greater than or equal to zero, but got "
                                     f"rtol={rtol} and atol={atol}", path)

    def attribute(name: str, a: Any, e: Any) -> _Failure:
        return _Failure(AssertionError, f"The values for attribute '{name}' do not match: {a} != {e}.", path)

    def compare() -> None:
        if actual.shape != expected.shape:
            raise attribute("shape", Size(actual.shape), Size(expected.shape))
        if check_stride and actual.stride() != expected.stride():
            raise attribute("stride()", actual.stride(), expected.stride())
        if check_device and actual.device != expected.device:
            raise attribute("device", actual.device, expected.device)
        if check_dtype and actual.dtype != expected.dtype:
            raise attribute("dtype", actual.dtype, expected.dtype)
        a, e = backend.to_numpy(actual.data), backend.to_numpy(expected.data)
        if a.dtype != e.dtype:   # (PyTorch's promotion; its unsigned 16-64 bit dtypes count as int64)
            wide = [numpy.dtype("int64") if d.kind == "u" and d.itemsize > 1 else d for d in (a.dtype, e.dtype)]
            common = numpy.dtype(promote_types(*wide))
            a, e = a.astype(common), e.astype(common)
        with numpy.errstate(all="ignore"):
            close = _isclose(a, e, rtol, atol, equal_nan)
            if close.all():
                return
            if a.ndim == 0:
                raise _Failure(AssertionError, _scalar_mismatch(a.item(), e.item(), rtol, atol), path)
            raise _Failure(AssertionError, _tensor_mismatch(a, e, close, rtol, atol), path)
    return compare


def _isclose(a: numpy.ndarray, e: numpy.ndarray, rtol: float, atol: float, equal_nan: bool) -> numpy.ndarray:
    """PyTorch's ``isclose`` for two arrays of one dtype: equal, or both NaN with ``equal_nan``, or a finite
    ``|a - e| <= atol + |rtol·e|`` computed in that dtype (bools in the default dtype, integers' allowed error
    in it too)."""
    close = a == e
    if equal_nan and a.dtype.kind in "fc":
        close |= numpy.isnan(a) & numpy.isnan(e)
    if rtol == 0 and atol == 0:
        return close
    floating = numpy.dtype(get_default_dtype())
    if a.dtype.kind == "b":
        a, e = a.astype(floating), e.astype(floating)
    if a.dtype.kind in "iu":   # (the error exact, in int64: no wrap-around)
        allowed = floating.type(atol) + numpy.abs(floating.type(rtol) * e.astype(floating))
        error = numpy.abs(a.astype(numpy.int64) - e.astype(numpy.int64)).astype(floating)
    else:   # (each step rounded to the dtype; float16's tolerances are float32 numbers, as PyTorch's)
        real = a.real.dtype
        scalar = numpy.float32 if real == numpy.float16 else real.type
        allowed = (scalar(atol) + numpy.abs((scalar(rtol) * e).astype(a.dtype))).astype(real)
        error = numpy.abs(a - e)
    return close | (numpy.isfinite(error) & (error <= allowed))


def _tensor_mismatch(a: numpy.ndarray, e: numpy.ndarray, close: numpy.ndarray, rtol: float, atol: float) -> str:
    """PyTorch's message for two arrays (of one dtype, at least one dim) that are not close everywhere."""
    mismatched = int(close.size - close.sum())
    extra = f"Mismatched elements: {mismatched} / {close.size} ({mismatched / close.size:.1%})"
    a, e, matches = a.reshape(-1), e.reshape(-1), close.reshape(-1)
    if a.dtype.kind not in "fc":
        a, e = a.astype(numpy.int64), e.astype(numpy.int64)
    absolute = numpy.abs(a - e)
    absolute[matches] = 0
    if a.dtype.kind == "i":   # (PyTorch's int64 / int64 is in the default dtype)
        relative = absolute.astype(get_default_dtype()) / numpy.abs(e).astype(get_default_dtype())
    else:
        relative = absolute / numpy.abs(e)
    relative[matches] = 0
    at_absolute, at_relative = int(numpy.argmax(absolute)), int(numpy.argmax(relative))   # (NaN counts as largest)
    return _mismatch("Tensor-likes", extra, rtol, atol, absolute[at_absolute].item(), relative[at_relative].item(),
                     tuple(int(i) for i in numpy.unravel_index(at_absolute, close.shape)),
                     tuple(int(i) for i in numpy.unravel_index(at_relative, close.shape)))


def _comparisons(actual: Any, expected: Any, path: tuple, options: dict) -> list[Callable[[], None]]:
    """The comparisons of two (possibly nested) inputs, each a function that raises :class:`_Failure`: sequences
    item by item, mappings key by key (sorted where the keys sort), leaves by :func:`_leaf_comparison`. A length or
    key mismatch raises at once."""
    if isinstance(actual, Sequence) and not isinstance(actual, str) and isinstance(expected, Sequence) \
            and not isinstance(expected, str):
        if len(actual) != len(expected):
            raise _Failure(AssertionError, f"The length of the sequences mismatch: {len(actual)} != {len(expected)}",
                           path)
        return [comparison for i in range(len(actual))
                for comparison in _comparisons(actual[i], expected[i], (*path, i), options)]
    if isinstance(actual, Mapping) and isinstance(expected, Mapping):
        keys = set(actual.keys())
        if keys != set(expected.keys()):
            missing, additional = set(expected.keys()) - keys, keys - set(expected.keys())
            raise _Failure(AssertionError, f"The keys of the mappings do not match:\nMissing keys in the actual "
                                           f"mapping: {sorted(missing)}\nAdditional keys in the actual mapping: "
                                           f"{sorted(additional)}", path)
        with contextlib.suppress(Exception):
            keys = sorted(keys)
        return [comparison for key in keys
                for comparison in _comparisons(actual[key], expected[key], (*path, key), options)]
    return [_leaf_comparison(actual, expected, path, options)]


def make_tensor(*shape: Any, dtype: Any, device: Any, low: float | None = None, high: float | None = None,
                requires_grad: bool = False, noncontiguous: bool = False, exclude_zero: bool = False,
                memory_format: Any = None) -> Tensor:
    """A random tensor of ``shape`` for tests, as ``torch.testing.make_tensor``: values uniform in [low, high)
    (default [-9, 9) for floating and complex dtypes, where real and imaginary parts are each drawn; [-9, 10)
    for integers, clamped to the dtype's range; bools are 0 or 1). ``noncontiguous=True`` gives every second
    element of a tensor twice as long in the last dim, ``exclude_zero=True`` replaces zeros by 1 (the dtype's
    smallest normal number for floats), ``requires_grad`` is for floating and complex dtypes only;
    ``memory_format`` lays the result out as ``clone(memory_format=...)`` does."""
    if len(shape) == 1 and isinstance(shape[0], Sequence):
        shape = tuple(shape[0])
    dtype = backend.as_dtype(dtype, "make_tensor")
    if noncontiguous and memory_format is not None:
        raise ValueError(f"The parameters `noncontiguous` and `memory_format` are mutually exclusive, but got "
                         f"noncontiguous={noncontiguous} and memory_format={memory_format}")
    exact = dtype.kind in "biu"
    if requires_grad and exact:
        raise ValueError(f"`requires_grad=True` is not supported for boolean and integral dtypes, but got "
                         f"dtype={dtype}")
    if dtype.kind not in "biufc":
        raise TypeError(f"The requested dtype '{dtype}' is not supported by torch.testing.make_tensor().")
    noncontiguous = noncontiguous and math.prod(shape) > 1
    if noncontiguous:
        shape = (*shape[:-1], 2 * shape[-1])
    if dtype.kind == "b":
        lowest, highest, default = 0, 2, (0, 2)
    elif exact:
        info = numpy.iinfo(dtype)
        lowest, highest, default = int(info.min), int(info.max) + (dtype != numpy.int64), (-9, 10)
    else:
        info = numpy.finfo(dtype)   # (a complex dtype's: its real part's)
        lowest, highest, default = float(info.min), float(info.max), (-9, 9)
    low, high = _interval(low, high, default, lowest, highest, dtype)
    if exact:
        result = randint(math.ceil(low), math.ceil(high), shape, dtype=dtype, device=device)
    else:
        result = empty(shape, dtype=dtype, device=device)
        # (a complex tensor's real and imaginary parts side by side, a 0-d one's too)
        parts = result.data.reshape(-1).view(result.data.real.dtype) if dtype.kind == "c" else result.data
        drawn = empty(parts.shape, dtype=parts.dtype, device=device)
        if high - low >= float(info.max):   # (PyTorch's: a range wider than the dtype's largest is drawn halved)
            drawn = drawn.uniform_(low / 2, high / 2) * 2
        else:
            drawn = drawn.uniform_(low, high)
        parts[...] = drawn.data
    if noncontiguous:
        result = result[..., 1::2]
    elif memory_format is not None:
        result = result.clone(memory_format=memory_format)
    if exclude_zero:
        result[result == 0] = 1 if exact else float(info.tiny)
    if not exact:
        result.requires_grad = requires_grad
    return result


def _interval(low: float | None, high: float | None, default: tuple, lowest: float, highest: float,
              dtype: numpy.dtype) -> tuple:
    """make_tensor's [low, high), checked and clamped to [lowest, highest) as PyTorch's."""
    low, high = default[0] if low is None else low, default[1] if high is None else high
    if any(isinstance(v, float) and math.isnan(v) for v in (low, high)):
        raise ValueError(f"`low` and `high` cannot be NaN, but got low={low} and high={high}")
    if low == high and dtype.kind in "fc":
        warnings.warn("Passing `low==high` to `torch.testing.make_tensor` for floating or complex types is "
                      "deprecated since 2.1 and will be removed in 2.3. Use `torch.full(...)` instead.",
                      FutureWarning, stacklevel=3)
    elif low >= high:
        raise ValueError(f"`low` must be less than `high`, but got {low} >= {high}")
    elif high < lowest or low >= highest:
        raise ValueError(f"The value interval specified by `low` and `high` is [{low}, {high}), but {dtype} only "
                         f"supports [{lowest}, {highest})")
    return min(max(low, lowest), highest), min(max(high, lowest), highest)
