"""The rest of ``torch.special`` beyond ``ops/special.py`` and ``ops/gamma.py``, from array ops only (the
same code runs on CuPy): the inverse error function ``erfinv``, the scaled ``erfcx``, the normal CDF
``ndtr``, its inverse ``ndtri`` and its log ``log_ndtr``, the modified Bessel functions
``i0``/``i0e``/``i1``/``i1e``, and the entropy terms ``xlog1py`` and ``entr``.

Every function takes a tensor of any shape and gives that shape (two inputs broadcast); integer and bool
tensors become float32, as PyTorch's. Accuracy in float64, against mpmath: ``erfinv``/``ndtri`` about
1e-15 relative (``ndtri`` down to p = 1e-300), ``erfcx``/``ndtr``/``log_ndtr`` about 3e-15 relative in
both tails, the Bessel functions 2e-15.

``erfinv`` and ``ndtri`` start from a guess (Giles' polynomial, or the asymptotic tail) and take Newton
steps on erf(y) = x, in log space on erfc(y) = 1 - x in the tails, so no digit is lost to 1 - x.
"""

from __future__ import annotations

import math
from typing import Any

from .. import backend
from ..tensor import Tensor
from .math import Binary, Unary, _erf_array, _real_floating, _where_split
from .math import _floating as _any_floating
from .special import _operands

__all__ = ["erfinv", "erfcx", "ndtr", "ndtri", "log_ndtr", "i0", "i0e", "i1", "i1e", "xlog1py", "entr"]

_SQRT_PI = math.sqrt(math.pi)
_SQRT_2 = math.sqrt(2.0)


def _floating(input: Any, name: str) -> Tensor:  # noqa: A002
    """``input`` as a float Tensor (integers and bools: the default float dtype); complex refused, as PyTorch's."""
    x = _any_floating(input, name)
    _real_floating(x, name=name)
    return x


def _exp_square(xp: Any, x: Any, factor: float) -> Any:
    """exp(factor · x²) without the rounding of x² (1e-13 relative at x = 27): x = h + l with h on a 2^-10
    grid (h² exact), x² = h² + (x - h)(x + h); ``factor`` is ±1 or ±½. From |x| = 40 on exp(factor · x²) is
    0 or inf as it stands (and exp(h²) · exp(rest) would be inf · 0 there)."""
    finite = xp.abs(x) < 40
    head = xp.where(finite, xp.floor(x * 1024) / 1024, x)
    rest = xp.where(finite, (x - head) * (x + head), 0)
    return xp.exp(factor * (head * head)) * xp.exp(factor * rest)


def _erfcx_array(xp: Any, x: Any) -> Any:
    """exp(x²) erfc(x) to ~1e-15: the continued fraction 1/√π / (x + ½/(x + 1/(x + …))) for x ≥ 1
    (200 terms), exp(x²) (1 - erf(x)) below (erfc ≥ 0.15 there: no cancellation); +inf far left."""
    def fraction(far: Any) -> Any:
        tail = xp.zeros_like(far)
        for n in range(200, 0, -1):
            tail = (n / 2) / (far + tail)
        return 1 / (_SQRT_PI * (far + tail))

    return _where_split(xp, x >= 1, x, fraction, lambda near: _exp_square(xp, near, 1) * (1 - _erf_array(xp, near)))


def _erfc_array(xp: Any, x: Any) -> Any:
    """erfc(x) with relative accuracy in the right tail (exp(-x²) · erfcx(x))."""
    return _where_split(xp, x >= 1, x, lambda far: _exp_square(xp, far, -1) * _erfcx_array(xp, far),
                        lambda near: 1 - _erf_array(xp, xp.minimum(near, 1.0)))


def _giles_guess(xp: Any, a: Any) -> Any:
    """erfinv(a) for 0 ≤ a < 1 to ~1e-7 (M. Giles, "Approximating the erfinv function", 2010)."""
    w = -xp.log((1 - a) * (1 + a))
    central = w - 2.5
    p = xp.full_like(a, 2.81022636e-08)
    for c in (3.43273939e-07, -3.5233877e-06, -4.39150654e-06, 0.00021858087, -0.00125372503, -0.00417768164,
              0.246640727, 1.50140941):
        p = p * central + c
    tail = xp.sqrt(xp.maximum(w, 5.0)) - 3
    q = xp.full_like(a, -0.000200214257)
    for c in (0.000100950558, 0.00134934322, -0.00367342844, 0.00573950773, -0.0076224613, 0.00943887047,
              1.00167406, 2.83297682):
        q = q * tail + c
    return xp.where(w < 5, p, q) * a


def _erfinv_small(xp: Any, a: Any) -> Any:
    """y ≥ 0 with erf(y) = a, for 0 ≤ a ≤ ½: Newton's steps from Giles' guess."""
    y = _giles_guess(xp, a)
    for _ in range(3):
        y = y - (_erf_array(xp, y) - a) * (_SQRT_PI / 2) * xp.exp(y * y)
    return y


def _erfcinv_tail(xp: Any, t: Any) -> Any:
    """y ≥ 0.47 with erfc(y) = t, for 0 ≤ t ≤ ½ (+inf at t = 0): Newton's steps on
    h(y) = -y² + log erfcx(y) - log t, whose derivative is -2 / (√π erfcx(y))."""
    t = xp.minimum(t, 0.5)
    log_t = xp.log(t)
    giles = _giles_guess(xp, 1 - t)
    # far tail: erfc(y) ≈ exp(-y²) / (y √π), so y² ≈ -log t - log(√π y)
    big = xp.maximum(-log_t, 1.0)
    asymptotic = xp.sqrt(xp.maximum(big - xp.log(_SQRT_PI * xp.sqrt(big)), 0.25))
    asymptotic = xp.sqrt(xp.maximum(big - xp.log(_SQRT_PI * asymptotic), 0.25))
    y = xp.where(t > 1e-12, giles, asymptotic)
    y = xp.where(xp.isfinite(y), y, 1.0)
    for _ in range(4):
        scaled = _erfcx_array(xp, y)
        y = y + (-y * y + xp.log(scaled) - log_t) * (_SQRT_PI / 2) * scaled
    return xp.where(t == 0, t.dtype.type(xp.inf), y)


def _erfinv_array(xp: Any, x: Any) -> Any:
    """erfinv(x) for -1 ≤ x ≤ 1 (±inf at ±1, NaN outside)."""
    a = xp.abs(x)
    y = _where_split(xp, a <= 0.5, a, lambda small: _erfinv_small(xp, small),
                     lambda large: _erfcinv_tail(xp, 1 - xp.maximum(large, 0.5)))
    y = xp.where(a > 1, x.dtype.type(xp.nan), y)
    return xp.copysign(y, x).astype(x.dtype, copy=False)   # erfinv(-0.0) = -0.0, as PyTorch's


def _erfcinv_array(xp: Any, t: Any) -> Any:
    """erfcinv(t) for 0 ≤ t ≤ 2: the tails from t (or 2 - t) directly, so a tiny t keeps its digits."""
    def low(s: Any) -> Any:
        return _erfcinv_tail(xp, xp.clip(s, 0, 0.5))

    def rest(s: Any) -> Any:
        return _where_split(xp, s >= 1.5, s, lambda u: -_erfcinv_tail(xp, xp.clip(2 - u, 0, 0.5)),
                            lambda u: _erfinv_small(xp, xp.clip(xp.abs(1 - u), 0, 0.5)) * xp.sign(1 - u))

    out = _where_split(xp, t <= 0.5, t, low, rest)
    return xp.where((t < 0) | (t > 2), t.dtype.type(xp.nan), out)


def _ndtri_array(xp: Any, p: Any) -> Any:
    """The standard normal quantile Φ⁻¹(p) = -√2 erfcinv(2p), from whichever tail is nearer."""
    out = _where_split(xp, p <= 0.5, p, lambda q: -_SQRT_2 * _erfcinv_array(xp, xp.minimum(2 * q, 1.0)),
                       lambda q: _SQRT_2 * _erfcinv_array(xp, xp.minimum(2 * (1 - q), 1.0)))
    return xp.where((p < 0) | (p > 1), p.dtype.type(xp.nan), out).astype(p.dtype, copy=False)


def _ndtr_array(xp: Any, x: Any) -> Any:
    """Φ(x) = erfc(-x/√2) / 2: in the tails exp(-x²/2) · erfcx(|x|/√2) / 2 from x itself (x/√2 rounds)."""
    def tail(u: Any) -> Any:
        a = xp.maximum(xp.abs(u), _SQRT_2)
        return _exp_square(xp, a, -0.5) * _erfcx_array(xp, a / _SQRT_2) / 2

    def rest(u: Any) -> Any:
        return _where_split(xp, u > _SQRT_2, u, lambda v: 1 - tail(v),
                            lambda v: (1 + _erf_array(xp, xp.clip(v, -_SQRT_2, _SQRT_2) / _SQRT_2)) / 2)

    return _where_split(xp, x < -_SQRT_2, x, tail, rest)


def _log_ndtr_array(xp: Any, x: Any) -> Any:
    """log Φ(x): log(erfcx(-x/√2) / 2) - x²/2 below -1 (no underflow), log1p(-Φ(-x)) above (PyTorch's)."""
    def left(u: Any) -> Any:
        u = xp.minimum(u, -1.0)
        return xp.log(_erfcx_array(xp, -u / _SQRT_2) / 2) - u * u / 2

    return _where_split(xp, x < -1, x, left, lambda u: xp.log1p(-_ndtr_array(xp, -xp.maximum(u, -1.0))))


def _log_ndtr_derivative(xp: Any, x: Any, y: Any) -> Any:
    """φ(x) / Φ(x), as √(2/π) / erfcx(-x/√2) below -1 (exp(-x²/2 - y) would cancel)."""
    left = xp.minimum(x, -1.0) / _SQRT_2
    scaled = _where_split(xp, x < -1, left, lambda u: _erfcx_array(xp, -u), xp.ones_like)
    return xp.where(x < -1, math.sqrt(2 / math.pi) / scaled, xp.exp(-x * x / 2 - y) / math.sqrt(2 * math.pi))


def _in_float64(function: Any) -> Any:
    """``function(xp, a)`` computed in float64 and returned in ``a``'s dtype (for float32, whose own arithmetic
    loses digits in the Newton steps and cancellations of these functions)."""
    def wrapped(xp: Any, a: Any) -> Any:
        if a.dtype == xp.float64:
            return function(xp, a)
        return function(xp, a.astype(xp.float64)).astype(a.dtype)
    return wrapped


def _erfcx_derivative(xp: Any, x: Any, y: Any) -> Any:
    """2x · erfcx(x) - 2/√π, in float64; from x = 10 on, where the two terms cancel (to 1e-6 of each other at
    x = 700: float32 gave 14% error), its asymptotic series (2/√π) Σ_{k≥1} (-1)^k (2k-1)!! / (2x²)^k."""
    x64 = x.astype(xp.float64)
    y64 = y if y.dtype == xp.float64 else _erfcx_array(xp, x64)
    direct = 2 * x64 * y64 - 2 / _SQRT_PI
    w = 1 / (2 * xp.maximum(x64, 10.0) ** 2)
    term, series = xp.ones_like(w), xp.zeros_like(w)
    for k in range(1, 17):   # at x = 10 the 16th term is 6e-18 of the first
        term = term * -(2 * k - 1) * w
        series = series + term
    return xp.where(x64 >= 10, (2 / _SQRT_PI) * series, direct).astype(x.dtype, copy=False)


def erfinv(input: Tensor) -> Tensor:  # noqa: A002 - PyTorch's name
    """The inverse error function (torch.erfinv): erf(erfinv(x)) = x for -1 ≤ x ≤ 1, ±inf at ±1, NaN
    outside; gradient √π/2 · exp(erfinv(x)²). Any shape."""
    return Unary("erfinv", _erfinv_array, _erfinv_derivative)(_floating(input, "erfinv"))


def _erfinv_derivative(xp: Any, x: Any, y: Any) -> Any:
    """√π/2 · exp(erfinv(x)²), erfinv recomputed from x as PyTorch's, which saves only x: the result changed in
    place before backward is not refused."""
    again = _erfinv_array(xp, x)
    return (_SQRT_PI / 2) * xp.exp(again * again)


def erfcx(input: Tensor) -> Tensor:  # noqa: A002 - PyTorch's name
    """The scaled complementary error function exp(x²) · erfc(x) (torch.special.erfcx), without
    overflow for large x; gradient 2x · erfcx(x) - 2/√π (its asymptotic series for x ≥ 10). Any shape."""
    return Unary("erfcx", _erfcx_array, _erfcx_derivative)(_floating(input, "erfcx"))


def ndtr(input: Tensor) -> Tensor:  # noqa: A002 - PyTorch's name
    """The standard normal CDF Φ(x) = erfc(-x/√2) / 2 (torch.special.ndtr), exact in both tails;
    gradient the density φ(x). Any shape."""
    return Unary("ndtr", _ndtr_array, lambda xp, a, y: _exp_square(xp, a, -0.5) / math.sqrt(2 * math.pi))(
        _floating(input, "ndtr"))


def _ndtri_derivative(xp: Any, p: Any, y: Any) -> Any:
    """√(2π) · exp(y²/2), y = ndtri(p) in float64 (recomputed for float32: its rounded y put y·ulp(y)/2, 5e-6 at
    p = 1e-20, into exp(y²/2), as in PyTorch's)."""
    y64 = y if y.dtype == xp.float64 else _ndtri_array(xp, p.astype(xp.float64))
    return (math.sqrt(2 * math.pi) * xp.exp(y64 * y64 / 2)).astype(y.dtype, copy=False)


def ndtri(input: Tensor) -> Tensor:  # noqa: A002 - PyTorch's name
    """The standard normal quantile Φ⁻¹(p) (torch.special.ndtri): ∓inf at 0 and 1, NaN outside [0, 1];
    gradient √(2π) · exp(ndtri(p)² / 2). Any shape; float32 is computed in float64 (its own Newton steps were
    5e-4 off at p = 1e-12)."""
    return Unary("ndtri", _in_float64(_ndtri_array), _ndtri_derivative, keeps_input=False)(_floating(input, "ndtri"))


def log_ndtr(input: Tensor) -> Tensor:  # noqa: A002 - PyTorch's name
    """log Φ(x), the log of the standard normal CDF (torch.special.log_ndtr), finite far into the left
    tail; gradient φ(x)/Φ(x). Any shape."""
    return Unary("log_ndtr", _log_ndtr_array, _log_ndtr_derivative)(_floating(input, "log_ndtr"))


# --- modified Bessel functions of the first kind, orders 0 and 1 ------------------------------------------

def _negligible(xp: Any, term: Any, total: Any) -> bool:
    """Whether every (non-negative) ``term`` is below half an ulp of its positive ``total`` (adding it, or any
    smaller term, leaves ``total``'s bits as they are), so a series of shrinking terms may stop."""
    return bool(xp.all(term <= total * (float(xp.finfo(total.dtype).eps) / 4)))


def _bessel_array(xp: Any, order: int, x: Any, scaled: bool) -> Any:
    """I_order(x) (times exp(-|x|) when ``scaled``): the power series Σ (x/2)^(2k+ν) / (k! (k+ν)!) for
    |x| ≤ 30 (positive terms), the asymptotic series e^|x| / √(2π|x|) · Σ (-1)^k a_k(ν) / |x|^k beyond."""
    def series(near: Any) -> Any:
        quarter = near * near / 4
        term = xp.ones_like(near) if order == 0 else near / 2
        total = term
        # a series stops early on the host only: its test would read values back from a GPU (all terms there)
        largest = float(quarter.max()) if quarter.size and xp is backend.numpy else math.inf
        for k in range(1, 64):
            term = term * quarter / (k * (k + order))
            total = total + term
            if k * (k + order) > largest and k % 4 == 0 and _negligible(xp, term, total):
                break   # the terms only shrink from here
        return total * xp.exp(-near) if scaled else total

    def asymptotic(far: Any) -> Any:
        term = xp.ones_like(far)
        expansion = term
        for k in range(1, 20):
            term = term * -(4 * order * order - (2 * k - 1) ** 2) / (8 * k * far)
            expansion = expansion + term
        expansion = expansion / (math.sqrt(2 * math.pi) * xp.sqrt(far))   # 2π·far overflows at the largest floats
        return expansion if scaled else expansion * xp.exp(far)

    a = xp.abs(x)
    out = _where_split(xp, a <= 30, a, series, asymptotic)   # each on its own elements only
    if order == 1:
        out = xp.sign(x) * out   # I_1 is odd
    return out.astype(x.dtype, copy=False)


def _scaled_gap(xp: Any, x: Any) -> Any:
    """(I_0(|x|) - I_1(|x|)) · exp(-|x|) in float64, without subtracting i0e from i1e: the two agree to 1/(2|x|)
    of their size, and the difference lost that many digits (float32's i0e gradient was 3e-4 off at x = 1000,
    0 instead of -2e-16 at 1e10). Power series of the difference up to 30, the difference of the two asymptotic
    series beyond (their first terms are equal)."""
    def series(near: Any) -> Any:
        quarter = near * near / 4
        even, odd = xp.ones_like(near), near / 2
        total = even - odd
        # a series stops early on the host only: its test would read values back from a GPU (all terms there)
        largest = float(quarter.max()) if quarter.size and xp is backend.numpy else math.inf
        for k in range(1, 64):
            even = even * quarter / (k * k)
            odd = odd * quarter / (k * (k + 1))
            total = total + (even - odd)
            if k * k > largest and k % 4 == 0 and _negligible(xp, xp.maximum(even, odd), total):
                break   # both terms only shrink from here
        return total * xp.exp(-near)

    def asymptotic(far: Any) -> Any:
        term0, term1 = xp.ones_like(far), xp.ones_like(far)
        gap = xp.zeros_like(far)
        for k in range(1, 20):
            term0 = term0 * (2 * k - 1) ** 2 / (8 * k * far)
            term1 = term1 * -(4 - (2 * k - 1) ** 2) / (8 * k * far)
            gap = gap + (term0 - term1)
        return gap / (math.sqrt(2 * math.pi) * xp.sqrt(far))

    a = xp.abs(x.astype(xp.float64))
    return _where_split(xp, a <= 30, a, series, asymptotic)


def _i0e_derivative(xp: Any, x: Any, y: Any) -> Any:
    return (-xp.sign(x) * _scaled_gap(xp, x)).astype(x.dtype, copy=False)   # i1e(x) - sgn(x) i0e(x)


def _i1_derivative(xp: Any, x: Any, y: Any) -> Any:
    # i1(x)/x is ½ below |x| = 1e-20 (to 1e-41), and y/x is not: y = x/2 rounds to 0 or x at a subnormal x
    tiny = xp.abs(x) < 1e-20
    return xp.where(tiny, x.dtype.type(0.5), _bessel_array(xp, 0, x, False) - y / xp.where(tiny, 1, x))


def _i1e_derivative(xp: Any, x: Any, y: Any) -> Any:
    # i0e(x) - i1e(x) (sgn x + 1/x) = gap(|x|) - i1e(|x|)/|x|; y/x, not y · (1/x), which overflows at a subnormal x;
    # ½ below |x| = 1e-20, where i1e(x) = x/2 rounds (as in _i1_derivative)
    tiny = xp.abs(x) < 1e-20
    safe = xp.where(tiny, 1, x).astype(xp.float64)
    slope = _scaled_gap(xp, x) - _bessel_array(xp, 1, safe, True) / safe   # i1e in float64: y's rounding, doubled
    return xp.where(tiny, 0.5, slope).astype(x.dtype, copy=False)


def i0(input: Tensor) -> Tensor:  # noqa: A002 - PyTorch's name
    """The modified Bessel function of the first kind of order 0 (torch.i0 / special.i0); gradient i1(x)."""
    return Unary("i0", lambda xp, a: _bessel_array(xp, 0, a, False),
                 lambda xp, a, y: _bessel_array(xp, 1, a, False))(_floating(input, "i0"))


def i0e(input: Tensor) -> Tensor:  # noqa: A002 - PyTorch's name
    """exp(-|x|) · i0(x), without overflow (torch.special.i0e); gradient i1e(x) - sgn(x) · i0e(x)."""
    return Unary("i0e", lambda xp, a: _bessel_array(xp, 0, a, True),
                 _i0e_derivative)(_floating(input, "i0e"))


def i1(input: Tensor) -> Tensor:  # noqa: A002 - PyTorch's name
    """The modified Bessel function of the first kind of order 1 (torch.special.i1); gradient
    i0(x) - i1(x)/x (½ at 0)."""
    return Unary("i1", lambda xp, a: _bessel_array(xp, 1, a, False), _i1_derivative)(_floating(input, "i1"))


def i1e(input: Tensor) -> Tensor:  # noqa: A002 - PyTorch's name
    """exp(-|x|) · i1(x), without overflow (torch.special.i1e); gradient i0e(x) - i1e(x)(sgn(x) + 1/x)."""
    return Unary("i1e", lambda xp, a: _bessel_array(xp, 1, a, True), _i1e_derivative)(_floating(input, "i1e"))


# --- the entropy terms x·log1p(y) and -x log x -----------------------------------------------------------

def _xlog1py(xp: Any, x: Any, y: Any) -> Any:
    out = x * xp.log1p(y)
    out = xp.where(x == 0, out.dtype.type(0), out)
    return xp.where(xp.isnan(y), out.dtype.type(xp.nan), out)   # NaN y wins even over x == 0, as in PyTorch


def _xlog1py_grads(xp: Any, gy: Any, x: Any, y: Any, out: Any) -> tuple:
    # PyTorch's: xlog1py(gy, y), but 0 where x == 0 and y <= -1; gy * x / (1 + y)
    return xp.where((x == 0) & (y <= -1), gy.dtype.type(0), _xlog1py(xp, gy, y)), gy * x / (1 + y)


def xlog1py(input: Any, other: Any) -> Tensor:  # noqa: A002 - PyTorch's name
    """``x * log1p(y)`` (x = ``input``, y = ``other``), 0 where x == 0, NaN where y is NaN
    (torch.special.xlog1py), broadcast; gradients log1p(y) (0 where x == 0 and y <= -1) and x / (1 + y)."""
    x, y = _operands(input, other, "xlog1py")
    _real_floating(x, y, name="xlog1py")   # PyTorch has no complex xlog1py (NumPy would compute one)
    return Binary("xlog1py", _xlog1py, _xlog1py_grads)(x, y)


def _entr(xp: Any, x: Any) -> Any:
    out = -x * xp.log(xp.where(x > 0, x, 1))
    out = xp.where(x == 0, x.dtype.type(0), out)
    return xp.where(x < 0, x.dtype.type(-xp.inf), out)   # NaN stays NaN


def entr(input: Tensor) -> Tensor:  # noqa: A002 - PyTorch's name
    """-x log x elementwise, 0 at 0, -inf below 0 (torch.special.entr); gradient -(1 + log x). Any shape."""
    return Unary("entr", _entr, lambda xp, a, y: -(1 + xp.log(a)))(_floating(input, "entr"))
