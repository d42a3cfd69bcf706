"""Fake quantisation, as quantisation-aware training uses it: ``torch.fake_quantize_per_tensor_affine`` (a float
scale and an int zero point, or one-element tensors) and ``torch.fake_quantize_per_channel_affine`` (a float32 scale
and an int32/float zero point per slice along ``axis``). The values are rounded to the integer grid and back in the
input's dtype; the gradient is PyTorch's straight-through estimator.

Quantised tensors themselves (``torch.quantize_per_tensor``, ``torch.qint8`` …) are out of scope: minigrad's
``__getattr__`` refuses those names with an AttributeError that says so (``NO_QUANTIZED``).
"""

from __future__ import annotations

import math
from typing import Any

from .. import backend
from ..autograd import Function
from ..tensor import Tensor
from ._util import int_arg, number, tensor_arg

__all__ = ["fake_quantize_per_channel_affine", "fake_quantize_per_tensor_affine"]

NO_QUANTIZED = ("minigrad has no quantised tensors or dtypes; quantisation-aware training runs with "
                "mg.fake_quantize_per_tensor_affine / mg.fake_quantize_per_channel_affine (float tensors on the "
                "integer grid)")

_FLOATS = ("float16", "float32", "float64")


class FakeQuantize(Function):
    """x: any shape; scale, zero_point: 0-d (per tensor) or (x.shape[axis],) (per channel) ->
    q = round_half_even(x * (1 / scale)) + zero_point, y = (clamp(q, quant_min, quant_max) - zero_point) * scale.

    As PyTorch's CPU kernels: the scale is float32 (1 / scale too), x * (1 / scale) is taken in float32
    (float64 for float64 x), the last product in float32 per tensor and in float64 per channel, then cast to x's
    dtype; a float zero point (per channel) is added before rounding. Gradient (straight-through): gy where
    quant_min <= q <= quant_max (q rounded, unclamped), else 0; none to scale or zero_point (PyTorch's op is not
    differentiable in them either).
    """

    name = "fake_quantize"

    def __init__(self, op: str, quant_min: int, quant_max: int, axis: int | None) -> None:
        self.op, self.quant_min, self.quant_max, self.axis = op, quant_min, quant_max, axis

    def forward(self, x: Any, scale: Any, zero_point: Any) -> Any:
        xp = self.xp
        shape = () if self.axis is None else (-1,) + (1,) * (x.ndim - self.axis - 1)
        scale = scale.astype("float32").reshape(shape)
        float_zero_point = self.axis is not None and zero_point.dtype.kind == "f"
        zero_point = zero_point.reshape(shape) if float_zero_point else zero_point.astype("int64").reshape(shape)
        if self.axis is not None and zero_point.size and (
                bool((zero_point < self.quant_min).any()) or bool((zero_point > self.quant_max).any())):
            raise RuntimeError(f"{self.op}: `zero_point` must be between `quant_min` and `quant_max`.")
        work = "float64" if x.dtype == "float64" else "float32"
        scaled = x.astype(work, copy=False) * (xp.float32(1) / scale).astype(work)
        if float_zero_point:
            q = xp.rint(zero_point.astype(work) + scaled).astype("float64")
        else:
            q = xp.rint(scaled).astype("float64") + zero_point
        keep = (q >= self.quant_min) & (q <= self.quant_max)
        self.saved = (keep,)
        steps = xp.clip(q, self.quant_min, self.quant_max) - zero_point
        # PyTorch's per-tensor kernel multiplies in float32 (for float64 x too), its per-channel one in float64
        product = "float32" if self.axis is None else "float64"
        return (steps.astype(product) * scale.astype(product)).astype(x.dtype)

    def backward(self, gy: Any) -> tuple:
        keep, = self.saved
        return self.xp.where(keep, gy, self.xp.zeros((), dtype=gy.dtype)), None, None


def _checked_input(input: Any, op: str) -> Tensor:  # noqa: A002 - PyTorch's name
    x = tensor_arg(input, op)
    if str(x.dtype) not in _FLOATS:
        raise NotImplementedError(f"{op}: not implemented for {x.dtype} input (floating point only: "
                                  f"{', '.join(_FLOATS)})")
    return x


def _checked_range(quant_min: Any, quant_max: Any, op: str) -> tuple:
    quant_min, quant_max = int_arg(quant_min, op, "quant_min"), int_arg(quant_max, op, "quant_max")
    if quant_min > quant_max:
        raise RuntimeError(f"{op}: `quant_min` ({quant_min}) should be less than or equal to `quant_max` "
                           f"({quant_max}).")
    return quant_min, quant_max


def _not_differentiable(qparams: dict, op: str) -> None:
    for what, value in qparams.items():
        if isinstance(value, Tensor) and value.requires_grad:
            raise RuntimeError(f"{op} is not differentiable with respect to argument '{what}'. This input cannot "
                               f"have requires_grad True.")


def fake_quantize_per_tensor_affine(input: Tensor, scale: Any, zero_point: Any, quant_min: int,  # noqa: A002
                                    quant_max: int) -> Tensor:
    """torch.fake_quantize_per_tensor_affine: x (any shape, floating) -> the same shape and dtype,
    ``(clamp(round(x / scale) + zero_point, quant_min, quant_max) - zero_point) * scale`` (see FakeQuantize).

    ``scale`` a float and ``zero_point`` an int (which must lie in [quant_min, quant_max], as PyTorch checks),
    or either as a one-element tensor (PyTorch's tensor-qparams overload: read as float32 / truncated to int).
    """
    op = "fake_quantize_per_tensor_affine"
    x = _checked_input(input, op)
    quant_min, quant_max = _checked_range(quant_min, quant_max, op)
    _not_differentiable({"scale": scale, "zero_point": zero_point}, op)
    xp = backend.array_module(x.data)
    if isinstance(scale, Tensor) != isinstance(zero_point, Tensor):   # PyTorch's number overload: a 0-d tensor
        for what, value in (("scale", scale), ("zero_point", zero_point)):   # is a number there, one with dims
            if isinstance(value, Tensor) and value.ndim:                     # its TypeError (no overload mixes them)
                raise TypeError(f"{op}: {what} must be a number, or scale and zero_point both tensors (got a tensor "
                                f"of shape {tuple(value.shape)} beside a number, as PyTorch refuses)")
        scale, zero_point = (v.item() if isinstance(v, Tensor) else v for v in (scale, zero_point))
    if isinstance(scale, Tensor) or isinstance(zero_point, Tensor):
        qparams = []
        for what, value in (("scale", scale), ("zero_point", zero_point)):
            if isinstance(value, Tensor):
                if value.numel() != 1:
                    raise RuntimeError(f"{op}: {what} must have one element, got a tensor of shape "
                                       f"{tuple(value.shape)}")
                qparams.append(value.reshape(()))
            else:
                qparams.append(xp.asarray(number(value, op, what)))
        return FakeQuantize(op, quant_min, quant_max, None)(x, *qparams)
    scale = float(number(scale, op, "scale"))
    zero_point = int_arg(zero_point, op, "zero_point")
    if not quant_min <= zero_point <= quant_max:
        raise RuntimeError(f"{op}: `zero_point` ({zero_point}) must be between `quant_min` ({quant_min}) and "
                           f"`quant_max` ({quant_max}).")
    if not math.isfinite(scale):
        raise RuntimeError(f"{op}: scale must be finite, got {scale}")
    return FakeQuantize(op, quant_min, quant_max, None)(x, xp.asarray(scale, dtype="float32"),
                                                        xp.asarray(zero_point, dtype="int64"))


def fake_quantize_per_channel_affine(input: Tensor, scale: Tensor, zero_point: Tensor, axis: int,  # noqa: A002
                                     quant_min: int, quant_max: int) -> Tensor:
    """torch.fake_quantize_per_channel_affine: x (any shape, floating), scale (C,) float32, zero_point (C,) int32 or
    float, C = x.shape[axis] -> x's shape and dtype, each slice along ``axis`` fake-quantised with its own scale
    and zero point (see FakeQuantize). ``axis`` counts from 0 (a negative one is refused, as PyTorch does)."""
    op = "fake_quantize_per_channel_affine"
    x = _checked_input(input, op)
    for what, value in (("scale", scale), ("zero_point", zero_point)):
        if not isinstance(value, Tensor):
            raise TypeError(f"{op}: argument '{what}' must be Tensor, not {type(value).__name__}")
    axis = int_arg(axis, op, "axis")
    quant_min, quant_max = _checked_range(quant_min, quant_max, op)
    _not_differentiable({"scale": scale, "zero_point": zero_point}, op)
    if str(scale.dtype) != "float32":
        raise RuntimeError(f"{op}: Scale must be Float (float32), found {scale.dtype}")
    if str(zero_point.dtype) not in ("int32", "float32", "float16"):
        raise RuntimeError(f"{op}: Zero-point must be int32, float32 or float16, found {zero_point.dtype}")
    if scale.ndim != 1:
        raise RuntimeError(f"{op}: scale should be a 1-D tensor, got shape {tuple(scale.shape)}")
    if zero_point.ndim != 1:
        raise RuntimeError(f"{op}: zero point should be a 1-D tensor, got shape {tuple(zero_point.shape)}")
    if scale.numel() != zero_point.numel():
        raise RuntimeError(f"{op}: scale and zero-point need to have the same dimensions, got {tuple(scale.shape)} "
                           f"and {tuple(zero_point.shape)}")
    if axis < 0:
        raise RuntimeError(f"{op}: `axis` must be between 0 and number of dimensions of input, got {axis}")
    if axis >= x.ndim:
        raise IndexError(f"{op}: Dimension out of range (expected to be in range of [{-max(x.ndim, 1)}, "
                         f"{max(x.ndim, 1) - 1}], but got {axis})")
    if scale.numel() != x.shape[axis]:
        raise RuntimeError(f"{op}: dimensions of scale and zero-point ({scale.numel()}) are not consistent with "
                           f"input tensor of shape {tuple(x.shape)} along axis {axis}")
    return FakeQuantize(op, quant_min, quant_max, axis)(x, scale, zero_point)
