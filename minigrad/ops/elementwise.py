"""Elementwise ops: arithmetic with NumPy broadcasting, and unary math.

Each op keeps only the arrays its backward needs in ``self.saved``. Backward
never writes into an incoming gradient (it may be shared); it may write into
temporaries it made itself.

A backward that masks (relu, abs, clip, maximum, minimum) *selects* with
``where`` instead of multiplying by a 0/1 mask: the gradient that does not flow
is exactly 0 even when an inf or NaN arrives from above (inf * 0 would be NaN).

The float-valued ops (exp, log, sqrt, tanh, sigmoid, sin, cos, and true division
of two integer or bool operands) compute integers and bools in the default float
dtype (float32 unless ``set_default_dtype``), as PyTorch does (NumPy would give
float64, or float16 for small ints and bools).
An integer mixed with a float keeps NumPy 2's promotion.
"""

from __future__ import annotations

import operator
import warnings
from typing import Any

import numpy

from .. import backend
from .. import memory_formats as _memory_format
from ..autograd import Function
from ..constructors import _fill_in, as_tensor
from ..dtypes import get_default_dtype, torch_result_type
from ..outputs import write_out
from ..tensor import Tensor
from ..tensor import float64 as _FLOAT64
from ..tensor import int64 as _INT64
from ._util import (
    ArgumentTypeError,
    DtypeNotImplementedError,
    ShapeMismatchError,
    complex_order_error,
    float16_in_float32,
    read_by_the_others,
    sum_to,
    unit_complex,
)
from .iterator_layout import elementwise_layout, gradient_layout, lay_out_as_torch, strides_over
from .shape import AsType

_PYTHON_NUMBER = (bool, int, float, complex)   # where(mask, 2, 0): a pair of these takes PyTorch's dtype
_NOT_BOOL = (int, float, complex)   # where's numbers converted into the tensor's dtype (exact types)
_BOOL = numpy.dtype(bool)   # NumPy's (and CuPy's) bool dtype: one object, compared by identity
_FLOAT16, _FLOAT32 = numpy.dtype("float16"), numpy.dtype("float32")
_REAL_NUMBER = (int, float)
_COMPLEX_FAST_EXPONENTS = (2, 3, -1, -2, 0.5, -0.5)   # pow(complex Tensor, Scalar): PyTorch's special kernels


class BoolNegationError(TypeError, RuntimeError):
    """``-x`` or ``+x`` of a bool tensor (NumPy's TypeError, PyTorch's RuntimeError: both catch it)."""


class IntegerPowerError(ValueError, RuntimeError):
    """An integer tensor to a negative Python int (NumPy's ValueError, PyTorch's RuntimeError: both catch it)."""


def _integral(value: Any) -> bool:
    """Whether ``value`` (an array or a Python number) holds integers or bools."""
    dtype = getattr(value, "dtype", None)
    return isinstance(value, int) if dtype is None else dtype.kind in "biu"


def _floating(x: Any) -> Any:
    """The input of a float-valued op (exp, tanh …): an integer or bool tensor (or number, or array) becomes
    the default float dtype first (float32 unless ``set_default_dtype``), as PyTorch's promotion (NumPy's exp
    would give float64, or float16 for bools). Done here, in the public function, so that a replay of a
    captured call (which runs the ops' forwards) pays nothing."""
    if not isinstance(x, Tensor):
        x = as_tensor(x)
    if x.data.dtype.kind in "biu":
        return AsType(get_default_dtype())(x)
    return x


def _shape(value: Any) -> tuple:
    return getattr(value, "shape", ())


def _is_bool(value: Any) -> bool:
    """Whether ``value`` is a bool tensor or array, or a Python bool."""
    return isinstance(value, bool) or getattr(getattr(value, "dtype", None), "kind", None) == "b"


def _broadcast_shapes(a: Any, b: Any, y: Any) -> tuple | None:
    """The input shapes if ``y = a ∘ b`` broadcast (backward must sum back), else None.

    Keeping nothing in the usual same-shape case means fewer objects per node
    for Python's cycle collector to walk.
    """
    try:   # arrays: the usual case, and the cheap one
        shape_a, shape_b, shape_y = a.shape, b.shape, y.shape
    except AttributeError:   # a Python number somewhere
        shape_a, shape_b, shape_y = _shape(a), _shape(b), _shape(y)
    return None if shape_a == shape_b == shape_y else (shape_a, shape_b)


# --- binary arithmetic ------------------------------------------------------

class Add(Function):
    complex_grad = True   # complex values: see autograd.engine._complex_gate

    def forward(self, a: Any, b: Any) -> Any:
        y = a + b
        try:   # the usual case first: y in a's layout, or a and b of one shape in one layout (then y is in PyTorch's;
            # a broadcast b of a's strides is not: NumPy orders a size-1 dim of both otherwise)
            if y.strides == a.strides:
                shape_a, shape_b = a.shape, b.shape
                self.shapes = None if shape_a == shape_b == y.shape else (shape_a, shape_b)
                return y
            if a.strides == b.strides and a.shape == b.shape:
                self.shapes = None
                return y
        except AttributeError:   # a Python number
            pass
        y = elementwise_layout(self.xp, y, (a, b))
        self.shapes = _broadcast_shapes(a, b, y)
        return y

    def backward(self, gy: Any) -> tuple:
        if self.shapes is None:
            return gy if self.needs_grad[0] else None, gy if self.needs_grad[1] else None
        shape_a, shape_b = self.shapes
        return (sum_to(gy, shape_a) if self.needs_grad[0] else None,
                sum_to(gy, shape_b) if self.needs_grad[1] else None)


class Sub(Function):
    complex_grad = True   # complex values: see autograd.engine._complex_gate

    def forward(self, a: Any, b: Any) -> Any:
        try:   # arrays: the usual case, and the cheap one (one check of the dtypes, for PyTorch's refusal below)
            shape_a, shape_b, with_bool = a.shape, b.shape, a.dtype is _BOOL or b.dtype is _BOOL
        except AttributeError:   # a Python number somewhere
            shape_a, shape_b, with_bool = _shape(a), _shape(b), _is_bool(a) or _is_bool(b)
        if with_bool:
            _refuse_bool_subtraction(a, b)
        y = a - b
        try:   # the usual case first: y in a's layout, or a and b in one layout (then y is in PyTorch's)
            if shape_a == shape_b and (y.strides == a.strides or a.strides == b.strides):
                self.shapes = None
                return y
        except AttributeError:   # a Python number
            pass
        y = elementwise_layout(self.xp, y, (a, b))
        self.shapes = None if shape_a == shape_b == _shape(y) else (shape_a, shape_b)
        return y

    def backward(self, gy: Any) -> tuple:
        if self.shapes is None:
            return gy if self.needs_grad[0] else None, -gy if self.needs_grad[1] else None
        shape_a, shape_b = self.shapes
        return (sum_to(gy, shape_a) if self.needs_grad[0] else None,
                sum_to(-gy, shape_b) if self.needs_grad[1] else None)


def refuse_bool_subtraction(a: Any, b: Any) -> None:
    """For ``sub(a, b, alpha=)`` (``alpha * b`` would no longer be bool): PyTorch's refusal of a bool operand."""
    if _is_bool(a) or _is_bool(b):
        _refuse_bool_subtraction(a, b)


def _refuse_bool_subtraction(a: Any, b: Any) -> None:
    """PyTorch refuses ``-`` with a bool operand (a bool tensor or a Python bool; NumPy would subtract it)."""
    dtypes = f"(dtypes {getattr(a, 'dtype', type(a).__name__)} and {getattr(b, 'dtype', type(b).__name__)})"
    if _is_bool(a) and _is_bool(b):
        raise ArgumentTypeError(f"sub: Subtraction, the `-` operator, with two bool tensors is not supported {dtypes}. "
                                "Use the `^` or `logical_xor()` operator instead.")
    raise ArgumentTypeError(f"sub: Subtraction, the `-` operator, with a bool tensor is not supported {dtypes}. If you "
                            "are trying to invert a mask, use the `~` or `logical_not()` operator instead.")


def _half_by_number(a: Any, b: Any, op: Any) -> Any:
    """``op(a, b)`` of a float16 array and a Python number as PyTorch's CPU kernels of mul and div compute it: in
    float32 with the number itself (NumPy rounds it to float16 first: ``x * 0.1`` lands one step off), the
    result rounded once to float16."""
    wide = [v.astype(_FLOAT32) if getattr(v, "dtype", None) == _FLOAT16 else v for v in (a, b)]
    return op(*wide).astype(_FLOAT16)


class Mul(Function):
    complex_grad = "holomorphic"   # complex values: see autograd.engine._complex_gate

    def forward(self, a: Any, b: Any) -> Any:
        # each operand's values are read for the other's gradient only: none kept for the other when it takes no
        # gradient (x * 2, x * mask: nothing of x, as PyTorch's), so an activation scaled by a constant is freed
        # with its last user. needs_grad is set by Function.__call__ before forward (empty: not known, keep both)
        needs = self.needs_grad
        if needs:
            self.saved = (a if needs[1] else None, b if needs[0] else None)
        else:
            self.saved = (None, b) if type(b) in _PYTHON_NUMBER else (a, None) if type(a) in _PYTHON_NUMBER else (a, b)
        y = a * b
        if y.dtype is _FLOAT16 and (type(b) in _REAL_NUMBER or type(a) in _REAL_NUMBER):
            y = _half_by_number(a, b, operator.mul)
            self.backward = self._backward_by_number   # (the usual backward stays free of this case)
        try:   # the usual case first: y in a's layout, or a and b of one shape in one layout (then y is in PyTorch's;
            # a broadcast b of a's strides is not: NumPy orders a size-1 dim of both otherwise)
            if y.strides == a.strides:
                shape_a, shape_b = a.shape, b.shape
                self.shapes = None if shape_a == shape_b == y.shape else (shape_a, shape_b)
                return y
            if a.strides == b.strides and a.shape == b.shape:
                self.shapes = None
                return y
        except AttributeError:   # a Python number
            pass
        y = elementwise_layout(self.xp, y, (a, b))
        self.shapes = _broadcast_shapes(a, b, y)
        return y

    def backward(self, gy: Any) -> tuple:
        a, b = self.saved
        needs_grad = self.needs_grad
        if self.shapes is None:   # nothing broadcast (a recurrent cell's gates): no sums back
            return gy * b if needs_grad[0] else None, gy * a if needs_grad[1] else None
        shape_a, shape_b = self.shapes
        return (sum_to(gy * b, shape_a) if needs_grad[0] else None,
                sum_to(gy * a, shape_b) if needs_grad[1] else None)

    def _backward_by_number(self, gy: Any) -> tuple:
        """A float16 array times a Python number: gy times the number as the forward computes it (in float32 with
        the number itself, rounded once: PyTorch's mul kernel, which its backward runs too)."""
        a, b = self.saved
        needs_grad = self.needs_grad
        return (_half_by_number(gy, b, operator.mul) if needs_grad[0] else None,
                _half_by_number(gy, a, operator.mul) if needs_grad[1] else None)

    kept_for_backward = read_by_the_others   # x * 2, x * mask: nothing of x (it may change in place, as in PyTorch)


class AddCMul(Function):
    """``a + b * c`` as one op (PyTorch's ``addcmul`` with value 1): the same values as ``add(a, mul(b, c))``,
    the product rounded first, and the same gradients, in one node instead of two (a recurrent step's
    ``f * c + i * g``)."""

    complex_grad = "holomorphic"   # complex values: see autograd.engine._complex_gate

    name = "addcmul"

    def forward(self, a: Any, b: Any, c: Any) -> Any:
        self.saved = (b, c)
        y = b * c
        self.shapes = _broadcast_shapes(b, c, y)
        self.shape_a, self.shape_y = _shape(a), y.shape
        if self.shape_a == y.shape and getattr(a, "dtype", None) == y.dtype and (
                getattr(a, "strides", None) == getattr(y, "strides", None)   # (cupy.fuse's proxies: none)
                or y.ndim == 2 and y.flags.c_contiguous and a.strides[0] > a.strides[1] > 0):   # a's rows in order
            # (a recurrent gate's slice: PyTorch's result is C order too). The product's fresh array: y + a is a + y
            y += a   # (floating-point addition is commutative)
            return y
        y = a + y
        if y.ndim and not (a.flags.c_contiguous and b.flags.c_contiguous and c.flags.c_contiguous):
            # PyTorch's layout (its first operand, a, deciding first), not that of NumPy's two steps
            y = lay_out_as_torch(self.xp, y, [strides_over(v, y.shape) for v in (a, b, c)])
        return y

    def backward(self, gy: Any) -> tuple:
        b, c = self.saved
        needs_grad = self.needs_grad
        ga = sum_to(gy, self.shape_a) if needs_grad[0] else None
        g = sum_to(gy, self.shape_y)   # the product's share, as add's backward hands it to mul's
        if self.shapes is None:   # nothing broadcast (a recurrent cell's state update): no sums back
            return ga, g * c if needs_grad[1] else None, g * b if needs_grad[2] else None
        shape_b, shape_c = self.shapes
        return (ga, sum_to(g * c, shape_b) if needs_grad[1] else None,
                sum_to(g * b, shape_c) if needs_grad[2] else None)

    def kept_for_backward(self) -> tuple:
        b, c = self.saved   # b's gradient reads c, c's reads b
        return (b if self.needs_grad[2] else None, c if self.needs_grad[1] else None)


_FLOAT16_ = numpy.dtype(numpy.float16)
_FLOAT32_ = numpy.dtype(numpy.float32)


def _times_number(t: Any, value: Any) -> Any:
    """``t * value`` as PyTorch computes a tensor times a Scalar: in t's dtype (float16: in float32, rounded once)."""
    if value == 1:
        return t
    if t.dtype is _FLOAT16_:
        return (t.astype(numpy.float32) * numpy.float32(value)).astype(_FLOAT16_)
    return t * value


def _own_dtypes(gy: Any, dtypes: tuple, value: Any) -> tuple:
    """addcmul's/addcdiv's gradient dtype and tensor1's and tensor2's for their backward. For complex values the
    gradient's is gy's (complex) and a real tensor keeps its own dtype beside a real value (PyTorch's ``t2 * value``
    of a float32 t2 is float32 before it meets the complex gradient), or takes its complex counterpart beside a
    complex value (float32 -> complex64; float16's ComplexHalf: complex64 here)."""
    if gy.dtype.kind != "c":
        return dtypes
    if isinstance(value, complex):
        return gy.dtype, *[d if d.kind == "c" else numpy.result_type(d, numpy.complex64) for d in dtypes[1:]]
    return gy.dtype, *dtypes[1:]


def _input_gradient(gy: Any, shape: tuple) -> Any:
    """addcmul's/addcdiv's input gradient: gy summed back to ``shape``; a float16 one summed in float32, rounded once,
    as PyTorch's sum of a broadcast float16 gradient."""
    if gy.dtype is _FLOAT16_ and gy.shape != shape:
        return sum_to(gy.astype(numpy.float32), shape).astype(_FLOAT16_)
    return sum_to(gy, shape)


def _in(t: Any, dtype: Any) -> Any:
    """``t`` (a saved tensor in the common dtype) in ``dtype``: a real one's values from a complex array's real part."""
    if t.dtype.kind == "c" and dtype.kind != "c":
        t = t.real   # (its imaginary part is 0: the tensor was real)
    return t.astype(dtype, copy=False)


class _AddCByValue(Function):
    """What addcmul's and addcdiv's one ops share: ``a + (value * b) ∘ c`` (∘ the subclass's ``combine``, ``*`` or
    ``/``), on ``a``, ``b`` and ``c`` in their common dtype, rounded at each step as PyTorch's kernel; float16
    tensors computed in float32 and rounded once; ``dtypes``: the gradient's, ``b``'s and ``c``'s own dtypes for the
    subclass's backward."""

    complex_grad = "holomorphic"   # complex values: see autograd.engine._complex_gate

    combine: Any = None   # the subclass's operator.mul or operator.truediv

    def __init__(self, value: Any, dtypes: tuple) -> None:
        self.value, self.dtypes = value, dtypes

    def forward(self, a: Any, b: Any, c: Any) -> Any:
        self.saved = (b, c)
        self.shapes = (_shape(b), _shape(c))   # each summed back from gy's shape (a may broadcast b and c too)
        self.shape_a = _shape(a)
        half = self.dtypes[0] is _FLOAT16_   # float16 tensors: PyTorch's kernel, in float32, rounded once
        if half:
            a, b, c = a.astype(_FLOAT32_), b.astype(_FLOAT32_), c.astype(_FLOAT32_)
        y = a + type(self).combine(b if self.value == 1 else b * self.value, c)
        if y.ndim and not (a.flags.c_contiguous and b.flags.c_contiguous and c.flags.c_contiguous):
            y = lay_out_as_torch(self.xp, y, [strides_over(v, y.shape) for v in (a, b, c)])   # PyTorch's layout
        return y.astype(_FLOAT16_) if half else y


class AddCMulBy(_AddCByValue):
    """``a + value * b * c`` as one op (torch.addcmul with a value other than 1, mixed dtypes or float16 tensors:
    AddcmulBackward0), on ``a``, ``b`` and ``c`` in their common dtype; ``dtypes``: the gradient's, ``b``'s and
    ``c``'s own dtypes (float16 where PyTorch's float16 kernel ran in float32 for all three). The value:
    ``(value * b) * c + a``, rounded at each step, as PyTorch's kernel. The gradients as PyTorch's formulas:
    b's ``g * (c * value)``, c's ``g * (b * value)``, each product with the number in that tensor's own dtype."""

    name = "addcmul"

    combine = operator.mul

    def backward(self, gy: Any) -> tuple:
        b, c = self.saved
        needs_grad = self.needs_grad
        out, dtype_b, dtype_c = _own_dtypes(gy, self.dtypes, self.value)
        g = gy.astype(out, copy=False)   # (exact: gy is in out's dtype, or float16 values in float32)
        shape_b, shape_c = self.shapes
        gb = gc = None
        if needs_grad[1]:
            gb = sum_to(g * _times_number(_in(c, dtype_c), self.value), shape_b)
            gb = gb.astype(gy.dtype, copy=False)
        if needs_grad[2]:
            gc = sum_to(g * _times_number(_in(b, dtype_b), self.value), shape_c)
            gc = gc.astype(gy.dtype, copy=False)
        return _input_gradient(gy, self.shape_a) if needs_grad[0] else None, gb, gc

    def kept_for_backward(self) -> tuple:
        b, c = self.saved   # b's gradient reads c, c's reads b
        return (b if self.needs_grad[2] else None, c if self.needs_grad[1] else None)


class AddCDiv(_AddCByValue):
    """``a + value * b / c`` as one op (torch.addcdiv: AddcdivBackward0), on ``a``, ``b`` and ``c`` in their common
    dtype; ``dtypes``: the gradient's, ``b``'s and ``c``'s own dtypes (float16 where PyTorch's float16 kernel ran
    in float32 for all three). The value: ``(value * b) / c + a``, rounded at each step, as the composite was and
    PyTorch's kernel is. The gradients as PyTorch's formulas compute them, each step in its operands' own dtypes:
    b's ``g * (value / c)``, c's ``-g * ((value * b) / (c * c))`` (``value / c`` and ``c * c`` rounded in c's
    dtype: a float16 ``c`` beside float32 tensors rounds them to float16, and ``c * c`` overflows past 255.9)."""

    name = "addcdiv"

    combine = operator.truediv

    def backward(self, gy: Any) -> tuple:
        b, c = self.saved
        needs_grad = self.needs_grad
        out, dtype_b, dtype_c = _own_dtypes(gy, self.dtypes, self.value)
        g = gy.astype(out, copy=False)   # (exact: gy is in out's dtype, or float16 values in float32)
        c = _in(c, dtype_c)
        shape_b, shape_c = self.shapes
        gb = gc = None
        if needs_grad[1]:
            gb = sum_to(g * (c.dtype.type(self.value) / c), shape_b).astype(gy.dtype, copy=False)
        if needs_grad[2]:
            scaled = _times_number(_in(b, dtype_b), self.value)
            gc = sum_to(-g * (scaled / (c * c)), shape_c).astype(gy.dtype, copy=False)
        return _input_gradient(gy, self.shape_a) if needs_grad[0] else None, gb, gc

    def kept_for_backward(self) -> tuple:
        b, c = self.saved   # b's gradient reads c; c's reads b and c
        return (b if self.needs_grad[2] else None, c if self.needs_grad[1] or self.needs_grad[2] else None)


class Div(Function):
    complex_grad = "holomorphic"   # complex values: see autograd.engine._complex_gate

    name = "div"
    divisor_copy = False   # ``number / x`` (ops.__init__._rdiv): keep a copy of x, as PyTorch keeps x's reciprocal

    def forward(self, a: Any, b: Any) -> Any:
        y = a / b
        if y.dtype is _FLOAT16 and type(b) in _REAL_NUMBER:
            y = _half_by_number(a, b, operator.truediv)
            self.backward = self._backward_by_number   # (the usual backward stays free of this case)
        elif y.dtype.kind == "c":
            y = backend.complex_quotient(self.xp, a, b, y)
        # integers and bools divide to float64 in NumPy, to the default float dtype in PyTorch (float32 unless
        # set_default_dtype; the float cases leave early)
        if y.dtype is _FLOAT64 and getattr(a, "dtype", None) is not _FLOAT64 and _integral(a) and _integral(b):
            default = get_default_dtype()
            if default is not _FLOAT64:
                y = self.xp.divide(a, b, dtype=default)
        # the inputs, not y, as PyTorch keeps them: the quotient may be changed in place before backward
        # (logits / temperature, then masked_fill_ or fill_diagonal_); a Python number b needs no gradient
        self.saved = (b,) if type(b) in _PYTHON_NUMBER else (b.copy(), a) if self.divisor_copy else (b, a)
        try:
            self.shape_a = a.shape
            if y.strides == a.strides:   # y in a's layout: PyTorch's too
                return y
        except AttributeError:   # a Python number
            self.shape_a = ()
        return elementwise_layout(self.xp, y, (a, b))

    def backward(self, gy: Any) -> tuple:
        b = self.saved[0]
        ga = sum_to(gy / b, self.shape_a) if self.needs_grad[0] else None
        # -gy * ((a / b) / b), grouped as PyTorch does, so overflow and NaN land where PyTorch's do
        gb = sum_to(-gy * ((self.saved[1] / b) / b), _shape(b)) if self.needs_grad[1] else None
        return ga, gb

    def _backward_by_number(self, gy: Any) -> tuple:
        """A float16 array over a Python number: gy over the number as the forward divides (PyTorch's kernel)."""
        return _half_by_number(gy, self.saved[0], operator.truediv), None

    def kept_for_backward(self) -> tuple:
        return self.saved if self.needs_grad[1] else self.saved[:1]   # the dividend only for the divisor's gradient


def _power(xp: Any, a: Any, exponent: Any) -> Any:
    """``a ** exponent`` for a Python number ``exponent``, with PyTorch's kernels for a float ``a``: the exponents
    2, 3, -2, 0.5, -0.5 and -1 are products, sqrt and reciprocals (so (-0.0) ** -0.5 is -inf and
    (-inf) ** 0.5 NaN, as PyTorch's, and x ** 3 rounds as x * x * x); a float32 ``a`` to another exponent
    is computed in float64 and rounded once, as PyTorch's; a float16 ``a`` to any exponent (rounded to
    float16, as PyTorch's Half kernel does) in float32, rounded once."""
    if (getattr(a, "dtype", None) is not None and a.dtype.kind == "c" and type(exponent) in _REAL_NUMBER
            and exponent in _COMPLEX_FAST_EXPONENTS):   # (a NumPy float64 exponent promotes complex64: NumPy's)
        # PyTorch's complex kernels: products, sqrt and reciprocals (1 / z is Smith's division in both), where
        # NumPy's power rounds otherwise (0j ** 2 is -0j there, (-1j) ** -1 is +0+1j)
        with backend.errstate(xp, divide="ignore", over="ignore", invalid="ignore"):
            base = xp.sqrt(a) if exponent in (0.5, -0.5) else a * a if exponent in (2, -2) else a
            if exponent == 3:
                return base * a * a
            return 1 / base if exponent < 0 else base
    if getattr(a, "dtype", None) is None or a.dtype.kind != "f":
        try:
            return a ** exponent
        except ValueError as error:   # NumPy's (and PyTorch's) refusal of int ** negative int
            raise IntegerPowerError(f"pow: {error} (an integer tensor to the power {exponent})") from error
    if a.dtype == _FLOAT16:   # PyTorch's Half kernel: C's pow in float32 (no special exponents), rounded once
        with backend.errstate(xp, divide="ignore", invalid="ignore", over="ignore"):
            narrow = numpy.float16(exponent)
            if numpy.isinf(narrow) and numpy.isfinite(exponent):
                raise RuntimeError(f"pow: the exponent {exponent} cannot be converted to float16 without overflow "
                                   f"(a float16 tensor of shape {a.shape}), as in PyTorch")
            y = xp.power(a.astype(_FLOAT32), _FLOAT32.type(narrow)).astype(_FLOAT16)
        # NumPy's power of 0.5 is sqrt: NaN at -inf, where C's pow gives inf
        return xp.where(a == -numpy.inf, _FLOAT16.type(numpy.inf), y) if exponent == 0.5 else y
    if exponent == 2:
        return a * a
    if exponent == 3:
        return a * a * a
    with backend.errstate(xp, divide="ignore", invalid="ignore"):
        if exponent == 0.5:
            return xp.sqrt(a)
        if exponent == -1:
            return 1 / a
        if exponent == -2:
            return 1 / (a * a)
        if exponent == -0.5:
            return 1 / xp.sqrt(a)
        if a.dtype.itemsize < 8 and exponent not in (0, 1):   # PyTorch: float32 ** a double, in double
            return (a.astype(_FLOAT64) ** exponent).astype(a.dtype)
        return a ** exponent


def _complex_power_exact(b: Any) -> bool:
    """Whether a complex ``a ** b`` already has PyTorch's values at a = 0 for this exponent: b a number 0 or 1
    (PyTorch's pow(Tensor, 0 or 1) is a fill or a copy), or one that :func:`_power` computes by products, sqrt
    and reciprocals (:data:`_COMPLEX_FAST_EXPONENTS`)."""
    return (isinstance(b, (int, float, complex)) and b in (0, 1)
            or type(b) in _REAL_NUMBER and b in _COMPLEX_FAST_EXPONENTS)


def _complex_power_at_zero(xp: Any, a: Any, b: Any, y: Any) -> Any:
    """A complex ``y = a ** b`` where ``a == 0`` as PyTorch computes it, ``exp(b · log a)``: NaN for b == 0, 0 for
    Re b > 0, inf + NaN j for Re b < 0 (NumPy's power gives 1, 0 and NaN); elsewhere y is kept. With a tensor
    exponent PyTorch's kernel computes an infinite or NaN ``a`` that way too (``inf ** 0`` is NaN + NaN j, not 1)."""
    base = xp.asarray(a)
    zero = base == 0
    if not isinstance(b, (int, float, complex)):
        zero = zero | ~xp.isfinite(base)
    if xp is backend.numpy and not zero.any():   # (a GPU computes both: reading the mask back would sync)
        return y
    with backend.errstate(xp, divide="ignore", invalid="ignore", over="ignore"):
        # b complex before the product, as PyTorch promotes it: (-1 + 0j) · (-inf + 0j) is inf + NaN j
        at_zero = xp.exp(xp.asarray(b, dtype=y.dtype) * xp.log(xp.asarray(a, dtype=y.dtype)))
    return xp.where(zero, at_zero, y)


class Pow(Function):
    """a ** b for tensors or scalars on either side."""

    # complex values (autograd.engine._complex_gate): a ** b is holomorphic in a and in b (PyTorch's conj formulas)
    complex_grad = "holomorphic"

    def forward(self, a: Any, b: Any) -> Any:
        number = isinstance(b, (int, float))
        y = _power(self.xp, a, b) if number else _number_base_layout(a, elementwise_layout(self.xp, a ** b, (a, b)))
        if y.dtype.kind == "c" and not _complex_power_exact(b):
            y = _complex_power_at_zero(self.xp, a, b, y)
        # y is for a tensor exponent's gradient: not kept for pow(Tensor, Scalar), as PyTorch's (x ** 2 may be
        # changed in place)
        self.saved = (a, b, None if number else y)
        return y

    def backward(self, gy: Any) -> tuple:
        a, b, y = self.saved
        xp = self.xp
        ga = gb = None
        # Where the formulas give 0 * inf, the gradient is 0, as in PyTorch: d/da at b == 0
        # (even at a == 0), and d/db at a == 0 with b >= 0.
        if self.needs_grad[0]:
            if isinstance(b, (int, float)):
                ga = gy * (2 * a) if b == 2 else gy * (b * _power(xp, a, b - 1)) if b != 0 else xp.zeros_like(gy)
            else:
                with backend.errstate(xp, divide="ignore", invalid="ignore"):
                    ga = xp.where(b == 0, gy.dtype.type(0), gy * (b * a ** (b - 1)))
                ga = sum_to(ga, _shape(a))
        if self.needs_grad[1]:
            with backend.errstate(xp, divide="ignore", invalid="ignore"):
                log_a = xp.log(xp.asarray(a, dtype=y.dtype))   # a real base of a complex power: complex log
                # b.real: a complex exponent on the non-negative real axis, as PyTorch's
                local = xp.where((a == 0) & ((b.real >= 0) & (b.imag == 0) if b.dtype.kind == "c" else b >= 0),
                                 0, y * log_a)
            gb = sum_to(gy * local, _shape(b))
        return ga, gb


class IntegerPow(Function):
    """``a ** b`` of integers where the exponent is a tensor: a negative exponent gives 1 for a base of 1, ±1
    for -1 and 0 otherwise, as PyTorch (NumPy refuses). Integers have no gradient."""

    name = "pow"

    def forward(self, a: Any, b: Any) -> Any:
        xp = self.xp
        negative = b < 0
        y = xp.asarray(xp.power(a, xp.where(negative, b.dtype.type(0), b)))
        if y.dtype.kind == "u":   # both unsigned: no negative exponent
            return _number_base_layout(a, y)
        one, zero = y.dtype.type(1), y.dtype.type(0)
        odd = (b % 2) != 0
        fraction = xp.where(a == 1, one, xp.where(a == -1, xp.where(odd, -one, one), zero))
        return _number_base_layout(a, xp.where(negative, fraction, y))


def _number_base_layout(a: Any, y: Any) -> Any:
    """``y`` (a power of base ``a``) C-contiguous with PyTorch's strides where ``a`` is a number: PyTorch's
    ``pow(Scalar, Tensor)`` (``2 ** x``, ``float_power(2, x)``) allocates a contiguous result, not one in the
    exponent's layout (so ``(2 ** x.t()).view(-1)`` works)."""
    return y if backend.is_array(a) else _memory_format.in_format(y, _memory_format.contiguous_format, "pow")


def _winner_share(xp: Any, gy: Any, x: Any, other: Any, x_loses: Any, first: Any = None) -> Any:
    """The gradient of ``x`` in maximum/minimum(x, other): all of ``gy`` where x wins, half at a tie, 0
    where it loses (``x_loses``). A NaN on either side wins for both, as in PyTorch. Laid out as PyTorch's
    ``where(self == other, grad / 2, grad)``: the op's first operand (``first``, else x), the other, then gy."""
    zero = gy.dtype.type(0)
    first = x if first is None else first
    return elementwise_layout(xp, xp.where(x_loses, zero, xp.where(x == other, gy / 2, gy)),
                              (first, other if first is x else x, gy))


class Maximum(Function):
    """Elementwise max; ties share the gradient equally (as PyTorch)."""

    def forward(self, a: Any, b: Any) -> Any:
        self.saved = (a, b)
        # a at a tie (NumPy returns its second argument): the sign of a zero from max(-0, 0) is a's,
        # as torch.maximum gives it on small tensors (its vectorised loop returns b)
        y = backend.maximum(self.xp, b, a)   # (CuPy's max gives +0.0 at a tie of zeros)
        if y.dtype.kind == "c":   # NumPy orders complex values lexicographically; PyTorch refuses them
            raise complex_order_error("maximum", y.dtype, runtime=True)
        return elementwise_layout(self.xp, y, (a, b))

    def backward(self, gy: Any) -> tuple:
        a, b = self.saved
        ga = sum_to(_winner_share(self.xp, gy, a, b, a < b), _shape(a)) if self.needs_grad[0] else None
        gb = sum_to(_winner_share(self.xp, gy, b, a, b < a, first=a), _shape(b)) if self.needs_grad[1] else None
        return ga, gb


class Minimum(Function):
    """Elementwise min; ties share the gradient equally (as PyTorch)."""

    def forward(self, a: Any, b: Any) -> Any:
        self.saved = (a, b)
        y = backend.minimum(self.xp, b, a)   # a at a tie, as PyTorch (the sign of a zero result)
        if y.dtype.kind == "c":   # NumPy orders complex values lexicographically; PyTorch refuses them
            raise complex_order_error("minimum", y.dtype, runtime=True)
        return elementwise_layout(self.xp, y, (a, b))

    def backward(self, gy: Any) -> tuple:
        a, b = self.saved
        ga = sum_to(_winner_share(self.xp, gy, a, b, a > b), _shape(a)) if self.needs_grad[0] else None
        gb = sum_to(_winner_share(self.xp, gy, b, a, b > a, first=a), _shape(b)) if self.needs_grad[1] else None
        return ga, gb


class Where(Function):
    """where(condition, a, b); the condition gets no gradient. ``c_order``: the result C-contiguous with PyTorch's
    strides (out-of-place ``masked_fill``, which fills a ``clone(contiguous_format)`` in PyTorch)."""

    complex_grad = True   # complex values: see autograd.engine._complex_gate
    c_order = False
    c_order_gradient = False   # b's gradient C-contiguous (masked_fill, masked_fill_, copy_: the old value's)
    grad_first = False   # True: the gradients' layout as a kernel over (grad, x), not where's (hardshrink, softshrink)

    def forward(self, condition: Any, a: Any, b: Any) -> Any:
        condition = condition.astype(bool, copy=False) if backend.is_array(condition) else bool(condition)
        # a Python bool (copy_ and fill_ fill everywhere) is kept as it is: saved-tensor hooks see no array, as
        # PyTorch's CopyBackwards saves no tensor
        self.saved = (condition,)
        self.shapes = (_shape(a), _shape(b))
        y = self.xp.where(self.xp.asarray(condition) if type(condition) is bool else condition, a, b)
        if self.c_order:
            return _memory_format.in_format(y, _memory_format.contiguous_format, self.name)
        return elementwise_layout(self.xp, y, (condition, a, b))

    def backward(self, gy: Any) -> tuple:
        (condition,) = self.saved
        if type(condition) is bool:   # cupy.where takes no Python bool
            condition = self.xp.asarray(condition)
        zero = gy.dtype.type(0)
        ga = sum_to(self._laid_out(self.xp.where(condition, gy, zero), condition, gy, False), self.shapes[0]) \
            if self.needs_grad[1] else None
        gb = sum_to(self._laid_out(self.xp.where(condition, zero, gy), condition, gy, self.c_order_gradient),
                    self.shapes[1]) if self.needs_grad[2] else None
        return None, ga, gb

    def _laid_out(self, g: Any, condition: Any, gy: Any, c_order: bool) -> Any:
        """``g`` in the layout of PyTorch's formula: where(condition, grad, 0), a TensorIterator over the condition
        first (x.t() > 0 makes the gradient transposed whatever grad's layout); ``c_order``: C order (masked_fill's
        grad.masked_fill(mask, 0) fills a C-order clone, copy_'s is zeros_like(grad, contiguous)); ``grad_first``:
        a backward kernel over (grad, x) (the shrinks')."""
        if c_order:
            return g if g.flags.c_contiguous else self.xp.ascontiguousarray(g)
        if g.strides == gy.strides == condition.strides:
            return g
        return elementwise_layout(self.xp, g, (gy, condition) if self.grad_first else (condition, gy, 0))


# --- unary math ---------------------------------------------------------------

class Neg(Function):
    complex_grad = True   # complex values: see autograd.engine._complex_gate

    def forward(self, x: Any) -> Any:
        try:
            return -x
        except TypeError as error:
            if getattr(getattr(x, "dtype", None), "kind", None) != "b":
                raise
            raise BoolNegationError("neg: the negative of a bool tensor (the `-` operator) is not supported, as in "
                                    "PyTorch. To invert a mask, use the `~` operator or logical_not() "
                                    "instead.") from error

    def backward(self, gy: Any) -> Any:
        return -gy


class Exp(Function):
    complex_grad = "holomorphic"   # complex values: see autograd.engine._complex_gate

    def forward(self, x: Any) -> Any:
        y = self.xp.exp(x)
        self.saved = (y,)
        return y

    def backward(self, gy: Any) -> Any:
        return gy * self.saved[0]


class Log(Function):
    complex_grad = "holomorphic"   # complex values: see autograd.engine._complex_gate

    def forward(self, x: Any) -> Any:
        self.saved = (x,)
        return self.xp.log(x)

    def backward(self, gy: Any) -> Any:
        x = self.saved[0]
        return gradient_layout(self.xp, gy / x, gy, x)   # PyTorch's grad / x: the gradient's layout first


class Tanh(Function):
    complex_grad = "holomorphic"   # complex values: see autograd.engine._complex_gate
    def forward(self, x: Any) -> Any:
        y = self.xp.tanh(x)
        self.saved = (y,)
        return y

    def backward(self, gy: Any) -> Any:
        (y,) = self.saved
        if y.dtype is _FLOAT16:   # in float32, rounded once, as PyTorch's
            return float16_in_float32(lambda g, v: g * (1 - v * v), gy, y)
        xp = self.xp
        out = y * y   # dtanh = 1 - y², in one temporary
        if not out.ndim:
            out = xp.asarray(out)   # NumPy gives a scalar for 0-d input
        xp.subtract(1, out, out=out)
        out *= gy
        return out


# NumPy's exp with overflow warnings off; errstate as a decorator costs less per call than a with block
_exp_quietly = backend.numpy.errstate(over="ignore")(backend.numpy.exp)


@backend.numpy.errstate(over="ignore")   # e^{-x} is inf for x < -88.7 in float32, which correctly gives 0
def _sigmoid_float16(xp: Any, x: Any) -> Any:
    """σ(x) of a float16 array as PyTorch's CPU kernel: e^{-x} correctly rounded to float32 (here through
    float64), 1 / (1 + e^{-x}) in float32, rounded once to float16. Same shape, float16 (0-d stays an array)."""
    e = xp.exp(-x.astype(numpy.float64)).astype(_FLOAT32)
    y = xp.reciprocal(e + 1).astype(_FLOAT16)
    return y if y.ndim else xp.asarray(y)   # NumPy gives a scalar for 0-d input (ndim: cupy.fuse's proxies too)


class Sigmoid(Function):
    complex_grad = "holomorphic"   # complex values: see autograd.engine._complex_gate
    def forward(self, x: Any) -> Any:
        if x.dtype is _FLOAT16:
            y = _sigmoid_float16(self.xp, x)
            self.saved = (y,)
            return y
        xp = self.xp
        if x.dtype.kind == "c":   # PyTorch's vector kernel: 1 / (1 + exp(0 - x)); NumPy's reciprocal is not 1 / z
            with backend.errstate(xp, divide="ignore", over="ignore", invalid="ignore"):
                y = xp.asarray(1 / (xp.exp(0 - x) + 1))   # (a 0-d x: NumPy gives a scalar)
            y = elementwise_layout(xp, y, (x,))   # x's layout (CuPy's steps give C order)
            self.saved = (y,)
            return y
        # 1 / (1 + exp(-x)) is exact in both tails; exp overflows to inf for
        # very negative x, which correctly gives 0, so that warning is off.
        y = _exp_quietly(-x) if xp is backend.numpy else xp.exp(-x)
        if not y.ndim:
            y = xp.asarray(y)   # NumPy gives a scalar for 0-d input
        y += 1
        xp.reciprocal(y, out=y)
        self.saved = (y,)
        return y

    def backward(self, gy: Any) -> Any:
        (y,) = self.saved
        if y.dtype is _FLOAT16:   # PyTorch rounds to float16 at every step, in this order
            return (gy * (1 - y)) * y
        out = 1 - y
        out *= y
        out *= gy
        return out


class Relu(Function):
    def forward(self, x: Any) -> Any:
        dtype = getattr(x, "dtype", None)   # (a Python number has none)
        if dtype is not None and dtype.kind == "c":   # PyTorch's relu is a clamp, which refuses complex values
            raise complex_order_error("relu", dtype)
        if dtype is not None and dtype.kind == "b":   # NumPy's maximum(0, x) would give int64
            raise ArgumentTypeError(f"relu: Boolean inputs not supported for relu (shape {x.shape}), as in PyTorch")
        y = backend.maximum(self.xp, 0, x)   # x at a tie: relu(-0) = -0, as PyTorch
        self.saved = (y,)
        return y

    def backward(self, gy: Any) -> Any:
        # `y <= 0`, not `y > 0`: a NaN input passes its gradient, as in PyTorch; in the layout of PyTorch's
        # threshold_backward, which iterates over the input first (relu(x.t())'s leaf gets a row-major gradient)
        y = self.saved[0]
        return elementwise_layout(self.xp, self.xp.where(y <= 0, gy.dtype.type(0), gy), (y, gy))


class Abs(Function):
    complex_grad = True   # complex values: complex_backward (autograd.engine._complex_gate)

    def forward(self, x: Any) -> Any:
        if x.dtype == bool:
            raise DtypeNotImplementedError(f"abs: not implemented for a bool tensor (shape {x.shape}), as in PyTorch")
        self.saved = (x,)
        return self.xp.abs(x)

    def backward(self, gy: Any) -> Any:
        (x,) = self.saved
        xp = self.xp
        # PyTorch's gy · sgn(x), sgn(NaN) = 0: selected where x ≠ 0, else gy · 0 (0, but NaN for a non-finite gy)
        return gradient_layout(xp, xp.where(x > 0, gy, xp.where(x < 0, -gy, gy * 0)), gy, x)   # grad * sgn(x)

    def complex_backward(self, gy: Any) -> Any:
        """|z| of complex z: gy * z / |z| (PyTorch's sgn(z); 0 at z == 0). z / |z| part by part: NumPy's complex
        division by a subnormal |z| (1e-310) overflows its reciprocal into inf + nan·1j."""
        (x,) = self.saved
        xp = self.xp
        size = xp.abs(x)
        return xp.where(size == 0, x.dtype.type(0), gy * unit_complex(xp, x, xp.where(size == 0, 1, size)))


class Sqrt(Function):
    complex_grad = "holomorphic"   # complex values: see autograd.engine._complex_gate

    def forward(self, x: Any) -> Any:
        y = self.xp.sqrt(x)
        self.saved = (y,)
        return y

    def backward(self, gy: Any) -> Any:
        y = self.saved[0]
        return gradient_layout(self.xp, gy / (2 * y), gy, y)   # PyTorch's grad / (2 y): the gradient's layout first


class Clip(Function):
    """clip(x, low, high) = minimum(maximum(x, low), high), with torch.clamp's gradients.

    x gets the gradient where low <= x <= high (bounds inclusive). Each bound that is a Tensor gets it
    where it is the result: low where x < low < high, high where x > high or high < low (when the
    bounds cross, high wins, as in the forward). A missing bound is None and is not an input.
    """

    def __init__(self, has_low: bool, has_high: bool) -> None:
        self.has_low, self.has_high = has_low, has_high

    def forward(self, x: Any, *bounds: Any) -> Any:
        low = bounds[0] if self.has_low else None
        high = bounds[-1] if self.has_high else None
        self.saved = (x, low, high)
        # x, not the bound, where they are equal (the sign of a zero), as torch.clamp: NumPy's
        # maximum/minimum return their second argument at a tie
        y = x if low is None else backend.maximum(self.xp, low, x)
        y = y if high is None else backend.minimum(self.xp, high, y)
        if y.dtype.kind == "c":   # a complex x or bound: NumPy orders them lexicographically, PyTorch refuses
            raise complex_order_error(self.name, y.dtype)
        return elementwise_layout(self.xp, y, (x, *bounds))

    def backward(self, gy: Any) -> tuple:
        x, low, high = self.saved
        xp, zero = self.xp, gy.dtype.type(0)
        passes = True
        if low is not None:
            passes = passes & (x >= low)
        if high is not None:
            passes = passes & (x <= high)
        # sum_to: tensor bounds may broadcast x (and each other) to a larger shape
        # laid out as PyTorch's where(cond, grad, 0): the condition's operands (x first) lead, then gy
        operands = (x, low, high, gy)
        grads = [sum_to(elementwise_layout(xp, xp.where(passes, gy, zero), operands), _shape(x))
                 if self.needs_grad[0] else None]
        if low is not None:
            wins = x < low if high is None else (x < low) & (low < high)
            grads.append(sum_to(elementwise_layout(xp, xp.where(wins, gy, zero), operands), _shape(low))
                         if self.needs_grad[1] else None)
        if high is not None:
            wins = x > high if low is None else (x > high) | (high < low)
            grads.append(sum_to(elementwise_layout(xp, xp.where(wins, gy, zero), operands), _shape(high))
                         if self.needs_grad[-1] else None)
        return tuple(grads)


# --- public functions -------------------------------------------------------

def add(a: Any, b: Any) -> Tensor:
    """a + b with broadcasting."""
    return Add()(a, b)


def sub(a: Any, b: Any) -> Tensor:
    """a - b with broadcasting."""
    return Sub()(a, b)


def mul(input: Any, other: Any, *, out: Tensor | None = None) -> Tensor:  # noqa: A002
    """a * b with broadcasting; ``out=``: written into that tensor (minigrad/outputs.py), as every ``out=`` here."""
    if out is not None:
        return write_out("mul", Mul()(input, other), out, inputs=(input, other), broadcast=True)
    return Mul()(input, other)


def multiply_operator(a: Any, b: Any) -> Tensor:
    """``a * b``: :func:`mul` without its ``out=`` test (the operators never take one). A list, tuple or str
    operand is Python's sequence repetition, as PyTorch's (``[0] * mg.tensor(3)`` is ``[0, 0, 0]``)."""
    if type(b) in _SEQUENCES:
        return NotImplemented
    return Mul()(a, b)


_SEQUENCES = (list, tuple, str)


def div(a: Any, b: Any) -> Tensor:
    """a / b with broadcasting."""
    return Div()(a, b)


def pow(input: Any, exponent: Any, *, out: Tensor | None = None) -> Tensor:  # noqa: A002, A001 - the op's name
    """a ** b with broadcasting.

    Integers to a tensor of integer exponents follow PyTorch: a negative exponent gives 1, -1 or 0
    (``2 ** -1 == 0``); a bool tensor to a Python int is computed in int64, as PyTorch's.
    """
    if out is not None:
        return write_out("pow", power_operator(input, exponent), out, inputs=(input, exponent), broadcast=True)
    return power_operator(input, exponent)


def power_operator(a: Any, b: Any) -> Tensor:
    """``a ** b``: :func:`pow` without its ``out=`` test (the operators never take one)."""
    if isinstance(a, Tensor) and isinstance(b, numpy.generic) and b.dtype.kind in "biuf" and not isinstance(b, float):
        # PyTorch reads a NumPy scalar as a Python number (complex 0 ** np.int64(0) is 1, not exp(0 · log 0) = NaN,
        # and the result is not saved); the dtype stays NumPy 2's (README)
        a, b = a.astype(numpy.result_type(a.dtype, b.dtype)), b.item()
    if isinstance(b, Tensor) and _integral(b) and _integral(a):
        if _is_bool(a) and _is_bool(b):
            raise DtypeNotImplementedError(f"pow: not implemented for two bool operands (shapes {_shape(a)} and "
                                           f"{_shape(b)}), as in PyTorch")
        return IntegerPow()(a, b)
    if isinstance(a, Tensor) and isinstance(b, int) and not isinstance(b, bool):
        if b < 0 and a.dtype.kind in "biu":   # uint8 ** -3 would wrap -3 to 253 (and give 0); an empty one raises too
            raise IntegerPowerError(f"pow: Integers to negative integer powers are not allowed (a {a.dtype} tensor "
                                    f"to the power {b}), as in PyTorch")
        if a.dtype.kind == "b":
            a = AsType(_INT64)(a)
        elif a.dtype.kind in "iu":   # PyTorch converts the exponent to the dtype: uint8 ** 300 raises, not wraps
            _fill_in(b, a.dtype, "pow")
    return Pow()(a, b)


def neg(input: Tensor) -> Tensor:  # noqa: A002
    """``-input``, elementwise, any shape (a bool tensor is refused, as PyTorch's)."""
    return Neg()(input)


def exp(input: Tensor, *, out: Tensor | None = None) -> Tensor:  # noqa: A002
    """e ** x elementwise."""
    if out is not None:
        return write_out("exp", Exp()(_floating(input)), out, inputs=(input,), broadcast=True)
    return Exp()(_floating(input))


def log(input: Tensor, *, out: Tensor | None = None) -> Tensor:  # noqa: A002
    """Natural logarithm elementwise."""
    if out is not None:
        return write_out("log", Log()(_floating(input)), out, inputs=(input,), broadcast=True)
    return Log()(_floating(input))


def tanh(input: Tensor, *, out: Tensor | None = None) -> Tensor:  # noqa: A002
    """Hyperbolic tangent elementwise."""
    if out is not None:
        return write_out("tanh", Tanh()(_floating(input)), out, inputs=(input,), broadcast=True)
    return Tanh()(_floating(input))


def sigmoid(input: Tensor) -> Tensor:  # noqa: A002
    """1 / (1 + exp(-x)) elementwise, stable for any x."""
    return Sigmoid()(_floating(input))


def relu(input: Tensor) -> Tensor:  # noqa: A002
    """max(x, 0) elementwise."""
    return Relu()(input)


def abs(input: Tensor, *, out: Tensor | None = None) -> Tensor:  # noqa: A002, A001 - the op's name
    """|x| elementwise (gradient 0 at 0)."""
    x = input if isinstance(input, Tensor) else as_tensor(input)   # a number or a list, as exp's
    if out is not None:
        # a complex x's |x| goes into a real out it casts to, or one of x's own dtype, as PyTorch's; else its dtype
        own = getattr(out, "dtype", None)
        cast = x.dtype.kind == "c" and (own == x.dtype or getattr(own, "kind", "") in "f")
        return write_out("abs", Abs()(x), out, "cast" if cast else "exact", inputs=(input,), broadcast=True)
    return Abs()(x)


def abs_operator(x: Tensor) -> Tensor:
    """``abs(x)``: :func:`abs` without its ``out=`` test (the operators never take one)."""
    return Abs()(x)


def sqrt(input: Tensor, *, out: Tensor | None = None) -> Tensor:  # noqa: A002
    """Square root elementwise."""
    if out is not None:
        return write_out("sqrt", Sqrt()(_floating(input)), out, inputs=(input,), broadcast=True)
    return Sqrt()(_floating(input))


def clip(input: Tensor, min: Any = None, max: Any = None, *, out: Tensor | None = None) -> Tensor:  # noqa: A002
    """Clamp ``x`` into [min, max] (either may be None); Tensor bounds broadcast and get gradients.

    Shapes: x, min and max broadcast together, as ``numpy.clip``; the result has the broadcast shape.
    """
    if out is not None:
        return write_out("clamp", clip(input, min, max), out, "exact", inputs=(input, min, max), broadcast=True)
    x = input
    if min is None and max is None:
        raise ShapeMismatchError("clip: give at least one of min and max")
    if all(isinstance(t, Tensor) and t.dtype.kind == "b" for t in (x, min, max)):
        # PyTorch's two-tensor-bound clamp has no bool kernel (one bound goes through clamp_min/max, which has)
        raise DtypeNotImplementedError(f"clamp: not implemented for 'Bool' (a bool tensor between two bool tensor "
                                       f"bounds; shape {x.shape}), as in PyTorch")
    given = [bound for bound in (min, max) if bound is not None]
    if getattr(getattr(x, "dtype", None), "kind", "") == "b" and all(type(bound) is bool for bound in given):
        kernel = "clamp_scalar" if len(given) == 2 else "clamp_min_scalar" if min is not None else "clamp_max_scalar"
        raise DtypeNotImplementedError(f'clamp: "{kernel}_cpu" not implemented for \'Bool\' (a bool tensor of shape '
                                       f"{x.shape} with bool bounds), as in PyTorch")
    floating = any(getattr(getattr(bound, "dtype", None), "kind", "") in "fc" if not isinstance(bound, (int, float))
                   else isinstance(bound, float) for bound in given)   # an integer x then clamps into a float result
    bounds = [_number_bound(bound, x, floating) for bound in (min, max) if bound is not None]
    return Clip(min is not None, max is not None)(x, *bounds)


def _number_bound(bound: Any, x: Any, floating: bool = False) -> Any:
    """A clamp bound made ready: a number that keeps x's dtype must fit it, as PyTorch converts it (300 for uint8,
    1e39 for float32 raise RuntimeError where NumPy would wrap or overflow to inf; an int beside a ``floating``
    bound need not fit an integer x, the result being a float: it is made a float); a NumPy scalar is read as the
    Python number; arrays and Tensors pass as they are."""
    if isinstance(bound, numpy.generic) and not isinstance(bound, numpy.complexfloating):
        bound = bound.item()
    if type(bound) is complex and getattr(getattr(x, "dtype", None), "kind", "") == "f":
        bound = _fill_in(bound, x.dtype, "clamp")   # PyTorch's float clamp takes 2+0j as 2.0 (2+1j raises)
    if isinstance(bound, (int, float)) and not isinstance(bound, bool):
        kind = getattr(getattr(x, "dtype", None), "kind", "")
        if kind in ("f", "c") or (kind in ("i", "u") and isinstance(bound, int) and not floating):   # keeps x's dtype
            _fill_in(bound, x.dtype, "clamp")
        elif kind in ("i", "u") and isinstance(bound, int):   # NumPy would wrap it into x's dtype first
            return float(bound)
        return bound
    if bound is not None and not isinstance(bound, (bool, Tensor)) and not backend.is_array(bound):
        if isinstance(bound, (complex, numpy.complexfloating)):   # PyTorch's NotImplementedError: no order
            raise complex_order_error("clip", "complex")
        raise TypeError(f"clip: min and max must be numbers, arrays or Tensors, got {type(bound).__name__}")
    return bound


def maximum(input: Any, other: Any, *, out: Tensor | None = None) -> Tensor:  # noqa: A002
    """Elementwise maximum with broadcasting."""
    if out is not None:
        return write_out("maximum", Maximum()(input, other), out, inputs=(input, other), broadcast=True)
    return Maximum()(input, other)


def minimum(input: Any, other: Any) -> Tensor:  # noqa: A002
    """Elementwise minimum with broadcasting."""
    return Minimum()(input, other)


def _check_condition(condition: Any) -> None:
    """PyTorch's where takes a bool condition (uint8 with a deprecation warning); NumPy's would take any
    dtype as its truth, so a float or integer condition is refused rather than read as ``!= 0``."""
    dtype = condition.dtype if isinstance(condition, Tensor) or backend.is_array(condition) \
        else numpy.asarray(condition).dtype   # a Python bool or a list of them
    if dtype == numpy.uint8:
        warnings.warn("where received a uint8 condition tensor. This behavior is deprecated and will be removed in "
                      "a future version of PyTorch. Use a boolean condition instead.", UserWarning, stacklevel=3)
    elif dtype != _BOOL:
        raise ArgumentTypeError(f"where expected condition to be a boolean tensor, but got a tensor with dtype "
                                f"{dtype} (shape {_shape(condition)})")


def where(condition: Any, input: Any, other: Any) -> Tensor:  # noqa: A002
    """``a`` where ``condition`` is true, else ``b`` (all broadcast together).

    Two Python numbers take PyTorch's dtype for the pair (``where(mask, 2, 0)`` is int64, ``where(mask, 1.0, 0)``
    float32), on the condition's device; the condition's dtype plays no part in the result's.
    """
    _check_condition(condition)
    a, b = input, other
    # a number beside a tensor is converted into the result's dtype, the tensor's (its complex twin for a complex
    # number), as PyTorch converts it: 300 into int8 or 1e39j into complex64 raise
    if type(b) in _NOT_BOOL or type(a) in _NOT_BOOL:
        tensor, number = (a, b) if type(b) in _NOT_BOOL else (b, a)
        kind = tensor.dtype.kind if isinstance(tensor, Tensor) else None
        if kind in ("i", "u") and type(number) is int or kind in ("f", "c") and tensor.itemsize > 2:
            twin = numpy.result_type(tensor.dtype, numpy.complex64) if type(number) is complex else tensor.dtype
            _fill_in(number, twin, "where")
        elif kind == "b" and type(number) is int:
            _fill_in(number, _INT64, "where")   # bools and an int give int64: 2**63 raises, not wraps
    if not isinstance(a, Tensor) and not isinstance(b, Tensor):
        numbers = isinstance(a, _PYTHON_NUMBER) and isinstance(b, _PYTHON_NUMBER)
        a = as_tensor(a, dtype=torch_result_type(a, b) if numbers else None,
                      device=condition.device if isinstance(condition, Tensor) else None)
    return Where()(condition, a, b)


class Sin(Function):
    complex_grad = "holomorphic"   # complex values: see autograd.engine._complex_gate
    def forward(self, x: Any) -> Any:
        self.saved = (x,)
        return self.xp.sin(x)

    def backward(self, gy: Any) -> Any:
        x = self.saved[0]
        return gradient_layout(self.xp, gy * self.xp.cos(x), gy, x)   # PyTorch's grad * cos(x)


class Cos(Function):
    complex_grad = "holomorphic"   # complex values: see autograd.engine._complex_gate
    def forward(self, x: Any) -> Any:
        self.saved = (x,)
        return self.xp.cos(x)

    def backward(self, gy: Any) -> Any:
        x = self.saved[0]
        return gradient_layout(self.xp, -gy * self.xp.sin(x), gy, x)   # PyTorch's grad * -sin(x)


def sin(input: Tensor) -> Tensor:  # noqa: A002
    """Sine elementwise (radians)."""
    return Sin()(_floating(input))


def cos(input: Tensor) -> Tensor:  # noqa: A002
    """Cosine elementwise (radians)."""
    return Cos()(_floating(input))
