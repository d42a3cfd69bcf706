"""The LU family with PyTorch's results: ``linalg.lu_factor``/``lu_factor_ex``, ``linalg.lu``, ``linalg.lu_solve``,
``lu_unpack`` and the deprecated ``torch.lu`` / ``torch.lu_solve``.

``A = P L U`` for A (…, m, n), k = min(m, n): P (…, m, m) a permutation, L (…, m, k) unit lower triangular,
U (…, k, n) upper triangular, found by Gaussian elimination with partial pivoting (the row of largest magnitude,
the first one on ties, as LAPACK's ``getrf``; complex: the largest ``|Re| + |Im|``, as its ``izamax``). The
factorization is packed as LAPACK's: ``LU`` (…, m, n) holds L below its diagonal and U on and above it, and
``pivots`` (…, k) int32 are LAPACK's 1-based row swaps (row j was swapped with row ``pivots[j]``, in order).
Neither NumPy nor CuPy exposes ``getrf``, so the elimination is k array steps over the whole batch, on either
backend; the triangular solves of ``lu_solve`` are substitutions.

Gradients (``Aᵀ`` the transpose of the last two dims, the conjugate transpose ``Aᴴ`` for complex A; as PyTorch's
``linalg_lu_backward`` and ``linalg_lu_solve_LU``, which write ``ᴴ`` throughout, so the code does too):

- ``P L U = A`` square: ``gA = P L⁻ᵀ (tril(Lᵀ gL, -1) + triu(gU Uᵀ)) U⁻ᵀ``. Wide (m < n, U = [U₁ U₂]) and tall
  (m > n, L = [L₁; L₂]) matrices add the terms of U₂ = L⁻¹ Pᵀ A₂ and L₂ = A₂ U⁻¹.
- ``X = A⁻¹ B`` from the factors: ``gB`` is the solve with the adjoint system, and the gradient of A,
  ``gA = -gB Xᵀ`` (``-X gBᵀ`` for ``adjoint``, ``-Xᵀ gB`` and ``-gBᵀ X`` for ``left=False``), reaches the packed
  LU as ``tril(Pᵀ gA Uᵀ, -1) + triu(Lᵀ Pᵀ gA)``.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy

from .. import backend, return_types
from ..autograd import Function
from ..outputs import user_stacklevel
from ..tensor import Tensor
from ._util import ArgumentTypeError, flag, sum_to, tensor_arg
from .elementwise import add
from .index import tril, triu
from .linalg_arguments import LinalgShapeError, floating, matrices, same_dtype
from .shape import getitem
from .solvers import LinAlgError, adjoint, batch_shape, first_failure, pivot_size

__all__ = ["lu", "lu_factor", "lu_factor_ex", "lu_solve", "lu_unpack", "linalg_lu", "linalg_lu_solve",
           "legacy_lu_solve"]


# --- arrays ----------------------------------------------------------------------------------------------------

def factor_arrays(xp: Any, a: Any) -> tuple[Any, Any, Any, Any]:
    """``(lu, pivots, info, perm)`` of a (…, m, n): the packed factors, LAPACK's 1-based int32 pivots (…, k), its
    ``info`` (…) (the 1-based index of the first exactly zero diagonal element of U, else 0) and the permutation
    (…, m) int64 with ``(Pᵀ A)[i] = A[perm[i]]``."""
    *batch, m, n = a.shape
    k = min(m, n)
    lu = a.reshape(math.prod(batch), m, n).copy()
    count = lu.shape[0]
    rows = xp.arange(count)
    pivots = xp.zeros((count, k), dtype=xp.int32)
    info = xp.zeros(count, dtype=xp.int32)
    perm = xp.broadcast_to(xp.arange(m), (count, m)).copy()
    for j in range(k):
        p = xp.argmax(pivot_size(xp, lu[:, j:, j]), axis=1) + j
        pivots[:, j] = p + 1
        lu_row, perm_row = lu[rows, p].copy(), perm[rows, p].copy()
        lu[rows, p], perm[rows, p] = lu[:, j], perm[:, j]
        lu[:, j], perm[:, j] = lu_row, perm_row
        pivot = lu[:, j, j]
        zero = pivot == 0
        info = xp.where((info == 0) & zero, j + 1, info).astype(xp.int32)
        # a zero pivot is the largest entry of its column: the column below is zero, as LAPACK leaves it
        lu[:, j + 1:, j] /= xp.where(zero, 1, pivot)[:, None]
        lu[:, j + 1:, j + 1:] -= lu[:, j + 1:, j, None] * lu[:, None, j, j + 1:]
    return (lu.reshape(a.shape), pivots.reshape(tuple(batch) + (k,)), info.reshape(tuple(batch)),
            perm.reshape(tuple(batch) + (m,)))


def permutation_arrays(xp: Any, pivots: Any, m: int) -> Any:
    """The permutation (…, m) int64 of LAPACK's 1-based row swaps ``pivots`` (…, k): ``(Pᵀ A)[i] = A[perm[i]]``."""
    batch, k = pivots.shape[:-1], pivots.shape[-1]
    flat = pivots.reshape(math.prod(batch), k).astype(xp.int64) - 1
    count = flat.shape[0]
    rows = xp.arange(count)
    perm = xp.broadcast_to(xp.arange(m), (count, m)).copy()
    for j in range(k):
        p = flat[:, j]
        swapped = perm[rows, p].copy()
        perm[rows, p] = perm[:, j]
        perm[:, j] = swapped
    return perm.reshape(tuple(batch) + (m,))


def check_pivots(xp: Any, pivots: Any, m: int, name: str) -> None:
    """Every pivot in [1, m] (one host read), as PyTorch checks them."""
    if pivots.size and (int(pivots.min()) < 1 or int(pivots.max()) > m):
        raise LinalgShapeError(f"{name}: pivots must be between 1 and LU.size(-2) = {m} inclusive, got values from "
                               f"{int(pivots.min())} to {int(pivots.max())} (pass the pivots lu_factor returned)")


def rows_taken(xp: Any, b: Any, perm: Any) -> Any:
    """``b[..., perm[i], :]`` for each i: ``Pᵀ B`` for B (…, m, k) and perm (…, m), batch dims broadcast."""
    shape = batch_shape(b.shape[:-2], perm.shape[:-1]) + b.shape[-2:]
    index = xp.broadcast_to(perm[..., :, None], shape)
    return xp.take_along_axis(xp.broadcast_to(b, shape), index, axis=-2)


def rows_placed(xp: Any, z: Any, perm: Any) -> Any:
    """``P Z``: the rows of Z (…, m, k) moved to the places ``perm`` names (the inverse of :func:`rows_taken`)."""
    return rows_taken(xp, z, xp.argsort(perm, axis=-1))


def unit_lower(xp: Any, lu: Any) -> Any:
    """L (…, m, k) of the packed factors: the strictly lower part, ones on the diagonal."""
    m, n = lu.shape[-2:]
    k = min(m, n)
    return xp.tril(lu[..., :, :k], -1) + xp.eye(m, k, dtype=lu.dtype)


def triangular_solve(xp: Any, t: Any, b: Any, upper: bool, unit: bool = False) -> Any:
    """X with ``T X = B`` for a triangular T (…, n, n) (its upper or lower triangle; ``unit``: ones on the
    diagonal) and B (…, n, k), batch dims broadcast, by substitution (n array steps). A zero on the diagonal gives
    inf/NaN, as LAPACK's ``trsm``."""
    n = t.shape[-1]
    shape = batch_shape(t.shape[:-2], b.shape[:-2])
    x = xp.zeros(shape + b.shape[-2:], dtype=numpy.result_type(t.dtype, b.dtype))
    order = range(n - 1, -1, -1) if upper else range(n)
    with backend.errstate(xp, divide="ignore", invalid="ignore", over="ignore"):
        for i in order:
            known = slice(i + 1, n) if upper else slice(0, i)
            row = b[..., i, :] - (t[..., i:i + 1, known] @ x[..., known, :])[..., 0, :]
            x[..., i, :] = row if unit else row / t[..., i, i, None]
    return x


def solve_arrays(xp: Any, lu: Any, perm: Any, b: Any, left: bool, adjoint_system: bool) -> Any:
    """X with ``A X = B`` (``adjoint_system``: ``Aᴴ X = B``; ``left=False``: ``X A = B`` or ``X Aᴴ = B``) for
    A = P L U given by its packed factors lu (…, n, n) and permutation perm (…, n); ``ᴴ`` is ``ᵀ`` for real A."""
    if not left:   # X A = B ⇔ Aᴴ Xᴴ = Bᴴ
        return adjoint(xp, solve_arrays(xp, lu, perm, adjoint(xp, b), True, not adjoint_system))
    if not adjoint_system:   # U⁻¹ L⁻¹ Pᵀ B
        y = triangular_solve(xp, lu, rows_taken(xp, b, perm), upper=False, unit=True)
        return triangular_solve(xp, lu, y, upper=True)
    # Aᴴ = Uᴴ Lᴴ Pᵀ: X = P L⁻ᴴ U⁻ᴴ B
    y = triangular_solve(xp, adjoint(xp, lu), b, upper=False)
    return rows_placed(xp, triangular_solve(xp, adjoint(xp, lu), y, upper=True, unit=True), perm)


def factors_gradient(xp: Any, lu: Any, perm: Any, g_lower: Any, g_upper: Any) -> Any:
    """The gradient of A (…, m, n) from those of L (…, m, k) and U (…, k, n) (either may be None) of ``A = P L U``
    given by its packed factors lu and permutation perm (PyTorch's ``linalg_lu_backward``)."""
    m, n = lu.shape[-2:]
    k = min(m, n)
    lower, upper = unit_lower(xp, lu), xp.triu(lu[..., :k, :])
    g_lower = xp.zeros_like(lower) if g_lower is None else g_lower
    g_upper = xp.zeros_like(upper) if g_upper is None else g_upper
    l_t = adjoint(xp, lower[..., :k, :])   # L₁ᴴ (…, k, k), unit upper triangular
    if m == n:
        phi = xp.tril(l_t @ g_lower, -1) + xp.triu(g_upper @ adjoint(xp, upper))
        g = triangular_solve(xp, l_t, phi, upper=True, unit=True)   # L⁻ᴴ φ
        g = adjoint(xp, triangular_solve(xp, upper, adjoint(xp, g), upper=True))   # … U⁻ᴴ
    elif m < n:   # U = [U₁ U₂], U₂ = L⁻¹ Pᵀ A₂
        u1, u2, g_u1, g_u2 = upper[..., :, :m], upper[..., :, m:], g_upper[..., :, :m], g_upper[..., :, m:]
        phi = xp.tril(l_t @ g_lower - g_u2 @ adjoint(xp, u2), -1) + xp.triu(g_u1 @ adjoint(xp, u1))
        right = adjoint(xp, triangular_solve(xp, u1, adjoint(xp, phi), upper=True))   # φ U₁⁻ᴴ
        g = triangular_solve(xp, l_t, xp.concatenate([right, g_u2], axis=-1), upper=True, unit=True)
    else:   # L = [L₁; L₂], L₂ = A₂ U⁻¹
        g_l1, l2, g_l2 = g_lower[..., :n, :], lower[..., n:, :], g_lower[..., n:, :]
        phi = xp.tril(l_t @ g_l1, -1) + xp.triu(g_upper @ adjoint(xp, upper) - adjoint(xp, l2) @ g_l2)
        top = triangular_solve(xp, l_t, phi, upper=True, unit=True)   # L₁⁻ᴴ φ
        g = adjoint(xp, triangular_solve(xp, upper, adjoint(xp, xp.concatenate([top, g_l2], axis=-2)),
                                           upper=True))   # … U⁻ᴴ
    return rows_placed(xp, g, perm)


# --- ops -------------------------------------------------------------------------------------------------------

class LUFactor(Function):
    """``(LU, pivots, info)`` of A (…, m, n) (:func:`factor_arrays`); ``check_errors``: a zero on U's diagonal
    raises :class:`LinAlgError` as PyTorch's ``lu_factor``. Only LU has a gradient."""

    name = "linalg.lu_factor"
    multiple = True
    n_outputs = 3
    complex_grad = True   # factors_gradient is PyTorch's with ᴴ; see autograd.engine._complex_gate

    def __init__(self, check_errors: bool) -> None:
        self.check_errors = check_errors

    def forward(self, a: Any) -> tuple:
        lu, pivots, info, perm = factor_arrays(self.xp, a)
        if self.check_errors:
            failure = first_failure(info)
            if failure is not None:
                element, column = failure
                batch = f"(Batch element {element}): " if a.ndim > 2 else ""
                raise LinAlgError(f"torch.linalg.lu_factor: {batch}U[{column},{column}] is zero and using it on "
                                  f"lu_solve would result in a division by zero (input shape {tuple(a.shape)}). If "
                                  f"you still want to perform the factorization, consider calling linalg.lu(A, "
                                  f"pivot) or linalg.lu_factor_ex(A, pivot)")
        self.saved = (lu, perm)
        return lu, pivots, info

    def backward(self, g_lu: Any, g_pivots: Any = None, g_info: Any = None) -> Any:
        lu, perm = self.saved
        xp = self.xp
        if g_lu is None:
            return xp.zeros_like(lu)
        k = min(lu.shape[-2:])
        return factors_gradient(xp, lu, perm, xp.tril(g_lu[..., :, :k], -1), xp.triu(g_lu[..., :k, :]))


class Permutation(Function):
    """The permutation matrix P (…, m, m) of LAPACK's pivots (…, k) (``A = P L U``); no gradient."""

    name = "lu_unpack"
    complex_grad = True   # no gradient: pivots are integers

    def __init__(self, m: int, dtype: Any) -> None:
        self.m, self.dtype = m, dtype

    def forward(self, pivots: Any) -> Any:
        xp = self.xp
        check_pivots(xp, pivots, self.m, self.name)
        perm = permutation_arrays(xp, pivots, self.m)
        return (perm[..., None, :] == xp.arange(self.m)[:, None]).astype(self.dtype)   # P[r, i] = (perm[i] == r)


class LUSolve(Function):
    """X from the packed factors lu (…, n, n), pivots (…, n) and B (batch dims broadcast): ``A X = B``
    (``adjoint``: ``Aᴴ X = B``) or, unless ``left``, ``X A = B`` (``X Aᴴ = B``). Gradients for lu and B."""

    name = "linalg.lu_solve"
    complex_grad = True   # the backward's ᴴ gives PyTorch's gradient; see autograd.engine._complex_gate

    def __init__(self, left: bool, adjoint: bool) -> None:
        self.left, self.adjoint = left, adjoint

    def forward(self, lu: Any, pivots: Any, b: Any) -> Any:
        xp = self.xp
        n = lu.shape[-1]
        check_pivots(xp, pivots, n, self.name)
        perm = permutation_arrays(xp, pivots, n)
        x = solve_arrays(xp, lu, perm, b, self.left, self.adjoint)
        self.saved = (lu, perm, x, b.shape)
        return x

    def backward(self, gx: Any) -> tuple:
        lu, perm, x, b_shape = self.saved
        xp = self.xp
        gb = solve_arrays(xp, lu, perm, gx, self.left, not self.adjoint)
        g_lu = None
        if self.needs_grad[0]:
            if self.left:
                ga = -(x @ adjoint(xp, gb)) if self.adjoint else -(gb @ adjoint(xp, x))
            else:
                ga = -(adjoint(xp, gb) @ x) if self.adjoint else -(adjoint(xp, x) @ gb)
            g = rows_taken(xp, ga, perm)   # Pᵀ gA
            upper = xp.triu(lu)
            g_lu = xp.tril(g @ adjoint(xp, upper), -1) + xp.triu(adjoint(xp, unit_lower(xp, lu)) @ g)
            g_lu = sum_to(g_lu, lu.shape)
        return g_lu, None, sum_to(gb, b_shape) if self.needs_grad[2] else None


# --- public functions ------------------------------------------------------------------------------------------

def _pivoting(pivot: Any, name: str) -> None:
    if not flag(pivot, name, "pivot"):
        raise NotImplementedError(f"{name}: LU without pivoting is not implemented (PyTorch has it on CUDA only; "
                                  f"its CPU build refuses it too)")


def _factor(A: Any, pivot: Any, check_errors: bool, name: str) -> tuple:  # noqa: N803
    A = matrices(A, name, complex_ok=True)  # noqa: N806
    _pivoting(pivot, name)
    op = LUFactor(check_errors)
    op.name = name
    packed, pivots, info = op(A)
    return packed, pivots.detach(), info.detach()


def lu_factor(A: Any, *, pivot: bool = True) -> Any:  # noqa: N803 - PyTorch's names
    """``(LU, pivots)``: the packed factors (…, m, n) of ``A = P L U`` for A (…, m, n) and LAPACK's 1-based int32
    pivots (…, min(m, n)), as torch.linalg.lu_factor. A zero on U's diagonal raises :class:`LinAlgError` (use
    :func:`lu_factor_ex` or :func:`linalg_lu` to factor a singular matrix). A ``return_types.linalg_lu_factor``."""
    packed, pivots, _ = _factor(A, pivot, True, "linalg.lu_factor")
    return return_types.linalg_lu_factor(packed, pivots)


def lu_factor_ex(A: Any, *, pivot: bool = True, check_errors: bool = False) -> Any:  # noqa: N803
    """``(LU, pivots, info)`` of :func:`lu_factor` without raising (unless ``check_errors``): ``info`` (…) int32
    is LAPACK's, the 1-based index of the first zero on U's diagonal, else 0. A
    ``return_types.linalg_lu_factor_ex``."""
    name = "linalg.lu_factor_ex"
    return return_types.linalg_lu_factor_ex(*_factor(A, pivot, flag(check_errors, name, "check_errors"), name))


def _unpack(packed: Tensor, pivots: Tensor | None, name: str) -> tuple:
    """``(P, L, U)`` from the packed factors (…, m, n) and the pivots (…, k) (None: no P)."""
    m, n = packed.shape[-2:]
    k = min(m, n)
    permutation = None
    if pivots is not None:
        op = Permutation(m, packed.dtype)
        op.name = name
        permutation = op(pivots)
    lower_part = tril(getitem(packed, (Ellipsis, slice(None), slice(0, k))), -1)
    with backend.on_device(packed.device):
        ones = backend.array_module(packed.data).eye(m, k, dtype=packed.dtype)
    lower = add(lower_part, Tensor._make(ones, False, None, 0))
    upper = triu(getitem(packed, (Ellipsis, slice(0, k), slice(None))))
    return permutation, lower, upper


def _empty(like: Tensor) -> Tensor:
    with backend.on_device(like.device):
        return Tensor._make(backend.array_module(like.data).zeros(0, dtype=like.dtype), False, None, 0)


def lu_unpack(LU_data: Any, LU_pivots: Any, unpack_data: bool = True, unpack_pivots: bool = True) -> Any:  # noqa: N803
    """``(P, L, U)`` with ``A = P L U`` from :func:`lu_factor`'s packed factors (…, m, n) and pivots (…, k): P
    (…, m, m), L (…, m, k), U (…, k, n), as torch.lu_unpack. ``unpack_data=False``: L and U are empty tensors;
    ``unpack_pivots=False``: P is. L and U carry the gradient to LU_data. A ``return_types.lu_unpack``."""
    name = "lu_unpack"
    packed = matrices(LU_data, name, what="LU_data", complex_ok=True)
    pivots = tensor_arg(LU_pivots, name)
    unpack_data, unpack_pivots = flag(unpack_data, name, "unpack_data"), flag(unpack_pivots, name, "unpack_pivots")
    if pivots.dtype != numpy.int32:
        raise ArgumentTypeError(f"torch.lu_unpack: LU_pivots is expected to be a tensor of int32 dtype (as "
                                f"lu_factor returns them), got {pivots.dtype}")
    k = min(packed.shape[-2:])
    if tuple(pivots.shape) != tuple(packed.shape[:-2]) + (k,):
        raise LinalgShapeError(f"{name}: LU_pivots must have shape {tuple(packed.shape[:-2]) + (k,)} (LU_data's batch "
                               f"shape and min(m, n)), got {tuple(pivots.shape)} for LU_data of shape {packed.shape}")
    permutation, lower, upper = _unpack(packed, pivots if unpack_pivots else None, name)
    if not unpack_data:
        lower, upper = _empty(packed), _empty(packed)
    return return_types.lu_unpack(permutation if unpack_pivots else _empty(packed), lower, upper)


def linalg_lu(A: Any, *, pivot: bool = True) -> Any:  # noqa: N803
    """``(P, L, U)`` with ``A = P L U`` for A (…, m, n), k = min(m, n): P (…, m, m), L (…, m, k) unit lower
    triangular, U (…, k, n), as torch.linalg.lu; a singular A is factored too. A ``return_types.linalg_lu``."""
    name = "linalg.lu"
    packed, pivots, _ = _factor(A, pivot, False, name)
    return return_types.linalg_lu(*_unpack(packed, pivots, name))


def linalg_lu_solve(LU: Any, pivots: Any, B: Any, *, left: bool = True, adjoint: bool = False) -> Tensor:  # noqa: N803
    """X with ``A X = B`` for A given by :func:`lu_factor`'s LU (…, n, n) and pivots (…, n) and B (…, n, k) (batch
    dims broadcast); ``adjoint``: ``Aᴴ X = B`` (real: ``Aᵀ``); ``left=False``: ``X A = B`` (``X Aᴴ = B``) for B
    (…, k, n), as torch.linalg.lu_solve. Gradients for LU and B; a zero on U's diagonal gives inf/NaN."""
    name = "linalg.lu_solve"
    packed, B = matrices(LU, name, square=True, what="LU", complex_ok=True), floating(B, name, "B", True)  # noqa: N806
    pivots = tensor_arg(pivots, name)
    left, adjoint = flag(left, name, "left"), flag(adjoint, name, "adjoint")
    same_dtype(name, packed, B, "LU and B")
    if pivots.dtype != numpy.int32:
        raise ArgumentTypeError(f"{name}: pivots should be a tensor of dtype int32 (as lu_factor returns them), got "
                                f"{pivots.dtype}")
    n = packed.shape[-1]
    if pivots.ndim < 1 or pivots.shape[-1] != n:
        raise LinalgShapeError(f"{name}: the number of pivots per batch should be the order of the matrix, {n}, got "
                               f"pivots of shape {tuple(pivots.shape)} for LU of shape {packed.shape}")
    if B.ndim < 2:
        raise LinalgShapeError(f"{name}: the input tensor B must have at least 2 dimensions, got shape {B.shape}")
    if B.shape[-2 if left else -1] != n:
        equation = "AX = B" if left else "XA = B"
        raise LinalgShapeError(f"{name}: incompatible shapes of A and B for the equation {equation} ({n}x{n} and "
                               f"{B.shape[-2]}x{B.shape[-1]})")
    try:
        batch_shape(packed.shape[:-2], pivots.shape[:-1], B.shape[:-2])
    except ValueError:
        raise LinalgShapeError(f"{name}: the batch shapes of LU {packed.shape}, pivots {tuple(pivots.shape)} and B "
                               f"{B.shape} do not broadcast") from None
    op = LUSolve(left, adjoint)
    op.name = name
    return op(packed, pivots, B)


_LU_DEPRECATED = ("torch.lu is deprecated in favor of torch.linalg.lu_factor / torch.linalg.lu_factor_ex and will "
                  "be removed in a future PyTorch release.\nLU, pivots = torch.lu(A, compute_pivots)\nshould be "
                  "replaced with\nLU, pivots = torch.linalg.lu_factor(A, compute_pivots)\nand\nLU, pivots, info = "
                  "torch.lu(A, compute_pivots, get_infos=True)\nshould be replaced with\nLU, pivots, info = "
                  "torch.linalg.lu_factor_ex(A, compute_pivots)")
_LU_SOLVE_DEPRECATED = ("torch.lu_solve is deprecated in favor of torch.linalg.lu_solveand will be removed in a "
                        "future PyTorch release.\nNote that torch.linalg.lu_solve has its arguments reversed.\nX = "
                        "torch.lu_solve(B, LU, pivots)\nshould be replaced with\nX = torch.linalg.lu_solve(LU, "
                        "pivots, B)")


def lu(A: Any, pivot: bool = True, get_infos: bool = False) -> Any:  # noqa: N803
    """The deprecated torch.lu (with its warning): ``(LU, pivots)`` as :func:`lu_factor`, a plain tuple, without
    raising for a singular A; ``get_infos=True``: ``(LU, pivots, info)``, a ``return_types._lu_with_info``."""
    warnings.warn(_LU_DEPRECATED, UserWarning, stacklevel=2)
    packed, pivots, info = _factor(A, pivot, False, "lu")
    if flag(get_infos, "lu", "get_infos"):
        return return_types._lu_with_info(packed, pivots, info)
    return packed, pivots


def legacy_lu_solve(input: Any, LU_data: Any, LU_pivots: Any) -> Tensor:  # noqa: A002, N803
    """The deprecated torch.lu_solve(b, LU_data, LU_pivots) (with its warning): :func:`linalg_lu_solve` with its
    arguments in the old order."""
    warnings.warn(_LU_SOLVE_DEPRECATED, UserWarning, stacklevel=user_stacklevel(2))
    return linalg_lu_solve(LU_data, LU_pivots, input)


lu_solve = legacy_lu_solve

METHODS = {"lu": lu, "lu_solve": legacy_lu_solve}
