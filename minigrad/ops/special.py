"""PyTorch's elementwise functions beyond arithmetic: trigonometric and hyperbolic (``tan``, ``asin`` …
``atanh`` and the ``arc*`` aliases, ``sinc``, ``deg2rad``/``rad2deg``), special functions (``erfc``,
``logit``, ``xlogy``), two-input functions (``hypot``, ``logaddexp2``, ``float_power``, ``copysign``,
``fmax``/``fmin``, ``heaviside``) and the sign, fraction and non-finite values (``sgn``, ``signbit``,
``frac``, ``nan_to_num``).

Every op takes tensors of any shape that broadcast together (NumPy's rules) and gives the broadcast
shape; gradients are summed back to each input's shape. Integer and bool inputs of the float-valued
ops become float32 (as ``ops/math.py``). ``heaviside`` has no derivative, in PyTorch either.

``pointwise.py`` lists these ops in its ``__all__`` and ``METHODS``, the tables minigrad attaches.
"""

from __future__ import annotations

import math as _math
from typing import Any

import numpy

from .. import backend
from ..autograd import Function
from ..autograd.names import respelled
from ..tensor import Tensor, float64
from . import elementwise, error_function, inplace
from ._util import (
    FLOAT16,
    ArgumentTypeError,
    DtypeNotImplementedError,
    called_as,
    complex_order_error,
    float16_in_float32,
    number,
    refuse_complex,
    tensors_only,
)
from .elementwise import _integral
from .iterator_layout import lay_out_as_torch
from .math import (
    Binary,
    NotDifferentiable,
    _bool_result,
    _copy,
    _floating,
    _floating_pair,
    _numeric,
    _unary,
    atan2,
    sign,
)
from .shape import astype


def _plain_number(value: Any) -> bool:
    return isinstance(value, (int, float, complex, numpy.number)) and not isinstance(value, (bool, numpy.bool_))


def _operands(a: Any, b: Any, name: str, floating: bool = True) -> tuple:
    """Two operands of a binary op as Tensors or typed 0-d arrays: at least one must be a Tensor.

    ``floating``: integer and bool tensors become float first (PyTorch's promotion: the other operand's float
    dtype where it is a float tensor, else the default dtype). A Python number
    becomes a 0-d array of the dtype NumPy 2 gives it next to the other operand (a weak scalar: 2.5
    beside a float32 tensor is float32), so the op's forward never meets a bare Python float.
    """
    if not isinstance(a, Tensor) and not isinstance(b, Tensor):
        raise TypeError(f"{name}: expected at least one Tensor, got {type(a).__name__} and {type(b).__name__}")
    out = [v if _plain_number(v) or isinstance(v, bool) else _numeric(v, name) for v in (a, b)]
    if floating:
        out = list(_floating_pair(*out, name))
    for i in (0, 1):
        if not isinstance(out[i], Tensor):
            try:
                out[i] = numpy.asarray(out[i], dtype=numpy.result_type(out[1 - i].dtype, out[i]))
            except OverflowError as error:   # a Python int beyond the tensor's integer type
                raise TypeError(f"{name}: {error} (tensor dtype {out[1 - i].dtype})") from None
    return tuple(out)   # a 0-d array moves to the tensor's device in Function


# --- trigonometric and hyperbolic -----------------------------------------------------------------------
# Integer and bool inputs become float32. Each derivative is PyTorch's formula (derivatives.yaml).

tan = _unary("tan", lambda xp, x: xp.tan(x), lambda xp, x, y: 1 + y * y, "Tangent (radians).", keeps_input=False)
asin = _unary("asin", lambda xp, x: xp.arcsin(x), lambda xp, x, y: 1 / xp.sqrt(1 - x * x),
              "Inverse sine, in [-π/2, π/2] (NaN outside [-1, 1]).")
acos = _unary("acos", lambda xp, x: xp.arccos(x), lambda xp, x, y: -1 / xp.sqrt(1 - x * x),
              "Inverse cosine, in [0, π] (NaN outside [-1, 1]).")
atan = _unary("atan", lambda xp, x: xp.arctan(x), lambda xp, x, y: 1 / (x * x + 1), "Inverse tangent.")
sinh = _unary("sinh", lambda xp, x: xp.sinh(x), lambda xp, x, y: xp.cosh(x), "Hyperbolic sine.")
cosh = _unary("cosh", lambda xp, x: xp.cosh(x), lambda xp, x, y: xp.sinh(x), "Hyperbolic cosine.")
asinh = _unary("asinh", lambda xp, x: xp.arcsinh(x), lambda xp, x, y: 1 / xp.sqrt(x * x + 1),
               "Inverse hyperbolic sine.")


def _acosh_slope(xp: Any, x: Any, y: Any) -> Any:
    # complex x: 1/(sqrt(x - 1) sqrt(x + 1)), the derivative of the principal branch (PyTorch's, not 1/sqrt(x² - 1),
    # which has the other sign where Re x < 0); real x: PyTorch's 1/sqrt(x² - 1). On the cut (x.imag = -0.0, Re x < 1)
    # PyTorch's x ± 1 are +0.0 there (NumPy's x - 1 keeps -0.0, the other side): + 0 clears the sign first
    if x.dtype.kind != "c":
        return 1 / xp.sqrt(x * x - 1)
    x = x + 0
    return 1 / (xp.sqrt(x - 1) * xp.sqrt(x + 1))


acosh = _unary("acosh", lambda xp, x: xp.arccosh(x), _acosh_slope, "Inverse hyperbolic cosine (NaN below 1).")
atanh = _unary("atanh", lambda xp, x: xp.arctanh(x), lambda xp, x, y: 1 / (1 - x * x),
               "Inverse hyperbolic tangent (±inf at ±1, NaN outside).")
arcsin, arccos, arctan, arcsinh, arccosh, arctanh, arctan2 = asin, acos, atan, asinh, acosh, atanh, atan2


def _sinc(xp: Any, x: Any) -> Any:
    scaled = x * _math.pi
    return xp.where(x == 0, x.dtype.type(1), xp.sin(scaled) / scaled)


def _sinc_slope(xp: Any, x: Any) -> Any:
    """d sinc(x)/dx = π (t cos t - sin t) / t² with t = πx; below |t| = 1, where that difference cancels (float32
    was 3x off at x = 1e-4 and 0 at 2e-5, as PyTorch's; float64 1e-7 off at 2e-5), its series
    π Σₖ (-1)ᵏ 2k/(2k+1)! t^(2k-1), to k = 10 (the next term is below 1e-19 there)."""
    t = x * _math.pi
    square = t * t
    series = xp.zeros_like(t)
    for k in range(10, 0, -1):
        series = series * square + (-1) ** k * 2 * k / _math.factorial(2 * k + 1)
    with backend.errstate(xp, divide="ignore", invalid="ignore", over="ignore"):
        formula = (t * xp.cos(t) - xp.sin(t)) / (t * x)
    return xp.where(xp.abs(t) < 1, _math.pi * t * series, formula)


class Sinc(Function):
    """sin(πx) / (πx), 1 at 0. The gradient is PyTorch's: 0 at x = 0 whatever arrives from above (selected,
    not multiplied); near 0 from its series (:func:`_sinc_slope`)."""

    name = "sinc"
    complex_grad = "holomorphic"   # PyTorch's gy · conj(slope) for complex x; see autograd.engine._complex_gate

    def forward(self, x: Any) -> Any:
        with backend.errstate(self.xp, divide="ignore", invalid="ignore", over="ignore"):
            if x.dtype == FLOAT16:   # in float32, rounded once, as PyTorch's
                y = self.xp.asarray(float16_in_float32(lambda v: _sinc(self.xp, v), x))
            else:
                y = self.xp.asarray(_sinc(self.xp, x))
        self.saved = (x,)
        return y

    def backward(self, gy: Any) -> Any:
        (x,) = self.saved
        xp = self.xp
        slope = _sinc_slope(xp, x)
        with backend.errstate(xp, invalid="ignore", over="ignore"):
            return xp.where(x == 0, gy.dtype.type(0), gy * slope.astype(gy.dtype, copy=False))


def sinc(input: Tensor) -> Tensor:  # noqa: A002 - PyTorch's name
    """sin(πx) / (πx), 1 at 0 (the normalised sinc). input: any shape → the same shape."""
    return Sinc()(_floating(input, "sinc"))


def _real_only(x: Any, name: str) -> None:
    if isinstance(x, Tensor) and x.dtype.kind == "c":   # PyTorch's RuntimeError ("not supported for complex")
        raise complex_order_error(name, x.dtype, runtime=True, order=False)


def deg2rad(input: Tensor) -> Tensor:  # noqa: A002 - PyTorch's name
    """Degrees to radians, ``input * π/180``; any shape; complex tensors raise, as in PyTorch."""
    _real_only(input, "deg2rad")
    x = _floating(input, "deg2rad")
    return respelled(elementwise.mul(x, _math.pi / 180), x, "mul", "Deg2RadBackward0")   # PyTorch's node


def rad2deg(input: Tensor) -> Tensor:  # noqa: A002 - PyTorch's name
    """Radians to degrees, ``input * 180/π``; any shape; complex tensors raise, as in PyTorch."""
    _real_only(input, "rad2deg")
    x = _floating(input, "rad2deg")
    return respelled(elementwise.mul(x, 180 / _math.pi), x, "mul", "Rad2DegBackward0")   # PyTorch's node


# --- special functions: erfc, logit ---------------------------------------------------------------------

def _erfc_array(xp: Any, x: Any) -> Any:
    """1 - erf(x) without the cancellation of ``1 - erf`` in the right tail (erfc(10) = 2.1e-45), to the underflow:
    ops/error_function.py (float64 below 2.2 ulp, float32 computed in float64: 0.5 ulp)."""
    refuse_complex("erfc", x, order=False)   # PyTorch has no complex erfc (and this is for real x)
    return error_function.erfc_array(xp, x)


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
            # x == 0 (also -0.0): gy · inf, as PyTorch, not gy / -0
            slope = xp.where(x == 0, gy * x.dtype.type("inf"), gy / (x * (1 - x)))
        if eps is None:   # outside [0, 1] the log is NaN, and so is the gradient
            return xp.where((x < 0) | (x > 1), gy.dtype.type("nan"), slope)
        return xp.where((x < eps) | (x > 1 - eps), gy.dtype.type(0), slope)   # clamped: flat


def logit(input: Tensor, eps: float | None = None) -> Tensor:  # noqa: A002 - PyTorch's name
    """log(x / (1 - x)) with x = ``input``, the inverse of sigmoid; with ``eps``, x is first clamped to
    [eps, 1 - eps]. Any shape → the same shape.

    A negative ``eps`` means none, as in PyTorch. Integer and bool tensors become float32.
    """
    if eps is not None:
        eps = float(number(eps, "logit", "eps"))
        if eps < 0:
            eps = None
    x = _floating(input, "logit")
    refuse_complex("logit", x, order=False)   # no complex kernel in PyTorch (NumPy would compute one)
    return Logit(eps)(x)


# --- two-input functions -------------------------------------------------------------------------------

def _xlogy(xp: Any, x: Any, y: Any) -> Any:
    y = xp.asarray(y, dtype=xp.result_type(x, y))   # log in the result's dtype (float16 y beside float32 x)
    with backend.errstate(xp, divide="ignore", invalid="ignore"):
        out = x * xp.log(y)
    out = xp.where(x == 0, out.dtype.type(0), out)
    return xp.where(xp.isnan(y), out.dtype.type("nan"), out)   # NaN y wins even over x == 0, as in PyTorch


def _xlogy_grads(xp: Any, gy: Any, x: Any, y: Any, out: Any) -> tuple:
    # PyTorch's: xlogy(gy, y), but 0 where x == 0 and y <= 0 (log(y) there is -inf or NaN); gy * x / y
    cut = (y.real <= 0) & (y.imag == 0) if y.dtype.kind == "c" else y <= 0   # complex: log's branch cut
    return xp.where((x == 0) & cut, gy.dtype.type(0), _xlogy(xp, gy, y)), gy * x / y


def xlogy(input: Any, other: Any) -> Tensor:  # noqa: A002 - PyTorch's name
    """``a * log(b)`` (a = ``input``, b = ``other``), 0 where a == 0 (even at b == 0), NaN where b is NaN
    (torch.xlogy); broadcast.

    Gradients ``log(b)`` (0 where a == 0 and b <= 0) and ``a / b``. Integer and bool tensors become float32.
    """
    a, b = _operands(input, other, "xlogy")
    refuse_complex("xlogy", a, b, order=False)   # no complex kernel in PyTorch (NumPy would compute one)
    return Binary("xlogy", _xlogy, _xlogy_grads)(a, b)


def _no_integers(a: Any, b: Any, name: str) -> None:
    if all(_integral(v) for v in (a, b) if isinstance(v, Tensor)):
        raise DtypeNotImplementedError(f"{name}: not implemented for integer or bool tensors (as in PyTorch); cast to "
                                       "float first")


def hypot(input: Any, other: Any) -> Tensor:  # noqa: A002 - PyTorch's name
    """sqrt(a² + b²) (a = ``input``, b = ``other``) without overflow, broadcast (torch.hypot); gradients
    a / y and b / y (NaN at 0, 0)."""
    tensors_only("hypot", input, other)
    _no_integers(input, other, "hypot")
    a, b = _operands(input, other, "hypot")
    refuse_complex("hypot", a, b, order=False)
    return Binary("hypot", lambda xp, x, y: xp.hypot(x, y),
                    lambda xp, gy, x, y, out: (gy * x / out, gy * y / out))(a, b)


def logaddexp2(input: Any, other: Any) -> Tensor:  # noqa: A002 - PyTorch's name
    """log2(2^a + 2^b) (a = ``input``, b = ``other``) without overflow, broadcast; gradients
    1 / (1 + 2^(b - a)) and 1 / (1 + 2^(a - b))."""
    tensors_only("logaddexp2", input, other)
    _no_integers(input, other, "logaddexp2")
    a, b = _operands(input, other, "logaddexp2")
    refuse_complex("logaddexp2", a, b, order=False)   # unlike logaddexp, PyTorch has no complex kernel
    return Binary("logaddexp2", lambda xp, x, y: xp.logaddexp2(x, y),
                    lambda xp, gy, x, y, out: (gy / (1 + xp.exp2(y - x)), gy / (1 + xp.exp2(x - y))))(a, b)


def float_power(input: Any, exponent: Any) -> Tensor:  # noqa: A002 - PyTorch's name
    """``input ** exponent`` computed in float64 (complex128 for complex inputs), as torch.float_power;
    broadcast.

    The gradient of a float32 input is cast back to float32.
    """
    a, b = input, exponent
    if not isinstance(a, Tensor) and not isinstance(b, Tensor):
        raise TypeError(f"float_power: expected at least one Tensor, got {type(a).__name__} and {type(b).__name__}")
    values = [v if _plain_number(v) or isinstance(v, bool) else _numeric(v, "float_power") for v in (a, b)]
    target = _float_power_dtype(*values)
    cast = [target.type(v) if not isinstance(v, Tensor) else astype(v, target) if v.dtype != target else v
            for v in values]
    try:
        return elementwise.pow(*cast)
    except ValueError as error:   # shapes that do not broadcast: named as float_power, not its pow
        raise called_as("float_power", error, a, b) from None


def _float_power_dtype(*values: Any) -> Any:
    is_complex_ = any(isinstance(v, complex) or getattr(v, "dtype", float64).kind == "c" for v in values)
    return numpy.dtype("complex128") if is_complex_ else float64


def float_power_(x: Tensor, exponent: Any) -> Tensor:
    """``x = x.float_power(exponent)`` in place: x must be float64 (or complex128), as in PyTorch."""
    target = _float_power_dtype(x, exponent)
    if x.dtype != target:
        raise inplace.InplaceCastError(f"float_power_: the base has dtype {x.dtype} but the operation's result "
                                       f"requires dtype {target} (as in PyTorch)")
    return inplace._inplace(x, "float_power_", lambda cur: float_power(cur, exponent), exponent)


def nextafter(input: Tensor, other: Any) -> Tensor:  # noqa: A002 - PyTorch's name
    """The next float after ``input`` towards ``other``, broadcast (torch.nextafter); float tensors only, as
    PyTorch.

    Gradients as PyTorch's: ``input`` gets the incoming gradient (0 where input == other: the result is
    other), ``other`` zero.
    """
    tensors_only("nextafter", input, other)
    a, b = _operands(input, other, "nextafter", floating=False)
    refuse_complex("nextafter", a, b, order=False)
    if not any(isinstance(value, Tensor) and value.dtype.kind == "f" for value in (a, b)):   # float16 with a bool
        dtype = a.dtype if isinstance(a, Tensor) else b.dtype                                  # is float16 (PyTorch)
        raise DtypeNotImplementedError(f"nextafter: not implemented for dtype {dtype} (as in PyTorch); "
                                       f"shapes {_shape_of(a)} and {_shape_of(b)}")
    return Binary("nextafter", lambda xp, x, y: xp.nextafter(x, y),
                  lambda xp, gy, x, y, out: (xp.where(x == y, gy.dtype.type(0), gy), xp.zeros_like(gy)))(a, b)


def _shape_of(value: Any) -> tuple:
    return tuple(getattr(value, "shape", ()))


def _copysign_grads(xp: Any, gy: Any, x: Any, y: Any, out: Any) -> tuple:
    ratio = xp.where(x == 0, out.dtype.type(0), out / x)   # ±1, and 0 at x == 0 (PyTorch's masked ratio)
    return gy * ratio, xp.zeros_like(gy)


def copysign(input: Any, other: Any) -> Tensor:  # noqa: A002 - PyTorch's name
    """|input| with the sign of ``other`` (the sign bit: -0.0 is negative), broadcast; ``other`` gets a zero
    gradient."""
    a, b = _operands(input, other, "copysign")
    refuse_complex("copysign", a, b, order=False)
    return Binary("copysign", lambda xp, x, y: xp.copysign(x, y), _copysign_grads)(a, b)


def _fmax_grads(xp: Any, gy: Any, x: Any, y: Any, out: Any) -> tuple:
    x_wins = (x >= y) | xp.isnan(y)   # a tie goes to x; NaN loses to a number
    zero = gy.dtype.type(0)
    return xp.where(x_wins, gy, zero), xp.where(x_wins, zero, gy)


def _fmin_grads(xp: Any, gy: Any, x: Any, y: Any, out: Any) -> tuple:
    x_wins = (x <= y) | xp.isnan(y)
    zero = gy.dtype.type(0)
    return xp.where(x_wins, gy, zero), xp.where(x_wins, zero, gy)


def fmax(input: Any, other: Any) -> Tensor:  # noqa: A002 - PyTorch's name
    """Elementwise maximum that ignores NaN (NaN only where both are), broadcast; a tie's gradient goes to
    ``input``."""
    a, b = _operands(input, other, "fmax", floating=False)
    if "c" in (a.dtype.kind, b.dtype.kind):   # complex values have no order (NumPy's is lexicographic)
        raise complex_order_error("fmax", a.dtype if a.dtype.kind == "c" else b.dtype, runtime=True)
    return Binary("fmax", lambda xp, x, y: backend.fmax(xp, x, y), _fmax_grads)(a, b)


def fmin(input: Any, other: Any) -> Tensor:  # noqa: A002 - PyTorch's name
    """Elementwise minimum that ignores NaN (NaN only where both are), broadcast; a tie's gradient goes to
    ``input``."""
    a, b = _operands(input, other, "fmin", floating=False)
    if "c" in (a.dtype.kind, b.dtype.kind):   # complex values have no order (NumPy's is lexicographic)
        raise complex_order_error("fmin", a.dtype if a.dtype.kind == "c" else b.dtype, runtime=True)
    return Binary("fmin", lambda xp, x, y: backend.fmin(xp, x, y), _fmin_grads)(a, b)


def heaviside(input: Tensor, values: Any) -> Tensor:  # noqa: A002 - PyTorch's name
    """0 where x < 0, ``values`` where x == 0, 1 where x > 0 (NaN gives 0), x = ``input``; broadcast; x's
    dtype.

    ``values`` must have x's dtype, as in PyTorch. No derivative (PyTorch's backward raises; so does this one).
    """
    x = _numeric(input, "heaviside")
    if x.dtype.kind == "c":   # complex values have no order (no sign to step on)
        raise complex_order_error("heaviside", x.dtype, runtime=True)
    if _plain_number(values):
        if numpy.result_type(x.dtype, values) != x.dtype:
            raise TypeError(f"heaviside: values {values!r} does not fit x's dtype {x.dtype}")
        values = numpy.asarray(values, dtype=x.dtype)
    else:
        values = _numeric(values, "heaviside")
    if isinstance(values, Tensor) and values.dtype != x.dtype:
        raise ArgumentTypeError(f"heaviside: values has dtype {values.dtype} but x has dtype {x.dtype}: not "
                                "implemented for tensors with different dtypes (as in PyTorch)")
    return NotDifferentiable("heaviside", lambda xp, a, v: xp.where(a == 0, v, (a > 0).astype(a.dtype)))(x, values)


# --- unary: sign, fraction, non-finite values -------------------------------------------------------------

class ComplexSign(Function):
    """``s = z / |z|`` (0 at z = 0) of complex z. With PyTorch's gradient convention the gradient is
    ``(g - conj(g) s²) / (2 |z|)`` (from ds/dz = 1 / (2|z|), ds/dz* = -s² / (2|z|)); 0 at z = 0."""

    name = "sgn"
    complex_grad = True   # backward gives PyTorch's gradient: see autograd.engine._complex_gate

    def forward(self, z: Any) -> Any:
        xp = self.xp
        size = xp.abs(z)
        with backend.errstate(xp, divide="ignore", invalid="ignore"):   # part by part, as PyTorch's: keeps -0.0
            s = xp.empty(z.shape, dtype=z.dtype)                            # and gives sgn(inf·1j) = 0 + nan·1j
            s.real, s.imag = z.real / size, z.imag / size
            s = xp.where(size == 0, z.dtype.type(0), s)
        self.saved = (size, s)
        return s

    def backward(self, gy: Any) -> Any:
        xp = self.xp
        size, s = self.saved
        with backend.errstate(xp, divide="ignore", invalid="ignore"):
            g = (gy - gy.conj() * s * s) / (2 * size)
        return xp.where(size == 0, gy.dtype.type(0), g)


def sgn(input: Tensor) -> Tensor:  # noqa: A002 - PyTorch's name
    """The sign of each element, -1, 0 or 1 in input's dtype (torch.sgn, for real tensors :func:`sign`);
    of complex z, ``z / |z|`` (0 at 0) with PyTorch's gradient."""
    x = _numeric(input, "sgn")
    return ComplexSign()(x) if x.dtype.kind == "c" else respelled(sign(x), x, "sign", "SgnBackward0")


def signbit(input: Tensor) -> Tensor:  # noqa: A002 - PyTorch's name
    """True where the sign bit is set (negative numbers, -0.0, -NaN): a bool tensor of input's shape."""
    x = _numeric(input, "signbit")
    refuse_complex("signbit", x, order=False)
    xp = backend.array_module(x.data)
    return _bool_result("signbit", lambda a: xp.asarray(xp.signbit(a) if a.dtype.kind != "b" else a & False), (x,))


def frac(input: Tensor) -> Tensor:  # noqa: A002 - PyTorch's name
    """x - trunc(x) with x = ``input``, with x's sign (gradient 1); any shape; integer tensors raise, as in
    PyTorch."""
    x = _numeric(input, "frac")
    if x.dtype.kind == "c":   # trunc orders values: NumPy has no complex trunc, PyTorch no complex frac
        raise complex_order_error("frac", x.dtype)
    if x.dtype.kind != "f":
        raise DtypeNotImplementedError(f"frac: not implemented for dtype {x.dtype} (as in PyTorch)")
    return _frac(x)


_frac = _unary("frac", lambda xp, a: a - xp.trunc(a), lambda xp, a, y: xp.ones_like(y), "x - trunc(x).",
               keeps_input=False)


class NanToNum(Function):
    """NaN, +inf and -inf replaced by numbers; the gradient passes where x was finite (``gy * isfinite(x)``)."""

    name = "nan_to_num"

    def __init__(self, nan: float, posinf: float | None, neginf: float | None) -> None:
        self.nan, self.posinf, self.neginf = nan, posinf, neginf

    def forward(self, x: Any) -> Any:
        self.saved = (x,)
        with backend.errstate(self.xp, over="ignore"):   # a bound beyond the dtype's range becomes inf
            y = self.xp.asarray(self.xp.nan_to_num(x, nan=self.nan, posinf=self.posinf, neginf=self.neginf))
        if x.flags.c_contiguous:
            return y
        # NumPy's copy of an expanded x puts its 0-stride dims innermost (then .view(-1) raises); PyTorch's unary
        # kernel lays a new result out from x's strides
        return lay_out_as_torch(self.xp, y, [tuple(s // x.itemsize for s in x.strides)])

    def backward(self, gy: Any) -> Any:
        return gy * self.xp.isfinite(self.saved[0])   # PyTorch multiplies (an inf gradient there gives NaN)


def nan_to_num(input: Tensor, nan: float = 0.0, posinf: float | None = None,  # noqa: A002 - PyTorch's name
               neginf: float | None = None) -> Tensor:
    """NaN → ``nan``, +inf → ``posinf``, -inf → ``neginf``; the defaults are 0 and input's dtype's largest and
    smallest finite values (torch.nan_to_num). Any shape. Integer and bool tensors come back as a copy."""
    x = _numeric(input, "nan_to_num")
    # None: the default, as PyTorch's; a bool is PyTorch's 0.0 or 1.0
    nan, posinf, neginf = (float(v) if isinstance(v, (bool, numpy.bool_)) else v for v in (nan, posinf, neginf))
    nan = 0.0 if nan is None else number(nan, "nan_to_num", "nan")
    posinf = None if posinf is None else number(posinf, "nan_to_num", "posinf")
    neginf = None if neginf is None else number(neginf, "nan_to_num", "neginf")
    if x.dtype.kind in "biu":
        return _copy(x)
    return NanToNum(nan, posinf, neginf)(x)
