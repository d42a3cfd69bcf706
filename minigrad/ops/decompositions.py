"""Matrix decompositions with PyTorch's ``torch.linalg`` results and gradients: ``cholesky``, ``qr``,
``eigh``, ``eig``/``eigvals``, ``svd`` (and ``svdvals``), ``pinv``.

Forward passes call ``xp.linalg`` (NumPy's LAPACK, CuPy's cuSOLVER; both take batches ``(…, m, n)``);
backward passes are PyTorch's adjoint formulas (torch/csrc/autograd/FunctionsManual.cpp), real case.
``Aᵀ`` is the transpose of the last two dims; ``tril``/``triu`` keep a triangle of them.

- Cholesky ``A = L Lᵀ``: ``gA = L⁻ᵀ Φ L⁻¹`` with ``Φ = ½ (P + tril(P, -1)ᵀ)``, ``P = tril(Lᵀ gL)``;
  symmetric, as A is assumed to be (complex: Hermitian, with ``ᴴ`` for ``ᵀ``).
- QR ``A = Q R`` (m ≥ n): ``gA = (gQ + Q · sym(triu(gR Rᵀ - Qᵀ gQ))) R⁻ᵀ`` with ``sym(X) = X + Xᵀ - diag X``;
  m < n: the square case on the first m columns, plus ``Q gR`` (complex: ``ᴴ`` for ``ᵀ``, PyTorch's).
- eigh ``A = V diag(λ) Vᵀ``: ``gA = V (diag(gλ) + skew(Vᵀ gV) / E) Vᵀ``, ``E_ij = λ_j - λ_i`` (i ≠ j); for a
  complex Hermitian A the same with ``Vᴴ`` for ``Vᵀ`` (skew-Hermitian part), PyTorch's complex gradient.
- eig/eigvals of a general A ``= V diag(λ) V⁻¹`` (complex λ): ``gA = V⁻ᴴ (diag(gλ) + P / E*) Vᴴ`` with P the
  projected ``Vᴴ gV`` (see :func:`eig_backward`), real part for a real A.
- SVD ``A = U diag(S) Vh``: Townsend's formula, ``E_ij = S_j² - S_i²``, with the extra terms for m ≠ n.
- pinv: the derivative of the Moore–Penrose inverse at constant rank (Golub and Pereyra 1973), as PyTorch's
  ``pinv_backward``.

Eigenvectors and singular vectors are unique only up to sign (and, for repeated values, up to a
rotation): a loss that depends on that choice has no well-defined gradient, and repeated eigenvalues or
singular values give inf/NaN gradients through ``1/E``, as in PyTorch. Eigenvalues and singular values
alone (``eigvalsh``, ``svdvals``) are differentiable everywhere they are distinct.
"""

from __future__ import annotations

from typing import Any

from .. import backend
from ..autograd import Function
from .solvers import (
    _LAPACK_ERRORS,
    LinAlgError,
    adjoint,
    first_failure,
    lapack_failures,
    svd_arrays,
    transpose,
    triangular_solve_arrays,
    where_text,
)


def tril(xp: Any, a: Any, k: int = 0) -> Any:
    """The lower triangle (on and below diagonal ``k``) of the last two dims; zeros elsewhere."""
    return xp.where(xp.tri(a.shape[-2], a.shape[-1], k, dtype=bool), a, a.dtype.type(0))


def triu(xp: Any, a: Any, k: int = 0) -> Any:
    """The upper triangle (on and above diagonal ``k``) of the last two dims; zeros elsewhere."""
    return xp.where(xp.tri(a.shape[-2], a.shape[-1], k - 1, dtype=bool), a.dtype.type(0), a)


def diag_embed(xp: Any, v: Any) -> Any:
    """Each last-dim vector (…, k) as a diagonal matrix (…, k, k)."""
    return v[..., None, :] * xp.eye(v.shape[-1], dtype=v.dtype)


def _solve_right(xp: Any, g: Any, r: Any) -> Any:
    """``g R⁻ᴴ`` (real: ``g R⁻ᵀ``) for a square upper-triangular R (…, k, k): the solution of ``X Rᴴ = g``, by
    substitution as PyTorch's (a zero on R's diagonal, a rank-deficient A, gives inf/NaN rather than an error)."""
    return adjoint(xp, triangular_solve_arrays(xp, r, adjoint(xp, g), upper=True))


# --- Cholesky ------------------------------------------------------------------------------------------------

def _unblocked_cholesky(xp: Any, s: Any) -> tuple[Any, Any]:
    """LAPACK's ``potf2`` on each symmetric matrix of ``s``: ``(L, info)``; where the leading minor of order
    ``info`` is not positive-definite, L holds the partial factor (the failing diagonal entry as computed)."""
    n = s.shape[-1]
    work = s.reshape(-1, n, n)
    lower = tril(xp, work).copy()
    count = work.shape[0]
    info = xp.zeros(count, dtype=xp.int32)
    active = xp.ones(count, dtype=bool)
    for j in range(n):
        row = lower[:, j, :j]
        d = (work[:, j, j] - (row * row.conj()).sum(axis=-1)).real   # complex: a Hermitian matrix's real pivot
        good = active & (d > 0)    # NaN fails too
        failing = active & ~good
        info = xp.where(failing, j + 1, info).astype(xp.int32)
        root = xp.sqrt(xp.where(good, d, 1))
        lower[:, j, j] = xp.where(good, root, xp.where(failing, d, lower[:, j, j]))
        below = (work[:, j + 1:, j] - (lower[:, j + 1:, :j] @ row.conj()[..., None])[..., 0]) / root[:, None]
        lower[:, j + 1:, j] = xp.where(good[:, None], below, lower[:, j + 1:, j])
        active = good
    return lower.reshape(s.shape), info.reshape(s.shape[:-2])


def cholesky_lower(xp: Any, s: Any) -> tuple[Any, Any]:
    """``(L, info)`` with ``S = L Lᴴ`` for each symmetric (complex: Hermitian) S (…, n, n); ``info`` as LAPACK's
    ``potrf``.

    CuPy does not report a failure (its ``info`` is not read): a factor whose diagonal is not positive and
    finite is taken as one, and the plain factorization then finds the failing minor."""
    try:
        with backend.errstate(xp, invalid="ignore"):
            lower = xp.linalg.cholesky(s)
        diagonal = xp.diagonal(lower, axis1=-2, axis2=-1).real
        if bool((diagonal > 0).all()) and bool(xp.isfinite(lower).all()):
            return lower, xp.zeros(s.shape[:-2], dtype=xp.int32)
    except _LAPACK_ERRORS:
        pass
    with backend.errstate(xp, invalid="ignore", divide="ignore"):
        return _unblocked_cholesky(xp, s)


def symmetric_from(xp: Any, a: Any, upper: bool) -> Any:
    """The symmetric (complex: Hermitian) matrix that ``a``'s lower (or upper) triangle describes; the other triangle
    is ignored."""
    if upper:
        return triu(xp, a) + adjoint(xp, triu(xp, a, 1))
    return tril(xp, a) + adjoint(xp, tril(xp, a, -1))


class Cholesky(Function):
    """``L`` (lower, or ``U = Lᵀ`` with ``upper``) with ``A = L Lᵀ`` for A (…, n, n), read from its lower (upper)
    triangle. ``check_errors``: a matrix that is not positive-definite raises :class:`LinAlgError`;
    ``with_info`` (``cholesky_ex``): a second output, LAPACK's ``info`` (batch shape, int32: the order of the
    failing leading minor, 0 where A is positive-definite), which has no gradient. Complex A: Hermitian, ``A = L Lᴴ``,
    and the backward's transposes are conjugate transposes (PyTorch's)."""

    name = "linalg.cholesky"
    complex_grad = True   # backward is PyTorch's for a Hermitian A; see autograd.engine._complex_gate

    def __init__(self, upper: bool, check_errors: bool = True, with_info: bool = False) -> None:
        self.upper, self.check_errors, self.with_info = upper, check_errors, with_info
        if with_info:
            self.multiple, self.n_outputs = True, 2

    def forward(self, a: Any) -> Any:
        xp = self.xp
        lower, info = cholesky_lower(xp, symmetric_from(xp, a, self.upper))
        if self.check_errors:
            failure = first_failure(info)
            if failure is not None:
                element, order = failure
                raise LinAlgError(f"{self.name}: the input is not positive-definite: the leading minor of order "
                                  f"{order} is not positive-definite{where_text(element, a.shape)}")
        self.saved = (lower,)
        factor = adjoint(xp, lower) if self.upper else lower
        return (factor, info) if self.with_info else factor

    def backward(self, g: Any, g_info: Any = None) -> Any:
        (lower,) = self.saved
        xp = self.xp
        g_lower = adjoint(xp, g) if self.upper else g
        phi = tril(xp, adjoint(xp, lower) @ g_lower)
        phi = 0.5 * (phi + adjoint(xp, tril(xp, phi, -1)))
        # by substitution, as PyTorch's: a failed factor's zero diagonal gives NaN, not NumPy's "Singular matrix"
        eye = xp.broadcast_to(xp.eye(lower.shape[-1], dtype=lower.dtype), lower.shape)
        inverse = triangular_solve_arrays(xp, lower, eye, upper=False)
        return adjoint(xp, inverse) @ phi @ inverse


# --- QR ------------------------------------------------------------------------------------------------------

class QR(Function):
    """``(Q, R)`` with ``A = Q R`` for A (…, m, n), k = min(m, n): ``reduced`` Q (…, m, k), R (…, k, n);
    ``complete`` Q (…, m, m), R (…, m, n); ``r``: Q empty (0,), R (…, k, n), and no gradient (as PyTorch).
    Complex A: R's diagonal is real (LAPACK's ``zgeqrf``), and the backward is PyTorch's ``linalg_qr_backward``
    with ``ᴴ`` for ``ᵀ`` (the Hermitian part keeps ``Re`` of the diagonal, the skew part halves its imaginary
    diagonal); for a real A both are the real formulas."""

    name = "linalg.qr"
    multiple = True
    n_outputs = 2
    complex_grad = True   # backward is PyTorch's for complex A; see autograd.engine._complex_gate

    def __init__(self, mode: str) -> None:
        self.mode = mode

    def forward(self, a: Any) -> tuple:
        xp = self.xp
        if self.mode == "r":
            r = xp.linalg.qr(a, mode="r")
            return xp.zeros((0,), dtype=a.dtype), r
        q, r = xp.linalg.qr(a, mode=self.mode)
        self.saved = (q, r)
        return q, r

    def backward(self, gq: Any, gr: Any) -> Any:
        if self.mode == "r":
            raise RuntimeError("linalg.qr: the derivative depends on Q, which is not computed when mode='r'; use "
                               "mode='reduced' to differentiate through linalg.qr (as in PyTorch)")
        q, r = self.saved
        xp = self.xp
        m, n = q.shape[-2], r.shape[-1]
        if self.mode == "complete" and m > n:
            raise RuntimeError(f"linalg.qr: the QR decomposition is not differentiable when mode='complete' and "
                               f"nrows > ncols (input {m} by {n}), as in PyTorch; use mode='reduced'")
        gq = xp.zeros_like(q) if gq is None else gq
        gr = xp.zeros_like(r) if gr is None else gr
        inner = gr @ adjoint(xp, r) - adjoint(xp, q) @ gq
        if m >= n:   # Hermitian part of triu(inner), Re of its diagonal (PyTorch's syminvadj)
            upper = triu(xp, inner)
            hermitian = upper + adjoint(xp, upper) - diag_embed(xp, xp.diagonal(upper, axis1=-2, axis2=-1).real)
            return _solve_right(xp, q @ hermitian + gq, r)
        # m < n: A = Q [X | Y] with X square; X's part as above, Y's through R's last n - m columns
        # (PyTorch's trilImInvAdjSkew: tril(innerᴴ - inner) with its (imaginary) diagonal halved)
        lower = tril(xp, adjoint(xp, inner) - inner)
        lower = lower - diag_embed(xp, xp.diagonal(lower, axis1=-2, axis2=-1)) / 2
        ga = _solve_right(xp, q @ lower, r[..., :m])
        ga = xp.concatenate([ga, xp.zeros(ga.shape[:-1] + (n - m,), dtype=ga.dtype)], axis=-1)
        return ga + q @ gr


# --- eigh ----------------------------------------------------------------------------------------------------

class Eigh(Function):
    """``(λ, V)`` with ``A = V diag(λ) Vᴴ`` for a symmetric (complex: Hermitian) A (…, n, n) read from its
    ``uplo`` triangle ("L" or "U"): λ (…, n) ascending and real, V (…, n, n) orthonormal columns.
    ``values_only`` (eigvalsh): one output λ; V is still computed when the gradient will need it (``vectors``).
    A complex V is defined up to a phase per column: a loss that depends on it raises, as PyTorch."""

    name = "linalg.eigh"
    complex_grad = True   # the backward's Vᴴ gives PyTorch's gradient for a Hermitian A; see engine._complex_gate

    def __init__(self, uplo: str, values_only: bool = False, vectors: bool = True) -> None:
        self.uplo, self.values_only, self.vectors = uplo, values_only, vectors
        if values_only:
            self.name = "linalg.eigvalsh"
        else:
            self.multiple, self.n_outputs = True, 2

    def forward(self, a: Any) -> Any:
        xp = self.xp
        with lapack_failures(self.name, a):
            if self.values_only and not self.vectors:
                return xp.linalg.eigvalsh(a, UPLO=self.uplo)
            values, vectors = xp.linalg.eigh(a, UPLO=self.uplo)
        self.saved = (values, vectors)
        return values if self.values_only else (values, vectors)

    def backward(self, g_values: Any, g_vectors: Any = None) -> Any:
        values, vectors = self.saved
        xp = self.xp
        v_t = transpose(xp, vectors.conj()) if vectors.dtype.kind == "c" else transpose(xp, vectors)   # Vᴴ
        if g_vectors is None:
            return (vectors * g_values[..., None, :]) @ v_t
        projected = v_t @ g_vectors
        if projected.dtype.kind == "c":   # each column of V is defined up to a phase e^{iφ}, as torch's check
            diagonal = xp.diagonal(projected, axis1=-2, axis2=-1)
            if not bool((xp.abs(diagonal.imag) <= 1e-2).all()):
                raise RuntimeError("linalg_eigh_backward: The eigenvectors in the complex case are specified up to "
                                   "multiplication by e^{i phi}. The specified loss function depends on this "
                                   "quantity, so it is ill-defined.")
        projected = 0.5 * (projected - (transpose(xp, projected.conj()) if projected.dtype.kind == "c"
                                        else transpose(xp, projected)))
        eye = xp.eye(values.shape[-1], dtype=bool)
        gaps = xp.where(eye, 1, values[..., None, :] - values[..., :, None])
        with backend.errstate(xp, divide="ignore", invalid="ignore"):
            inner = projected / gaps
        if g_values is not None:
            inner = xp.where(eye, g_values[..., None, :], inner)
        return vectors @ inner @ v_t


# --- eig and eigvals (general matrices) ----------------------------------------------------------------------

_COMPLEX_OF = {"float32": "complex64", "float64": "complex128"}


def eig_backward(xp: Any, g_values: Any, g_vectors: Any, values: Any, vectors: Any) -> Any:
    """PyTorch's ``linalg_eig_backward`` for ``A = V diag(λ) V⁻¹`` with unit-norm columns of V (LAPACK's):
    ``gA = V⁻ᴴ (diag(gλ) + (Vᴴ gV - Vᴴ V Re(diag(Vᴴ gV))) / E*) Vᴴ``, ``E_ij = λ_j - λ_i`` (i ≠ j). Each column of V
    is defined up to a phase ``e^{iφ}``: a loss that depends on it (``Im diag(Vᴴ gV) ≠ 0``) raises, as PyTorch."""
    vectors_h = transpose(xp, vectors).conj()
    if g_vectors is None:
        return xp.linalg.solve(vectors_h, g_values[..., :, None] * vectors_h)
    projected = vectors_h @ g_vectors
    diagonal = xp.diagonal(projected, axis1=-2, axis2=-1)
    if not bool((xp.abs(diagonal.imag) <= 1e-2).all()):
        raise RuntimeError("linalg_eig_backward: The eigenvectors in the complex case are specified up to "
                           "multiplication by e^{i phi}. The specified loss function depends on this quantity, so it "
                           "is ill-defined.")
    projected = projected - vectors_h @ (vectors * diagonal.real[..., None, :])
    conjugate = values.conj()
    eye = xp.eye(values.shape[-1], dtype=bool)
    gaps = xp.where(eye, values.dtype.type(1), conjugate[..., None, :] - conjugate[..., :, None])
    with backend.errstate(xp, divide="ignore", invalid="ignore"):
        inner = projected / gaps
    if g_values is not None:
        inner = xp.where(eye, g_values[..., None, :], inner)
    return xp.linalg.solve(vectors_h, inner @ vectors_h)


class EigenValues(Function):
    """The eigenvalues λ (…, n) of a general A (…, n, n), complex (complex64/complex128) even where A is real and
    they are real, in LAPACK's order (torch.linalg.eigvals). ``vectors``: also compute the right eigenvectors V,
    which the gradient needs; ``with_vectors`` (torch.linalg.eig): V (…, n, n) is a second output, unit-norm
    columns as LAPACK's. Backward: :func:`eig_backward` (the engine keeps its real part for a real A)."""

    name = "linalg.eigvals"
    complex_grad = True   # backward gives PyTorch's gradient; see autograd.engine._complex_gate

    def __init__(self, vectors: bool = True, with_vectors: bool = False) -> None:
        self.vectors, self.with_vectors = vectors or with_vectors, with_vectors
        if with_vectors:
            self.name, self.multiple, self.n_outputs = "linalg.eig", True, 2

    def forward(self, a: Any) -> Any:
        xp = self.xp
        if not hasattr(xp.linalg, "eigvals"):
            raise NotImplementedError(f"{self.name}: this CuPy has no linalg.eig/eigvals (CuPy 14 or later with "
                                      "CUDA 12.6 has them); compute it on the CPU: A.cpu()")
        dtype = _COMPLEX_OF.get(a.dtype.name, a.dtype)
        with lapack_failures(self.name, a):
            if not self.vectors:   # NumPy returns a real array when every eigenvalue is real: PyTorch's are complex
                return xp.linalg.eigvals(a).astype(dtype, copy=False)
            values, vectors = xp.linalg.eig(a)
        values, vectors = values.astype(dtype, copy=False), vectors.astype(dtype, copy=False)
        self.saved = (values, vectors)
        return (values, vectors) if self.with_vectors else values

    def backward(self, g_values: Any, g_vectors: Any = None) -> Any:
        values, vectors = self.saved
        return eig_backward(self.xp, g_values, g_vectors, values, vectors)


# --- SVD -----------------------------------------------------------------------------------------------------

def svd_backward(xp: Any, gu: Any, gs: Any, gvh: Any, u: Any, s: Any, vh: Any) -> Any:
    """``gA`` for ``A = U diag(S) Vh`` (U (…, m, k), S (…, k), Vh (…, k, n)); None for an unused output.

    Complex A (PyTorch's): ``ᴴ`` for ``ᵀ``, and the diagonal gets ``i Im(diag(skew(Uᴴ gU))) / 2S``; the pair
    ``U[:, i]``, ``Vh[i, :]`` is defined up to a phase ``e^{iφ}``, and a loss that depends on it raises."""
    m, n = u.shape[-2], vh.shape[-1]
    if gu is None and gvh is None:
        return (u * gs[..., None, :]) @ vh
    with backend.errstate(xp, divide="ignore", invalid="ignore"):
        squares = s * s
        eye = xp.eye(s.shape[-1], dtype=bool)
        gaps = xp.where(eye, 1, squares[..., None, :] - squares[..., :, None])
        u_part = v_part = 0
        u_skew = v_skew = None
        if gu is not None:
            product = adjoint(xp, u) @ gu
            u_skew = product - adjoint(xp, product)
            u_part = u_skew / gaps * s[..., None, :]
        if gvh is not None:
            product = vh @ adjoint(xp, gvh)
            v_skew = product - adjoint(xp, product)
            v_part = s[..., :, None] * (v_skew / gaps)
        inner = u_part + v_part
        if gs is not None:
            inner = inner + diag_embed(xp, gs)
        if u.dtype.kind == "c":
            inner = inner + _svd_phase_term(xp, u_skew, v_skew, s)
        if m > n and gu is not None:
            scaled = gu / s[..., None, :]
            return (u @ inner + scaled - u @ (adjoint(xp, u) @ scaled)) @ vh
        if m < n and gvh is not None:
            scaled = gvh / s[..., :, None]
            return u @ (inner @ vh + scaled - (scaled @ adjoint(xp, vh)) @ vh)
        return u @ inner @ vh


def _svd_phase_term(xp: Any, u_skew: Any, v_skew: Any, s: Any) -> Any:
    """The diagonal ``i Im(diag(skew(Uᴴ gU))) / 2S`` of a complex SVD's gradient, after PyTorch's check that the
    loss does not depend on the phases: ``Im diag(skew(Uᴴ gU)) = -Im diag(skew(Vh gVhᴴ))``."""
    zeros = xp.zeros_like(s)
    u_diagonal = zeros if u_skew is None else xp.diagonal(u_skew, axis1=-2, axis2=-1).imag
    v_diagonal = zeros if v_skew is None else xp.diagonal(v_skew, axis1=-2, axis2=-1).imag
    if not bool((xp.abs(u_diagonal + v_diagonal) <= 1e-2 + 1e-2 * xp.abs(v_diagonal)).all()):
        raise RuntimeError("svd_backward: The singular vectors in the complex case are specified up to multiplication "
                           "by e^{i phi}. The specified loss function depends on this phase term, making it "
                           "ill-defined.")
    return diag_embed(xp, 1j * u_diagonal / (2 * s))


class SVD(Function):
    """``(U, S, Vh)`` with ``A = U diag(S) Vh`` for A (…, m, n), k = min(m, n): S (…, k) descending;
    ``full_matrices`` U (…, m, m), Vh (…, n, n), else U (…, m, k), Vh (…, k, n). With full matrices the
    gradients of the extra columns of U and rows of Vh are ignored (they are an arbitrary basis), as PyTorch."""

    name = "linalg.svd"
    multiple = True
    n_outputs = 3
    complex_grad = True   # svd_backward is PyTorch's for complex A; see autograd.engine._complex_gate

    def __init__(self, full_matrices: bool) -> None:
        self.full_matrices = full_matrices

    def forward(self, a: Any) -> tuple:
        u, s, vh = svd_arrays(self.xp, a, self.name, self.full_matrices)
        self.saved = (u, s, vh)
        return u, s, vh

    def backward(self, gu: Any, gs: Any, gvh: Any) -> Any:
        u, s, vh = self.saved
        k = s.shape[-1]
        if self.full_matrices:
            u, vh = u[..., :k], vh[..., :k, :]
            gu = None if gu is None else gu[..., :k]
            gvh = None if gvh is None else gvh[..., :k, :]
        return svd_backward(self.xp, gu, gs, gvh, u, s, vh)


class SingularValues(Function):
    """S (…, k) of A (…, m, n), descending; backward ``U diag(gS) Vh``. ``vectors``: compute U and Vh for the
    gradient (the caller knows whether it will be needed). Complex A: S is real and ``U diag(gS) Vh`` is still
    PyTorch's gradient."""

    name = "linalg.svdvals"
    complex_grad = True   # see autograd.engine._complex_gate

    def __init__(self, vectors: bool) -> None:
        self.vectors = vectors

    def forward(self, a: Any) -> Any:
        xp = self.xp
        with lapack_failures(self.name, a):
            if not self.vectors:
                return xp.linalg.svd(a, compute_uv=False)
        u, s, vh = svd_arrays(xp, a, self.name)
        self.saved = (u, s, vh)   # s for create_graph's rule, which rebuilds the input from the factors
        return s

    def backward(self, gs: Any) -> Any:
        u, _, vh = self.saved
        return (u * gs[..., None, :]) @ vh


# --- pinv ----------------------------------------------------------------------------------------------------

class PseudoInverse(Function):
    """``A⁺`` (…, n, m) of A (…, m, n) from the SVD (``hermitian``: from eigh, A symmetric): singular values
    (|eigenvalues|) at or below ``max(atol, rtol · largest)`` count as zero. ``atol``, ``rtol``: numbers or arrays
    of A's batch shape. Backward: the derivative at constant rank,
    ``gA = -A⁺ᵀ G A⁺ᵀ + (I - A A⁺) Gᵀ A⁺ A⁺ᵀ + A⁺ᵀ A⁺ Gᵀ (I - A⁺ A)`` (complex A: ``ᴴ`` for ``ᵀ``, PyTorch's)."""

    name = "linalg.pinv"
    complex_grad = True   # see autograd.engine._complex_gate

    def __init__(self, atol: Any, rtol: Any, hermitian: bool) -> None:
        self.atol, self.rtol, self.hermitian = atol, rtol, hermitian

    def _cutoff(self, largest: Any) -> Any:
        xp = self.xp
        return xp.maximum(xp.asarray(self.atol)[..., None], xp.asarray(self.rtol)[..., None] * largest)

    def forward(self, a: Any) -> Any:
        xp = self.xp
        with backend.errstate(xp, divide="ignore"), lapack_failures(self.name, a):
            if self.hermitian:
                values, vectors = xp.linalg.eigh(a)
                size = xp.abs(values)
                kept = size > self._cutoff(size.max(axis=-1, keepdims=True) if size.shape[-1] else size)
                inverse = xp.where(kept, 1 / xp.where(kept, values, 1), 0).astype(a.dtype, copy=False)
                p = (vectors * inverse[..., None, :]) @ adjoint(xp, vectors)
            else:
                u, s, vh = svd_arrays(xp, a, self.name)
                kept = s > self._cutoff(s[..., :1])
                inverse = xp.where(kept, 1 / xp.where(kept, s, 1), 0).astype(a.dtype, copy=False)
                p = (adjoint(xp, vh) * inverse[..., None, :]) @ adjoint(xp, u)
        self.saved = (a, p)
        return p

    def backward(self, g: Any) -> Any:
        a, p = self.saved
        xp = self.xp
        p_t, g_t = adjoint(xp, p), adjoint(xp, g)
        left = g_t - a @ (p @ g_t)             # (I - A A⁺) Gᵀ
        right = g_t - (g_t @ p) @ a            # Gᵀ (I - A⁺ A)
        return -(p_t @ g @ p_t) + left @ (p @ p_t) + (p_t @ p) @ right
