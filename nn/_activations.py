"""PyTorch's other activation functions (``F.elu`` … ``F.prelu``), re-exported by ``nn.functional``.

Most are one op each, an ``mg.Function`` whose forward and backward are PyTorch's kernels (elu/celu/selu,
leaky_relu, softplus, logsigmoid, glu, prelu, silu, gelu, mish, hardtanh/relu6/hardsigmoid/hardswish); the rest
(the shrinks, threshold, rrelu, softsign …) are written from their pieces with ``mg.where``. Either way the
comparison that picks a piece is the one in PyTorch's kernel, so the gradient at a kink is the one PyTorch's
backward picks. ``inplace=True`` writes the result into the input and returns the input itself, as
PyTorch's (nn/_in_place.py: the same math, gradients exact; a leaf that requires grad refuses while recording).
"""

from __future__ import annotations

import math
from typing import Any

import numpy

import minigrad as mg
from minigrad import Tensor
from minigrad._nn_support import gradient_layout, kernels, lay_out_as_torch

from ._arguments import (
    _dim,
    _dtype_error,
    _floating,
    _implicit_dim,
    _not_complex,
    _number,
    _promoted,
    _refuse_cpu_half,
    _tensor,
)
from ._errors import InputDtypeError, InputShapeError
from ._flags import flag
from ._in_place import written_in_place


def _reads_input(y: Tensor) -> Tensor:
    """``y``, its op marked as one whose backward reads the input to pick a piece, as PyTorch's backward of
    leaky_relu, hardtanh, threshold, the shrinks and prelu does: with ``create_graph=True`` the input then gets
    a zero gradient through the piece (PyTorch's ``zeros_like``), not none (an optimizer with momentum tells
    the two apart)."""
    node = y._node   # not grad_fn: that fits PyTorch's name to the node, which this does not need
    if node is not None:
        node.reads_input = True
    return y


def _shrink(y: Tensor) -> Tensor:
    """``y``, a ``where`` of hardshrink or softshrink, with its input's gradient laid out as PyTorch's
    shrink_backward kernels lay it out (a TensorIterator over (grad, x): where's is over the condition first)."""
    node = y._node
    if node is not None:
        node.grad_first = True
    return _reads_input(y)


class _Float32Inside:
    """For an op of one float input x that keeps ``saved = (x,)``: a float16 x computed in float32 and rounded
    once, forward and backward, as PyTorch's float16 kernels compute (their opmath type), in the op's own node
    (PyTorch's: no ToCopy nodes around it, its hooks' gradients float16). The op's forward and backward call
    these first where x is float16 (one check)."""

    def _half_forward(self, x: Any) -> Any:
        y = self.forward(x.astype(numpy.float32))
        self.saved = (x,)   # the float16 x, as PyTorch's node keeps it (and its in-place check reads it)
        return y.astype(numpy.float16)

    def _half_backward(self, gy: Any) -> Any:
        (x,) = self.saved
        self.saved = (x.astype(numpy.float32),)
        try:
            grad = self.backward(gy.astype(numpy.float32))
        finally:
            self.saved = (x,)
        return grad.astype(numpy.float16)


class ExponentialLinear(_Float32Inside, mg.Function):
    """PyTorch's ``elu(x, α, scale, input_scale)`` as one op (elu and selu: EluBackward0, celu: CeluBackward0):
    y = scale · x for x > 0, else scale · α · (e^{x·input_scale} - 1). Backward, PyTorch's: g · scale for x > 0,
    else g · scale · α · input_scale · e^{x·input_scale}; at 0 the exponential's slope, α · input_scale. The
    exponential reads 0 where x > 0, so a large x neither overflows nor sends inf·0 = NaN back through the unused
    piece; a NaN x takes the exponential's piece, so its gradient is NaN, as PyTorch's vectorised CPU kernel gives
    for any tensor of 16 float32s or more (its scalar tail and CUDA kernel give the slope 1: a NaN input should not
    look like a finite gradient). Its ``create_graph=True`` rule is minigrad/higher_order_rules.py's
    ``_exponential_linear``: no curvature at 0 itself, as PyTorch's double backward (x < 0). Same shape in and
    out; the node keeps x, as PyTorch's."""

    def __init__(self, name: str, alpha: float, input_scale: float = 1.0, scale: float = 1.0) -> None:
        self.name, self.alpha, self.input_scale, self.scale = name, alpha, input_scale, scale

    def _exponent(self, x: Any, positive: Any) -> Any:
        """x · input_scale where x is not positive, 0 where it is."""
        return self.xp.where(positive, x.dtype.type(0), x) * self.input_scale

    def forward(self, x: Any) -> Any:
        if x.dtype == numpy.float16:
            return self._half_forward(x)
        self.saved = (x,)
        xp = self.xp
        positive = x > 0
        y = xp.where(positive, x, self.alpha * xp.expm1(self._exponent(x, positive)))
        return y * self.scale if self.scale != 1 else y

    def backward(self, gy: Any) -> Any:
        (x,) = self.saved
        if x.dtype == numpy.float16:
            return self._half_backward(gy)
        xp = self.xp
        positive = x > 0
        slope = xp.exp(self._exponent(x, positive))
        slope *= self.scale * self.alpha * self.input_scale
        # PyTorch's elu_backward: a TensorIterator over (grad, x), so the gradient's layout first
        return gradient_layout(xp, xp.where(positive, gy * self.scale if self.scale != 1 else gy, gy * slope), gy, x)


def elu(input: Tensor, alpha: float = 1.0, inplace: bool = False) -> Tensor:  # noqa: A002 - PyTorch's name
    """ELU(x) = x for x > 0, α·(eˣ - 1) otherwise. Any shape in, the same shape out."""
    if inplace is not False and flag(inplace, "elu", "inplace"):
        return written_in_place("elu_", input, lambda x: elu(x, alpha))
    x, alpha = _floating(input, "elu"), _number(alpha, "elu", "alpha")
    return ExponentialLinear("elu", alpha)(x)


def celu(input: Tensor, alpha: float = 1.0, inplace: bool = False) -> Tensor:  # noqa: A002
    """CELU(x) = max(0, x) + min(0, α·(e^{x/α} - 1)); α must not be 0. Any shape in, the same shape out."""
    if inplace is not False and flag(inplace, "celu", "inplace"):
        return written_in_place("celu_", input, lambda x: celu(x, alpha))
    x, alpha = _floating(input, "celu"), _number(alpha, "celu", "alpha")
    if alpha == 0:   # PyTorch's RuntimeError (it names a ZeroDivisionError); a ValueError here as well
        raise InputShapeError("celu: alpha cannot be 0 (it divides x), as PyTorch's ZeroDivisionError")
    return ExponentialLinear("celu", alpha, 1.0 / alpha)(x)


_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946


def selu(input: Tensor, inplace: bool = False) -> Tensor:  # noqa: A002
    """SELU(x) = scale · ELU(x, α) with PyTorch's constants α ≈ 1.6733, scale ≈ 1.0507. Any shape."""
    if inplace is not False and flag(inplace, "selu", "inplace"):
        return written_in_place("selu_", input, selu)
    return ExponentialLinear("elu", _SELU_ALPHA, scale=_SELU_SCALE)(_floating(input, "selu"))   # EluBackward0, as torch


def leaky_relu(input: Tensor, negative_slope: float = 0.01, inplace: bool = False) -> Tensor:  # noqa: A002
    """x for x > 0, negative_slope · x otherwise (the slope's side at 0, as PyTorch). Any shape."""
    if inplace is not False and flag(inplace, "leaky_relu", "inplace"):
        return written_in_place("leaky_relu_", input, lambda x: leaky_relu(x, negative_slope))
    return LeakyRelu(_number(negative_slope, "leaky_relu", "negative_slope"))(_floating(input, "leaky_relu"))


class LeakyRelu(_Float32Inside, mg.Function):
    """x for x > 0, else negative_slope · x (NaN: NaN · slope), as one op (PyTorch's LeakyReluBackward0, which
    keeps x): g for x > 0, else g · negative_slope. Its ``create_graph=True`` rule is
    minigrad/higher_order_rules.py's ``_leaky_relu`` (x gets zeros: it only picks the piece). Same shape."""

    name = "leaky_relu"

    def __init__(self, negative_slope: float) -> None:
        self.negative_slope = negative_slope

    def forward(self, x: Any) -> Any:
        if x.dtype == numpy.float16:
            return self._half_forward(x)
        self.saved = (x,)
        return self.xp.where(x > 0, x, x * self.negative_slope)

    def backward(self, gy: Any) -> Any:
        (x,) = self.saved   # PyTorch's leaky_relu_backward iterates over (x, grad): x's layout first
        if x.dtype == numpy.float16:
            return self._half_backward(gy)
        return gradient_layout(self.xp, self.xp.where(x > 0, gy, gy * self.negative_slope), x, gy)


def rrelu(input: Tensor, lower: float = 1.0 / 8, upper: float = 1.0 / 3, training: bool = False,  # noqa: A002
          inplace: bool = False) -> Tensor:
    """Randomized leaky ReLU, as ``torch.nn.functional.rrelu``: x for x > 0, a·x otherwise. Training, each
    element draws its own slope a ~ U(lower, upper) (from the engine's generator, x = 0 included) and its
    gradient is that a; otherwise a = (lower + upper)/2, a leaky ReLU. lower <= upper. Any shape."""
    if inplace is not False and flag(inplace, "rrelu", "inplace"):
        return written_in_place("rrelu_", input, lambda x: rrelu(x, lower, upper, training))
    name = "rrelu"
    x = _floating(input, name)
    lower, upper = _number(lower, name, "lower", "f"), _number(upper, name, "upper", "f")
    for what, bound in (("lower", lower), ("upper", upper)):
        if not math.isfinite(bound):   # PyTorch's check (a NaN slope was a silent NaN output)
            raise InputShapeError(f"{name}: {what} bound must be finite, got {bound}")
    if lower > upper:
        raise InputShapeError(f"{name}: lower bound {lower} should be less than or equal to the upper bound {upper}")
    # PyTorch's rrelu allocates its result (and noise) C-contiguous; evaluating, it is leaky_relu's, whose backward
    # reads the input as it is (a transposed x gets a transposed gradient)
    if not flag(training, name, "training"):
        return LeakyRelu((lower + upper) / 2)(x).contiguous()
    x = x.contiguous()
    _refuse_cpu_half(x, name, "rrelu_with_noise_out_cpu")   # the training slopes, as PyTorch's CPU kernel
    slopes = mg.rand(x.shape, dtype=x.dtype, device=x.device) * (upper - lower) + lower
    return _reads_input(mg.where(x > 0, x, x * slopes))

def hardtanh(input: Tensor, min_val: float = -1.0, max_val: float = 1.0,  # noqa: A002
             inplace: bool = False) -> Tensor:
    """x clamped to [min_val, max_val]; the gradient is 0 at the bounds themselves, as PyTorch's. Any shape."""
    if inplace is not False and flag(inplace, "hardtanh", "inplace"):
        return written_in_place("hardtanh_", input, lambda x: hardtanh(x, min_val, max_val))
    x = _not_complex(_tensor(input, "hardtanh"), "hardtanh")   # a complex number has no order to clamp in
    if x.dtype.kind == "b":
        raise InputDtypeError(f"hardtanh: Bool inputs not supported for hardtanh (shape {x.shape}), as in PyTorch")
    low, high = _number(min_val, "hardtanh", "min_val"), _number(max_val, "hardtanh", "max_val")
    if low > high:
        raise ValueError(f"hardtanh: min_val cannot be greater than max_val, got min_val={low}, max_val={high}")
    if x.dtype.kind == "u" and min(low, high) < 0:   # NumPy would wrap the limit (-1 is 255 in uint8)
        raise InputShapeError(f"hardtanh: cannot do hardtanh on an unsigned type ({x.dtype}) with negative limits "
                              f"(min_val={low}, max_val={high}), as in PyTorch")
    low, high = _in_dtype(x, low, "min_val", x.dtype, "hardtanh"), _in_dtype(x, high, "max_val", x.dtype, "hardtanh")
    out = HardPiecewise("hardtanh", low, high)(x)
    if low != low or high != high:   # a NaN bound makes every value NaN, as PyTorch's clamp (the gradient is kept)
        out = out + float("nan")
    return _reads_input(out)


def relu6(input: Tensor, inplace: bool = False) -> Tensor:  # noqa: A002
    """min(max(x, 0), 6): ``hardtanh(x, 0, 6)``, gradient 0 at 0 and at 6. Any shape."""
    if inplace is not False and flag(inplace, "relu6", "inplace"):
        return written_in_place("hardtanh_", input, relu6)
    return hardtanh(_tensor(input, "relu6"), 0, 6)


def hardsigmoid(input: Tensor, inplace: bool = False) -> Tensor:  # noqa: A002
    """0 for x <= -3, 1 for x >= 3, x/6 + 1/2 between (gradient 1/6 strictly inside only; at NaN 0, as PyTorch's:
    the middle piece reads x through a clamp, whose gradient at NaN is 0). Any shape."""
    if inplace is not False and flag(inplace, "hardsigmoid", "inplace"):
        return written_in_place("hardsigmoid_", input, hardsigmoid)
    return HardPiecewise("hardsigmoid", -3.0, 3.0)(_floating(input, "hardsigmoid"))


def hardswish(input: Tensor, inplace: bool = False) -> Tensor:  # noqa: A002
    """x · hardsigmoid(x): 0 for x <= -3, x for x >= 3, x(x + 3)/6 between (gradient x/3 + 1/2 there; 0 at -3
    and 1 at 3, as PyTorch's). NaN at -inf (PyTorch's x · 0); the middle piece reads x clamped to [-3, 3], so an
    infinite x sends no inf · 0 = NaN back through it. Any shape."""
    if inplace is not False and flag(inplace, "hardswish", "inplace"):
        return written_in_place("hardswish_", input, hardswish)
    return HardPiecewise("hardswish", -3.0, 3.0)(_floating(input, "hardswish"))


class HardPiecewise(mg.Function):
    """One op of a few array passes for ``kind``: "hardtanh" (x clamped to [low, high]; relu6 too),
    "hardsigmoid" ((clamp(x, -3, 3) + 3) / 6) or "hardswish" (0 · x for x <= -3, x for x >= 3, m (m + 3) / 6
    between, m = clamp(x, -3, 3)). Gradients as PyTorch's: 0 at the kinks themselves (hardswish: 1 at 3); at NaN
    1 (hardtanh, hardswish) or 0 (hardsigmoid). At a bound itself the value is x (its sign of zero, as PyTorch's
    clamp: relu6(-0.0) is -0.0). Its ``create_graph=True`` rule is minigrad/higher_order_rules.py's
    ``_hard_piecewise``. Same shape in and out."""

    def __init__(self, kind: str, low: Any, high: Any) -> None:
        self.name, self.low, self.high = kind, low, high

    def clamped(self, x: Any) -> Any:
        """x clamped to [low, high] in x's dtype, NaN kept, x itself at a bound (the sign of a zero)."""
        xp = self.xp
        low, high = xp.asarray(self.low, dtype=x.dtype), xp.asarray(self.high, dtype=x.dtype)
        if xp is numpy:   # one pass; CuPy's clip may take CUDA's fmin/fmax, which drop a NaN
            return numpy.clip(x, low, high)
        return xp.where(x > high, high, xp.where(x < low, low, x))

    def forward(self, x: Any) -> Any:
        self.saved = (x,)
        xp = self.xp
        if self.name == "hardtanh":
            return self.clamped(x)
        if self.name == "hardsigmoid":
            return xp.asarray((self.clamped(x) + 3) / 6)
        with mg.errstate(xp, invalid="ignore"):   # -inf · 0 is NaN, as PyTorch's
            y = kernels.chunked(xp, self._hardswish, x)
        if y.strides != x.strides and not x.flags.c_contiguous:
            # the bit-mask select and the chunks write C order: PyTorch's result keeps a permuted x's layout
            y = lay_out_as_torch(xp, y, [tuple(s // x.itemsize for s in x.strides)])
        return y

    def _hardswish(self, x: Any) -> Any:
        """hardswish of one chunk: x from 3 on, else m (m + 3) / 6 + x · 0, m = x clamped to [-3, 3]. x <= -3:
        m (m + 3) / 6 is -0.0, which + x · 0 makes x · 0 (-0.0, or NaN at -inf); + x · 0 keeps the middle piece's
        values, its zeros' signs included (x · 0 is -0.0 wherever that piece is -0.0)."""
        y = self.clamped(x)
        middle = y + 3
        middle *= y
        middle /= 6
        middle += x * 0.0
        return kernels.select(self.xp, x < 3, middle, x)

    def backward(self, gy: Any) -> Any:
        (x,) = self.saved
        xp, zero = self.xp, gy.dtype.type(0)
        # PyTorch's hardtanh/hardsigmoid/hardswish_backward iterate over (grad, x): the gradient's layout first
        if self.name == "hardtanh":
            return gradient_layout(xp, xp.where((x <= self.low) | (x >= self.high), zero, gy), gy, x)
        if self.name == "hardsigmoid":
            return gradient_layout(xp, xp.where((x > -3) & (x < 3), gy / 6, zero), gy, x)
        with mg.errstate(xp, invalid="ignore"):
            return gradient_layout(xp, kernels.chunked(xp, self._hardswish_backward, x, gy), gy, x)

    def _hardswish_backward(self, x: Any, gy: Any) -> Any:
        """hardswish's g · dy/dx for one chunk: (g/6)(m + 3) + (g/6) m between -3 and 3 (m = x clamped there), g · 0
        at and below -3 (NaN for an infinite g), g from 3 on and at NaN; + 0: a gradient of -0.0 comes out as +0.0,
        as the sum over the pieces gave. Chosen by bit masks (NumPy's where over a random mask is 3× slower)."""
        xp = self.xp
        y, part = self.clamped(x), gy / 6
        inside = part * (y + 3)
        inside += part * y
        low = gy * 0.0
        outside = kernels.select(xp, x <= -3, low, gy)
        out = kernels.select(xp, (x > -3) & (x < 3), inside, outside)
        return out + gy.dtype.type(0)


def hardshrink(input: Tensor, lambd: float = 0.5) -> Tensor:  # noqa: A002
    """0 where |x| <= λ, else x. Any shape."""
    x = _floating(input, "hardshrink")
    return _shrink(mg.where(x.abs() <= _number(lambd, "hardshrink", "lambd"), 0.0, x))


def softshrink(input: Tensor, lambd: float = 0.5) -> Tensor:  # noqa: A002
    """0 where |x| <= λ, else x - λ·sign(x) (shrunk towards 0); λ >= 0. Any shape."""
    x, lambd = _floating(input, "softshrink"), _number(lambd, "softshrink", "lambd")
    if lambd < 0:
        raise InputShapeError(f"softshrink: lambd must be non-negative, got {lambd}")
    limit = float(mg.finfo(x.dtype).max)
    if not lambd <= limit:   # NaN and inf too, as PyTorch's
        raise InputShapeError(f"softshrink: lambda must be in range [0, {limit:g}] for input dtype {x.dtype}, but "
                              f"found {lambd}")
    return _shrink(mg.where(x.abs() <= lambd, 0.0, x - lambd * x.sign()))


def _no_bool(x: Any, name: str) -> Tensor:
    """``x`` (a Tensor) unless it is bool, which PyTorch refuses here (NotImplementedError)."""
    x = _tensor(x, name)
    if x.dtype.kind == "b":
        raise _dtype_error(x.dtype, f"{name}: not implemented for bool (input of shape {x.shape}), as in PyTorch")
    return x


def tanhshrink(input: Tensor) -> Tensor:  # noqa: A002
    """x - tanh(x). Any shape (integers become float32; a bool is refused, as PyTorch's subtraction does)."""
    x = _promoted(_no_bool(input, "tanhshrink"), "tanhshrink")
    return x - x.tanh()


def threshold(input: Tensor, threshold: float, value: float, inplace: bool = False) -> Tensor:  # noqa: A002
    """x where x > threshold, else ``value`` (gradient 0 there, the threshold included). Any shape."""
    if inplace is not False and flag(inplace, "threshold", "inplace"):
        return written_in_place("threshold_", input, lambda x: _thresholded(x, threshold, value))
    return _thresholded(input, threshold, value)


def _thresholded(input: Any, limit: Any, value: Any) -> Tensor:  # noqa: A002
    x = _not_complex(_no_bool(input, "threshold"), "threshold")   # a complex number has no order
    half = x.dtype == mg.float16   # PyTorch compares float16 with a float32 threshold
    limit = _in_dtype(x, limit, "threshold", mg.float32 if half else x.dtype, "threshold")
    value = _in_dtype(x, value, "value", x.dtype, "threshold")
    return _reads_input(mg.where((x.float() if half else x) <= limit, value, x))


def _in_dtype(x: Tensor, number: Any, what: str, dtype: Any, name: str) -> Any:
    """``name``'s (threshold's, hardtanh's) ``number`` converted into ``dtype``, as PyTorch converts it: 255.9 or
    300 into uint8, NaN into an int dtype or 1e5 into float16 raise RuntimeError (NumPy would wrap them); a float
    into an int dtype truncates; a bool, an int (kept exact) or a complex with no imaginary part converts too."""
    if type(number) not in (bool, int, complex):
        number = _number(number, name, what)
    try:
        return mg.full((), number, dtype=dtype).item()
    except RuntimeError:
        raise RuntimeError(f"{name}: {what} {number!r} cannot be converted to type {dtype} without overflow "
                           f"(input {x.dtype} of shape {x.shape}), as in PyTorch") from None


def silu(input: Tensor, inplace: bool = False) -> Tensor:  # noqa: A002
    """SiLU (swish): x · σ(x). Any shape. Complex x: x / (1 + e⁻ˣ), PyTorch's, without a gradient (PyTorch
    refuses to record it: NotImplementedError, a RuntimeError, where x requires grad)."""
    if inplace is not False and flag(inplace, "silu", "inplace"):
        return written_in_place("silu_", input, silu)
    x = _tensor(input, "silu")
    if x.dtype.kind == "c":
        if x.requires_grad and mg.is_grad_enabled():
            raise NotImplementedError(f"silu: no automatic differentiation for complex outputs (input {x.dtype}, "
                                      f"shape {x.shape}), as in PyTorch; run it under mg.no_grad()")
        return x / (1 + mg.exp(-x))
    return SiLU()(_floating(x, "silu"))


def _sigmoid_of(xp: Any, x: Any) -> Any:
    """σ(x) = 1 / (1 + e⁻ˣ) of an array, as the ``sigmoid`` op computes it (e⁻ˣ = inf gives 0, quietly)."""
    with mg.errstate(xp, over="ignore"):
        return xp.asarray(1 / (xp.exp(-x) + 1))   # asarray: NumPy gives a scalar for 0-d input


class SiLU(mg.Function):
    """x · σ(x) as one op, so that its backward is PyTorch's g · σ · (1 + x · (1 - σ)): the chain rule through
    the product would form g · x, which overflows to inf (inf · 0 = NaN) where PyTorch's stays finite. Its
    ``create_graph=True`` rule is minigrad/higher_order_rules.py's ``_silu``. Same shape in and out."""

    name = "silu"

    def forward(self, x: Any) -> Any:
        self.saved = (x,)   # σ(x) is computed again by backward: the node keeps x only, as PyTorch's SiluBackward0
        return x * _sigmoid_of(self.xp, x)

    def backward(self, gy: Any) -> Any:
        (x,) = self.saved
        s = _sigmoid_of(self.xp, x)
        return gradient_layout(self.xp, gy * s * (1 + x * (1 - s)), gy, x)   # silu_backward: over (grad, x)


_SQRT_2PI = math.sqrt(2 * math.pi)
_TANH_SCALE = math.sqrt(2 / math.pi)   # gelu's tanh form: u = √(2/π) (x + 0.044715 x³)
_CUBIC = 0.044715


class Gelu(mg.Function):
    """GELU x · Φ(x) as one op whose backward is PyTorch's g · (Φ + x · φ(x)), φ the standard normal density: the
    node keeps x (the chain of products and erfc it was kept four arrays of x's size; PyTorch's GeluBackward0 keeps
    x). ``"tanh"``: Φ(x) ≈ σ(2u), u = √(2/π)(x + 0.044715 x³), computed from x again by backward. ``"none"``: the
    exact Φ(x) = ½ erfc(-x/√2) (the engine's erfc, exact far into the tails) comes as a second input made without
    a graph, and is kept beside x. Its ``create_graph=True`` rule is minigrad/higher_order_rules.py's ``_gelu``.
    Same shape in and out."""

    name = "gelu"

    def __init__(self, approximate: str) -> None:
        self.approximate = approximate

    def forward(self, x: Any, cdf: Any = None) -> Any:
        if cdf is None:   # the tanh form
            self.saved = (x,)
            return x * _tanh_cdf(self.xp, x)
        self.saved = (x, cdf)
        return x * cdf

    def backward(self, gy: Any) -> Any:
        if self.approximate == "tanh":
            (x,) = self.saved
            s = _tanh_cdf(self.xp, x)
            gx = gy * (s + x * (2 * s * (1 - s)) * (_TANH_SCALE * (1 + 3 * _CUBIC * (x * x))))
            return gradient_layout(self.xp, gx, gy, x)   # gelu_backward: a TensorIterator over (grad, x)
        x, cdf = self.saved
        return gradient_layout(self.xp, gy * (cdf + x * (self.xp.exp(-0.5 * (x * x)) / _SQRT_2PI)), gy, x), None


def _tanh_cdf(xp: Any, x: Any) -> Any:
    """σ(2u), u = √(2/π)(x + 0.044715 x³): ½(1 + tanh u) without 1 + tanh cancelling for x < 0 (gelu's tanh Φ)."""
    return _sigmoid_of(xp, 2 * (_TANH_SCALE * (x + _CUBIC * (x * x * x))))


def _softplus(x: Tensor) -> Tensor:
    """log(1 + eˣ), stable for any x: ``logaddexp(x, 0)`` = max(x, 0) + log1p(e^{-|x|}), gradient σ(x)."""
    return mg.logaddexp(x, 0.0)


def mish(input: Tensor, inplace: bool = False) -> Tensor:  # noqa: A002
    """x · tanh(softplus(x)). Any shape."""
    if inplace is not False and flag(inplace, "mish", "inplace"):
        return written_in_place("mish_", input, mish)
    return Mish()(_floating(input, "mish"))


class Mish(mg.Function):
    """x · tanh(softplus(x)) as one op, so that its backward is PyTorch's g · (t + x · σ(x) · (1 - t²)),
    t = tanh(softplus(x)), which stays finite where the chain rule's g · x overflows. Its ``create_graph=True``
    rule is minigrad/higher_order_rules.py's ``_mish``. Same shape in and out."""

    name = "mish"

    def forward(self, x: Any) -> Any:
        self.saved = (x,)   # t is computed again by backward: the node keeps x only, as PyTorch's MishBackward0
        return x * _tanh_softplus(self.xp, x)

    def backward(self, gy: Any) -> Any:
        (x,) = self.saved
        t = _tanh_softplus(self.xp, x)
        return gradient_layout(self.xp, gy * (t + x * _sigmoid_of(self.xp, x) * (1 - t * t)), gy, x)   # (grad, x)


def _tanh_softplus(xp: Any, x: Any) -> Any:
    """tanh(softplus(x)) of an array, softplus(x) = log(1 + eˣ) computed stably (Mish's t)."""
    return xp.asarray(xp.tanh(xp.logaddexp(x, 0)))


def softplus(input: Tensor, beta: float = 1.0, threshold: float = 20.0) -> Tensor:  # noqa: A002
    """log(1 + e^{βx}) / β, and x itself where βx > threshold (as PyTorch). Any shape.

    Stable for any x (logaddexp(βx, 0) = log1p(e^{-|βx|}) + max(βx, 0)), so it stays finite even with a huge threshold,
    where PyTorch's log1p(exp(βx)) overflows to inf. β = 0 or ±inf: PyTorch's values (±inf where β = ±0)
    and its gradient σ(βx) (see :class:`_DegenerateSoftplus`).
    """
    x, beta = _floating(input, "softplus"), _number(beta, "softplus", "beta")
    threshold = _number(threshold, "softplus", "threshold")
    if beta == 0 or math.isinf(beta):   # (float16: in float32, rounded once, as PyTorch's kernel)
        if x.dtype == mg.float16:
            return _DegenerateSoftplus.apply(x.float(), beta, threshold).half()
        return _DegenerateSoftplus.apply(x, beta, threshold)
    return Softplus(beta, threshold)(x)


class Softplus(_Float32Inside, mg.Function):
    """softplus as one op (PyTorch's SoftplusBackward0, which keeps x): log(1 + e^{βx}) / β, computed as
    logaddexp(βx, 0) / β, and x where βx > threshold. Backward: g where βx > threshold, else g · σ(βx). Its
    ``create_graph=True`` rule is minigrad/higher_order_rules.py's ``_softplus``. Same shape in and out."""

    name = "softplus"

    def __init__(self, beta: float, threshold: float) -> None:
        self.beta, self.threshold = beta, threshold

    def forward(self, x: Any) -> Any:
        if x.dtype == numpy.float16:
            return self._half_forward(x)
        self.saved = (x,)
        xp = self.xp
        scaled = x * self.beta
        return xp.where(scaled > self.threshold, x, xp.logaddexp(scaled, x.dtype.type(0)) / self.beta)

    def backward(self, gy: Any) -> Any:
        (x,) = self.saved
        if x.dtype == numpy.float16:
            return self._half_backward(gy)
        scaled = x * self.beta   # softplus_backward: a TensorIterator over (grad, x)
        return gradient_layout(self.xp, self.xp.where(scaled > self.threshold, gy, gy * _sigmoid_of(self.xp, scaled)),
                               gy, x)


class _DegenerateSoftplus(mg.autograd.Function):
    """Softplus with β = 0 or ±inf, as PyTorch's kernels: value log1p(e^{βx}) / β (x where βx > threshold) and
    gradient g · z / (z + 1), z = e^{βx}, written out: the chain rule's β / β would be 0/0 or inf/inf = NaN.
    The infinities and NaNs are the results, so NumPy's warnings about them are off."""

    @staticmethod
    def forward(ctx: Any, x: Tensor, beta: float, threshold: float) -> Tensor:
        ctx.save_for_backward(x)
        ctx.beta, ctx.threshold = beta, threshold
        with numpy.errstate(all="ignore"):
            scaled = x * beta
            return mg.where(scaled > threshold, x, mg.log1p(mg.exp(scaled)) / beta)

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> tuple:
        (x,) = ctx.saved_tensors
        with numpy.errstate(all="ignore"):
            scaled = x * ctx.beta
            z = mg.exp(scaled)
            return mg.where(scaled > ctx.threshold, grad, grad * z / (z + 1)), None, None


def softsign(input: Tensor) -> Tensor:  # noqa: A002
    """x / (1 + |x|). Any shape (integers become float32; a bool is refused, as PyTorch's abs does)."""
    x = _promoted(_no_bool(input, "softsign"), "softsign")
    return x / (x.abs() + 1)


def logsigmoid(input: Tensor) -> Tensor:  # noqa: A002
    """log σ(x) = -softplus(-x), stable in both tails (logsigmoid(-1000) = -1000). Any shape. 0 - softplus, not a
    negation: where e⁻ˣ underflows (x = 800, inf) the result is 0.0, as PyTorch's, not -0.0."""
    # C-contiguous first: PyTorch's kernel allocates its result so, whatever the input's layout
    return LogSigmoid()(_floating(input, "logsigmoid").contiguous())


class LogSigmoid(_Float32Inside, mg.Function):
    """log σ(x) = 0 - log(1 + e⁻ˣ) (logaddexp(-x, 0): stable in both tails) as one op, PyTorch's
    LogSigmoidBackward0 (it keeps x): backward g · σ(-x). Its ``create_graph=True`` rule is
    minigrad/higher_order_rules.py's ``_log_sigmoid``. Same shape in and out."""

    name = "log_sigmoid"

    def forward(self, x: Any) -> Any:
        if x.dtype == numpy.float16:
            return self._half_forward(x)
        self.saved = (x,)
        return self.xp.asarray(0.0 - self.xp.logaddexp(-x, x.dtype.type(0)))

    def backward(self, gy: Any) -> Any:
        (x,) = self.saved
        if x.dtype == numpy.float16:
            return self._half_backward(gy)
        return gy * _sigmoid_of(self.xp, -x)


class GluSizeError(ValueError, RuntimeError):
    """glu of a 0-d tensor or along a dim of odd size: ValueError (as minigrad raised first) and PyTorch's
    RuntimeError, so ``except`` clauses written for either catch it."""


def glu(input: Tensor, dim: int = -1) -> Tensor:  # noqa: A002
    """Gated linear unit: a · σ(b), a and b the two halves of ``input`` along ``dim``.

    input: (*, 2n, *) → (*, n, *), the size along ``dim`` halved (it must be even).
    """
    x = _floating(input, "glu")
    if x.ndim == 0:
        raise GluSizeError("glu: does not support a 0-d tensor (the dimension to halve must have an even size)")
    axis = _dim(dim, x.ndim, "glu")
    if x.shape[axis] % 2:
        raise GluSizeError(f"glu: halving dimension must be even, but dimension {axis} of shape {x.shape} "
                           f"has size {x.shape[axis]}")
    return Glu(axis)(x)


class Glu(_Float32Inside, mg.Function):
    """a · σ(b), a and b the halves of x along ``axis``, as one op (PyTorch's GluBackward0, which keeps x):
    backward g · σ(b) for a and g · a · σ(b) · (1 - σ(b)) for b, joined along ``axis``. Its ``create_graph=True``
    rule is minigrad/higher_order_rules.py's ``_glu``."""

    name = "glu"

    def __init__(self, axis: int) -> None:
        self.axis = axis

    def halves(self, x: Any) -> tuple:
        """(a, b): views of x's two halves along ``axis``."""
        half = x.shape[self.axis] // 2
        before = (slice(None),) * self.axis
        return x[(*before, slice(0, half))], x[(*before, slice(half, None))]

    def forward(self, x: Any) -> Any:
        if x.dtype == numpy.float16:
            return self._half_forward(x)
        self.saved = (x,)
        a, b = self.halves(x)
        return a * _sigmoid_of(self.xp, b)

    def backward(self, gy: Any) -> Any:
        (x,) = self.saved
        if x.dtype == numpy.float16:
            return self._half_backward(gy)
        a, b = self.halves(x)
        s = _sigmoid_of(self.xp, b)
        return self.xp.concatenate([gy * s, gy * a * s * (1 - s)], axis=self.axis)


def softmin(input: Tensor, dim: int | None = None, _stacklevel: int = 3, dtype: Any = None) -> Tensor:  # noqa: A002
    """softmax(-x) along ``dim``: every slice along ``dim`` sums to 1, the smallest entry weighs most.

    ``dim=None`` takes PyTorch's implicit (deprecated) choice, with a warning; ``dtype`` casts the
    input first. Any shape in, the same shape out.
    """
    x = _tensor(input, "softmin")
    if dim is None:
        dim = _implicit_dim("softmin", x.ndim, _stacklevel)
    x = -_no_bool(x, "softmin")   # negated in x's dtype first, as PyTorch's (-x).softmax(dim, dtype)
    return mg.softmax(x if dtype is None else x.astype(dtype), axis=dim)


def prelu(input: Tensor, weight: Tensor) -> Tensor:  # noqa: A002
    """x for x > 0, weight · x otherwise, with one learned slope per channel (dim 1), as PyTorch.

    input: (N, C, *), or any shape when ``weight`` has one element; weight: (C,) or (1,) (or 0-d).
    An input of fewer than 2 dims has 1 channel.
    """
    x, weight = _floating(input, "prelu"), _tensor(weight, "prelu", "weight")
    if weight.dtype != x.dtype:   # RuntimeError, as PyTorch's ("Type promoting not supported")
        raise InputDtypeError(f"prelu: input ({x.dtype}) and weight ({weight.dtype}) must have the same dtype")
    if weight.ndim > 1:
        raise InputShapeError(f"prelu: weight must be a scalar or 1-D, got shape {weight.shape}")
    count = weight.numel()
    channels = x.shape[1] if x.ndim > 1 else 1
    if count != 1 and count != channels:
        raise InputShapeError(f"prelu: weight has {count} slopes but the input of shape {x.shape} has {channels} "
                              f"channel{'s' if channels != 1 else ''} (dim 1)")
    if weight.ndim != x.ndim:   # (C,) → (1, C, 1, …): one slope per channel
        weight = weight.reshape([count if axis == 1 else 1 for axis in range(x.ndim)])
    return PreluKernel()(x, weight)


def _sum_to(xp: Any, g: Any, shape: tuple) -> Any:
    """``g`` summed down to ``shape`` (broadcasting's inverse; the same number of dims or fewer), float16 summed in
    float32 and rounded once, as PyTorch's sum."""
    lead = g.ndim - len(shape)
    axes = tuple(range(lead)) + tuple(lead + i for i, n in enumerate(shape) if n == 1 and g.shape[lead + i] != 1)
    if not axes:
        return g
    wide = numpy.float32 if g.dtype == numpy.float16 else None
    return g.sum(axis=axes, dtype=wide).astype(g.dtype, copy=False).reshape(shape)


class PreluKernel(mg.Function):
    """:func:`prelu` as one op, PyTorch's ``_prelu_kernel`` (its node PreluKernelBackward0, edges (x, the weight as
    viewed to broadcast)): x for x > 0, else weight · x. Backward, PyTorch's ``_prelu_kernel_backward`` (the node
    keeps x and the weight): x gets g for x > 0, else weight · g; the weight Σ x · g over x ≤ 0 (an infinite x > 0
    sends it no inf · 0). ``create_graph=True`` runs :class:`PreluKernelBackward` as an op, whose own backward is
    PyTorch's double backward."""

    name = "prelu_kernel"

    def forward(self, x: Any, weight: Any) -> Any:
        self.saved = (x, weight)
        return self.xp.where(x > 0, x, weight * x)

    def backward(self, gy: Any) -> tuple:
        x, weight = self.saved
        xp, positive = self.xp, x > 0
        gx = gradient_layout(xp, xp.where(positive, gy, weight * gy), x, gy) if self.needs_grad[0] else None
        gw = _sum_to(xp, xp.where(positive, 0, x * gy), weight.shape) if self.needs_grad[1] else None
        return gx, gw

    @staticmethod
    def backward_op() -> mg.Function:
        """The op computing :meth:`backward` on the graph (the create_graph rule reads it: minigrad imports no nn)."""
        return PreluKernelBackward()


class PreluKernelBackward(mg.Function):
    """:class:`PreluKernel`'s backward as an op of (g, x, weight), PyTorch's ``_prelu_kernel_backward`` (its node
    PreluKernelBackwardBackward0): outputs x's gradient where(x > 0, g, weight · g) and the weight's, unsummed
    (x's shape), where(x > 0, 0, x · g). Its backward is PyTorch's double backward, which reads x ≥ 0 where the
    forward reads x > 0 (at x = 0 the gradient's derivative with respect to g is 1, with respect to the weight
    0): with gg0, gg1 the gradients of the two outputs, g gets where(x ≥ 0, gg0, gg0 · weight + gg1 · x), x gets
    where(x ≥ 0, 0, g · gg1), the weight where(x ≥ 0, 0, g · gg0) summed to its shape. Its create_graph rule
    (minigrad/higher_order_rules.py's ``_prelu_kernel_backward``) composes the same formula of ops."""

    name = "prelu_kernel_backward"
    multiple = True
    n_outputs = 2

    def forward(self, g: Any, x: Any, weight: Any) -> tuple:
        self.saved = (g, x, weight)
        xp, positive = self.xp, x > 0
        return xp.where(positive, g, weight * g), xp.where(positive, 0, x * g)

    def backward(self, gg0: Any, gg1: Any) -> tuple:
        g, x, weight = self.saved
        xp, kept = self.xp, x >= 0
        zero = xp.zeros((), dtype=x.dtype)
        dg = dx = dweight = None
        if self.needs_grad[0]:
            inner = 0 if gg0 is None else gg0 * weight
            inner = inner if gg1 is None else inner + gg1 * x
            dg = _sum_to(xp, xp.broadcast_to(xp.where(kept, zero if gg0 is None else gg0, inner), x.shape), g.shape)
        if self.needs_grad[1] and gg1 is not None:
            dx = xp.where(kept, zero, g * gg1)
        if self.needs_grad[2] and gg0 is not None:
            dweight = _sum_to(xp, xp.where(kept, zero, g * gg0), weight.shape)
        if dx is None and self.needs_grad[1]:
            dx = xp.zeros(x.shape, dtype=x.dtype)
        if dweight is None and self.needs_grad[2]:
            dweight = xp.zeros(weight.shape, dtype=weight.dtype)
        return dg, dx, dweight
