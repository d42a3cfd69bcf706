"""PyTorch's older linear-algebra spellings, still common in programs written before ``torch.linalg``:
``svd`` (U, S, V), ``qr(some=)``, ``cholesky(upper=)``, ``cholesky_solve``, ``cholesky_inverse`` and
``triangular_solve`` (functions and Tensor methods). Each is ``mg.linalg``'s op with the old arguments and
results, so the gradients are those ops' (``cholesky_solve`` and ``cholesky_inverse`` are ops of their own, with
PyTorch's gradients); ``qr``, ``cholesky`` and ``triangular_solve`` warn as PyTorch's do."""

from __future__ import annotations

import importlib
import warnings
from typing import Any

import numpy

from . import return_types
from .constructors import zeros
from .ops._util import flag, tensor_arg
from .ops.cholesky_solve import CholeskyInverse, CholeskySolve
from .ops.linalg_arguments import LinalgShapeError, matrices, same_dtype
from .outputs import user_stacklevel
from .tensor import Tensor

__all__ = ["cholesky", "cholesky_inverse", "cholesky_solve", "qr", "svd", "triangular_solve"]


class _Linalg:
    """``mg.linalg``, imported on first use (``import minigrad`` does not load it)."""

    def __getattr__(self, name: str) -> Any:
        return getattr(importlib.import_module("minigrad.linalg"), name)


linalg = _Linalg()


def svd(input: Tensor, some: bool = True, compute_uv: bool = True) -> Any:  # noqa: A002 - PyTorch's names
    """``(U, S, V)`` with ``input = U diag(S) Vᴴ`` for input (…, m, n), k = min(m, n): ``some`` U (…, m, k),
    V (…, n, k), else U (…, m, m), V (…, n, n); ``compute_uv=False``: zero U (…, m, m) and V (…, n, n), as
    torch.svd. A ``minigrad.return_types.svd``."""
    A = tensor_arg(input, "svd")   # noqa: N806
    some, compute_uv = flag(some, "svd", "some"), flag(compute_uv, "svd", "compute_uv")
    if not compute_uv:
        m, n = A.shape[-2], A.shape[-1]
        batch = A.shape[:-2]
        return return_types.svd(zeros(*batch, m, m, dtype=A.dtype, device=A.device), linalg.svdvals(A),
                                zeros(*batch, n, n, dtype=A.dtype, device=A.device))
    U, S, Vh = linalg.svd(A, full_matrices=not some)   # noqa: N806
    return return_types.svd(U, S, Vh.mH)


def qr(input: Tensor, some: bool = True) -> Any:  # noqa: A002
    """``linalg.qr(input, 'reduced' if some else 'complete')``, as the deprecated torch.qr (with its warning).
    A ``minigrad.return_types.qr``."""
    warnings.warn("torch.qr is deprecated in favor of torch.linalg.qr and will be removed in a future PyTorch "
                  "release.", UserWarning, stacklevel=user_stacklevel(2))
    return return_types.qr(*linalg.qr(input, "reduced" if flag(some, "qr", "some") else "complete"))


def cholesky(input: Tensor, upper: bool = False) -> Tensor:  # noqa: A002
    """``linalg.cholesky(input, upper=upper)``, as the deprecated torch.cholesky (with its warning)."""
    warnings.warn("torch.cholesky is deprecated in favor of torch.linalg.cholesky and will be removed in a future "
                  "PyTorch release.", UserWarning, stacklevel=user_stacklevel(2))
    return linalg.cholesky(input, upper=flag(upper, "cholesky", "upper"))


def cholesky_solve(input: Tensor, input2: Tensor, upper: bool = False) -> Tensor:  # noqa: A002
    """X with ``A X = B`` for B = ``input`` (…, n, k) and A = L Lᵀ given by its Cholesky factor L = ``input2``
    (…, n, n) (``upper=True``: U with A = Uᵀ U), batch dims broadcast, as torch.cholesky_solve: only the factor's
    triangle is read, and its gradient is PyTorch's (:mod:`minigrad.ops.cholesky_solve`)."""
    name = "cholesky_solve"
    B, factor = tensor_arg(input, name), tensor_arg(input2, name)   # noqa: N806
    upper = flag(upper, name, "upper")
    if B.ndim < 2 or factor.ndim < 2 or B.shape[-2] != factor.shape[-1] or not _broadcastable(B, factor):
        raise LinalgShapeError(f"cholesky_solve: incompatible matrix sizes: each A matrix is {factor.shape[-2:]} but "
                               f"each b matrix is {B.shape[-2:]} (shapes {factor.shape} and {B.shape})")
    B, factor = matrices(B, name, what="B", complex_ok=True), matrices(factor, name, square=True, complex_ok=True)  # noqa: N806
    same_dtype(name, B, factor, "B and A")
    return CholeskySolve(upper)(B, factor)


def _broadcastable(B: Tensor, factor: Tensor) -> bool:  # noqa: N803
    try:
        numpy.broadcast_shapes(B.shape[:-2], factor.shape[:-2])
    except ValueError:
        return False
    return True


def cholesky_inverse(input: Tensor, upper: bool = False) -> Tensor:  # noqa: A002
    """The inverse (…, n, n) of A = L Lᵀ (``upper=True``: Uᵀ U) from its Cholesky factor ``input`` (…, n, n), as
    torch.cholesky_inverse: only the factor's triangle is read, and its gradient is PyTorch's
    (:mod:`minigrad.ops.cholesky_solve`)."""
    factor = tensor_arg(input, "cholesky_inverse")
    upper = flag(upper, "cholesky_inverse", "upper")
    if factor.ndim < 2 or factor.shape[-1] != factor.shape[-2]:
        raise LinalgShapeError(f"cholesky_inverse: the input must be a square matrix or a batch of them (…, n, n), got "
                               f"shape {factor.shape}")
    return CholeskyInverse(upper)(matrices(factor, "cholesky_inverse", square=True, complex_ok=True))


def triangular_solve(input: Tensor, A: Tensor, upper: bool = True, transpose: bool = False,  # noqa: A002, N803
                     unitriangular: bool = False) -> Any:
    """``(solution, cloned_coefficient)``: X with ``A X = B`` (``transpose``: ``Aᵀ X = B``) for B = ``input``
    (…, n, k) and a triangular A (…, n, n) (its ``upper`` or lower triangle; ``unitriangular``: ones on the
    diagonal), as the deprecated torch.triangular_solve (with its warning). A
    ``minigrad.return_types.triangular_solve``."""
    warnings.warn("torch.triangular_solve is deprecated in favor of torch.linalg.solve_triangular and will be "
                  "removed in a future PyTorch release.", UserWarning, stacklevel=user_stacklevel(2))
    B, A = tensor_arg(input, "triangular_solve"), tensor_arg(A, "triangular_solve")   # noqa: N806
    upper = flag(upper, "triangular_solve", "upper")
    transpose = flag(transpose, "triangular_solve", "transpose")
    unitriangular = flag(unitriangular, "triangular_solve", "unitriangular")
    triangle = A.triu() if upper else A.tril()
    coefficient = triangle.mT if transpose else triangle
    solution = linalg.solve_triangular(coefficient, B, upper=upper != transpose, unitriangular=unitriangular)
    return return_types.triangular_solve(solution, A.clone())


METHODS = {name: globals()[name] for name in __all__}
