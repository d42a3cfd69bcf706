"""``torch.lobpcg``: a few extreme eigenpairs of a symmetric positive-definite (generalized) problem A x = λ B x.

Knyazev's Locally Optimal Block Preconditioned Conjugate Gradient method (SIAM J. Sci. Comput. 23(2), 2001):
each step does Rayleigh-Ritz on the subspace S = [X, W, P] (X the current block of n approximate
eigenvectors, W = iK R the preconditioned residuals R = A X - B X Λ, P the previous step's search directions)
and keeps the n best Ritz pairs. As Duersch et al. (2018) advise, [W, P] is B-orthogonalised against X and
B-orthonormalised by SVQB (an eigendecomposition of its Gram matrix, dropping directions that have become
dependent), so S is B-orthonormal and the Rayleigh-Ritz step is a plain ``eigh`` of Sᵀ A S. Columns stop
counting once the relative residual ``‖r‖ / ((‖A‖ + |λ| ‖B‖) ‖x‖)`` is below ``tol``; the loop ends when the first k
have converged, after ``niter`` steps, or when a ``tracker`` sets ``bvars["force_stop"]``.

The iteration runs in float64 on the arrays of A's device; E (…, k) and X (…, m, k) come back in A's dtype,
E largest first (``largest=False``: smallest first). The gradient is PyTorch's (dense A, ``B=None``): that of the
k selected eigenpairs of (A + Aᵀ)/2, computed from its full eigendecomposition, so symmetric. PyTorch has no
gradient with B given; neither has minigrad (:class:`LobpcgBackwardError`, at backward, as PyTorch).
"""

from __future__ import annotations

import math
import types
from typing import Any, Callable

from .. import backend
from ..autograd import Function
from ..constructors import randn
from ..tensor import Tensor
from ._util import tensor_arg

__all__ = ["lobpcg"]


class LobpcgBackwardError(NotImplementedError, ValueError):
    """lobpcg's gradient with a B (PyTorch raises ValueError there; a NotImplementedError too)."""


class LobpcgShapeError(ValueError, AssertionError):
    """A non-square A (PyTorch asserts, so AssertionError; a ValueError too)."""


def _transpose(a: Any) -> Any:
    return a.swapaxes(-1, -2)


def svqb(xp: Any, u: Any, b_times: Callable[[Any], Any], drop: float = 1e-10) -> Any:
    """B-orthonormal columns spanning ``u`` (m, j): Uᵀ B U = D Z Θ Zᵀ D (D the column scales), U ← U D⁻¹ Z Θ^-½;
    directions with θ < ``drop`` · max θ (dependent ones) are left out, so fewer than j columns may come back."""
    gram = _transpose(u) @ b_times(u)
    scale = xp.sqrt(xp.abs(xp.diagonal(gram)))
    keep = scale > 0
    u, gram, scale = u[:, keep], gram[keep][:, keep], scale[keep]
    if u.shape[1] == 0:
        return u
    gram = gram / scale[:, None] / scale[None, :]
    theta, z = xp.linalg.eigh((gram + _transpose(gram)) / 2)
    keep = theta > drop * theta.max()
    return (u / scale) @ (z[:, keep] / xp.sqrt(theta[keep]))


def rayleigh_ritz(xp: Any, a: Any, s: Any, n: int, largest: bool) -> tuple[Any, Any]:
    """The n extreme Ritz pairs (θ (n,), C (j, n)) of A on the B-orthonormal basis S (m, j), best first."""
    t = _transpose(s) @ a @ s
    theta, c = xp.linalg.eigh((t + _transpose(t)) / 2)
    order = xp.arange(theta.shape[0] - 1, theta.shape[0] - 1 - n, -1) if largest else xp.arange(n)
    return theta[order], c[:, order]


def lobpcg_arrays(xp: Any, a: Any, b: Any, x: Any, ik: Any, k: int, niter: int, tol: float, largest: bool,
                  tracker: Callable | None, params: dict) -> tuple[Any, Any]:
    """LOBPCG on one problem: A, B (or None), iK (or None) (m, m), the start X (m, n); returns E (n,), X (m, n)."""
    def b_times(v: Any) -> Any:
        return v if b is None else b @ v

    def b_orthogonal(v: Any) -> Any:   # v minus its B-projection on X, twice (one pass loses digits)
        for _ in range(2):
            v = v - x @ (_transpose(x) @ b_times(v))
        return v

    n = x.shape[1]
    norm_a = float(xp.linalg.norm(a))
    norm_b = 1.0 if b is None else float(xp.linalg.norm(b))
    x = svqb(xp, x, b_times)
    if x.shape[1] < n:
        raise ValueError(f"lobpcg: the initial X (m={a.shape[0]}, n={n}) has dependent columns")
    e, c = rayleigh_ritz(xp, a, x, n, largest)
    x, p = x @ c, None
    state = types.SimpleNamespace(**params, A=a, B=b, iK=ik, E=e, X=x, S=x, R=None,
                                  ivars={"istep": 0, "converged_count": 0}, fvars={"tol": tol},
                                  bvars={"force_stop": False}, tvars={})
    def residuals() -> tuple[Any, Any, Any]:
        r = a @ x - b_times(x) * e
        error = xp.linalg.norm(r, axis=0) / ((norm_a + xp.abs(e) * norm_b) * xp.linalg.norm(x, axis=0))
        return r, error, error >= tol

    step = 0
    r, error, active = residuals()
    while (niter < 0 or step < niter) and int((~active[:k]).sum()) < k:
        w = r[:, active] if ik is None else ik @ r[:, active]
        directions = b_orthogonal(w if p is None else xp.concatenate([w, p], axis=1))
        directions = svqb(xp, b_orthogonal(svqb(xp, directions, b_times)), b_times)
        if directions.shape[1] == 0:   # nothing new to search: stagnated at working precision
            break
        basis = xp.concatenate([x, directions], axis=1)
        e, c = rayleigh_ritz(xp, a, basis, n, largest)
        x, p = basis @ c, directions @ c[n:]
        step += 1
        r, error, active = residuals()
        if tracker is not None:   # after each step, as PyTorch's (istep counts the steps done)
            state.E, state.X, state.S, state.R = e, x, basis, r
            state.ivars.update(istep=step, converged_count=int((~active[:k]).sum()))
            state.tvars["rerr"] = error
            tracker(state)
            if state.bvars.get("force_stop"):
                break
    return e, x


class LOBPCG(Function):
    """``(E, X)``: the k extreme eigenpairs of A (…, m, m) [with B] by LOBPCG; see the module's docstring."""

    name = "lobpcg"

    def __init__(self, start: Any, ik: Any, k: int, niter: int, tol: float, largest: bool, tracker: Callable | None,
                 params: dict, has_b: bool) -> None:
        self.start, self.ik, self.k, self.niter, self.tol = start, ik, k, niter, tol
        self.largest, self.tracker, self.params, self.has_b = largest, tracker, params, has_b
        self.multiple, self.n_outputs = True, 2

    def forward(self, a: Any, b: Any = None) -> tuple[Any, Any]:
        xp, dtype = self.xp, a.dtype
        m, n = a.shape[-1], self.start.shape[-1]
        batch = a.shape[:-2]
        flat_a = a.reshape(-1, m, m).astype(xp.float64)
        flat_a = (flat_a + _transpose(flat_a)) / 2   # PyTorch's A_sym: the problem solved is symmetric
        flat_b = None if b is None else xp.broadcast_to(b, batch + (m, m)).reshape(-1, m, m).astype(xp.float64)
        start = xp.broadcast_to(self.start, batch + (m, n)).reshape(-1, m, n).astype(xp.float64)
        ik = None if self.ik is None else xp.broadcast_to(self.ik, batch + (m, m)).reshape(-1, m, m).astype(
            xp.float64)
        values, vectors = [], []
        for i in range(flat_a.shape[0]):
            e, x = lobpcg_arrays(xp, flat_a[i], None if flat_b is None else flat_b[i], start[i],
                                 None if ik is None else ik[i], self.k, self.niter, self.tol, self.largest,
                                 self.tracker, self.params)
            values.append(e[:self.k])
            vectors.append(x[:, :self.k])
        kept = values[0].shape[0]
        e = xp.stack(values).reshape(batch + (kept,))
        x = xp.stack(vectors).reshape(batch + (m, kept))
        self.saved = (a, e, x)
        return e.astype(dtype), x.astype(dtype)

    def backward(self, g_values: Any, g_vectors: Any = None) -> Any:
        """PyTorch's: the gradient of the selected eigenpairs of (A + Aᵀ)/2, through its full eigh:
        gA = sym(V (diag(gλ) + (Vᵀ gV) / (λⱼ - λᵢ)) Vᵀ), gλ and gV zero outside the selected pairs."""
        if self.has_b:
            raise LobpcgBackwardError("lobpcg.backward does not support backward with B != I yet.")
        xp = self.xp
        a, e, x = self.saved
        a = a.astype(xp.float64)
        values, vectors = xp.linalg.eigh((a + _transpose(a)) / 2)
        m, kept = a.shape[-1], e.shape[-1]
        order = xp.arange(m - 1, m - 1 - kept, -1) if self.largest else xp.arange(kept)
        chosen = vectors[..., order]
        signs = xp.where((chosen * x).sum(-2) < 0, -1.0, 1.0)   # X's columns are V's up to sign
        g_full_values = xp.zeros(values.shape, dtype=xp.float64)
        g_full_vectors = xp.zeros(vectors.shape, dtype=xp.float64)
        if g_values is not None:
            g_full_values[..., order] = g_values
        if g_vectors is not None:
            g_full_vectors[..., order] = g_vectors * signs[..., None, :]
        projected = _transpose(vectors) @ g_full_vectors
        eye = xp.eye(m, dtype=bool)
        gaps = xp.where(eye, 1.0, values[..., None, :] - values[..., :, None])
        with backend.errstate(xp, divide="ignore", invalid="ignore"):
            inner = xp.where(eye, 0.0, projected / gaps)
        inner = inner + eye * g_full_values[..., None, :]
        grad = vectors @ inner @ _transpose(vectors)
        return ((grad + _transpose(grad)) / 2).astype(self.saved[0].dtype)


def lobpcg(A: Tensor, k: int | None = None, B: Tensor | None = None, X: Tensor | None = None,  # noqa: N803
           n: int | None = None, iK: Tensor | None = None, niter: int | None = None,  # noqa: N803
           tol: float | None = None, largest: bool | None = None, method: str | None = None,
           tracker: Callable | None = None, ortho_iparams: dict | None = None, ortho_fparams: dict | None = None,
           ortho_bparams: dict | None = None) -> tuple[Tensor, Tensor]:
    """The k largest (``largest=False``: smallest) eigenpairs of A x = λ B x by LOBPCG (torch.lobpcg).

    A, B, iK (the preconditioner): (…, m, m), symmetric positive definite; X (…, m, n), k ≤ n, the start
    (default: n = k random columns from the engine's generator); ``niter`` steps at most (default 1000, -1: until
    convergence); ``tol`` the relative residual (default √eps of A's dtype); ``method`` 'ortho' or 'basic' (one
    algorithm here); ``tracker(state)`` is called each step. Returns E (…, k) and X (…, m, k), in A's dtype.
    """
    name = "lobpcg"
    a = tensor_arg(A, name)
    if a.ndim < 2 or a.shape[-1] != a.shape[-2]:
        raise LobpcgShapeError(f"lobpcg: A must be square, got shape {tuple(a.shape)}")
    if a.dtype.kind != "f":
        raise TypeError(f"lobpcg: A must be a floating-point tensor, got dtype {a.dtype}")
    m = a.shape[-1]
    inputs = [a]
    if B is not None:
        b = tensor_arg(B, name)
        if b.shape[-2:] != a.shape[-2:]:
            raise ValueError(f"lobpcg: B must have A's shape {tuple(a.shape)}, got {tuple(b.shape)}")
        inputs.append(b)
    if X is None:
        k = 1 if k is None else k
        n = k if n is None else n
        start = randn(*a.shape[:-2], m, n, dtype="float64", device=a.device).data
    else:
        start = tensor_arg(X, name).data
        if start.shape[-2] != m:
            raise ValueError(f"lobpcg: X must have A's {m} rows, got shape {tuple(start.shape)}")
        n = start.shape[-1]
        k = n if k is None else k
    if m < 3 * n:
        raise ValueError(f"LPBPCG algorithm is not applicable when the number of A rows (={m}) is smaller than 3 x "
                         f"the number of requested eigenpairs (={n})")
    ik = None if iK is None else tensor_arg(iK, name).data
    tol = math.sqrt(float(backend.numpy.finfo(a.dtype).eps)) if tol is None else float(tol)
    params = {"iparams": {"m": m, "n": n, "k": k, "niter": 1000 if niter is None else niter, **(ortho_iparams or {})},
              "fparams": {"tol": tol, **(ortho_fparams or {})},
              "bparams": {"largest": largest is not False, **(ortho_bparams or {})}, "method": method or "ortho"}
    op = LOBPCG(start, ik, k, 1000 if niter is None else int(niter), tol, largest is not False, tracker, params,
                B is not None)
    values, vectors = op(*inputs)
    return values, vectors
