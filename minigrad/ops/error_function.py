"""The error function's array kernels (erf, erfc, and the pieces erfinv, erfcx and the normal CDF build on), from
array ops only (the same code runs on CuPy): erf in the input's own float dtype (float32 in float32, as PyTorch's),
erfc in float64 (float32's exp is 2.3 ulp off in NumPy, and erfc's tail is that exp).

The approximation is the classic SunPro (fdlibm, 1993) one, the same coefficients in both dtypes:

- |x| < 0.84375: erf(x) = x + x·P(x²)/Q(x²);
- 0.84375 ≤ |x| < 1.25: erf(|x|) = c + P(s)/Q(s), s = |x| - 1, c = 0.845062911510467529297;
- 1.25 ≤ |x|: erfc(|x|) = exp(-z² - 0.5625) · exp((z - |x|)(z + |x|) + R(1/x²)/S(1/x²)) / |x|, z = |x| with the low
  half of its mantissa cleared (z² exact); R/S on [1.25, 1/0.35) and on [1/0.35, 28): fdlibm's bound on R/S is
  2^-61.5, so erfc keeps its relative accuracy to the underflow at x ≈ 27.3.

Max error against mpmath, measured (round 23): erf 1.0 ulp in float64 (at a subnormal; 0.65 elsewhere, torch's
Sleef 1.0), 0.8 in float32; erfc 2.1 ulp in float64 (NumPy's exp and four roundings; torch 1.0), 0.5 in float32.
On the host each piece runs on its own elements only (``_kernels.pieces``: gathered by index) and long arrays go
through in chunks of 65536 (``_kernels.chunked``: the temporaries stay in the cache); 1e6 float64 erf 10 ms (the
series was 64 ms, torch 2.9 ms).
"""

from __future__ import annotations

from typing import Any, Sequence

from ._kernels import chunked, pieces, select, split_square

# --- coefficients (SunPro fdlibm s_erf.c), lowest degree first ------------------------------------------------------
ERX = 8.45062911510467529297e-01   # erf(1) rounded to 24 bits
_PP = (1.28379167095512558561e-01, -3.25042107247001499370e-01, -2.84817495755985104766e-02,
       -5.77027029648944159157e-03, -2.37630166566501626084e-05)
_QQ = (1.0, 3.97917223959155352819e-01, 6.50222499887672944485e-02, 5.08130628187576562776e-03,
       1.32494738004321644526e-04, -3.96022827877536812320e-06)
_PA = (-2.36211856075265944077e-03, 4.14856118683748331666e-01, -3.72207876035701323847e-01,
       3.18346619901161753674e-01, -1.10894694282396677476e-01, 3.54783043256182359371e-02,
       -2.16637559486879084300e-03)
_QA = (1.0, 1.06420880400844228286e-01, 5.40397917702171048937e-01, 7.18286544141962662868e-02,
       1.26171219808761642112e-01, 1.36370839120290507362e-02, 1.19844998467991074170e-02)
_RA = (-9.86494403484714822705e-03, -6.93858572707181764372e-01, -1.05586262253232909814e+01,
       -6.23753324503260060396e+01, -1.62396669462573470355e+02, -1.84605092906711035994e+02,
       -8.12874355063065934246e+01, -9.81432934416914548592e+00)
_SA = (1.0, 1.96512716674392571292e+01, 1.37657754143519042600e+02, 4.34565877475229228821e+02,
       6.45387271733267880336e+02, 4.29008140027567833386e+02, 1.08635005541779435134e+02,
       6.57024977031928170135e+00, -6.04244152148580987438e-02)
_RB = (-9.86494292470009928597e-03, -7.99283237680523006574e-01, -1.77579549177547519889e+01,
       -1.60636384855821916062e+02, -6.37566443368389627722e+02, -1.02509513161107724954e+03,
       -4.83519191608651397019e+02)
_SB = (1.0, 3.03380607434824582924e+01, 3.25792512996573918826e+02, 1.53672958608443695994e+03,
       3.19985821950859553908e+03, 2.55305040643316442583e+03, 4.74528541206955367215e+02,
       -2.24409524465858183362e+01)

SMALL, MIDDLE, FAR = 0.84375, 1.25, 1 / 0.35   # the pieces' edges in |x|
ERFC_ZERO = 28.0   # erfc(x) underflows to 0 from here (float64's last subnormal is at 27.2)


def polynomial(x: Any, coefficients: Sequence[float]) -> Any:
    """Σ c_k x^k by Horner's rule in ``x``'s dtype."""
    total = x * coefficients[-1]
    total += coefficients[-2]
    for c in reversed(coefficients[:-2]):
        total *= x
        total += c
    return total


def near_ratio(a: Any) -> Any:
    """P(a²)/Q(a²) = erf(a)/a - 1, |a| < 0.84375."""
    z = a * a
    return polynomial(z, _PP) / polynomial(z, _QQ)


def middle(a: Any) -> Any:
    """erf(a) - c for 0.84375 ≤ a < 1.25 (c = ``ERX``)."""
    s = a - 1
    return polynomial(s, _PA) / polynomial(s, _QA)


def log_scaled_tail(a: Any, far: bool) -> Any:
    """R(1/a²)/S(1/a²) = log(a·erfcx(a)) + 0.5625, so that erfc(a) = exp(-a² - 0.5625 + R/S) / a, for
    1.25 ≤ a < 1/0.35 (``far``: 1/0.35 ≤ a ≤ 28)."""
    s = 1 / (a * a)
    if far:
        return polynomial(s, _RB) / polynomial(s, _SB)
    return polynomial(s, _RA) / polynomial(s, _SA)


def tail(xp: Any, a: Any, far: bool) -> Any:
    """erfc(a) for 1.25 ≤ a ≤ 28 (``far``: a ≥ 1/0.35): exp(-z² - 0.5625) · exp(R/S - (a - z)(a + z)) / a, z = a
    with its low mantissa bits cleared so that z² is exact (:func:`~minigrad.ops._kernels.split_square`)."""
    ratio = log_scaled_tail(a, far)
    square, rest = split_square(xp, a)
    head = xp.exp(-square - 0.5625)
    # head · e^(R/S - rest), |e^(R/S - rest) - 1| < 0.25; divided by a last, so that a subnormal result is rounded once
    return (head + head * xp.expm1(ratio - rest)) / a


def erf_array(xp: Any, x: Any) -> Any:
    """erf(x) elementwise (x a real float array, any shape), in x's dtype; erf(-0.0) = -0.0, ±1 at ±inf."""
    return chunked(xp, lambda part: erf_unchunked(xp, part), x)


def erf_unchunked(xp: Any, x: Any) -> Any:
    """``erf_array`` for a caller that runs in chunks itself."""
    a = xp.abs(x)

    def near(v: Any) -> Any:   # v + v·P/Q, scaled by 8 so that a subnormal v keeps its bits
        eight = v * 8
        return (eight + eight * near_ratio(v)) * 0.125

    def far(v: Any, beyond: bool) -> Any:
        # 1 - erfc(v), erfc ≤ 0.08: one exp of -v² - 0.5625 + R/S, the rounding of v² is 0.13 ulp of erf at most
        v = xp.clip(v, MIDDLE, 6.0) if beyond else xp.maximum(v, MIDDLE)   # erf rounds to 1 from 5.9 on (NaN kept)
        exponent = log_scaled_tail(v, beyond)
        exponent -= v * v
        exponent -= 0.5625
        out = xp.exp(exponent, out=exponent)
        out /= v
        return xp.subtract(1, out, out=out)

    y = pieces(xp, a, (SMALL, MIDDLE, FAR), (near, lambda v: middle(v) + ERX, lambda v: far(v, False),
                                              lambda v: far(v, True)))
    return xp.copysign(y, x)


def erfc_array(xp: Any, x: Any) -> Any:
    """erfc(x) = 1 - erf(x) elementwise in x's dtype, exact relative to its size in the right tail down to the
    underflow (x ≈ 27.3 in float64, 10.1 in float32); 2 at -inf, 0 at inf."""
    if x.dtype != xp.float64:   # float32 in float64: in float32, 0.5 - x and NumPy's exp (2.3 ulp) made 2-3 ulp
        return chunked(xp, lambda part: erfc_unchunked(xp, part.astype(xp.float64)).astype(x.dtype), x)
    return chunked(xp, lambda part: erfc_unchunked(xp, part), x)


def erfc_unchunked(xp: Any, x: Any) -> Any:
    """``erfc_array`` of a float64 ``x`` for a caller that runs in chunks itself."""
    def near(v: Any) -> Any:
        # 1 - erf(x) below ¼; from there 0.5 + ((0.5 - x) - x·P/Q), which keeps the digits 1 - erf would round off
        ratio = near_ratio(v)
        return select(xp, v < 0.25, 1 - (v + v * ratio), 0.5 + ((0.5 - v) - v * ratio))

    def between(v: Any) -> Any:
        m = middle(xp.abs(v))
        return select(xp, v < 0, 1 + (ERX + m), (1 - ERX) - m)

    def far(v: Any, beyond: bool, low: float, high: float) -> Any:
        t = tail(xp, xp.clip(xp.abs(v), low, high), beyond)
        return select(xp, v < 0, 2 - t, t)

    return pieces(xp, xp.abs(x), (SMALL, MIDDLE, FAR), (
        near, between, lambda v: far(v, False, MIDDLE, FAR), lambda v: far(v, True, FAR, ERFC_ZERO)), x)
