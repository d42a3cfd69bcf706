"""Weight re-parametrisations built on :mod:`nn.utils.parametrize`, as ``torch.nn.utils.parametrizations``:
``weight_norm``, ``spectral_norm`` and ``orthogonal``.

Each registers a small module on ``module.<name>``; PyTorch's class names, buffers and state-dict keys::

    weight_norm:    w = g · v / ‖v‖   parametrizations.weight.original0 (g), .original1 (v)
    spectral_norm:  w = W / σ(W)      parametrizations.weight.original (W), .0._u, .0._v (power iteration)
    orthogonal:     w = Q             parametrizations.weight.original, .0.base (trivialization)
"""

from __future__ import annotations

import numpy

import minigrad as mg
from minigrad import Tensor

from .. import functional as F
from .._errors import ComplexInputError
from ..module import Module
from . import parametrize

__all__ = ["orthogonal", "spectral_norm", "weight_norm"]


# --- weight norm ---

def norm_except_dim(v: Tensor, dim: int) -> Tensor:
    """The 2-norm of ``v`` over every dim but ``dim``, keeping ``v``'s ndim (size 1 except at ``dim``), as
    PyTorch's ``torch.norm_except_dim(v, 2, dim)``. ``dim=-1`` means the norm of the whole tensor (a 0-d
    tensor), as PyTorch's; other negative dims count from the end. ``dim`` must be an int (PyTorch's TypeError)."""
    if isinstance(dim, bool) or not isinstance(dim, (int, numpy.integer)):
        raise TypeError(f"norm_except_dim(): argument 'dim' must be int, not {type(dim).__name__}")
    if dim == -1:
        return mg.linalg.vector_norm(v)
    if not -v.ndim <= dim < v.ndim:
        raise IndexError(f"Dimension out of range (expected to be in range of [{-v.ndim}, {v.ndim - 1}], "
                         f"but got {dim})")
    dim %= v.ndim
    others = tuple(d for d in range(v.ndim) if d != dim)
    if not others:   # a 1-d v: each entry is its own slice
        return v.abs()
    return mg.linalg.vector_norm(v, 2, dim=others, keepdim=True)


def _weight_norm(v: Tensor, g: Tensor, dim: int) -> Tensor:
    """w = v · (g / ‖v‖), the norm over every dim but ``dim`` (:func:`norm_except_dim`), as ``torch._weight_norm``
    (which refuses a 0-d ``v``, whatever ``dim``)."""
    if v.ndim == 0:
        raise IndexError(f"_weight_norm: dimension specified as {dim} but the tensor has no dimensions")
    if v.is_complex() and dim in (0, v.ndim - 1):   # PyTorch's fused kernel takes these dims, and no complex dtype
        raise ComplexInputError(f"_weight_norm: not implemented for complex tensors with dim={dim} (v {v.dtype} of "
                                f"shape {v.shape}), as PyTorch's weight_norm kernel; dim=None norms the whole tensor")
    return v * (g / norm_except_dim(v, dim))


class _WeightNorm(Module):
    """w = g · v / ‖v‖ with the norm over every dim but ``dim`` (None or -1: over the whole tensor)."""

    def __init__(self, dim: int | None = 0) -> None:
        super().__init__()
        self.dim = -1 if dim is None else dim

    def forward(self, weight_g: Tensor, weight_v: Tensor) -> Tensor:
        return _weight_norm(weight_v, weight_g, self.dim)

    def right_inverse(self, weight: Tensor) -> tuple[Tensor, Tensor]:
        """(g, v) = (‖weight‖ per slice along ``dim``, weight)."""
        return norm_except_dim(weight, self.dim), weight


def weight_norm(module: Module, name: str = "weight", dim: int | None = 0) -> Module:
    """Weight normalisation w = g · v / ‖v‖ of ``module.<name>``, as PyTorch's
    ``nn.utils.parametrizations.weight_norm``.

    ``g`` (``parametrizations.<name>.original0``) holds the norm of each slice along ``dim`` (shape: the
    weight's with 1 in every other dim; ``dim=None`` or ``-1``: one norm for the whole tensor, shape ()),
    ``v`` (``original1``) the direction, of the weight's shape. A state dict of the legacy
    :func:`nn.utils.weight_norm` (``<name>_g``, ``<name>_v``) loads too. Returns ``module``.
    """
    parametrize.register_parametrization(module, name, _WeightNorm(dim), unsafe=True)

    def legacy_keys(state_dict: dict, prefix: str, local_metadata: dict, strict: bool, missing_keys: list,
                    unexpected_keys: list, error_msgs: list) -> None:
        g_key, v_key = f"{prefix}{name}_g", f"{prefix}{name}_v"
        if g_key in state_dict and v_key in state_dict:
            state_dict[f"{prefix}parametrizations.{name}.original0"] = state_dict.pop(g_key)
            state_dict[f"{prefix}parametrizations.{name}.original1"] = state_dict.pop(v_key)

    module._register_load_state_dict_pre_hook(legacy_keys)
    return module


# --- spectral norm ---

def _matrix(weight: Tensor, dim: int) -> Tensor:
    """``weight`` as a matrix (weight.shape[dim], rest): ``dim`` moved first, the others flattened."""
    if dim != 0:
        weight = weight.permute(dim, *(d for d in range(weight.ndim) if d != dim))
    return weight.flatten(1)


class _SpectralNorm(Module):
    """w = W / σ(W), σ estimated by power iteration on W as a matrix (``dim`` first, the rest flattened).

    Buffers ``_u`` (h,) and ``_v`` (w,): the estimated first singular vectors, refined by
    ``n_power_iterations`` steps on each read in training mode (in place, nothing recorded) and used as
    they are in eval mode. A 1-d weight is normalised exactly (no buffers).
    """

    def __init__(self, weight: Tensor, n_power_iterations: int = 1, dim: int = 0, eps: float = 1e-12) -> None:
        super().__init__()
        ndim = weight.ndim
        if dim >= ndim or dim < -ndim:
            raise IndexError(f"Dimension out of range (expected to be in range of [-{ndim}, {ndim - 1}] but got {dim})")
        if n_power_iterations <= 0:
            raise ValueError("Expected n_power_iterations to be positive, but got "
                             f"n_power_iterations={n_power_iterations}")
        self.dim = dim if dim >= 0 else dim + ndim
        self.eps = eps
        if ndim > 1:
            self.n_power_iterations = n_power_iterations
            weight_mat = _matrix(weight.detach(), self.dim)
            h, w = weight_mat.shape
            u = mg.randn(h, dtype=weight.dtype, device=weight.device)
            v = mg.randn(w, dtype=weight.dtype, device=weight.device)
            self.register_buffer("_u", F.normalize(u, dim=0, eps=self.eps))
            self.register_buffer("_v", F.normalize(v, dim=0, eps=self.eps))
            self._power_method(weight_mat, 15)   # start from a good estimate

    def _power_method(self, weight_mat: Tensor, n_power_iterations: int) -> None:
        """u ← W v / ‖W v‖, v ← Wᴴ u / ‖Wᴴ u‖ (Wᴴ: the conjugate transpose), ``n_power_iterations``
        times, into the buffers in place."""
        with mg.no_grad():
            for _ in range(n_power_iterations):
                self._u.copy_(F.normalize(mg.mv(weight_mat, self._v), dim=0, eps=self.eps))
                self._v.copy_(F.normalize(mg.mv(weight_mat.mH, self._u), dim=0, eps=self.eps))

    def forward(self, weight: Tensor) -> Tensor:
        if weight.ndim == 1:
            return F.normalize(weight, dim=0, eps=self.eps)
        weight_mat = _matrix(weight, self.dim)
        if self.training:
            # a replay would not update the buffers: run such a call eagerly
            mg.compiler.run_eagerly("spectral_norm updates its power-iteration buffers in training mode")
            self._power_method(weight_mat, self.n_power_iterations)
        # copies: a later read updates the buffers in place, and this graph's backward needs these values
        u, v = self._u.clone(), self._v.clone()
        sigma = mg.vdot(u, mg.mv(weight_mat, v))
        return weight / sigma

    def right_inverse(self, value: Tensor) -> Tensor:
        return value


def _default_dim(module: Module) -> int:
    """PyTorch's default output dim: 1 for a transposed convolution (weight (in, out, …)), else 0."""
    return 1 if parametrize.type_before_parametrizations(module).__name__.startswith("ConvTranspose") else 0


def spectral_norm(module: Module, name: str = "weight", n_power_iterations: int = 1, eps: float = 1e-12,
                  dim: int | None = None) -> Module:
    """Spectral normalisation w = W / σ(W) of ``module.<name>``, as PyTorch's
    ``nn.utils.parametrizations.spectral_norm``: σ, the largest singular value of W as a matrix
    (W.shape[dim], rest), is estimated by ``n_power_iterations`` steps of power iteration on each read in
    training mode (buffers ``parametrizations.<name>.0._u`` (h,) and ``._v`` (w,)); in eval mode the
    buffers are used as they are. ``dim`` (None: 0, or 1 for a ConvTranspose) is the output dim. The
    buffers start random (from minigrad's generator, so not PyTorch's values) and refined by 15 steps.
    Returns ``module``.
    """
    weight = getattr(module, name, None)
    if not isinstance(weight, Tensor):
        raise ValueError(f"Module '{module}' has no parameter or buffer with name '{name}'")
    if dim is None:
        dim = _default_dim(module)
    parametrize.register_parametrization(module, name, _SpectralNorm(weight, n_power_iterations, dim, eps))
    return module


# --- orthogonal ---

_ORTHOGONAL_MAPS = ("matrix_exp", "cayley", "householder")


def _is_orthogonal(q: Tensor) -> bool:
    n, k = q.shape[-2], q.shape[-1]
    eye = mg.eye(k, dtype=q.dtype, device=q.device)
    eps = 10.0 * n * float(mg.finfo(q.dtype).eps)
    return bool(mg.allclose(q.mH @ q, eye.expand(q.mT.shape[:-2] + (k, k)), atol=eps))


def _make_orthogonal(a: Tensor) -> Tensor:
    """The Q of A = QR (A tall, maybe complex) with diag(R) real and ≥ 0, as PyTorch's ``_make_orthogonal``."""
    q, r = mg.linalg.qr(a)
    return q * r.diagonal(dim1=-2, dim2=-1).sgn().unsqueeze(-2)


def _householder_product(a: Tensor, tau: Tensor) -> Tensor:
    """H_1 H_2 … H_k applied to the first k columns of the identity, H_i = I − τ_i v_i v_iᵀ, v_i the i-th
    column of ``a`` below the diagonal with 1 on it, as ``torch.linalg.householder_product``. a: (…, n, k)."""
    if a.dtype == mg.float16:   # PyTorch's has no float16 kernel (the steps below would compute one)
        raise NotImplementedError(f"orthogonal (householder): float16 weights (shape {tuple(a.shape)}) are not "
                                  "supported, as PyTorch's linalg.householder_product (\"orgqr_cpu\" not implemented "
                                  "for 'Half'); keep the parametrized module in float32")
    n, k = a.shape[-2], a.shape[-1]
    eye = mg.eye(n, k, dtype=a.dtype, device=a.device)
    reflectors = a.tril(-1) + eye
    q = eye.expand(a.shape)
    for i in reversed(range(k)):
        v = reflectors[..., :, i:i + 1]                           # (…, n, 1)
        q = q - (tau[..., i:i + 1].unsqueeze(-1) * v) @ (v.mT @ q)
    return q


class _Orthogonal(Module):
    """Q with orthonormal columns (rows if wide) from an unconstrained matrix, as PyTorch's ``_Orthogonal``:
    ``matrix_exp``/``cayley`` of the skew-symmetric (complex: skew-Hermitian) part of the lower triangle, or a
    product of Householder reflectors (real only); with ``base`` (the dynamic trivialization) Q is ``base @ Q``."""

    base: Tensor

    def __init__(self, weight: Tensor, orthogonal_map: str, *, use_trivialization: bool = True) -> None:
        super().__init__()
        if weight.dtype.kind == "c" and orthogonal_map == "householder":
            raise ValueError("The householder parametrization does not support complex tensors.")
        self.shape = weight.shape
        self.orthogonal_map = orthogonal_map
        if use_trivialization:
            self.register_buffer("base", None)

    def forward(self, x: Tensor) -> Tensor:
        n, k = x.shape[-2], x.shape[-1]
        transposed = n < k
        if transposed:
            x = x.mT
            n, k = k, n
        if self.orthogonal_map in ("matrix_exp", "cayley"):
            x = x.tril()
            if n != k:   # embed the tall lower triangle into a square matrix
                x = mg.cat([x, mg.zeros(x.shape[:-2] + (n, n - k), dtype=x.dtype, device=x.device)], dim=-1)
            a = x - x.mH   # skew-Hermitian (skew-symmetric if real)
            if self.orthogonal_map == "matrix_exp":
                q = mg.linalg.matrix_exp(a)
            else:   # Cayley: (I - A/2)⁻¹ (I + A/2), as PyTorch solves it
                eye = mg.eye(n, dtype=a.dtype, device=a.device)
                q = mg.linalg.solve(eye - 0.5 * a, eye + 0.5 * a)
            if n != k:
                q = q[..., :k]
        else:
            a = x.tril(-1)
            tau = 2.0 / (1.0 + (a * a).sum(dim=-2))
            # the diagonal of x holds ±1: a sign per column, not differentiated
            q = _householder_product(a, tau) * x.diagonal(dim1=-2, dim2=-1).detach().trunc().unsqueeze(-2)
        if "base" in self._buffers:
            q = self.base @ q
        if transposed:
            q = q.mT
        return q

    def right_inverse(self, q: Tensor) -> Tensor:
        if q.shape != self.shape:
            raise ValueError(f"Expected a matrix or batch of matrices of shape {self.shape}. "
                             f"Got a tensor of shape {q.shape}.")
        with mg.no_grad():
            q_init = q
            n, k = q.shape[-2], q.shape[-1]
            transpose = n < k
            if transpose:
                q = q.mT
                n, k = k, n
            if "base" not in self._buffers:
                # as PyTorch's: matrix_exp and cayley have no inverse to assign through
                if self.orthogonal_map != "householder":
                    raise NotImplementedError("It is not possible to assign to the matrix exponential or the "
                                              "Cayley parametrizations when use_trivialization=False.")
                # householder: the reflectors of q's QR, R's diagonal replaced by its signs (flipped where LAPACK
                # made no reflection, tau = 0), so that the forward gives back q's Q with diag(R) > 0
                a, tau = mg.geqrf(q)
                signs = a.diagonal(dim1=-2, dim2=-1).sign()
                signs = mg.where(tau == 0.0, -signs, signs)
                a = mg.where(mg.eye(n, k, dtype=mg.bool_, device=a.device), signs.unsqueeze(-2), a)
                return a.mT if transpose else a
            if n == k:
                q = q.clone() if _is_orthogonal(q) else _make_orthogonal(q)
            else:   # complete q into a full n × n orthogonal matrix
                extra = mg.randn(*q.shape[:-2], n, n - k, dtype=q.dtype, device=q.device)
                q = _make_orthogonal(mg.cat([q, extra], dim=-1))
            self.base = q
            # -I: the Householder map of zeros with -1 on the diagonal is I, so Q starts as base
            return mg.zeros_like(q_init) - mg.eye(q_init.shape[-2], q_init.shape[-1], dtype=q.dtype, device=q.device)


def orthogonal(module: Module, name: str = "weight", orthogonal_map: str | None = None, *,
               use_trivialization: bool = True) -> Module:
    """Make ``module.<name>`` (a matrix or a batch of matrices (…, m, n)) orthogonal, as PyTorch's
    ``nn.utils.parametrizations.orthogonal``: orthonormal columns if m ≥ n, rows otherwise.

    ``orthogonal_map``: ``"matrix_exp"``, ``"cayley"`` or ``"householder"`` (None: ``matrix_exp`` for a
    square or complex matrix, else ``householder``; ``householder`` refuses a complex one, as PyTorch's). The
    dynamic trivialization (default) keeps ``base`` (``parametrizations.<name>.0.base``) and starts from the weight
    if it is orthogonal, else from the Q of its QR decomposition (a wide or tall one completed with random columns:
    minigrad's generator, not PyTorch's).
    ``use_trivialization=False`` starts from the weight as the unconstrained matrix (``householder``: from the
    reflectors of its QR decomposition, ``mg.geqrf``, as PyTorch's). Returns ``module``.
    """
    weight = getattr(module, name, None)
    if not isinstance(weight, Tensor):
        raise ValueError(f"Module '{module}' has no parameter or buffer with name '{name}'")
    if weight.ndim < 2:
        raise ValueError(f"Expected a matrix or batch of matrices. Got a tensor of {weight.ndim} dimensions.")
    if orthogonal_map is None:
        orthogonal_map = "matrix_exp" if weight.shape[-2] == weight.shape[-1] or weight.dtype.kind == "c" \
            else "householder"
    if orthogonal_map not in _ORTHOGONAL_MAPS:
        raise ValueError('orthogonal_map has to be one of "matrix_exp", "cayley", "householder". '
                         f"Got: {orthogonal_map}")
    parametrize.register_parametrization(module, name, _Orthogonal(weight, orthogonal_map,
                                                                   use_trivialization=use_trivialization),
                                         unsafe=True)
    return module
