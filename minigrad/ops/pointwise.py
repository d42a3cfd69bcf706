"""PyTorch's pointwise ops that minigrad lacked: floor division and ``div(rounding_mode=)``, the aliases
(``multiply``, ``subtract``, ``greater`` …, ``add``/``sub`` with ``alpha=``), trigonometric and hyperbolic
functions, ``xlogy``, ``logit``, ``hypot``, ``copysign``, ``fmax``/``fmin``, ``nan_to_num``, ``addcmul`` …,
and the predicates ``isin``, ``equal``, ``is_nonzero``.

Every op takes tensors of any shape that broadcast together (NumPy's rules) and gives the broadcast
shape; gradients are summed back to each input's shape. Results follow PyTorch 2.13 in values,
dtypes and gradients:

* the float-valued ops compute integer and bool tensors in float32 (as ``ops/math.py``);
* ``x // y`` and ``floor_divide`` keep integers integer (rounding towards -inf) and, as in PyTorch,
  their backward raises (the derivative is not implemented there); ``div(..., rounding_mode="floor")``
  and ``"trunc"`` have a zero gradient instead;
* ``heaviside`` has no derivative in PyTorch either; ``floor``-like ops (``sgn``) a zero one.

``__all__`` lists the ``mg.`` functions and ``METHODS`` the Tensor methods; both are attached by
``minigrad/__init__.py`` and ``minigrad/ops/__init__.py`` after the older tables, so ``div``, ``add`` and
``sub`` here replace the plain ones (the operators ``+ - /`` keep their direct, faster binding).
"""

from __future__ import annotations

import math as _math
from typing import Any, Callable

import numpy

from .. import backend
from ..autograd import Function
from ..recording import note_read
from ..tensor import Tensor, float64
from . import elementwise, inplace
from ._util import number, sum_to, tensor_arg
from .math import _bool_result, _copy, _erf_array, _floating, _numeric, _unary, _xp_of, atan2, sign
from .shape import astype

__all__ = [
    "floor_divide", "div", "divide", "true_divide",
    "add", "sub", "multiply", "subtract", "negative", "positive",
    "eq", "ne", "lt", "le", "gt", "ge", "greater", "greater_equal", "less", "less_equal", "not_equal",
    "tan", "asin", "acos", "atan", "sinh", "cosh", "asinh", "acosh", "atanh",
    "arcsin", "arccos", "arctan", "arcsinh", "arccosh", "arctanh", "arctan2",
    "sinc", "deg2rad", "rad2deg", "erfc", "logit", "xlogy", "hypot", "logaddexp2", "float_power", "copysign",
    "fmax", "fmin", "heaviside", "sgn", "signbit", "frac", "nan_to_num", "addcmul", "addcdiv",
    "isin", "is_floating_point", "is_complex", "is_nonzero", "equal",
]


def _shape(value: Any) -> tuple:
    return getattr(value, "shape", ())


def _integral(value: Any) -> bool:
    """Whether a Tensor, array or Python number holds integers or bools."""
    dtype = getattr(value, "dtype", None)
    return isinstance(value, int) if dtype is None else dtype.kind in "biu"


def _is_bool(value: Any) -> bool:
    dtype = getattr(value, "dtype", None)
    return isinstance(value, bool) if dtype is None else dtype.kind == "b"


def _plain_number(value: Any) -> bool:
    return isinstance(value, (int, float, complex, numpy.number)) and not isinstance(value, (bool, numpy.bool_))


class IntegerDivisionByZero(ZeroDivisionError, RuntimeError):
    """An integer divided by zero: Python's ZeroDivisionError, and the RuntimeError PyTorch raises."""


def _operands(a: Any, b: Any, name: str, floating: bool = True) -> tuple:
    """Two operands of a binary op as Tensors or typed 0-d arrays: at least one must be a Tensor.

    ``floating``: integer and bool tensors become float32 first (PyTorch's promotion). A Python number
    becomes a 0-d array of the dtype NumPy 2 gives it next to the other operand (a weak scalar: 2.5
    beside a float32 tensor is float32), so the op's forward never meets a bare Python float.
    """
    if not isinstance(a, Tensor) and not isinstance(b, Tensor):
        raise TypeError(f"{name}: expected at least one Tensor, got {type(a).__name__} and {type(b).__name__}")
    out = [v if _plain_number(v) else _floating(v, name) if floating else _numeric(v, name) for v in (a, b)]
    for i in (0, 1):
        if not isinstance(out[i], Tensor):
            try:
                out[i] = numpy.asarray(out[i], dtype=numpy.result_type(out[1 - i].dtype, out[i]))
            except OverflowError as error:   # a Python int beyond the tensor's integer type
                raise TypeError(f"{name}: {error} (tensor dtype {out[1 - i].dtype})") from None
    return tuple(out)   # a 0-d array moves to the tensor's device in Function


class NotDifferentiable(Function):
    """An op whose derivative PyTorch does not implement: its output requires grad, its backward raises."""

    def __init__(self, name: str, fn: Callable[..., Any], hint: str = "") -> None:
        self.name, self.fn, self.hint = name, fn, hint

    def forward(self, *arrays: Any) -> Any:
        with backend.errstate(self.xp, divide="ignore", invalid="ignore", over="ignore"):
            return self.xp.asarray(self.fn(self.xp, *arrays))

    def backward(self, gy: Any) -> Any:
        raise RuntimeError(f"{self.name}: derivative for {self.name} is not implemented (as in PyTorch){self.hint}")


class BinaryOp(Function):
    """``y = fn(a, b)``, broadcast; ``grads(xp, gy, a, b, y)`` gives both gradients before summing back.

    Unlike ``math.Binary`` (which multiplies ``gy`` by local derivatives), ``grads`` sees ``gy``, so a
    gradient that does not flow can be selected away (exactly 0 even where ``gy`` is inf) or be zeros.
    """

    def __init__(self, name: str, fn: Callable, grads: Callable) -> None:
        self.name, self.fn, self.grads = name, fn, grads

    def forward(self, a: Any, b: Any) -> Any:
        with backend.errstate(self.xp, divide="ignore", invalid="ignore", over="ignore"):
            y = self.xp.asarray(self.fn(self.xp, a, b))
        self.saved = (a, b, y)
        return y

    def backward(self, gy: Any) -> tuple:
        a, b, y = self.saved
        with backend.errstate(self.xp, divide="ignore", invalid="ignore", over="ignore"):
            ga, gb = self.grads(self.xp, gy, a, b, y)
        return (sum_to(ga, _shape(a)) if self.needs_grad[0] else None,
                sum_to(gb, _shape(b)) if self.needs_grad[1] else None)


# --- division with rounding --------------------------------------------------------------------------

def _quotient(xp: Any, a: Any, b: Any, mode: str, name: str) -> Any:
    """a / b rounded towards -inf (``"floor"``) or towards 0 (``"trunc"``), as PyTorch's kernels.

    Integers stay integers and a zero divisor raises, as PyTorch on the CPU; floats divide by zero to
    inf or NaN. The float floor is Python's (NumPy's and PyTorch's): from fmod, so 7.0 // 0.1 == 69.
    """
    if _integral(a) and _integral(b):
        if _is_bool(a) and _is_bool(b):
            raise TypeError(f"{name}: rounding division is not defined for two bool tensors (as in PyTorch)")
        zero = b == 0
        if zero.any() if hasattr(zero, "any") else zero:
            raise IntegerDivisionByZero(f"{name}: integer division by zero (as in PyTorch)")
        with backend.errstate(xp, over="ignore"):
            quotient = xp.floor_divide(a, b)
            if mode == "trunc":   # one up where floor and trunc differ: an inexact quotient below zero
                quotient = quotient + ((xp.remainder(a, b) != 0) & ((a < 0) != (b < 0)))
        return quotient
    with backend.errstate(xp, divide="ignore", invalid="ignore", over="ignore"):
        return xp.floor_divide(a, b) if mode == "floor" else xp.trunc(a / b)


class RoundedDiv(Function):
    """``div(a, b, rounding_mode="floor" | "trunc")``: a step function, so both gradients are 0 (PyTorch's)."""

    name = "div"

    def __init__(self, mode: str) -> None:
        self.mode = mode

    def forward(self, a: Any, b: Any) -> Any:
        self.inputs = ((_shape(a), getattr(a, "dtype", None)), (_shape(b), getattr(b, "dtype", None)))
        return self.xp.asarray(_quotient(self.xp, a, b, self.mode, "div"))

    def backward(self, gy: Any) -> tuple:
        return tuple(self.xp.zeros(shape, dtype=gy.dtype if dtype is None else dtype) if needed else None
                     for (shape, dtype), needed in zip(self.inputs, self.needs_grad))


def _division_operands(a: Any, b: Any, name: str) -> tuple:
    if not isinstance(a, Tensor) and not isinstance(b, Tensor):
        raise TypeError(f"{name}: expected at least one Tensor, got {type(a).__name__} and {type(b).__name__}")
    return tuple(v if _plain_number(v) and not isinstance(v, complex) else _numeric(v, name) for v in (a, b))


def floor_divide(a: Any, b: Any) -> Tensor:
    """``a // b`` rounded towards -inf (PyTorch's floor division), broadcast; integers stay integers.

    ``[-5, 5] // 2 == [-3, 2]``. A zero integer divisor raises :class:`IntegerDivisionByZero` (a
    ZeroDivisionError and, as PyTorch's, a RuntimeError). As in PyTorch the result
    of float inputs requires grad but its backward raises; ``div(a, b, rounding_mode="floor")`` gives the
    same values with a zero gradient.
    """
    a, b = _division_operands(a, b, "floor_divide")
    return NotDifferentiable("floor_divide", lambda xp, x, y: _quotient(xp, x, y, "floor", "floor_divide"),
                             "; div(a, b, rounding_mode='floor') has a zero gradient")(a, b)


def div(a: Any, b: Any, *, rounding_mode: str | None = None) -> Tensor:
    """``a / b`` broadcast (torch.div): true division, or rounded with ``rounding_mode="trunc"|"floor"``.

    True division of two integer or bool operands gives float32, as in PyTorch; the rounded modes keep
    integers integer and have a zero gradient.
    """
    if rounding_mode is None:
        return elementwise.div(a, b)
    if rounding_mode not in ("trunc", "floor"):
        raise ValueError(f"div: expected rounding_mode to be one of None, 'trunc', or 'floor' but found "
                         f"{rounding_mode!r}")
    a, b = _division_operands(a, b, "div")
    return RoundedDiv(rounding_mode)(a, b)


divide = div


def true_divide(a: Any, b: Any) -> Tensor:
    """``a / b`` broadcast, always true division (torch.true_divide)."""
    return elementwise.div(a, b)


def _rfloordiv(self: Tensor, other: Any) -> Tensor:
    """``other // x`` for a number or array ``other``."""
    return floor_divide(other, self)


def floor_divide_(x: Tensor, other: Any) -> Tensor:
    """``x //= other`` in place (an integer tensor stays integer)."""
    return inplace._inplace(x, "floor_divide_", lambda cur: floor_divide(cur, other), other)


def div_(x: Tensor, other: Any, *, rounding_mode: str | None = None) -> Tensor:
    """``x /= other`` in place, rounded as :func:`div` with ``rounding_mode``."""
    if rounding_mode is None:
        return inplace.div_(x, other)
    return inplace._inplace(x, "div_", lambda cur: div(cur, other, rounding_mode=rounding_mode), other)


# --- aliases with PyTorch's arguments -------------------------------------------------------------------

def _alpha(alpha: Any, a: Any, b: Any, name: str) -> Any:
    alpha = number(alpha, name, "alpha")
    if isinstance(alpha, (float, numpy.floating)) and _integral(a) and _integral(b):
        raise TypeError(f"{name}: for integral input tensors, argument alpha must not be a floating point number "
                        f"(got {alpha!r}, as in PyTorch)")
    return alpha


def _scaled(b: Any, alpha: Any) -> Any:
    if alpha == 1:
        return b
    return b * alpha if _plain_number(b) else elementwise.mul(b, alpha)


def add(a: Any, b: Any, *, alpha: Any = 1) -> Tensor:
    """``a + alpha * b`` broadcast (torch.add)."""
    return elementwise.add(a, _scaled(b, _alpha(alpha, a, b, "add")))


def sub(a: Any, b: Any, *, alpha: Any = 1) -> Tensor:
    """``a - alpha * b`` broadcast (torch.sub)."""
    return elementwise.sub(a, _scaled(b, _alpha(alpha, a, b, "sub")))


subtract = sub


def multiply(a: Any, b: Any) -> Tensor:
    """``a * b`` broadcast (torch.multiply)."""
    return elementwise.mul(a, b)


def negative(x: Tensor) -> Tensor:
    """``-x`` (torch.negative)."""
    return elementwise.neg(x)


def positive(x: Tensor) -> Tensor:
    """``+x``: ``x`` itself, as torch.positive (a bool tensor raises, as in PyTorch)."""
    x = tensor_arg(x, "positive")
    if x.dtype == bool:
        raise TypeError("positive: the `+` operator on a bool tensor is not supported (as in PyTorch)")
    return x


def _comparison(name: str, dunder: str) -> Callable[[Any, Any], Tensor]:
    def compare(a: Any, b: Any) -> Tensor:
        return getattr(tensor_arg(a, name), dunder)(b)
    compare.__name__ = name
    compare.__doc__ = f"Elementwise ``{dunder}`` of ``a`` and ``b`` broadcast: a bool tensor with no gradient."
    return compare


eq, ne = _comparison("eq", "__eq__"), _comparison("ne", "__ne__")
lt, le = _comparison("lt", "__lt__"), _comparison("le", "__le__")
gt, ge = _comparison("gt", "__gt__"), _comparison("ge", "__ge__")
greater, greater_equal, less, less_equal, not_equal = gt, ge, lt, le, ne


# --- trigonometric and hyperbolic -----------------------------------------------------------------------
# Integer and bool inputs become float32. Each derivative is PyTorch's formula (derivatives.yaml).

tan = _unary("tan", lambda xp, x: xp.tan(x), lambda xp, x, y: 1 + y * y, "Tangent (radians).")
asin = _unary("asin", lambda xp, x: xp.arcsin(x), lambda xp, x, y: 1 / xp.sqrt(1 - x * x),
              "Inverse sine, in [-π/2, π/2] (NaN outside [-1, 1]).")
acos = _unary("acos", lambda xp, x: xp.arccos(x), lambda xp, x, y: -1 / xp.sqrt(1 - x * x),
              "Inverse cosine, in [0, π] (NaN outside [-1, 1]).")
atan = _unary("atan", lambda xp, x: xp.arctan(x), lambda xp, x, y: 1 / (x * x + 1), "Inverse tangent.")
sinh = _unary("sinh", lambda xp, x: xp.sinh(x), lambda xp, x, y: xp.cosh(x), "Hyperbolic sine.")
cosh = _unary("cosh", lambda xp, x: xp.cosh(x), lambda xp, x, y: xp.sinh(x), "Hyperbolic cosine.")
asinh = _unary("asinh", lambda xp, x: xp.arcsinh(x), lambda xp, x, y: 1 / xp.sqrt(x * x + 1),
               "Inverse hyperbolic sine.")
acosh = _unary("acosh", lambda xp, x: xp.arccosh(x), lambda xp, x, y: 1 / xp.sqrt(x * x - 1),
               "Inverse hyperbolic cosine (NaN below 1).")
atanh = _unary("atanh", lambda xp, x: xp.arctanh(x), lambda xp, x, y: 1 / (1 - x * x),
               "Inverse hyperbolic tangent (±inf at ±1, NaN outside).")
arcsin, arccos, arctan, arcsinh, arccosh, arctanh, arctan2 = asin, acos, atan, asinh, acosh, atanh, atan2


def _sinc(xp: Any, x: Any) -> Any:
    scaled = x * _math.pi
    return xp.where(x == 0, x.dtype.type(1), xp.sin(scaled) / scaled)


def _sinc_derivative(xp: Any, x: Any, y: Any) -> Any:
    scaled = x * _math.pi
    return xp.where(x == 0, x.dtype.type(0), (scaled * xp.cos(scaled) - xp.sin(scaled)) / (scaled * x))


sinc = _unary("sinc", _sinc, _sinc_derivative, "sin(πx) / (πx), 1 at 0 (the normalised sinc).")


def deg2rad(x: Tensor) -> Tensor:
    """Degrees to radians, ``x * π/180``."""
    return elementwise.mul(_floating(x, "deg2rad"), _math.pi / 180)


def rad2deg(x: Tensor) -> Tensor:
    """Radians to degrees, ``x * 180/π``."""
    return elementwise.mul(_floating(x, "rad2deg"), 180 / _math.pi)


def _erfc_array(xp: Any, x: Any) -> Any:
    """1 - erf(x) without the cancellation of ``1 - erf`` in the right tail (erfc(10) = 2.1e-45).

    For |x| >= 2.5 the continued fraction erfc(|x|) = e^{-x²}/√π / (|x| + ½/(|x| + 1/(|x| + (3/2)/(…)))),
    evaluated from its tail, as ``ops/math.py``'s erf; elsewhere 1 - erf(x), which loses no digits there.
    """
    a = xp.abs(x)
    far = xp.maximum(a, 2.5)
    tail = xp.zeros_like(far)
    for n in range(80, 0, -1):
        tail = (n / 2) / (far + tail)
    right = xp.exp(-far * far) / _math.sqrt(_math.pi) / (far + tail)
    far_value = xp.where(x > 0, right, 2 - right)
    return xp.where(a < 2.5, 1 - _erf_array(xp, xp.minimum(a, 2.5) * xp.sign(x)), far_value).astype(x.dtype)


erfc = _unary("erfc", _erfc_array, lambda xp, x, y: (-2 / _math.sqrt(_math.pi)) * xp.exp(-x * x),
              "The complementary error function 1 - erf(x), exact in the tails (derivative -2/√π · e^{-x²}).")


class Logit(Function):
    """log(z / (1 - z)) with z = x, or x clamped to [eps, 1 - eps] (PyTorch's torch.logit and its backward)."""

    def __init__(self, eps: float | None) -> None:
        self.eps = eps

    def forward(self, x: Any) -> Any:
        xp, eps = self.xp, self.eps
        z = x if eps is None else xp.where(x < eps, x.dtype.type(eps), xp.where(x > 1 - eps, x.dtype.type(1 - eps), x))
        self.saved = (x,)
        with backend.errstate(xp, divide="ignore", invalid="ignore"):
            return xp.asarray(xp.log(z / (1 - z)))

    def backward(self, gy: Any) -> Any:
        (x,) = self.saved
        xp, eps = self.xp, self.eps
        with backend.errstate(xp, divide="ignore", invalid="ignore"):
            slope = gy / (x * (1 - x))
        if eps is None:   # outside [0, 1] the log is NaN, and so is the gradient
            return xp.where((x < 0) | (x > 1), gy.dtype.type("nan"), slope)
        return xp.where((x < eps) | (x > 1 - eps), gy.dtype.type(0), slope)   # clamped: flat


def logit(x: Tensor, eps: float | None = None) -> Tensor:
    """log(x / (1 - x)), the inverse of sigmoid; with ``eps``, x is first clamped to [eps, 1 - eps].

    A negative ``eps`` means none, as in PyTorch. Integer and bool tensors become float32.
    """
    if eps is not None:
        eps = float(number(eps, "logit", "eps"))
        if eps < 0:
            eps = None
    return Logit(eps)(_floating(x, "logit"))


# --- binary math ---------------------------------------------------------------------------------------

def _xlogy(xp: Any, x: Any, y: Any) -> Any:
    with backend.errstate(xp, divide="ignore", invalid="ignore"):
        out = x * xp.log(y)
    out = xp.where(x == 0, out.dtype.type(0), out)
    return xp.where(xp.isnan(y), out.dtype.type("nan"), out)   # NaN y wins even over x == 0, as in PyTorch


def _xlogy_grads(xp: Any, gy: Any, x: Any, y: Any, out: Any) -> tuple:
    # PyTorch's: xlogy(gy, y), but 0 where x == 0 and y <= 0 (log(y) there is -inf or NaN); gy * x / y
    return xp.where((x == 0) & (y <= 0), gy.dtype.type(0), _xlogy(xp, gy, y)), gy * x / y


def xlogy(a: Any, b: Any) -> Tensor:
    """``a * log(b)``, 0 where a == 0 (even at b == 0), NaN where b is NaN (torch.xlogy); broadcast.

    Gradients ``log(b)`` (0 where a == 0 and b <= 0) and ``a / b``. Integer and bool tensors become float32.
    """
    a, b = _operands(a, b, "xlogy")
    return BinaryOp("xlogy", _xlogy, _xlogy_grads)(a, b)


def _no_integers(a: Any, b: Any, name: str) -> None:
    if all(_integral(v) for v in (a, b) if isinstance(v, Tensor)):
        raise TypeError(f"{name}: not implemented for integer or bool tensors (as in PyTorch); cast to float first")


def hypot(a: Any, b: Any) -> Tensor:
    """sqrt(a² + b²) without overflow, broadcast (torch.hypot); gradients a / y and b / y (NaN at 0, 0)."""
    _no_integers(a, b, "hypot")
    a, b = _operands(a, b, "hypot")
    return BinaryOp("hypot", lambda xp, x, y: xp.hypot(x, y),
                    lambda xp, gy, x, y, out: (gy * x / out, gy * y / out))(a, b)


def logaddexp2(a: Any, b: Any) -> Tensor:
    """log2(2^a + 2^b) without overflow, broadcast; gradients 1 / (1 + 2^(b - a)) and 1 / (1 + 2^(a - b))."""
    _no_integers(a, b, "logaddexp2")
    a, b = _operands(a, b, "logaddexp2")
    return BinaryOp("logaddexp2", lambda xp, x, y: xp.logaddexp2(x, y),
                    lambda xp, gy, x, y, out: (gy / (1 + xp.exp2(y - x)), gy / (1 + xp.exp2(x - y))))(a, b)


def float_power(a: Any, b: Any) -> Tensor:
    """``a ** b`` computed in float64 (complex128 for complex inputs), as torch.float_power; broadcast.

    The gradient of a float32 input is cast back to float32.
    """
    if not isinstance(a, Tensor) and not isinstance(b, Tensor):
        raise TypeError(f"float_power: expected at least one Tensor, got {type(a).__name__} and {type(b).__name__}")
    values = [v if _plain_number(v) else _numeric(v, "float_power") for v in (a, b)]
    target = _float_power_dtype(*values)
    cast = [target.type(v) if not isinstance(v, Tensor) else astype(v, target) if v.dtype != target else v
            for v in values]
    return elementwise.pow(*cast)


def _float_power_dtype(*values: Any) -> Any:
    is_complex_ = any(isinstance(v, complex) or getattr(v, "dtype", float64).kind == "c" for v in values)
    return numpy.dtype("complex128") if is_complex_ else float64


def _copysign_grads(xp: Any, gy: Any, x: Any, y: Any, out: Any) -> tuple:
    ratio = xp.where(x == 0, out.dtype.type(0), out / x)   # ±1, and 0 at x == 0 (PyTorch's masked ratio)
    return gy * ratio, xp.zeros_like(gy)


def copysign(a: Any, b: Any) -> Tensor:
    """|a| with the sign of b (the sign bit: -0.0 is negative), broadcast; b gets a zero gradient."""
    a, b = _operands(a, b, "copysign")
    return BinaryOp("copysign", lambda xp, x, y: xp.copysign(x, y), _copysign_grads)(a, b)


def _fmax_grads(xp: Any, gy: Any, x: Any, y: Any, out: Any) -> tuple:
    x_wins = (x >= y) | xp.isnan(y)   # a tie goes to x; NaN loses to a number
    zero = gy.dtype.type(0)
    return xp.where(x_wins, gy, zero), xp.where(x_wins, zero, gy)


def _fmin_grads(xp: Any, gy: Any, x: Any, y: Any, out: Any) -> tuple:
    x_wins = (x <= y) | xp.isnan(y)
    zero = gy.dtype.type(0)
    return xp.where(x_wins, gy, zero), xp.where(x_wins, zero, gy)


def fmax(a: Any, b: Any) -> Tensor:
    """Elementwise maximum that ignores NaN (NaN only where both are), broadcast; a tie's gradient goes to a."""
    a, b = _operands(a, b, "fmax", floating=False)
    return BinaryOp("fmax", lambda xp, x, y: xp.fmax(x, y), _fmax_grads)(a, b)


def fmin(a: Any, b: Any) -> Tensor:
    """Elementwise minimum that ignores NaN (NaN only where both are), broadcast; a tie's gradient goes to a."""
    a, b = _operands(a, b, "fmin", floating=False)
    return BinaryOp("fmin", lambda xp, x, y: xp.fmin(x, y), _fmin_grads)(a, b)


def heaviside(x: Tensor, values: Any) -> Tensor:
    """0 where x < 0, ``values`` where x == 0, 1 where x > 0 (NaN gives 0), broadcast; x's dtype.

    ``values`` must have x's dtype, as in PyTorch. No derivative (PyTorch's backward raises; so does this one).
    """
    x = _numeric(x, "heaviside")
    if _plain_number(values):
        if numpy.result_type(x.dtype, values) != x.dtype:
            raise TypeError(f"heaviside: values {values!r} does not fit x's dtype {x.dtype}")
        values = numpy.asarray(values, dtype=x.dtype)
    else:
        values = _numeric(values, "heaviside")
    if isinstance(values, Tensor) and values.dtype != x.dtype:
        raise TypeError(f"heaviside: values has dtype {values.dtype} but x has dtype {x.dtype}: not implemented "
                        "for tensors with different dtypes (as in PyTorch)")
    return NotDifferentiable("heaviside", lambda xp, a, v: xp.where(a == 0, v, (a > 0).astype(a.dtype)))(x, values)


# --- unary: sign, fraction, non-finite values -------------------------------------------------------------

def sgn(x: Tensor) -> Tensor:
    """The sign of each element, -1, 0 or 1 in x's dtype (torch.sgn, for real tensors :func:`sign`)."""
    return sign(x)


def signbit(x: Tensor) -> Tensor:
    """True where the sign bit is set (negative numbers, -0.0, -NaN): a bool tensor of x's shape."""
    x = _numeric(x, "signbit")
    xp = backend.array_module(x.data)
    return _bool_result("signbit", lambda a: xp.asarray(xp.signbit(a) if a.dtype.kind != "b" else a & False), (x,))


def frac(x: Tensor) -> Tensor:
    """x - trunc(x), with x's sign (gradient 1); integer tensors raise, as in PyTorch."""
    x = _numeric(x, "frac")
    if x.dtype.kind not in "fc":
        raise TypeError(f"frac: not implemented for dtype {x.dtype} (as in PyTorch)")
    return _frac(x)


_frac = _unary("frac", lambda xp, a: a - xp.trunc(a), lambda xp, a, y: xp.ones_like(y), "x - trunc(x).")


class NanToNum(Function):
    """NaN, +inf and -inf replaced by numbers; the gradient passes where x was finite (``gy * isfinite(x)``)."""

    name = "nan_to_num"

    def __init__(self, nan: float, posinf: float | None, neginf: float | None) -> None:
        self.nan, self.posinf, self.neginf = nan, posinf, neginf

    def forward(self, x: Any) -> Any:
        self.saved = (x,)
        with backend.errstate(self.xp, over="ignore"):   # a bound beyond the dtype's range becomes inf
            return self.xp.asarray(self.xp.nan_to_num(x, nan=self.nan, posinf=self.posinf, neginf=self.neginf))

    def backward(self, gy: Any) -> Any:
        return gy * self.xp.isfinite(self.saved[0])   # PyTorch multiplies (an inf gradient there gives NaN)


def nan_to_num(x: Tensor, nan: float = 0.0, posinf: float | None = None, neginf: float | None = None) -> Tensor:
    """NaN → ``nan``, +inf → ``posinf``, -inf → ``neginf``; the defaults are 0 and x's dtype's largest and
    smallest finite values (torch.nan_to_num). Integer and bool tensors come back as a copy."""
    x = _numeric(x, "nan_to_num")
    nan = number(nan, "nan_to_num", "nan")
    posinf = None if posinf is None else number(posinf, "nan_to_num", "posinf")
    neginf = None if neginf is None else number(neginf, "nan_to_num", "neginf")
    if x.dtype.kind in "biu":
        return _copy(x)
    return NanToNum(nan, posinf, neginf)(x)


# --- fused multiply-add ---------------------------------------------------------------------------------

def _common(name: str, *tensors: Any) -> list:
    """The tensors cast to their common dtype (NumPy's promotion), as PyTorch computes these ops in it."""
    tensors = [_numeric(t, name) for t in tensors]
    common = numpy.result_type(*[t.dtype for t in tensors])
    return [astype(t, common) if t.dtype != common else t for t in tensors]


def addcmul(x: Tensor, tensor1: Any, tensor2: Any, *, value: Any = 1) -> Tensor:
    """``x + value * tensor1 * tensor2``, all broadcast together (torch.addcmul); gradients to all three."""
    x, tensor1, tensor2 = _common("addcmul", x, tensor1, tensor2)
    value = number(value, "addcmul", "value")
    if x.dtype.kind in "biu" and isinstance(value, (float, numpy.floating)):
        raise TypeError(f"addcmul: value must be an int for integer tensors, got {value!r}")
    return elementwise.add(x, elementwise.mul(_scaled(tensor1, value), tensor2))


def addcdiv(x: Tensor, tensor1: Any, tensor2: Any, *, value: Any = 1) -> Tensor:
    """``x + value * tensor1 / tensor2``, all broadcast together (torch.addcdiv); gradients to all three.

    Integer tensors raise, as in PyTorch (its old integer division was removed).
    """
    x, tensor1, tensor2 = _common("addcdiv", x, tensor1, tensor2)
    if tensor1.dtype.kind in "biu":
        raise TypeError("addcdiv: integer division with addcdiv is not supported (as in PyTorch); "
                        "use x + value * tensor1 / tensor2")
    value = number(value, "addcdiv", "value")
    return elementwise.add(x, elementwise.div(_scaled(tensor1, value), tensor2))


# --- predicates ----------------------------------------------------------------------------------------

def isin(elements: Any, test_elements: Any, *, assume_unique: bool = False, invert: bool = False) -> Tensor:
    """True where an element of ``elements`` is in ``test_elements`` (False where ``invert``): a bool tensor
    of elements' shape. Either may be a number, not both; values compare across dtypes, NaN matches nothing."""
    if not isinstance(elements, Tensor) and not isinstance(test_elements, Tensor):
        raise TypeError("isin: expected at least one Tensor, got "
                        f"{type(elements).__name__} and {type(test_elements).__name__}")
    elements = elements if _plain_number(elements) else _numeric(elements, "isin")
    test_elements = test_elements if _plain_number(test_elements) else _numeric(test_elements, "isin")
    xp = _xp_of(elements, test_elements)
    unique, flip = bool(assume_unique), bool(invert)
    return _bool_result("isin", lambda a, b: xp.asarray(xp.isin(a, b, assume_unique=unique, invert=flip)),
                        (elements, test_elements))


def is_floating_point(x: Tensor) -> bool:
    """Whether x's dtype is a floating-point one (float16/32/64)."""
    return tensor_arg(x, "is_floating_point").dtype.kind == "f"


def is_complex(x: Tensor) -> bool:
    """Whether x's dtype is a complex one."""
    return tensor_arg(x, "is_complex").dtype.kind == "c"


def is_nonzero(x: Tensor) -> bool:
    """Whether the single element of ``x`` is non-zero (NaN is); other sizes raise, as in PyTorch."""
    x = tensor_arg(x, "is_nonzero")
    if x.data.size == 0:
        raise RuntimeError("is_nonzero: Boolean value of Tensor with no values is ambiguous")
    if x.data.size > 1:
        raise RuntimeError("is_nonzero: Boolean value of Tensor with more than one value is ambiguous")
    note_read(x, "is_nonzero")
    return bool(x.data.reshape(()) != 0)


def equal(a: Tensor, b: Tensor) -> bool:
    """Whether ``a`` and ``b`` have the same shape and equal elements (no broadcasting; NaN is unequal)."""
    a, b = tensor_arg(a, "equal"), tensor_arg(b, "equal")
    if a.device != b.device:
        raise ValueError(f"equal: tensors are on different devices ({a.device} and {b.device})")
    if a.shape != b.shape:
        return False
    note_read(a, "equal")
    note_read(b, "equal")
    return bool((a.data == b.data).all())


# --- Tensor methods ---------------------------------------------------------------------------------------

def _method_with(name: str, fn: Callable) -> Callable:
    """An in-place twin ``x.name_(*args, **kwargs)`` of ``fn(x, *args, **kwargs)``."""
    def method(x: Tensor, *args: Any, **kwargs: Any) -> Tensor:
        operands = [*args, *kwargs.values()]
        return inplace._inplace(x, name, lambda cur: fn(cur, *args, **kwargs), *operands)
    method.__name__ = name
    method.__doc__ = f"``x = x.{name[:-1]}(...)`` in place (the gradient as the out-of-place op)."
    return method


def float_power_(x: Tensor, exponent: Any) -> Tensor:
    """``x = x.float_power(exponent)`` in place: x must be float64 (or complex128), as in PyTorch."""
    target = _float_power_dtype(x, exponent)
    if x.dtype != target:
        raise inplace.InplaceCastError(f"float_power_: the base has dtype {x.dtype} but the operation's result "
                                       f"requires dtype {target} (as in PyTorch)")
    return inplace._inplace(x, "float_power_", lambda cur: float_power(cur, exponent), exponent)


_UNARY = {"tan": tan, "asin": asin, "acos": acos, "atan": atan, "sinh": sinh, "cosh": cosh, "asinh": asinh,
          "acosh": acosh, "atanh": atanh, "arcsin": arcsin, "arccos": arccos, "arctan": arctan, "arcsinh": arcsinh,
          "arccosh": arccosh, "arctanh": arctanh, "sinc": sinc, "deg2rad": deg2rad, "rad2deg": rad2deg,
          "erfc": erfc, "frac": frac, "sgn": sgn}
_WITH_ARGUMENTS = {"logit": logit, "xlogy": xlogy, "hypot": hypot, "copysign": copysign, "heaviside": heaviside,
                   "nan_to_num": nan_to_num, "addcmul": addcmul, "addcdiv": addcdiv, "atan2": atan2,
                   "arctan2": arctan2}

METHODS: dict = {
    "floor_divide": floor_divide, "__floordiv__": floor_divide, "__rfloordiv__": _rfloordiv,
    "floor_divide_": floor_divide_, "__ifloordiv__": floor_divide_,
    "div": div, "divide": divide, "true_divide": true_divide, "div_": div_, "divide_": div_,
    "true_divide_": inplace.div_,
    "multiply": multiply, "multiply_": inplace.mul_, "subtract": subtract, "subtract_": inplace.sub_,
    "negative": negative, "negative_": inplace.neg_, "positive": positive, "__pos__": positive,
    "greater": greater, "greater_equal": greater_equal, "less": less, "less_equal": less_equal,
    "not_equal": not_equal,
    **_UNARY, **{name + "_": inplace._unary_(name + "_", fn) for name, fn in _UNARY.items()},
    **_WITH_ARGUMENTS, **{name + "_": _method_with(name + "_", fn) for name, fn in _WITH_ARGUMENTS.items()},
    "logaddexp2": logaddexp2, "float_power": float_power, "float_power_": float_power_,
    "fmax": fmax, "fmin": fmin, "signbit": signbit,
    "is_nonzero": is_nonzero, "equal": equal,
}
