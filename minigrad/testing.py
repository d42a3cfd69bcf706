"""``mg.testing.assert_close``: PyTorch's ``torch.testing.assert_close`` for minigrad tensors."""

from __future__ import annotations

from typing import Any

import numpy

from . import backend
from .tensor import Tensor

__all__ = ["assert_close"]

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
