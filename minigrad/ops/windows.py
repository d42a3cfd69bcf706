"""Signal windows, as PyTorch's: ``hann_window``, ``hamming_window``, ``blackman_window``, ``bartlett_window``
and ``kaiser_window``.

Each gives a 1-D tensor of ``window_length`` values w[n], n = 0 … N-1. A symmetric window
(``periodic=False``) uses N - 1 in its formulas; a periodic one (the default, for spectral analysis:
``torch.stft``) is the symmetric window of length N + 1 without its last value. As PyTorch: length 0 gives
an empty tensor and length 1 gives ``[1.]``. Values are computed in float64 on the host (they are constants)
and cast once to ``dtype`` (the default dtype when None), which must be floating.
"""

from __future__ import annotations

import math
import operator
from typing import Any

import numpy

from .. import backend
from ..arguments import ArgumentTypeError, ShapeMismatchError
from ..constructors import tensor, tensor_options
from ..dtypes import get_default_dtype
from ..tensor import Tensor
from ._util import number

__all__ = ["bartlett_window", "blackman_window", "hamming_window", "hann_window", "kaiser_window"]


def _length(window_length: Any, name: str) -> int:
    if isinstance(window_length, bool):
        raise TypeError(f"{name}(): argument 'window_length' must be int, not bool")
    try:
        length = operator.index(window_length)
    except TypeError:
        raise TypeError(f"{name}(): argument 'window_length' must be int, not "
                        f"{type(window_length).__name__}") from None
    if length < 0:
        raise ShapeMismatchError(f"{name} requires non-negative window_length, got window_length={length}")
    return length


def _flag(value: Any, name: str, what: str) -> bool:
    if not isinstance(value, (bool, numpy.bool_)):
        raise TypeError(f"{name}(): argument '{what}' must be bool, not {type(value).__name__}")
    return bool(value)


def _window(name: str, window_length: Any, periodic: Any, formula: Any, dtype: Any, layout: Any, device: Any,
            requires_grad: bool, pin_memory: Any) -> Tensor:
    """The window ``formula(n, M)`` (float64 arrays; M = the symmetric length - 1) as a tensor of ``dtype``."""
    dt = get_default_dtype() if dtype is None else backend.as_dtype(dtype, name)
    if dt.kind != "f":   # checked before the length, as PyTorch's
        raise ArgumentTypeError(f"{name} expects floating point dtypes, got {dt}")
    length = _length(window_length, name)
    periodic = _flag(periodic, name, "periodic")
    tensor_options(name, layout, pin_memory, device)
    if length <= 1:
        values = numpy.ones(length)
    else:
        size = length + 1 if periodic else length
        values = formula(numpy.arange(size, dtype=numpy.float64), size - 1)[:length]
    return tensor(values, dtype=dt, device=device, requires_grad=requires_grad)


def hamming_window(window_length: int, periodic: bool = True, alpha: float = 0.54, beta: float = 0.46, *,
                   dtype: Any = None, layout: Any = None, device: Any = None, pin_memory: bool = False,
                   requires_grad: bool = False) -> Tensor:
    """Generalised Hamming window (window_length,): w[n] = alpha - beta·cos(2πn / M), as ``torch.hamming_window``
    (M = N - 1, or N for a periodic window)."""
    alpha, beta = float(number(alpha, "hamming_window", "alpha")), float(number(beta, "hamming_window", "beta"))
    return _window("hamming_window", window_length, periodic,
                   lambda n, m: alpha - beta * numpy.cos(n * (2 * math.pi / m)), dtype, layout, device, requires_grad,
                   pin_memory)


def hann_window(window_length: int, periodic: bool = True, *, dtype: Any = None, layout: Any = None,
                device: Any = None, pin_memory: bool = False, requires_grad: bool = False) -> Tensor:
    """Hann window (window_length,): w[n] = 0.5 - 0.5·cos(2πn / M) = sin²(πn / M), as ``torch.hann_window``."""
    return _window("hann_window", window_length, periodic,
                   lambda n, m: 0.5 - 0.5 * numpy.cos(n * (2 * math.pi / m)), dtype, layout, device, requires_grad,
                   pin_memory)


def blackman_window(window_length: int, periodic: bool = True, *, dtype: Any = None, layout: Any = None,
                    device: Any = None, pin_memory: bool = False, requires_grad: bool = False) -> Tensor:
    """Blackman window (window_length,): w[n] = 0.42 - 0.5·cos(2πn / M) + 0.08·cos(4πn / M), as
    ``torch.blackman_window``."""
    def formula(n: Any, m: int) -> Any:
        angle = n * (math.pi / m)
        return 0.08 * numpy.cos(4 * angle) - 0.5 * numpy.cos(2 * angle) + 0.42
    return _window("blackman_window", window_length, periodic, formula, dtype, layout, device, requires_grad,
                   pin_memory)


def bartlett_window(window_length: int, periodic: bool = True, *, dtype: Any = None, layout: Any = None,
                    device: Any = None, pin_memory: bool = False, requires_grad: bool = False) -> Tensor:
    """Bartlett (triangular) window (window_length,): w[n] = 1 - |2n / M - 1|, as ``torch.bartlett_window``."""
    return _window("bartlett_window", window_length, periodic, lambda n, m: 1 - numpy.abs(2 * n / m - 1), dtype,
                   layout, device, requires_grad, pin_memory)


def kaiser_window(window_length: int, periodic: bool = True, beta: float = 12.0, *, dtype: Any = None,
                  layout: Any = None, device: Any = None, pin_memory: bool = False,
                  requires_grad: bool = False) -> Tensor:
    """Kaiser window (window_length,): w[n] = I0(beta·√(1 - ((n - M/2) / (M/2))²)) / I0(beta), I0 the modified
    Bessel function of order 0, as ``torch.kaiser_window``."""
    beta = float(number(beta, "kaiser_window", "beta"))

    def formula(n: Any, m: int) -> Any:
        half = m / 2
        inside = numpy.clip(1 - ((n - half) / half) ** 2, 0.0, None)   # rounding must not make a root of -0.0…1
        return numpy.i0(beta * numpy.sqrt(inside)) / numpy.i0(beta)
    return _window("kaiser_window", window_length, periodic, formula, dtype, layout, device, requires_grad, pin_memory)
