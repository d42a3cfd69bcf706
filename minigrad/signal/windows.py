"""``mg.signal.windows``: PyTorch's ``torch.signal.windows`` (SciPy-style windows of ``M`` points).

Each function gives a 1-D tensor of shape ``(M,)``. ``sym=True`` (the default) gives a symmetric window, for
filter design; ``sym=False`` the periodic one, for spectral analysis (the symmetric window of ``M + 1`` points
without its last). As PyTorch's: ``M = 0`` gives an empty tensor, ``M = 1`` a single 1 (``cosine``,
``gaussian`` and ``exponential`` evaluate their formula there), and only float32/float64 are accepted
(``ValueError`` otherwise, and for a negative ``M``). Values are computed in float64 on the host with
PyTorch's formulas and cast once to ``dtype`` (the default dtype when None).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import numpy

from ..constructors import tensor
from ..dtypes import get_default_dtype
from ..ops.strided import strided
from ..tensor import Tensor

__all__ = ["bartlett", "blackman", "cosine", "exponential", "gaussian", "general_cosine", "general_hamming",
           "hamming", "hann", "kaiser", "nuttall"]


def _checked(name: str, M: int, dtype: Any, layout: Any) -> numpy.dtype:
    """PyTorch's checks of every window; returns the dtype to give."""
    dt = numpy.dtype(get_default_dtype() if dtype is None else dtype)
    if M < 0:
        raise ValueError(f"{name} requires non-negative window length, got M={M}")
    if layout is not strided:
        raise ValueError(f"{name} is implemented for strided tensors only, got: {layout}")
    if dt not in (numpy.float32, numpy.float64):
        raise ValueError(f"{name} expects float32 or float64 dtypes, got: {dt}")
    return dt


def _window(values: numpy.ndarray, dt: numpy.dtype, device: Any, requires_grad: bool) -> Tensor:
    """The window's tensor (M,): ``values``, computed in float64, cast once to ``dt``."""
    return tensor(values.astype(dt), device=device, requires_grad=requires_grad)


def _points(start: float, step: float, M: int) -> numpy.ndarray:
    """``linspace(start, start + (M - 1)·step, M)``, the grid every window is evaluated on."""
    return numpy.linspace(start, start + (M - 1) * step, M)


def exponential(M: int, *, center: float | None = None, tau: float = 1.0, sym: bool = True, dtype: Any = None,
                layout: Any = strided, device: Any = None, requires_grad: bool = False) -> Tensor:
    """Exponential (Poisson) window (M,): w[n] = exp(-|n - center| / tau)."""
    dt = _checked("exponential", M, dtype, layout)
    if tau <= 0:
        raise ValueError(f"Tau must be positive, got: {tau} instead.")
    if sym and center is not None:
        raise ValueError("Center must be None for symmetric windows")
    if center is None:
        center = (M if not sym and M > 1 else M - 1) / 2.0
    return _window(numpy.exp(-numpy.abs(_points(-center / tau, 1 / tau, M))), dt, device, requires_grad)


def cosine(M: int, *, sym: bool = True, dtype: Any = None, layout: Any = strided, device: Any = None,
           requires_grad: bool = False) -> Tensor:
    """Cosine (sine) window (M,): w[n] = sin(π(n + ½) / M)."""
    dt = _checked("cosine", M, dtype, layout)
    step = math.pi / (M + 1 if not sym and M > 1 else max(M, 1))
    return _window(numpy.sin(_points(0.5 * step, step, M)), dt, device, requires_grad)


def gaussian(M: int, *, std: float = 1.0, sym: bool = True, dtype: Any = None, layout: Any = strided,
             device: Any = None, requires_grad: bool = False) -> Tensor:
    """Gaussian window (M,): w[n] = exp(-(n - (M - 1)/2)² / (2 std²))."""
    dt = _checked("gaussian", M, dtype, layout)
    if std <= 0:
        raise ValueError(f"Standard deviation must be positive, got: {std} instead.")
    step = 1 / (std * math.sqrt(2))
    start = -(M if not sym and M > 1 else M - 1) / 2.0
    return _window(numpy.exp(-_points(start * step, step, M) ** 2), dt, device, requires_grad)


def kaiser(M: int, *, beta: float = 12.0, sym: bool = True, dtype: Any = None, layout: Any = strided,
           device: Any = None, requires_grad: bool = False) -> Tensor:
    """Kaiser window (M,): w[n] = I0(beta·sqrt(1 - (2n/(M - 1) - 1)²)) / I0(beta)."""
    dt = _checked("kaiser", M, dtype, layout)
    if beta < 0:
        raise ValueError(f"beta must be non-negative, got: {beta} instead.")
    if M <= 1:
        return _window(numpy.ones(M), dt, device, requires_grad)
    beta = float(dt.type(beta))   # PyTorch casts beta to the dtype first
    k = numpy.minimum(_points(-beta, 2.0 * beta / (M if not sym else M - 1), M), beta)
    return _window(numpy.i0(numpy.sqrt(numpy.maximum(beta * beta - k ** 2, 0.0))) / numpy.i0(beta), dt, device,
                   requires_grad)


def bartlett(M: int, *, sym: bool = True, dtype: Any = None, layout: Any = strided, device: Any = None,
             requires_grad: bool = False) -> Tensor:
    """Bartlett (triangular) window (M,): w[n] = 1 - |2n/(M - 1) - 1|."""
    dt = _checked("bartlett", M, dtype, layout)
    if M <= 1:
        return _window(numpy.ones(M), dt, device, requires_grad)
    return _window(1 - numpy.abs(_points(-1.0, 2 / (M if not sym else M - 1), M)), dt, device, requires_grad)


def general_cosine(M: int, *, a: Iterable, sym: bool = True, dtype: Any = None, layout: Any = strided,
                   device: Any = None, requires_grad: bool = False) -> Tensor:
    """Generalised cosine window (M,): w[n] = Σ_i (-1)^i a_i cos(2πin / (M - 1))."""
    dt = _checked("general_cosine", M, dtype, layout)
    if M <= 1:
        return _window(numpy.ones(M), dt, device, requires_grad)
    if not isinstance(a, Iterable):
        raise TypeError("Coefficients must be a list/tuple")
    if not a:
        raise ValueError("Coefficients cannot be empty")
    k = _points(0.0, 2 * math.pi / (M if not sym else M - 1), M)
    values = sum((-1) ** i * float(w) * numpy.cos(i * k) for i, w in enumerate(a))
    return _window(values, dt, device, requires_grad)


def general_hamming(M: int, *, alpha: float = 0.54, sym: bool = True, dtype: Any = None, layout: Any = strided,
                    device: Any = None, requires_grad: bool = False) -> Tensor:
    """Generalised Hamming window (M,): w[n] = alpha - (1 - alpha)·cos(2πn / (M - 1))."""
    return general_cosine(M, a=[alpha, 1.0 - alpha], sym=sym, dtype=dtype, layout=layout, device=device,
                          requires_grad=requires_grad)


def hamming(M: int, *, sym: bool = True, dtype: Any = None, layout: Any = strided, device: Any = None,
            requires_grad: bool = False) -> Tensor:
    """Hamming window (M,): general_hamming with alpha = 0.54."""
    return general_hamming(M, sym=sym, dtype=dtype, layout=layout, device=device, requires_grad=requires_grad)


def hann(M: int, *, sym: bool = True, dtype: Any = None, layout: Any = strided, device: Any = None,
         requires_grad: bool = False) -> Tensor:
    """Hann window (M,): general_hamming with alpha = 0.5."""
    return general_hamming(M, alpha=0.5, sym=sym, dtype=dtype, layout=layout, device=device,
                           requires_grad=requires_grad)


def blackman(M: int, *, sym: bool = True, dtype: Any = None, layout: Any = strided, device: Any = None,
             requires_grad: bool = False) -> Tensor:
    """Blackman window (M,): general_cosine with a = [0.42, 0.5, 0.08]."""
    _checked("blackman", M, dtype, layout)
    return general_cosine(M, a=[0.42, 0.5, 0.08], sym=sym, dtype=dtype, layout=layout, device=device,
                          requires_grad=requires_grad)


def nuttall(M: int, *, sym: bool = True, dtype: Any = None, layout: Any = strided, device: Any = None,
            requires_grad: bool = False) -> Tensor:
    """Minimum 4-term Blackman-Harris window (M,) of Nuttall: general_cosine with a = [0.3635819, 0.4891775,
    0.1365995, 0.0106411]."""
    return general_cosine(M, a=[0.3635819, 0.4891775, 0.1365995, 0.0106411], sym=sym, dtype=dtype, layout=layout,
                          device=device, requires_grad=requires_grad)
