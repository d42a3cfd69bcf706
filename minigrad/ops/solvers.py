"""Linear systems with PyTorch's ``torch.linalg`` results: ``inv``, ``solve``, ``det``, ``slogdet``.

Each op works on a batch of square matrices ``(…, n, n)`` through ``xp.linalg`` (NumPy's LAPACK or
CuPy's cuSOLVER). A singular matrix is found as LAPACK finds it, as an exactly zero pivot of the LU
factorization with partial pivoting; :func:`zero_pivots` repeats that factorization to name the
pivot and the batch element in the error, as PyTorch's message does. NumPy raises on a singular
matrix; CuPy does not (it returns inf/NaN), so a non-finite result is checked the same way.

Gradients (``Aᵀ`` the transpose of the last two dims):

- ``Y = A⁻¹``: ``gA = -Yᵀ gY Yᵀ``.
- ``X = A⁻¹ B``: ``gB = A⁻ᵀ gX`` and ``gA = -gB Xᵀ``, each summed back over broadcast batch dims.
- ``d = det A``: ``gA = g · d · A⁻ᵀ``, the cofactor matrix; where ``|d| < 100 eps`` it is computed
  from the SVD ``A = U S Vh`` as ``det(U) det(Vh) · U diag(∏_{j≠i} s_j) Vh``, which stays exact for a
  singular matrix (the adjugate, as PyTorch's ``create_graph=True`` path; its first-order path gives 0).
- ``(sign, log|d|) = slogdet A``: ``gA = g_log · A⁻ᵀ`` (``sign`` has no gradient); NaN for a singular A.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import numpy

from .. import backend
from ..autograd import Function
from ._util import sum_to

_LAPACK_ERRORS = (numpy.linalg.LinAlgError,)   # NumPy's class; CuPy raises the same one


class LinAlgError(RuntimeError):
    """A matrix a routine cannot handle (singular, not positive-definite), as ``torch.linalg.LinAlgError``."""


@contextlib.contextmanager
def lapack_failures(name: str, a: Any) -> Iterator[None]:
    """Raise LAPACK's own failure inside (NumPy's ``LinAlgError``, a ValueError: no convergence, most often a NaN or
    inf in the input) as :class:`LinAlgError`, a RuntimeError as PyTorch's, naming the op, shape and dtype."""
    try:
        yield
    except _LAPACK_ERRORS as error:
        raise LinAlgError(f"{name}: the LAPACK routine failed ({error}) on the input of shape "
                          f"{tuple(a.shape)}, dtype {a.dtype}: a NaN or inf in the input makes it fail") from error


def svd_arrays(xp: Any, a: Any, name: str, full_matrices: bool = False) -> tuple[Any, Any, Any]:
    """``(U, S, Vh)`` of each matrix of ``a`` (…, m, n). A NaN raises :class:`LinAlgError` naming the batch element
    (PyTorch's); a matrix with an inf (LAPACK's ``gesdd`` loops forever on it in NumPy's build) gets NaN factors.
    PyTorch's S is NaN there too, but its U and Vh are whatever LAPACK left (NaN, or for some positions of the inf a
    permutation, which makes its pinv zero), so only S and the NaN cases agree."""
    finite = xp.isfinite(a).all(axis=(-2, -1))
    if bool(finite.all()):
        with lapack_failures(name, a):
            return xp.linalg.svd(a, full_matrices=full_matrices)
    nan = first_failure(xp.isnan(a).any(axis=(-2, -1)))
    if nan is not None:
        element = f" in batch element {nan[0]}" if a.ndim > 2 else ""
        raise LinAlgError(f"{name}: the algorithm failed to converge because the input matrix contained a NaN"
                          f"{element} (input of shape {tuple(a.shape)}, dtype {a.dtype})")
    u, s, vh = xp.linalg.svd(xp.where(finite[..., None, None], a, 0), full_matrices=full_matrices)
    bad = ~finite[..., None, None]
    return xp.where(bad, xp.nan, u), xp.where(bad[..., 0], xp.nan, s), xp.where(bad, xp.nan, vh)


def transpose(xp: Any, a: Any) -> Any:
    """``a`` with its last two dims swapped (``mT``)."""
    return xp.swapaxes(a, -1, -2)


def adjoint(xp: Any, a: Any) -> Any:
    """The conjugate transpose ``aᴴ`` of the last two dims (``mH``): the transpose of a real ``a``."""
    return xp.swapaxes(a, -1, -2).conj() if a.dtype.kind == "c" else xp.swapaxes(a, -1, -2)


def pivot_size(xp: Any, a: Any) -> Any:
    """The size partial pivoting compares (LAPACK's ``i?amax``): ``|a|``, and ``|Re a| + |Im a|`` for complex a."""
    return xp.abs(a.real) + xp.abs(a.imag) if a.dtype.kind == "c" else xp.abs(a)


def batch_shape(*shapes: tuple) -> tuple:
    """The broadcast of batch shapes (host shapes, no data)."""
    return tuple(numpy.broadcast_shapes(*shapes))


def first_failure(info: Any) -> tuple[int, int] | None:
    """``(batch element, code)`` of the first non-zero LAPACK-style ``info``, or None (one host read)."""
    flat = backend.to_numpy(info).reshape(-1)
    bad = numpy.flatnonzero(flat)
    return None if not bad.size else (int(bad[0]), int(flat[bad[0]]))


def where_text(element: int, shape: tuple) -> str:
    """`` of the batch element k`` for a batch of matrices, else nothing; then the input's shape."""
    batch = f" in batch element {element}" if len(shape) > 2 else ""
    return f"{batch} (input shape {tuple(shape)})"


def lu_diagonals(xp: Any, a: Any) -> tuple[Any, Any, Any]:
    """``(diagonal, odd, info)`` of LU with partial pivoting of each matrix of ``a`` (…, n, n), as LAPACK's
    ``getrf``: U's diagonal (…, n), whether the row swaps are odd in number (…) bool, and the 1-based column of
    the first exactly zero pivot, 0 where there is none (…) int32. O(n) array steps."""
    n = a.shape[-1]
    lu = a.reshape(-1, n, n).copy()
    count = lu.shape[0]
    rows = xp.arange(count)
    info = xp.zeros(count, dtype=xp.int32)
    odd = xp.zeros(count, dtype=bool)
    for k in range(n):
        pivot_row = xp.argmax(pivot_size(xp, lu[:, k:, k]), axis=1) + k
        odd ^= pivot_row != k
        swapped = lu[rows, pivot_row].copy()
        lu[rows, pivot_row] = lu[:, k]
        lu[:, k] = swapped
        pivot = lu[:, k, k]
        zero = pivot == 0
        info = xp.where((info == 0) & zero, k + 1, info).astype(xp.int32)
        # a zero pivot is the largest entry of its column: the column below is zero, nothing to eliminate
        factors = lu[:, k + 1:, k] / xp.where(zero, 1, pivot)[:, None]
        lu[:, k + 1:, k + 1:] -= factors[:, :, None] * lu[:, None, k, k + 1:]
    diagonal = xp.diagonal(lu, axis1=-2, axis2=-1)
    return diagonal.reshape(a.shape[:-1]), odd.reshape(a.shape[:-2]), info.reshape(a.shape[:-2])


def zero_pivots(xp: Any, a: Any) -> Any:
    """LAPACK's ``getrf`` info for each matrix of ``a`` (…, n, n) (:func:`lu_diagonals`): used to name a
    singular matrix."""
    return lu_diagonals(xp, a)[2]


def signed_zeros(xp: Any, a: Any, value: Any, sign_of: Any) -> Any:
    """``value`` (…) of a det-like op of A (…, n, n) with each exact zero signed as PyTorch's: it computes
    ``±∏ sign_of(diag U)`` from LU of ``Aᵀ`` for a C-contiguous real A (``det Aᵀ = det A``, its shortcut to
    LAPACK's column-major layout), of A otherwise; the sign ``-`` for an odd number of row swaps. One host read;
    LU runs only where some value is zero."""
    zero = value == 0
    if not bool(zero.any()):
        return value
    transposed = a.dtype.kind != "c" and a.flags.c_contiguous
    diagonal, odd, _ = lu_diagonals(xp, transpose(xp, a) if transposed else a)
    ours = xp.where(odd, -1, 1).astype(value.dtype) * xp.prod(sign_of(diagonal), axis=-1).astype(value.dtype)
    return xp.where(zero & (ours == 0), ours, value)   # a zero both ways (rounding may differ elsewhere)


def _finite(xp: Any, y: Any) -> bool:
    return bool(xp.isfinite(y).all())


def solve_arrays(xp: Any, a: Any, b: Any) -> tuple[Any, Any]:
    """``(A⁻¹ B, info)`` for A (…, n, n) and B (…, n, k) of the same batch shape; NaN where A is singular."""
    try:
        with backend.errstate(xp, divide="ignore", invalid="ignore", over="ignore"):
            x = xp.linalg.solve(a, b)
        if _finite(xp, x):
            return x, xp.zeros(a.shape[:-2], dtype=xp.int32)
    except _LAPACK_ERRORS:
        pass
    info = zero_pivots(xp, a)
    singular = (info != 0)[..., None, None]
    eye = xp.eye(a.shape[-1], dtype=a.dtype)
    try:
        with backend.errstate(xp, divide="ignore", invalid="ignore", over="ignore"):
            x = xp.linalg.solve(xp.where(singular, eye, a), b)
    except _LAPACK_ERRORS:   # LAPACK's blocked LU met a zero pivot that the plain one did not (rounding)
        x, info = _solve_each(xp, a, b, info)
        return _nan_where_nan(xp, a, x), info
    return _nan_where_nan(xp, a, xp.where(singular, xp.nan, x).astype(b.dtype, copy=False)), info


def _nan_where_nan(xp: Any, a: Any, x: Any) -> Any:
    """``x`` with every entry NaN for a matrix of ``a`` holding a NaN, as PyTorch's LU gives (OpenBLAS's leaves some
    entries finite, which a NaN in A leaves undefined)."""
    has_nan = xp.isnan(a).any(axis=(-2, -1))
    return xp.where(has_nan[..., None, None], xp.nan, x) if bool(has_nan.any()) else x


def _solve_each(xp: Any, a: Any, b: Any, info: Any) -> tuple[Any, Any]:
    """:func:`solve_arrays` one matrix at a time; a matrix LAPACK finds singular gets NaN and at least info n."""
    n, k = a.shape[-1], b.shape[-1]
    flat_a, flat_b, flat_info = a.reshape(-1, n, n), b.reshape(-1, n, k), info.reshape(-1).copy()
    x = xp.full(flat_b.shape, xp.nan, dtype=b.dtype)
    known = backend.to_numpy(flat_info) != 0
    for i in range(flat_a.shape[0]):
        if known[i]:
            continue
        try:
            with backend.errstate(xp, divide="ignore", invalid="ignore", over="ignore"):
                x[i] = xp.linalg.solve(flat_a[i], flat_b[i])
        except _LAPACK_ERRORS:
            flat_info[i] = n
    return x.reshape(b.shape), flat_info.reshape(info.shape)


def inverse_arrays(xp: Any, a: Any) -> tuple[Any, Any]:
    """``(A⁻¹, info)`` for A (…, n, n); NaN where A is singular (``info`` > 0 there)."""
    eye = xp.broadcast_to(xp.eye(a.shape[-1], dtype=a.dtype), a.shape)
    return solve_arrays(xp, a, eye)


def _unbroadcast_info(info: Any, batch: tuple) -> Any:
    """``info`` (broadcast batch) of the matrices of A's own ``batch`` shape: each is the info of one of its copies."""
    if tuple(info.shape) == tuple(batch):
        return info
    extra = info.ndim - len(batch)
    index = (0,) * extra + tuple(slice(None) if size != 1 else slice(0, 1) for size in batch)
    return info[index].reshape(batch)


def singular_error(name: str, info: Any, shape: tuple, what: str) -> LinAlgError | None:
    """The LinAlgError for the first singular matrix in ``info``, or None when there is none."""
    failure = first_failure(info)
    if failure is None:
        return None
    element, column = failure
    return LinAlgError(f"{name}: {what} is not invertible (singular): the diagonal element {column} of its LU "
                       f"factorization is zero{where_text(element, shape)}")


class Inverse(Function):
    """``Y = A⁻¹`` for A (…, n, n). ``check_errors``: a singular A raises :class:`LinAlgError` naming the pivot and
    the batch element; else its inverse is NaN. ``with_info`` (``inv_ex``): a second output, LAPACK's ``info``
    (batch shape, int32: the 1-based zero pivot, 0 where A is invertible), which has no gradient."""

    name = "linalg.inv"
    complex_grad = "holomorphic"   # -Yᵀ gY Yᵀ becomes PyTorch's -Yᴴ gY Yᴴ; see autograd.engine._complex_gate

    def __init__(self, check_errors: bool = True, with_info: bool = False) -> None:
        self.check_errors, self.with_info = check_errors, with_info
        if with_info:
            self.multiple, self.n_outputs = True, 2

    def forward(self, a: Any) -> Any:
        y, info = inverse_arrays(self.xp, a)
        if self.check_errors:
            error = singular_error(self.name, info, a.shape, "the input")
            if error is not None:
                raise error
        self.saved = (y,)
        return (y, info) if self.with_info else y

    def backward(self, gy: Any, g_info: Any = None) -> Any:
        (y,) = self.saved
        y_t = transpose(self.xp, y)
        return -(y_t @ gy @ y_t)


class Solve(Function):
    """``X = A⁻¹ B``: A (…, n, n), B (…, n, k) or, with ``vector``, (…, n); batch dims broadcast.

    ``check_errors`` and ``with_info`` as :class:`Inverse`; ``transposed``: the input is ``Aᵀ`` of the user's A
    (``X A = B`` solved as ``Aᵀ Xᵀ = Bᵀ``), whose own LU then gives ``info``, as PyTorch's. Backward:
    ``gB = A⁻ᵀ gX``, ``gA = -gB Xᵀ``."""

    name = "linalg.solve"
    complex_grad = "holomorphic"   # gB = A⁻ᴴ gX, gA = -gB Xᴴ (PyTorch's); see autograd.engine._complex_gate

    def __init__(self, vector: bool, check_errors: bool = True, with_info: bool = False,
                 transposed: bool = False) -> None:
        self.vector, self.check_errors, self.with_info, self.transposed = vector, check_errors, with_info, transposed
        if with_info:
            self.multiple, self.n_outputs = True, 2

    def forward(self, a: Any, b: Any) -> Any:
        xp = self.xp
        matrix_b = b[..., None] if self.vector else b
        batch = batch_shape(a.shape[:-2], matrix_b.shape[:-2])
        a_full = xp.broadcast_to(a, batch + a.shape[-2:])
        x, info = solve_arrays(xp, a_full, xp.broadcast_to(matrix_b, batch + matrix_b.shape[-2:]))
        if self.transposed and first_failure(info) is not None:
            info = zero_pivots(xp, transpose(xp, a_full))
        info = _unbroadcast_info(info, a.shape[:-2])   # A's own batch, as PyTorch's (B's batch copies A's matrices)
        if self.check_errors:
            error = singular_error(self.name, info, a.shape, "the matrix A")
            if error is not None:
                raise error
        self.saved = (a_full, x, a.shape, b.shape)
        result = x[..., 0] if self.vector else x
        return (result, info) if self.with_info else result

    def backward(self, gx: Any, g_info: Any = None) -> tuple:
        a_full, x, a_shape, b_shape = self.saved
        xp = self.xp
        g = gx[..., None] if self.vector else gx
        gb, _ = solve_arrays(xp, transpose(xp, a_full), g)
        ga = -(gb @ transpose(xp, x)) if self.needs_grad[0] else None
        if self.vector:
            gb = gb[..., 0]
        return (sum_to(ga, a_shape) if ga is not None else None,
                sum_to(gb, b_shape) if self.needs_grad[1] else None)


def _products_but_one(xp: Any, s: Any) -> Any:
    """``∏_{j≠i} s_j`` for each i along the last dim, without dividing (exact with zeros)."""
    ones = xp.ones(s.shape[:-1] + (1,), dtype=s.dtype)
    before = xp.cumprod(xp.concatenate([ones, s[..., :-1]], axis=-1), axis=-1)
    after = xp.flip(xp.cumprod(xp.concatenate([ones, xp.flip(s, axis=-1)[..., :-1]], axis=-1), axis=-1), axis=-1)
    return before * after


def cofactors(xp: Any, a: Any, det: Any) -> Any:
    """The cofactor matrix ``det(A) · A⁻ᵀ`` of each A (…, n, n), exact also where A is singular (complex A too:
    there ``adj(A)ᵀ = det(U) det(Vh) · conj(U diag(∏ⱼ≠ᵢ sⱼ) Vh)``)."""
    n = a.shape[-1]
    small = xp.abs(det) < 100 * xp.finfo(a.dtype).eps
    eye = xp.eye(n, dtype=a.dtype)
    inverse, _ = inverse_arrays(xp, xp.where(small[..., None, None], eye, a))
    result = det[..., None, None] * transpose(xp, inverse)
    if bool(small.any()):   # near-singular: from the SVD, as PyTorch's adjugate
        u, s, vh = svd_arrays(xp, a, "linalg.det", full_matrices=True)
        sign = xp.linalg.det(u) * xp.linalg.det(vh)
        adjugate_t = (u * _products_but_one(xp, s)[..., None, :]) @ vh
        adjugate_t = (adjugate_t.conj() if a.dtype.kind == "c" else adjugate_t) * sign[..., None, None]
        result = xp.where(small[..., None, None], adjugate_t, result)
    return result


class Det(Function):
    """``d = det A`` for A (…, n, n) → (…), an exact zero signed as PyTorch's (:func:`signed_zeros`); backward
    ``g · cofactors(A)`` (the adjugate transposed)."""

    name = "linalg.det"
    complex_grad = "holomorphic"   # PyTorch's g · conj(cofactors); see autograd.engine._complex_gate

    def forward(self, a: Any) -> Any:
        xp = self.xp
        with backend.errstate(xp, invalid="ignore"):   # a NaN in A: NaN, as PyTorch's, without NumPy's warning
            d = signed_zeros(xp, a, xp.asarray(xp.linalg.det(a)), lambda u: u)
        self.saved = (a, d)
        return d

    def backward(self, g: Any) -> Any:
        a, d = self.saved
        if a.size == 0:
            return self.xp.zeros_like(a)
        return g[..., None, None] * cofactors(self.xp, a, d)


class SignLogDet(Function):
    """``(sign, log|det A|)`` for A (…, n, n) → two (…) arrays (complex A: a complex sign ``det / |det|``, a real
    logabsdet); backward ``g_log · A⁻ᵀ`` (a real sign is flat). Complex A, PyTorch's: ``log det = logabsdet + iθ``
    with ``sign = e^{iθ}`` gets ``g = g_log + i Im(g_sign · conj(sign))``, and ``gA = g · A⁻ᴴ``."""

    name = "linalg.slogdet"
    multiple = True
    n_outputs = 2
    complex_grad = True   # backward is PyTorch's for complex A; see autograd.engine._complex_gate

    def forward(self, a: Any) -> tuple:
        xp = self.xp
        with backend.errstate(xp, invalid="ignore"):
            sign, logabsdet = xp.linalg.slogdet(a)
        if a.dtype.kind != "c":   # a NaN in A: sign 0, as PyTorch's (NumPy's: ±1)
            sign = xp.where(xp.isnan(logabsdet), 0, sign).astype(sign.dtype, copy=False)
        sign = signed_zeros(xp, a, xp.asarray(sign), lambda u: xp.where(u == 0, 0, xp.sign(u)))  # sgn(±0) = +0
        self.saved = (a,)
        self.sign = xp.asarray(sign) if a.dtype.kind == "c" else None   # the complex gradient's phase
        return xp.asarray(sign), xp.asarray(logabsdet)

    def backward(self, g_sign: Any, g_logabsdet: Any) -> Any:
        (a,) = self.saved
        xp = self.xp
        g = g_logabsdet
        if self.sign is not None and g_sign is not None:
            phase = xp.asarray(1j * (g_sign * self.sign.conj()).imag, dtype=self.sign.dtype)
            g = phase if g is None else g + phase
        if g is None:
            return xp.zeros_like(a)
        inverse, _ = inverse_arrays(xp, a)   # NaN for a singular A, where log|det| is -inf
        return g[..., None, None] * adjoint(xp, inverse)


_BLOCK = 32   # rows solved one by one between two matrix products in :func:`triangular_solve_arrays`


def triangular_solve_arrays(xp: Any, a: Any, b: Any, upper: bool) -> Any:
    """X with ``A X = B`` for a triangular A (…, n, n) (only its ``upper`` or lower triangle is read, diagonal
    included) and B (…, n, k) of the same batch shape, by substitution as BLAS's ``trsm``: no pivoting and no
    check, so IEEE arithmetic gives PyTorch's values at the edges (a zero on the diagonal: inf or NaN; an inf in
    B: inf in its row, and NaN where a later row meets it through a zero, ``0·inf``). Blocked: the rows of a
    block of :data:`_BLOCK` are updated by one matrix product with the rows already solved, then solved one by
    one; O(n² k) work in O(n) array steps."""
    n = a.shape[-1]
    x = b.copy()
    if n == 0 or x.size == 0:
        return x
    starts = list(range(0, n, _BLOCK))
    with backend.errstate(xp, divide="ignore", invalid="ignore", over="ignore"):
        for start in (reversed(starts) if upper else starts):
            stop = min(start + _BLOCK, n)
            if upper and stop < n:
                x[..., start:stop, :] -= a[..., start:stop, stop:] @ x[..., stop:, :]
            elif not upper and start > 0:
                x[..., start:stop, :] -= a[..., start:stop, :start] @ x[..., :start, :]
            rows = range(stop - 1, start - 1, -1) if upper else range(start, stop)
            for i in rows:
                x[..., i, :] /= a[..., i, i, None]
                if upper and i > start:
                    x[..., start:i, :] -= a[..., start:i, i, None] * x[..., i, None, :]
                elif not upper and i + 1 < stop:
                    x[..., i + 1:stop, :] -= a[..., i + 1:stop, i, None] * x[..., i, None, :]
    return x


class TriangularSolve(Function):
    """``X = A⁻¹ B`` (``left=False``: ``X = B A⁻¹``) for a triangular A (…, n, n), the other triangle zero (the
    caller passes ``triu``/``tril`` of the user's matrix), and B (…, n, k) (left) or (…, k, n); batch dims
    broadcast. No singularity check, as ``torch.linalg.solve_triangular``. Backward (left): ``gB = A⁻ᵀ gX`` (a
    solve with the other triangle), ``gA = -gB Xᵀ``, kept to A's triangle by the caller's ``triu``/``tril``;
    ``left=False`` is the transposed system ``Aᵀ Xᵀ = Bᵀ``."""

    name = "linalg.solve_triangular"
    complex_grad = "holomorphic"   # gB = A⁻ᴴ gX, gA = -gB Xᴴ (PyTorch's); see autograd.engine._complex_gate

    def __init__(self, upper: bool, left: bool = True) -> None:
        self.upper, self.left = upper, left

    def _solve(self, a: Any, b: Any, upper: bool) -> Any:
        """A⁻¹ B (left) or B A⁻¹ for a and b already broadcast to one batch shape."""
        xp = self.xp
        if self.left:
            return triangular_solve_arrays(xp, a, b, upper)
        return transpose(xp, triangular_solve_arrays(xp, transpose(xp, a), transpose(xp, b), not upper))

    def forward(self, a: Any, b: Any) -> Any:
        xp = self.xp
        batch = batch_shape(a.shape[:-2], b.shape[:-2])
        a_full = xp.broadcast_to(a, batch + a.shape[-2:])
        x = self._solve(a_full, xp.broadcast_to(b, batch + b.shape[-2:]), self.upper)
        self.saved = (a_full, x, a.shape, b.shape)
        return x

    def backward(self, gx: Any) -> tuple:
        a_full, x, a_shape, b_shape = self.saved
        xp = self.xp
        # left: gB = A⁻ᵀ gX, gA = -gB Xᵀ; right (X = B A⁻¹): gB = gX A⁻ᵀ, gA = -Xᵀ gB
        gb = self._solve(transpose(xp, a_full), gx, not self.upper)
        ga = None
        if self.needs_grad[0]:
            ga = -(gb @ transpose(xp, x)) if self.left else -(transpose(xp, x) @ gb)
            ga = sum_to(ga, a_shape)
        return ga, (sum_to(gb, b_shape) if self.needs_grad[1] else None)
