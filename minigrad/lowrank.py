"""PyTorch's randomized low-rank SVD and PCA, ``torch.svd_lowrank`` and ``torch.pca_lowrank``.

Halko, Martinsson and Tropp (2009): a Gaussian test matrix R (n, q), the range finder Q = qr(A R).Q refined by
``niter`` subspace iterations (their Algorithm 4.4), then the SVD of the small projection B = Qᴴ A (Algorithm
5.1), as PyTorch's ``torch/_lowrank.py`` does it, written with minigrad's ops so that the results differentiate.
R comes from minigrad's generator, so the results equal PyTorch's (up to the signs of the singular vectors) only
where they do not depend on R: where q reaches the rank of A, the approximation is exact.
"""

from __future__ import annotations

from .constructors import randn
from .linalg_legacy import linalg
from .ops.linalg_arguments import matrices
from .tensor import Tensor

__all__ = ["pca_lowrank", "svd_lowrank"]


def _approximate_basis(A: Tensor, q: int, niter: int, M: Tensor | None) -> Tensor:  # noqa: N803 - PyTorch's names
    """Q (…, m, q) with orthonormal columns whose span approximates the range of A - M, for A (…, m, n)."""
    R = randn(A.shape[-1], q, dtype=A.dtype, device=A.device)  # noqa: N806

    def shifted(left: Tensor, right: Tensor, shift: Tensor | None) -> Tensor:   # left @ right - shift @ right
        product = left @ right
        return product if shift is None else product - shift @ right

    Q = linalg.qr(shifted(A, R, M)).Q  # noqa: N806
    for _ in range(niter):
        Q = linalg.qr(shifted(A.mH, Q, None if M is None else M.mH)).Q  # noqa: N806
        Q = linalg.qr(shifted(A, Q, M)).Q  # noqa: N806
    return Q


def svd_lowrank(A: Tensor, q: int | None = 6, niter: int | None = 2, M: Tensor | None = None) -> tuple:  # noqa: N803
    """``(U, S, V)`` of rank q with ``A - M ≈ U diag(S) Vᴴ``: A (…, m, n) → U (…, m, q), S (…, q), V (…, n, q).

    ``M`` (broadcast to A's shape) is subtracted without being formed into A - M; ``niter`` subspace iterations
    sharpen the range estimate (``None``: 2, ``q=None``: 6, as PyTorch's).
    """
    A = matrices(A, "svd_lowrank")  # noqa: N806
    q = 6 if q is None else q
    niter = 2 if niter is None else niter
    m, n = A.shape[-2:]
    if M is not None:
        M = matrices(M, "svd_lowrank", what="M").broadcast_to(A.shape)  # noqa: N806
    if m < n:   # work on the tall one
        A = A.mH  # noqa: N806
        M = None if M is None else M.mH  # noqa: N806
    Q = _approximate_basis(A, q, niter, M)  # noqa: N806
    B = Q.mH @ A if M is None else Q.mH @ A - Q.mH @ M  # noqa: N806
    U, S, Vh = linalg.svd(B, full_matrices=False)  # noqa: N806
    U, V = Q @ U, Vh.mH  # noqa: N806
    return (V, S, U) if m < n else (U, S, V)


def pca_lowrank(A: Tensor, q: int | None = None, center: bool = True, niter: int = 2) -> tuple:  # noqa: N803
    """``(U, S, V)`` of the principal components of A (…, m, n): the rank-q :func:`svd_lowrank` of A minus its
    column means (``center=False``: of A itself). ``q=None``: min(6, m, n). The components are V's columns,
    the projections ``A_centered @ V[:, :k]``, the explained variances ``S**2 / (m - 1)``."""
    A = matrices(A, "pca_lowrank")  # noqa: N806
    m, n = A.shape[-2:]
    if q is None:
        q = min(6, m, n)
    elif not (q >= 0 and q <= min(m, n)):
        raise ValueError(f"q(={q}) must be non-negative integer and not greater than min(m, n)={min(m, n)}")
    if not (niter >= 0):
        raise ValueError(f"niter(={niter}) must be non-negative integer")
    if not center:
        return svd_lowrank(A, q, niter=niter)
    return svd_lowrank(A - A.mean(dim=(-2,), keepdim=True), q, niter=niter)
