"""``mg.testing.assert_close``: PyTorch's ``torch.testing.assert_close`` for minigrad tensors."""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from typing import Any

import numpy

from . import backend
from .constructors import empty, randint
from .tensor import Tensor

__all__ = ["assert_close", "make_tensor"]

# PyTorch's default (rtol, atol) by dtype
_TOLERANCES = {numpy.dtype("float16"): (1e-3, 1e-5), numpy.dtype("float32"): (1.3e-6, 1e-5),
               numpy.dtype("float64"): (1e-7, 1e-7), numpy.dtype("complex64"): (1.3e-6, 1e-5),
               numpy.dtype("complex128"): (1e-7, 1e-7)}


_NUMBERS = (bool, int, float, complex)


def _pairs(actual: Any, expected: Any, allow_subclasses: bool) -> bool:
    """PyTorch's comparison pairs: a Tensor with a Tensor, an array with an array, a number with a number."""
    if not allow_subclasses and type(actual) is not type(expected):
        return False
    for kind in (Tensor, numpy.ndarray):
        if isinstance(actual, kind) != isinstance(expected, kind):
            return False
    return backend.is_array(actual) == backend.is_array(expected)


def _host(value: Any) -> numpy.ndarray:
    if isinstance(value, Tensor):
        return backend.to_numpy(value.data)
    return numpy.asarray(backend.to_numpy(value) if backend.is_array(value) else value)


def assert_close(actual: Any, expected: Any, *, allow_subclasses: bool = True, rtol: float | None = None,
                 atol: float | None = None, equal_nan: bool = False, check_device: bool = True,
                 check_dtype: bool = True, check_layout: bool = True, check_stride: bool = False,
                 msg: str | None = None) -> None:
    """Raise AssertionError unless ``|actual - expected| <= atol + rtol·|expected|`` everywhere, with
    PyTorch's default tolerances for the dtype, its shape/dtype/device (and, with ``check_stride=True``,
    stride) checks, and nested sequences and dicts compared item by item. ``check_layout`` has nothing to
    check (every tensor here is dense and strided); ``allow_subclasses=False`` refuses a Parameter compared
    with a plain Tensor (TypeError), as PyTorch's."""
    if (rtol is None) != (atol is None):
        raise ValueError("assert_close: give both rtol and atol, or neither")
    checks = dict(allow_subclasses=allow_subclasses, rtol=rtol, atol=atol, equal_nan=equal_nan,
                  check_device=check_device, check_dtype=check_dtype, check_layout=check_layout,
                  check_stride=check_stride, msg=msg)
    if isinstance(expected, dict) and isinstance(actual, dict):
        if actual.keys() != expected.keys():
            raise AssertionError(msg or f"The keys differ: {sorted(actual)} != {sorted(expected)}")
        for key in expected:
            assert_close(actual[key], expected[key], **checks)
        return
    if isinstance(expected, (list, tuple)) and isinstance(actual, (list, tuple)):
        if len(actual) != len(expected):
            raise AssertionError(msg or f"The lengths differ: {len(actual)} != {len(expected)}")
        for a, e in zip(actual, expected):
            assert_close(a, e, **checks)
        return
    if not _pairs(actual, expected, allow_subclasses):
        raise TypeError(f"No comparison pair was able to handle inputs of type {type(actual)} and {type(expected)}.")
    if check_dtype and type(actual) in _NUMBERS and type(expected) in _NUMBERS and type(actual) is not type(expected):
        raise AssertionError(msg or f"The (d)types do not match: {type(actual)} != {type(expected)}.")
    a, e = _host(actual), _host(expected)
    if isinstance(actual, Tensor) and isinstance(expected, Tensor):
        if check_device and actual.device != expected.device:
            raise AssertionError(msg or f"The values are on different devices: {actual.device} != {expected.device}")
        if check_dtype and actual.dtype != expected.dtype:
            raise AssertionError(msg or f"The values have different dtypes: {actual.dtype} != {expected.dtype}")
    if a.shape != e.shape:
        raise AssertionError(msg or f"The values have different shapes: {a.shape} != {e.shape}")
    if check_stride and isinstance(actual, Tensor) and isinstance(expected, Tensor) \
            and actual.stride() != expected.stride():
        raise AssertionError(msg or f"The values for attribute 'stride()' do not match: {actual.stride()} != "
                             f"{expected.stride()}.")
    if rtol is None:
        rtol, atol = _TOLERANCES.get(numpy.result_type(a, e), (0.0, 0.0))
    if a.dtype.kind in "biu" and e.dtype.kind in "biu":
        close = a == e
    else:
        close = numpy.isclose(a, e, rtol=rtol, atol=atol, equal_nan=equal_nan)
    if not close.all():
        bad = int((~close).sum())
        difference = numpy.abs(a.astype(numpy.float64) - e.astype(numpy.float64))
        raise AssertionError(msg or f"Tensor-likes are not close!\n\nMismatched elements: {bad} / {a.size} "
                             f"({100 * bad / max(a.size, 1):.1f}%)\nGreatest absolute difference: "
                             f"{numpy.nanmax(difference) if difference.size else 0} (up to {atol} allowed)\n"
                             f"rtol={rtol}, atol={atol}")


def make_tensor(*shape: Any, dtype: Any, device: Any, low: float | None = None, high: float | None = None,
                requires_grad: bool = False, noncontiguous: bool = False, exclude_zero: bool = False,
                memory_format: Any = None) -> Tensor:
    """A random tensor of ``shape`` for tests, as ``torch.testing.make_tensor``: values uniform in [low, high)
    (default [-9, 9) for floating and complex dtypes, where real and imaginary parts are each drawn; [-9, 10)
    for integers, clamped to the dtype's range; bools are 0 or 1). ``noncontiguous=True`` gives every second
    element of a tensor twice as long in the last dim, ``exclude_zero=True`` replaces zeros by 1 (the dtype's
    smallest normal number for floats), ``requires_grad`` is for floating and complex dtypes only."""
    if len(shape) == 1 and isinstance(shape[0], Sequence):
        shape = tuple(shape[0])
    dt = backend.as_dtype(dtype, "make_tensor")
    if noncontiguous and memory_format is not None:
        raise ValueError(f"The parameters `noncontiguous` and `memory_format` are mutually exclusive, but got "
                         f"noncontiguous={noncontiguous} and memory_format={memory_format}")
    exact = dt.kind in "biu"
    if requires_grad and exact:
        raise ValueError(f"`requires_grad=True` is not supported for boolean and integral dtypes, but got dtype={dt}")
    if dt.kind not in "biufc":
        raise TypeError(f"The requested dtype '{dt}' is not supported by torch.testing.make_tensor().")
    noncontiguous = noncontiguous and math.prod(shape) > 1
    if noncontiguous:
        shape = (*shape[:-1], 2 * shape[-1])
    if dt.kind == "b":
        lowest, highest, default = 0, 2, (0, 2)
    elif exact:
        info = numpy.iinfo(dt)
        lowest, highest, default = int(info.min), int(info.max) + (dt != numpy.int64), (-9, 10)
    else:
        info = numpy.finfo(dt)   # (a complex dtype's: its real part's)
        lowest, highest, default = float(info.min), float(info.max), (-9, 9)
    low, high = _interval(low, high, default, lowest, highest, dt)
    if exact:
        result = randint(math.ceil(low), math.ceil(high), shape, dtype=dt, device=device)
    else:
        result = empty(shape, dtype=dt, device=device)
        parts = result.data.view(result.data.real.dtype) if dt.kind == "c" else result.data
        parts[...] = empty(parts.shape, dtype=parts.dtype, device=device).uniform_(low, high).data
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
              dt: numpy.dtype) -> tuple:
    """make_tensor's [low, high), checked and clamped to [lowest, highest) as PyTorch's."""
    low, high = default[0] if low is None else low, default[1] if high is None else high
    if any(isinstance(v, float) and math.isnan(v) for v in (low, high)):
        raise ValueError(f"`low` and `high` cannot be NaN, but got low={low} and high={high}")
    if low == high and dt.kind in "fc":
        warnings.warn("Passing `low==high` to `torch.testing.make_tensor` for floating or complex types is "
                      "deprecated since 2.1 and will be removed in 2.3. Use `torch.full(...)` instead.",
                      FutureWarning, stacklevel=3)
    elif low >= high:
        raise ValueError(f"`low` must be less than `high`, but got {low} >= {high}")
    elif high < lowest or low >= highest:
        raise ValueError(f"The value interval specified by `low` and `high` is [{low}, {high}), but {dt} only "
                         f"supports [{lowest}, {highest})")
    return min(max(low, lowest), highest), min(max(high, lowest), highest)
