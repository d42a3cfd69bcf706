"""``mg.linalg``: PyTorch's ``torch.linalg`` namespace (``import minigrad as mg; mg.linalg.inv(A)``).

Every function takes batches: ``A`` is ``(…, m, n)`` (``(…, n, n)`` where a square matrix is needed)
and the leading dims are a batch, as PyTorch's. Results, dtypes, shapes, errors and gradients follow
PyTorch 2.13 for float32 and float64 tensors; integer, bool and float16 inputs raise as PyTorch's do,
complex inputs are taken (with PyTorch's gradients) by inv, solve, matrix_power, det, slogdet, cholesky, matrix_exp,
eigh, eigvalsh, eig, eigvals, svd, svdvals, pinv, matrix_norm, cond, matrix_rank, qr, lstsq, the LU family,
solve_triangular, householder_product, tensorinv and tensorsolve (``eig``/``eigvals`` return complex values for real
inputs too); ldl_factor, ldl_factor_ex and ldl_solve take complex symmetric (``hermitian=False``) and Hermitian
(``hermitian=True``) matrices with LAPACK's pivots, without a gradient as in PyTorch. Named
results are tuples with PyTorch's field names (``mg.linalg.slogdet(A).logabsdet``).

The ops (forward and backward on arrays) live in :mod:`minigrad.ops.solvers` (inv, solve, det,
slogdet), :mod:`minigrad.ops.decompositions` (cholesky, qr, eigh, eig, eigvals, svd, pinv) and
:mod:`minigrad.ops.matrix_functions` (matrix_exp); they run on NumPy and CuPy through ``xp.linalg``.
The compositions live in :mod:`minigrad.ops.norms`, :mod:`minigrad.ops.least_squares` (pinv,
matrix_rank, lstsq) and :mod:`minigrad.ops.matrix_products` (vecdot, multi_dot, vander, tensorinv,
tensorsolve); this module checks arguments, names the results and holds the thin wrappers.

A singular matrix in ``inv``/``solve`` and a matrix that is not positive-definite in ``cholesky``
raise :class:`LinAlgError` (a RuntimeError, as ``torch.linalg.LinAlgError``) naming the function,
the failing pivot or minor, and the batch element. Where CuPy lacks a routine (a matrix exponential,
a batched least-squares solver), the code uses array ops and ``solve``/``svd``, on both backends.

The LU family (``lu_factor``, ``lu_factor_ex``, ``lu``, ``lu_solve``) lives in :mod:`minigrad.ops.lu`.

``householder_product`` (Q from ``geqrf``'s packed reflectors) lives in :mod:`minigrad.ops.householder`, with
``mg.geqrf``, ``mg.orgqr`` and ``mg.ormqr``; the LDL family (``ldl_factor``, ``ldl_factor_ex``, ``ldl_solve``) in
:mod:`minigrad.ops.ldl`.

Each function but ``diagonal``, ``matrix_exp`` and ``vander`` takes PyTorch's ``out=`` (:mod:`minigrad.outputs`).
"""

from __future__ import annotations

from typing import Any

import numpy

from . import backend, return_types
from .ops._util import int_arg, tensor_arg
from .ops.arrange import diagonal as _diagonal
from .ops.combine import linalg_cross
from .ops.combine import matrix_power as _matrix_power
from .ops.decompositions import QR, SVD, Cholesky, EigenValues, Eigh
from .ops.householder import householder_product
from .ops.index import tril, triu
from .ops.ldl import ldl_factor, ldl_factor_ex, ldl_solve
from .ops.least_squares import LstsqResult, lstsq, matrix_rank, pinv
from .ops.linalg import matmul
from .ops.linalg_arguments import LinalgShapeError, floating, matrices, module, same_dtype
from .ops.lu import linalg_lu as lu
from .ops.lu import linalg_lu_solve as lu_solve
from .ops.lu import lu_factor, lu_factor_ex
from .ops.matrix_functions import MatrixExp
from .ops.matrix_products import multi_dot, tensorinv, tensorsolve, vander, vecdot
from .ops.norms import cond, matrix_norm, norm, singular_values, vector_norm
from .ops.shape import squeeze, swapaxes, unsqueeze
from .ops.solvers import Det, Inverse, LinAlgError, SignLogDet, Solve, TriangularSolve
from .recording import is_recording
from .return_types import (  # the result tuples' field layouts (PyTorch's names: return_types)
    CholeskyExResult,
    EighResult,
    EigResult,
    InvExResult,
    QRResult,
    SlogdetResult,
    SolveExResult,
    SVDResult,
)
from .tensor import Tensor

__all__ = ["CholeskyExResult", "EigResult", "EighResult", "InvExResult", "LinAlgError", "LstsqResult",
           "QRResult",
           "SVDResult", "SlogdetResult", "SolveExResult", "cholesky", "cholesky_ex", "cond", "cross", "det",
           "diagonal", "eig", "eigh", "eigvals", "eigvalsh", "householder_product", "inv", "inv_ex", "ldl_factor",
           "ldl_factor_ex", "ldl_solve", "lstsq", "lu", "lu_factor", "lu_factor_ex", "lu_solve", "matmul",
           "matrix_exp", "matrix_norm",
           "matrix_power", "matrix_rank", "multi_dot", "norm", "pinv", "qr", "slogdet", "solve", "solve_ex",
           "solve_triangular", "svd", "svdvals", "tensorinv", "tensorsolve", "vander", "vecdot", "vector_norm"]


# --- inverses and linear systems -----------------------------------------------------------------------------

def inv(A: Any) -> Tensor:  # noqa: N803
    """The inverse of each matrix of A (…, n, n) → (…, n, n); a singular matrix raises :class:`LinAlgError`
    ("linalg.inv: the input is not invertible (singular) …", naming the zero pivot and the batch element).
    Gradient ``-A⁻ᵀ g A⁻ᵀ`` (complex A: ``-A⁻ᴴ g A⁻ᴴ``, PyTorch's)."""
    return Inverse()(matrices(A, "linalg.inv", square=True, complex_ok=True))


def inv_ex(A: Any, *, check_errors: bool = False) -> InvExResult:  # noqa: N803
    """``(inverse, info)`` without raising (unless ``check_errors``): ``info`` (…) int32 is 0 for an invertible
    matrix, else the 1-based index of the zero pivot of its LU factorization (LAPACK's ``getrf`` info, as
    PyTorch's). The inverse of a singular matrix is NaN (PyTorch leaves LAPACK's inf/NaN there)."""
    name = "linalg.inv_ex"
    op = Inverse(check_errors, with_info=True)
    op.name = name
    inverse, info = op(matrices(A, name, square=True, complex_ok=True))
    return return_types.linalg_inv_ex(inverse, info.detach())


def _solve_case(A: Tensor, B: Tensor, left: bool, name: str, vectors: bool = True) -> bool:
    """Whether B is a (batch of) vector(s), by PyTorch's rule for ``linalg.solve``; raises for shapes that do not
    fit. ``vectors=False`` (``solve_triangular``, whose B is always a matrix (…, n, k)): never a vector."""
    n = A.shape[-1]
    vector = vectors and (B.ndim == 1 or (B.ndim == A.ndim - 1 and tuple(B.shape) == tuple(A.shape[:-1])))
    equation = "AX = B" if left else "XA = B"
    if vector and not left:
        raise LinalgShapeError(f"{name}: incompatible shapes of A {A.shape} and B {B.shape} for the equation XA = B: "
                               f"Vector broadcasting of the left hand side is not supported for left=False. In this "
                               f"case {name} is equivalent to B / A.squeeze(-1)")
    if vector:
        fits = B.shape[-1] == n
    else:
        fits = B.ndim >= 2 and B.shape[-2 if left else -1] == n
    if fits and not vector:
        try:
            numpy.broadcast_shapes(A.shape[:-2], B.shape[:-2])
        except ValueError:
            fits = False
    if not fits:
        hint = " (B of A's batch shape + (n,) is read as a batch of column vectors)" if vector else ""
        raise LinalgShapeError(f"{name}: incompatible shapes of A {A.shape} and B {B.shape} for the equation "
                               f"{equation}{hint}")
    return vector


def _solve(A: Any, B: Any, left: bool, check_errors: bool, name: str, with_info: bool = False,  # noqa: N803
           vectors: bool = True, complex_ok: bool = False) -> Any:
    """X (and, ``with_info``, LAPACK's info) of ``A X = B`` (``X A = B`` unless ``left``); ``vectors``: whether B may
    be a batch of vectors (as in ``linalg.solve``; ``solve_triangular`` takes matrices only); ``complex_ok``: complex
    A and B are solved too (``linalg.solve``)."""
    A, B = matrices(A, name, square=True, complex_ok=complex_ok), floating(B, name, "B", complex_ok)  # noqa: N806
    same_dtype(name, A, B)
    vector = _solve_case(A, B, left, name, vectors)
    op = Solve(vector and left, check_errors, with_info, transposed=not left)
    op.name = name
    if left:
        return op(A, B)
    # X A = B  ⇔  Aᵀ Xᵀ = Bᵀ
    matrix_b = unsqueeze(B, -1) if vector else B
    out = op(swapaxes(A, -1, -2), swapaxes(matrix_b, -1, -2))
    result = swapaxes(out[0] if with_info else out, -1, -2)
    result = squeeze(result, -1) if vector else result
    return (result, out[1]) if with_info else result


def solve(A: Any, B: Any, *, left: bool = True) -> Tensor:  # noqa: N803
    """X with ``A X = B`` (``left=False``: ``X A = B``) for A (…, n, n) and B (…, n, k), batch dims broadcast →
    X (…, n, k). B of shape (n,), or of A's batch shape + (n,), is a batch of vectors: X has B's batch shape too,
    as PyTorch reads it. A singular A raises :class:`LinAlgError`. Gradients ``gB = A⁻ᵀ gX``, ``gA = -gB Xᵀ`` (complex:
    ``A⁻ᴴ`` and ``Xᴴ``, PyTorch's)."""
    return _solve(A, B, left, True, "linalg.solve", complex_ok=True)


def solve_ex(A: Any, B: Any, *, left: bool = True, check_errors: bool = False) -> SolveExResult:  # noqa: N803
    """``(result, info)`` of :func:`solve` without raising: ``info`` (…) int32 as :func:`inv_ex`'s; the result for
    a singular A is NaN."""
    result, info = _solve(A, B, left, check_errors, "linalg.solve_ex", with_info=True, complex_ok=True)
    return return_types.linalg_solve_ex(result, info.detach())


def solve_triangular(A: Any, B: Any, *, upper: bool, left: bool = True,  # noqa: N803
                     unitriangular: bool = False) -> Tensor:
    """X with ``A X = B`` (``left=False``: ``X A = B``) for a triangular A (…, n, n) (only its ``upper`` or lower
    triangle is read; ``unitriangular``: its diagonal is taken as ones) and B (…, n, k) (left) or (…, k, n). The
    gradient of A is its triangle's, as PyTorch's. Solved by substitution without a check, as PyTorch's: a zero on
    the diagonal gives inf (or NaN for 0/0), an inf in B gives NaN where a later row meets it through a zero."""
    name = "linalg.solve_triangular"
    A, B = matrices(A, name, square=True, complex_ok=True), matrices(B, name, what="B", complex_ok=True)  # noqa: N806
    same_dtype(name, A, B)
    shift = 1 if unitriangular else 0
    triangle = triu(A, shift) if upper else tril(A, -shift)
    if unitriangular:
        with backend.on_device(A.device):
            triangle = triangle + module(A.data).eye(A.shape[-1], dtype=A.dtype)
    # B is a matrix (…, n, k) even where it has A's batch shape + (n,) (a batch of vectors to linalg.solve): as
    # PyTorch's, which MultivariateNormal relies on for a batch of n matrices of order n solved against eye(n)
    _solve_case(A, B, left, name, vectors=False)
    return TriangularSolve(upper, left)(triangle, B)


def det(A: Any) -> Tensor:  # noqa: N803
    """The determinant of each matrix of A (…, n, n) → (…). The gradient is the cofactor matrix, exact also at a
    singular A (the adjugate, from the SVD, as PyTorch's second-order path; PyTorch's first-order backward
    returns 0 at an exactly singular matrix)."""
    return Det()(matrices(A, "linalg.det", square=True, complex_ok=True))


def slogdet(A: Any) -> SlogdetResult:  # noqa: N803
    """``(sign, logabsdet)`` of each matrix of A (…, n, n), each (…): ``det = sign · exp(logabsdet)`` without
    overflow; a singular matrix gives sign 0 and logabsdet -inf. Gradient of logabsdet: ``A⁻ᵀ`` (NaN at a
    singular A); sign has none."""
    sign, logabsdet = SignLogDet()(matrices(A, "linalg.slogdet", square=True, complex_ok=True))
    return return_types.linalg_slogdet(sign, logabsdet)


def matrix_power(A: Any, n: int) -> Tensor:  # noqa: N803
    """A (…, m, m) multiplied by itself ``n`` times (n = 0: the identity; n < 0: powers of :func:`inv`), as
    torch.linalg.matrix_power. Integer matrices are allowed for n ≥ 0."""
    name = "linalg.matrix_power"
    A = tensor_arg(A, name)  # noqa: N806
    n = int_arg(n, name, "n")
    if A.ndim < 2 or A.shape[-1] != A.shape[-2]:
        raise LinalgShapeError(f"{name}: A must be batches of square matrices (…, m, m), got shape {A.shape}")
    if n < 0:
        op = Inverse()
        op.name = name
        return _matrix_power(op(matrices(A, name, square=True, complex_ok=True)), -n)
    return _matrix_power(A, n)


def matrix_exp(A: Any) -> Tensor:  # noqa: N803
    """The matrix exponential ``Σ Aᵏ/k!`` of each matrix of A (…, n, n), by scaling and squaring with a
    degree-13 Padé approximant; the gradient is that of PyTorch (the block-matrix identity)."""
    return MatrixExp()(matrices(A, "linalg.matrix_exp", square=True, complex_ok=True))


# --- decompositions ------------------------------------------------------------------------------------------

def cholesky(A: Any, *, upper: bool = False) -> Tensor:  # noqa: N803
    """The Cholesky factor L (…, n, n), lower triangular with a positive diagonal, ``A = L Lᵀ``, of a symmetric
    positive-definite A (…, n, n) read from its lower triangle (``upper=True``: its upper one, giving ``U = Lᵀ``,
    ``A = Uᵀ U``). A matrix that is not positive-definite raises :class:`LinAlgError` naming the order of the
    failing leading minor. The gradient is symmetric."""
    return Cholesky(bool(upper))(matrices(A, "linalg.cholesky", square=True, complex_ok=True))


def cholesky_ex(A: Any, *, upper: bool = False, check_errors: bool = False) -> CholeskyExResult:  # noqa: N803
    """``(L, info)`` of :func:`cholesky` without raising: ``info`` (…) int32 is 0, or the order of the leading
    minor that is not positive-definite (L then holds the partial factor, as LAPACK's)."""
    name = "linalg.cholesky_ex"
    op = Cholesky(bool(upper), check_errors, with_info=True)
    op.name = name
    factor, info = op(matrices(A, name, square=True, complex_ok=True))
    return return_types.linalg_cholesky_ex(factor, info.detach())


def qr(A: Any, mode: str = "reduced") -> QRResult:  # noqa: N803
    """``(Q, R)`` with ``A = Q R``, Q orthonormal columns, R upper triangular, for A (…, m, n), k = min(m, n):
    ``"reduced"`` Q (…, m, k), R (…, k, n); ``"complete"`` Q (…, m, m), R (…, m, n); ``"r"`` R only (Q is an
    empty tensor, and there is no gradient, as in PyTorch). Signs as LAPACK's (and PyTorch's) Householder QR."""
    name = "linalg.qr"
    if mode not in ("reduced", "complete", "r"):
        raise LinalgShapeError(f"{name}: mode must be 'reduced' (default), 'complete' or 'r', got {mode!r}")
    q, r = QR(mode)(matrices(A, name, complex_ok=True))
    return return_types.linalg_qr(q, r)


def _uplo(UPLO: Any, name: str) -> str:  # noqa: N803
    if UPLO not in ("L", "U"):
        raise LinalgShapeError(f"{name}: UPLO must be 'L' or 'U', got {UPLO!r}")
    return UPLO


def eigh(A: Any, UPLO: str = "L") -> EighResult:  # noqa: N803
    """``(eigenvalues, eigenvectors)`` of a symmetric (complex: Hermitian) A (…, n, n) read from its lower
    (``UPLO="U"``: upper) triangle: eigenvalues (…, n) ascending and real (float32 for complex64), eigenvectors
    (…, n, n) orthonormal columns, ``A = V diag(λ) Vᴴ``.

    Each eigenvector is unique only up to sign (the sign LAPACK returns, which may differ from PyTorch's
    LAPACK; complex: up to a phase ``e^{iφ}``); a loss that depends on them has no well-defined gradient, and
    repeated eigenvalues make the eigenvector gradient inf/NaN (``1/(λⱼ - λᵢ)``), as in PyTorch. The gradient is
    symmetric (Hermitian)."""
    name = "linalg.eigh"
    values, vectors = Eigh(_uplo(UPLO, name))(matrices(A, name, square=True, complex_ok=True))
    return return_types.linalg_eigh(values, vectors)


def eigvalsh(A: Any, UPLO: str = "L") -> Tensor:  # noqa: N803
    """The eigenvalues (…, n), ascending and real, of a symmetric (complex: Hermitian) A (…, n, n) (see
    :func:`eigh`); gradient ``V diag(g) Vᴴ``, defined also where eigenvalues repeat."""
    name = "linalg.eigvalsh"
    A = matrices(A, name, square=True, complex_ok=True)  # noqa: N806
    return Eigh(_uplo(UPLO, name), values_only=True, vectors=A.requires_grad and is_recording())(A)


def eig(A: Any) -> EigResult:  # noqa: N803
    """``(eigenvalues, eigenvectors)`` of a general (real or complex) A (…, n, n): λ (…, n) and V (…, n, n) with
    ``A V = V diag(λ)``, complex64 for float32 (and complex64) A, complex128 for float64 (and complex128), even where
    they are real (as torch.linalg.eig), in LAPACK's order; each column of V has unit norm, its phase as LAPACK's.

    Gradients are PyTorch's (``linalg_eig_backward``); they need distinct eigenvalues, and a loss must not depend on
    the phase of the eigenvectors (``|V|``, ``V Vᴴ`` are fine; ``V.real`` is not): such a loss raises a
    RuntimeError in backward, as PyTorch's."""
    name = "linalg.eig"
    values, vectors = EigenValues(with_vectors=True)(matrices(A, name, square=True, complex_ok=True))
    return return_types.linalg_eig(values, vectors)


def eigvals(A: Any) -> Tensor:  # noqa: N803
    """The eigenvalues (…, n) of a general (real or complex) A (…, n, n): complex64 for float32, complex128 for
    float64, even where they are all real (as PyTorch), in LAPACK's order (unsorted; the order may differ from
    PyTorch's LAPACK build). The gradient ``V⁻ᴴ diag(g) Vᴴ`` (its real part for a real A) needs distinct
    eigenvalues."""
    name = "linalg.eigvals"
    A = matrices(A, name, square=True, complex_ok=True)  # noqa: N806
    return EigenValues(vectors=A.requires_grad and is_recording())(A)


def svd(A: Any, full_matrices: bool = True, *, driver: str | None = None) -> SVDResult:  # noqa: N803
    """``(U, S, Vh)`` with ``A = U diag(S) Vh`` for A (…, m, n), k = min(m, n): S (…, k) descending;
    ``full_matrices`` (the default, as PyTorch) U (…, m, m) and Vh (…, n, n), else U (…, m, k), Vh (…, k, n).
    ``driver`` (a cuSOLVER choice in PyTorch) is ignored.

    Singular vectors are unique only up to a sign (complex A: a phase ``e^{iφ}``) shared by ``U[..., :, i]`` and
    ``Vh[..., i, :]``: the gradient is defined for losses that do not depend on it (a complex loss that does raises
    in backward, as PyTorch's), and for distinct singular values (and, through U
    or Vh of a non-square A, non-zero ones). With full matrices the gradients of the columns of U and rows of
    Vh past k are ignored, as PyTorch's."""
    u, s, vh = SVD(bool(full_matrices))(matrices(A, "linalg.svd", complex_ok=True))
    return return_types.linalg_svd(u, s, vh)


def svdvals(A: Any, *, driver: str | None = None) -> Tensor:  # noqa: N803
    """The singular values (…, k) of A (…, m, n), descending; gradient ``U diag(g) Vh``."""
    return singular_values(matrices(A, "linalg.svdvals", complex_ok=True))


def cross(input: Any, other: Any, *, dim: int = -1, axis: Any = None) -> Tensor:  # noqa: A002 - PyTorch's name
    """The cross product of 3-vectors along ``dim`` (-1 by default) of two tensors with the same number of dims,
    which broadcast (torch.linalg.cross): (…, 3) and (…, 3) → (…, 3). ``axis=`` is PyTorch's alias of ``dim=``
    and NumPy's keyword (``np.linalg.cross(x1, x2, axis=d)``: the same product)."""
    if axis is not None:
        if dim != -1:
            raise TypeError("linalg.cross() got multiple values for argument 'dim' (axis= is its alias)")
        dim = axis
    return linalg_cross(input, other, dim=dim)


def diagonal(A: Any, *, offset: int = 0, dim1: int = -2, dim2: int = -1) -> Tensor:  # noqa: N803
    """The diagonal ``offset`` of the matrices in dims ``dim1``, ``dim2`` (the last two by default), as a new
    last dim (torch.linalg.diagonal): (…, m, n) → (…, min(m, n))."""
    return _diagonal(A, offset, dim1, dim2)


def __getattr__(name: str) -> Any:
    raise AttributeError(f"module 'minigrad.linalg' has no attribute {name!r}")


from .outputs import install as _install_out  # noqa: E402 - last: it wraps the functions above

_install_out(globals(), "linalg")   # PyTorch's out= (minigrad/outputs.py)
