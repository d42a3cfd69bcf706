"""The LDL family of ``torch.linalg``: ``ldl_factor``, ``ldl_factor_ex`` and ``ldl_solve``, in LAPACK's layout.

``A = P L D Lᵀ Pᵀ`` for a symmetric (possibly indefinite) A (…, n, n) read from its lower triangle, by
Bunch-Kaufman diagonal pivoting (LAPACK's ``sytrf`` with ``uplo='L'``, whose unblocked ``sytf2`` this follows
step for step; complex A: ``zsytf2``, comparing sizes ``|Re| + |Im|`` as LAPACK; ``hermitian=True``: A = P L D Lᴴ Pᵀ
by ``zhetf2``, which reads only the real parts of A's diagonal and conjugates where the pivoting crosses it): D is
block diagonal with 1×1 and 2×2 blocks, L unit lower triangular. The result is packed as LAPACK's: ``LD``
(…, n, n) holds D's blocks on the diagonal (a 2×2 block's off-diagonal element below it) and the multipliers of L
below, zeros above; ``pivots`` (…, n) int32 are LAPACK's ``ipiv`` (1-based: ``k`` > 0 a 1×1 block after swapping
rows/columns with ``k``; a pair ``-k, -k`` a 2×2 block after swapping the second row with
``k``). ``ldl_solve`` is LAPACK's ``sytrs`` (``hetrs``) on those factors.

The pivot choice depends on the values, so each matrix of a batch is its own loop of n array steps (on CuPy
each step reads two numbers back to the host). Neither function has a gradient, as in PyTorch: backward raises.
"""

from __future__ import annotations

import math
from typing import Any

from .. import return_types
from ..autograd import Function
from ..tensor import Tensor
from ._util import flag, tensor_arg
from .linalg_arguments import LinalgShapeError, floating, matrices, same_dtype
from .solvers import LinAlgError, batch_shape, pivot_size, where_text

__all__ = ["ldl_factor", "ldl_factor_ex", "ldl_solve"]

_ALPHA = (1 + math.sqrt(17)) / 8   # Bunch-Kaufman's threshold, as LAPACK's


def _swap(a: Any, first: Any, second: Any) -> None:
    kept = a[first].copy()
    a[first] = a[second]
    a[second] = kept


def _real_diagonal(xp: Any, a: Any) -> None:
    """Drop the imaginary parts of the square ``a``'s diagonal in place (LAPACK's Hermitian routines do)."""
    index = xp.arange(a.shape[0])
    a[index, index] = a[index, index].real


def _real_at(a: Any, k: int) -> None:
    """Drop the imaginary part of ``a[k, k]`` in place, written through the ``.imag`` view: CuPy's ``a[k, k] =
    a[k, k].real`` writes nothing (its source shares the target's memory, shape and strides, so the copy is
    skipped whatever the dtypes)."""
    a[k:k + 1, k].imag = 0


def factor_one(xp: Any, a: Any, hermitian: bool = False) -> tuple[Any, list[int], int]:
    """``(LD, ipiv, info)`` of one symmetric matrix a (n, n) (lower triangle read), as LAPACK's ``sytf2``; a complex
    a with ``hermitian``: A = P L D Lᴴ Pᵀ as ``hetf2`` (only the real parts of the diagonal read, D's 1×1 blocks
    real). Complex sizes are LAPACK's ``|Re| + |Im|``."""
    n = a.shape[0]
    a = xp.tril(a).copy()
    herm = hermitian and a.dtype.kind == "c"

    def diagonal_size(value: Any) -> float:   # hetf2 reads the real part of the diagonal only
        return abs(float(value.real)) if herm else float(pivot_size(xp, value))

    pivots, info, k = [0] * n, 0, 0
    while k < n:
        step = 1
        absakk = diagonal_size(a[k, k])
        if k + 1 < n:
            column = pivot_size(xp, a[k + 1:, k])
            imax = k + 1 + int(xp.argmax(column))
            colmax = float(column[imax - k - 1])
        else:
            imax, colmax = k, 0.0
        if max(absakk, colmax) == 0 or math.isnan(absakk):
            info = info or k + 1   # D(k, k) is exactly zero: no elimination at this step, as LAPACK
            kp = k
            if herm:
                _real_at(a, k)
        else:
            if absakk >= _ALPHA * colmax:
                kp = k
            else:
                rowmax = float(pivot_size(xp, a[imax, k:imax]).max())
                if imax + 1 < n:
                    rowmax = max(rowmax, float(pivot_size(xp, a[imax + 1:, imax]).max()))
                if absakk >= _ALPHA * colmax * (colmax / rowmax):
                    kp = k
                elif diagonal_size(a[imax, imax]) >= _ALPHA * rowmax:
                    kp = imax
                else:
                    kp, step = imax, 2
            kk = k + step - 1
            if kp != kk:   # swap rows and columns kk and kp of the trailing lower triangle
                if kp + 1 < n:
                    _swap(a, (slice(kp + 1, None), kk), (slice(kp + 1, None), kp))
                if herm:   # the part between crosses the diagonal: conjugated, as A(kp, kk)
                    kept = a[kk + 1:kp, kk].conj()
                    a[kk + 1:kp, kk] = a[kp, kk + 1:kp].conj()
                    a[kp, kk + 1:kp] = kept
                    a[kp, kk] = a[kp, kk].conj()
                    kept = a[kk, kk].real.copy()
                    a[kk, kk] = a[kp, kp].real
                    a[kp, kp] = kept
                    if step == 2:
                        _real_at(a, k)
                else:
                    _swap(a, (slice(kk + 1, kp), kk), (kp, slice(kk + 1, kp)))
                    _swap(a, (kk, kk), (kp, kp))
                if step == 2:
                    _swap(a, (k + 1, k), (kp, k))
            elif herm:
                _real_at(a, k)
                if step == 2:
                    _real_at(a, k + 1)
            if step == 1 and k + 1 < n and herm:   # A₂₂ -= x xᴴ / d (zher), then the multipliers x / d
                inverse = 1 / a[k, k].real
                x = a[k + 1:, k].copy()
                a[k + 1:, k + 1:] -= xp.outer(x, inverse * x.conj())
                _real_diagonal(xp, a[k + 1:, k + 1:])
                a[k + 1:, k] = x * inverse
            elif step == 1 and k + 1 < n:   # A₂₂ -= x xᵀ / d, then the multipliers x / d
                x = a[k + 1:, k].copy()
                a[k + 1:, k + 1:] -= xp.outer(x, x) / a[k, k]
                a[k + 1:, k] = x / a[k, k]
            elif step == 2 and k + 2 < n and herm:   # hetf2's W = [c_k c_k+1] D⁻¹ for the Hermitian block
                magnitude = xp.abs(a[k + 1, k])
                d11, d22 = a[k + 1, k + 1].real / magnitude, a[k, k].real / magnitude
                d21, scale = a[k + 1, k] / magnitude, 1 / (d11 * d22 - 1) / magnitude
                first, second = a[k + 2:, k].copy(), a[k + 2:, k + 1].copy()
                w_first, w_second = scale * (d11 * first - d21 * second), scale * (d22 * second - d21.conj() * first)
                a[k + 2:, k + 2:] -= xp.outer(first, w_first.conj()) + xp.outer(second, w_second.conj())
                _real_diagonal(xp, a[k + 2:, k + 2:])
                a[k + 2:, k], a[k + 2:, k + 1] = w_first, w_second
            elif step == 2 and k + 2 < n:   # the 2×2 block's multipliers W = [c_k c_k+1] D⁻¹
                d21 = a[k + 1, k]
                d11, d22 = a[k + 1, k + 1] / d21, a[k, k] / d21
                d21 = 1 / (d11 * d22 - 1) / d21
                first, second = a[k + 2:, k].copy(), a[k + 2:, k + 1].copy()
                w_first, w_second = d21 * (d11 * first - second), d21 * (d22 * second - first)
                a[k + 2:, k + 2:] -= xp.outer(first, w_first) + xp.outer(second, w_second)
                a[k + 2:, k], a[k + 2:, k + 1] = w_first, w_second
        if step == 1:
            pivots[k] = kp + 1
        else:
            pivots[k] = pivots[k + 1] = -(kp + 1)
        k += step
    return xp.tril(a), pivots, info


def solve_one(xp: Any, ld: Any, pivots: list[int], b: Any, hermitian: bool = False) -> Any:
    """X (n, m) with ``A X = B`` from A's packed factors ``ld`` (n, n) and ``pivots``, as LAPACK's ``sytrs``
    (``hermitian`` and complex: ``hetrs``, with A = P L D Lᴴ Pᵀ)."""
    n = ld.shape[0]
    b = b.copy()
    herm = hermitian and ld.dtype.kind == "c"
    k = 0
    while k < n:   # L D Y = Pᵀ B
        if pivots[k] > 0:
            _swap(b, k, pivots[k] - 1)
            b[k + 1:] -= xp.outer(ld[k + 1:, k], b[k])
            b[k] /= ld[k, k].real if herm else ld[k, k]
            k += 1
        else:
            _swap(b, k + 1, -pivots[k] - 1)
            b[k + 2:] -= xp.outer(ld[k + 2:, k], b[k]) + xp.outer(ld[k + 2:, k + 1], b[k + 1])
            off = ld[k + 1, k]
            upper_off = off.conj() if herm else off   # D's block is [[d₁, conj(off)], [off, d₂]] when Hermitian
            first, second = ld[k, k] / upper_off, ld[k + 1, k + 1] / off
            denominator = first * second - 1
            b_first, b_second = b[k] / upper_off, b[k + 1] / off
            b[k], b[k + 1] = (second * b_first - b_second) / denominator, (first * b_second - b_first) / denominator
            k += 2
    k = n - 1
    while k >= 0:   # Lᵀ Pᵀ X = Y (Lᴴ when Hermitian)
        column = ld[k + 1:, k].conj() if herm else ld[k + 1:, k]
        b[k] -= column @ b[k + 1:]
        if pivots[k] > 0:
            _swap(b, k, pivots[k] - 1)
            k -= 1
        else:
            b[k - 1] -= (ld[k + 1:, k - 1].conj() if herm else ld[k + 1:, k - 1]) @ b[k + 1:]
            _swap(b, k, -pivots[k] - 1)
            k -= 2
    return b


class LDLFactor(Function):
    """``(LD, pivots, info)`` of A (…, n, n): LD (…, n, n), pivots (…, n) int32, info (…) int32 (0, or the
    1-based index of an exactly zero diagonal block of D). ``check_errors``: a nonzero info raises."""

    name = "linalg.ldl_factor_ex"
    multiple = True
    n_outputs = 3
    complex_grad = True   # backward raises for complex inputs too, as for real ones (PyTorch has no derivative)

    def __init__(self, check_errors: bool, hermitian: bool = False) -> None:
        self.check_errors = check_errors
        self.hermitian = hermitian

    def forward(self, a: Any) -> tuple:
        xp = self.xp
        *batch, n, _ = a.shape
        flat = a.reshape(math.prod(batch), n, n)
        factors, pivots, infos = xp.empty_like(flat), [], []
        for i in range(flat.shape[0]):
            factors[i], element_pivots, info = factor_one(xp, flat[i], self.hermitian)
            pivots.append(element_pivots)
            infos.append(info)
            if info and self.check_errors:
                raise LinAlgError(f"{self.name}: the factorization could not be completed because the input is "
                                  f"singular: D's diagonal element {info} is exactly zero{where_text(i, a.shape)}")
        pivot_array = xp.asarray(pivots, dtype=xp.int32).reshape(tuple(batch) + (n,))
        info_array = xp.asarray(infos, dtype=xp.int32).reshape(tuple(batch))
        return factors.reshape(a.shape), pivot_array, info_array

    def backward(self, *grads: Any) -> Any:
        raise NotImplementedError(f"{self.name}: the derivative for 'linalg_ldl_factor_ex' is not implemented (as "
                                  "in PyTorch)")


class LDLSolve(Function):
    """X (…, n, k) of ``A X = B`` from ``ldl_factor``'s LD (…, n, n) and pivots (…, n), B (…, n, k); the batch
    dims broadcast. No gradient, as in PyTorch."""

    name = "linalg.ldl_solve"
    complex_grad = True   # backward raises for complex inputs too, as for real ones (PyTorch has no derivative)

    def __init__(self, hermitian: bool = False) -> None:
        self.hermitian = hermitian

    def forward(self, ld: Any, pivots: Any, b: Any) -> Any:
        xp = self.xp
        n, columns = ld.shape[-1], b.shape[-1]
        batch = batch_shape(ld.shape[:-2], pivots.shape[:-1], b.shape[:-2])
        count = math.prod(batch)
        ld = xp.broadcast_to(ld, batch + (n, n)).reshape(count, n, n)
        b = xp.broadcast_to(b, batch + (n, columns)).reshape(count, n, columns)
        pivot_rows = xp.broadcast_to(pivots, batch + (n,)).reshape(count, n).tolist()   # one host read
        out = xp.empty_like(b)
        for i in range(count):
            out[i] = solve_one(xp, ld[i], pivot_rows[i], b[i], self.hermitian)
        return out.reshape(batch + (n, columns))

    def backward(self, g: Any) -> Any:
        raise NotImplementedError(f"{self.name}: the derivative for 'linalg_ldl_solve' is not implemented (as in "
                                  "PyTorch)")


def _factor(A: Any, hermitian: bool, check_errors: bool, name: str) -> tuple:  # noqa: N803
    hermitian = flag(hermitian, name, "hermitian")   # only complex matrices tell the two apart
    op = LDLFactor(flag(check_errors, name, "check_errors"), hermitian)
    op.name = name
    return op(matrices(A, name, square=True, complex_ok=True))


def ldl_factor_ex(A: Any, *, hermitian: bool = False, check_errors: bool = False) -> Any:  # noqa: N803
    """``(LD, pivots, info)`` of torch.linalg.ldl_factor_ex for a symmetric A (…, n, n) (``hermitian``: a
    Hermitian complex A; lower triangle read): LD
    (…, n, n) and pivots (…, n) int32 in LAPACK's layout (see the module), info (…) int32, 0 or the 1-based index
    of an exactly zero diagonal element of D. ``check_errors``: a nonzero info raises :class:`LinAlgError`."""
    ld, pivots, info = _factor(A, hermitian, check_errors, "linalg.ldl_factor_ex")
    return return_types.linalg_ldl_factor_ex(ld, pivots.detach(), info.detach())


def ldl_factor(A: Any, *, hermitian: bool = False) -> Any:  # noqa: N803
    """``(LD, pivots)`` of torch.linalg.ldl_factor: :func:`ldl_factor_ex` that raises :class:`LinAlgError` where D
    is singular (PyTorch raises there too)."""
    ld, pivots, _ = _factor(A, hermitian, True, "linalg.ldl_factor")
    return return_types.linalg_ldl_factor(ld, pivots.detach())


def ldl_solve(LD: Any, pivots: Any, B: Any, *, hermitian: bool = False) -> Tensor:  # noqa: N803
    """X (…, n, k) with ``A X = B`` for A given by :func:`ldl_factor`'s ``LD`` (…, n, n) and ``pivots`` (…, n)
    and B (…, n, k); batch dims broadcast. As torch.linalg.ldl_solve (no gradient: backward raises)."""
    name = "linalg.ldl_solve"
    hermitian = flag(hermitian, name, "hermitian")
    LD = matrices(LD, name, square=True, what="LD", complex_ok=True)  # noqa: N806
    B = floating(B, name, "B", complex_ok=True)  # noqa: N806
    pivots = tensor_arg(pivots, name)
    if pivots.dtype.kind not in "iu":
        raise TypeError(f"{name}: pivots must be an integer tensor (as ldl_factor returns), got dtype {pivots.dtype}")
    if tuple(pivots.shape) != tuple(LD.shape[:-1]):
        raise LinalgShapeError(f"{name}: Expected LD.shape[:-1] and pivots.shape to be the same, but got pivots with "
                               f"shape {pivots.shape} instead (LD {LD.shape})")
    if B.ndim < 2 or B.shape[-2] != LD.shape[-1]:
        raise LinalgShapeError(f"{name}: Incompatible matrix sizes: each A matrix is {LD.shape[-1]} by "
                               f"{LD.shape[-1]} but each b matrix is {tuple(B.shape[-2:])} (shapes: LD {LD.shape}, "
                               f"B {B.shape})")
    try:
        batch_shape(LD.shape[:-2], B.shape[:-2])
    except ValueError:
        raise LinalgShapeError(f"{name}: the batch dims of LD {LD.shape} and B {B.shape} do not broadcast") from None
    same_dtype(name, LD, B, "LD and B")
    return LDLSolve(hermitian)(LD, pivots, B)
