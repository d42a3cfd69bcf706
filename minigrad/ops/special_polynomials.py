"""The orthogonal polynomials of ``torch.special``: Chebyshev T, U, V, W (and shifted to [0, 1]),
Hermite H and He, Laguerre L and Legendre P, each ``f(input, n)`` with PyTorch's semantics, from array
ops only (the same code runs on CuPy).

``input`` and ``n`` broadcast (one may be a Python number); the dtype is PyTorch's result type, integer
and bool becoming the default float dtype (float32 unless ``set_default_dtype``). ``n`` is truncated toward
0; a negative n gives 0, and so does a NaN, an
infinite or an |n| ≥ 2^63 one (PyTorch's cast to int64 makes those negative). PyTorch gives them no
derivative: backward through one raises NotImplementedError naming it.

Each is its three-term recurrence, computed in the dtype with PyTorch's arithmetic (so the rounding is
the same), with PyTorch's special cases:

- Chebyshev: ±1 (0 and 1 for the shifted ones, y = 2x - 1) exactly; for |y| < 1 and n above 6 (8 for
  U, V, W; 6 shifted, 4 for the shifted W) the trigonometric forms cos(nθ), sin((n+1)θ)/sin θ,
  cos((n+½)θ)/cos(θ/2), sin((n+½)θ)/sin(θ/2), θ = acos y. For |y| > 1 and n above 64, where the
  recurrence would take n steps, the hyperbolic forms cosh(nθ) … (θ = acosh |y|, to 2e-13 of the
  recurrence) with the recurrence's overflow: ±inf at the first two steps past the largest double, NaN
  after (inf - inf).
- Hermite: NaN above n = 512 (128 in float32), as PyTorch's.
- Laguerre: 1 at x = 0. Legendre: ±1 at x = ±1.
- A NaN x gives NaN (PyTorch returns an uninitialised value for U, V, W, Laguerre and Legendre there).

Laguerre and Legendre take max(n) vectorised steps (Hermite at most 512; the loop stops once every
element is done or overflowed); an n above 2^20 where the values stay bounded (Legendre |x| ≤ 1, Laguerre
x ≥ 0), or an element still finite after 2^20 steps, is refused (NotImplementedError) rather than left to
run for hours as PyTorch's loop does.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy

from ..dtypes import get_default_dtype, torch_result_type
from ..tensor import Tensor
from .shape import astype
from .special import _plain_number
from .special_bessel import NoDerivative

__all__ = ["chebyshev_polynomial_t", "chebyshev_polynomial_u", "chebyshev_polynomial_v", "chebyshev_polynomial_w",
           "shifted_chebyshev_polynomial_t", "shifted_chebyshev_polynomial_u", "shifted_chebyshev_polynomial_v",
           "shifted_chebyshev_polynomial_w", "hermite_polynomial_h", "hermite_polynomial_he", "laguerre_polynomial_l",
           "legendre_polynomial_p"]

_CLOSED_FORM_FROM = 64      # Chebyshev, |y| > 1: the recurrence up to here, the hyperbolic forms beyond
_MOST_STEPS = 2 ** 20


def _degree(xp: Any, n: Any) -> Any:
    """n truncated toward 0 (as a float array); -1 where PyTorch's cast to int64 is out of range."""
    valid = xp.isfinite(n) & (xp.abs(n) < 2.0 ** 63)
    return xp.where(valid, xp.trunc(xp.where(valid, n, 0)), -1)


def _recurrence(xp: Any, name: str, n: Any, first: Any, second: Any, step: Callable, most: int) -> Any:
    """P_n by P_j = step(j, P_{j-1}, P_{j-2}) from P_0 = ``first``, P_1 = ``second``, for every element
    with 0 ≤ n ≤ ``most`` (others get P_min(n, 1)); the loop stops early once every element is past its n
    or no longer finite."""
    top = min(most, int(float(xp.max(n)))) if n.size else 0
    previous, current = first, second
    for j in range(2, top + 1):
        following = step(j, current, previous)
        active = j <= n
        previous, current = xp.where(active, current, previous), xp.where(active, following, current)
        if j % 256 == 0 and not bool(xp.any(active & xp.isfinite(current))):
            break
        if j == _MOST_STEPS:
            raise NotImplementedError(f"{name}: n above {_MOST_STEPS} needs that many steps of the recurrence "
                                      f"(n = {top}); not supported")
    return xp.where(n == 0, first, current)


def _refuse_endless(xp: Any, name: str, n: Any, bounded: Any) -> None:
    """Refuse at once an n above the step limit where the values stay bounded (the loop would not stop)."""
    if bool(xp.any((n > _MOST_STEPS) & bounded)):
        raise NotImplementedError(f"{name}: n above {_MOST_STEPS} needs that many steps of the recurrence "
                                  f"(n = {float(xp.max(n)):g}); not supported")


# --- Chebyshev -----------------------------------------------------------------------------------------------

def _chebyshev_trig(xp: Any, kind: str, y: Any, n: Any) -> Any:
    """PyTorch's trigonometric forms for |y| < 1 (``y`` there, 0 elsewhere), each operation rounded to
    the dtype (float32's in float64, then rounded: the correctly rounded acosf, cosf … of PyTorch's libm)."""
    dtype = y.dtype

    def rounded(function: Callable, *arrays: Any) -> Any:
        return function(*[a.astype(xp.float64, copy=False) for a in arrays]).astype(dtype, copy=False)

    def times(a: Any, b: Any) -> Any:
        return rounded(lambda u, v: u * v, a, b)

    def over(a: Any, b: Any) -> Any:
        return rounded(lambda u, v: u / v, a, b)

    theta = rounded(xp.arccos, y)
    two_n_1 = n + n + 1
    if kind == "t":
        return rounded(xp.cos, times(n, theta))
    if kind == "u":
        sine = rounded(xp.sin, theta)
        return xp.where(sine != 0, over(rounded(xp.sin, times(n + 1, theta)), xp.where(sine != 0, sine, 1)),
                        over(times(n + 1, rounded(xp.cos, times(n + 1, theta))), y))
    half = theta / 2
    odd = xp.fmod(n, 2) != 0
    if kind == "v":
        return xp.where(rounded(xp.sin, half) != 1, over(rounded(xp.cos, times(n + 0.5, theta)), rounded(xp.cos, half)),
                        xp.where(odd, -two_n_1, two_n_1))
    cosine = rounded(xp.cos, half)
    edge = xp.where(y > 0, two_n_1, xp.where(odd, -1, 1))
    return xp.where(cosine != 1, over(rounded(xp.sin, times(n + 0.5, theta)),
                                      xp.where(cosine != 1, rounded(xp.sin, half), 1)), edge)


def _chebyshev_hyperbolic(xp: Any, kind: str, y: Any, n: Any) -> Any:
    """T, U, V or W at |y| > 1 by cosh/sinh of acosh|y| (V and W swap for y < 0); inf past the largest
    double."""
    dtype = y.dtype
    y, n = y.astype(xp.float64, copy=False), n.astype(xp.float64, copy=False)
    theta = xp.arccosh(xp.abs(y))
    negative = y < 0
    if kind == "t":
        magnitude = xp.cosh(n * theta)
    elif kind == "u":
        angle = (n + 1) * theta
        magnitude = xp.exp(angle - xp.log(2 * xp.sinh(theta))) * -xp.expm1(-2 * angle)
    else:
        angle = (n + 0.5) * theta
        as_v = xp.exp(angle - xp.log(2 * xp.cosh(theta / 2))) * (1 + xp.exp(-2 * angle))
        as_w = xp.exp(angle - xp.log(2 * xp.sinh(theta / 2))) * -xp.expm1(-2 * angle)
        magnitude = xp.where(negative == (kind == "v"), as_w, as_v)
    odd = xp.fmod(n, 2) != 0
    return xp.where(negative & odd, -magnitude, magnitude).astype(dtype)


def _chebyshev(xp: Any, kind: str, shifted: bool, x: Any, n: Any) -> Any:
    n = _degree(xp, n)
    x, n = xp.broadcast_arrays(x, n)
    one = x.dtype.type(1)
    y = x + x - one if shifted else x
    thresholds = {"t": 6, "u": 6, "v": 6, "w": 4} if shifted else {"t": 6, "u": 8, "v": 8, "w": 8}
    odd = xp.fmod(n, 2) != 0
    # at y = ±1 (x = 1 or 0 when shifted)
    two_n_1 = n + n + 1
    at_plus = {"t": 1, "u": n + 1, "v": 1, "w": two_n_1}[kind]
    at_minus = {"t": xp.where(odd, -1, 1), "u": xp.where(odd, -(n + 1), n + 1), "v": xp.where(odd, -two_n_1, two_n_1),
                "w": xp.where(odd, -1, 1)}[kind]
    plus, minus = (y == 1, y == -1)
    if shifted:   # PyTorch tests x; y = 2x - 1 rounds to -1 also for 0 < x < 2^-54, where its recurrence gives the same
        plus, minus = plus | (x == 1), minus | (x == 0)
    inside = xp.abs(y) < 1
    trig = _chebyshev_trig(xp, kind, xp.where(inside, y, 0), n)
    # the recurrence from P_0 = 1, P_1 = y, 2y, 2y - 1 or 2y + 1
    second = {"t": y, "u": y + y, "v": y + y - one, "w": y + y + one}[kind]
    twice = (y + y).astype(xp.float64)

    def step(j: int, current: Any, previous: Any) -> Any:   # in float64, rounded: float32's fused multiply-add
        return (twice * current - previous).astype(y.dtype, copy=False)

    steps = _recurrence(xp, "chebyshev", xp.where(n > _CLOSED_FORM_FROM, 1, n),
                        xp.ones_like(y), second, step, _CLOSED_FORM_FROM)
    # |y| > 1 beyond 64 steps: the hyperbolic form, with the recurrence's overflow (inf, inf, then NaN)
    outside = xp.where(inside | ~xp.isfinite(y), 2, y)
    closed = _chebyshev_hyperbolic(xp, kind, outside, n)
    before = _chebyshev_hyperbolic(xp, kind, outside, n - 2)
    closed = xp.where(xp.isfinite(closed) | xp.isfinite(before), closed, xp.nan)
    closed = xp.where(xp.isfinite(y), closed, xp.nan)
    out = xp.where(n > _CLOSED_FORM_FROM, closed, steps)
    out = xp.where(inside & (n > thresholds[kind]), trig, out)
    out = xp.where(plus, at_plus, xp.where(minus, at_minus, out))
    out = xp.where(n < 0, 0, out)
    return out.astype(x.dtype, copy=False)


# --- Hermite, Laguerre, Legendre -------------------------------------------------------------------------------

def _hermite(xp: Any, physicists: bool, x: Any, n: Any) -> Any:
    n = _degree(xp, n)
    x, n = xp.broadcast_arrays(x, n)
    limit = 128 if x.dtype == xp.float32 else 512

    def wide(value: Any) -> Any:   # a step in float64, rounded to the dtype (float32's fused multiply-add)
        return value.astype(x.dtype, copy=False)
    if physicists:   # H_j = 2x H_{j-1} - 2(j-1) H_{j-2}
        twice = (x + x).astype(xp.float64)
        out = _recurrence(xp, "hermite_polynomial_h", xp.where(n > limit, 1, n), xp.ones_like(x), x + x,
                          lambda j, current, previous: wide(twice * current - (2 * (j - 1)) * previous), limit)
    else:            # He_j = x He_{j-1} - (j-1) He_{j-2}
        x64 = x.astype(xp.float64)
        out = _recurrence(xp, "hermite_polynomial_he", xp.where(n > limit, 1, n), xp.ones_like(x), x,
                          lambda j, current, previous: wide(x64 * current - (j - 1) * previous), limit)
    out = xp.where(n > limit, xp.nan, out)
    return xp.where(n < 0, 0, out).astype(x.dtype, copy=False)


def _laguerre(xp: Any, x: Any, n: Any) -> Any:
    """L_j = ((2(j-1) + (1 - x)) L_{j-1} - (j-1) L_{j-2}) / j; 1 at x = 0."""
    n = _degree(xp, n)
    x, n = xp.broadcast_arrays(x, n)
    one_minus = x.dtype.type(1) - x
    one_minus64 = one_minus.astype(xp.float64)

    def step(j: int, current: Any, previous: Any) -> Any:   # the numerator in float64, rounded (float32's FMA)
        numerator = ((2 * (j - 1) + one_minus64) * current - (j - 1) * previous).astype(x.dtype, copy=False)
        return numerator / x.dtype.type(j)

    _refuse_endless(xp, "laguerre_polynomial_l", n, (x >= 0) & (x < xp.inf))   # |L_n(x)| ≤ e^(x/2) there
    out = _recurrence(xp, "laguerre_polynomial_l", xp.where(x == 0, 0, n), xp.ones_like(x), one_minus, step,
                      _MOST_STEPS)
    return xp.where(n < 0, 0, out).astype(x.dtype, copy=False)


def _legendre(xp: Any, x: Any, n: Any) -> Any:
    """P_j = ((2j - 1) x P_{j-1} - (j-1) P_{j-2}) / j; ±1 at x = ±1."""
    n = _degree(xp, n)
    x, n = xp.broadcast_arrays(x, n)
    edge = xp.abs(x) == 1
    x64 = x.astype(xp.float64)

    def step(j: int, current: Any, previous: Any) -> Any:   # the numerator in float64, rounded (float32's FMA)
        scaled = ((2 * j - 1) * x64).astype(x.dtype, copy=False).astype(xp.float64)
        return (scaled * current - (j - 1) * previous).astype(x.dtype, copy=False) / x.dtype.type(j)

    _refuse_endless(xp, "legendre_polynomial_p", n, xp.abs(x) <= 1)   # |P_n(x)| ≤ 1 there
    out = _recurrence(xp, "legendre_polynomial_p", xp.where(edge, 0, n), xp.ones_like(x), x, step, _MOST_STEPS)
    out = xp.where(edge, xp.where((x > 0) | (xp.fmod(n, 2) == 0), 1, -1), out)
    return xp.where(n < 0, 0, out).astype(x.dtype, copy=False)


# --- the public functions ------------------------------------------------------------------------------------

def _operand(value: Any, dtype: Any, name: str) -> Any:
    if isinstance(value, Tensor):
        return value if value.dtype == dtype else astype(value, dtype)
    if _plain_number(value) or isinstance(value, bool):
        return numpy.asarray(value, dtype=dtype)
    raise TypeError(f"{name}: expected a Tensor or a number, got {type(value).__name__}")


def _polynomial(name: str, fn: Callable[[Any, Any, Any], Any], doc: str) -> Callable[..., Tensor]:
    def op(x: Any, n: Any) -> Tensor:   # PyTorch's names
        if not isinstance(x, Tensor) and not isinstance(n, Tensor):
            raise TypeError(f"{name}: expected at least one Tensor, got {type(x).__name__} and "
                            f"{type(n).__name__}")
        for value in (x, n):
            if not isinstance(value, Tensor) and not (_plain_number(value) or isinstance(value, bool)):
                raise TypeError(f"{name}: expected a Tensor or a number, got {type(value).__name__}")
            if isinstance(value, Tensor) and value.dtype.kind not in "biuf":
                raise TypeError(f"{name}: not implemented for dtype {value.dtype}")
        dtype = torch_result_type(x, n)
        if dtype.kind in "biu":
            dtype = get_default_dtype()
        if dtype.itemsize < 4 or str(dtype) == "bfloat16":
            raise TypeError(f"{name}: not implemented for dtype {dtype} (PyTorch's CPU kernel takes float32 and "
                            "float64)")
        return NoDerivative(name, fn)(_operand(x, dtype, name), _operand(n, dtype, name))
    op.__name__ = name
    op.__doc__ = (doc + "\n\n    x, n: broadcastable shapes (either may be a number) → the broadcast shape; "
                  "n truncated toward 0 (negative: 0). No derivative (as in PyTorch).")
    return op


def _chebyshev_op(kind: str, shifted: bool) -> Callable[[Any, Any, Any], Any]:
    return lambda xp, x, n: _chebyshev(xp, kind, shifted, x, n)


chebyshev_polynomial_t = _polynomial("chebyshev_polynomial_t", _chebyshev_op("t", False),
                                     "The Chebyshev polynomial of the first kind T_n(x) "
                                     "(torch.special.chebyshev_polynomial_t).")
chebyshev_polynomial_u = _polynomial("chebyshev_polynomial_u", _chebyshev_op("u", False),
                                     "The Chebyshev polynomial of the second kind U_n(x) "
                                     "(torch.special.chebyshev_polynomial_u).")
chebyshev_polynomial_v = _polynomial("chebyshev_polynomial_v", _chebyshev_op("v", False),
                                     "The Chebyshev polynomial of the third kind V_n(x) "
                                     "(torch.special.chebyshev_polynomial_v).")
chebyshev_polynomial_w = _polynomial("chebyshev_polynomial_w", _chebyshev_op("w", False),
                                     "The Chebyshev polynomial of the fourth kind W_n(x) "
                                     "(torch.special.chebyshev_polynomial_w).")
shifted_chebyshev_polynomial_t = _polynomial("shifted_chebyshev_polynomial_t", _chebyshev_op("t", True),
                                             "T*_n(x) = T_n(2x - 1) (torch.special.shifted_chebyshev_polynomial_t).")
shifted_chebyshev_polynomial_u = _polynomial("shifted_chebyshev_polynomial_u", _chebyshev_op("u", True),
                                             "U*_n(x) = U_n(2x - 1) (torch.special.shifted_chebyshev_polynomial_u).")
shifted_chebyshev_polynomial_v = _polynomial("shifted_chebyshev_polynomial_v", _chebyshev_op("v", True),
                                             "V*_n(x) = V_n(2x - 1) (torch.special.shifted_chebyshev_polynomial_v).")
shifted_chebyshev_polynomial_w = _polynomial("shifted_chebyshev_polynomial_w", _chebyshev_op("w", True),
                                             "W*_n(x) = W_n(2x - 1) (torch.special.shifted_chebyshev_polynomial_w).")
hermite_polynomial_h = _polynomial("hermite_polynomial_h", lambda xp, x, n: _hermite(xp, True, x, n),
                                   "The physicists' Hermite polynomial H_n(x) (torch.special.hermite_polynomial_h); "
                                   "NaN above n = 512 (float32: 128).")
hermite_polynomial_he = _polynomial("hermite_polynomial_he", lambda xp, x, n: _hermite(xp, False, x, n),
                                    "The probabilists' Hermite polynomial He_n(x) "
                                    "(torch.special.hermite_polynomial_he); NaN above n = 512 (float32: 128).")
laguerre_polynomial_l = _polynomial("laguerre_polynomial_l", _laguerre,
                                    "The Laguerre polynomial L_n(x) (torch.special.laguerre_polynomial_l).")
legendre_polynomial_p = _polynomial("legendre_polynomial_p", _legendre,
                                    "The Legendre polynomial P_n(x) (torch.special.legendre_polynomial_p).")
