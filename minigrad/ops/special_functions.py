"""The rest of ``torch.special`` beyond ``ops/special.py`` and ``ops/gamma.py``, from array ops only (the
same code runs on CuPy): the inverse error function ``erfinv``, the scaled ``erfcx``, the normal CDF
``ndtr``, its inverse ``ndtri`` and its log ``log_ndtr``, the modified Bessel functions
``i0``/``i0e``/``i1``/``i1e``, and the entropy terms ``xlog1py`` and ``entr``.

Every function takes a tensor of any shape and gives that shape (two inputs broadcast); integer and bool
tensors become float32, as PyTorch's. Accuracy in float64, against mpmath (round 23): ``erfinv`` 0.8 ulp,
``ndtri`` 2.1 ulp (down to p = 1e-300; 4 ulp below), ``erfcx``/``ndtr``/``log_ndtr`` about 3e-15 relative in
both tails, the Bessel functions 2e-15.

``erfinv`` and ``ndtri`` start from Wichura's AS241 rational approximation of Φ⁻¹ and take one Newton step on
erf(w) = |x| near 0 and on erfc(w) = 1 - |x| in the tails (its residual taken exactly from the pieces of
ops/error_function.py's erf), so no digit is lost to 1 - x; float32 is computed in float64 and rounded once, the
same bits, but on the host the pieces' index scans cost more than float64 arithmetic: float32 erfinv and ndtri
start below erf(0.84375) in float32 (one Newton step in float64) and run the core on the rest only, and float32
ndtr takes three pieces instead of seven.
"""

from __future__ import annotations

import math
from typing import Any

from .. import backend
from ..tensor import Tensor
from . import _kernels, error_function
from .math import Binary, Unary, _real_floating
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
    """exp(x²) erfc(x) in x's dtype (float32 computed in float64): exp(R/S - 0.5625)/x from x = 1.25 on (fdlibm's
    erfc exponent, ops/error_function.py: no exp(x²) to overflow), exp(x²)·erfc(x) below (erfc ≥ 0.077 there, and
    exp(x²) without x²'s rounding); +inf far left, 0 at +inf."""
    def compute(part: Any) -> Any:
        v = part.astype(xp.float64, copy=False)
        out = _kernels.pieces(xp, v, (error_function.MIDDLE, error_function.FAR), (
            lambda near: _exp_square(xp, near, 1) * error_function.erfc_unchunked(xp, near),
            lambda middle: _scaled_tail(xp, xp.maximum(middle, error_function.MIDDLE), False),
            lambda far: _scaled_tail(xp, far, True)))
        return out.astype(part.dtype, copy=False)
    return _kernels.chunked(xp, compute, x)


def _scaled_tail(xp: Any, v: Any, far: bool) -> Any:
    """erfcx(v) = exp(R/S - 0.5625)/v for v ≥ 1.25 (``far``: v ≥ 1/0.35; R/S → -0.00986 as v → inf, 1/(v√π))."""
    return xp.exp(error_function.log_scaled_tail(v, far) - 0.5625) / v


_ROOT_HALF = math.sqrt(0.5)


def _left_tail(xp: Any, u: Any, far: bool, log: bool) -> Any:
    """Φ(-u) (or its log) for u ≥ 1.25√2 from u itself: erfc(v)/2, v = u/√2, as exp(-u²/2 - 0.5625 + R/S)/(√2 u),
    u²/2 taken without rounding (x/√2's rounding put 2v² ulps, 1e-13 at u = 37, into erfc(v))."""
    ratio = error_function.log_scaled_tail(u * _ROOT_HALF, far)
    if log:
        return (-(u * u) * 0.5 - 0.5625 + ratio) - xp.log(u * _SQRT_2)
    return _left_tail_from(xp, u, ratio)


def _left_tail_from(xp: Any, u: Any, ratio: Any) -> Any:
    """Φ(-u) = exp(-u²/2 - 0.5625 + ``ratio``)/(√2 u), ``ratio`` = R/S at u/√2, u²/2 without rounding."""
    head_square, rest = _kernels.split_square(xp, u)
    head = xp.exp(head_square * -0.5 - 0.5625)
    return (head + head * xp.expm1(rest * -0.5 + ratio)) / (u * _SQRT_2)


_NDTR_MIDDLE, _NDTR_FAR = error_function.MIDDLE * _SQRT_2, error_function.FAR * _SQRT_2


def _ndtr_array(xp: Any, x: Any) -> Any:
    """Φ(x) = erfc(-x/√2) / 2 in x's dtype; the left tail from x itself. float32 (and float16, which the engine
    computes in float32) by :func:`_ndtr_float32`, in float64 and rounded once."""
    if x.dtype == xp.float32:
        return _kernels.chunked(xp, lambda part: _ndtr_float32(xp, part), x)

    def compute(part: Any) -> Any:
        v = part.astype(xp.float64, copy=False)
        out = _kernels.pieces(xp, v, (-_NDTR_FAR, -_NDTR_MIDDLE), (
            lambda far: _left_tail(xp, xp.clip(-far, _NDTR_FAR, 40.0), True, False),   # 0 from 38.5 on
            lambda left: _left_tail(xp, xp.clip(-left, _NDTR_MIDDLE, _NDTR_FAR), False, False),
            lambda rest: 0.5 * error_function.erfc_unchunked(xp, rest * -_ROOT_HALF)))
        return out.astype(part.dtype, copy=False)
    return _kernels.chunked(xp, compute, x)


def _ndtr_float32(xp: Any, v: Any) -> Any:
    """Φ(v) of a float32 ``v`` (a chunk) in float64, rounded once, in three pieces of |v| where the float64 kernel has
    seven: fdlibm's erfc(a)/2, a = -v/√2, as 0.5 + ((0.5 - a) - a·P/Q) near 0 and (1 ∓ c) ∓ m(|a|) beyond 0.84375√2,
    and from 1.25√2 on Φ from v itself on the left, 1 - erfc(|a|)/2 on the right (each tail's two R/S both run,
    chosen by ``select``). On the host each piece's index scan costs about what a float64 polynomial does: 1e6
    values 10 ms, was 18; float32 arithmetic saved 1 ms more and was 1.6 ulp off (x/√2 and m's float32 roundings)."""
    x = v.astype(xp.float64)

    def center(u: Any) -> Any:   # erfc(z)/2, z = -u/√2: 1 - erf(z) below z = ¼, 0.5 + ((0.5 - z) - z·P/Q) from ¼
        z = u * -_ROOT_HALF
        scaled = z * error_function.near_ratio(z)
        return _kernels.select(xp, z < 0.25, 1 - (z + scaled), 0.5 + ((0.5 - z) - scaled)) * 0.5

    def middle(u: Any) -> Any:   # 0.84375√2 ≤ |u| < 1.25√2: ((1 - c) - m(|u|/√2))/2 left, (1 + (c + m))/2 right
        m = error_function.middle(xp.abs(u) * _ROOT_HALF)
        return _kernels.select(xp, u < 0, (1 - error_function.ERX) - m, 1 + (error_function.ERX + m)) * 0.5

    def left(u: Any) -> Any:   # Φ(-w), w ≥ 1.25√2: 0 from w = 38.5 on
        w = xp.minimum(-u, 40.0)
        a = w * _ROOT_HALF
        ratio = _kernels.select(xp, w < _NDTR_FAR, error_function.log_scaled_tail(a, False),
                                error_function.log_scaled_tail(a, True))
        return _left_tail_from(xp, w, ratio)

    def right(u: Any) -> Any:   # 1 - erfc(a)/2, erfc(a) = exp(-a² - 0.5625 + R/S)/a ≤ 0.078; Φ rounds to 1 from 5.7
        a = xp.clip(u * _ROOT_HALF, error_function.MIDDLE, 6.0)   # NaN kept
        ratio = _kernels.select(xp, a < error_function.FAR, error_function.log_scaled_tail(a, False),
                                error_function.log_scaled_tail(a, True))
        return 1 - xp.exp(ratio - a * a - 0.5625) / (a + a)

    return _kernels.pieces(xp, xp.abs(x), (error_function.SMALL * _SQRT_2, _NDTR_MIDDLE), (
        center, middle, lambda u: _kernels.where_split(xp, u < 0, left, right, u)), x).astype(v.dtype)


def _log_ndtr_array(xp: Any, x: Any) -> Any:
    """log Φ(x) in x's dtype (float32 computed in float64): -x²/2 - 0.5625 + R/S - log(-√2 x) below -1.25√2 (no
    exp to underflow), log Φ(x) to -1, log1p(-Φ(-x)) above (PyTorch's), Φ(-x) from x itself."""
    def compute(part: Any) -> Any:
        v = part.astype(xp.float64, copy=False)
        out = _kernels.pieces(xp, v, (-_NDTR_FAR, -_NDTR_MIDDLE, -1.0, _NDTR_MIDDLE, _NDTR_FAR), (
            lambda far: _left_tail(xp, -far, True, True),
            lambda left: _left_tail(xp, xp.clip(-left, _NDTR_MIDDLE, _NDTR_FAR), False, True),
            lambda middle: xp.log(0.5 * error_function.erfc_unchunked(xp, middle * -_ROOT_HALF)),
            lambda center: xp.log1p(-0.5 * error_function.erfc_unchunked(xp, center * _ROOT_HALF)),
            # log1p(-Φ(-x)) with Φ(-x) from x itself (x/√2's rounding: 1e-13 relative at x = 37)
            lambda right: xp.log1p(-_left_tail(xp, xp.clip(right, _NDTR_MIDDLE, _NDTR_FAR), False, False)),
            lambda far_right: xp.log1p(-_left_tail(xp, xp.clip(far_right, _NDTR_FAR, 40.0), True, False))))
        return out.astype(part.dtype, copy=False)
    return _kernels.chunked(xp, compute, x)


# Wichura's AS241 ("The percentage points of the normal distribution", Applied Statistics 37, 1988), lowest degree
# first: Φ⁻¹(p) = q·A(r)/B(r), r = 0.180625 - q², q = p - ½, for |q| ≤ 0.425; else ±C(s - 1.6)/D(s - 1.6) (s ≤ 5)
# or ±E(s - 5)/F(s - 5), s = √(-log min(p, 1 - p)). About 1e-16 relative (3-4 ulp), made exact by one Newton step.
_AS241_A = (3.3871328727963666080, 1.3314166789178437745e+2, 1.9715909503065514427e+3, 1.3731693765509461125e+4,
            4.5921953931549871457e+4, 6.7265770927008700853e+4, 3.3430575583588128105e+4, 2.5090809287301226727e+3)
_AS241_B = (1.0, 4.2313330701600911252e+1, 6.8718700749205790830e+2, 5.3941960214247511077e+3,
            2.1213794301586595867e+4, 3.9307895800092710610e+4, 2.8729085735721942674e+4, 5.2264952788528545610e+3)
_AS241_C = (1.42343711074968357734, 4.63033784615654529590, 5.76949722146069140550, 3.64784832476320460504,
            1.27045825245236838258, 2.41780725177450611770e-1, 2.27238449892691845833e-2, 7.74545014278341407640e-4)
_AS241_D = (1.0, 2.05319162663775882187, 1.67638483018380384940, 6.89767334985100004550e-1,
            1.48103976427480074590e-1, 1.51986665636164571966e-2, 5.47593808499534494600e-4, 1.05075007164441684324e-9)
_AS241_E = (6.65790464350110377720, 5.46378491116411436990, 1.78482653991729133580, 2.96560571828504891230e-1,
            2.65321895265761230930e-2, 1.24266094738807843860e-3, 2.71155556874348757815e-5, 2.01033439929228813265e-7)
_AS241_F = (1.0, 5.99832206555887937690e-1, 1.36929880922735805310e-1, 1.48753612908506148525e-2,
            7.86869131145613259100e-4, 1.84631831751005468180e-5, 1.42151175831644588870e-7, 2.04426310338993978564e-15)
_FAR_TAIL = math.exp(-25.0)   # AS241's third piece: s > 5
# the Newton step's residual by w's erf pieces: r = erfc(w)/2 at w = 0.84375 and at w = 1.25
_NEAR, _MIDDLE = 0.11638716938382919, 0.038549935871770885


def _rational(x: Any, top: tuple, bottom: tuple) -> Any:
    return error_function.polynomial(x, top) / error_function.polynomial(x, bottom)


def _inverse_erf_core(xp: Any, a: Any, r: Any, exact_a: bool) -> Any:
    """w ≥ 0 with erf(w) = a, equivalently erfc(w) = 2r, for 0 ≤ a ≤ 1 and r = (1 - a)/2 (float64 arrays of one
    shape; r exact, a exact where a < ½, or everywhere with ``exact_a``): AS241's Φ⁻¹((1 + a)/2)/√2, then one
    Newton step, on erf(w) = a where w < 0.84375 (its residual erf(w) - a taken exactly), on erfc(w) = 2r beyond,
    where 2r keeps the digits a has lost. +inf at r = 0, NaN for r < 0 or NaN."""
    def central(aa: Any) -> Any:   # q·A(r)/B(r)/√2 with q = a/2, r = 0.180625 - q² (a/2 would underflow at 5e-324)
        return aa * _rational(0.180625 - 0.25 * (aa * aa), _AS241_A, _AS241_B) / (2 * _SQRT_2)

    def near(aa: Any, rr: Any) -> Any:
        # w < 0.84375: erf(w) = w + w·R(w²), and erf(w) - a is taken exactly: (w - a) + w·R where a is exact,
        # else (w - 1) + w·R + 2r with w - 1's rounding error added back (erf's own 0.6 ulp put 1.4 ulp into w)
        w = central(aa)
        scaled = w * error_function.near_ratio(w)
        if exact_a:   # erfinv's a = |x|
            return newton(w, (w - aa) + scaled)
        head = w - 1
        low = w - (head + 1)
        return newton(w, _kernels.select(xp, aa < 0.5, (w - aa) + scaled, ((head + scaled) + 2 * rr) + low))

    def middle(w: Any, rr: Any) -> Any:
        # 0.84375 ≤ w < 1.25: erf(w) = c + m(w), c of 24 bits, so erf(w) - a = m(w) - ((1 - c) - 2r), exactly
        return newton(w, error_function.middle(w) - ((1 - error_function.ERX) - 2 * rr))

    def newton(w: Any, residual: Any) -> Any:   # residual: erf(w) - a = 2r - erfc(w)
        return w - residual * (_SQRT_PI / 2) * xp.exp(w * w)

    def tail(rr: Any, far: bool) -> Any:
        s = xp.sqrt(-xp.log(rr))
        return (_rational(s - 5, _AS241_E, _AS241_F) if far else _rational(s - 1.6, _AS241_C, _AS241_D)) / _SQRT_2

    def erfc_form(w: Any, rr: Any) -> Any:   # w ≥ 1.25: erfc(w), exact relative to its size, against 2r
        return newton(w, 2 * rr - error_function.erfc_unchunked(xp, w))

    def far(rr: Any) -> Any:
        w = tail(rr, True)
        # from r = 1e-300 on erfc(w) nears the subnormals and exp(w²) overflows: AS241's value as it is (4 ulp)
        stepped = erfc_form(xp.minimum(w, 26.6), xp.maximum(rr, 1e-300))   # exp(26.6²) is finite
        w = xp.where(rr > 1e-300, stepped, w)
        return xp.where(rr == 0, rr.dtype.type(xp.inf), w)

    return _kernels.pieces(xp, -r, (-_NEAR, -0.075, -_MIDDLE, -_FAR_TAIL), (
        near, lambda aa, rr: middle(central(aa), rr), lambda aa, rr: middle(tail(rr, False), rr),
        lambda aa, rr: erfc_form(tail(rr, False), rr), lambda aa, rr: far(rr)), a, r)


_ERFINV_NEAR = 1 - 2 * _NEAR   # erf(0.84375): erfinv's first piece, from its core's r = (1 - a)/2 > _NEAR


def _erfinv_array(xp: Any, x: Any) -> Any:
    """erfinv(x) for -1 ≤ x ≤ 1 (±inf at ±1, NaN outside), in float64; float32 (and float16, which the engine
    computes in float32) in float32 below |x| = erf(0.84375) (:func:`_erfinv_float32`), in float64 beyond."""
    if x.dtype == xp.float32:
        return _kernels.chunked(xp, lambda part: xp.copysign(_erfinv_float32(xp, xp.abs(part)), part), x)

    def compute(part: Any) -> Any:
        a = xp.abs(part.astype(xp.float64, copy=False))
        w = _inverse_erf_core(xp, a, (1 - a) / 2, True)   # 1 - a exact where it is used (a ≥ 0.76)
        return xp.copysign(w, part).astype(x.dtype, copy=False)   # erfinv(-0.0) = -0.0, as PyTorch's
    return _kernels.chunked(xp, compute, x)


def _erfinv_float32(xp: Any, a: Any) -> Any:
    """erfinv(a) of a float32 ``a`` ≥ 0 (a chunk): below erf(0.84375) AS241's central piece and one Newton step on
    erf(w) = a in float32 arithmetic (w - a exact, w·P/Q about w/8: 0.6 ulp; torch's float32 1.5), beyond it (where
    w nears the tail and the step needs 1 - a's digits) the float64 core on those elements only, rounded once. 1e6
    values 9 ms, was 19 in float64."""
    f32 = xp.float32

    def near(aa: Any) -> Any:
        return _near_inverse_erf(xp, aa, aa).astype(f32)

    def rest(aa: Any) -> Any:
        a64 = aa.astype(xp.float64)
        return _inverse_erf_core(xp, a64, (1 - a64) / 2, True).astype(f32)

    return _kernels.pieces(xp, a, (_ERFINV_NEAR,), (near, rest))


def _near_inverse_erf(xp: Any, a32: Any, a: Any) -> Any:
    """erfinv(a) in float64 for 0 ≤ a < erf(0.84375), ``a32`` a float32 array equal to ``a`` (float32 or float64,
    its exact value): AS241's central start in float32 (a few float32 ulps off), one Newton step on erf(w) = a in
    float64 (w - a exact, the rest about w/8), so that it rounds to float32 once."""
    f32 = xp.float32
    w = (a32 * _rational(f32(0.180625) - f32(0.25) * (a32 * a32), _AS241_A, _AS241_B) / f32(2 * _SQRT_2)).astype(
        xp.float64)
    residual = (w - a) + w * error_function.near_ratio(w)   # erf(w) - a
    return w - residual * (_SQRT_PI / 2) * xp.exp(w * w)


def _ndtri_float32(xp: Any, p: Any, dtype: Any = None) -> Any:
    """Φ⁻¹(p) of a float32 ``p`` (a chunk), rounded once to ``dtype`` (default ``p``'s): ±√2 erfinv(|2p - 1|)
    (2p - 1 exact in float64), by :func:`_near_inverse_erf` for 0.116 < p < 0.884 and the float64 core on the
    tails' elements only. 1e6 values 17 ms, was 24 (the core's five pieces' index scans over all of them)."""
    p64 = p.astype(xp.float64)
    a = xp.abs(2 * p64 - 1)

    def near(aa: Any, pp: Any) -> Any:
        return _near_inverse_erf(xp, aa.astype(xp.float32), aa)

    def rest(aa: Any, pp: Any) -> Any:
        return _inverse_erf_core(xp, aa, xp.minimum(pp, 1 - pp), False)

    w = _kernels.pieces(xp, a, (_ERFINV_NEAR,), (near, rest), a, p64)
    return (xp.where(p64 < 0.5, -_SQRT_2, _SQRT_2) * w).astype(dtype or p.dtype)


def _ndtri_forward(xp: Any, p: Any) -> Any:
    """ndtri's kernel: float32 (and float16, which the engine computes in float32) by :func:`_ndtri_float32`, the
    rest in float64 (:func:`_ndtri_array`), in the input's dtype."""
    if p.dtype == xp.float32:
        return _kernels.chunked(xp, lambda part: _ndtri_float32(xp, part), p)
    return _in_float64(_ndtri_array)(xp, p)


def _ndtri_array(xp: Any, p: Any) -> Any:
    """The standard normal quantile Φ⁻¹(p) = ±√2 w, erf(w) = |2p - 1|: w from its nearer tail's r = min(p, 1 - p)
    (exact), so a tiny p keeps its digits; -inf at 0, +inf at 1, NaN outside [0, 1]."""
    def compute(part: Any) -> Any:
        p64 = part.astype(xp.float64, copy=False)
        r = xp.minimum(p64, 1 - p64)
        w = _inverse_erf_core(xp, xp.abs(2 * p64 - 1), r, False)   # |2p - 1| exact where it is used (¼ ≤ p ≤ ¾)
        return (xp.where(p64 < 0.5, -_SQRT_2, _SQRT_2) * w).astype(p.dtype, copy=False)
    return _kernels.chunked(xp, compute, p)


def _log_ndtr_derivative(xp: Any, x: Any, y: Any) -> Any:
    """φ(x) / Φ(x), as √(2/π) / erfcx(-x/√2) below -1 (exp(-x²/2 - y) would cancel)."""
    left = xp.minimum(x, -1.0) / _SQRT_2
    scaled = _kernels.where_split(xp, x < -1, lambda u: _erfcx_array(xp, -u), xp.ones_like, left)
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
    if y.dtype == xp.float64:
        y64 = y
    elif p.dtype == xp.float32:
        y64 = _kernels.chunked(xp, lambda part: _ndtri_float32(xp, part, xp.float64), p)
    else:
        y64 = _ndtri_array(xp, p.astype(xp.float64))
    return (math.sqrt(2 * math.pi) * xp.exp(y64 * y64 / 2)).astype(y.dtype, copy=False)


def ndtri(input: Tensor) -> Tensor:  # noqa: A002 - PyTorch's name
    """The standard normal quantile Φ⁻¹(p) (torch.special.ndtri): ∓inf at 0 and 1, NaN outside [0, 1];
    gradient √(2π) · exp(ndtri(p)² / 2). Any shape; float32 is computed in float64 (its own Newton steps were
    5e-4 off at p = 1e-12)."""
    return Unary("ndtri", _ndtri_forward, _ndtri_derivative, keeps_input=False)(_floating(input, "ndtri"))


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
    out = _kernels.where_split(xp, a <= 30, series, asymptotic, a)   # each on its own elements only
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
    return _kernels.where_split(xp, a <= 30, series, asymptotic, a)


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
