"""Householder reflectors in LAPACK's packed layout: ``geqrf``, ``linalg.householder_product`` (``orgqr``) and
``ormqr``, as PyTorch's.

A QR factorization ``A = Q R`` of A (…, m, n), k = min(m, n), is stored as LAPACK's ``geqrf`` stores it: ``a``
(…, m, n) holds R on and above its diagonal and, below the diagonal of column i, the reflector ``vᵢ`` (its
element i is an implicit 1, those above it 0); ``tau`` (…, k) holds the scalars. Then
``Q = H₀ H₁ … H_{k-1}`` with ``Hᵢ = I - tauᵢ vᵢ vᵢᴴ`` (``vᵢᵀ`` for real A; complex A: ``zgeqrf``'s complex tau
and real diagonal of R). Neither NumPy nor CuPy exposes ``geqrf`` (NumPy's
``qr(mode="raw")`` is not batched and CuPy's differs), so the factorization is k array steps over the whole batch,
with LAPACK's ``?larfg`` choice of signs (``beta = -sign(Re alpha) ‖(alpha, x)‖``, ``tau = 0`` where the column
below the diagonal is already zero and alpha real), on either backend.

``householder_product`` and ``ormqr`` apply the reflectors one at a time with the engine's ops (matmul, mul,
sub), so their gradients (also of higher order) are those of the composition, as PyTorch's. ``geqrf`` has no
gradient: its backward raises, as PyTorch's does.
"""

from __future__ import annotations

import math
from typing import Any

from .. import return_types
from ..autograd import Function
from ..tensor import Tensor
from ._util import flag
from .extras import eye
from .index import tril
from .linalg_arguments import LinalgShapeError, floating, matrices, same_dtype

__all__ = ["geqrf", "householder_product", "orgqr", "ormqr"]


class Geqrf(Function):
    """``(a, tau)``: the QR factorization of A (…, m, n) in LAPACK's packed layout, a (…, m, n), tau (…, k),
    k = min(m, n). No gradient (PyTorch: "the derivative for 'geqrf' is not implemented")."""

    name = "geqrf"
    multiple = True
    n_outputs = 2
    complex_grad = True   # backward raises for complex A too, as PyTorch's

    def forward(self, a: Any) -> tuple:
        xp = self.xp
        *batch, m, n = a.shape
        k = min(m, n)
        count = math.prod(batch)
        work = a.reshape(count, m, n).copy()
        tau = xp.zeros((count, k), dtype=a.dtype)
        for j in range(k):   # LAPACK's ?larfg, then Hᴴ applied to the trailing columns (?geqr2)
            alpha = work[:, j, j]
            below = work[:, j + 1:, j]
            norm_below = xp.sqrt((below * below.conj()).real.sum(axis=-1))
            done = (norm_below == 0) & (alpha.imag == 0)   # H = I, as ?larfg (also for a negative alpha)
            beta = -xp.copysign(xp.hypot(xp.abs(alpha), norm_below), alpha.real)
            t = xp.where(done, 0, (beta - alpha) / xp.where(done, 1, beta)).astype(a.dtype, copy=False)
            scale = xp.where(done, 0, 1 / xp.where(done, 1, alpha - beta)).astype(a.dtype, copy=False)
            v_tail = below * scale[:, None]
            work[:, j + 1:, j] = xp.where(done[:, None], below, v_tail)
            work[:, j, j] = xp.where(done, alpha, beta)
            tau[:, j] = t
            if j + 1 < n:   # the trailing columns: C ← C - conj(tau) v (vᴴ C)
                v = xp.concatenate([xp.ones((count, 1), dtype=a.dtype), v_tail], axis=1)
                trailing = work[:, j:, j + 1:]
                projection = (v.conj()[:, :, None] * trailing).sum(axis=1)
                work[:, j:, j + 1:] = trailing - t.conj()[:, None, None] * v[:, :, None] * projection[:, None, :]
        return work.reshape(a.shape), tau.reshape(tuple(batch) + (k,))

    def backward(self, g_a: Any, g_tau: Any) -> Any:
        raise NotImplementedError("geqrf: the derivative for 'geqrf' is not implemented (as in PyTorch); use "
                                  "linalg.qr to differentiate through a QR factorization")


def geqrf(input: Any) -> Any:  # noqa: A002 - PyTorch's name
    """``(a, tau)`` of torch.geqrf: the QR factorization of ``input`` (…, m, n) in LAPACK's packed layout, a
    (…, m, n) (R on and above the diagonal, the reflectors below it), tau (…, min(m, n)). Feed it to
    :func:`householder_product` for Q and to :func:`ormqr` to multiply by Q. A ``minigrad.return_types.geqrf``;
    backward through it raises, as PyTorch's."""
    a, tau = Geqrf()(matrices(input, "geqrf", what="input", complex_ok=True))
    return return_types.geqrf(a, tau)


class _NoReflectors(Function):
    """``other`` (…, r, c) unchanged (the product with no reflectors, tau of size 0), recorded on the graph of
    ``reflectors`` and ``tau`` without a gradient to them: it still requires grad, and their gradients are None,
    as PyTorch's; ``other`` gets the output's gradient."""

    name = "householder_product"
    complex_grad = True

    def forward(self, other: Any, reflectors: Any, tau: Any) -> Any:
        return other.copy()

    def backward(self, gy: Any) -> tuple:
        return gy if self.needs_grad[0] else None, None, None


def _reflector_arguments(name: str, input: Any, tau: Any) -> tuple[Tensor, Tensor]:  # noqa: A002
    """``input`` (…, m, n) and ``tau`` (…, k) checked as PyTorch checks them (batch dims equal, not broadcast)."""
    input = matrices(input, name, what="input", complex_ok=True)  # noqa: A001
    tau = floating(tau, name, "tau", complex_ok=True)
    if tau.ndim != input.ndim - 1:
        raise LinalgShapeError(f"{name}: Expected tau to have one dimension less than input, but got tau.ndim equal "
                               f"to {tau.ndim} and input.ndim is equal to {input.ndim} (shapes {tau.shape} and "
                               f"{input.shape})")
    if tuple(tau.shape[:-1]) != tuple(input.shape[:-2]):
        raise LinalgShapeError(f"{name}: Expected batch dimensions of tau to be equal to input.shape[:-2] "
                               f"{tuple(input.shape[:-2])}, but got {tuple(tau.shape[:-1])} (shapes: input "
                               f"{input.shape}, tau {tau.shape})")
    same_dtype(name, input, tau, "input and tau")
    return input, tau


def _apply(reflectors: Tensor, tau: Tensor, other: Tensor, left: bool, transpose: bool) -> Tensor:
    """``Q C``, ``Qᴴ C`` (left) or ``C Q``, ``C Qᴴ`` for Q = H₀ … H_{k-1} of the packed ``reflectors`` (…, r, ≥k)
    and ``tau`` (…, k), C = ``other``; one reflector at a time: ``H C = C - tau v (vᴴ C)`` (ᴴ is ᵀ for real)."""
    rows, k = reflectors.shape[-2], tau.shape[-1]
    identity = eye(rows, k, dtype=reflectors.dtype, device=reflectors.device)
    vectors = tril(reflectors[..., :, :k], -1) + identity   # (…, r, k): unit diagonal, zeros above
    # Q C = H₀ (H₁ (… C)): the last reflector first; Qᴴ C = H_{k-1}ᴴ (… (H₀ᴴ C)); C Q = ((C H₀) H₁) …
    order = range(k) if left == transpose else range(k - 1, -1, -1)
    scales = tau.conj() if transpose else tau   # Hᴴ = I - conj(tau) v vᴴ
    if k == 0:
        return _NoReflectors()(other, reflectors, tau)
    result = other
    for i in order:
        v = vectors[..., :, i:i + 1]   # (…, r, 1)
        scale = scales[..., i:i + 1].unsqueeze(-1)   # (…, 1, 1)
        if left:
            result = result - (v * scale) @ (v.mH @ result)
        else:
            result = result - ((result @ v) * scale) @ v.mH
    return result


def householder_product(input: Any, tau: Any) -> Tensor:  # noqa: A002 - PyTorch's names
    """The first n columns (…, m, n) of ``H₀ H₁ … H_{k-1}``, ``Hᵢ = I - tauᵢ vᵢ vᵢᴴ`` (real: ``vᵢᵀ``), for the
    reflectors packed in ``input`` (…, m, n) (m ≥ n) as :func:`geqrf` packs them and ``tau`` (…, k), k ≤ n, as
    torch.linalg.householder_product (torch.orgqr). Gradients reach ``input``'s strictly lower part of its first k
    columns and ``tau``."""
    name = "torch.linalg.householder_product"
    input, tau = _reflector_arguments(name, input, tau)  # noqa: A001
    m, n = input.shape[-2], input.shape[-1]
    if m < n:
        raise LinalgShapeError(f"{name}: input.shape[-2] must be greater than or equal to input.shape[-1] "
                               f"(input of shape {input.shape})")
    if n < tau.shape[-1]:
        raise LinalgShapeError(f"{name}: input.shape[-1] must be greater than or equal to tau.shape[-1] (input "
                               f"{input.shape}, tau {tau.shape})")
    start = eye(m, n, dtype=input.dtype, device=input.device).expand(*input.shape)
    return _apply(input, tau, start, left=True, transpose=False)


def orgqr(input: Any, input2: Any) -> Tensor:  # noqa: A002 - PyTorch's names (input2 is tau)
    """torch.orgqr: :func:`householder_product` of ``input`` (…, m, n) and ``input2`` = tau (…, k)."""
    return householder_product(input, input2)


def ormqr(input: Any, input2: Any, input3: Any, left: bool = True, transpose: bool = False) -> Tensor:  # noqa: A002
    """``Q C`` (``left=False``: ``C Q``; ``transpose``: Qᵀ, complex: Qᴴ) for C = ``input3`` (…, m, n) and the full
    orthogonal (unitary) Q ((…, m, m) left, (…, n, n) right) of the reflectors packed in ``input`` (…, m or n, k')
    as :func:`geqrf` packs them, with ``input2`` = tau (…, min(m or n, k')), as torch.ormqr. Batch dims must be
    equal (not broadcast), as PyTorch's. Differentiable in all three tensors."""
    name = "torch.ormqr"
    left, transpose = flag(left, "ormqr", "left"), flag(transpose, "ormqr", "transpose")
    input, tau = _reflector_arguments(name, input, input2)  # noqa: A001
    other = matrices(input3, name, what="other", complex_ok=True)
    if other.ndim != input.ndim:
        raise LinalgShapeError(f"{name}: Expected other to have the same number of dimensions as input, but got "
                               f"other.ndim equal to {other.ndim} and input.ndim is equal to {input.ndim} (shapes "
                               f"{other.shape} and {input.shape})")
    if tuple(other.shape[:-2]) != tuple(input.shape[:-2]):
        raise LinalgShapeError(f"{name}: Expected batch dimensions of other to be equal to input.shape[:-2] "
                               f"{tuple(input.shape[:-2])}, but got {tuple(other.shape[:-2])}")
    side = -2 if left else -1
    if tau.shape[-1] != min(other.shape[side], input.shape[-1]):
        raise LinalgShapeError(f"{name}: tau.shape[-1] must be equal to min(other.shape[{side}], input.shape[-1]) "
                               f"(shapes: input {input.shape}, tau {tau.shape}, other {other.shape})")
    if other.shape[side] != input.shape[-2]:
        raise LinalgShapeError(f"{name}: other.shape[{side}] must be equal to input.shape[-2] (shapes: input "
                               f"{input.shape}, other {other.shape})")
    same_dtype(name, input, other, "input and other")
    return _apply(input, tau, other, left, transpose)


def _geqrf_method(self: Tensor) -> Any:
    """Tensor.geqrf: :func:`geqrf`; self (…, m, n) → a (…, m, n), tau (…, min(m, n))."""
    return geqrf(self)


def _orgqr_method(self: Tensor, input2: Any) -> Tensor:
    """Tensor.orgqr(tau): :func:`householder_product`."""
    return householder_product(self, input2)


def _ormqr_method(self: Tensor, input2: Any, input3: Any, left: bool = True, transpose: bool = False) -> Tensor:
    """Tensor.ormqr(tau, other, left, transpose): :func:`ormqr`."""
    return ormqr(self, input2, input3, left, transpose)


METHODS = {"geqrf": _geqrf_method, "orgqr": _orgqr_method, "ormqr": _ormqr_method}
