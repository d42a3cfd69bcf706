"""More elementwise math with PyTorch's names and results: rounding, logs and exps, ``erf``, ``atan2``,
``remainder``/``fmod``, ``logaddexp``, ``lerp``, and the tests that give bool tensors (``isnan``,
``logical_and``, ``isclose`` …).

Integer and bool inputs of the float-valued ops become the default float dtype first (float32 unless
``set_default_dtype``), as PyTorch's integer-to-float promotion (NumPy would give float64). The rounding ops
(``floor``, ``round``, ``sign`` …) have a zero gradient everywhere, as PyTorch's.
"""

from __future__ import annotations

import builtins
import math
from typing import Any, Callable

from .. import backend
from ..arguments import ArgumentTypeError, wrapped_ints
from ..autograd import Function
from ..autograd.names import respelled, spelled
from ..dtypes import get_default_dtype
from ..outputs import write_out
from ..recording import note_draw, note_read
from ..tensor import Tensor
from . import error_function
from ._util import (
    FLOAT16,
    FLOAT32,
    DtypeMismatchError,
    DtypeNotImplementedError,
    ShapeMismatchError,
    complex_order_error,
    dim_or_axis,
    flag,
    float16_in_float32,
    int_arg,
    normalize_axis,
    number,
    real_scalar,
    refuse_complex,
    same_device,
    sum_to,
    tensor_arg,
    tensors_only,
)
from .elementwise import _integral, clip, mul
from .iterator_layout import elementwise_layout, gradient_layout, lay_out_as_torch
from .select import c_order
from .shape import astype, method_dims


def _shape(value: Any) -> tuple:
    return getattr(value, "shape", ())


class IntegerDivisionByZero(ZeroDivisionError, RuntimeError):
    """An integer divided by zero: Python's ZeroDivisionError, and the RuntimeError PyTorch raises."""


def _no_integer_zero(xp: Any, a: Any, b: Any, name: str) -> None:
    """Raise where an integer (or bool) ``a`` meets an integer zero in ``b``, as PyTorch (NumPy gives 0)."""
    if _integral(a) and _integral(b):
        zero = b == 0
        if (zero.any() if hasattr(zero, "any") else zero) and getattr(a, "size", 1):   # an empty result divides nothing
            raise IntegerDivisionByZero(f"{name}: integer division by zero (as in PyTorch; shapes "
                                        f"{_shape(a)} and {_shape(b)})")


def _floating(x: Any, name: str) -> Tensor:
    """``x`` as a Tensor; an integer or bool tensor becomes the default float dtype (float32 unless
    ``set_default_dtype``), as PyTorch's."""
    x = tensor_arg(x, name)
    if x.dtype.kind in "biu":
        return astype(x, get_default_dtype())
    if x.dtype.kind not in "fc":
        raise TypeError(f"{name}: expected a numeric tensor, got dtype {x.dtype}")
    return x


def _floating_pair(a: Any, b: Any, name: str) -> tuple:
    """The operands of a float-valued binary op (atan2, hypot, xlogy …) with integer and bool tensors made float
    first, as PyTorch's: of the other operand's float (or complex) dtype where it is a float (complex) tensor (float16
    with int8 stays float16, as in NumPy and PyTorch; an int32 beside a complex128 is not rounded to float32 on the
    way), else the default float dtype. Python numbers are kept."""
    def made_float(x: Any, other: Any) -> Any:
        if isinstance(x, Tensor) and x.dtype.kind in "biu" and isinstance(other, Tensor) and other.dtype.kind in "fc":
            return astype(x, other.dtype)
        return _floating(x, name) if isinstance(x, Tensor) else x
    return made_float(a, b), made_float(b, a)


def _real_floating(*operands: Any, name: str) -> None:
    """Refuse complex operands of a function PyTorch has no complex kernel for (lgamma, zeta, erfinv, i0, …), instead
    of a result computed on their real parts (NumPy's cast drops the imaginary part with only a warning)."""
    for x in operands:
        if getattr(getattr(x, "dtype", None), "kind", "") == "c":
            raise NotImplementedError(f"{name}: not implemented for complex tensors (got {x.dtype}), as in PyTorch")


def _numeric(x: Any, name: str) -> Tensor:
    x = tensor_arg(x, name)
    if x.dtype.kind not in "biufc":
        raise TypeError(f"{name}: expected a numeric tensor, got dtype {x.dtype}")
    return x


# --- rounding: a step function's gradient is 0 --------------------------------------------------

class Flat(Function):
    """``y = f(x)`` for a piecewise-constant ``f`` (floor, sign …): the gradient is 0 everywhere."""

    def __init__(self, name: str, fn: Callable[[Any, Any], Any]) -> None:
        self.name, self.fn = name, fn

    def forward(self, x: Any) -> Any:
        if x.dtype.kind == "c":   # rounding and sign order values (NumPy rounds each part, signs lexicographically)
            raise complex_order_error(self.name, x.dtype)
        return self.xp.asarray(self.fn(self.xp, x))

    def backward(self, gy: Any) -> Any:
        return self.xp.zeros_like(gy)


class NotDifferentiable(Function):
    """An op whose derivative PyTorch does not implement: its output requires grad, its backward raises."""

    def __init__(self, name: str, fn: Callable[..., Any], hint: str = "") -> None:
        self.name, self.fn, self.hint = name, fn, hint

    def forward(self, *arrays: Any) -> Any:
        with backend.errstate(self.xp, divide="ignore", invalid="ignore", over="ignore"):
            return self.xp.asarray(self.fn(self.xp, *arrays))

    def backward(self, gy: Any) -> Any:
        raise RuntimeError(f"{self.name}: derivative for {self.name} is not implemented (as in PyTorch){self.hint}")


def _copy(x: Tensor) -> Tensor:
    """A copy without gradient, as a recorded draw (an mg.compile replay copies that call's values)."""
    return note_draw("copy", _array_copy, (x,), Tensor._make(x.data.copy(), False, None, 0))


def _array_copy(array: Any) -> Any:
    return array.copy()


def _flat(name: str, fn: Callable[[Any, Any], Any], doc: str) -> Callable[[Tensor], Tensor]:
    def op(input: Tensor) -> Tensor:  # noqa: A002 - PyTorch's name
        x = _numeric(input, name)
        if x.dtype == bool and name != "sign":
            raise DtypeNotImplementedError(f"{name}: not defined for a bool tensor (as in PyTorch); cast it first")
        if x.dtype.kind in "biu" and name != "sign":
            return _copy(x)   # integers are already whole (PyTorch copies)
        return Flat(name, fn)(x)
    op.__name__ = name
    op.__doc__ = doc + " The gradient is 0 (as PyTorch's)."
    return op


def _sign(xp: Any, x: Any) -> Any:
    if x.dtype == bool:
        return x.copy()
    if x.dtype.kind == "f":
        return xp.where(xp.isnan(x), x.dtype.type(0), xp.sign(x))   # PyTorch's sign(NaN) is 0 (NumPy's NaN)
    return xp.sign(x)


sign = _flat("sign", _sign, "-1, 0 or 1 by the sign of each element, in x's dtype.")
floor = _flat("floor", lambda xp, x: xp.floor(x), "The largest whole number <= x, in x's dtype.")
ceil = _flat("ceil", lambda xp, x: xp.ceil(x), "The smallest whole number >= x, in x's dtype.")
trunc = _flat("trunc", lambda xp, x: xp.trunc(x), "x rounded towards zero, in x's dtype.")
fix = trunc


def round(input: Tensor, *, decimals: int = 0) -> Tensor:  # noqa: A002, A001 - PyTorch's name
    """x rounded half to even (to ``decimals`` decimal places), as torch.round; the gradient is 0."""
    x = _numeric(input, "round")
    if x.dtype == bool:
        raise DtypeNotImplementedError("round: not defined for a bool tensor (as in PyTorch); cast it first")
    decimals = int_arg(decimals, "round", "decimals")
    if x.dtype.kind in "biu":
        if decimals != 0:   # PyTorch's round(decimals=) has no integer kernel
            raise DtypeNotImplementedError(f"round: decimals={decimals} is not implemented for dtype {x.dtype}, "
                                           "as in PyTorch")
        return _copy(x)
    if decimals == 0:
        return Flat("round", lambda xp, a: xp.rint(a))(x)
    if x.dtype == FLOAT16:   # PyTorch's float16 kernel: in float32, rounded once
        return round(x.float(), decimals=decimals).half()
    scale = 10.0 ** builtins.abs(decimals)
    # PyTorch's formula (not NumPy's): scale up, round to even, scale back
    if decimals > 0:
        return Flat(_ROUND_DECIMALS, lambda xp, a: xp.rint(a * scale) / scale)(x)
    return Flat(_ROUND_DECIMALS, lambda xp, a: xp.rint(a / scale) * scale)(x)


_ROUND_DECIMALS = spelled("round", "RoundBackward1")   # PyTorch's round(decimals=) is its overload 1


# --- unary math ------------------------------------------------------------------------------------

class Unary(Function):
    """``y = f(x)`` with ``dy/dx = derivative(xp, x, y)``; keeps x and y for backward. ``keeps_input=False``: the
    derivative reads y only (1 / x, 1 / sqrt(x), 2 ** x, tan, as PyTorch's, which keeps only the result), so x may
    change in place before backward."""

    # complex values (autograd.engine._complex_gate): the ops whose derivative formula holds for complex x
    complex_grad = staticmethod(lambda node, arrays: "holomorphic" if node.name in _HOLOMORPHIC else False)

    def __init__(self, name: str, fn: Callable, derivative: Callable, keeps_input: bool = True) -> None:
        self.name, self.fn, self.derivative, self.keeps_input = name, fn, derivative, keeps_input

    def forward(self, x: Any) -> Any:
        xp = self.xp
        with backend.errstate(xp, divide="ignore", invalid="ignore", over="ignore"):
            if x.dtype == FLOAT16:   # in float32, rounded once, as PyTorch's
                y = xp.asarray(float16_in_float32(lambda v: xp.asarray(self.fn(xp, v)), x))
            else:
                y = xp.asarray(self.fn(xp, x))
        if y.strides != x.strides and y.shape == x.shape and not x.flags.c_contiguous:
            # a kernel of several NumPy steps may mix layouts and end in C order: PyTorch's unary result keeps x's
            y = lay_out_as_torch(xp, y, [tuple(s // x.itemsize for s in x.strides)])
        # y too, unless the derivative reads x only (erf, erfc, log1p, asin …: PyTorch's nodes keep x alone)
        # (a copy in x's layout, which the gradient's layout follows)
        self.saved = (x.copy(order="K") if self.name in _COPIES_INPUT else x,
                      None if self.name in _READS_INPUT_ONLY else y)
        return y

    def backward(self, gy: Any) -> Any:
        x, y = self.saved   # (y None where the derivative reads x only)
        with backend.errstate(self.xp, divide="ignore", invalid="ignore", over="ignore"):
            if gy.dtype == FLOAT16:
                gx = float16_in_float32(lambda g, a, b: g * self.derivative(self.xp, a, b).astype(g.dtype), gy, x, y)
            else:
                gx = gy * self.derivative(self.xp, x, y).astype(gy.dtype, copy=False)
        # PyTorch's formula is grad * f'(x), or f'(x) * grad (erf …): its TensorIterator's first operand decides.
        # f'(x) is laid out as y, PyTorch's f(x) (C order for an expanded x), else as x
        derivative = x if y is None else y
        return gradient_layout(self.xp, gx, derivative, gy) if self.name in _DERIVATIVE_FIRST else \
            gradient_layout(self.xp, gx, gy, derivative)

    def kept_for_backward(self) -> tuple:
        if self.name in _READS_INPUT_ONLY:   # x changed in place: refused; y changed: PyTorch's gradient still
            return self.saved[:1]
        if self.name == "frac":   # a gradient of ones: nothing read (y only for its shape)
            return ()
        return self.saved if self.keeps_input else self.saved[1:]


# the Unary ops whose derivative (the first and the higher ones, real and complex) reads x only, as PyTorch's, which
# saves only x: an in-place change of the result before backward is not refused (torch.acos(x).mul_(2) backward works)
_READS_INPUT_ONLY = frozenset({"log1p", "log2", "log10", "erf", "erfc", "asin", "acos", "atan", "sinh", "cosh",
                               "asinh", "acosh", "atanh", "ndtr", "entr", "i0", "lgamma", "digamma", "polygamma",
                               "erfinv"})   # erfinv's derivative recomputes erfinv(x), as PyTorch's
# the Unary ops whose PyTorch backward formula multiplies f'(x) by the gradient, not the gradient by f'(x): its
# result follows x's layout first (erf(x.t()) with a C-order gradient: a transposed gradient)
_DERIVATIVE_FIRST = frozenset({"erf", "erfc", "erfinv", "erfcx", "ndtr"})
# the Unary ops whose derivative reads x where PyTorch's does not save the x the user holds, so changing x in place
# before backward is not refused: they read a copy. expm1 (PyTorch saves its result and takes y + 1, which rounds
# to 0 in the negative tail; ours is exp(x), so ELU's small gradients stay) and ndtri (float32's y rounded put 5e-6
# into exp(y²/2): ours recomputes y in float64 from p) check the result as PyTorch's; ndtr is PyTorch's composite
# (1 + erf(x/√2)) / 2, whose erf saves its own x/√2, so neither change is refused
_COPIES_INPUT = frozenset({"expm1", "ndtri", "ndtr"})


def _unary(name: str, fn: Callable, derivative: Callable, doc: str,
           keeps_input: bool = True) -> Callable[[Tensor], Tensor]:
    def op(input: Tensor) -> Tensor:  # noqa: A002 - PyTorch's name
        return Unary(name, fn, derivative, keeps_input)(_floating(input, name))
    op.__name__ = name
    op.__doc__ = f"{doc}\n\n    input: any shape → the same shape (elementwise; integers become floating point)."
    return op


_LN2, _LN10 = math.log(2.0), math.log(10.0)
# asin…atanh: NumPy's principal branches are PyTorch's and so are the derivatives (acosh's complex derivative is
# 1/(sqrt(x - 1) sqrt(x + 1)), not 1/sqrt(x² - 1), which has the other sign where Re x < 0: ops/special.py)
_HOLOMORPHIC = frozenset({"log1p", "expm1", "log2", "log10", "exp2", "rsqrt", "reciprocal", "tan", "sinh", "cosh",
                          "asin", "acos", "atan", "asinh", "acosh", "atanh",
                          "logaddexp"})   # a Binary: holomorphic in each input

def _log1p(xp: Any, x: Any) -> Any:
    """log(1 + x); for complex x exact for small |x| too (NumPy's complex log1p is log(1 + x): 1e-20 + 1e-21j
    gave a real part of 0): log|1 + x| = ½ log1p(x.real·(2 + x.real) + x.imag²) for |x| < ½, as PyTorch's."""
    if getattr(x, "dtype", None) is None or x.dtype.kind != "c":
        return xp.log1p(x)
    re, im = x.real, x.imag
    angle = xp.arctan2(im, re + 1)
    small = re * (2 + re) + im * im
    near = xp.where(small == 0, re, 0.5 * xp.log1p(small))   # small underflowed: log|1 + x| ≈ x.real
    magnitude = xp.where(xp.abs(x) < 0.5, near, xp.log(xp.hypot(re + 1, im)))
    magnitude = xp.where(xp.isnan(angle), angle, magnitude)   # a NaN part: NaN + NaN·1j, as PyTorch's (not C99's inf)
    out = xp.empty(x.shape, dtype=x.dtype)   # set part by part: magnitude + 1j·angle loses -0.0's sign
    out.real, out.imag = magnitude, angle
    return out


log1p = _unary("log1p", _log1p, lambda xp, x, y: 1 / (1 + x), "log(1 + x), exact for small x.")
# d expm1 = exp(x), not y + 1: that rounds to 0 far in the negative tail (float32 at x = -30), where
# elu/selu/celu built on expm1 then lose their small gradients
expm1 = _unary("expm1", lambda xp, x: xp.expm1(x), lambda xp, x, y: xp.exp(x), "exp(x) - 1, exact for small x.",
               keeps_input=False)   # x: a copy (_COPIES_INPUT)
log2 = _unary("log2", lambda xp, x: xp.log2(x), lambda xp, x, y: 1 / (x * _LN2), "Base-2 logarithm.")
log10 = _unary("log10", lambda xp, x: xp.log10(x), lambda xp, x, y: 1 / (x * _LN10), "Base-10 logarithm.")
exp2 = _unary("exp2", lambda xp, x: xp.exp2(x), lambda xp, x, y: y * _LN2, "2 ** x.", keeps_input=False)
rsqrt = _unary("rsqrt", lambda xp, x: 1 / xp.sqrt(x), lambda xp, x, y: -0.5 * y * y * y, "1 / sqrt(x).",
               keeps_input=False)
reciprocal = _unary("reciprocal", lambda xp, x: 1 / x, lambda xp, x, y: -(y * y), "1 / x.", keeps_input=False)


def square(input: Tensor) -> Tensor:  # noqa: A002
    """x ** 2 (an integer tensor stays integer, as torch.square). A float's is PyTorch's pow(x, 2), so its
    derivatives (2x, then 2) stay differentiable to any order; x * x would make the third one raise."""
    x = _numeric(input, "square")
    if x.dtype == bool:
        x = astype(x, "int64")   # PyTorch: bool * bool would be bool; square promotes to int64
    return x ** 2 if x.dtype.kind in "fc" else mul(x, x)


def _erf_array(xp: Any, x: Any) -> Any:
    """erf elementwise in x's float dtype (float32 in float32, as PyTorch's), below 1 ulp: ops/error_function.py."""
    refuse_complex("erf", x, order=False)   # PyTorch has no complex erf (and this is for real x)
    return error_function.erf_array(xp, x)


erf = _unary("erf", _erf_array, lambda xp, x, y: (2 / math.sqrt(math.pi)) * xp.exp(-x * x),
             "The error function 2/√π ∫₀ˣ e^{-t²} dt (derivative 2/√π · e^{-x²}).")


# --- binary math -----------------------------------------------------------------------------------

def _pair(a: Any, b: Any, name: str) -> tuple:
    """Two operands for a float-valued binary op: at least one Tensor; integers become the default float dtype."""
    if not isinstance(a, Tensor) and not isinstance(b, Tensor):
        raise TypeError(f"{name}: expected at least one Tensor, got {type(a).__name__} and {type(b).__name__}")
    a = a if isinstance(a, (int, float)) else _numeric(a, name)   # a Python bool is a number too, as in PyTorch
    b = b if isinstance(b, (int, float)) else _numeric(b, name)
    return a, b


class Binary(Function):
    """``y = fn(a, b)`` broadcast; ``grads(xp, gy, a, b, y)`` gives both gradients, which are then summed
    back to each input's shape.

    ``grads`` sees ``gy`` (rather than giving local derivatives to multiply it by), so a gradient that does
    not flow can be selected away (exactly 0 even where ``gy`` is inf) or be zeros.
    """

    # complex values (autograd.engine._complex_gate): the ops whose gradient formulas hold for complex inputs
    complex_grad = staticmethod(lambda node, arrays: "holomorphic" if node.name in _HOLOMORPHIC else False)

    def __init__(self, name: str, fn: Callable, grads: Callable) -> None:
        self.name, self.fn, self.grads = name, fn, grads

    def forward(self, a: Any, b: Any) -> Any:
        with backend.errstate(self.xp, divide="ignore", invalid="ignore", over="ignore"):
            y = elementwise_layout(self.xp, self.xp.asarray(self.fn(self.xp, a, b)), (a, b))
        self.saved = (a, b, y)
        return y

    def backward(self, gy: Any) -> tuple:
        a, b, y = self.saved
        with backend.errstate(self.xp, divide="ignore", invalid="ignore", over="ignore"):
            ga, gb = self.grads(self.xp, gy, a, b, y)
        return (sum_to(ga, _shape(a)) if self.needs_grad[0] else None,
                sum_to(gb, _shape(b)) if self.needs_grad[1] else None)

    def kept_for_backward(self) -> tuple:
        """What the gradients read, as PyTorch saves: a and b (the result too for hypot; a and the result for
        copysign), nothing for fmod's and remainder's a alone (its gradient is gy), so an in-place change of the
        rest is not refused."""
        if self.name in ("fmod", "remainder") and not self.needs_grad[1]:
            return ()
        if self.name == "copysign":
            return self.saved[0], self.saved[2]
        return self.saved if self.name == "hypot" else self.saved[:2]


def _remainder(xp: Any, a: Any, b: Any) -> Any:
    """PyTorch's remainder: fmod, moved by b where its sign differs from b's. A zero result keeps fmod's sign
    (the sign of a: ``-0.0 % 2.0`` is -0.0, and ``3.0 % -1.5`` is 0.0, where NumPy gives b's sign)."""
    _no_integer_zero(xp, a, b, "remainder")
    if _integral(a) and _integral(b):
        return xp.remainder(a, b)
    mod = xp.asarray(xp.fmod(a, b))
    return xp.where((mod != 0) & ((b < 0) != (mod < 0)), mod + b, mod)


def _fmod(xp: Any, a: Any, b: Any) -> Any:
    _no_integer_zero(xp, a, b, "fmod")
    return xp.fmod(a, b)


def _no_bool_pair(a: Any, b: Any, name: str) -> None:
    """Refuse two bool operands (a bool result), as PyTorch: it has no bool kernel for ``name``."""
    if all(isinstance(v, bool) or getattr(getattr(v, "dtype", None), "kind", None) == "b" for v in (a, b)):
        raise DtypeNotImplementedError(f"{name}: not implemented for two bool operands (shapes {_shape(a)} and "
                                       f"{_shape(b)}), as in PyTorch")


def remainder(input: Any, other: Any) -> Tensor:  # noqa: A002
    """a - floor(a / b) * b: the result has the sign of ``b`` (Python's ``%``, torch.remainder).

    An integer divided by an integer zero raises :class:`IntegerDivisionByZero`, as PyTorch.
    """
    refuse_complex("remainder", input, other)   # a floor: complex values (a Python complex too) have no order
    a, b = _pair(input, other, "remainder")
    _no_bool_pair(a, b, "remainder")
    # d/db is -(a // b) with the floor division the forward used (7 // 0.1 is 69, not floor(7 / 0.1) = 70)
    return Binary("remainder", _remainder, lambda xp, gy, x, y, out: (gy, gy * -backend.floor_divide(xp, x, y)))(a, b)


def fmod(input: Any, other: Any) -> Tensor:  # noqa: A002
    """a - trunc(a / b) * b: the result has the sign of ``a`` (C's fmod, torch.fmod).

    An integer divided by an integer zero raises :class:`IntegerDivisionByZero`, as PyTorch.
    """
    refuse_complex("fmod", input, other)   # a trunc: complex values (a Python complex too) have no order
    a, b = _pair(input, other, "fmod")
    _no_bool_pair(a, b, "fmod")
    return Binary("fmod", _fmod, lambda xp, gy, x, y, out: (gy, gy * -xp.trunc(x / y)))(a, b)


def atan2(input: Any, other: Any, *, out: Tensor | None = None) -> Tensor:  # noqa: A002
    """The angle of the point (b, a) in radians, in (-π, π] (torch.atan2(input=a, other=b)); ``out=``: written
    into that tensor (minigrad/outputs.py)."""
    if out is not None:
        return write_out("atan2", atan2(input, other), out, inputs=(input, other), broadcast=True)
    tensors_only("atan2", input, other)
    refuse_complex("atan2", input, other, order=False)
    a, b = _pair(input, other, "atan2")
    a, b = _floating_pair(a, b, "atan2")

    def grads(xp: Any, gy: Any, x: Any, y: Any, out: Any) -> tuple:
        recip = 1 / (x * x + y * y)
        recip = xp.where(xp.isinf(recip), recip.dtype.type(0), recip)   # at the origin (or where x² + y² underflows): 0
        return gy * y * recip, gy * -x * recip
    return Binary("atan2", lambda xp, x, y: xp.arctan2(x, y), grads)(a, b)


def logaddexp(input: Any, other: Any) -> Tensor:  # noqa: A002
    """log(exp(a) + exp(b)) without overflow; gradients 1 / (1 + exp(b - a)) and 1 / (1 + exp(a - b)), PyTorch's
    formulas (exp(a - y) would be inf - inf = NaN where a = inf and b is finite; PyTorch gives 1 and 0)."""
    a, b = _pair(input, other, "logaddexp")
    if all(_integral(v) for v in (a, b) if isinstance(v, Tensor)):   # PyTorch has no integer kernel
        raise DtypeNotImplementedError(f"logaddexp: not implemented for integer or bool tensors (shapes {_shape(a)} "
                                       f"and {_shape(b)}), as in PyTorch; cast to float first")
    a, b = _floating_pair(a, b, "logaddexp")
    return Binary("logaddexp", _logaddexp,
                  lambda xp, gy, x, y, out: (gy / (1 + xp.exp(y - x)), gy / (1 + xp.exp(x - y))))(a, b)


def _logaddexp(xp: Any, x: Any, y: Any) -> Any:
    """log(exp(x) + exp(y)); for complex values (NumPy has no complex logaddexp) PyTorch's: log1p(exp(lo - hi)) + hi
    with hi the one of larger real part (``x`` on a tie), the principal log of the sum; NaN + NaNj if either has a
    NaN; where both real parts are the same infinity, ``lo`` at -inf and log(exp(x) + exp(y)) at +inf."""
    if getattr(x, "dtype", None) is None or x.dtype.kind != "c":
        if getattr(y, "dtype", None) is None or y.dtype.kind != "c":
            return xp.logaddexp(x, y)
    dtype = xp.result_type(x, y)
    x, y = xp.broadcast_arrays(xp.asarray(x).astype(dtype, copy=False), xp.asarray(y).astype(dtype, copy=False))
    x_low = x.real < y.real
    lo, hi = xp.where(x_low, x, y), xp.where(x_low, y, x)
    out = _log1p(xp, xp.exp(lo - hi)) + hi
    same_infinity = xp.isinf(lo.real) & (lo.real == hi.real)
    with backend.errstate(xp, over="ignore", invalid="ignore"):   # selected everywhere: no host read of .any()
        out = xp.where(same_infinity, xp.where(lo.real < 0, lo, xp.log(xp.exp(lo) + xp.exp(hi))), out)
    return xp.where(xp.isnan(x) | xp.isnan(y), dtype.type(complex(math.nan, math.nan)), out)


class LerpDtypeError(TypeError, NotImplementedError):
    """lerp of an integer or bool start: TypeError here, PyTorch's NotImplementedError (no kernel for the dtype)."""


class Lerp(Function):
    """start + weight * (end - start) as PyTorch's vectorised kernel computes it: ``end + (weight - 1) * (end - start)``
    where |weight| >= 0.5, so weight 1 gives ``end`` exactly (and an infinite weight gives PyTorch's inf or NaN).
    Gradients ``1 - weight``, ``weight`` and ``end - start``. ``weight`` is a Python number given here, or
    the third input."""

    name = "lerp"
    complex_grad = "holomorphic"   # gradients (1 - w)*, w* and (end - start)*, PyTorch's; see engine._complex_gate

    half = False   # True: float16 tensors computed in float32 (PyTorch's kernel); backward in float16 steps

    def __init__(self, weight: Any = None, half: bool = False) -> None:
        self.weight = weight
        if half:
            self.half = True

    def forward(self, start: Any, end: Any, *weight: Any) -> Any:
        xp = self.xp
        w = weight[0] if weight else self.weight
        self.saved = (start, end, w)
        if self.half:   # float16 tensors: computed in float32, rounded once (the node keeps the float16 ones)
            start, end = start.astype("float32"), end.astype("float32")
            if weight:
                weight = (w := w.astype("float32"),)
        with backend.errstate(xp, invalid="ignore", over="ignore"):
            diff = end - start
            if not weight:
                y = start + w * diff if builtins.abs(w) < 0.5 else end + (w - 1) * diff
            else:
                y = xp.where(xp.abs(w) < 0.5, start + w * diff, end + (w - 1) * diff)
        y = elementwise_layout(xp, xp.asarray(y), (start, end, *weight))
        return y.astype("float16") if self.half else y

    def backward(self, gy: Any) -> tuple:
        start, end, w = self.saved
        needs = self.needs_grad
        if self.half:
            return self._half_backward(gy)
        with backend.errstate(self.xp, invalid="ignore", over="ignore"):
            return (sum_to(gy * (1 - w), _shape(start)) if needs[0] else None,
                    sum_to(gy * w, _shape(end)) if needs[1] else None,
                    *((sum_to(gy * (end - start), _shape(w)) if needs[2] else None,) if len(needs) > 2 else ()))

    def _half_backward(self, gy: Any) -> tuple:
        """Float16 tensors' gradients as PyTorch's float16 ops give them, each product rounded to float16 before
        the sum over a broadcast (a number weight: in float32, rounded once; a weight tensor's ``end - start``
        rounded too), each sum in float32 rounded once to float16, as PyTorch's sum of a float16 gradient."""
        start, end, w = self.saved
        needs = self.needs_grad
        half, single = "float16", "float32"

        def rounded(v: Any) -> Any:
            return v.astype(half).astype(single)

        def summed(v: Any, shape: tuple) -> Any:
            return sum_to(v, shape).astype(half)

        g = gy.astype(single)
        if self.weight is None:
            w = w.astype(single)
        with backend.errstate(self.xp, invalid="ignore", over="ignore"):
            one_minus = 1 - w if self.weight is not None else rounded(1 - w)
            return (summed(rounded(g * one_minus), _shape(start)) if needs[0] else None,
                    summed(rounded(g * w), _shape(end)) if needs[1] else None,
                    *((summed(rounded(g * (end.astype(half) - start.astype(half)).astype(single)), _shape(w))
                       if needs[2] else None,) if len(needs) > 2 else ()))


def lerp(input: Tensor, end: Any, weight: Any, *, out: Tensor | None = None) -> Tensor:  # noqa: A002
    """start + weight * (end - start), all broadcast together (torch.lerp, with its formula for
    |weight| >= 0.5: ``end + (weight - 1) * (end - start)``); gradients to all three. ``out=``: written into
    that tensor (minigrad/outputs.py), of the result's very dtype when ``weight`` is a tensor, as torch's."""
    if out is not None:
        return write_out("lerp", lerp(input, end, weight), out, "exact" if isinstance(weight, Tensor) else "cast",
                         inputs=(input, end, weight))
    start = tensor_arg(input, "lerp")
    if start.dtype == FLOAT16 and isinstance(end, Tensor) and end.dtype == FLOAT16 and (
            not isinstance(weight, Tensor) or weight.dtype == FLOAT16):   # PyTorch's: in float32, rounded once
        if isinstance(weight, Tensor):   # one LerpBackward node on the float16 tensors, as PyTorch's
            return Lerp(half=True)(start, end, weight)
        weight = int(weight) if isinstance(weight, bool) else number(weight, "lerp", "weight", complex_ok=True)
        return Lerp(real_scalar("lerp", "weight", weight, FLOAT32), half=True)(start, end)   # (a float: opmath)
    if start.dtype.kind not in "fc":
        # PyTorch's one integer/bool case: end of start's very dtype, weight a 0-d float tensor, whose dtype wins
        if not (isinstance(weight, Tensor) and weight.ndim == 0 and weight.dtype.kind in "fc"):
            raise LerpDtypeError(f"lerp: expected a floating point tensor, got dtype {start.dtype} (an integer or "
                                 f"bool start and end take only a 0-d floating point weight tensor)")
        if not isinstance(end, Tensor) or end.dtype != start.dtype:
            raise LerpDtypeError(f"lerp: expected end of dtype {start.dtype} (input's) beside a 0-d weight, got "
                                 f"{end.dtype if isinstance(end, Tensor) else type(end).__name__}")
        return Lerp()(astype(start, weight.dtype), astype(end, weight.dtype), weight)
    if isinstance(end, Tensor):
        _same_dtype_as_start(start, end, "end")
    elif not isinstance(end, (int, float)):
        end = _numeric(end, "lerp")
    if isinstance(weight, Tensor):
        if weight.dtype.kind == "b":   # as NumPy's a + w * (b - a): w - 1 in bools would be int64 (float64 results)
            weight = astype(weight, start.dtype)
        elif weight.ndim:   # a 0-d one promotes by NumPy 2's rule (README: "Coming from PyTorch")
            _same_dtype_as_start(start, weight, "weight")
        return Lerp()(start, end, _numeric(weight, "lerp"))
    weight = int(weight) if isinstance(weight, bool) else number(weight, "lerp", "weight", complex_ok=True)  # torch's
    return Lerp(weight if start.dtype.kind == "c" else real_scalar("lerp", "weight", weight, start.dtype))(start, end)


def _same_dtype_as_start(start: Tensor, other: Tensor, what: str) -> None:
    """PyTorch's lerp takes ``end`` (and a weight tensor of dimensions) of the very dtype of ``start``: no
    promotion, a RuntimeError (ArgumentTypeError) otherwise."""
    if other.dtype != start.dtype:
        raise ArgumentTypeError(f"lerp: expected dtype {start.dtype} for `{what}` (input's) but got dtype "
                                f"{other.dtype}")


def clamp_min(input: Tensor, min: Any) -> Tensor:  # noqa: A002 - PyTorch's name
    """max(x, min) elementwise (torch.clamp_min)."""
    return respelled(clip(input, min=min), input, "clip", f"ClampMinBackward{int(isinstance(min, Tensor))}")


def clamp_max(input: Tensor, max: Any) -> Tensor:  # noqa: A002 - PyTorch's name
    """min(x, max) elementwise (torch.clamp_max)."""
    return respelled(clip(input, max=max), input, "clip", f"ClampMaxBackward{int(isinstance(max, Tensor))}")


# --- tests that give bool tensors (no gradient) ----------------------------------------------------

def _bool_result(name: str, make: Callable, inputs: tuple) -> Tensor:
    """A bool tensor computed from the inputs' arrays; an ``mg.compile`` replay recomputes it."""
    arrays = [i.data if isinstance(i, Tensor) else i for i in inputs]
    try:
        out = make(*arrays)
    except OverflowError as error:   # a Python int beyond an integer tensor's range: wrapped, as PyTorch
        arrays = wrapped_ints(arrays, error)
        inputs = tuple(a if type(a) is int else x for x, a in zip(inputs, arrays))   # mg.compile replays these
        out = make(*arrays)
    except (ValueError, TypeError) as error:
        message = f"{name}: {error} (shapes {' and '.join(str(_shape(a)) for a in arrays)})"
        # shapes that do not broadcast: PyTorch's RuntimeError as well as NumPy's ValueError
        raise (ShapeMismatchError(message) if type(error) is ValueError else backend.reworded(error, message)) \
            from error
    if not backend.is_array(out):
        out = backend.numpy.asarray(out)
    return note_draw(name, make, inputs, Tensor._make(out, False, None, 0))


def _xp_of(*values: Any) -> Any:
    for v in values:
        if isinstance(v, Tensor):
            return backend.array_module(v.data)
    return backend.numpy


def _test(name: str, fn: Callable[[Any, Any], Any], doc: str, real: bool = False) -> Callable[[Tensor], Tensor]:
    def op(input: Tensor) -> Tensor:  # noqa: A002 - PyTorch's name
        x = _numeric(input, name)
        if real:   # PyTorch's isposinf/isneginf refuse complex input (RuntimeError)
            refuse_complex(name, x, runtime=True, order=False)
        xp = backend.array_module(x.data)
        return _bool_result(name, lambda a: xp.asarray(fn(xp, a)), (x,))
    op.__name__ = name
    op.__doc__ = doc + " A bool tensor of x's shape."
    return op


isnan = _test("isnan", lambda xp, a: xp.isnan(a), "True where x is NaN.")
isinf = _test("isinf", lambda xp, a: xp.isinf(a), "True where x is +inf or -inf.")
isfinite = _test("isfinite", lambda xp, a: xp.isfinite(a), "True where x is neither inf nor NaN.")
isposinf = _test("isposinf", lambda xp, a: xp.isposinf(a), "True where x is +inf.", real=True)
isneginf = _test("isneginf", lambda xp, a: xp.isneginf(a), "True where x is -inf.", real=True)


_truth = backend.logical_operand   # a logical ufunc's operand on every device (CuPy's have no complex loops)

logical_not = _test("logical_not", lambda xp, a: xp.logical_not(_truth(xp, a)), "True where x is zero (False).")


def _logical(name: str, fn: Callable) -> Callable[[Any, Any], Tensor]:
    def op(input: Any, other: Any) -> Tensor:  # noqa: A002 - PyTorch's names
        a, b = same_device(name, _pair(input, other, name))
        xp = _xp_of(a, b)
        return _bool_result(name, lambda x, y: xp.asarray(fn(xp, x, y)), (a, b))
    op.__name__ = name
    op.__doc__ = f"Elementwise ``{name}`` of the truth values (non-zero is True), broadcast: a bool tensor."
    return op


logical_and = _logical("logical_and", lambda xp, a, b: xp.logical_and(_truth(xp, a), _truth(xp, b)))
logical_or = _logical("logical_or", lambda xp, a, b: xp.logical_or(_truth(xp, a), _truth(xp, b)))
logical_xor = _logical("logical_xor", lambda xp, a, b: xp.logical_xor(_truth(xp, a), _truth(xp, b)))


def isclose(input: Any, other: Any, rtol: float = 1e-05, atol: float = 1e-08, equal_nan: bool = False) -> Tensor:  # noqa: A002
    """|a - b| <= atol + rtol * |b| elementwise (broadcast), as torch.isclose: a bool tensor. Two tensors must have
    the same dtype, as PyTorch's (a float32 tensor is not compared with its float64 copy)."""
    a, b = same_device("isclose", _pair(input, other, "isclose"))
    if isinstance(input, Tensor) and isinstance(other, Tensor) and a.dtype != b.dtype:
        raise DtypeMismatchError(f"isclose: {a.dtype} did not match {b.dtype} (shapes {a.shape} and {b.shape}); "
                                 "PyTorch compares tensors of one dtype only: cast one with .to(other.dtype)")
    rtol, atol = number(rtol, "isclose", "rtol"), number(atol, "isclose", "atol")
    if rtol < 0 or atol < 0:
        raise ShapeMismatchError(f"isclose: rtol and atol must be non-negative, got rtol={rtol}, atol={atol}")
    xp = _xp_of(a, b)
    return _bool_result("isclose", lambda x, y: xp.asarray(xp.isclose(x, y, rtol=rtol, atol=atol,
                                                                       equal_nan=bool(equal_nan))), (a, b))


def allclose(input: Any, other: Any, rtol: float = 1e-05, atol: float = 1e-08, equal_nan: bool = False) -> bool:  # noqa: A002
    """Whether every element of ``a`` and ``b`` is close (:func:`isclose`): a Python bool."""
    close = isclose(input, other, rtol, atol, equal_nan)
    note_read(close, "allclose")   # inside mg.compile: the caller's path may depend on the answer
    return bool(close.data.all())


def count_nonzero(input: Tensor, dim: Any = None, *, axis: Any = None,  # noqa: A002
                  keepdims: bool | None = None) -> Tensor:
    """The number of non-zero elements over ``dim`` (an int or a tuple; all when None): an int64 tensor.
    NumPy's ``keepdims=True`` keeps the counted dims as 1 (np.count_nonzero's)."""
    if keepdims is not None:
        count = count_nonzero(input, dim, axis=axis)
        if not flag(keepdims, "count_nonzero", "keepdims"):
            return count
        x = _numeric(input, "count_nonzero")
        axes = normalize_axis(dim_or_axis("count_nonzero", dim, axis), x.ndim, "count_nonzero")
        kept = tuple(1 if axes is None or d in axes else size for d, size in enumerate(x.shape))
        return count.reshape(kept)
    x = _numeric(input, "count_nonzero")
    if isinstance(dim, Tensor):   # PyTorch's int overload: a 0-d int tensor (its int[] one: tensor([1]) too)
        dim = int_arg(dim, "count_nonzero", "dim", one_element=True)
    elif not isinstance(dim, (int, tuple, list, backend.numpy.integer)) and hasattr(dim, "__index__"):
        dim = (dim,)   # (a 0-d NumPy array, an object with only __index__: PyTorch's int[] overload, one dim)
    if axis is None and isinstance(dim, (tuple, list)) and not dim:
        dim = None   # PyTorch reads dim=() as every dim (NumPy's axis=() as none)
    axes = normalize_axis(dim_or_axis("count_nonzero", dim, axis), x.ndim, "count_nonzero")
    if axes is not None and len(set(axes)) != len(axes):
        raise ShapeMismatchError(f"count_nonzero: dim {axes} names a dim more than once (shape {x.shape})")
    if x.ndim == 0:
        axes = None   # dim 0 / -1 of a 0-d tensor is the tensor itself, as in PyTorch
    xp = backend.array_module(x.data)
    return _bool_result("count_nonzero", lambda a: c_order(xp.asarray((a != 0).sum(axis=axes)).astype("int64")), (x,))


def count_nonzero_method(self: Tensor, *dims: Any, dim: Any = None, axis: Any = None,
                         keepdims: bool | None = None) -> Tensor:
    """``x.count_nonzero()``, ``x.count_nonzero(1)``, ``x.count_nonzero((0, 1))`` or, as PyTorch's method,
    ``x.count_nonzero(0, 1)``: :func:`count_nonzero`."""
    return count_nonzero(self, method_dims("count_nonzero", dims, dim), axis=axis, keepdims=keepdims)
