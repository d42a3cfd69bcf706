"""Solves with a Cholesky factor, PyTorch's ``cholesky_solve`` and ``cholesky_inverse``.

A = L Lᵀ is given by its factor L (…, n, n) (``upper=True``: U with A = Uᵀ U). The forward reads only the
factor's triangle (as LAPACK's ``potrs``/``potri``) and solves with it twice. The gradients are PyTorch's, which
treat the factor as a full matrix in A = L Lᵀ: for a leaf factor the triangle the forward never reads gets a
gradient too (they agree with the plain chain rule wherever the factor comes from ``cholesky`` or ``tril``):

- ``X = A⁻¹ B``: ``gB = A⁻¹ gX``, ``gL = -(gB Xᵀ + X gBᵀ) L`` (upper: ``-U (gB Xᵀ + X gBᵀ)``).
- ``Y = A⁻¹``: ``gL = -Y (gY + gYᵀ) Y L`` (upper: ``-U Y (gY + gYᵀ) Y``).

Each formula is written once (:func:`cholesky_solve_grads`, :func:`cholesky_inverse_grad`) over arrays or Tensors:
the op's backward runs it on arrays, its ``create_graph=True`` rule (:mod:`minigrad.higher_order_arrays`) on
Tensors, with the op's own output, so it can be differentiated again as PyTorch's.
"""

from __future__ import annotations

from typing import Any, Callable

from ..autograd import Function
from ._util import sum_to
from .solvers import batch_shape, inverse_arrays, solve_arrays, transpose


def lower_factor(xp: Any, factor: Any, upper: bool) -> Any:
    """The lower-triangular L (…, n, n) of A = L Lᵀ from the triangle of ``factor`` the forward reads."""
    return transpose(xp, xp.triu(factor)) if upper else xp.tril(factor)


def cholesky_solve_arrays(xp: Any, b: Any, factor: Any, upper: bool) -> Any:
    """X = A⁻¹ B for B (…, n, k) and the factor (…, n, n) of A, batch dims broadcast; NaN where L is singular."""
    lower = lower_factor(xp, factor, upper)
    batch = batch_shape(b.shape[:-2], factor.shape[:-2])
    lower = xp.broadcast_to(lower, batch + lower.shape[-2:])
    y, _ = solve_arrays(xp, lower, xp.broadcast_to(b, batch + b.shape[-2:]))
    x, _ = solve_arrays(xp, transpose(xp, lower), y)
    return x


def cholesky_solve_grads(gx: Any, factor: Any, x: Any, upper: bool, solve: Callable[[Any], Any],
                         swap: Callable[[Any], Any], wants_factor: bool) -> tuple[Any, Any]:
    """``(gB, gL)`` of X = A⁻¹ B (PyTorch's): ``solve(G)`` is A⁻¹ G, ``swap`` transposes the last two dims; gL is
    None unless ``wants_factor``. Shapes are the broadcast ones (the caller sums them back)."""
    gb = solve(gx)   # A is symmetric: A⁻ᵀ gX = A⁻¹ gX
    if not wants_factor:
        return gb, None
    common = gb @ swap(x)
    common = common + swap(common)
    return gb, -(factor @ common) if upper else -(common @ factor)


def cholesky_inverse_grad(gy: Any, factor: Any, y: Any, upper: bool, swap: Callable[[Any], Any]) -> Any:
    """gL of Y = A⁻¹ = (L Lᵀ)⁻¹ (PyTorch's): ``-Y (gY + gYᵀ) Y L`` (upper: ``-U Y (gY + gYᵀ) Y``)."""
    common = y @ (gy + swap(gy)) @ y
    return -(factor @ common) if upper else -(common @ factor)


class CholeskySolve(Function):
    """``X = A⁻¹ B`` for B (…, n, k) and the Cholesky factor (…, n, n) of A, batch dims broadcast → (…, n, k)."""

    name = "cholesky_solve"

    def __init__(self, upper: bool) -> None:
        self.upper = upper

    def forward(self, b: Any, factor: Any) -> Any:
        x = cholesky_solve_arrays(self.xp, b, factor, self.upper)
        self.saved = (factor, x, b.shape)
        return x

    def backward(self, gx: Any) -> tuple:
        factor, x, b_shape = self.saved
        xp = self.xp
        gb, gl = cholesky_solve_grads(gx, factor, x, self.upper,
                                      lambda g: cholesky_solve_arrays(xp, g, factor, self.upper),
                                      lambda a: transpose(xp, a), self.needs_grad[1])
        return (sum_to(gb, b_shape) if self.needs_grad[0] else None,
                sum_to(gl, factor.shape) if gl is not None else None)


class CholeskyInverse(Function):
    """``Y = A⁻¹`` (…, n, n) from the Cholesky factor (…, n, n) of A."""

    name = "cholesky_inverse"

    def __init__(self, upper: bool) -> None:
        self.upper = upper

    def forward(self, factor: Any) -> Any:
        xp = self.xp
        inverse, _ = inverse_arrays(xp, lower_factor(xp, factor, self.upper))   # L⁻¹
        y = transpose(xp, inverse) @ inverse
        self.saved = (factor, y)
        return y

    def backward(self, gy: Any) -> Any:
        factor, y = self.saved
        return cholesky_inverse_grad(gy, factor, y, self.upper, lambda a: transpose(self.xp, a))
