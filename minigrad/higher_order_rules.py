"""More rules of ``create_graph=True`` (see :mod:`minigrad.higher_order`): statistics (var, std, prod), running
sums and products, the math beyond the arithmetic (inverse trigonometric and hyperbolic functions, erfc/erfinv,
lgamma/digamma/polygamma, gammainc/gammaincc (in x), sinc, logit, xlogy, hypot, lerp, rounded division,
atan2/fmod/remainder), the index and rearranging ops (diagonal, triu/tril, flip, roll, gather, scatter), nn's
embedding and constant pad, and PyTorch-style custom Functions.

Each rule is the op's backward written with minigrad's own differentiable ops, PyTorch's formula where PyTorch has
one; a linear op's rule is its adjoint op (flip flips back, diagonal writes the diagonal back), whose own rule is
the op again, so it can be differentiated any number of times.
"""

from __future__ import annotations

import math
from typing import Any

from . import backend
from .autograd import engine
from .autograd.custom import ONCE_DIFFERENTIABLE, DelayedError, _CustomNode
from .autograd.engine import Function, _complex_variant
from .autograd.forward_ad import NoSecondDerivative
from .higher_order import (
    _UNARY,
    BINARY,
    LATE_RULES,
    RULES,
    UNARY_OF_NODE,
    IndexBackward,
    _input,
    _no_rule,
    _output,
    _select,
    _shape,
    _unreduce,
    _zero,
    _zeros,
    reads_input,
    rule,
    sum_to,
)
from .memory_formats import channels_last, channels_last_3d
from .ops._util import FLOAT16, FLOAT32
from .ops.arrange import DiagEmbed, Diagonal
from .ops.complex_ops import Angle, Complex, Conj, Imag, Real, ViewAsComplex, ViewAsReal
from .ops.contract import Einsum, _Ignored
from .ops.ctc import CTC
from .ops.decompositions import EigenValues
from .ops.distance import Cdist
from .ops.elementwise import (
    Abs,
    Add,
    AddCDiv,
    AddCMul,
    AddCMulBy,
    Clip,
    Cos,
    Div,
    Exp,
    Log,
    Mul,
    Neg,
    Pow,
    Sigmoid,
    Sin,
    Sqrt,
    Sub,
    Tanh,
    Where,
)
from .ops.fft import DUAL_NORM, ComplexFFT, ComplexToRealFFT, RealToComplexFFT
from .ops.fused import GRUGates, LSTMGates
from .ops.gamma import (
    GammaReparameterised,
    IncompleteGamma,
    Zeta,
    _log_gamma_density,
    _NoGradientForA,
    lgamma,
    polygamma,
)
from .ops.householder import Geqrf
from .ops.index import Flip, Roll, Scatter, Triangle
from .ops.join import Concat, Stack, Unbind
from .ops.ldl import LDLFactor, LDLSolve
from .ops.linalg import MatMul
from .ops.math import Binary, Flat, Lerp, NotDifferentiable, Unary, exp2, log1p, logaddexp
from .ops.matrix_functions import MatrixExp
from .ops.order_stats import NanMedianAll
from .ops.pointwise import RoundedDiv
from .ops.quantize import FakeQuantize
from .ops.random import ZeroGradientDraw
from .ops.reduce import LogSumExp, Mean, Std, Sum, Var, _count
from .ops.scan import CumProd, CumSum, LogCumSumExp, MedianAll, Prod
from .ops.select import Gather
from .ops.shape import AsType, BroadcastTo, Clone, GetItem, Reshape, Transpose
from .ops.solvers import Det, Inverse, Solve, TriangularSolve
from .ops.special import ComplexSign, Logit, NanToNum, Sinc, cosh, erfc, sinh, xlogy
from .ops.special_bessel import NoDerivative
from .ops.special_functions import erfinv, i0, i0e, i1, i1e, xlog1py
from .ops.statistics import NanMean, NanSum
from .ops.tensor_more import Compared, Mantissa
from .tensor import Tensor

__all__: list[str] = []


# --- statistics -------------------------------------------------------------------------------------------------

# the NaN-skipping ops are linear in their input: each rule is the backward's product by a constant mask, written
# with Tensor ops (an element that was NaN gets 0; nanmean's all-NaN lines give PyTorch's (g / 0) * 0 = NaN)

@rule(NanSum)
def _nansum(node: Function, g: Tensor) -> Tensor:
    (kept,) = node.saved
    return Mul()(_unreduce(g, kept.shape, node.axes, node.keepdims), kept)


@rule(NanMean)
def _nanmean(node: Function, g: Tensor) -> Tensor:
    kept, count = node.saved
    with backend.errstate(node.xp, divide="ignore", invalid="ignore"):
        return Mul()(Div()(_unreduce(g, kept.shape, node.axes, node.keepdims), count), kept)


@rule(NanToNum)
def _nan_to_num(node: Function, g: Tensor) -> Tensor:
    return Mul()(g, node.xp.isfinite(node.saved[0]))   # PyTorch multiplies: an inf gradient there gives NaN


def _var_grad(node: Function, g_x: Tensor) -> Tensor:
    """PyTorch's var_backward, ``(2 / dof) * g * (x - mean(x))``, with ``g_x`` already of x's shape."""
    (centred,) = node.saved
    # x's slot holding the centred array: centring it again gives the same values, and the gradient through
    # the centring is the centring projection, as d(x - mean(x))/dx
    x_t = _input(node, 0, centred)
    c_t = Sub()(x_t, Mean(node.axis, True)(x_t))
    dof = _count(centred.shape, node.axis) - node.ddof
    scale = 2.0 / dof if dof > 0 else math.inf   # as the engine's: no degrees of freedom gives NaN
    return Mul()(Mul()(c_t, scale), g_x)


@rule(Var)
def _var(node: Function, g: Tensor) -> Tensor:
    return _var_grad(node, _unreduce(g, node.saved[0].shape, node.axis, node.keepdims))


@rule(Std)
def _std(node: Function, g: Tensor) -> Tensor:
    y = node.deviation
    zero = y == 0   # a zero deviation: gradient 0, as PyTorch's (g / (2 * 0) masked)
    y_t = Where()(zero, 1, _output(node, y))
    g_var = Where()(zero, _zero(g), Div()(g, Mul()(2, y_t)))
    return _var_grad(node, _unreduce(g_var, node.saved[0].shape, node.axis, node.keepdims))


def _along_last(x: Tensor, axes: tuple) -> tuple:
    """``x`` with ``axes`` moved to the end and merged into one, and the function that undoes it."""
    ndim = x.ndim
    rest = [a for a in range(ndim) if a not in axes]
    order = tuple(rest) + tuple(axes)
    moved = Transpose(order)(x) if order != tuple(range(ndim)) else x
    moved_shape = tuple(moved.shape)
    flat = Reshape(moved_shape[:len(rest)] + (math.prod(moved_shape[len(rest):]),))(moved)
    inverse = tuple(order.index(a) for a in range(ndim))

    def undo(y: Tensor) -> Tensor:
        y = Reshape(moved_shape)(y)
        return Transpose(inverse)(y) if inverse != tuple(range(ndim)) else y
    return flat, undo


def _exclusive_cumprod(x: Tensor, ones: Tensor) -> Tensor:
    """Along the last axis: out[..., i] = x[..., 0] · … · x[..., i-1] (1 for i = 0), exact with zeros."""
    return CumProd(x.ndim - 1)(Concat(-1)(ones, GetItem((Ellipsis, slice(None, -1)))(x)))


@rule(Prod)
def _prod(node: Function, g: Tensor) -> Tensor:
    (x,) = node.saved
    xp = node.xp
    if x.size == 0:
        return _zeros(x.shape, g)
    if x.ndim == 0:
        return g
    x_t = _input(node, 0, x)
    g_x = _unreduce(g, x.shape, node.axes, node.keepdims)
    if not (x == 0).any():   # PyTorch's: g * prod / x
        y = xp.asarray(x.prod(axis=node.axes, keepdims=True))
        out = y if node.keepdims else y.reshape(()) if node.axes is None else y.squeeze(axis=node.axes)
        y_t = _output(node, out)
        y_t = Reshape(y.shape)(y_t) if out.shape != y.shape else y_t
        return Mul()(g_x, Div()(y_t, x_t))
    # with zeros, PyTorch's prod_safe_zeros_backward: the product of the other factors, from running products
    # from the left and from the right (never a division)
    axes = tuple(range(x.ndim)) if node.axes is None else tuple(node.axes)
    flat, undo = _along_last(x_t, axes)
    ones = Tensor._make(xp.ones(tuple(flat.shape[:-1]) + (1,), dtype=x.dtype), False, None, 0)
    last = (flat.ndim - 1,)
    left = _exclusive_cumprod(flat, ones)
    right = Flip(last)(_exclusive_cumprod(Flip(last)(flat), ones))
    return Mul()(g_x, undo(Mul()(left, right)))


@rule(Cdist)
def _cdist(node: Function, g: Tensor) -> tuple:
    """Cdist's backward term by term (see the op), with Tensor ops: per difference d = x1_i - x2_j (B..., P, R, M)
    and distance D, the local gradient g · sign(d) |d|^(p-1) / D^(p-1) (g · d / D for p = 2), 0 where D = 0;
    p = 1 and p = inf pick sign(d) (at the largest |d|) by a constant mask, p = 0 gives 0."""
    x1, x2, y = node.saved
    p, xp = node.p, node.xp
    if p == 0:
        return _zeros(x1.shape, g), _zeros(x2.shape, g)
    d_array = x1[..., :, None, :] - x2[..., None, :, :]
    sign = (d_array > 0).astype(d_array.dtype) - (d_array < 0)
    gy = Reshape((*g.shape, 1))(g)
    if p == 1:
        local = Mul()(gy, sign)
    elif p == math.inf:
        local = Mul()(gy, sign * (xp.abs(d_array) == y[..., None]))
    else:
        a, b = _input(node, 0, x1), _input(node, 1, x2)
        d = Sub()(Reshape((*x1.shape[:-1], 1, x1.shape[-1]))(a), Reshape((*x2.shape[:-2], 1, *x2.shape[-2:]))(b))
        zero = y[..., None] == 0
        dist = Where()(zero, y.dtype.type(1), Reshape((*y.shape, 1))(_output(node, y)))
        if p == 2:
            local = Div()(Mul()(gy, d), dist)
        else:
            power = Pow()(Abs()(d), p - 1)
            local = Div()(Mul()(gy, Mul()(power, sign)), Pow()(dist, p - 1))
        local = _select(~zero if p >= 1 else ~zero & (d_array != 0), local)
    n = local.ndim   # the sums take axes counted from the front, as the rules of Sum read them
    return sum_to(Sum((n - 2,), False)(local), x1.shape), sum_to(Neg()(Sum((n - 3,), False)(local)), x2.shape)


# --- running sums and products ---------------------------------------------------------------------------------------

def _reversed_cumsum(g: Tensor, axis: int) -> Tensor:
    """out[i] = g[i] + g[i+1] + … along ``axis`` (a cumsum from the right)."""
    return Flip((axis,))(CumSum(axis)(Flip((axis,))(g)))


@rule(CumSum)
def _cumsum(node: Function, g: Tensor) -> Tensor:
    return _reversed_cumsum(g, node.axis)


@rule(CumProd)
def _cumprod(node: Function, g: Tensor) -> Tensor:
    (x,) = node.saved
    xp, axis = node.xp, node.axis
    if x.size == 0:
        return _zeros(x.shape, g)
    if x.size == 1 or x.shape[axis] == 1:   # the identity: g, not tied to x, as PyTorch's (no second derivative)
        return g
    x_t = _input(node, 0, x)
    if not (x == 0).any():   # PyTorch's: reversed_cumsum(g * y) / x
        y_t = _output(node, xp.cumprod(x, axis=axis))
        return Div()(_reversed_cumsum(Mul()(g, y_t), axis), x_t)
    # with zeros: grad[i] = L[i] · S[i], L the product before i and S[i] = g[i] + x[i+1] · S[i+1], as the
    # engine's CumProd.backward, one slice at a time (exact, no division)
    n = x.shape[axis]
    xs, gs = Unbind(axis, n)(x_t), Unbind(axis, n)(g)
    suffix = [gs[n - 1]]
    for i in range(n - 2, -1, -1):
        suffix.append(Add()(gs[i], Mul()(xs[i + 1], suffix[-1])))
    suffix.reverse()
    grads, left = [suffix[0]], xs[0]
    for i in range(1, n):
        grads.append(Mul()(left, suffix[i]))
        if i < n - 1:
            left = Mul()(left, xs[i])
    return Stack(axis)(*grads)


# --- binary math (math.Binary, by name) ------------------------------------------------------------------------------

def _square(xp: Any, v: Any) -> Any:
    """v * v: a Tensor on the graph, or an array on the device of the rest for a constant (a Python number)."""
    return Mul()(v, v) if isinstance(v, Tensor) else xp.asarray(v) * v


def _forward_ad_walk() -> bool:
    """True while forward AD builds, from a dummy cotangent of zeros, the graph whose derivative is the tangent (the
    double-vjp trick): a rule whose jvp PyTorch writes differently from its backward then gives that jvp's values."""
    return engine.FORWARD_AD is not None and engine.FORWARD_AD.passing


def _atan2(node: Function, g: Tensor) -> tuple:
    """PyTorch's: ``g·b / (a² + b²)`` for a, ``-g·a / (a² + b²)`` for b, with ``1 / (a² + b²)`` masked to 0 where
    it is inf (the origin, or where a² + b² underflows). As PyTorch's, the mask is a selection after the division:
    the second derivative there is 0 · inf = NaN (the Hessian at the origin is NaN, not 0); its jvp does not
    mask the origin, where the tangent is 0/0 = NaN."""
    a, b, _ = node.saved
    xp = node.xp
    a_t, b_t = _input(node, 0, a), _input(node, 1, b)
    with backend.errstate(xp, divide="ignore", over="ignore"):
        origin = xp.isinf(1 / (xp.asarray(a) * a + xp.asarray(b) * b)) & (not _forward_ad_walk())
        recip = Where()(origin, _zero(g), Div()(1, Add()(_square(xp, a_t), _square(xp, b_t))))
    return (sum_to(Mul()(Mul()(g, b_t), recip), _shape(a)) if node.edges[0] is not None else None,
            sum_to(Mul()(Mul()(Neg()(g), a_t), recip), _shape(b)) if node.edges[1] is not None else None)


def _rounded_quotient(node: Function, g: Tensor, mode: str) -> tuple:
    """fmod/remainder: ``a - q(a / b) * b`` with q piecewise constant (trunc, floor): ``g`` for a, ``-g * q`` for b.

    q is ``div(a, b, rounding_mode=mode)`` of the input Tensors (the forward's own rounding), an op whose gradient
    is zeros: b's gradient stays on the graph even where ``g`` is a constant, and differentiates to zeros, as
    PyTorch's (a constant q would make a second ``grad`` raise "does not require grad")."""
    a, b, _ = node.saved
    gb = None
    if node.edges[1] is not None:
        quotient = RoundedDiv(mode)(_input(node, 0, a), _input(node, 1, b))
        gb = sum_to(Mul()(g, Neg()(quotient)), _shape(b))
    return (sum_to(g, _shape(a)) if node.edges[0] is not None else None), gb


def _fmod(node: Function, g: Tensor) -> tuple:
    return _rounded_quotient(node, g, "trunc")


def _remainder(node: Function, g: Tensor) -> tuple:
    return _rounded_quotient(node, g, "floor")


@rule(RoundedDiv)
def _rounded_div(node: Function, g: Tensor) -> tuple:   # a step function: zeros, as PyTorch's zeros_like(grad)
    xp = node.xp
    return tuple(Tensor._make(xp.zeros(shape, dtype=g.dtype if dtype is None else dtype), False, None, 0)
                 if edge is not None else None for (shape, dtype), edge in zip(node.inputs, node.edges))


def _constant(xp: Any, value: Any, like: Tensor) -> Any:
    """``value`` as a Tensor: itself when it is one, else a constant Tensor in ``like``'s dtype (a number or array)."""
    if isinstance(value, Tensor):
        return value
    data = value if backend.is_array(value) else backend.device_scalar(xp, value, like.dtype)   # -0.0 kept on CuPy
    return Tensor._make(xp.asarray(data, dtype=like.dtype), False, None, 0)


def _xlogy(node: Function, g: Tensor) -> tuple:
    """``xlogy(g, b)`` (0 where a == 0 and b <= 0) for a, ``g * a / b`` for b: PyTorch's jvp, transposed."""
    return _x_log_grads(node, g, xlogy, 0)


def _xlog1py(node: Function, g: Tensor) -> tuple:
    """PyTorch's: ``xlog1py(g, b)`` (0 where a == 0 and b <= -1) for a, ``g * a / (1 + b)`` for b."""
    return _x_log_grads(node, g, xlog1py, 1)


def _x_log_grads(node: Function, g: Tensor, op: Any, shift: int) -> tuple:
    a, b, _ = node.saved
    xp = node.xp
    a_t, b_t = _input(node, 0, a), _input(node, 1, b)
    ga = gb = None
    if node.edges[0] is not None:
        flat = (xp.asarray(a) == 0) & (xp.asarray(b) <= -shift)
        # forward AD differentiates this at g = 0, where xlogy(g, b)'s own rule gives 0 for b <= 0: g + 1 there
        # (same derivative) makes the tangent PyTorch's xlogy(t, b), NaN for a tangent t != 0 where b < 0
        shifted = Add()(g, 1) if _forward_ad_walk() else g
        ga = sum_to(Where()(flat, _zero(g), op(shifted, _constant(xp, b_t, g))), _shape(a))
    if node.edges[1] is not None:
        gb = sum_to(Div()(Mul()(g, a_t), Add()(b_t, shift) if shift else b_t), _shape(b))
    return ga, gb


def _hypot(node: Function, g: Tensor) -> tuple:
    a, b, y = node.saved
    y_t = _output(node, y)
    return (sum_to(Div()(Mul()(g, _input(node, 0, a)), y_t), _shape(a)) if node.edges[0] is not None else None,
            sum_to(Div()(Mul()(g, _input(node, 1, b)), y_t), _shape(b)) if node.edges[1] is not None else None)


def _logaddexp2(node: Function, g: Tensor) -> tuple:
    """PyTorch's: ``g / (1 + 2^(b - a))`` for a, ``g / (1 + 2^(a - b))`` for b (logaddexp's, base 2)."""
    a, b, _ = node.saved
    a_t, b_t = _input(node, 0, a), _input(node, 1, b)
    return (sum_to(Div()(g, Add()(1, exp2(Sub()(b_t, a_t)))), _shape(a)) if node.edges[0] is not None else None,
            sum_to(Div()(g, Add()(1, exp2(Sub()(a_t, b_t)))), _shape(b)) if node.edges[1] is not None else None)


def _picked(node: Function, g: Tensor, a_gets: Any) -> tuple:
    """A selection's gradients: ``g`` where the mask ``a_gets`` (an array of the output's shape) for a, elsewhere
    for b; the mask is a constant of the graph (PyTorch's masked_fill), so the rule is linear in ``g``."""
    a, b, _ = node.saved
    return (sum_to(_select(a_gets, g), _shape(a)) if node.edges[0] is not None else None,
            sum_to(Where()(a_gets, _zero(g), g), _shape(b)) if node.edges[1] is not None else None)


def _fmax(node: Function, g: Tensor) -> tuple:
    a, b, _ = node.saved   # a tie goes to a; NaN loses to a number (special._fmax_grads)
    return _picked(node, g, (a >= b) | node.xp.isnan(b))


def _fmin(node: Function, g: Tensor) -> tuple:
    a, b, _ = node.saved
    return _picked(node, g, (a <= b) | node.xp.isnan(b))


def _zeros_for(node: Function, i: int, value: Any, g: Tensor) -> Any:
    """A gradient that is PyTorch's ``zeros_like``: a constant (its own derivative is None), or None for no edge."""
    return _zeros(_shape(value), g) if node.edges[i] is not None else None


def _copysign(node: Function, g: Tensor) -> tuple:
    """PyTorch's ``g · copysign(x, y) / x`` for x (0 at x == 0), zeros for y, as special._copysign_grads. The
    ratio is written with the op's output and x, as PyTorch's, so it stays a function of x: its derivative is 0
    (up to rounding) and can be differentiated again (a constant ±1 made the third derivative raise). At x == 0
    the ratio and its derivatives are 0 (PyTorch's double backward divides by 0 there and gives NaN)."""
    a, b, y = node.saved
    ga = None
    if node.edges[0] is not None:
        at_zero = node.xp.asarray(a) == 0
        x = Where()(at_zero, 1, _input(node, 0, a))   # 1 where masked: no 0 / 0 in the masked branch's derivatives
        ga = sum_to(Mul()(g, Where()(at_zero, _zero(g), Div()(_output(node, y), x))), _shape(a))
    return ga, _zeros_for(node, 1, b, g)


def _nextafter(node: Function, g: Tensor) -> tuple:
    """PyTorch's: ``g`` for x, 0 where x == y (the result is y there); zeros for y."""
    a, b, _ = node.saved
    same = node.xp.asarray(a) == b
    ga = sum_to(Where()(same, _zero(g), g), _shape(a)) if node.edges[0] is not None else None
    return ga, _zeros_for(node, 1, b, g)


BINARY.update(atan2=_atan2, fmod=_fmod, remainder=_remainder, xlogy=_xlogy, xlog1py=_xlog1py, hypot=_hypot,
              logaddexp2=_logaddexp2, fmax=_fmax, fmin=_fmin, copysign=_copysign, nextafter=_nextafter)


class PowerOfTwoScale(Function):
    """``g · 2^-e`` for a constant exponent array ``e`` (frexp's mantissa gradient, by ldexp so no power of two
    overflows on its own): linear in ``g``, its own adjoint."""

    name = "frexp_backward"

    def __init__(self, exponent: Any) -> None:
        self.exponent = exponent

    def forward(self, g: Any) -> Any:
        return self.xp.ldexp(g, -self.xp.asarray(self.exponent)).astype(g.dtype, copy=False)

    def backward(self, gy: Any) -> Any:
        return self.forward(gy)


@rule(Mantissa)
def _mantissa(node: Function, g: Tensor) -> Tensor:   # m = x · 2^-e with e constant (the exponent is not
    return PowerOfTwoScale(node.exponent)(g)           # differentiable): PyTorch's grad / exp2(e)


@rule(PowerOfTwoScale)
def _power_of_two_scale(node: Function, g: Tensor) -> Tensor:
    return PowerOfTwoScale(node.exponent)(g)


# --- unary math (math.Unary, by name: dy/dx from the input x and the output y, PyTorch's formulas) -------------------

_SQRT_PI, _SQRT_2PI = math.sqrt(math.pi), math.sqrt(2 * math.pi)


def _square_of(x: Tensor) -> Tensor:
    return Mul()(x, x)


def _acosh_slope(x: Tensor) -> Tensor:
    """PyTorch's 1/sqrt(x² - 1) for a real x; for a complex x the principal branch's 1/(sqrt(x - 1) sqrt(x + 1)),
    as the first-order backward (ops.special._acosh_slope): x + (-1) turns an imaginary part -0.0 into PyTorch's
    +0.0 (x - 1 would keep it, the other side of the cut)."""
    if x.dtype.kind != "c":
        return Div()(1, Sqrt()(Sub()(_square_of(x), 1)))
    return Div()(1, Mul()(Sqrt()(Add()(x, -1)), Sqrt()(Add()(x, 1))))


_UNARY.update({
    "tan": lambda x, y: Add()(1, _square_of(y)),
    "asin": lambda x, y: Div()(1, Sqrt()(Sub()(1, _square_of(x)))),
    "acos": lambda x, y: Div()(-1, Sqrt()(Sub()(1, _square_of(x)))),
    "atan": lambda x, y: Div()(1, Add()(_square_of(x), 1)),
    "sinh": lambda x, y: cosh(x),
    "cosh": lambda x, y: sinh(x),
    "asinh": lambda x, y: Div()(1, Sqrt()(Add()(_square_of(x), 1))),
    "acosh": lambda x, y: _acosh_slope(x),
    "atanh": lambda x, y: Div()(1, Sub()(1, _square_of(x))),
    "erfc": lambda x, y: Mul()(-2 / _SQRT_PI, Exp()(Neg()(_square_of(x)))),
    "erfinv": lambda x, y: Mul()(_SQRT_PI / 2, Exp()(_square_of(erfinv(x)))),   # from x, as PyTorch's
    "erfcx": lambda x, y: Sub()(Mul()(Mul()(2, x), y), 2 / _SQRT_PI),
    "ndtr": lambda x, y: Div()(Exp()(Mul()(-0.5, _square_of(x))), _SQRT_2PI),
    "log_ndtr": lambda x, y: Div()(Exp()(Sub()(Mul()(-0.5, _square_of(x)), y)), _SQRT_2PI),
    "ndtri": lambda x, y: Mul()(_SQRT_2PI, Exp()(Mul()(0.5, _square_of(y)))),
    "entr": lambda x, y: Neg()(Add()(1, Log()(x))),
    "i0": lambda x, y: i1(x),
    "i0e": lambda x, y: Sub()(i1e(x), Mul()(_sign_of(x), y)),
    "i1": lambda x, y: _at_zero_half(x, lambda safe: Sub()(i0(safe), Div()(y, safe))),
    "i1e": lambda x, y: _at_zero_half(x, lambda safe: Sub()(i0e(safe), Mul()(y, Add()(_sign_of(x), Div()(1, safe))))),
    "lgamma": lambda x, y: polygamma(0, x),
    "frac": lambda x, y: 1,
})


def _at_zero_half(x: Tensor, slope: Any) -> Tensor:
    """i1's and i1e's derivative: ``slope(safe)`` with x = 0 read as 1 (no 0/0 there), and ½ at 0, as the engine's."""
    zero = x.data == 0
    return Where()(zero, 0.5, slope(Where()(zero, 1, x)))


def _sign_of(x: Tensor) -> Any:
    """sign(x) as a constant array (a step function: its derivative is 0)."""
    return (x.data > 0).astype(x.dtype) - (x.data < 0)


def _polygamma(node: Function, x: Tensor, y: Tensor) -> Tensor:
    """digamma = polygamma(0, ·) and polygamma(n, ·): the derivative is polygamma(n + 1, x). The order n is the one
    the op's function closes over (``gamma.polygamma`` makes both ops)."""
    free = node.fn.__code__.co_freevars
    order = node.fn.__closure__[free.index("n")].cell_contents
    return polygamma(order + 1, x)


UNARY_OF_NODE.update(digamma=_polygamma, polygamma=_polygamma)


@rule(Sinc)
def _sinc(node: Function, g: Tensor) -> Tensor:
    """The engine's slope (ops/special._sinc_slope): π (t cos t - sin t) / t² with t = πx, its series
    π Σₖ (-1)ᵏ 2k/(2k+1)! t^(2k-1) below |t| = 1; 0 at x = 0. Each piece reads a safe x where the other is used,
    so nothing there is 0/0 in a later derivative."""
    (x,) = node.saved
    xp = node.xp
    near = xp.abs(x * math.pi) < 1
    x_t = _input(node, 0, x)
    safe = Where()(near, 1, x_t)
    scaled = Mul()(safe, math.pi)
    formula = Div()(Sub()(Mul()(scaled, Cos()(scaled)), Sin()(scaled)), Mul()(scaled, safe))
    t = Mul()(Where()(near, x_t, 0), math.pi)
    square = Mul()(t, t)
    series = (-1) ** 10 * 20 / math.factorial(21)
    for k in range(9, 0, -1):
        series = Add()(Mul()(square, series), (-1) ** k * 2 * k / math.factorial(2 * k + 1))
    slope = Where()(near, Mul()(Mul()(t, series), math.pi), formula)
    return Where()(x == 0, _zero(g), Mul()(g, slope))


@rule(Logit)
def _logit(node: Function, g: Tensor) -> Tensor:
    """g / (x (1 - x)); NaN outside [0, 1] without eps, 0 where eps clamps x (flat), as the engine's."""
    (x,) = node.saved
    x_t = _input(node, 0, x)
    if node.eps is None:
        outside, fill = (x < 0) | (x > 1), g.dtype.type("nan")
    else:
        outside, fill = (x < node.eps) | (x > 1 - node.eps), _zero(g)
    safe = Where()(outside, 0.5, x_t)
    return Where()(outside, fill, Div()(g, Mul()(safe, Sub()(1, safe))))


def _lerp_half(node: Function, g: Tensor) -> tuple:
    """Float16 lerp's gradients as its first-order backward (``Lerp._half_backward``) computes them: each product
    in float32 rounded to float16, each sum in float32 rounded once (a weight tensor's ``1 - w`` and ``end - start``
    rounded too)."""
    start, end, w = node.saved
    single, half = FLOAT32, FLOAT16

    def rounded(t: Tensor) -> Tensor:
        return AsType(single)(AsType(half)(t))

    def summed(t: Tensor, shape: tuple) -> Tensor:
        return AsType(half)(sum_to(rounded(t), shape))

    g = AsType(single)(g)
    weighted = len(node.edges) > 2
    w_t = AsType(single)(_input(node, 2, w)) if weighted else w
    one_minus = rounded(Sub()(1, w_t)) if weighted else 1 - w
    grads = [summed(Mul()(g, one_minus), _shape(start)) if node.edges[0] is not None else None,
             summed(Mul()(g, w_t), _shape(end)) if node.edges[1] is not None else None]
    if weighted:
        diff = Sub()(AsType(single)(_input(node, 1, end)), AsType(single)(_input(node, 0, start)))
        grads.append(summed(Mul()(g, rounded(diff)), _shape(w)) if node.edges[2] is not None else None)
    return tuple(grads)


@rule(Lerp)
def _lerp(node: Function, g: Tensor) -> tuple:
    if node.half and g.dtype == "float16":
        return _lerp_half(node, g)
    start, end, w = node.saved
    w_t = _input(node, 2, w) if len(node.edges) > 2 else w
    ga = sum_to(Mul()(g, Sub()(1, w_t)), _shape(start)) if node.edges[0] is not None else None
    gb = sum_to(Mul()(g, w_t), _shape(end)) if node.edges[1] is not None else None
    if len(node.edges) == 2:
        return ga, gb
    gw = None
    if node.edges[2] is not None:
        gw = sum_to(Mul()(g, Sub()(_input(node, 1, end), _input(node, 0, start))), _shape(w))
    return ga, gb, gw


@rule(LogCumSumExp)
def _logcumsumexp(node: Function, g: Tensor) -> Tensor:
    """grad[k] = Σ_{i>=k} g[i] · exp(x[k] - y[i]), as exp(x[k] - m) · (a cumsum from the right of g · exp(m - y)),
    m each line's largest x (its real part: a constant shift). Complex x: both factors conjugated (PyTorch's
    g · conj(f'(z)), as the first-order backward)."""
    x, y = node.saved
    if x.size == 0:
        return _zeros(x.shape, g)
    axis = node.axis
    shift = x.real.max(axis=axis, keepdims=True)
    x_t, y_t = _input(node, 0, x), _output(node, y)
    left, right = Exp()(Sub()(x_t, shift)), Exp()(Sub()(shift, y_t))
    return Mul()(_conj(left), _reversed_cumsum(Mul()(g, _conj(right)), axis))


@rule(MedianAll, NanMedianAll)   # nanmedian(): the median of the non-NaN elements, the same ties rule
def _median_all(node: Function, g: Tensor) -> Tensor:
    x, y = node.saved
    xp = node.xp
    ties = (x == y) | (xp.isnan(x) & xp.isnan(y)) if x.dtype.kind == "f" else x == y
    count = max(int(ties.sum()), 1)
    return _select(ties, _unreduce(Div()(g, count), x.shape, None, False))


@rule(FakeQuantize)
def _fake_quantize(node: Function, g: Tensor) -> tuple:   # straight-through: g where q was in range, as PyTorch's
    keep, = node.saved
    return _select(keep, g), None, None


# --- rearranging and indexing: each rule is the op's adjoint ---------------------------------------------------------

@rule(Flip)
def _flip(node: Function, g: Tensor) -> Tensor:
    return Flip(node.axes)(g)


@rule(Roll)
def _roll(node: Function, g: Tensor) -> Tensor:
    return Roll(tuple(-s for s in node.shifts), node.axes)(g)


@rule(Triangle)
def _triangle(node: Function, g: Tensor) -> Tensor:
    return Triangle(node.k, node.upper)(g)


@rule(Diagonal)
def _diagonal(node: Function, g: Tensor) -> Tensor:
    return DiagEmbed(node.offset, node.axis1, node.axis2, node.in_shape)(g)


@rule(DiagEmbed)
def _diag_embed(node: Function, g: Tensor) -> Tensor:
    return Diagonal(node.offset, node.axis1, node.axis2)(g)


@rule(Gather)
def _gather(node: Function, g: Tensor) -> Tensor:
    if node.squeeze:
        g = Reshape(tuple(node.index.shape))(g)
    return Scatter(node.axis, node.index, True)(_zeros(node.in_shape, g), g)   # scatter_add into zeros


@rule(Scatter)
def _scatter(node: Function, g: Tensor) -> tuple:
    gx = gsrc = None
    if node.edges[0] is not None:   # all of g for scatter_add; with the written places zeroed for scatter
        gx = g if node.add else Scatter(node.axis, node.index, False)(g, 0.0)
    if node.edges[1] is not None:   # g gathered at index, into the leading part of src
        picked = Gather(node.axis, node.index)(g)
        if node.src_shape == ():
            gsrc = Sum(None, False)(picked)
        elif tuple(node.src_shape) != tuple(node.index.shape):
            gsrc = IndexBackward(node.src_shape, tuple(slice(0, n) for n in node.index.shape))(picked)
        else:
            gsrc = picked
    return gx, gsrc


# --- ops defined in nn (by name: minigrad never imports nn) ----------------------------------------------------------

def _constant_pad(node: Function, g: Tensor) -> Tensor:
    # a C-contiguous copy of the inner part, as PyTorch's backward (a pad by the negated widths) gives: not a strided
    # view into g (``autograd.grad(..., create_graph=True)[0].view(n, -1)`` works, as in PyTorch)
    return Clone()(GetItem(node.inner)(g))


class FrequencyScaled(Function):
    """``g`` times each row's share (1 / its index's count, ``scale_grad_by_freq``) with PyTorch's derivative: the
    identity (its ``embedding_dense_double_backward`` ignores the frequency scale). The lookup's own backward scales
    again on the way back to the table, so a second derivative through the looked-up rows has the scale once, as
    PyTorch's (and as the finite differences of the first derivative)."""

    name = "embedding_frequency_scale"

    def __init__(self, share: Any) -> None:
        self.share = share

    def forward(self, g: Any) -> Any:
        return g * self.share

    def backward(self, gg: Any) -> Any:
        return gg


@rule(FrequencyScaled)
def _frequency_scaled(node: Function, g: Tensor) -> Tensor:
    return g


def _embedding(node: Function, g: Tensor) -> Tensor:
    """The rows of ``g`` added into the table's rows (repeated indices accumulate), as EmbeddingLookup.backward:
    none into ``padding_idx``; each over its index's count with ``scale_grad_by_freq`` (see FrequencyScaled).
    Forward AD's walk keeps ``padding_idx``'s rows: PyTorch's jvp is the plain lookup of the tangent (the padding
    row's output is that row, so its tangent is the tangent's row), while its (double) backward masks them."""
    xp, indices = node.xp, node.indices
    if node.padding_idx is not None and not _forward_ad_walk():
        g = Mul()(g, (indices != node.padding_idx).astype(g.dtype)[..., None])
    if node.scale_grad_by_freq:
        counts = xp.bincount(indices.reshape(-1), minlength=node.weight_shape[0])
        g = FrequencyScaled((1 / counts[indices]).astype(g.dtype)[..., None])(g)
    return IndexBackward(node.weight_shape, indices)(g)


def _contiguous_gradient(node: Function, g: Tensor) -> Tensor:
    # nn's marker of an op PyTorch computes in one kernel: the gradient C-contiguous (a copy only where it is not)
    return g if g.data.flags.c_contiguous else Clone()(g)


def _format_gradient(node: Function, g: Tensor) -> Tensor:
    # nn's marker of a kernel that allocates its grad_input channels-last (group_norm's of a channels-last input):
    # with create_graph PyTorch's differentiable formula runs instead, whose gradient follows the ops' layouts
    return g


def _fold(node: Function, g: Tensor) -> Tensor:
    """col2im (conv_transpose's last step): its adjoint is im2col of the gradient, zero-padded (nn's Unfold, Fold's
    base class), whose own rule is col2im again; shaped back as the columns that came in."""
    unfold = type(node).__mro__[1](node.kernel, node.stride, node.dilation, node.padding, 0.0, node.out_size)
    columns = unfold(g)
    edge = node.edges[0]
    shape = edge[0].out_meta[edge[1]][0] if type(edge) is tuple else tuple(edge.shape)
    return Reshape(tuple(shape))(columns) if tuple(columns.shape) != tuple(shape) else columns


def _spread_loss_gradient(node: Function, g: Tensor) -> Tensor:
    """``g`` of a loss op that reduces inside (nn's ``_ReducedLoss``: 'mean' or 'sum') spread over the loss's
    shape (divided by its size for the mean), as the op's backward spreads it; 'none': ``g`` itself."""
    if node.reduction == "none":
        return g
    count = math.prod(node.loss_shape)
    return BroadcastTo(tuple(node.loss_shape))(Div()(g, count) if node.reduction == "mean" and count else g)


def _binary_cross_entropy(node: Function, g: Tensor) -> tuple:
    """nn's binary_cross_entropy op (its gradients are PyTorch's hand-written ones, not the clamped loss's
    derivative), written with Tensor ops of x, y and w: x gets w·(x - y) / max(x(1 - x), ε), y gets
    -w·logit(x) = w·(log(1 - x) - log x), w gets the unweighted loss, a new node of the op itself, so that its
    derivatives are the same hand-written slopes and the mixed second derivatives agree. Within ε of 0 and 1
    the floor is a constant here (PyTorch's double backward drops it there instead)."""
    x, y, _, *weight = node.saved
    g = _spread_loss_gradient(node, g)
    x_t, y_t = _as_tensor(_input(node, 0, x)), _as_tensor(_input(node, 1, y))
    w_t = _input(node, 2, weight[0]) if weight else None
    gx = gy = gw = None
    with backend.errstate(node.xp, divide="ignore", invalid="ignore"):   # log 0 and 1/0 at x = 0 and 1, as PyTorch
        if node.edges[0] is not None:
            floor = Clip(True, False)(Mul()(x_t, Sub()(1, x_t)), node.epsilon)
            slope = Div()(Sub()(x_t, y_t), floor)
            gx = Mul()(g, Mul()(w_t, slope) if weight else slope)
        if node.edges[1] is not None:
            gy = Mul()(Mul()(g, w_t) if weight else g, Sub()(log1p(Neg()(x_t)), Log()(x_t)))
        if weight and node.edges[2] is not None:
            gw = Mul()(g, type(node)()(x_t, y_t))
    return (gx, gy, gw) if weight else (gx, gy)


def _binary_cross_entropy_with_logits(node: Function, g: Tensor) -> tuple:
    """nn's binary_cross_entropy_with_logits op: PyTorch's backward formulas (its FunctionsManual's, not the loss's
    derivative) written with Tensor ops of x, y, w and p, so that their derivatives are PyTorch's double backward:
    x gets ((p·y + 1 - y)·σ(x) - p·y)·g·w, y gets (log σ(-x) - p·log σ(x))·g·w (-x·g·w without p), w a new node
    of the op unweighted, times g, p -y·log σ(x)·g·w; each in its input's dtype."""
    x, y, w, p, _ = node.saved
    g = _spread_loss_gradient(node, g)
    x_t, y_t = _as_tensor(_input(node, 0, x)), _as_tensor(_input(node, 1, y))
    w_t = _input(node, 2, w) if node.weighted else None
    p_t = _input(node, len(node.edges) - 1, p) if node.positive else None

    def times_g_w(slope: Tensor, dtype: Any) -> Tensor:
        return _kept(Mul()(slope, g) if w_t is None else Mul()(Mul()(slope, g), w_t), dtype)

    def log_sigmoid(t: Tensor) -> Tensor:
        return Neg()(logaddexp(Neg()(t), 0.0))

    grads = [None] * len(node.edges)
    with backend.errstate(node.xp, over="ignore", invalid="ignore"):   # inf - inf, 0·inf: NaN, as PyTorch
        if node.edges[0] is not None:
            if p_t is None:
                slope = Sub()(Sigmoid()(x_t), y_t)
            else:
                t = Mul()(p_t, y_t)
                slope = Sub()(Mul()(Sub()(Add()(t, 1), y_t), Sigmoid()(x_t)), t)
            grads[0] = times_g_w(slope, x.dtype)
        if node.edges[1] is not None:
            if p_t is None:
                gy = Mul()(Neg()(x_t), g)
            else:   # PyTorch's in-place steps here, in grad mode too: each in x's dtype
                slope = Sub()(log_sigmoid(Neg()(x_t)), _kept(Mul()(log_sigmoid(x_t), p_t), x.dtype))
                gy = _kept(Mul()(_kept(slope, x.dtype), g), x.dtype)
            grads[1] = _kept(gy if w_t is None else _kept(Mul()(gy, w_t), gy.dtype), y.dtype)
        if w_t is not None and node.edges[2] is not None:
            unweighted = type(node)(False, node.positive)(x_t, y_t, *(() if p_t is None else (p_t,)))
            grads[2] = _kept(Mul()(g, unweighted), w.dtype)
        if p_t is not None and node.edges[-1] is not None:
            grads[-1] = times_g_w(Neg()(Mul()(y_t, log_sigmoid(x_t))), p.dtype)
    return tuple(grads)


def _kept(t: Tensor, dtype: Any) -> Tensor:
    """``t`` in ``dtype`` (itself if it is already)."""
    return t if t.dtype == dtype else AsType(dtype)(t)


def _as_tensor(value: Any) -> Tensor:
    """An input that has no edge (a constant array) as a Tensor without a graph."""
    return value if isinstance(value, Tensor) else Tensor._make(value, False, None, 0)


def _module_output_grads(node: Any, grads: list) -> tuple:
    """nn's full backward hooks (``nn.hooks.OutputGrads``, on a module's outputs): the backward pre-hooks on
    ``grad_output``, kept for the input side; as the node's backward, with gradient Tensors that have graphs."""
    grad_output = node._run("backward_pre", _spread(node, grads))
    if node.grads.get("inputs_watched"):   # for the input side, until its hooks ran
        node.grads["grad_output"] = grad_output
    else:   # no input needs a gradient: the hooks run here
        node._run("backward", (None,) * node.grads["n_inputs"], grad_output)
    return tuple(grad_output[i] for i in node.places) + node.link_grads(grad_output)   # then the watched inputs


def _module_input_grads(node: Any, grads: list) -> tuple:
    """nn's full backward hooks on a module's inputs (``nn.hooks.InputGrads``): ``hook(module, grad_input,
    grad_output)``, as the node's backward, with gradient Tensors; once per ``grad_output`` the output side
    kept (none: a double backward's gradient, handed on as it is, as PyTorch's)."""
    grad_output = node.grads.pop("grad_output", None)
    if grad_output is None:
        return tuple(grads)
    grad_input = list(_spread(node, grads))
    for i, tensor in node.grads.get("constants", ()):
        grad_input[i] = _zeros(tuple(tensor.shape), tensor)
    grad_input = node._run("backward", tuple(grad_input), grad_output)
    return tuple(grad_input[i] for i in node.places)


def _spread(node: Any, grads: list) -> tuple:
    """One gradient (or None) per argument (output) of the module: the node's inputs sit at ``node.places``."""
    full: list = [None] * node.length
    for i, g in zip(node.places, grads):
        full[i] = g
    return tuple(full)


def _silu(node: Function, g: Tensor) -> Tensor:
    """nn's ``SiLU`` (x · σ(x)): PyTorch's g · σ · (1 + x · (1 - σ)), in the engine's order."""
    x = _input(node, 0, node.saved[0])
    s = Sigmoid()(x)
    return Mul()(Mul()(g, s), Add()(1, Mul()(x, Sub()(1, s))))


def _hard_piecewise(node: Function, g: Tensor) -> Tensor:
    """nn's ``HardPiecewise`` (hardtanh, hardsigmoid, hardswish): its first-order backward with ``g`` on the graph;
    hardswish's middle piece reads x through a clamp, as (g/6)(m + 3) + (g/6) m, m = clamp(x, -3, 3)."""
    x = node.saved[0]
    if node.name == "hardtanh":   # PyTorch's double backward reads x again (hardtanh_backward(gg, self)): ReadsInput
        return reads_input(node, 0, _select((x <= node.low) | (x >= node.high), _zero(g), g), x, again=True)
    inside = (x > -3) & (x < 3)
    if node.name == "hardsigmoid":
        return reads_input(node, 0, _select(inside, Div()(g, 6)), x, again=True)   # as hardtanh's
    part, m = Div()(_select(inside, g), 6), Clip(True, True)(_input(node, 0, x), -3.0, 3.0)
    middle = _select((x >= -3) & (x <= 3), Add()(Mul()(part, Add()(m, 3)), Mul()(part, m)))   # the clamp's pass
    return Add()(Where()(x <= -3, Mul()(g, 0.0), _select(~(x < 3), g)), middle)   # NaN too


def _mish(node: Function, g: Tensor) -> Tensor:
    """nn's ``Mish`` (x · tanh(softplus(x))): PyTorch's g · (t + x · σ(x) · (1 - t²)), t = tanh(softplus(x))."""
    x = _input(node, 0, node.saved[0])
    t = Tanh()(logaddexp(x, 0.0))
    return Mul()(g, Add()(t, Mul()(Mul()(x, Sigmoid()(x)), Sub()(1, Mul()(t, t)))))


def _gelu(node: Function, g: Tensor) -> Any:
    """nn's ``Gelu`` (x · Φ(x)): PyTorch's g · (Φ + x · φ(x)), Φ from x again (the exact one's saved Φ is a
    constant of the node: here it depends on x), φ the standard normal density; Φ ≈ σ(2u) in the tanh form."""
    x = _input(node, 0, node.saved[0])
    if node.approximate == "tanh":
        scale, cubic = math.sqrt(2 / math.pi), 0.044715
        s = Sigmoid()(Mul()(2, Mul()(scale, Add()(x, Mul()(cubic, Mul()(_square_of(x), x))))))
        slope_u = Mul()(scale, Add()(1, Mul()(3 * cubic, _square_of(x))))
        return Mul()(g, Add()(s, Mul()(Mul()(x, Mul()(Mul()(2, s), Sub()(1, s))), slope_u)))
    cdf = Mul()(0.5, erfc(Mul()(x, -1 / math.sqrt(2.0))))
    density = Div()(Exp()(Mul()(-0.5, _square_of(x))), _SQRT_2PI)
    return Mul()(g, Add()(cdf, Mul()(x, density))), None


def _batch_norm(node: Function, grads: list) -> tuple:
    """nn's ``BatchNorm`` (training mode, PyTorch's native_batch_norm): its backward with ``g`` and the inputs on the
    graph, the batch's statistics computed again from x (they depend on it): dx = (g - mean(g) - x̂ · mean(g · x̂))
    · invstd · weight, dweight = Σ g · x̂, dbias = Σ g, x̂ = (x - mean) · invstd. Its other outputs (the moved
    running estimates) are read under no_grad only: their gradients are None, and the running estimates get none."""
    g = grads[0]
    if g is None:
        return (None,) * len(node.edges)
    x_array, weight = node.saved[0], node.saved[3]
    axes, shape = (0, *range(2, x_array.ndim)), (1, x_array.shape[1]) + (1,) * (x_array.ndim - 2)
    x = _input(node, 0, x_array)
    centered = Sub()(x, Mean(axes, True)(x))
    invstd = Div()(1, Sqrt()(Add()(Mean(axes, True)(Mul()(centered, centered)), node.eps)))
    normalized = Mul()(centered, invstd)
    scaled = Mul()(g, normalized)
    gx = None
    if node.edges[0] is not None:
        gx = Mul()(Sub()(Sub()(g, Mean(axes, True)(g)), Mul()(normalized, Mean(axes, True)(scaled))), invstd)
        if weight is not None:
            gx = Mul()(gx, Reshape(shape)(_input(node, len(node.edges) - 1 - node.has_bias, weight)))
    out = [gx, None, None, None, None] if node.tracks else [gx, None, None]   # eps, momentum, running estimates
    if node.has_weight:
        out.append(Sum(axes, False)(scaled) if node.edges[len(out)] is not None else None)
    if node.has_bias:
        out.append(Sum(axes, False)(g) if node.edges[-1] is not None else None)
    return tuple(out)


def _batch_norm_eval(node: Function, g: Tensor) -> tuple:
    """nn's ``BatchNormEval`` (native_batch_norm with the running estimates): dx = g · invstd · weight, tied to x
    with no second derivative (PyTorch's backward takes x, but the op is linear in it: "not used", as the composed
    ops' division was marked), dweight = Σ g · (x - running_mean) · invstd, dbias = Σ g."""
    x_array, running_mean, invstd, weight = node.saved
    axes, shape = (0, *range(2, x_array.ndim)), (1, x_array.shape[1]) + (1,) * (x_array.ndim - 2)
    invstd = invstd.reshape(shape)
    weight_at = len(node.edges) - 1 - node.has_bias
    scale = invstd if weight is None else Mul()(Reshape(shape)(_input(node, weight_at, weight)), invstd)
    out = [reads_input(node, 0, Mul()(g, scale), x_array, unused=True) if node.edges[0] is not None else None,
           None, None, None]   # eps and the running estimates
    if node.has_weight:
        normalized = Mul()(Sub()(_input(node, 0, x_array), running_mean.reshape(shape)), invstd)
        out.append(Sum(axes, False)(Mul()(g, normalized)) if node.edges[weight_at] is not None else None)
    if node.has_bias:
        out.append(Sum(axes, False)(g) if node.edges[-1] is not None else None)
    return tuple(out)


def _exponential_linear(node: Function, g: Tensor) -> Tensor:
    """nn's ``ExponentialLinear`` (elu, celu, selu): g · scale for x > 0, else g · scale · α · s · e^{x·s} (s the
    input scale), the exponential read from x where x < 0 (NaN too) and a constant 1 at 0 and above: no curvature
    at 0 itself, as PyTorch's double backward (its x < 0)."""
    x = node.saved[0]
    positive, below = x > 0, ~(x >= 0)   # (NaN is below: its NaN slope stays NaN)
    read = Where()(below, _input(node, 0, x), _zero_like(x))
    slope = Mul()(Exp()(Mul()(read, node.input_scale)), node.scale * node.alpha * node.input_scale)
    return Where()(positive, Mul()(g, node.scale) if node.scale != 1 else g, Mul()(g, slope))


def _zero_like(x: Any) -> Any:
    return x.dtype.type(0)


def _log_sigmoid(node: Function, g: Tensor) -> Tensor:
    """nn's ``LogSigmoid``: g · σ(-x), x on the graph."""
    return Mul()(g, Sigmoid()(Neg()(_input(node, 0, node.saved[0]))))


def _glu(node: Function, g: Tensor) -> Tensor:
    """nn's ``Glu``: g · σ(b) for a, g · a · σ(b) · (1 - σ(b)) for b (a, b the halves of x), joined."""
    x = _input(node, 0, node.saved[0])
    half = x.shape[node.axis] // 2
    before = (slice(None),) * node.axis
    a, b = GetItem((*before, slice(0, half)))(x), GetItem((*before, slice(half, None)))(x)
    s = Sigmoid()(b)
    return Concat(node.axis)(Mul()(g, s), Mul()(Mul()(Mul()(g, a), s), Sub()(1, s)))


def _leaky_relu(node: Function, g: Tensor) -> Tensor:
    """nn's ``LeakyRelu``: g for x > 0, else g · slope; x gets zeros (it picks the piece), and PyTorch's double
    backward reads x again (``leaky_relu_backward(gg, self)``): ReadsInput with ``again``."""
    x = node.saved[0]
    return reads_input(node, 0, Where()(x > 0, g, Mul()(g, node.negative_slope)), x, again=True)


def _softplus(node: Function, g: Tensor) -> Tensor:
    """nn's ``Softplus``: g where βx > threshold, else g · σ(βx), σ read from x where βx < threshold or NaN
    (PyTorch's double backward masks with βx < threshold: at the threshold itself a constant)."""
    x = node.saved[0]
    scaled = x * node.beta
    read = Where()(~(scaled >= node.threshold), Mul()(_input(node, 0, x), node.beta), scaled)   # NaN reads x
    return Where()(scaled > node.threshold, g, Mul()(g, Sigmoid()(read)))


def _mse_loss(node: Function, g: Tensor) -> tuple:
    """nn's ``MseLoss``: x gets 2 · g · (x - y) (g / N for the mean), y its negation, with x and y on the graph."""
    x, y = node.saved
    difference = Sub()(_input(node, 0, x), _input(node, 1, y))
    if node.reduction == "mean" and x.size:
        g = Div()(g, x.size)
    gx = Mul()(Mul()(g, difference), 2)
    return (gx if node.edges[0] is not None else None), (Neg()(gx) if node.edges[1] is not None else None)


def _nll_loss(node: Function, g: Tensor) -> tuple:
    """nn's ``NllLoss``: -g · w[t] at each kept row's target (g / Σ w for the mean: ±inf or NaN when that is 0),
    zeros elsewhere, linear in g; log_probs gets zeros (ReadsInput: PyTorch's backward takes it)."""
    log_probs, safe, kept, scale, denominator = node.saved
    if node.reduction == "none":
        g = Reshape((safe.shape[0],))(g)
    elif node.reduction == "mean":
        with backend.errstate(node.xp, divide="ignore", invalid="ignore"):
            g = Div()(g, denominator)
    picked = Where()(kept, Mul()(Neg()(g), scale), _zero_like(log_probs))
    targets, shape = node.target_mask(node.xp, log_probs, safe)   # (in log_probs' shape, as the op's backward)
    grad = Where()(targets, Reshape(shape)(picked), _zero_like(log_probs))
    return (reads_input(node, 0, grad, log_probs), None, None) + ((None,) if node.weighted else ())


def _piecewise_quadratic(node: Function, g: Tensor) -> tuple:
    """nn's ``_PiecewiseQuadratic`` (smooth_l1_loss, huber_loss): x gets g · d/β (huber: g · d) where |d| < β, else
    g · sign(d) (· δ), a constant there; y its negation. d read from x and y where near; a NaN d is not (sign(d)
    is NaN: the same NaN value, and no curvature, as PyTorch's double backward masks with |d| < β)."""
    x, y = node.saved
    g = _spread_loss_gradient(node, g)
    difference = x - y
    far = ~(node.xp.abs(difference) < node.limit)
    near = Sub()(_input(node, 0, x), _input(node, 1, y))
    inside = near if node.huber else Div()(near, node.limit)
    outside = node.xp.sign(difference) * node.limit if node.huber else node.xp.sign(difference)
    gx = Mul()(g, Where()(far, outside, inside))
    return (gx if node.edges[0] is not None else None), (Neg()(gx) if node.edges[1] is not None else None)


def _prelu_kernel(node: Function, g: Tensor) -> tuple:
    """nn's ``PreluKernel``: its backward as an op on the graph (nn's ``PreluKernelBackward``, PyTorch's
    _prelu_kernel_backward), the weight's gradient summed to the weight's shape."""
    x, weight = node.saved
    gx, gw = node.backward_op()(g, _input(node, 0, x), _input(node, 1, weight))
    return (gx if node.edges[0] is not None else None), (sum_to(gw, weight.shape) if node.edges[1] is not None
                                                         else None)


def _prelu_kernel_backward(node: Function, grads: list) -> tuple:
    """nn's ``PreluKernelBackward``: PyTorch's double backward of prelu composed of ops (x ≥ 0 picks the piece,
    where the first-order backward reads x > 0): g gets where(x ≥ 0, gg0, gg0 · weight + gg1 · x), x gets
    where(x ≥ 0, 0, g · gg1), the weight where(x ≥ 0, 0, g · gg0) summed to its shape."""
    g_array, x_array, weight_array = node.saved
    gg0, gg1 = grads
    kept = x_array >= 0
    g, x, weight = (_input(node, i, value) for i, value in enumerate(node.saved))
    zero = _zero_like(x_array)
    inner = None if gg0 is None else Mul()(gg0, weight)
    if gg1 is not None:
        inner = Mul()(gg1, x) if inner is None else Add()(inner, Mul()(gg1, x))
    dg = dx = dweight = None
    if node.edges[0] is not None:
        dg = sum_to(Where()(kept, zero if gg0 is None else gg0, inner), g_array.shape)
    if node.edges[1] is not None:   # (zeros without the gradient it multiplies, as PyTorch's zeros_like)
        dx = Where()(kept, zero, Mul()(g, gg1)) if gg1 is not None else _zeros(x_array.shape, g)
    if node.edges[2] is not None:
        dweight = (sum_to(Where()(kept, zero, Mul()(g, gg0)), weight_array.shape) if gg0 is not None
                   else _zeros(weight_array.shape, g))
    return dg, dx, dweight


def _normalized_on_graph(x: Tensor, axes: tuple, eps: float) -> tuple:
    """(x̂, rstd) of ``x`` over ``axes`` as ops, for the create_graph rules of nn's LayerNorm and GroupNorm (the
    statistics depend on x, so they are computed again on the graph): x̂ = (x - mean) · rstd, rstd = 1/√(biased
    variance + eps), both with ``axes`` kept as size-1 dims."""
    centered = Sub()(x, Mean(axes, True)(x))
    rstd = Div()(1, Sqrt()(Add()(Mean(axes, True)(Mul()(centered, centered)), eps)))
    return Mul()(centered, rstd), rstd


def _group_norm(node: Function, g: Tensor) -> tuple:
    """nn's ``GroupNorm`` (PyTorch's native_group_norm): its backward with ``g`` and the inputs on the graph, the
    statistics computed again from x over each group (x as (N, groups, C/groups · ∏S)): x̂ = (x - mean) · rstd,
    ĝ = g · weight, dx = rstd · (ĝ - mean(ĝ) - x̂ · mean(ĝ · x̂)), dweight = Σ g · x̂, dbias = Σ g (over N and S)."""
    x_array, weight = node.saved[0], node.saved[3]
    # x's gradient follows PyTorch's composite double-backward path: TensorIterator over (g, x), so channels-last
    # only where both are (a C-order g, e.g. autograd.grad's grad_outputs, gives C order even for a channels-last x)
    channels_last_gradient = not (x_array.flags.c_contiguous or g.data.flags.c_contiguous)
    n, c = x_array.shape[:2]
    spatial = math.prod(x_array.shape[2:])   # (not -1: an empty x, N = 0 or a 0 in S, has no size to infer)
    grouped, channels = (n, node.groups, c // node.groups * spatial), (n, c, spatial)
    x = Reshape(grouped)(_input(node, 0, x_array))
    if x_array.dtype == "float16":   # in float32, as the op; each gradient in its input's dtype
        x, g = AsType(FLOAT32)(x), _kept(g, FLOAT32)
    normalized, rstd = _normalized_on_graph(x, (2,), node.eps)
    normalized, g = Reshape(channels)(normalized), Reshape(channels)(g)
    grads = [None, None]   # x, eps
    if node.edges[0] is not None:
        scaled = Reshape(grouped)(g if weight is None else Mul()(g, Reshape((c, 1))(_input(node, 2, weight))))
        # (a Reshape per use of x̂: one shared node would add up x̂'s gradients in another order, an ulp apart)
        projected = Mul()(Reshape(grouped)(normalized), Mean((2,), True)(Mul()(scaled, Reshape(grouped)(normalized))))
        gx = Mul()(Sub()(Sub()(scaled, Mean((2,), True)(scaled)), projected), rstd)
        grads[0] = _kept(Reshape(tuple(x_array.shape))(gx), x_array.dtype)
        if channels_last_gradient:
            grads[0] = Clone(channels_last if x_array.ndim == 4 else channels_last_3d)(grads[0])
    if node.has_weight:
        grads.append(_kept(Sum((0, 2), False)(Mul()(g, normalized)), weight.dtype) if node.edges[2] is not None
                     else None)
    if node.has_bias:
        grads.append(_kept(Sum((0, 2), False)(g), node.bias_dtype) if node.edges[-1] is not None else None)
    return tuple(grads)


def _layer_norm(node: Function, g: Tensor) -> tuple:
    """nn's ``LayerNorm`` (PyTorch's native_layer_norm): its backward with ``g`` and the inputs on the graph, the
    statistics computed again from x (they depend on it): x̂ = (x - mean) · rstd, ĝ = g · weight, dx = rstd · (ĝ -
    mean(ĝ) - x̂ · mean(ĝ · x̂)), dweight = Σ g · x̂, dbias = Σ g (over the leading dims); float16 in float32, as
    the op, each gradient in its input's dtype."""
    x_array, weight = node.saved[0], node.saved[3]
    lead = tuple(range(x_array.ndim - node.dims))
    axes = tuple(range(len(lead), x_array.ndim))
    x = _input(node, 0, x_array)
    if x_array.dtype == "float16":
        x, g = AsType(FLOAT32)(x), _kept(g, FLOAT32)
    normalized, rstd = _normalized_on_graph(x, axes, node.eps)

    def over_lead(t: Tensor) -> Tensor:
        return Sum(lead, False)(t) if lead else t

    grads = [None, None]   # x, eps
    if node.edges[0] is not None:
        scaled = g if weight is None else Mul()(g, _input(node, 2, weight))
        projected = Mul()(normalized, Mean(axes, True)(Mul()(scaled, normalized)))
        grads[0] = _kept(Mul()(Sub()(Sub()(scaled, Mean(axes, True)(scaled)), projected), rstd), x_array.dtype)
    if node.has_weight:
        grads.append(_kept(over_lead(Mul()(g, normalized)), weight.dtype) if node.edges[2] is not None else None)
    if node.has_bias:
        grads.append(_kept(over_lead(g), node.bias_dtype) if node.edges[-1] is not None else None)
    return tuple(grads)


LATE_RULES["nn.hooks.OutputGrads"] = _module_output_grads
LATE_RULES["nn.hooks.InputGrads"] = _module_input_grads
LATE_RULES["nn._padding.ConstantPad"] = _constant_pad
LATE_RULES["nn._gradient_layout.ContiguousGradient"] = _contiguous_gradient
LATE_RULES["nn._gradient_layout.FormatGradient"] = _format_gradient
LATE_RULES["nn._embedding.EmbeddingLookup"] = _embedding
LATE_RULES["nn._fold.Fold"] = _fold
LATE_RULES["nn._common_losses._BinaryCrossEntropy"] = _binary_cross_entropy
LATE_RULES["nn._common_losses._BinaryCrossEntropyWithLogits"] = _binary_cross_entropy_with_logits
LATE_RULES["nn._activations.SiLU"] = _silu
LATE_RULES["nn._activations.Mish"] = _mish
LATE_RULES["nn._activations.HardPiecewise"] = _hard_piecewise
LATE_RULES["nn._activations.Gelu"] = _gelu
LATE_RULES["nn._normalization.BatchNorm"] = _batch_norm
LATE_RULES["nn._normalization.BatchNormEval"] = _batch_norm_eval
LATE_RULES["nn._normalization.LayerNorm"] = _layer_norm
LATE_RULES["nn._normalization.GroupNorm"] = _group_norm
LATE_RULES["nn._normalization.InstanceNorm"] = _group_norm
LATE_RULES["nn._activations.ExponentialLinear"] = _exponential_linear
LATE_RULES["nn._activations.LeakyRelu"] = _leaky_relu
LATE_RULES["nn._activations.PreluKernel"] = _prelu_kernel
LATE_RULES["nn._activations.PreluKernelBackward"] = _prelu_kernel_backward
LATE_RULES["nn._activations.Softplus"] = _softplus
LATE_RULES["nn._activations.LogSigmoid"] = _log_sigmoid
LATE_RULES["nn._activations.Glu"] = _glu
LATE_RULES["nn._common_losses.MseLoss"] = _mse_loss
LATE_RULES["nn._targets.NllLoss"] = _nll_loss
LATE_RULES["nn._common_losses._PiecewiseQuadratic"] = _piecewise_quadratic


# --- fused and compiled nodes: refused with the way that works -------------------------------------------------

def _refuse(node: Function, why: str) -> NotImplementedError:
    scope = f" in scope {node.scope!r}" if node.scope else ""
    return NotImplementedError(f"create_graph=True: no higher-order gradient through {node.name}{scope}: {why}")


@rule(LSTMGates, GRUGates)
def _fused_gates(node: Function, g: Any) -> Any:
    raise _refuse(node, "the fused recurrent step saves only its activations; build the layer with fused=False "
                        "(its cell written with primitive ops supports create_graph=True), or leave "
                        "create_graph=False")


def _compiled(node: Function, g: Any) -> Any:
    raise _refuse(node, "a mg.compile'd call is one replay node without a higher-order rule; call the function "
                        "eagerly (uncompiled), which supports create_graph=True, or leave create_graph=False")


LATE_RULES["minigrad.capture.Replay"] = _compiled


# --- ops whose gradient to an input is zeros (PyTorch's zeros, or g · 0, differentiable again) -----------------------

@rule(_Ignored)
def _ignored(node: Function, g: Tensor) -> Tensor:   # addmm & co. with beta = 0: g · 0, NaN where g is inf or NaN
    return Mul()(g, _zero(g))


def _constant_zeros(node: Function, shape: tuple, dtype: Any) -> Tensor:
    return Tensor._make(node.xp.zeros(shape, dtype=dtype), False, None, 0)


@rule(ZeroGradientDraw)
def _zero_gradient_draw(node: Function, g: Tensor) -> tuple:   # normal(mean, std) & co.: no reparameterisation
    if not node.defined:
        node.backward(g.data)   # raises, as PyTorch's
    return (None, *(_constant_zeros(node, shape, dtype) for shape, dtype in node.params))


def _zero_gradients(node: Function, g: Tensor) -> tuple:   # torch.cond: the output, zeros to the other leaves read
    return (g, *(_constant_zeros(node, shape, dtype) for shape, dtype in node.leaf_meta))


LATE_RULES["minigrad.control_flow._ZeroGradients"] = _zero_gradients


# --- ops PyTorch cannot differentiate at all: the first-order backward's own error -----------------------------------

@rule(NotDifferentiable, NoDerivative, Geqrf, LDLFactor, LDLSolve)
def _not_differentiable(node: Function, g: Any) -> Any:   # heaviside, floor_divide, the Bessel functions, geqrf, ldl
    """The op's own first-order error (its message, not "no higher-order gradient"), as a NotImplementedError: a
    RuntimeError too, PyTorch's class in reverse mode, and the class forward AD (which runs this walk) expects."""
    grads = g if node.multiple else [g]
    try:
        node.backward(*[None if t is None else t.data for t in grads])
    except NotImplementedError:
        raise
    except RuntimeError as error:
        raise NotImplementedError(str(error)) from error
    raise _no_rule(node)


# --- ops whose backward PyTorch does not differentiate: the first derivative, refusing the second when used --------

class FirstOrderOnly(Function):
    """A gradient computed by an op's array backward, whose own derivative PyTorch does not have either (ctc_loss).
    Its inputs are that gradient's array, then what it depends on (the incoming gradient, the op's inputs), so any
    derivative that runs through it meets its backward, which raises PyTorch's RuntimeError (NotImplementedError in
    forward AD, as PyTorch's): ``create_graph=True`` gives the first derivative, and a second one through it fails,
    never a silent zero."""

    name = "first_order_only"

    def __init__(self, op: str) -> None:
        self.op = op

    def forward(self, gradient: Any, *depends_on: Any) -> Any:
        return gradient

    def backward(self, gg: Any) -> Any:
        raise NoSecondDerivative(f"derivative for {self.op}'s backward is not implemented (nor in PyTorch): its "
                                 "gradient cannot be differentiated again")


@rule(FirstOrderOnly)
def _first_order_only(node: Function, g: Tensor) -> Any:
    node.backward(g.data)   # raises


@rule(CTC)
def _ctc(node: Function, g: Tensor) -> tuple:
    log_probs = _input(node, 0, node.saved[0])
    return tuple(None if a is None else FirstOrderOnly(node.name)(a, g, log_probs) for a in node.backward(g.data))


@rule(GammaReparameterised)
def _standard_gamma(node: Function, g: Tensor) -> tuple:   # g · dx/dα: PyTorch differentiates the product, not dx/dα
    alpha, sample = node.saved
    slope = node.backward(node.xp.ones_like(sample))[0]
    return Mul()(g, FirstOrderOnly(node.name)(slope, _input(node, 0, alpha))), None


@rule(Zeta)
def _zeta(node: Function, g: Tensor) -> tuple:   # to q only, -s · ζ(s + 1, q), as the op's backward (and PyTorch's)
    s, q = node.saved
    gs = _NoGradientForA(node.name, "x") if node.edges[0] is not None else None   # raises only where it is used
    s_t = _input(node, 0, s)
    return gs, sum_to(Mul()(g, Neg()(Mul()(s_t, Zeta()(Add()(s_t, 1), _input(node, 1, q))))), q.shape)


# --- activation checkpointing: the function run again, recording, on the node's own inputs -----------------------

def _checkpoint(node: Function, grads: list) -> tuple:
    """``utils.checkpoint``'s node: the function runs again, as in the node's backward (same random streams), and
    ``grad(create_graph=True)`` of the recomputed outputs with respect to stand-ins for the node's inputs that are
    clones of them (:func:`_cloned_stand_ins`) gives gradients whose graphs reach those inputs, as torch's
    non-reentrant checkpoint gives."""
    from .autograd.functions import grad

    ys, nodes = node.saved[1].recompute()
    stand_ins = _cloned_stand_ins(node, nodes)
    pairs = [(y, g) for y, g in zip(ys, grads) if g is not None]
    wanted = [s for s in stand_ins if s is not None]
    if not pairs or not wanted:
        return (None,) * len(stand_ins)
    computed = iter(grad([y for y, _ in pairs], wanted, grad_outputs=[g for _, g in pairs], create_graph=True,
                         allow_unused=True))
    return tuple(None if s is None else next(computed) for s in stand_ins)


def _cloned_stand_ins(node: Function, nodes: list) -> list:
    """Point every edge of the recomputed ops ``nodes`` to a tensor outside at a clone of the checkpoint node's input
    it is: the gradient walk stops at the clone (the outside tensor's hooks run once, in the outer walk, not also
    here), and the clone's graph reaches the input, so the gradient can be differentiated again. The clones, one per
    input of ``node`` (None where the recomputation does not read it)."""
    segment, inside = node.saved[1], set(nodes)
    stand_ins: list = [None] * len(node.edges)
    for op in nodes:
        edges, changed = list(op.edges), False
        for j, edge in enumerate(edges):
            if edge is None or (type(edge) is tuple and edge[0] in inside):
                continue
            k = segment.input_index(edge)
            if k is None:
                segment._mismatch("the recomputation read a tensor that requires grad that the forward did not read "
                                  "(a tensor that requires grad made inside the function cannot be checkpointed)",
                                  nodes)
            if stand_ins[k] is None:
                # the node's own edge, not the recomputed op's: an outer checkpoint's create_graph rule may have
                # re-pointed it (at its clone of what the outer function read, e.g. another tensor's stand-in)
                source = node.edges[k]
                outside = source if isinstance(source, Tensor) else Tensor._make(
                    node.xp.zeros(source[0].out_meta[source[1]][0], dtype=segment.input_dtypes[k]), True, *source)
                stand_ins[k] = Clone()(outside)
            edges[j], changed = (stand_ins[k]._node, 0), True
        if changed:
            op.edges = tuple(edges)
            engine.mark_unordered(op)   # its clones are newer than it: a backward through it counts consumers
    return stand_ins


LATE_RULES["minigrad.utils.checkpoint._Checkpoint"] = _checkpoint


# --- PyTorch-style custom Functions: their own backward, recorded -------------------------------------------------

@rule(_CustomNode)
def _custom(node: Function, g: Any) -> tuple:
    return node.recorded_backward(g if node.multiple else [g])


@rule(DelayedError)
def _delayed_error(node: Function, g: Tensor) -> Tensor:
    raise RuntimeError(ONCE_DIFFERENTIABLE)


@rule(Flat)
def _flat(node: Function, g: Tensor) -> Tensor:   # floor, sign …: PyTorch's zeros_like(grad), a constant
    return _zeros(tuple(g.shape), g)


# --- complex values: PyTorch's convention (a gradient is dL/dz*), the FFTs, abs/angle ------------------------------
#
# A node with a complex value whose backward the engine adapts (``autograd.engine._complex_gate``) runs as the op's
# *complex variant* class, which needs a rule of its own for create_graph=True. Here: the variants of the linear
# ops (their rule is already right for complex values), of the holomorphic ops (PyTorch's ``g · conj(f'(z))`` is
# ``conj(rule(conj(g)))`` of the real rule), the complex views and parts, and the FFTs. A real input of an op with
# a complex output gets the real part of its gradient, as the engine's.

def _conj(g: Any) -> Any:
    return Conj()(g) if isinstance(g, Tensor) and g.dtype.kind == "c" else g


def _real_parts(node: Function, grads: Any) -> Any:
    """``grads`` with the real part taken for each real input of ``node`` (``node.real_inputs``, set by the gate)."""
    real = getattr(node, "real_inputs", ())
    if not any(real):
        return grads
    single = type(grads) is not tuple
    parts = tuple(Real()(g) if g is not None and r and g.dtype.kind == "c" else g
                  for g, r in zip((grads,) if single else grads, real))
    return parts[0] if single else parts


def _linear_variant(base: Any) -> Any:
    def complex_rule(node: Function, g: Any) -> Any:
        return _real_parts(node, base(node, g))
    return complex_rule


def _holomorphic_variant(base: Any) -> Any:
    def complex_rule(node: Function, g: Any) -> Any:
        grads = base(node, [_conj(x) for x in g] if type(g) is list else _conj(g))
        grads = tuple(_conj(x) for x in grads) if type(grads) is tuple else _conj(grads)
        return _real_parts(node, grads)
    return complex_rule


for _cls in (Add, Sub, Neg, Sum, Mean, Reshape, Transpose, GetItem, Concat, Stack, BroadcastTo, Clone, Where):
    RULES[_complex_variant(_cls)] = _linear_variant(RULES[_cls])
for _cls in (Mul, Div, Exp, Log, Sqrt, Sin, Cos, Tanh, MatMul):
    RULES[_complex_variant(_cls)] = _holomorphic_variant(RULES[_cls])
# the linear algebra marked holomorphic (the real rules of higher_order_arrays, built from ops with complex rules)
for _cls in (Inverse, Solve, TriangularSolve, Det, MatrixExp, Einsum):
    RULES[_complex_variant(_cls)] = _holomorphic_variant(RULES[_cls])
RULES[_complex_variant(EigenValues)] = RULES[EigenValues]   # a real A's eig (complex outputs): takes the real part


def _custom_complex(node: Function, g: Any) -> Any:
    """A custom Function's node as its complex variant (a real input of a complex output, or a Function declaring
    ``complex_grad = "holomorphic"``): its recorded backward, adapted as the engine's first-order variant does."""
    rule_ = _holomorphic_variant(_custom) if node.complex_mode == "holomorphic" else _linear_variant(_custom)
    return rule_(node, g)


RULES[_complex_variant(_CustomNode)] = _custom_complex


def _astype_complex(node: Function, g: Tensor) -> Tensor:
    """A cast's gradient cast back (the variant of a cast to or from a complex dtype): a real input takes the
    real part of a complex gradient, as the first-order ``AsType.complex_backward``."""
    if g.dtype.kind == "c" and node.in_dtype.kind != "c":
        g = Real()(g)
    return AsType(node.in_dtype)(g) if g.dtype != node.in_dtype else g


RULES[_complex_variant(AsType)] = _astype_complex


def _pow_complex(node: Function, g: Tensor) -> tuple:
    """``a ** b``'s real rule (``b a^(b-1)``, ``y log a``) written for complex values, for the holomorphic variant:
    a complex number exponent, ``b`` on the non-negative real axis where ``a == 0`` (d/db is 0 there, as the
    first-order backward), and ``log a`` of a real base in the complex dtype of the result."""
    a, b, y = node.saved
    base, exponent = _input(node, 0, a), _input(node, 1, b)
    ga = gb = None
    if node.edges[0] is not None:
        if isinstance(b, (int, float, complex)):
            ga = _zeros(_shape(a), g) if b == 0 else Mul()(g, Mul()(b, Pow()(base, b - 1)))
        else:
            local = Mul()(exponent, Pow()(base, Sub()(exponent, 1)))
            ga = sum_to(Where()(b == 0, _zero(g), Mul()(g, local)), _shape(a))
    if node.edges[1] is not None:
        xp = node.xp
        on_axis = (b.real >= 0) & (b.imag == 0) if b.dtype.kind == "c" else b >= 0
        flat = (xp.asarray(a) == 0) & on_axis
        if isinstance(base, Tensor):
            base = AsType(y.dtype)(base) if base.dtype != y.dtype else base
            log_a = Log()(Where()(flat, 1, base))
        else:
            log_a = xp.log(xp.where(flat, 1, xp.asarray(a, dtype=y.dtype)))
        gb = sum_to(Mul()(g, Where()(flat, _zero(g), Mul()(_output(node, y), log_a))), _shape(b))
    return ga, gb


RULES[_complex_variant(Pow)] = _holomorphic_variant(_pow_complex)
# their real rules are built from ops with complex rules and hold for complex values (no order, no real-only
# branch): sigmoid, prod, cumprod, logsumexp, sinc, lerp, logaddexp (the only complex math.Binary), and the one-op
# addcmul/addcdiv (a complex value or tensors beside real ones: the composite ops they replaced had complex rules)
for _cls in (Sigmoid, Prod, CumProd, LogSumExp, Sinc, Binary, Lerp, AddCMul, AddCMulBy, AddCDiv):
    RULES[_complex_variant(_cls)] = _holomorphic_variant(RULES[_cls])


def complex_rule(*classes: type) -> Any:
    """Register the decorated rule for ``classes`` and their complex variants (it takes the real parts itself)."""
    def register(fn: Any) -> Any:
        for cls in classes:
            RULES[cls] = RULES[_complex_variant(cls)] = fn
        return fn
    return register


@complex_rule(Real)
def _real(node: Function, g: Tensor) -> Tensor:   # d Re z: g as a complex value
    return Complex(tuple(g.shape))(g, _zeros(tuple(g.shape), g))


@complex_rule(Imag)
def _imag(node: Function, g: Tensor) -> Tensor:   # d Im z: i g
    return Complex(tuple(g.shape))(_zeros(tuple(g.shape), g), g)


@complex_rule(Conj)
def _conj_rule(node: Function, g: Tensor) -> Tensor:
    return _real_parts(node, _conj(g))


@complex_rule(Complex)
def _complex(node: Function, g: Tensor) -> tuple:
    shape_re, shape_im = node.shapes
    return (sum_to(Real()(g), shape_re) if node.edges[0] is not None else None,
            sum_to(Imag()(g), shape_im) if node.edges[1] is not None else None)


@complex_rule(ViewAsReal)
def _view_as_real(node: Function, g: Tensor) -> Tensor:
    return ViewAsComplex()(g)


@complex_rule(ViewAsComplex)
def _view_as_complex(node: Function, g: Tensor) -> Tensor:
    return ViewAsReal()(g)


def _inverse_size(x_t: Tensor, power: int = 1) -> Tensor:
    """``1 / |z|^power`` of complex ``z`` (a Tensor, any shape), with 0 where ``|z|`` is 0 (PyTorch's sgn at 0)."""
    size = Abs()(x_t)
    zero = size.data == 0
    safe = Where()(zero, 1, size if power == 1 else Mul()(size, size))
    return Where()(zero, 0, Div()(1, safe))


def _abs_complex(node: Function, g: Tensor) -> Tensor:   # |z|: g · sgn(z) (only complex z runs as the variant)
    (x,) = node.saved
    x_t = _input(node, 0, x)
    return Mul()(g, Mul()(x_t, _inverse_size(x_t)))


RULES[_complex_variant(Abs)] = _abs_complex   # a real x keeps higher_order's rule: its second derivative is 0


@complex_rule(Angle)
def _angle(node: Function, g: Tensor) -> Any:   # arg z: g · i z / |z|² (real x: 0, as PyTorch's)
    (x,) = node.saved
    if x.dtype.kind != "c":
        return _zeros(tuple(g.shape), g)
    x_t = _input(node, 0, x)
    return Mul()(g, Mul()(Mul()(x_t, _inverse_size(x_t, 2)), 1j))


def _resized(x: Tensor, axes: tuple, sizes: tuple) -> Tensor:
    """``x`` cropped or zero-padded at the end of each of ``axes`` to ``sizes`` (``ops.fft.resize``), differentiably:
    a crop is a slice, a pad a concatenation with zeros."""
    crop = [slice(None)] * x.ndim
    for a, n in zip(axes, sizes):
        crop[a] = slice(0, min(n, x.shape[a]))
    if any(x.shape[a] > n for a, n in zip(axes, sizes)):
        x = GetItem(tuple(crop))(x)
    xp = backend.array_module(x.data)
    for a, n in zip(axes, sizes):
        if x.shape[a] < n:
            shape = list(x.shape)
            shape[a] = n - x.shape[a]
            x = Concat(a)(x, xp.zeros(tuple(shape), dtype=x.dtype))
    return x


def _in_sizes(node: Function) -> tuple:
    return tuple(node.in_shape[a] for a in node.axes)


@complex_rule(ComplexFFT)
def _fft_c2c(node: Function, g: Tensor) -> Any:   # the adjoint: the other direction with the dual norm
    sizes = tuple(g.shape[a] for a in node.axes)
    gx = ComplexFFT(node.axes, sizes, DUAL_NORM[node.norm], not node.inverse)(g)
    return _real_parts(node, _resized(gx, node.axes, _in_sizes(node)))


@complex_rule(RealToComplexFFT)
def _fft_r2c(node: Function, g: Tensor) -> Any:   # zero-fill the missing half, complex adjoint, real part
    g = _conj(g) if node.conjugate else g
    full = _resized(g, node.axes[-1:], node.sizes[-1:])
    gx = ComplexFFT(node.axes, tuple(full.shape[a] for a in node.axes), DUAL_NORM[node.norm], True)(full)
    return _resized(Real()(gx), node.axes, _in_sizes(node))


@complex_rule(ComplexToRealFFT)
def _fft_c2r(node: Function, g: Tensor) -> Any:   # one-sided real transform, the mirrored entries doubled
    gx = RealToComplexFFT(node.axes, tuple(g.shape[a] for a in node.axes), DUAL_NORM[node.norm], False)(g)
    axis = node.axes[-1]
    doubled = node.sizes[-1] - gx.shape[axis]
    if doubled > 0:
        xp = backend.array_module(g.data)
        weight = xp.ones(gx.shape[axis], dtype=g.dtype)
        weight[1:1 + doubled] = 2
        gx = Mul()(gx, weight.reshape((-1,) + (1,) * (gx.ndim - 1 - axis % gx.ndim)))
    gx = _resized(_conj(gx) if node.conjugate else gx, node.axes, _in_sizes(node))
    return Real()(gx) if node.real_input else gx


@complex_rule(ComplexSign)
def _sgn(node: Function, g: Tensor) -> Tensor:   # s = z / |z|: (g - Re(g · conj(s)) s) / |z| (PyTorch's), 0 at z = 0
    size, s = node.saved
    x_t = _input(node, 0, s * size)
    inv_t = _inverse_size(x_t)
    s_t = Mul()(x_t, inv_t)
    return Mul()(Sub()(g, Mul()(Real()(Mul()(g, Conj()(s_t))), s_t)), inv_t)


# --- complex math.Unary ops ---------------------------------------------------------------------------------------
# 1/z, 1/sqrt(z), 2**z … of a complex z: their _UNARY formulas (built from ops with complex rules) hold for complex
# z, so PyTorch's g · conj(f'(z)) is the holomorphic variant of the real rule (acosh's has its own complex branch:
# 1/sqrt(z² - 1) has the other sign where Re z < 0). Listed by name: a formula not right for complex values raises.
_COMPLEX_UNARY = frozenset({"reciprocal", "rsqrt", "exp2", "expm1", "log1p", "log2", "log10", "tan", "sinh", "cosh",
                            "asin", "acos", "atan", "asinh", "acosh", "atanh"})
_unary_holomorphic = _holomorphic_variant(RULES[Unary])


def _unary_complex(node: Function, g: Tensor) -> Tensor:
    if node.name not in _COMPLEX_UNARY:
        raise _no_rule(node)
    return _unary_holomorphic(node, g)


RULES[_complex_variant(Unary)] = _unary_complex


@rule(Compared)
def _compared(node: Function, g: Tensor) -> tuple:   # lt_(other) …: zeros for x and other, constants
    xp = backend.array_module(g.data)
    return tuple(Tensor._make(xp.zeros(shape, dtype=dtype), False, None, 0) if edge is not None else None
                 for (shape, dtype), edge in zip(node.inputs_meta, node.edges))


# --- the regularized incomplete gamma functions: the gradient to x, again differentiable ---------------------------

@rule(IncompleteGamma)
def _incomplete_gamma(node: Function, g: Tensor) -> tuple:
    """PyTorch's ``±g · exp((a - 1) log x - x - lgamma(a))`` for x (minus for gammaincc), differentiable in x and
    in a. Its value is the first-order backward's (the stable log-density for a ≥ 10, where the plain sum lost
    digits): the difference is a constant added to the exponent, so the derivatives stay the formula's. The
    gradient for a is the first-order backward's lazy placeholder: the walk raises only where it is used."""
    a, x = node.saved
    xp = node.xp
    ga = _NoGradientForA(node.name) if node.edges[0] is not None else None
    if node.edges[1] is None:
        return ga, None
    a_t, x_t = _input(node, 0, a), _input(node, 1, x)
    if not isinstance(a_t, Tensor):
        a_t = Tensor._make(xp.asarray(a), False, None, 0)
    exponent = Sub()(Sub()(Mul()(Sub()(a_t, 1), Log()(x_t)), x_t), lgamma(a_t))
    with backend.errstate(xp, divide="ignore", invalid="ignore", over="ignore"):
        stable = _log_gamma_density(xp, a.astype(xp.float64), x.astype(xp.float64), 1)
        plain = exponent.data.astype(xp.float64)
        shift = xp.where(xp.isfinite(stable) & xp.isfinite(plain), stable - plain, 0.0).astype(exponent.dtype)
    if bool(xp.any(shift != 0)):
        exponent = Add()(exponent, shift)
    density = Exp()(exponent)
    gx = Mul()(g, Neg()(density) if node.upper else density)
    return ga, sum_to(gx, _shape(x))
