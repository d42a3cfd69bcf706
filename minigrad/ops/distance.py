"""Distances: ``cdist`` (every pair of rows of two batches of matrices) and ``dist`` (one p-norm of a
difference), with PyTorch's values and gradients."""

from __future__ import annotations

import math
from typing import Any

from .. import backend
from ..autograd import Function
from ..tensor import Tensor
from ._util import ArgumentTypeError, ShapeMismatchError, number, refuse_complex, sum_to, tensor_arg
from .elementwise import sqrt, sub, where
from .join import cat
from .linalg import matmul
from .linalg_arguments import LinalgShapeError
from .reduce import norm


class Cdist(Function):
    """out[..., i, j] = ‖x1[..., i, :] - x2[..., j, :]‖_p, with the batch dims broadcast.

    Backward is PyTorch's term by term (``_cdist_backward``), per difference d = x1_i - x2_j and
    distance D: p = 0: 0; p = 1: sign(d); p = 2: d / D; p = inf: sign(d) where |d| = D (every tie gets
    it); p < 2: sign(d) |d|^(p-1) / D^(p-1) (0 at d = 0 when p < 1); else d |d|^(p-2) / D^(p-1).
    A zero distance gives 0. As PyTorch's CPU kernel, a NaN difference makes a p = 0 count NaN and is
    skipped by the p = inf max; sign(NaN) is NaN, and so is an infinite difference's p = inf term.
    x1: (B..., P, M), x2: (B..., R, M) → (B..., P, R).
    """

    def __init__(self, p: float) -> None:
        self.p = p

    def _differences(self, x1: Any, x2: Any) -> Any:
        return x1[..., :, None, :] - x2[..., None, :, :]   # (B..., P, R, M)

    def forward(self, x1: Any, x2: Any) -> Any:
        xp, p = self.xp, self.p
        diff = xp.abs(self._differences(x1, x2))
        if diff.shape[-1] == 0:
            y = xp.zeros(diff.shape[:-1], dtype=diff.dtype)
        elif p == 0:   # a NaN difference makes the count NaN, as PyTorch's
            y = xp.where(xp.isnan(diff).any(axis=-1), xp.nan, (diff != 0).sum(axis=-1)).astype(diff.dtype)
        elif p == 1:
            y = diff.sum(axis=-1)
        elif p == 2:
            y = xp.sqrt((diff * diff).sum(axis=-1))
        elif p == math.inf:   # PyTorch's CPU kernel takes max(0, |d|...) skipping NaN differences
            y = xp.where(xp.isnan(diff), 0, diff).max(axis=-1)
        else:
            y = (diff ** p).sum(axis=-1) ** (1 / p)
        y = xp.ascontiguousarray(y)   # C order whatever the inputs' layout, as PyTorch's
        self.saved = (x1, x2, y)
        return y

    def backward(self, gy: Any) -> tuple:
        x1, x2, y = self.saved
        xp, p = self.xp, self.p
        if p == 0:
            return (xp.zeros_like(x1) if self.needs_grad[0] else None,
                    xp.zeros_like(x2) if self.needs_grad[1] else None)
        d = self._differences(x1, x2)
        g, dist = gy[..., None], y[..., None]
        sign = xp.where(xp.isnan(d), xp.nan, (d > 0).astype(d.dtype) - (d < 0))   # PyTorch's sign(NaN) here is NaN
        with backend.errstate(xp, divide="ignore", invalid="ignore", over="ignore"):
            if p == 1:
                local = sign * g
            elif p == 2:
                local = xp.where(dist == 0, 0, g * d / dist)
            elif p == math.inf:
                tie = xp.where(xp.isinf(d), xp.nan, (xp.abs(d) == dist).astype(d.dtype))   # PyTorch's |inf - inf| test
                local = g * sign * tie
            elif p < 2:
                local = xp.where(dist == 0, 0, sign * xp.abs(d) ** (p - 1) * g / dist ** (p - 1))
                if p < 1:
                    local = xp.where(d == 0, 0, local)
            else:
                local = xp.where(dist == 0, 0, d * xp.abs(d) ** (p - 2) * g / dist ** (p - 1))
        local = local.astype(gy.dtype, copy=False)
        return (sum_to(local.sum(axis=-2), x1.shape) if self.needs_grad[0] else None,
                sum_to(-local.sum(axis=-3), x2.shape) if self.needs_grad[1] else None)


def cdist(x1: Tensor, x2: Tensor, p: float = 2.0, compute_mode: str = "use_mm_for_euclid_dist_if_necessary") -> Tensor:
    """The p-norm distance between each row of ``x1`` and each row of ``x2``, as torch.cdist.

    x1: (B..., P, M), x2: (B..., R, M) (batch dims broadcast) → (B..., P, R). ``p`` >= 0 (inf allowed).
    Float tensors of one dtype. Differentiable in both. ``compute_mode`` as PyTorch's: for p = 2 the default
    takes the matrix-product form (:func:`_euclidean_dist`) when P > 25 or R > 25, ``"use_mm_for_euclid_dist"``
    always, ``"donot_use_mm_for_euclid_dist"`` never; otherwise each difference is formed (:class:`Cdist`).
    """
    x1, x2 = tensor_arg(x1, "cdist"), tensor_arg(x2, "cdist")
    for name, x in (("x1", x1), ("x2", x2)):
        if x.ndim < 2:
            raise LinalgShapeError(f"cdist: expects tensors with at least 2 dims, {name} has shape {x.shape}")
        refuse_complex("cdist", x, runtime=True, order=False)
        if x.dtype.kind != "f":
            raise ArgumentTypeError(f"cdist: only floating-point tensors, {name} has dtype {x.dtype}")
    if x1.dtype != x2.dtype:
        raise ArgumentTypeError(f"cdist: x1 and x2 must have the same dtype, got {x1.dtype} and {x2.dtype}")
    if x1.dtype == "float16":   # PyTorch's CPU has no float16 kernel (NotImplementedError, as pdist's); its CUDA
        if x1.device.type == "cpu":   # kernel computes in float32, rounded once (not float16 steps)
            raise NotImplementedError(f"cdist: not implemented for float16 on the CPU, as PyTorch's (shapes "
                                      f"{x1.shape} and {x2.shape}); use x.float()")
        return cdist(x1.float(), x2.float(), p, compute_mode).half()
    if x1.shape[-1] != x2.shape[-1]:
        raise LinalgShapeError(f"cdist: x1 and x2 must have the same number of columns, got shapes {x1.shape} and "
                               f"{x2.shape}")
    try:
        backend.numpy.broadcast_shapes(x1.shape[:-2], x2.shape[:-2])
    except ValueError:
        raise LinalgShapeError(f"cdist: the batch dims of shapes {x1.shape} and {x2.shape} do not broadcast") from None
    p = number(p, "cdist", "p")
    if not p >= 0:
        raise ShapeMismatchError(f"cdist: p must be non-negative, got {p}")
    if compute_mode not in ("use_mm_for_euclid_dist_if_necessary", "use_mm_for_euclid_dist",
                            "donot_use_mm_for_euclid_dist"):   # None too, as PyTorch's
        raise ValueError(f"cdist: {compute_mode!r} is not a valid compute_mode")
    rows = max(x1.shape[-2], x2.shape[-2])
    if (p == 2 and x1.data.size and x2.data.size and compute_mode != "donot_use_mm_for_euclid_dist"
            and (compute_mode == "use_mm_for_euclid_dist" or rows > 25)):
        return _euclidean_dist(x1, x2)
    return Cdist(float(p))(x1, x2)


def _euclidean_dist(x1: Tensor, x2: Tensor) -> Tensor:
    """PyTorch's matrix-product form of the p = 2 distances (``at::_euclidean_dist``): ‖a‖² - 2 a·b + ‖b‖² as one
    product of [-2 x1, ‖x1‖², 1] and [x2, 1, ‖x2‖²], clamped at 0 and square-rooted. A distance that clamps to 0
    gets a zero gradient, as PyTorch's backward (which masks ``grad / dist`` where the distance is 0); elsewhere
    the gradient is PyTorch's g · (x1_i - x2_j) / dist, up to rounding. x1: (B..., P, M), x2: (B..., R, M) →
    (B..., P, R), batch dims broadcast."""
    norm1, norm2 = (x1 * x1).sum(-1, keepdim=True), (x2 * x2).sum(-1, keepdim=True)
    ones1, ones2 = norm1.new_ones(norm1.shape), norm2.new_ones(norm2.shape)
    squared = matmul(cat([x1 * -2, norm1, ones1], -1), cat([x2, ones2, norm2], -1).mT)
    zero = squared <= 0   # NaN stays NaN, as PyTorch's clamp_min(0)
    return where(zero, 0.0, sqrt(where(zero, 1.0, squared)))


def dist(input: Tensor, other: Tensor, p: float = 2) -> Tensor:  # noqa: A002
    """The p-norm of ``x - other`` (broadcast) over all elements, as torch.dist: a 0-d tensor.

    Differentiable in both, with :func:`norm`'s gradient (0 for p = 0; ties of ±inf share it). As PyTorch's, an
    integer operand is fine beside a floating one (the difference is floating); two integer ones are refused.
    """
    x = input
    x, other = tensor_arg(x, "dist"), tensor_arg(other, "dist")
    p = number(p, "dist", "p")
    try:
        backend.numpy.broadcast_shapes(x.shape, other.shape)
    except ValueError:
        raise ShapeMismatchError(f"dist: shapes {x.shape} and {other.shape} do not broadcast") from None
    difference = sub(x, other)   # two bools: sub's RuntimeError, as PyTorch's
    if difference.dtype.kind not in "fc":
        raise ArgumentTypeError(f"dist: expects floating-point or complex tensors, got dtypes {x.dtype} and "
                                f"{other.dtype} (their difference is {difference.dtype})")
    return norm(difference, p)
