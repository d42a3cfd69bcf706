"""Pseudo-inverse, rank and least squares with ``torch.linalg``'s results: ``pinv``, ``matrix_rank``, ``lstsq``.

All three cut singular values at PyTorch's tolerance ``max(atol, rtol · σ_max)`` (atol 0 and rtol
``eps · max(m, n)`` by default). ``lstsq`` is ``pinv(A) @ B``, which is also how PyTorch differentiates it.
"""

from __future__ import annotations

from typing import Any

import numpy

from .. import backend, return_types
from ..recording import note_read
from ..tensor import Tensor
from .decompositions import PseudoInverse
from .linalg import matmul
from .linalg_arguments import LinalgShapeError, floating, info_tensor, matrices, module, same_dtype
from .norms import singular_values
from .shape import squeeze, unsqueeze
from .solvers import lapack_failures

LstsqResult = return_types.LstsqResult   # lstsq returns its subclass return_types.linalg_lstsq


def tolerances(A: Tensor, atol: Any, rtol: Any) -> tuple:
    """PyTorch's rule: atol 0 and rtol ``eps · max(m, n)`` by default; rtol 0 when only a positive atol is given."""
    default = float(numpy.finfo(A.dtype).eps) * max(A.shape[-2], A.shape[-1])
    atol_value = 0.0 if atol is None else (atol.data if isinstance(atol, Tensor) else float(atol))
    if rtol is not None:
        return atol_value, rtol.data if isinstance(rtol, Tensor) else float(rtol)
    if atol is None:
        return atol_value, default
    if isinstance(atol_value, float):
        return atol_value, 0.0 if atol_value > 0 else default
    return atol_value, module(atol_value).where(atol_value > 0, 0.0, default)


def pinv(A: Any, rcond: Any = None, hermitian: bool = False, *, atol: Any = None,  # noqa: N803
         rtol: Any = None) -> Tensor:
    """The Moore–Penrose pseudo-inverse (…, n, m) of A (…, m, n), from the SVD (``hermitian``: from eigh of a
    symmetric A): singular values at or below ``max(atol, rtol · σ_max)`` count as zero (``rcond`` is the older
    spelling of rtol). Gradient: the pseudo-inverse's derivative at constant rank, as PyTorch's."""
    name = "linalg.pinv"
    A = matrices(A, name, complex_ok=True)  # noqa: N806
    if rcond is not None:
        atol, rtol = 0.0, rcond
    atol_value, rtol_value = tolerances(A, atol, rtol)
    return PseudoInverse(atol_value, rtol_value, _square_if_hermitian(A, hermitian, name))(A)


def _square_if_hermitian(A: Tensor, hermitian: Any, name: str) -> bool:  # noqa: N803
    """``hermitian`` for A (…, m, n): PyTorch's eigh refuses m ≠ n, but an empty A still has its empty pseudo-inverse
    and rank 0 (then computed from the SVD: False)."""
    if hermitian and A.shape[-1] != A.shape[-2]:
        if A.numel():
            raise LinalgShapeError(f"{name}: hermitian=True needs square matrices, got shape {A.shape}")
        return False
    return bool(hermitian)


def matrix_rank(A: Any, tol: Any = None, hermitian: bool = False, *, atol: Any = None,  # noqa: N803
                rtol: Any = None) -> Tensor:
    """The number of singular values (…) int64 of A (…, m, n) above ``max(atol, rtol · σ_max)`` (``hermitian``:
    |eigenvalues| of a symmetric A; ``tol``: the older spelling of atol with rtol 0). No gradient."""
    name = "linalg.matrix_rank"
    A = matrices(A, name, complex_ok=True)  # noqa: N806
    if tol is not None:
        atol, rtol = tol, 0.0
    atol_value, rtol_value = tolerances(A, atol, rtol)
    hermitian = _square_if_hermitian(A, hermitian, name)

    def count(a: Any) -> Any:
        xp = module(a)
        with lapack_failures(name, a):
            values = xp.abs(xp.linalg.eigvalsh(a)) if hermitian else xp.linalg.svd(a, compute_uv=False)
        if values.shape[-1] == 0:
            return xp.zeros(values.shape[:-1], dtype=xp.int64)
        largest = values.max(axis=-1)
        cutoff = xp.maximum(xp.asarray(atol_value), xp.asarray(rtol_value) * largest)
        return xp.asarray((values > cutoff[..., None]).sum(axis=-1), dtype=xp.int64)   # (0-d: an array, not
        # NumPy's scalar, which a Tensor cannot be written through)

    with backend.on_device(A.device):
        return info_tensor(name, count(A.data), (A,), count)


_LSTSQ_DRIVERS = ("gels", "gelsy", "gelsd", "gelss")


class LstsqDriverError(ValueError, RuntimeError):
    """An unknown ``driver`` for :func:`lstsq`: PyTorch's RuntimeError, and a ValueError as before."""


def lstsq(A: Any, B: Any, rcond: float | None = None, *, driver: str | None = None) -> LstsqResult:  # noqa: N803
    """The least-squares solution X of ``A X ≈ B``, A (…, m, n), B (…, m, k) (or (…, m): vectors) → X (…, n, k),
    the minimum-norm one where A is rank-deficient (singular values at or below ``rcond · σ_max`` count as zero;
    default ``eps · max(m, n)``; ``"gels"`` ignores ``rcond``, as PyTorch's), computed as ``pinv(A) @ B``: its
    gradient is PyTorch's.

    The other fields follow ``driver`` as PyTorch's CPU drivers do (default ``"gelsy"``): ``residuals`` (…, k),
    the squared residual norms, only for ``"gels"``, ``"gelsd"``, ``"gelss"`` when m > n and (except for
    ``"gels"``, which does not test the rank) every A has full rank (else empty); ``rank`` (…) int64 except for
    ``"gels"``; ``singular_values`` (…, min(m, n)) only for
    ``"gelsd"``, ``"gelss"``. The driver does not change the solution (LAPACK's differ only in rounding). Complex A
    and B: the same, with real residuals ``|AX - B|²`` and singular values, as PyTorch's."""
    name = "linalg.lstsq"
    A, B = matrices(A, name, complex_ok=True), floating(B, name, "B", complex_ok=True)  # noqa: N806
    same_dtype(name, A, B, "A and B")
    driver = "gelsy" if driver is None else driver
    if driver not in _LSTSQ_DRIVERS:
        raise LstsqDriverError(f"{name}: driver should be one of {', '.join(_LSTSQ_DRIVERS)}, got {driver!r}")
    vector = B.ndim == A.ndim - 1 and tuple(B.shape) == tuple(A.shape[:-1])
    matrix_b = unsqueeze(B, -1) if vector else B
    if matrix_b.ndim < 2 or matrix_b.shape[-2] != A.shape[-2]:
        raise LinalgShapeError(f"{name}: A (…, m, n) and B (…, m, k) need the same m, got shapes {A.shape} and "
                               f"{B.shape}")
    m, n = A.shape[-2], A.shape[-1]
    # gels (QR, no rank decision) ignores rcond, as PyTorch's
    rtol = float(numpy.finfo(A.dtype).eps) * max(m, n) if rcond is None or driver == "gels" else rcond
    solution = matmul(pinv(A, rtol=rtol), matrix_b)
    rank = matrix_rank(A, atol=0.0, rtol=rtol)
    with backend.on_device(A.device):
        xp = module(A.data)
        real_dtype = xp.zeros((), dtype=A.dtype).real.dtype   # complex A: real residuals, as PyTorch's
        residuals = singular = Tensor._make(xp.zeros((0,), dtype=real_dtype), False, None, 0)   # empty, as PyTorch's
        no_rank = Tensor._make(xp.zeros((0,), dtype=xp.int64), False, None, 0)
    note_read(rank, "bool")   # whether residuals exist depends on the rank: mg.compile runs this eagerly
    if driver != "gelsy" and m > n and (driver == "gels" or bool((rank.data == n).all())):   # gels: no rank test
        residual = matmul(A, solution) - matrix_b
        residuals = (residual * residual.conj()).real.sum(-2)   # (…, 1) for vectors too, as PyTorch's
        if n == 0 and driver == "gels":   # PyTorch's gels reports zeros for an A without columns
            residuals = residuals - residuals.detach()   # (its gradient stays that of |AX - B|², as theirs)
    if driver in ("gelsd", "gelss"):
        singular = singular_values(A).detach()   # no gradient, as PyTorch's
    return return_types.linalg_lstsq(squeeze(solution, -1) if vector else solution, residuals,
                                     no_rank if driver == "gels" else rank, singular)


# --- products and helpers ------------------------------------------------------------------------------------
