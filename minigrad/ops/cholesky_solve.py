"""Solves with a Cholesky factor, PyTorch's ``cholesky_solve`` and ``cholesky_inverse``.

A = L Lᴴ is given by its factor L (…, n, n) (``upper=True``: U with A = Uᴴ U; ᴴ is the transpose for real
tensors, the conjugate transpose for complex ones). The forward reads only the factor's triangle (as LAPACK's
``potrs``/``potri``) and solves with it twice. The gradients are PyTorch's, which treat the factor as a full
matrix in A = L Lᴴ: for a leaf factor the triangle the forward never reads gets a gradient too (they agree with the
plain chain rule wherever the factor comes from ``cholesky`` or ``tril``):

- ``X = A⁻¹ B``: ``gB = A⁻¹ gX``, ``gL = -(gB Xᴴ + X gBᴴ) L`` (upper: ``-U (gB Xᴴ + X gBᴴ)``).
- ``Y = A⁻¹``: ``gL = -Y (gY + gYᴴ) Y L`` (upper: ``-U Y (gY + gYᴴ) Y``).

For complex tensors the gradients are dL/dz* (PyTorch's convention) of a real loss. A complex factor whose
diagonal is not real (not one ``cholesky`` gives) makes ``cholesky_inverse`` PyTorch's too: LAPACK's ``potri``
(``zlauu2``) reads the real part of that diagonal where it forms Lᴴ L, which :func:`lapack_inverse` repeats (for
n ≤ 64, where LAPACK is unblocked), so the value is PyTorch's and not (L Lᴴ)⁻¹.

Each formula is written once (:func:`cholesky_solve_grads`, :func:`cholesky_inverse_grad`) over arrays or Tensors:
the op's backward runs it on arrays, its ``create_graph=True`` rule (:mod:`minigrad.higher_order_arrays`) on
Tensors, with the op's own output, so it can be differentiated again as PyTorch's.
"""

from __future__ import annotations

from typing import Any, Callable

from ..autograd import Function
from ._util import sum_to
from .solvers import LinAlgError, adjoint, batch_shape, first_failure, inverse_arrays, solve_arrays, where_text


def lower_factor(xp: Any, factor: Any, upper: bool) -> Any:
    """The lower-triangular L (…, n, n) of A = L Lᴴ from the triangle of ``factor`` the forward reads."""
    return adjoint(xp, xp.triu(factor)) if upper else xp.tril(factor)


def cholesky_solve_arrays(xp: Any, b: Any, factor: Any, upper: bool) -> Any:
    """X = A⁻¹ B for B (…, n, k) and the factor (…, n, n) of A, batch dims broadcast; NaN where L is singular."""
    lower = lower_factor(xp, factor, upper)
    batch = batch_shape(b.shape[:-2], factor.shape[:-2])
    lower = xp.broadcast_to(lower, batch + lower.shape[-2:])
    y, _ = solve_arrays(xp, lower, xp.broadcast_to(b, batch + b.shape[-2:]))
    x, _ = solve_arrays(xp, adjoint(xp, lower), y)
    return x


def cholesky_solve_grads(gx: Any, factor: Any, x: Any, upper: bool, solve: Callable[[Any], Any],
                         swap: Callable[[Any], Any], wants_factor: bool) -> tuple[Any, Any]:
    """``(gB, gL)`` of X = A⁻¹ B (PyTorch's): ``solve(G)`` is A⁻¹ G, ``swap`` is the adjoint of the last two dims
    (the transpose of real ones); gL is None unless ``wants_factor``. Shapes are the broadcast ones (the caller sums
    them back)."""
    gb = solve(gx)   # A is Hermitian: A⁻ᴴ gX = A⁻¹ gX
    if not wants_factor:
        return gb, None
    common = gb @ swap(x)
    common = common + swap(common)
    return gb, -(factor @ common) if upper else -(common @ factor)


def cholesky_inverse_grad(gy: Any, factor: Any, y: Any, upper: bool, swap: Callable[[Any], Any]) -> Any:
    """gL of Y = A⁻¹ = (L Lᴴ)⁻¹ (PyTorch's): ``-Y (gY + gYᴴ) Y L`` (upper: ``-U Y (gY + gYᴴ) Y``), ``swap`` the
    adjoint."""
    common = y @ (gy + swap(gy)) @ y
    return -(factor @ common) if upper else -(common @ factor)


def lapack_inverse(xp: Any, factor: Any, upper: bool) -> Any:
    """``(L Lᴴ)⁻¹`` (…, n, n) as LAPACK's ``potri`` forms it (M = L⁻¹, then ``zlauu2``'s Mᴴ M with the real part of
    M's diagonal where it scales): exact for a real factor or a real diagonal; PyTorch's value otherwise."""
    inverse, _ = inverse_arrays(xp, lower_factor(xp, factor, upper))   # M = L⁻¹
    if inverse.dtype.kind != "c" or inverse.shape[-1] == 0:
        return adjoint(xp, inverse) @ inverse
    n = inverse.shape[-1]
    eye = xp.eye(n, dtype=inverse.real.dtype)
    diagonal = xp.diagonal(inverse, 0, -2, -1)
    real_diagonal = inverse - eye * (1j * diagonal.imag)[..., None, :]
    product = adjoint(xp, real_diagonal) @ inverse
    below = xp.tril(product, -1)
    # zlauu2's diagonal: Re(m_ii)² + Σ|m_ki|², but the last one is only scaled by Re(m_nn) (conjugated for upper)
    diagonal = xp.sum(xp.abs(real_diagonal) ** 2, axis=-2).astype(inverse.dtype)
    last = product[..., -1, -1]
    diagonal[..., -1] = last.conj() if upper else last
    return below + adjoint(xp, below) + eye * diagonal[..., None, :]


class CholeskySolve(Function):
    """``X = A⁻¹ B`` for B (…, n, k) and the Cholesky factor (…, n, n) of A, batch dims broadcast → (…, n, k)."""

    name = "cholesky_solve"
    complex_grad = True   # the adjoints make backward PyTorch's for complex B and L; see autograd.engine._complex_gate

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
                                      lambda a: adjoint(xp, a), self.needs_grad[1])
        return (sum_to(gb, b_shape) if self.needs_grad[0] else None,
                sum_to(gl, factor.shape) if gl is not None else None)


class CholeskyInverse(Function):
    """``Y = A⁻¹`` (…, n, n) from the Cholesky factor (…, n, n) of A."""

    name = "cholesky_inverse"
    complex_grad = True   # see autograd.engine._complex_gate

    def __init__(self, upper: bool) -> None:
        self.upper = upper

    def forward(self, factor: Any) -> Any:
        xp = self.xp
        zero = xp.diagonal(factor, 0, -2, -1) == 0   # LAPACK's trtri (in potri) stops at an exactly zero pivot
        failure = first_failure(xp.where(zero.any(axis=-1), xp.argmax(zero, axis=-1) + 1, 0)) if zero.size else None
        if failure is not None:
            element, column = failure
            raise LinAlgError(f"cholesky_inverse: the factor is singular: its diagonal element {column} is zero, the "
                              f"inversion could not be completed{where_text(element, factor.shape)}")
        y = lapack_inverse(xp, factor, self.upper)
        self.saved = (factor, y)
        return y

    def backward(self, gy: Any) -> Any:
        factor, y = self.saved
        return cholesky_inverse_grad(gy, factor, y, self.upper, lambda a: adjoint(self.xp, a))
