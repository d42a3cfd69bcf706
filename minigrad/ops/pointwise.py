"""PyTorch's pointwise arithmetic that minigrad lacked: floor division and ``div(rounding_mode=)``, the
aliases (``multiply``, ``subtract``, ``greater`` …, ``add``/``sub`` with ``alpha=``), ``addcmul``/``addcdiv``
and the predicates ``isin``, ``equal``, ``is_nonzero``; and the tables of those ops and of
``special.py``'s functions (trigonometric and hyperbolic, ``xlogy``, ``logit``, ``hypot``, ``copysign``,
``fmax``/``fmin``, ``nan_to_num`` …).

Every op takes tensors of any shape that broadcast together (NumPy's rules) and gives the broadcast
shape; gradients are summed back to each input's shape. Results follow PyTorch 2.13 in values,
dtypes and gradients:

* the float-valued ops compute integer and bool tensors in float32 (as ``ops/math.py``);
* ``x // y`` and ``floor_divide`` keep integers integer (rounding towards -inf) and, as in PyTorch,
  their backward raises (the derivative is not implemented there); ``div(..., rounding_mode="floor")``
  and ``"trunc"`` have a zero gradient instead;
* ``heaviside`` has no derivative in PyTorch either; ``floor``-like ops (``sgn``) a zero one.

``__all__`` lists the ``mg.`` functions and ``METHODS`` the Tensor methods, of this module and of
``special.py``; both are attached by ``minigrad/__init__.py`` and ``minigrad/ops/__init__.py`` after the
older tables, so ``div``, ``add`` and ``sub`` here replace the plain ones (the operators ``+ - /`` keep
their direct, faster binding).
"""

from __future__ import annotations

import functools
import math
from typing import Any, Callable

import numpy

from .. import backend, memory_formats
from ..autograd import Function
from ..autograd.engine import DeviceMismatchError
from ..autograd.names import respelled
from ..constructors import tensor
from ..dtypes import get_default_dtype
from ..outputs import write_out
from ..recording import no_grad, note_read
from ..tensor import Tensor
from . import elementwise, inplace
from ._util import (
    NOT_GIVEN,
    ArgumentTypeError,
    ArgumentValueError,
    DtypeNotImplementedError,
    called_as,
    number,
    one_of,
    real_scalar,
    refuse_complex,
    refuse_complex_alpha,
    scale_given_first,
    tensor_arg,
)
from .complex_ops import conj_physical_  # listed in __all__: mg imports complex_ops' other names one by one
from .elementwise import _integral
from .math import (
    IntegerDivisionByZero,
    NotDifferentiable,
    _bool_result,
    _numeric,
    _shape,
    _xp_of,
    atan2,
    fmod,
    logical_and,
    logical_not,
    logical_or,
    logical_xor,
)
from .math import trunc as math_trunc
from .shape import astype
from .special import (  # listed in __all__ and METHODS below
    _plain_number,
    acos,
    acosh,
    arccos,
    arccosh,
    arcsin,
    arcsinh,
    arctan,
    arctan2,
    arctanh,
    asin,
    asinh,
    atan,
    atanh,
    copysign,
    cosh,
    deg2rad,
    erfc,
    float_power,
    float_power_,
    fmax,
    fmin,
    frac,
    heaviside,
    hypot,
    logaddexp2,
    logit,
    nan_to_num,
    nextafter,
    rad2deg,
    sgn,
    signbit,
    sinc,
    sinh,
    tan,
    xlogy,
)

__all__ = [
    "floor_divide", "div", "divide", "true_divide",
    "add", "sub", "multiply", "subtract", "negative", "positive",
    "eq", "ne", "lt", "le", "gt", "ge", "greater", "greater_equal", "less", "less_equal", "not_equal",
    # from special.py
    "tan", "asin", "acos", "atan", "sinh", "cosh", "asinh", "acosh", "atanh",
    "arcsin", "arccos", "arctan", "arcsinh", "arccosh", "arctanh", "arctan2",
    "sinc", "deg2rad", "rad2deg", "erfc", "logit", "xlogy", "hypot", "logaddexp2", "float_power", "copysign",
    "fmax", "fmin", "heaviside", "sgn", "signbit", "frac", "nan_to_num", "nextafter",
    "absolute", "rsub", "gcd", "lcm", "isreal",
    # fused multiply-add and predicates
    "addcmul", "addcdiv", "isin", "is_floating_point", "is_complex", "is_nonzero", "equal",
    # from complex_ops.py
    "conj_physical_",
]


def _is_bool(value: Any) -> bool:
    dtype = getattr(value, "dtype", None)
    return isinstance(value, bool) if dtype is None else dtype.kind == "b"


# --- division with rounding --------------------------------------------------------------------------

class BoolDivisionError(TypeError, NotImplementedError):
    """``//`` of two bool tensors: TypeError here, NotImplementedError (no kernel for Bool) in PyTorch."""


def _quotient(xp: Any, a: Any, b: Any, mode: str, name: str) -> Any:
    """a / b rounded towards -inf (``"floor"``) or towards 0 (``"trunc"``), as PyTorch's kernels.

    Integers stay integers and a zero divisor raises, as PyTorch on the CPU; floats divide by zero to
    inf or NaN. The float floor is Python's (NumPy's and PyTorch's): from fmod, so 7.0 // 0.1 == 69.
    """
    if _integral(a) and _integral(b):
        if _is_bool(a) and _is_bool(b):
            raise BoolDivisionError(f"{name}: rounding division is not defined for two bool tensors (as in PyTorch)")
        zero = b == 0
        if (zero.any() if hasattr(zero, "any") else zero) and getattr(a, "size", 1):   # an empty result divides nothing
            raise IntegerDivisionByZero(f"{name}: integer division by zero (as in PyTorch)")
        with backend.errstate(xp, over="ignore"):
            quotient = xp.floor_divide(a, b)
            if mode == "trunc":   # one up where floor and trunc differ: an inexact quotient below zero
                quotient = quotient + ((xp.remainder(a, b) != 0) & ((a < 0) != (b < 0)))
        return quotient
    if getattr(a, "dtype", None) == "float16" and type(b) in (int, float):   # PyTorch's float16 kernel with a
        # number: in float32, the number itself (NumPy would round it to float16 first), the result rounded once
        return _quotient(xp, a.astype("float32"), b, mode, name).astype("float16")
    with backend.errstate(xp, divide="ignore", invalid="ignore", over="ignore"):
        return backend.floor_divide(xp, a, b) if mode == "floor" else xp.trunc(a / b)


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


_NUMBERS = (bool, int, float, complex, numpy.number, numpy.bool_)


def _numbers_as_tensor(a: Any, b: Any) -> Any:
    """``a`` as PyTorch's ``add``/``sub``/``mul``/``div`` take it when both operands are Python numbers: a tensor of
    the pair's dtype (the default float dtype if either is a float, complex64/128 if either is complex, int64 for
    ints, bool for two bools), so the result has the dtype PyTorch gives (float32, not NumPy's float64). Anything
    else: ``a`` unchanged."""
    if isinstance(a, Tensor) or isinstance(b, Tensor) or not all(isinstance(v, _NUMBERS) for v in (a, b)):
        return a
    default = numpy.dtype(get_default_dtype())
    if isinstance(a, complex) or isinstance(b, complex):
        dtype = numpy.complex128 if default == numpy.float64 else numpy.complex64
    elif isinstance(a, (float, numpy.floating)) or isinstance(b, (float, numpy.floating)):
        dtype = default
    elif isinstance(a, (bool, numpy.bool_)) and isinstance(b, (bool, numpy.bool_)):
        dtype = numpy.bool_
    else:
        dtype = numpy.int64
    return tensor(a, dtype=dtype)


def _division_operands(a: Any, b: Any, name: str) -> tuple:
    a = _numbers_as_tensor(a, b)
    if not isinstance(a, Tensor) and not isinstance(b, Tensor):
        raise TypeError(f"{name}: expected at least one Tensor, got {type(a).__name__} and {type(b).__name__}")
    refuse_complex(name, a, b)   # rounding orders values: PyTorch has no complex floor or trunc division
    operands = tuple(v if (_plain_number(v) and not isinstance(v, complex)) or isinstance(v, bool)
                     else _numeric(v, name) for v in (a, b))
    return operands


def floor_divide(input: Any, other: Any) -> Tensor:  # noqa: A002
    """``a // b`` rounded towards -inf (PyTorch's floor division), broadcast; integers stay integers.

    ``[-5, 5] // 2 == [-3, 2]``. A zero integer divisor raises :class:`IntegerDivisionByZero` (a
    ZeroDivisionError and, as PyTorch's, a RuntimeError). As in PyTorch the result
    of float inputs requires grad but its backward raises; ``div(a, b, rounding_mode="floor")`` gives the
    same values with a zero gradient.
    """
    a, b = _division_operands(input, other, "floor_divide")
    return NotDifferentiable("floor_divide", lambda xp, x, y: _quotient(xp, x, y, "floor", "floor_divide"),
                             "; div(a, b, rounding_mode='floor') has a zero gradient")(a, b)


def div(input: Any, other: Any, *, rounding_mode: str | None = None, out: Tensor | None = None) -> Tensor:  # noqa: A002
    """``a / b`` broadcast (torch.div): true division, or rounded with ``rounding_mode="trunc"|"floor"``.

    True division of two integer or bool operands gives float32, as in PyTorch; the rounded modes keep
    integers integer and have a zero gradient. ``out=``: written into that tensor (minigrad/outputs.py).
    """
    if out is not None:
        return write_out("div", div(input, other, rounding_mode=rounding_mode), out, inputs=(input, other),
                         broadcast=True)
    a, b = _numbers_as_tensor(input, other), other
    if rounding_mode is None:
        return elementwise.div(a, b)
    if rounding_mode not in ("trunc", "floor"):
        raise ArgumentValueError(f"div: expected rounding_mode to be one of None, 'trunc', or 'floor' but found "
                                 f"{rounding_mode!r}")
    a, b = _division_operands(a, b, "div")
    return RoundedDiv(rounding_mode)(a, b)


divide = div


def true_divide(input: Any, other: Any) -> Tensor:  # noqa: A002
    """``a / b`` broadcast, always true division (torch.true_divide)."""
    try:
        return elementwise.div(_numbers_as_tensor(input, other), other)
    except ValueError as error:   # shapes that do not broadcast: named as the user called it
        raise called_as("true_divide", error, input, other) from None


def _rfloordiv(self: Tensor, other: Any) -> Tensor:
    """``other // x`` for a number or array ``other``."""
    return floor_divide(other, self)


def floor_divide_(x: Tensor, other: Any) -> Tensor:
    """``x //= other`` in place (an integer tensor stays integer)."""
    return inplace._inplace(x, "floor_divide_", lambda cur: floor_divide(cur, *inplace.in_dtype_of(cur, other)),
                            other)


def div_(x: Tensor, other: Any, *, rounding_mode: str | None = None) -> Tensor:
    """``x /= other`` in place, rounded as :func:`div` with ``rounding_mode``."""
    if rounding_mode is None:
        return inplace.div_(x, other)
    return inplace._inplace(
        x, "div_", lambda cur: div(cur, *inplace.in_dtype_of(cur, other), rounding_mode=rounding_mode), other)


# --- aliases with PyTorch's arguments -------------------------------------------------------------------

def _is_bool(value: Any) -> bool:
    return isinstance(value, (bool, numpy.bool_)) or getattr(value, "dtype", None) == numpy.bool_


def _alpha(alpha: Any, a: Any, b: Any, name: str) -> Any:
    if isinstance(alpha, (bool, numpy.bool_)):   # PyTorch takes a bool alpha for a bool result only
        if _is_bool(a) and _is_bool(b):
            return bool(alpha)
        raise ArgumentTypeError(f"{name}: a bool alpha is only supported for bool results (as PyTorch)")
    alpha = number(alpha, name, "alpha", complex_ok=True)
    if isinstance(alpha, (float, complex, numpy.inexact)) and _integral(a) and _integral(b):
        raise ArgumentTypeError(f"{name}: for integral input tensors, argument alpha must not be a floating point "
                                f"number (got {alpha!r}, as in PyTorch)")
    refuse_complex_alpha(name, alpha, a, b)
    return alpha


_scaled = inplace.scaled   # alpha * b in the result's dtype (with add_/sub_'s, written once there)


def add(input: Any, other: Any, *deprecated: Any, alpha: Any = 1, out: Tensor | None = None) -> Tensor:  # noqa: A002
    """``a + alpha * b`` broadcast (torch.add); ``alpha * b`` is computed in the result's dtype.
    ``deprecated``: the tensor of PyTorch's deprecated ``add(input, alpha, other)``."""
    if deprecated:
        other, alpha = _scale_first("add", other, (), deprecated, alpha, "alpha")
    if out is not None:
        return write_out("add", add(input, other, alpha=alpha), out, inputs=(input, other), broadcast=True)
    input = _numbers_as_tensor(input, other)  # noqa: A001
    # PyTorch's float16 kernel: alpha rounded to float16, the rest in float32, rounded once (alpha checked first)
    if _all_float16(input, other) and _alpha(alpha, input, other, "add") != 1:
        return add(input.float(), other.float(), alpha=_float16_number(alpha)).half()
    return elementwise.add(input, _scaled(other, _alpha(alpha, input, other, "add"), input))


def sub(input: Any, other: Any, *deprecated: Any, alpha: Any = 1, out: Tensor | None = None) -> Tensor:  # noqa: A002
    """``a - alpha * b`` broadcast (torch.sub); ``alpha * b`` is computed in the result's dtype.
    ``deprecated``: the tensor of PyTorch's deprecated ``sub(input, alpha, other)``."""
    if deprecated:
        other, alpha = _scale_first("sub", other, (), deprecated, alpha, "alpha")
    if out is not None:
        return write_out("sub", sub(input, other, alpha=alpha), out, inputs=(input, other), broadcast=True)
    input = _numbers_as_tensor(input, other)  # noqa: A001
    elementwise.refuse_bool_subtraction(input, other)
    if _all_float16(input, other) and _alpha(alpha, input, other, "sub") != 1:   # as add's
        return sub(input.float(), other.float(), alpha=_float16_number(alpha)).half()
    return elementwise.sub(input, _scaled(other, _alpha(alpha, input, other, "sub"), input))


def _all_float16(*values: Any) -> bool:
    """Whether every one of ``values`` is a float16 tensor: PyTorch's float16 kernels of add/sub with alpha,
    addcmul, addcdiv and lerp compute in float32 and round once (NumPy's float16 steps round each)."""
    return all(isinstance(v, Tensor) and v.dtype == "float16" for v in values)


def _float16_number(value: Any) -> Any:
    """A Python real number as PyTorch's float16 kernels read ``alpha``: rounded to float16 (others as given)."""
    return float(numpy.float16(value)) if type(value) in (int, float) else value


def _add_method(x: Tensor, other: Any, *deprecated: Any, alpha: Any = 1) -> Tensor:
    """``x.add(other, alpha=1)``: ``x + alpha * other`` (torch.Tensor.add; its deprecated ``x.add(alpha, other)``)."""
    return add(x, other, *deprecated, alpha=alpha)


def _sub_method(x: Tensor, other: Any, *deprecated: Any, alpha: Any = 1) -> Tensor:
    """``x.sub(other, alpha=1)``: ``x - alpha * other`` (torch.Tensor.sub; its deprecated ``x.sub(alpha, other)``)."""
    return sub(x, other, *deprecated, alpha=alpha)


def _scale_first(name: str, scale: Any, rest: tuple, deprecated: tuple, given: Any, keyword: str) -> tuple:
    """The tensors after the scale (``rest`` then the one extra positional argument) and the scale, in PyTorch's
    deprecated overloads that give the scale first (``add(input, alpha, other)``, ``addcmul(input, value, tensor1,
    tensor2)``); any other extra positional argument raises a TypeError, as a call with too many arguments."""
    tensors = (*rest, *deprecated)
    if len(deprecated) != 1 or given != 1 or not scale_given_first(name, scale, tensors[0], keyword):
        raise TypeError(f"{name}: too many positional arguments; give {keyword}= by keyword")
    return (*tensors, scale)


subtract = sub


def multiply(input: Any, other: Any) -> Tensor:  # noqa: A002
    """``a * b`` broadcast (torch.multiply)."""
    return elementwise.mul(_numbers_as_tensor(input, other), other)


def negative(input: Tensor) -> Tensor:  # noqa: A002
    """``-x`` (torch.negative)."""
    return elementwise.neg(input)


def positive(input: Tensor) -> Tensor:  # noqa: A002
    """``+x``: ``x`` itself, as torch.positive (a bool tensor raises, as in PyTorch)."""
    x = tensor_arg(input, "positive")
    if x.dtype == bool:
        raise elementwise.BoolNegationError("positive: the `+` operator on a bool tensor is not supported (as in "
                                            "PyTorch)")
    return x


def _comparison(name: str, dunder: str) -> Callable[[Any, Any], Tensor]:
    def compare(input: Any, other: Any) -> Tensor:  # noqa: A002 - PyTorch's names
        return getattr(tensor_arg(input, name), name)(other)
    compare.__name__ = name
    compare.__doc__ = f"Elementwise ``{dunder}`` of ``input`` and ``other`` broadcast: a bool tensor with no gradient."
    return compare


eq, ne = _comparison("eq", "__eq__"), _comparison("ne", "__ne__")
lt, le = _comparison("lt", "__lt__"), _comparison("le", "__le__")
gt, ge = _comparison("gt", "__gt__"), _comparison("ge", "__ge__")
greater, greater_equal, less, less_equal, not_equal = gt, ge, lt, le, ne


def absolute(x: Tensor) -> Tensor:
    """|x| (torch.absolute, an alias of abs)."""
    return elementwise.abs(x)


def rsub(input: Any, other: Any, *, alpha: Any = 1) -> Tensor:  # noqa: A002
    """``b - alpha * a`` broadcast (torch.rsub)."""
    try:
        out = sub(other, input, alpha=alpha)
        # PyTorch's node: rsub's overload 0 for a Tensor other, 1 for a number
        return respelled(out, input, "sub", f"RsubBackward{int(not isinstance(other, Tensor))}")
    except ValueError as error:   # shapes that do not broadcast: named as the user called it
        raise called_as("rsub", error, input, other) from None


def _integer_pair(a: Any, b: Any, name: str) -> tuple:
    if not isinstance(a, Tensor) and not isinstance(b, Tensor):
        raise TypeError(f"{name}: expected at least one Tensor, got {type(a).__name__} and {type(b).__name__}")
    a, b = (v if isinstance(v, int) and not isinstance(v, bool) else _numeric(v, name) for v in (a, b))
    refuse_complex(name, a, b, order=False)
    kinds = [value.dtype.kind if isinstance(value, Tensor) else "i" for value in (a, b)]
    if any(kind not in "biu" for kind in kinds) or kinds == ["b", "b"]:   # a bool with an integer promotes
        dtype = a.dtype if kinds[0] not in "iu" else b.dtype
        raise DtypeNotImplementedError(f"{name}: not implemented for dtype {dtype} (integers only, as in "
                                       f"PyTorch); shapes {_shape(a)} and {_shape(b)}")
    return a, b


def gcd(input: Any, other: Any) -> Tensor:  # noqa: A002
    """The greatest common divisor of integers, elementwise and broadcast (gcd(0, 0) is 0). Non-negative except
    beside the dtype's minimum, where PyTorch's answer is kept (see :func:`_gcd_as_torch`)."""
    a, b = _integer_pair(input, other, "gcd")
    xp = _xp_of(a, b)
    return _bool_result("gcd", lambda x, y: _gcd_as_torch(xp, x, y), (a, b))


def _gcd_as_torch(xp: Any, x: Any, y: Any) -> Any:
    """NumPy's gcd of two broadcast integer operands, but PyTorch's where one is the result dtype's minimum.

    PyTorch's kernel runs Euclid's loop ``while a: a, b = b % a, a`` (C's remainder) from ``abs(a), abs(b)``,
    and ``abs`` leaves INT_MIN negative, so its answer there can be negative: gcd(-32768, 6) is -2 in int16,
    not 2. That loop is run for those elements only."""
    g = xp.asarray(xp.gcd(x, y))
    if g.dtype.kind != "i":
        return g
    lowest = xp.iinfo(g.dtype).min
    x, y = (xp.broadcast_to(xp.asarray(v, dtype=g.dtype), g.shape) for v in (x, y))
    odd = (x == lowest) | (y == lowest)
    if not odd.any():
        return g
    a, b = xp.abs(x[odd]), xp.abs(y[odd])   # abs(INT_MIN) is INT_MIN, as in C
    while (a != 0).any():
        going = a != 0
        a, b = xp.where(going, xp.fmod(b, xp.where(going, a, 1)), 0), xp.where(going, a, b)
    g = g.copy()
    g[odd] = b
    return g


def lcm(input: Any, other: Any) -> Tensor:  # noqa: A002
    """The least common multiple of integers, elementwise and broadcast (non-negative; 0 if either is 0).

    Computed as PyTorch's C++ kernel, ``|a / gcd(a, b) * b|`` in C's int arithmetic (int32, or the dtype if
    wider), then cast to the result dtype, so a product that overflows wraps as in PyTorch (NumPy's ``lcm`` takes
    the ``abs`` of each operand first)."""
    a, b = _integer_pair(input, other, "lcm")
    xp = _xp_of(a, b)

    def lcm_of(x: Any, y: Any) -> Any:
        g = xp.gcd(x, y)
        wide = xp.promote_types(g.dtype, "int32")   # C promotes narrower integers to int
        product = xp.asarray(x).astype(wide) // xp.where(g == 0, 1, g).astype(wide) * y
        return xp.asarray(xp.abs(xp.where(g == 0, 0, product).astype(wide, copy=False)).astype(g.dtype))
    return _bool_result("lcm", lcm_of, (a, b))


def isreal(input: Tensor) -> Tensor:  # noqa: A002
    """True where the element has no imaginary part: everywhere for a real tensor. A bool tensor of x's shape."""
    x = _numeric(input, "isreal")
    xp = backend.array_module(x.data)
    # in x's layout, as PyTorch's ones_like(x) (preserve_format) and imag(x) == 0: NumPy's isreal gave C order
    return _bool_result("isreal", lambda a: a.imag == 0 if a.dtype.kind == "c" else
                        memory_formats.lay_out(xp.ones(a.shape, bool), memory_formats.preserve_format, "isreal", a),
                        (x,))


# --- fused multiply-add ---------------------------------------------------------------------------------

def _common(name: str, *tensors: Any) -> list:
    """The tensors cast to their common dtype (NumPy's promotion), as PyTorch computes these ops in it."""
    tensors = [_numeric(t, name) for t in tensors]
    common = numpy.result_type(*[t.dtype for t in tensors])
    return [astype(t, common) if t.dtype != common else t for t in tensors]


def _tensors_only(name: str, *operands: Any) -> None:
    """PyTorch's TypeError for a number (or an array) where addcmul/addcdiv take a Tensor: NumPy's promotion read
    it as a float64 tensor (float32 ``mg.addcmul(x, 2, t)`` gave float64)."""
    for position, (arg, operand) in enumerate(zip(("input", "tensor1", "tensor2"), operands), 1):
        if not isinstance(operand, Tensor):
            raise TypeError(f"{name}(): argument '{arg}' (position {position}) must be Tensor, not "
                            f"{type(operand).__name__}")


def _fma_value(name: str, value: Any, dtype: numpy.dtype) -> Any:
    """addcmul's/addcdiv's ``value`` converted to the tensors' ``dtype`` as PyTorch converts a Scalar, as a
    Python number so it never changes the result's dtype: True is 1, a NumPy number is the Python number of its
    kind, a complex one needs complex tensors unless its imaginary part is 0, a float truncates toward zero for
    integer tensors (0.5 adds nothing), and a value the dtype cannot hold (300 for int8, -0.5 or -256 for uint8, NaN
    for an integer dtype, 1e300 for float32) raises RuntimeError."""
    value = number(int(value) if isinstance(value, (bool, numpy.bool_)) else value, name, "value", complex_ok=True)
    value = value.item() if isinstance(value, numpy.generic) else value
    if dtype.kind != "c":
        value = real_scalar(name, "value", value, dtype)
    if dtype.kind in "iu":
        limits = numpy.iinfo(dtype)
        if isinstance(value, float):   # inside the dtype's range before truncating (NaN is not)
            fits = limits.min <= value <= limits.max
        else:   # an unsigned dtype takes an int down to -max too, wrapping around (uint8: -1 is 255)
            fits = (limits.min or -limits.max) <= value <= limits.max
        value = math.trunc(value) if fits else value
    else:
        largest = float(numpy.finfo(dtype).max)
        fits = all(abs(part) <= largest or not math.isfinite(part) for part in (value.real, value.imag))
    if not fits:
        raise ValueOverflowError(f"{name}: value={value!r} cannot be converted to the tensors' dtype {dtype} "
                                 "without overflow (as in PyTorch)")
    return value


class ValueOverflowError(RuntimeError):
    """addcmul's/addcdiv's ``value`` does not fit the tensors' dtype: PyTorch's RuntimeError."""


def addcmul(input: Tensor, tensor1: Any, tensor2: Any, *deprecated: Any, value: Any = 1,  # noqa: A002
            out: Tensor | None = None) -> Tensor:
    """``x + value * tensor1 * tensor2``, all broadcast together (torch.addcmul); gradients to all three.
    ``out=``: written into that tensor (minigrad/outputs.py).

    With value 1 one op (``AddCMul``, a node fewer: a recurrent cell's ``f * c + i * g``), else the sum of
    the scaled product; the same values either way. ``deprecated``: the last tensor of PyTorch's deprecated
    ``addcmul(input, value, tensor1, tensor2)``."""
    if out is not None:
        return write_out("addcmul", addcmul(input, tensor1, tensor2, *deprecated, value=value), out,
                         inputs=(input, tensor1, tensor2, *deprecated))
    if deprecated:
        tensor1, tensor2, value = _scale_first("addcmul", tensor1, (tensor2,), deprecated, value, "value")
    _tensors_only("addcmul", input, tensor1, tensor2)
    if _all_float16(input, tensor1, tensor2):   # PyTorch's float16 kernel: in float32, rounded once, one node
        return _addcmul(input, tensor1, tensor2, value, (_HALF,) * 3)
    if (type(value) is int and value == 1 and isinstance(input, Tensor) and isinstance(tensor1, Tensor)
            and isinstance(tensor2, Tensor) and input.dtype == tensor1.dtype == tensor2.dtype != bool):
        return elementwise.AddCMul()(input, tensor1, tensor2)   # the common case, without the casts' checks
    return _addcmul(input, tensor1, tensor2, value, None)


_HALF, _FLOAT32 = numpy.dtype(numpy.float16), numpy.dtype(numpy.float32)


def _addcmul(x: Tensor, tensor1: Tensor, tensor2: Tensor, value: Any, dtypes: tuple | None) -> Tensor:
    """addcmul in the tensors' common dtype: AddCMul (value 1, one dtype), else one op (elementwise.AddCMulBy)
    whose gradients are computed in ``dtypes`` (the gradient's, tensor1's and tensor2's; None: the common one and
    the tensors' own), as PyTorch's."""
    own = (tensor1.dtype, tensor2.dtype)
    x, tensor1, tensor2 = _common("addcmul", x, tensor1, tensor2)
    if x.dtype.kind == "b":   # PyTorch has no bool kernel
        raise DtypeNotImplementedError(f"addcmul: not implemented for bool tensors (shapes {tuple(x.shape)}, "
                                       f"{tuple(tensor1.shape)}, {tuple(tensor2.shape)}), as in PyTorch")
    value = _fma_value("addcmul", value, x.dtype if dtypes is None else _FLOAT32)   # float16's: as a float
    if value == 1 and dtypes is None and own == (x.dtype, x.dtype):
        return elementwise.AddCMul()(x, tensor1, tensor2)
    try:
        if x.dtype.kind in "iu":   # no gradient; value * tensor1 wraps around as PyTorch's (elementwise.Mul)
            return elementwise.add(x, elementwise.mul(_scaled(tensor1, value), tensor2))
        # another value, dtypes or float16: PyTorch's gradients, g * (t2 * value), in each tensor's own dtype
        return elementwise.AddCMulBy(value, dtypes or (x.dtype, *own))(x, tensor1, tensor2)
    except ValueError as error:   # shapes that do not broadcast: named as addcmul, not its mul or add
        raise called_as("addcmul", error, x, tensor1, tensor2) from None


def addcdiv(input: Tensor, tensor1: Any, tensor2: Any, *deprecated: Any, value: Any = 1) -> Tensor:  # noqa: A002
    """``x + value * tensor1 / tensor2``, all broadcast together (torch.addcdiv); gradients to all three.

    Integer tensors raise, as in PyTorch (its old integer division was removed). ``deprecated``: the last tensor
    of PyTorch's deprecated ``addcdiv(input, value, tensor1, tensor2)``.
    """
    if deprecated:
        tensor1, tensor2, value = _scale_first("addcdiv", tensor1, (tensor2,), deprecated, value, "value")
    _tensors_only("addcdiv", input, tensor1, tensor2)
    if _integral(tensor1) and _integral(tensor2):   # PyTorch's test, before the promotion with input
        raise ArgumentTypeError("addcdiv: integer division with addcdiv is not supported (as in PyTorch); "
                                "use x + value * tensor1 / tensor2")
    if _all_float16(input, tensor1, tensor2):   # PyTorch's float16 kernel: in float32, rounded once, one node
        return _addcdiv(input, tensor1, tensor2, value, (_HALF,) * 3)
    return _addcdiv(input, tensor1, tensor2, value, None)


def _addcdiv(x: Tensor, tensor1: Tensor, tensor2: Tensor, value: Any, dtypes: tuple | None) -> Tensor:
    """addcdiv in the tensors' common dtype, one op (elementwise.AddCDiv) whose gradients are computed in ``dtypes``
    (the gradient's, tensor1's and tensor2's; None: the common one and the tensors' own), as PyTorch's."""
    own = (tensor1.dtype, tensor2.dtype)
    x, tensor1, tensor2 = _common("addcdiv", x, tensor1, tensor2)
    value = _fma_value("addcdiv", value, x.dtype if dtypes is None else _FLOAT32)   # float16's: as a float
    try:
        return elementwise.AddCDiv(value, dtypes or (x.dtype, *own))(x, tensor1, tensor2)
    except ValueError as error:   # shapes that do not broadcast: named as addcdiv
        raise called_as("addcdiv", error, x, tensor1, tensor2) from None


# --- predicates ----------------------------------------------------------------------------------------

def _wrapped_into(number: Any, other: Any) -> Any:
    """A Python int beside an integer tensor, converted into its dtype as PyTorch converts it (two's complement:
    256 is 0 for int8, so ``isin(int8_tensor, 256)`` finds the zeros); a Python float beside a tensor, rounded to
    the dtype PyTorch compares them in (the tensor's float dtype, else the default one: ``isin(float32_x, 2.1)``
    finds float32's 2.1); anything else as it is."""
    if type(number) is float and isinstance(other, Tensor) and other.dtype.kind in "fiu":
        dtype = other.dtype if other.dtype.kind == "f" else numpy.dtype(get_default_dtype())
        with numpy.errstate(over="ignore"):
            return float(dtype.type(number))
    if type(number) is not int or not isinstance(other, Tensor) or other.dtype.kind not in "iu":
        return number
    bits = other.dtype.itemsize * 8
    number %= 2 ** bits
    return number - 2 ** bits if other.dtype.kind == "i" and number >= 2 ** (bits - 1) else number


def isin(elements: Any = NOT_GIVEN, test_elements: Any = NOT_GIVEN, *, assume_unique: bool = False,
         invert: bool = False, element: Any = NOT_GIVEN, test_element: Any = NOT_GIVEN) -> Tensor:
    """True where an element of ``elements`` is in ``test_elements`` (False where ``invert``): a bool tensor
    of elements' shape. Either may be a number, not both (PyTorch names a number ``element=`` or
    ``test_element=``); values compare across dtypes, NaN matches nothing."""
    if elements is NOT_GIVEN or element is not NOT_GIVEN:
        elements = one_of("isin", elements=elements, element=element)
    if test_elements is NOT_GIVEN or test_element is not NOT_GIVEN:
        test_elements = one_of("isin", test_elements=test_elements, test_element=test_element)
    if not isinstance(elements, Tensor) and not isinstance(test_elements, Tensor):
        raise TypeError("isin: expected at least one Tensor, got "
                        f"{type(elements).__name__} and {type(test_elements).__name__}")
    if any(isinstance(x, (bool, numpy.bool_)) or (isinstance(x, Tensor) and x.dtype.kind == "b")
           for x in (elements, test_elements)):
        raise ArgumentTypeError("isin: Unsupported input type encountered for isin(): Bool (as PyTorch's isin, "
                                "which has no bool kernel); compare as integers: .long()")
    elements = elements if _plain_number(elements) else _numeric(elements, "isin")
    test_elements = test_elements if _plain_number(test_elements) else _numeric(test_elements, "isin")
    refuse_complex("isin", elements, test_elements, runtime=True)   # PyTorch's isin sorts: complex has no order
    elements, test_elements = _wrapped_into(elements, test_elements), _wrapped_into(test_elements, elements)
    xp = _xp_of(elements, test_elements)
    unique, flip = bool(assume_unique), bool(invert)
    return _bool_result("isin", lambda a, b: xp.asarray(xp.isin(a, b, assume_unique=unique, invert=flip)),
                        (elements, test_elements))


def is_floating_point(input: Tensor) -> bool:  # noqa: A002
    """Whether x's dtype is a floating-point one (float16/32/64)."""
    return tensor_arg(input, "is_floating_point").dtype.kind == "f"


def is_complex(input: Tensor) -> bool:  # noqa: A002
    """Whether x's dtype is a complex one."""
    return tensor_arg(input, "is_complex").dtype.kind == "c"


def is_nonzero(input: Tensor) -> bool:  # noqa: A002
    """Whether the single element of ``x`` is non-zero (NaN is); other sizes raise, as in PyTorch."""
    x = tensor_arg(input, "is_nonzero")
    if x.data.size == 0:
        raise RuntimeError("is_nonzero: Boolean value of Tensor with no values is ambiguous")
    if x.data.size > 1:
        raise RuntimeError("is_nonzero: Boolean value of Tensor with more than one value is ambiguous")
    note_read(x, "is_nonzero")
    return bool(x.data.reshape(()) != 0)


def equal(input: Tensor, other: Tensor) -> bool:  # noqa: A002
    """Whether ``a`` and ``b`` have the same shape and equal elements (no broadcasting; NaN is unequal)."""
    a, b = tensor_arg(input, "equal"), tensor_arg(other, "equal")
    if a.device != b.device:
        raise DeviceMismatchError(f"equal: tensors are on different devices ({a.device} and {b.device})")
    if a.shape != b.shape:
        return False
    note_read(a, "equal")
    note_read(b, "equal")
    return bool((a.data == b.data).all())


# --- Tensor methods ---------------------------------------------------------------------------------------

def _operands_in_dtype(name: str, x: Tensor, operands: list) -> Any:
    """The operands of ``x.name(...)`` as PyTorch computes with them (:func:`inplace.in_dtype_of`: an integer tensor
    operand in x's floating dtype), except where the op's own check refuses their dtypes, as PyTorch's: heaviside's
    operands of another dtype, addcdiv's two integer tensors."""
    tensors = [o for o in operands if isinstance(o, Tensor)]
    if name == "heaviside_" or name == "addcdiv_" and len(tensors) == 2 and all(map(_integral, tensors)):
        return operands
    return inplace.in_dtype_of(x, *operands)


def _method_with(name: str, fn: Callable) -> Callable:
    """An in-place twin ``x.name_(*args, **kwargs)`` of ``fn(x, *args, **kwargs)``."""
    def method(x: Tensor, *args: Any, **kwargs: Any) -> Tensor:
        operands = [*args, *kwargs.values()]

        def compute(cur: Tensor) -> Tensor:
            cast = _operands_in_dtype(name, cur, operands)
            return fn(cur, *cast[:len(args)], **dict(zip(kwargs, cast[len(args):])))
        return inplace._inplace(x, name, compute, *operands)
    method.__name__ = name
    method.__doc__ = f"``x = x.{name[:-1]}(...)`` in place (the gradient as the out-of-place op)."
    return method


_UNARY = {"tan": tan, "asin": asin, "acos": acos, "atan": atan, "sinh": sinh, "cosh": cosh, "asinh": asinh,
          "acosh": acosh, "atanh": atanh, "arcsin": arcsin, "arccos": arccos, "arctan": arctan, "arcsinh": arcsinh,
          "arccosh": arccosh, "arctanh": arctanh, "sinc": sinc, "deg2rad": deg2rad, "rad2deg": rad2deg,
          "erfc": erfc, "frac": frac, "sgn": sgn}
_WITH_ARGUMENTS = {"logit": logit, "xlogy": xlogy, "hypot": hypot, "copysign": copysign, "heaviside": heaviside,
                   "nan_to_num": nan_to_num, "addcmul": addcmul, "addcdiv": addcdiv, "atan2": atan2,
                   "arctan2": arctan2}

_BINARY_WITH_IN_PLACE = {"fmod": fmod, "nextafter": nextafter, "gcd": gcd, "lcm": lcm, "logical_and": logical_and,
                         "logical_or": logical_or, "logical_xor": logical_xor}

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
    "add": _add_method, "sub": _sub_method, "absolute": absolute, "absolute_": inplace.abs_,
    "fix_": inplace._unary_("fix_", math_trunc), "sin_": inplace._unary_("sin_", elementwise.sin),
    "cos_": inplace._unary_("cos_", elementwise.cos), "logical_not_": inplace._unary_("logical_not_", logical_not),
    "nextafter": nextafter, "isreal": isreal,
    **{name: fn for name, fn in _BINARY_WITH_IN_PLACE.items()},
    **{name + "_": _method_with(name + "_", fn) for name, fn in _BINARY_WITH_IN_PLACE.items()},
    "is_nonzero": is_nonzero, "equal": equal,
}


def _not_recorded(method: Callable) -> Callable:
    """PyTorch records no derivative for ``logical_not_`` and ``logical_and_/or_/xor_``: the write stays out of the
    graph, as under no_grad (a non-leaf keeps the op that made it, whose gradient passes through unchanged; a leaf
    that requires grad is written too). Recorded, the bool result cut x from the graph: backward raised."""
    @functools.wraps(method)
    def wrapped(x: Tensor, *args: Any, **kwargs: Any) -> Tensor:
        with no_grad():
            return method(x, *args, **kwargs)
    return wrapped


def _tensor_other(method: Callable) -> Callable:
    """``x.logical_and_(other)`` (and or/xor): PyTorch takes only a tensor ``other`` (an array here too); a Python
    or NumPy number raises its TypeError (the out-of-place ``logical_and`` takes one, NumPy's way)."""
    @functools.wraps(method)
    def wrapped(x: Tensor, other: Any) -> Tensor:
        if isinstance(other, (bool, int, float, complex, numpy.generic)):
            raise TypeError(f"{method.__name__}(): argument 'other' (position 1) must be Tensor, not "
                            f"{type(other).__name__}")
        return method(x, other)
    return wrapped


for _name in ("logical_not_", "logical_and_", "logical_or_", "logical_xor_"):
    METHODS[_name] = _not_recorded(METHODS[_name] if _name == "logical_not_" else _tensor_other(METHODS[_name]))
