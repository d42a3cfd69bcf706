"""The Bessel functions of ``torch.special`` that NumPy lacks: ``bessel_j0/j1``, ``bessel_y0/y1``,
``modified_bessel_i0/i1/k0/k1``, ``scaled_modified_bessel_k0/k1``, ``airy_ai`` and ``spherical_bessel_j0``,
from array ops only (the same code runs on CuPy).

Every function takes a tensor of any shape and gives that shape; integer and bool tensors become float32,
float32 is computed in float64 and rounded. PyTorch gives none of them a derivative (its outputs do not
require grad); here the output records the op and ``backward`` through it raises NotImplementedError
naming the function, rather than treat it silently as a constant.

How (x ≥ 0; J0, I0, K are even or NaN below 0, J1 and I1 odd):

- J and Y of orders 0 and 1 for x ≤ 25: the power series Σ (-1)^k (x/2)^(2k+ν) / (k! (k+ν)!) and the
  series of Y (with the harmonic numbers H_k), summed in double-double arithmetic: the terms reach 1e10
  at x = 25 and cancel to about 0.1, and two doubles carry 32 digits. Beyond 25, Hankel's asymptotic
  expansion √(2/πx) (P cos χ - Q sin χ), χ = x - (ν/2 + ¼)π, whose error e^(-2x) is below 1e-21 there.
  χ is rounded in the input's dtype, as PyTorch's (the rounding of x - π/4 is the whole error of both
  at large x, so the two agree to the last digits there too).
- K0, K1 (scaled by e^x or not): the power series with ln(x/2) for x ≤ 1; the integral
  e^x K_ν(x) = ∫_0^∞ exp(-x (cosh t - 1)) cosh(νt) dt by the trapezoidal rule (step 1/20, its error
  decays as exp(-2π·(π/2)/h) for this analytic, doubly exponentially decaying integrand) up to x = 25;
  the asymptotic series √(π/2x) Σ a_k(ν)/x^k beyond.
- Ai: the Maclaurin series Ai(0) f(x) + Ai'(0) g(x) in double-double for -11.2 ≤ x < 1 (terms up to 1e10
  cancel), Ai(x) = √(x/3)/π · K_{1/3}(ζ), ζ = ⅔ x^{3/2}, by the same trapezoidal rule above 1, and the
  asymptotic expansions in 1/ζ outside [-11.2, 11.2] (ζ > 25). Like PyTorch, 0 above x = 103.892 and NaN
  at ±inf.
- I0, I1: the series and asymptotic expansion of ``ops/special_functions.py`` (NaN at ±inf, as PyTorch's
  ``modified_bessel_i0/i1``).
- spherical_bessel_j0: sin(x)/x, its Taylor polynomial below |x| = ½, 0 at ±inf.

Accuracy in float64, against mpmath: J and Y below 25 within 5e-16 of max(|value|, √(2/πx)) (so to
the last digits near their zeros too; PyTorch's are 1e-6 off between 5 and 8), beyond 25 the rounding of
x - π/4 that PyTorch shares (1e-16 · x); K, I and Ai 3e-15 relative (Ai left of -11.2 as J beyond 25).
float32 is computed in float64 (the phase rounded in float32, as PyTorch's).
"""

from __future__ import annotations

import math
from fractions import Fraction
from typing import Any, Callable

from .. import backend
from ..autograd import Function
from ..tensor import Tensor
from .iterator_layout import lay_out_as_torch, strides_over
from .math import _floating
from .special_functions import _bessel_array

__all__ = ["airy_ai", "bessel_j0", "bessel_j1", "bessel_y0", "bessel_y1", "modified_bessel_i0",
           "modified_bessel_i1", "modified_bessel_k0", "modified_bessel_k1", "scaled_modified_bessel_k0",
           "scaled_modified_bessel_k1", "spherical_bessel_j0"]

_EULER = 0.57721566490153286061
_SERIES_LIMIT = 25.0      # J, Y: series (double-double) up to here, Hankel's expansion beyond
_K_SERIES_LIMIT = 1.0     # K: series up to here, then the trapezoidal rule up to _SERIES_LIMIT
_AIRY_LEFT = -11.2        # Ai: ζ = 25 here; the Maclaurin series from here up to 1


class NoDerivative(Function):
    """An op PyTorch gives no derivative: the output records the op (when an input requires grad) and
    ``backward`` raises NotImplementedError naming it. ``fn(xp, *arrays)`` computes it."""

    def __init__(self, name: str, fn: Callable[..., Any]) -> None:
        self.name, self.fn = name, fn

    def forward(self, *arrays: Any) -> Any:
        with backend.errstate(self.xp, divide="ignore", invalid="ignore", over="ignore", under="ignore"):
            y = self.xp.asarray(self.fn(self.xp, *arrays))
        operands = [a for a in arrays if backend.is_array(a)]
        if y.ndim and not all(a.flags.c_contiguous for a in operands):   # PyTorch's elementwise layout, not the
            y = lay_out_as_torch(self.xp, y, [strides_over(a, y.shape) for a in operands])   # one NumPy's steps left
        return y

    def backward(self, *grads: Any) -> Any:
        raise NotImplementedError(f"{self.name}: the derivative of torch.special.{self.name} is not implemented "
                                  "(PyTorch gives its output no gradient; detach() the output to use it as a "
                                  "constant, as PyTorch does)")


def floating_input(input: Any, name: str) -> Tensor:  # noqa: A002 - PyTorch's name
    """``input`` as a float32/float64 tensor (integers and bool become float32); float16/bfloat16 are
    refused, as PyTorch's CPU kernels do."""
    x = _floating(input, name)
    if x.dtype.kind != "f" or x.dtype.itemsize < 4 or str(x.dtype) == "bfloat16":
        raise TypeError(f"{name}: not implemented for dtype {x.dtype} (PyTorch's CPU kernel takes float32 and float64)")
    return x


# --- double-double arithmetic: a value is a pair (hi, lo) of arrays with |lo| ≤ ulp(hi)/2 ------------------

_SPLITTER = 134217729.0   # 2^27 + 1: Dekker's split of a double into two 26-bit halves


def _fast_two_sum(a: Any, b: Any) -> tuple:
    s = a + b
    return s, b - (s - a)


def _two_sum(a: Any, b: Any) -> tuple:
    s = a + b
    v = s - a
    return s, (a - (s - v)) + (b - v)


def _two_product(a: Any, b: Any) -> tuple:
    p = a * b
    ta, tb = _SPLITTER * a, _SPLITTER * b
    a_hi, b_hi = ta - (ta - a), tb - (tb - b)
    a_lo, b_lo = a - a_hi, b - b_hi
    return p, ((a_hi * b_hi - p) + a_hi * b_lo + a_lo * b_hi) + a_lo * b_lo


def _dd_add(a: tuple, b: tuple) -> tuple:
    s, e = _two_sum(a[0], b[0])
    t, f = _two_sum(a[1], b[1])
    s, e = _fast_two_sum(s, e + t)
    return _fast_two_sum(s, e + f)


def _dd_mul(a: tuple, b: tuple) -> tuple:
    p, e = _two_product(a[0], b[0])
    return _fast_two_sum(p, e + (a[0] * b[1] + a[1] * b[0]))


def _dd_scale(a: tuple, c: tuple) -> tuple:
    """``a`` times a double-double constant ``c`` (Python floats)."""
    p, e = _two_product(a[0], c[0])
    return _fast_two_sum(p, e + (a[0] * c[1] + a[1] * c[0]))


def _dd_divide(a: tuple, d: float) -> tuple:
    """``a`` / ``d`` for a Python float ``d`` (an integer here, exact)."""
    q = a[0] / d
    p, e = _two_product(q, d)
    s, f = _two_sum(a[0], -p)
    return _fast_two_sum(q, (s + (f - e + a[1])) / d)


def _dd_constant(value: Fraction) -> tuple[float, float]:
    hi = float(value)
    return hi, float(value - Fraction(hi))


_HARMONIC = [Fraction(0)]
for _k in range(1, 80):
    _HARMONIC.append(_HARMONIC[-1] + Fraction(1, _k))
_HARMONIC_DD = [_dd_constant(h) for h in _HARMONIC]
_HARMONIC_PAIRS_DD = [_dd_constant(_HARMONIC[k] + _HARMONIC[k + 1]) for k in range(79)]


def _terms_needed(z: float, order: float, tiny: float = 1e-24) -> int:
    """How many terms of Σ z^k / (k! (k+order)!)-like series bring a term below ``tiny`` (z = the
    largest (x/2)² of the array)."""
    term, k = 1.0, 0
    while k < 8 or term > tiny:
        k += 1
        term *= z / (k * (k + order))
    return k + 1


# --- J and Y: series (double-double) and Hankel's expansion ------------------------------------------------

def _j_y_series(xp: Any, a: Any, order: int) -> tuple:
    """J_order(a) and Y_order(a) for 0 < a ≤ 25 (float64 arrays) by their power series in double-double."""
    z = _two_product(a, a)
    z = (z[0] * 0.25, z[1] * 0.25)   # (a/2)², exact
    zero = xp.zeros_like(a)
    term = (xp.ones_like(a), zero) if order == 0 else (a * 0.5, zero)
    j_sum, y_sum = term, (zero, zero)
    if order == 1:   # Σ (H_k + H_{k+1}) t_k from k = 0
        y_sum = _dd_scale(term, _HARMONIC_PAIRS_DD[0])
    top = float(xp.max(a)) if a.size else 0.0
    for k in range(1, _terms_needed(top * top / 4, order)):
        term = _dd_divide(_dd_mul(term, z), -float(k * (k + order)))
        j_sum = _dd_add(j_sum, term)
        weight = _HARMONIC_DD[k] if order == 0 else _HARMONIC_PAIRS_DD[k]
        y_sum = _dd_add(y_sum, _dd_scale(term, weight))
    # ln(x/2), from ln x where x/2 underflows (a subnormal x: ln 0 was -inf, Y1 then NaN)
    half_log = xp.where(a >= 1e-300, xp.log(xp.maximum(a, 1e-300) * 0.5), xp.log(a) - math.log(2.0))
    log_term = (half_log + _EULER) * j_sum[0]
    if order == 0:   # Y0 = (2/π)((ln(x/2) + γ) J0 + Σ (-1)^(k+1) H_k (x/2)^2k / k!²)
        y = (2 / math.pi) * (log_term - y_sum[0])
    else:            # Y1 = -2/(πx) + (2/π)(ln(x/2) + γ) J1 - (1/π) Σ (-1)^k (H_k + H_{k+1}) (x/2)^(2k+1) / (k!(k+1)!)
        y = -2 / (math.pi * a) + (2 / math.pi) * log_term - y_sum[0] / math.pi
    return j_sum[0], y


_PHASE = {0: 0.785398163397448309615660845819875721, 1: 2.356194490192344928846982537459627163}


def _hankel(xp: Any, a: Any, order: int, dtype: Any) -> tuple:
    """J_order(a) and Y_order(a) for a > 25 (float64 ``a``) by Hankel's asymptotic expansion; the phase
    a - (order/2 + ¼)π is rounded in ``dtype`` (the input's), as PyTorch rounds it."""
    mu = 4.0 * order * order
    inverse = 1 / a
    p, q = xp.ones_like(a), xp.zeros_like(a)
    coefficient, power = 1.0, xp.ones_like(a)
    for k in range(1, 40):   # at a = 25 the 30th term is below 1e-20
        coefficient *= (mu - (2 * k - 1) ** 2) / (8 * k)
        power = power * inverse
        sign = 1.0 if k % 4 in (0, 1) else -1.0
        if k % 2:
            q = q + sign * coefficient * power
        else:
            p = p + sign * coefficient * power
    chi = (a.astype(dtype) - dtype.type(_PHASE[order])).astype(xp.float64)
    scale = math.sqrt(2 / math.pi) / xp.sqrt(a)   # π·a overflows at the largest floats
    cos, sin = xp.cos(chi), xp.sin(chi)
    return scale * (p * cos - q * sin), scale * (p * sin + q * cos)


def _j_y(xp: Any, x: Any, order: int, which: str) -> Any:
    """J_order(x) (``which`` = "j") or Y_order(x) ("y"), any float array; float32 in float64."""
    x64 = x.astype(xp.float64)
    a = xp.abs(x64)
    near = xp.where((a <= _SERIES_LIMIT) & (a > 0), a, 1.0)
    far = xp.where(a > _SERIES_LIMIT, a, 2 * _SERIES_LIMIT)
    far = xp.where(xp.isfinite(far), far, 2 * _SERIES_LIMIT)
    index = 0 if which == "j" else 1
    small, large = _j_y_series(xp, near, order)[index], _hankel(xp, far, order, x.dtype)[index]
    out = xp.where(a <= _SERIES_LIMIT, small, large)
    if which == "j":
        out = xp.where(a == 0, 1.0 if order == 0 else 0.0, out)
        if order == 1:
            out = xp.where(x64 < 0, -out, out)   # J1 is odd
    else:
        out = xp.where(a == 0, -xp.inf, out)
        out = xp.where(x64 < 0, xp.nan, out)
    out = xp.where(xp.isfinite(x64), out, xp.nan)   # PyTorch's: NaN at ±inf
    return out.astype(x.dtype)


# --- K: series, trapezoidal rule, asymptotic series --------------------------------------------------------

_STEP = 0.05


def _trapezoid_nodes(lowest: float, order: float) -> tuple[list[float], list[float]]:
    """Nodes cosh(t) - 1 and weights h·cosh(order·t) of the trapezoidal rule for
    ∫_0^∞ exp(-x (cosh t - 1)) cosh(order·t) dt, for x ≥ ``lowest`` (the terms past the last are below
    1e-18 of the first there)."""
    nodes, weights = [0.0], [_STEP / 2]
    j = 1
    while True:
        t = j * _STEP
        node = 2 * math.sinh(t / 2) ** 2
        weight = _STEP * math.cosh(order * t)
        if lowest * node > 45 + order * t:
            return nodes, weights
        nodes.append(node)
        weights.append(weight)
        j += 1


_K_NODES = {order: _trapezoid_nodes(_K_SERIES_LIMIT, order) for order in (0, 1)}
_AIRY_NODES = _trapezoid_nodes(2 / 3, 1 / 3)


def _trapezoid(xp: Any, x: Any, nodes: tuple) -> Any:
    """e^x K_ν(x) by the trapezoidal rule on ``nodes`` (see :func:`_trapezoid_nodes`)."""
    total = xp.zeros_like(x)
    for node, weight in zip(*nodes):
        total = total + weight * xp.exp(-x * node)
    return total


def _k_asymptotic(xp: Any, x: Any, order: float) -> Any:
    """e^x K_ν(x) ~ √(π/2x) Σ a_k(ν)/x^k for x > 25 (and the ν = 1/3 of Ai)."""
    mu = 4.0 * order * order
    total, coefficient, power = xp.ones_like(x), 1.0, xp.ones_like(x)
    for k in range(1, 40):
        coefficient *= (mu - (2 * k - 1) ** 2) / (8 * k)
        power = power / x
        total = total + coefficient * power
    return math.sqrt(math.pi / 2) / xp.sqrt(x) * total   # 2x overflows at the largest floats


def _k_series(xp: Any, x: Any, order: int) -> Any:
    """K_order(x) for 0 < x ≤ 1 by the series with ln(x/2) (all terms positive but the log one)."""
    z = x * x / 4
    term = xp.ones_like(x) if order == 0 else x / 2
    i_sum = term
    h_sum = xp.zeros_like(x) if order == 0 else term * float(_HARMONIC[0] + _HARMONIC[1])
    for k in range(1, 20):
        term = term * z / (k * (k + order))
        i_sum = i_sum + term
        h_sum = h_sum + term * (float(_HARMONIC[k]) if order == 0 else float(_HARMONIC[k] + _HARMONIC[k + 1]))
    log = xp.log(x / 2) + _EULER
    if order == 0:   # K0 = -(ln(x/2) + γ) I0 + Σ H_k (x/2)^2k / k!²
        return h_sum - log * i_sum
    return 1 / x + log * i_sum - h_sum / 2   # K1 = 1/x + (ln(x/2) + γ) I1 - ½ Σ (H_k + H_{k+1}) t_k


def _k(xp: Any, x: Any, order: int, scaled: bool) -> Any:
    """K_order(x), times e^x when ``scaled``; NaN below 0 and at -inf, inf at 0, 0 at +inf."""
    x64 = x.astype(xp.float64)
    small = xp.where((x64 > 0) & (x64 <= _K_SERIES_LIMIT), x64, 0.5)
    middle = xp.where((x64 > _K_SERIES_LIMIT) & (x64 <= _SERIES_LIMIT), x64, 2.0)
    large = xp.where((x64 > _SERIES_LIMIT) & xp.isfinite(x64), x64, 2 * _SERIES_LIMIT)
    series = _k_series(xp, small, order)
    if scaled:
        series = series * xp.exp(small)
    rest = xp.where(x64 <= _SERIES_LIMIT, _trapezoid(xp, middle, _K_NODES[order]),
                    _k_asymptotic(xp, large, order))
    if not scaled:
        rest = rest * xp.exp(-xp.where(x64 <= _SERIES_LIMIT, middle, large))
    out = xp.where(x64 <= _K_SERIES_LIMIT, series, rest)
    out = xp.where(x64 == xp.inf, 0.0, out)
    out = xp.where(x64 == 0, xp.inf, out)
    out = xp.where((x64 < 0) | xp.isnan(x64), xp.nan, out)   # -inf too
    return out.astype(x.dtype)


# --- Ai ------------------------------------------------------------------------------------------------------

_AIRY_AT_0 = _dd_constant(Fraction("0.35502805388781723926006318600418317639797917419917724058332651"))
_AIRY_SLOPE_AT_0 = _dd_constant(Fraction("-0.25881940379280679840518356018920396347909113835493458221000181"))


def _airy_series(xp: Any, x: Any) -> Any:
    """Ai(x) = Ai(0) f(x) + Ai'(0) g(x), f = Σ x^3k / ((2·3)(5·6)…), g = Σ x^(3k+1) / ((3·4)(6·7)…), in
    double-double (for -11.2 ≤ x < 1, where the terms reach 1e10)."""
    cube = _dd_mul(_two_product(x, x), (x, xp.zeros_like(x)))
    f = term_f = (xp.ones_like(x), xp.zeros_like(x))
    g = term_g = (x, xp.zeros_like(x))
    top = float(xp.max(xp.abs(x))) if x.size else 0.0
    for k in range(1, max(4, _terms_needed(top ** 3 / 9, 0) // 1)):
        term_f = _dd_divide(_dd_mul(term_f, cube), float((3 * k - 1) * 3 * k))
        term_g = _dd_divide(_dd_mul(term_g, cube), float(3 * k * (3 * k + 1)))
        f, g = _dd_add(f, term_f), _dd_add(g, term_g)
    return _dd_add(_dd_scale(f, _AIRY_AT_0), _dd_scale(g, _AIRY_SLOPE_AT_0))[0]


def _airy_coefficients(count: int) -> list[float]:
    """u_k = (2k+1)(2k+3)…(6k-1) / (216^k k!) of Ai's asymptotic expansions."""
    out = [1.0]
    for k in range(1, count):
        out.append(out[-1] * (6 * k - 5) * (6 * k - 3) * (6 * k - 1) / ((2 * k - 1) * 216 * k))
    return out


_AIRY_U = _airy_coefficients(30)


def _airy_ai(xp: Any, x: Any) -> Any:
    x64 = x.astype(xp.float64)
    middle = xp.where((x64 >= _AIRY_LEFT) & (x64 < 1), x64, 0.0)
    series = _airy_series(xp, middle)
    # right: Ai(x) = √(x/3)/π · K_{1/3}(ζ), by the trapezoidal rule for ζ ≤ 25, the expansion beyond
    right = xp.where(x64 >= 1, x64, 1.0)
    right = xp.where(xp.isfinite(right), right, 1.0)
    zeta = (2 / 3) * right * xp.sqrt(right)
    scaled = xp.where(zeta <= 25, _trapezoid(xp, zeta, _AIRY_NODES),
                      _k_asymptotic(xp, xp.maximum(zeta, 25.0), 1 / 3))
    right_value = xp.sqrt(right / 3) / math.pi * scaled * xp.exp(-zeta)
    # left (x < -11.2): Ai(-y) ~ (π^-½ y^-¼)(sin(ζ + π/4) Σ (-1)^k u_2k ζ^-2k - cos(ζ + π/4) Σ (-1)^k u_2k+1 ζ^-2k-1);
    # ζ + π/4 rounded in the input's dtype, as PyTorch's
    left = xp.where(x64 < _AIRY_LEFT, x, x.dtype.type(2 * _AIRY_LEFT))
    left = xp.where(xp.isfinite(left), left, x.dtype.type(2 * _AIRY_LEFT))
    phase = (x.dtype.type(-2.0) * left * xp.sqrt(-left) / x.dtype.type(3.0) + x.dtype.type(0.25 * math.pi))
    left64 = left.astype(xp.float64)
    zeta_left = -(2 / 3) * left64 * xp.sqrt(-left64)
    inverse = 1 / zeta_left
    even, odd, power = xp.zeros_like(left64), xp.zeros_like(left64), xp.ones_like(left64)
    for k, u in enumerate(_AIRY_U):
        sign = 1.0 if (k // 2) % 2 == 0 else -1.0
        if k % 2:
            odd = odd + sign * u * power
        else:
            even = even + sign * u * power
        power = power * inverse
    phase = phase.astype(xp.float64)
    left_value = (xp.sin(phase) * even - xp.cos(phase) * odd) / (math.sqrt(math.pi) * xp.sqrt(xp.sqrt(-left64)))
    out = xp.where(x64 < _AIRY_LEFT, left_value, xp.where(x64 < 1, series, right_value))
    out = xp.where(x64 > 103.892, 0.0, out)   # PyTorch's cut-off
    out = xp.where(xp.isinf(x64) | xp.isnan(x64), xp.nan, out)
    return out.astype(x.dtype)


# --- I0, I1 and j0 -----------------------------------------------------------------------------------------

def _modified_i(xp: Any, x: Any, order: int) -> Any:
    out = _bessel_array(xp, order, x.astype(xp.float64), False)
    if x.dtype == xp.float32:   # PyTorch's float32 e^|x| overflows past log(FLT_MAX), before I0 does
        out = xp.where(xp.abs(x) > 88.72283, xp.sign(x) * xp.inf if order else xp.inf, out)
    return xp.where(xp.isinf(x), xp.nan, out).astype(x.dtype)   # PyTorch's modified_bessel_i*: NaN at ±inf


def _spherical_j0(xp: Any, x: Any) -> Any:
    """sin(x)/x; below |x| = ½ its Taylor polynomial to x^12 (PyTorch's split); 0 at ±inf."""
    square = x * x
    polynomial = xp.zeros_like(x)
    for k in range(6, 0, -1):
        polynomial = (polynomial + (-1) ** k / math.factorial(2 * k + 1)) * square
    polynomial = polynomial + 1
    safe = xp.where(xp.abs(x) < 0.5, x.dtype.type(1), x)
    out = xp.where(xp.abs(x) < 0.5, polynomial, xp.sin(safe) / safe)
    return xp.where(xp.isinf(x), x.dtype.type(0), out).astype(x.dtype)


# --- the public functions ------------------------------------------------------------------------------------

_NO_INPUT = object()


def _unary(name: str, fn: Callable[[Any, Any], Any], doc: str, input_too: bool = True) -> Callable[[Tensor], Tensor]:
    """The public function: ``x`` (PyTorch's name), and ``input=`` where PyTorch also takes that."""
    if input_too:
        def op(x: Tensor = _NO_INPUT, *, input: Tensor = _NO_INPUT) -> Tensor:  # noqa: A002 - PyTorch's names
            if (x is _NO_INPUT) == (input is _NO_INPUT):
                raise TypeError(f"{name}: give the tensor once, as x (or input=)")
            return NoDerivative(name, fn)(floating_input(input if x is _NO_INPUT else x, name))
    else:
        def op(x: Tensor) -> Tensor:
            return NoDerivative(name, fn)(floating_input(x, name))
    op.__name__ = name
    op.__doc__ = doc + " Any shape → the same shape; no derivative (as in PyTorch)."
    return op


bessel_j0 = _unary("bessel_j0", lambda xp, x: _j_y(xp, x, 0, "j"),
                   "The Bessel function of the first kind of order 0, J0(x) (torch.special.bessel_j0).")
bessel_j1 = _unary("bessel_j1", lambda xp, x: _j_y(xp, x, 1, "j"),
                   "The Bessel function of the first kind of order 1, J1(x) (torch.special.bessel_j1).")
bessel_y0 = _unary("bessel_y0", lambda xp, x: _j_y(xp, x, 0, "y"),
                   "The Bessel function of the second kind of order 0, Y0(x) (torch.special.bessel_y0); "
                   "-inf at 0, NaN below.")
bessel_y1 = _unary("bessel_y1", lambda xp, x: _j_y(xp, x, 1, "y"),
                   "The Bessel function of the second kind of order 1, Y1(x) (torch.special.bessel_y1); "
                   "-inf at 0, NaN below.")
modified_bessel_i0 = _unary("modified_bessel_i0", lambda xp, x: _modified_i(xp, x, 0),
                            "The modified Bessel function of the first kind of order 0, I0(x) "
                            "(torch.special.modified_bessel_i0); NaN at ±inf as PyTorch's.")
modified_bessel_i1 = _unary("modified_bessel_i1", lambda xp, x: _modified_i(xp, x, 1),
                            "The modified Bessel function of the first kind of order 1, I1(x) "
                            "(torch.special.modified_bessel_i1); NaN at ±inf as PyTorch's.")
modified_bessel_k0 = _unary("modified_bessel_k0", lambda xp, x: _k(xp, x, 0, False),
                            "The modified Bessel function of the second kind of order 0, K0(x) "
                            "(torch.special.modified_bessel_k0); inf at 0, NaN below.")
modified_bessel_k1 = _unary("modified_bessel_k1", lambda xp, x: _k(xp, x, 1, False),
                            "The modified Bessel function of the second kind of order 1, K1(x) "
                            "(torch.special.modified_bessel_k1); inf at 0, NaN below.")
scaled_modified_bessel_k0 = _unary("scaled_modified_bessel_k0", lambda xp, x: _k(xp, x, 0, True),
                                   "e^x K0(x), without underflow (torch.special.scaled_modified_bessel_k0).", False)
scaled_modified_bessel_k1 = _unary("scaled_modified_bessel_k1", lambda xp, x: _k(xp, x, 1, True),
                                   "e^x K1(x), without underflow (torch.special.scaled_modified_bessel_k1).", False)
airy_ai = _unary("airy_ai", _airy_ai, "The Airy function Ai(x) (torch.special.airy_ai); 0 above 103.892 and NaN "
                 "at ±inf, as PyTorch's.", False)
spherical_bessel_j0 = _unary("spherical_bessel_j0", _spherical_j0,
                             "The spherical Bessel function of the first kind of order 0, sin(x)/x "
                             "(torch.special.spherical_bessel_j0).", False)
