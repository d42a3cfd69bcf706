"""The gamma function's relatives, from array ops only (NumPy has no ``lgamma``; scipy is not a
dependency; the same code runs on CuPy): ``lgamma``, ``digamma``, ``polygamma``, ``mvlgamma``, the
Hurwitz ``zeta``, the regularized incomplete gamma functions ``gammainc``/``gammaincc``, and the gamma,
Poisson and binomial samplers the distributions draw from (``standard_gamma`` is reparameterised).

Every function takes a tensor of any shape and gives that shape (two inputs broadcast); integer and
bool tensors become float32, as PyTorch's. Accuracy in float64, against mpmath: ``lgamma`` about 4e-15
relative for x > 0 (its zeros at 1 and 2 included), 1e-13 near its zeros below 0; ``digamma`` 1e-15
absolute (so relative, except near its zero at 1.4616); ``polygamma(n ≥ 1)`` and ``zeta`` 1e-15
relative; ``gammainc`` 1e-12 and the gamma sample's gradient 1e-13 relative.

How they are computed (each is a few lines below):

* ``lgamma``: a Taylor series about 2 for 0 < x < 3.5 (shifted there by lgamma(x+1) = lgamma(x) +
  log x), Stirling's series beyond 10 (shifted up from 3.5), the reflection formula below 0.
* ``digamma``/``polygamma``: shifted up to ≥ 10 + n, then the Euler–Maclaurin tail of the Hurwitz
  zeta function ζ(n+1, x) (for n = 0 the asymptotic series of ψ); reflection below 0.
* ``gammainc`` and the sampler's gradient: P(a, x)'s power series below x = a + 1, Q(a, x)'s
  continued fraction above, each carried with its derivative in a; ``gammainc`` at a ≥ 1000 with
  |x/a - 1| ≤ 0.3 from Temme's uniform expansion instead (the two above take ~8√a terms there).
"""

from __future__ import annotations

import math
from typing import Any

from .. import backend, generators
from ..arguments import ShapeMismatchError
from ..autograd import Function, LazyGradient
from ..autograd.names import spelled
from ..constructors import SampleDtypeError
from ..tensor import Tensor
from ._kernels import where_split
from ._util import DtypeMismatchError, DtypeNotImplementedError, int_arg, note_random_op, sum_to, tensor_arg
from .math import Unary, _real_floating
from .math import _floating as _any_floating
from .random import _broadcast_shape, _drawn, _zero_gradient
from .shape import contiguous
from .special import _operands
from .special_functions import _erfcx_array

__all__ = ["lgamma", "digamma", "polygamma", "mvlgamma", "zeta", "gammainc", "gammaincc", "standard_gamma", "poisson",
           "binomial"]

EULER = 0.57721566490153286061
_LOG_PI = math.log(math.pi)
_HALF_LOG_2PI = 0.5 * math.log(2 * math.pi)

# B_2, B_4, ..., B_20 (Bernoulli numbers)
_BERNOULLI = (1 / 6, -1 / 30, 1 / 42, -1 / 30, 5 / 66, -691 / 2730, 7 / 6, -3617 / 510, 43867 / 798,
              -174611 / 330)


def _floating(input: Any, name: str) -> Tensor:  # noqa: A002
    """``input`` as a float Tensor (integers and bools: the default float dtype); complex refused, as PyTorch's."""
    x = _any_floating(input, name)
    _real_floating(x, name=name)
    return x


def _zeta_minus_one(k: int) -> float:
    """ζ(k) - 1 = Σ_{n≥2} n^-k for an integer k ≥ 2, in Python floats (Euler–Maclaurin from n = 20)."""
    start = 20.0
    total = math.fsum(n ** -k for n in range(2, 20)) + start ** (1 - k) / (k - 1) + start ** -k / 2
    rising = float(k)   # k (k+1) … (k + 2j - 2)
    for j, b in enumerate(_BERNOULLI, start=1):
        total += b / math.factorial(2 * j) * rising * start ** (-k - 2 * j + 1)
        rising *= (k + 2 * j - 1) * (k + 2 * j)
    return total


# lgamma(2 + z) = (1 - γ) z + Σ_{k≥2} (-1)^k (ζ(k) - 1) / k · z^k, for |z| ≤ 1/2 (terms fall as 4^-k)
_SERIES_AT_2 = (1 - EULER,) + tuple((-1) ** k * _zeta_minus_one(k) / k for k in range(2, 32))


def _series_at_2(xp: Any, z: Any) -> Any:
    """lgamma(2 + z) for |z| ≤ 1/2: relative accuracy near the zero at z = 0 (and at z = -1 after a shift)."""
    total = xp.zeros_like(z)
    for c in reversed(_SERIES_AT_2):
        total = (total + c) * z
    return total


def _stirling_tail(xp: Any, z: Any) -> Any:
    """lgamma(z) - ((z - ½) log z - z + ½ log 2π) = Σ_k B_2k / (2k (2k-1) z^(2k-1)), for z ≥ 10."""
    w = 1 / (z * z)
    total = xp.zeros_like(z)
    for k in range(8, 0, -1):
        total = total * w + _BERNOULLI[k - 1] / (2 * k * (2 * k - 1))
    return total / z


def _stirling(xp: Any, z: Any) -> Any:
    """lgamma(z) for z ≥ 10: (z - ½) log z - z + ½ log 2π + Σ_k B_2k / (2k (2k-1) z^(2k-1))."""
    return (z - 0.5) * xp.log(z) - z + _HALF_LOG_2PI + _stirling_tail(xp, z)


def _lgamma_positive(xp: Any, y: Any) -> Any:
    """lgamma(y) for y > 0 (NaN passes through); each of the two formulas on its own elements only."""
    def near(v: Any) -> Any:
        # 0 < y < 3.5: lgamma(y) = lgamma(2 + z) - (log y + log(y + 1)), - log y, 0, or + log(y - 1)
        r1, r2, r3 = v < 0.5, v < 1.5, v < 2.5
        z = xp.where(r1, v, xp.where(r2, v - 1, xp.where(r3, v - 2, v - 3)))
        shift = xp.where(r1, -xp.log(v) - xp.log1p(v), xp.where(r2, -xp.log1p(v - 1), xp.where(
            r3, v.dtype.type(0), xp.log(xp.maximum(v - 1, 1)))))
        return _series_at_2(xp, xp.clip(z, -0.5, 0.5)) + shift

    def far(v: Any) -> Any:
        # y ≥ 3.5: lgamma(y) = lgamma(y + n) - log(y (y+1) … (y+n-1)) with y + n ≥ 10
        v = xp.maximum(v, 3.5)
        product = xp.ones_like(v)
        for _ in range(7):
            low = v < 10
            product = xp.where(low, product * v, product)
            v = xp.where(low, v + 1, v)
        return _stirling(xp, v) - xp.log(product)

    out = where_split(xp, y < 3.5, near, far, y)
    return xp.where(y == xp.inf, y.dtype.type(xp.inf), out)


def _sin_pi(xp: Any, x: Any) -> tuple:
    """(sin(πx), cos(πx)) with x reduced exactly to [-½, ½] first, so sin(π·n) and cos(π·(n + ½)) are exactly 0
    (cos(πr) as sin(π(½ - |r|)): ``cos(π/2)`` is 6e-17, which cost the even polygammas at the negative
    half-integers up to 1e-5 of their value in float64 and everything in float32)."""
    r = x - xp.round(x)
    odd = (xp.round(x) % 2) != 0
    sign = xp.where(odd, x.dtype.type(-1), x.dtype.type(1))
    return sign * xp.sin(math.pi * r), sign * xp.sin(math.pi * (0.5 - xp.abs(r)))


def _lgamma_array(xp: Any, x: Any) -> Any:
    """log|Γ(x)| elementwise; +inf at 0, the negative integers and ±inf. Narrower floats are computed in
    float64: near lgamma's zeros (x = 1, 2 and one in each (-n-1, -n)) the reflection and the shifts cancel,
    and float32 arithmetic lost up to 1e-2 of the value there (torch's float32 lgamma: ~1e-5)."""
    if x.dtype != xp.float64:
        return _lgamma_array(xp, x.astype(xp.float64)).astype(x.dtype)
    def reflected(v: Any) -> Any:
        # reflection: lgamma(x) = log π - log|sin πx| - lgamma(1 - x); poles (sin πx = 0): inf
        sine, _ = _sin_pi(xp, v)
        return xp.where(sine == 0, xp.inf, _LOG_PI - xp.log(xp.abs(sine)) - _lgamma_positive(xp, 1 - v))

    def shifted(v: Any) -> Any:
        # -½ < x < 0: lgamma(x) = lgamma(1 + x) - log(-x) (sin πx is subnormal at a subnormal x: 3.5e-9 off)
        return _lgamma_positive(xp, 1 + v) - xp.log(-v)

    def nonpositive(v: Any) -> Any:
        return where_split(xp, v > -0.5, shifted, reflected, v)

    # each formula on its own elements only
    out = where_split(xp, x > 0, lambda v: _lgamma_positive(xp, v), nonpositive, x)
    return xp.where(xp.isinf(x), x.dtype.type(xp.inf), out).astype(x.dtype, copy=False)


def _cot_derivative_polynomial(n: int) -> list:
    """Coefficients (lowest first) of P_n with dⁿ/dxⁿ cot(πx) = πⁿ P_n(cot πx): P_0 = c, P_{k+1} = -(1 + c²) P_k'."""
    poly = [0, 1]
    for _ in range(n):
        derivative = [i * poly[i] for i in range(1, len(poly))] or [0]
        out = [0] * (len(derivative) + 2)
        for i, c in enumerate(derivative):
            out[i] -= c
            out[i + 2] -= c
        poly = out
    return poly


def _hurwitz_zeta(xp: Any, s: Any, q: Any, terms: int) -> Any:
    """ζ(s, q) = Σ_{k≥0} (q + k)^-s for s > 1 (an int, or an array broadcast with q), summing the first
    terms until q + k ≥ 10 + s (``terms`` bounds how many that takes) and the rest by Euler–Maclaurin with
    10 Bernoulli terms. +inf where q + k = 0."""
    steps = xp.maximum(xp.ceil(10 + s - q), 0)
    total = xp.zeros_like(q + s)
    for k in range(terms):
        total = total + xp.where(k < steps, (q + k) ** -s, 0)
    a = q + steps
    power = a ** -s
    tail = a ** (1 - s) / (s - 1) + power / 2   # not a · a^-s: a^-s underflows first (ψ'(1e300) = 1e-300 gave 0)
    rising = s * 1.0   # s (s+1) … (s + 2j - 2)
    inverse_square = 1 / (a * a)
    power = power / a   # a^(-s-1)
    for j, b in enumerate(_BERNOULLI, start=1):
        tail = tail + (b / math.factorial(2 * j)) * rising * power
        power = power * inverse_square
        rising = rising * (s + 2 * j - 1) * (s + 2 * j)
    return total + tail


def _digamma_positive(xp: Any, q: Any) -> Any:
    """ψ(q) for q > 0 (-inf at 0): shifted up to ≥ 10, then log a - 1/(2a) - Σ B_2k / (2k a^2k)."""
    steps = xp.maximum(xp.ceil(10 - q), 0)
    total = xp.zeros_like(q)
    for k in range(11):
        total = total + xp.where(k < steps, 1 / (q + k), 0)
    a = q + steps
    w = 1 / (a * a)
    series = xp.zeros_like(q)
    for k in range(len(_BERNOULLI), 0, -1):
        series = (series + _BERNOULLI[k - 1] / (2 * k)) * w
    return xp.log(a) - 0.5 / a - series - total


def _polygamma_array(xp: Any, n: int, x: Any) -> Any:
    """ψ⁽ⁿ⁾(x) elementwise, PyTorch's values at the poles: ψ(±0) = ∓inf, NaN at the negative integers;
    for n ≥ 1, (-1)^(n+1) · inf at 0 and the negative integers, and 0 at +inf (PyTorch: 0 for n = 1, NaN for
    n ≥ 2). NaN at -inf for every n (PyTorch: NaN for n ≤ 1, ±inf for n ≥ 2, as if it were a pole). Narrower
    floats are computed in float64: for x < 0 the reflection cancels, and float32 arithmetic gave ψ⁽²⁾(-171.5)
    8% off and ψ⁽⁴⁾(-171.5) with the wrong sign."""
    if x.dtype != xp.float64:
        return _polygamma_array(xp, n, x.astype(xp.float64)).astype(x.dtype)
    q = xp.where(x < 0, 1 - x, x)
    sine, cosine = _sin_pi(xp, x)
    cot = cosine / sine
    pole = (x <= 0) & (x - xp.floor(x) == 0)   # not -inf: there ψ⁽ⁿ⁾ has no limit (NaN, from the reflection)
    if n == 0:
        value = _digamma_positive(xp, q)
        out = xp.where(x < 0, value - math.pi * cot, value)   # ψ(x) = ψ(1 - x) - π cot πx
        out = xp.where(pole, x.dtype.type(xp.nan), out)
        return xp.where(x == 0, xp.copysign(x.dtype.type(xp.inf), -x), out).astype(x.dtype, copy=False)
    value = ((-1) ** (n + 1) * math.factorial(n)) * _hurwitz_zeta(xp, n + 1, q, 12 + n)
    # ψ⁽ⁿ⁾(x) = (-1)ⁿ ψ⁽ⁿ⁾(1 - x) - π^(n+1) P_n(cot πx)
    poly = xp.zeros_like(x)
    for c in reversed(_cot_derivative_polynomial(n)):
        poly = poly * cot + c
    out = xp.where(x < 0, (-1) ** n * value - math.pi ** (n + 1) * poly, value)
    # -1e-3 < x < 0: ψ⁽ⁿ⁾(x) = ψ⁽ⁿ⁾(x + 1) + (-1)^(n+1) n! / x^(n+1), as cot πx overflows at a subnormal x
    # (the reflection gave inf - inf = NaN there, not ±inf)
    tiny = (x < 0) & (x > -1e-3)
    if xp is not backend.numpy or bool(tiny.any()):   # a GPU computes it: reading the mask back would sync
        shifted = _hurwitz_zeta(xp, n + 1, xp.where(tiny, x + 1, 1.0), 12 + n)
        with backend.errstate(xp, over="ignore"):
            near_zero = ((-1) ** (n + 1) * math.factorial(n)) * (shifted + xp.where(tiny, x, 1.0) ** -(n + 1))
        out = xp.where(tiny, near_zero, out)
    out = xp.where(x == xp.inf, x.dtype.type(0), out)   # the Euler–Maclaurin tail gives inf · 0 there
    return xp.where(pole, x.dtype.type(xp.inf if n % 2 else -xp.inf), out).astype(x.dtype, copy=False)


def _polygamma_as_pytorch(xp: Any, n: int, x: Any) -> Any:
    """``_polygamma_array``, but ψ'(x) at the negative integers as PyTorch's: not the pole's +inf but the
    π²/sin²(πx) of its reflection formula with πx and the sine rounded in x's dtype (float32 for float16), a
    finite 1.3e15 at -1 in float32 and 6.6e32 in float64 (so also digamma's gradient there)."""
    out = _polygamma_array(xp, n, x)
    if n != 1:
        return out
    with backend.errstate(xp, invalid="ignore"):
        pole = (x < 0) & (x - xp.floor(x) == 0)
    narrow = xp.where(pole, x, -0.5).astype(xp.float32 if x.itemsize < 4 else x.dtype)
    pi = narrow.dtype.type(math.pi)
    sine = xp.sin(pi * narrow)   # not 0: πx rounds
    with backend.errstate(xp, over="ignore"):
        return xp.where(pole, (pi * pi / (sine * sine)).astype(x.dtype), out)


def lgamma(input: Tensor) -> Tensor:  # noqa: A002 - PyTorch's name
    """log|Γ(x)| elementwise (torch.lgamma); gradient digamma(x). input: any shape → the same shape."""
    return Unary("lgamma", _lgamma_array, lambda xp, x, y: _polygamma_array(xp, 0, x))(_floating(input, "lgamma"))


def digamma(input: Tensor) -> Tensor:  # noqa: A002 - PyTorch's name
    """ψ(x) = d/dx lgamma(x) elementwise (torch.digamma); gradient polygamma(1, x). Any shape."""
    return polygamma(0, input)


def polygamma(n: int, input: Tensor) -> Tensor:  # noqa: A002 - PyTorch's name
    """ψ⁽ⁿ⁾(x), the n-th derivative of digamma, elementwise (torch.polygamma(n, x)); gradient
    polygamma(n + 1, x). n: an int ≥ 0; input: any shape → the same shape."""
    n = int_arg(n, "polygamma", "n")
    if n < 0:
        raise ShapeMismatchError(f"polygamma: n must be non-negative, got {n}")
    name = "digamma" if n == 0 else "polygamma"
    # PyTorch's node is polygamma's, n = 0 too
    return Unary(spelled(name, "PolygammaBackward0"), lambda xp, a: _polygamma_as_pytorch(xp, n, a),
                 lambda xp, a, y: _polygamma_as_pytorch(xp, n + 1, a))(_floating(input, name))


def mvlgamma(input: Tensor, p: int) -> Tensor:  # noqa: A002 - PyTorch's name
    """The multivariate log-gamma function of dimension p (torch.mvlgamma / special.multigammaln):
    p(p-1)/4 · log π + Σ_{i<p} lgamma(x - i/2), x = ``input``. Any shape. Defined for x > (p-1)/2; elsewhere
    the same sum, unchecked, as torch 2.13 computes it (inf at a pole of a term)."""
    if isinstance(input, Tensor) and input.dtype.kind == "b":
        raise RuntimeError(f"mvlgamma: the input tensor may not be a boolean tensor (got shape {input.shape}), as in "
                           "PyTorch")
    x = contiguous(_floating(input, "mvlgamma"))   # PyTorch's result is C-contiguous, whatever the input's layout
    p = int_arg(p, "mvlgamma", "p")
    if p < 1:
        raise ShapeMismatchError(f"mvlgamma: p has to be greater than or equal to 1, got {p}")
    total = lgamma(x)
    for i in range(1, p):
        total = total + lgamma(x - i / 2)
    return total + p * (p - 1) / 4 * _LOG_PI


# --- the regularized incomplete gamma functions, and the gamma sampler's gradient ------------------------

_MAX_TERMS = 100_000   # series and fraction stop once every element has converged (checked every 16 terms)


def _series_sums(xp: Any, a: Any, x: Any) -> tuple:
    """S = Σ_k x^k / ((a+1)…(a+k)) and dS/da, for x < a + 1 (terms fall from the first):
    P(a, x) = exp(a log x - x - lgamma(a + 1)) · S."""
    term, total = xp.ones_like(x), xp.ones_like(x)
    slope, total_slope = xp.zeros_like(x), xp.zeros_like(x)   # d log(term)/da, and dS/da
    k = 0
    while k < _MAX_TERMS:
        for _ in range(16):
            k += 1
            term = term * x / (a + k)
            slope = slope - 1 / (a + k)
            total = total + term
            total_slope = total_slope + term * slope
        if not bool((term > 1e-17 * total).any()):
            break
    return total, total_slope


def _fraction(xp: Any, a: Any, x: Any) -> tuple:
    """C = 1/(x+1-a - 1(1-a)/(x+3-a - 2(2-a)/(x+5-a - …))) and dC/da by the modified Lentz method carried
    with its derivative, for x ≥ a + 1: Q(a, x) = exp(a log x - x - lgamma(a)) · C."""
    b = x + 1 - a                  # db/da = -1 throughout
    c, dc = xp.full_like(x, 1e300), xp.zeros_like(x)
    d = 1 / b
    dd = d * d
    h, dh = d, dd
    i = 0
    while i < _MAX_TERMS:
        for _ in range(16):
            i += 1
            an, dan = -i * (i - a), i
            b = b + 2
            pre = an * d + b
            dpre = dan * d + an * dd - 1
            dc = -1 + dan / c - an * dc / (c * c)
            c = b + an / c
            d = 1 / pre
            dd = -dpre * d * d
            delta, ddelta = d * c, dd * c + d * dc
            dh = dh * delta + h * ddelta
            h = h * delta
        if not bool((xp.abs(delta - 1) > 4.5e-16).any()):   # within 2 ulps of 1
            break
    return h, dh


def _log1p_minus(xp: Any, mu: Any) -> Any:
    """log(1 + μ) - μ for μ > -1 without the cancellation of the two (at a = 1e20 the density's exponent
    a (log1p(μ) - μ) lost |x - a| · 1e-16 absolute): for |μ| ≤ 0.3 from t = μ / (2 + μ), as
    2 atanh(t) - μ = 2 (t³/3 + t⁵/5 + …) - 2t²/(1 - t) (|t| ≤ 0.18, 12 terms), directly beyond."""
    near = xp.clip(mu, -0.3, 0.3)
    t = near / (2 + near)
    t2 = t * t
    odd = xp.zeros_like(t)
    for k in range(13, 1, -1):
        odd = odd * t2 + 1 / (2 * k - 1)   # Σ_{k≥2} t^(2k-1) / (2k-1) = t³ · (1/3 + t²/5 + …)
    series = 2 * t * t2 * odd - 2 * t2 / (1 - t)
    return xp.where(xp.abs(mu) <= 0.3, series, xp.log1p(mu) - mu)


def _log_gamma_density(xp: Any, a: Any, x: Any, shift: int) -> Any:
    """(a - shift) log x - x - lgamma(a + 1 - shift): the log of x^a e^-x / Γ(a+1) (shift 0) or of the Gamma(a)
    density x^(a-1) e^-x / Γ(a) (shift 1). For a ≥ 10 (x > 0 finite) as a (log1p(μ) - μ) - ½ log 2πa - Stirling's
    tail + shift·log(a/x), μ = x/a - 1: the plain sum cancels terms of size a log a (at a = x = 5e6 it lost 1e-8
    of the density, at a = x = 1e20 all of it)."""
    naive = (a - shift) * xp.log(x) - x - _lgamma_array(xp, a + (1 - shift))   # not a + 1 - 1: a = 1e-30 gave Γ(0)
    big = (a >= 10) & (x > 0) & xp.isfinite(a) & xp.isfinite(x)
    a, x = xp.where(big, a, 10.0), xp.where(big, x, 10.0)
    mu = (x - a) / a
    # x < 0.7a: log(x/a) - μ, as log1p(μ) lost |log(x/a)|'s digits to 1 + μ (at a = 30, x = 1e-5, 1e-8 of P);
    # log x - log a where x/a would be subnormal
    ratio = x / a
    log_ratio = xp.where(ratio < 1e-300, xp.log(x) - xp.log(a), xp.log(xp.maximum(ratio, 1e-300)))
    exponent = xp.where(mu < -0.3, log_ratio - mu, _log1p_minus(xp, mu))
    stable = a * exponent - 0.5 * xp.log(2 * math.pi * a) - _stirling_tail(xp, a)
    return xp.where(big, stable + shift * (xp.log(a) - xp.log(x)), naive)


def _temme_coefficients(terms: int, order: int) -> tuple:
    """The Taylor coefficients in η of Temme's c_0(η) … c_{terms-1}(η) (to η^(order-1)), for the uniform
    expansion Q(a, x) = ½ erfc(η √(a/2)) + R, R ~ exp(-aη²/2) / √(2πa) Σ_k c_k(η) a^-k (Temme 1979; DLMF
    8.12), where λ = x/a and ½η² = λ - 1 - log λ, η of the sign of λ - 1. Derived here in floats:
    u = λ - 1 = Σ u_n η^n from u u' = η (1 + u); c_0 = 1/u - 1/η; c_k = (c'_{k-1} + (-1)^k g_k η/u) / η with
    g_k the coefficients of Γ*(a) = Γ(a) / (√(2π/a) (a/e)^a) = Σ g_k a^-k (the 1/η parts cancel)."""
    size = order + 2 * terms + 2
    u = [0.0, 1.0]   # (n+1) u_n = u_{n-1} - Σ_{i=2}^{n-1} (n+1-i) u_i u_{n+1-i}
    for n in range(2, size + 2):
        u.append((u[n - 1] - sum((n + 1 - i) * u[i] * u[n + 1 - i] for i in range(2, n))) / (n + 1))
    w = [1.0]        # η/u = 1 / (u/η)
    for n in range(1, size + 1):
        w.append(-sum(u[i + 1] * w[n - i] for i in range(1, n + 1)))
    stirling = [0.0] * terms   # log Γ*(a) = Σ_j B_2j / (2j (2j-1) a^(2j-1))
    for j, b in enumerate(_BERNOULLI, start=1):
        if 2 * j - 1 < terms:
            stirling[2 * j - 1] = b / (2 * j * (2 * j - 1))
    g = [1.0] + [0.0] * (terms - 1)   # exp of that series: n g_n = Σ_m m s_m g_{n-m}
    for n in range(1, terms):
        g[n] = sum(m * stirling[m] * g[n - m] for m in range(1, n + 1)) / n
    c = [w[1:]]
    for k in range(1, terms):
        previous = c[-1]
        c.append([(i + 1) * previous[i + 1] + (-1) ** k * g[k] * w[i] for i in range(1, len(previous) - 1)])
    return tuple(tuple(ck[:order]) for ck in c)


_TEMME = _temme_coefficients(12, 25)   # at a ≥ 1000, |η| ≤ 0.34: the next terms are below 1e-30 and 1e-25


def _temme(xp: Any, a: Any, x: Any) -> tuple:
    """(P(a, x), Q(a, x)) from Temme's uniform expansion, for a ≥ 1000 and |x/a - 1| ≤ 0.3, where the series
    and the fraction take ~8√a terms (none converged at a = 1e20). The smaller of the two, on η's side, is
    exp(-aη²/2) (½ erfcx(|η| √(a/2)) ± Σ_k c_k(η) a^-k / √(2πa)), so its digits survive; the other is 1 - it."""
    mu = (x - a) / a
    half_square = -_log1p_minus(xp, mu)   # ½η² = λ - 1 - log λ
    eta = xp.copysign(xp.sqrt(2 * half_square), mu)
    inverse_a = 1 / a
    series = xp.zeros_like(a)
    for ck in reversed(_TEMME):
        poly = xp.zeros_like(a)
        for d in reversed(ck):
            poly = poly * eta + d
        series = series * inverse_a + poly
    upper = mu >= 0
    rest = xp.where(upper, series, -series) / xp.sqrt(2 * math.pi * a)
    small = xp.exp(-a * half_square) * (0.5 * _erfcx_array(xp, xp.abs(eta) * xp.sqrt(a / 2)) + rest)
    return xp.where(upper, 1 - small, small), xp.where(upper, small, 1 - small)


def _incomplete_gamma(xp: Any, a: Any, x: Any) -> tuple:
    """(P(a, x), Q(a, x), dx/da) for a > 0, x > 0, where dx/da is the implicit derivative of a Gamma(a, 1)
    sample: -(∂P/∂a) / (∂P/∂x), the reparameterisation gradient of an inverse-CDF draw."""
    series = x < a + 1
    sums, sums_slope = _series_sums(xp, a, xp.where(series, x, 0))
    fraction, fraction_slope = _fraction(xp, a, xp.where(series, 2 * a + 10, x))   # far: converges at once
    log_x = xp.log(x)
    lower = xp.exp(_log_gamma_density(xp, a, x, 0)) * sums
    upper = xp.exp(_log_gamma_density(xp, a, x, 1) + log_x) * fraction
    p = xp.where(series, lower, 1 - upper)
    q = xp.where(series, 1 - lower, upper)
    slope_low = -(x / a) * (sums * (log_x - _polygamma_array(xp, 0, a + 1)) + sums_slope)
    slope_high = x * (fraction * (log_x - _polygamma_array(xp, 0, a)) + fraction_slope)
    return p, q, xp.where(series, slope_low, slope_high)


def _upper_small(xp: Any, a: Any, x: Any) -> Any:
    """Q(a, x) for x ≤ 1.1 and a ≤ about x (cephes' ``igamc_series``, PyTorch's):
    1 - x^a / Γ(a+1) - x^a / Γ(a) · Σ_{n≥1} (-x)^n / (n! (a+n)), the first difference as an expm1 and
    lgamma(1 + a) from the series about 2, so a tiny Q (tiny a) keeps its digits (1 - P lost them all:
    Q(1e-300, 1e-300) = 6.9e-298 came out 0)."""
    log_x = xp.log(x)
    total, factor = xp.zeros_like(x), xp.ones_like(x)
    for n in range(1, 40):   # x ≤ 1.1: 1.1^40 / 40! ~ 1e-46
        factor = factor * (-x / n)
        total = total + factor / (a + n)
    small = xp.minimum(a, 0.5)
    lgamma_1p = xp.where(a <= 0.5, _series_at_2(xp, small) - xp.log1p(small), _lgamma_array(xp, xp.maximum(a, 0.5) + 1))
    return -xp.expm1(a * log_x - lgamma_1p) - xp.exp(a * log_x - _lgamma_array(xp, a)) * total


def _gammainc_array(xp: Any, a: Any, x: Any, upper: bool) -> Any:
    """P(a, x) (Q with ``upper``) in float64 with PyTorch's edge values, checked in its order: NaN for x < 0 or
    a < 0; at a = 0, P = 1 (Q = 0) for x > 0, else NaN; at x = 0, P = 0 (Q = 1), even for a NaN a; at a = inf,
    P = 0 (NaN for x = inf); at x = inf, P = 1; NaN propagates otherwise."""
    a, x = xp.broadcast_arrays(a, x)
    inside = (a > 0) & (x > 0) & xp.isfinite(a) & xp.isfinite(x)
    temme = inside & (a >= 1000) & (xp.abs(x - a) <= 0.3 * a)
    use_temme = bool(temme.any())
    if use_temme:
        temme_p, temme_q = _temme(xp, xp.where(temme, a, 1000.0), xp.where(temme, x, 1000.0))
        inside = inside & ~temme   # the series and the fraction skip them
    safe_a, safe_x = xp.where(inside, a, 1.0), xp.where(inside, x, 1.0)
    p, q, _ = _incomplete_gamma(xp, safe_a, safe_x)
    value = p
    if upper:
        log_x = xp.log(safe_x)
        small = (safe_x <= 1.1) & xp.where(safe_x <= 0.5, safe_a <= -0.4 / xp.minimum(log_x, -1e-300),
                                           1.1 * safe_x >= safe_a)
        value = xp.where(small, _upper_small(xp, safe_a, xp.minimum(safe_x, 1.1)), q)
    if use_temme:
        value = xp.where(temme, temme_q if upper else temme_p, value)
    at_zero, at_inf = (1.0, 0.0) if upper else (0.0, 1.0)   # the value at x = 0, and at x = inf
    value = xp.where(xp.isnan(a) | xp.isnan(x), xp.nan, value)
    value = xp.where(xp.isinf(x), at_inf, value)
    value = xp.where(xp.isinf(a), xp.where(xp.isinf(x), xp.nan, at_zero), value)
    value = xp.where(x == 0, at_zero, value)
    value = xp.where(a == 0, xp.where(x > 0, at_inf, xp.nan), value)
    return xp.where((x < 0) | (a < 0), xp.nan, value)


class IncompleteGamma(Function):
    """P(a, x) or Q(a, x), broadcast, computed in float64 (float32 arithmetic was 7% off at a = x = 1e5); the
    gradient flows to x only (PyTorch has none for a either)."""

    def __init__(self, upper: bool) -> None:
        self.upper = upper
        self.name = "gammaincc" if upper else "gammainc"

    def forward(self, a: Any, x: Any) -> Any:
        xp = self.xp
        with backend.errstate(xp, divide="ignore", invalid="ignore", over="ignore"):
            out = _gammainc_array(xp, a.astype(xp.float64), x.astype(xp.float64), self.upper)
            out = out.astype(xp.result_type(a, x), copy=False)
        self.saved = (a, x)
        return out

    def backward(self, gy: Any) -> tuple:
        a, x = self.saved
        xp = self.xp
        a64, x64 = a.astype(xp.float64), x.astype(xp.float64)
        with backend.errstate(xp, divide="ignore", invalid="ignore", over="ignore"):
            density = xp.exp(_log_gamma_density(xp, a64, x64, 1)).astype(gy.dtype)
        gx = gy * (-density if self.upper else density)
        return (_NoGradientForA(self.name) if self.needs_grad[0] else None), sum_to(gx, x.shape)


class _NoGradientForA(LazyGradient):
    """The gradient for ``a`` that gammainc/gammaincc do not have (for ``x`` that zeta does not have: ``argument``):
    a placeholder the engine values (or adds) only where that gradient is used, raising PyTorch's
    NotImplementedError there. A pass that does not need it (``grad(y, (x,))`` or ``backward(inputs=[x])`` with
    ``a`` requiring grad too) drops it unvalued."""

    __slots__ = ("argument", "name")

    def __init__(self, name: str, argument: str = "a") -> None:
        self.name, self.argument = name, argument

    def value(self) -> Any:
        raise NotImplementedError(f"{self.name}: the derivative with respect to {self.argument} (input) is not "
                                  "implemented (as in PyTorch)")

    def __add__(self, other: Any) -> Any:
        return self   # a sum with it has no value either (a leaf that other paths reach as well)

    __radd__ = __add__




def _refuse_integers(a: Any, b: Any, name: str) -> None:
    """PyTorch has no incomplete-gamma kernel for integer or bool operands: both integers (or bools) raise its
    NotImplementedError; an integer tensor beside a float one (or a Python float) is promoted to float. Other
    operands (lists, NumPy floats) are left to :func:`_operands`."""
    kinds = [v.dtype.kind if isinstance(v, Tensor) else "i" if isinstance(v, (int, backend.numpy.integer)) else "f"
             for v in (a, b)]
    if all(kind in "biu" for kind in kinds):
        dtypes = " and ".join(str(getattr(v, "dtype", type(v).__name__)) for v in (a, b))
        raise DtypeNotImplementedError(f"{name}: not implemented for integer or bool tensors (got {dtypes}), as in "
                                       "PyTorch; convert them to a float dtype")


def gammainc(input: Any, other: Any) -> Tensor:  # noqa: A002 - PyTorch's name
    """The regularized lower incomplete gamma function P(a, x) = γ(a, x) / Γ(a), a = ``input``, x = ``other``
    (torch.special.gammainc, torch.igamma), broadcast; gradient to x only: x^(a-1) e^-x / Γ(a). A Python
    number beside a tensor takes its dtype."""
    _refuse_integers(input, other, "gammainc")
    a, x = _operands(input, other, "gammainc")
    _real_floating(a, x, name="gammainc")
    return IncompleteGamma(False)(a, x)


def gammaincc(input: Any, other: Any) -> Tensor:  # noqa: A002 - PyTorch's name
    """The regularized upper incomplete gamma function Q(a, x) = 1 - P(a, x), a = ``input``, x = ``other``
    (torch.special.gammaincc, torch.igammac), broadcast; gradient to x only. A Python number beside a tensor
    takes its dtype."""
    _refuse_integers(input, other, "gammaincc")
    a, x = _operands(input, other, "gammaincc")
    _real_floating(a, x, name="gammaincc")
    return IncompleteGamma(True)(a, x)


# --- the Hurwitz zeta function --------------------------------------------------------------------------------

def _zeta_array(xp: Any, s: Any, q: Any) -> Any:
    """ζ(s, q) in float64 with cephes' (PyTorch's) edge values, in its order: +inf at s = 1; NaN for s < 1; +inf
    at q a non-positive integer (-inf too); NaN for q < 0 with s not an integer; NaN at q = +inf; NaN
    propagates. q < 0 otherwise sums from q up. At s = +inf: 1 at q = 1, 0 for q > 1 (PyTorch: NaN), +inf
    below 1 (a term |q + k|^-inf)."""
    s, q = xp.broadcast_arrays(s, q)
    pole = (q <= 0) & (q == xp.floor(q))
    computed = xp.isfinite(q) & xp.isfinite(s) & (s > 1) & ~pole & ~((q < 0) & (s != xp.floor(s)))
    # s > 1100: the terms with q + k ≥ 2 are below 2^-1100, under float64's range and 1.5^-1100 of the first one,
    # so ζ(s, q) is the sum of the terms with q + k < 2 (the shift to q ≥ 10 + s would take s terms)
    steep = computed & (s > 1100)
    computed = computed & ~steep
    lowest = float(q[computed].min()) if bool(computed.any()) else 0.0
    largest = float(s[computed].max()) if bool(computed.any()) else 2.0
    terms = int(math.ceil(10 + max(largest, 1.0) - min(lowest, 0.0))) + 1
    steep_lowest = float(q[steep].min()) if bool(steep.any()) else 2.0
    steep_terms = int(math.ceil(2 - min(steep_lowest, 2.0))) + 1
    if max(terms, steep_terms) > 1_000_000:
        lowest, largest = (lowest, largest) if terms > 1_000_000 else (steep_lowest, float(s[steep].max()))
        raise NotImplementedError(f"zeta: s up to {largest} with q down to {lowest} needs "
                                  f"{max(terms, steep_terms)} terms of the direct sum; minigrad stops at 1,000,000")
    value = _hurwitz_zeta(xp, xp.where(computed, s, 2.0), xp.where(computed, q, 1.0), terms)
    if bool(steep.any()):
        base, power = xp.where(steep, q, 1.0), xp.where(steep, s, 2.0)
        direct = base ** -power
        for k in range(1, steep_terms):
            direct = direct + (base + k) ** -power
        value = xp.where(steep, direct, value)
    value = xp.where(s == xp.inf, xp.where(q == 1, 1.0, xp.where(q > 1, 0.0, xp.inf)), value)
    value = xp.where((q == xp.inf) | xp.isnan(s) | xp.isnan(q), xp.nan, value)
    value = xp.where((q < 0) & (s != xp.floor(s)), xp.nan, value)
    value = xp.where(pole, xp.inf, value)
    value = xp.where(s < 1, xp.nan, value)
    return xp.where(s == 1, xp.inf, value)


class Zeta(Function):
    """ζ(s, q) broadcast, computed in float64 (float32 arithmetic gave NaN where ζ underflows, ζ(1000, 10));
    the gradient flows to q (-s · ζ(s + 1, q)), not to s (as PyTorch's)."""

    name = "zeta"

    def forward(self, s: Any, q: Any) -> Any:
        xp = self.xp
        with backend.errstate(xp, divide="ignore", invalid="ignore", over="ignore"):
            out = _zeta_array(xp, s.astype(xp.float64), q.astype(xp.float64))
            out = out.astype(xp.result_type(s, q), copy=False)   # beyond float32's range: inf
        self.saved = (s, q)
        return out

    def backward(self, gy: Any) -> tuple:
        s, q = self.saved
        xp = self.xp
        s64 = s.astype(xp.float64)
        with backend.errstate(xp, divide="ignore", invalid="ignore", over="ignore"):
            gq = gy * (-s64 * _zeta_array(xp, s64 + 1, q.astype(xp.float64))).astype(gy.dtype)
        # s's gradient raises only where it is used (grad(y, q) with s requiring grad works, as PyTorch's)
        return (_NoGradientForA(self.name, "x") if self.needs_grad[0] else None), sum_to(gq, q.shape)


def zeta(input: Any, other: Any) -> Tensor:  # noqa: A002 - PyTorch's name
    """The Hurwitz zeta function ζ(x, q) = Σ_{k≥0} (q + k)^-x, x = ``input``, q = ``other``
    (torch.special.zeta), broadcast; gradient to q only. A Python number beside a tensor takes its dtype."""
    x, q = _operands(input, other, "zeta")
    _real_floating(x, q, name="zeta")
    return Zeta()(x, q)


# --- samplers ---------------------------------------------------------------------------------------------

class GammaReparameterised(Function):
    """x ~ Gamma(α, 1) drawn beforehand, passed through with the implicit gradient dx/dα to α."""

    name = "standard_gamma"

    def forward(self, alpha: Any, sample: Any) -> Any:
        self.saved = (alpha, sample)
        return sample.copy()

    def backward(self, gy: Any) -> tuple:
        alpha, sample = self.saved
        xp = self.xp
        with backend.errstate(xp, divide="ignore", invalid="ignore", over="ignore"):
            _, _, slope = _incomplete_gamma(xp, alpha.astype("float64"), sample.astype("float64"))
        return gy * slope.astype(gy.dtype, copy=False), None


class BinomialDtypeError(TypeError, ValueError):
    """binomial's count or prob of a non-float dtype: TypeError here, ValueError as PyTorch's."""


def _check_floating(x: Tensor, name: str, error: type[Exception] = TypeError) -> Tensor:
    x = tensor_arg(x, name)
    if x.dtype.kind != "f":
        raise error(f"{name}: expected a floating point tensor, got dtype {x.dtype}")
    return x


def standard_gamma(concentration: Tensor, *, generator: Any = None) -> Tensor:
    """Samples of Gamma(concentration, 1), one per element (torch._standard_gamma), drawn from the
    engine's generator (``mg.manual_seed``) and clamped to the dtype's smallest positive normal number.

    Reparameterised: the gradient to ``concentration`` is the implicit derivative of the sample,
    dx/dα = -(∂P(α, x)/∂α) / (∂P(α, x)/∂x) (P the gamma CDF), computed to ~1e-13 from P's series or
    continued fraction. concentration: any shape → the same shape and dtype.
    """
    alpha = _check_floating(concentration, "standard_gamma", SampleDtypeError)   # PyTorch: NotImplementedError
    device = alpha.device
    tiny = float(backend.numpy.finfo(alpha.dtype).tiny)
    note_random_op("standard_gamma", (alpha,))

    def make(a: Any) -> Any:
        gen = generators.drawing_from(generator, device, "standard_gamma")
        with backend.on_device(device):
            xp = backend.array_module(a)
            valid = a > 0   # PyTorch's sample of a concentration <= 0 or NaN is the tiny number below
            sample = xp.asarray(gen.standard_gamma(xp.where(valid, a, 1).astype("float64"))).astype(a.dtype)
            return xp.maximum(xp.where(valid, sample, 0), a.dtype.type(tiny))
    return GammaReparameterised()(alpha, _drawn("standard_gamma", make, (alpha,)))


# NumPy's largest Poisson rate (its counts are int64s); PyTorch gives garbage (the least int64) beyond it
_POISSON_MAX = float(2 ** 63 - 1) - 10 * (2 ** 63 - 1) ** 0.5


def poisson(input: Tensor, generator: Any = None) -> Tensor:  # noqa: A002 - PyTorch's name
    """Counts drawn from Poisson(rates), rates = ``input``, one per element, in the rates' dtype and shape
    (torch.poisson). Rates that require grad give a result that requires grad, with a zero gradient to them
    (as PyTorch's). Rates must be in [0, 9.2e18]: negative or NaN ones raise as PyTorch's, and so do larger ones
    (inf included), whose counts do not fit in int64 (PyTorch returns the least int64 there)."""
    rates = _check_floating(input, "poisson", SampleDtypeError)   # PyTorch: NotImplementedError
    device = rates.device
    note_random_op("poisson", (rates,))

    def make(lam: Any) -> Any:   # the rates checked here, so an mg.compile replay checks each call's
        if lam.size and not bool((lam >= 0).all()):
            raise ShapeMismatchError("poisson: invalid Poisson rate, expected rates to be non-negative (got a "
                                     "negative or NaN rate)")
        if lam.size and not bool((lam <= _POISSON_MAX).all()):
            raise ShapeMismatchError(f"poisson: rates above {_POISSON_MAX:.4g} (inf included) cannot be sampled: "
                                     "their counts do not fit in int64")
        gen = generators.drawing_from(generator, device, "poisson")
        with backend.on_device(device):
            return backend.array_module(lam).asarray(gen.poisson(lam.astype("float64"))).astype(lam.dtype)
    return _zero_gradient("poisson", _drawn("poisson", make, (rates,)), (rates,))


def binomial(count: Tensor, prob: Tensor, generator: Any = None) -> Tensor:
    """Successes in ``count`` trials of probability ``prob`` (broadcast together; one float dtype, as PyTorch's),
    in prob's dtype (torch.binomial). Counts must be in [0, 2**63) (PyTorch's are unchecked). Inputs that require
    grad give a result that requires grad whose backward raises, as PyTorch's (no derivative)."""
    count, prob = _check_floating(count, "binomial", BinomialDtypeError), _check_floating(prob, "binomial",
                                                                                          BinomialDtypeError)
    if count.dtype != prob.dtype:
        raise DtypeMismatchError(f"binomial: count and prob must have one dtype, got {count.dtype} and {prob.dtype}")
    if _broadcast_shape(count.shape, prob.shape) is None:
        raise ShapeMismatchError(f"binomial: count of shape {count.shape} and prob of shape {prob.shape} do not "
                                 "broadcast")
    if prob.data.size and not bool(((prob.data >= 0) & (prob.data <= 1)).all()):
        raise ValueError("binomial: prob must be in [0, 1]")
    if count.data.size and not bool((count.data >= 0).all()):
        raise ValueError("binomial: count must be non-negative")
    if count.data.size and not bool((count.data < 2.0 ** 63).all()):
        raise ShapeMismatchError("binomial: counts of 2**63 or more (inf included) cannot be sampled: they do not "
                                 "fit in int64")
    device = prob.device
    note_random_op("binomial", (count, prob))

    def make(n: Any, p: Any) -> Any:
        gen = generators.drawing_from(generator, device, "binomial")
        xp = backend.array_module(p)
        n, p = xp.broadcast_arrays(n, p)
        with backend.on_device(device):
            return xp.asarray(gen.binomial(n.astype("int64"), p.astype("float64"))).astype(prob.dtype)
    sample = _drawn("binomial", make, (count, prob))
    return _zero_gradient("binomial", sample, (count, prob), defined=False)
