"""The multivariate normal with a low-rank-plus-diagonal covariance W Wᵀ + diag(D), as
torch.distributions.LowRankMultivariateNormal."""

from __future__ import annotations

import math
from typing import Any

import minigrad as mg

from ..tensor import Tensor
from . import constraints
from .distribution import Distribution
from .multivariate_normal import batch_mahalanobis, batch_mv
from .utils import Located, lazy_property, standard_normal, value_like

__all__ = ["LowRankMultivariateNormal"]


def _identity_plus(matrix: Tensor) -> Tensor:
    """matrix (..., m, m) + I."""
    return matrix + mg.eye(matrix.shape[-1], dtype=matrix.dtype, device=matrix.device)


def batch_capacitance_tril(w: Tensor, d: Tensor) -> Tensor:
    """The Cholesky factor of the capacitance I + Wᵀ D⁻¹ W: W (..., n, m), D (..., n) → (..., m, m)."""
    wt_dinv = w.mT / d.unsqueeze(-2)
    return mg.linalg.cholesky(_identity_plus(wt_dinv @ w))


def batch_lowrank_logdet(w: Tensor, d: Tensor, capacitance_tril: Tensor) -> Tensor:
    """log det(W Wᵀ + D) = log det(capacitance) + log det(D) (the matrix determinant lemma): (...)."""
    return 2 * capacitance_tril.diagonal(dim1=-2, dim2=-1).log().sum(-1) + d.log().sum(-1)


def batch_lowrank_mahalanobis(w: Tensor, d: Tensor, x: Tensor, capacitance_tril: Tensor) -> Tensor:
    """xᵀ (W Wᵀ + D)⁻¹ x by the Woodbury identity: x (..., n) → (...)."""
    wt_dinv = w.mT / d.unsqueeze(-2)
    return (x.pow(2) / d).sum(-1) - batch_mahalanobis(capacitance_tril, batch_mv(wt_dinv, x))


def batch_trace_xxt(x: Tensor) -> Tensor:
    """tr(X Xᵀ), the sum of squares over the last two dims: (..., n, m) → (...)."""
    return x.pow(2).sum((-2, -1))


class LowRankMultivariateNormal(Located, Distribution):
    """N(loc, W Wᵀ + diag(D)) with W = ``cov_factor`` (..., n, m) and D = ``cov_diag`` (..., n) positive:
    event_shape (n,). Scores and draws cost O(n m²) instead of O(n³) through the capacitance matrix.
    ``rsample`` is loc + W ε_W + √D ε_D."""

    arg_constraints = {"loc": constraints.real_vector, "cov_factor": constraints.independent(constraints.real, 2),
                       "cov_diag": constraints.independent(constraints.positive, 1)}
    support = constraints.real_vector
    has_rsample = True

    def __init__(self, loc: Tensor, cov_factor: Tensor, cov_diag: Tensor, validate_args: bool | None = None) -> None:
        if loc.ndim < 1:
            raise ValueError("loc must be at least one-dimensional.")
        event_shape = tuple(loc.shape[-1:])
        if cov_factor.ndim < 2:
            raise ValueError("cov_factor must be at least two-dimensional, with optional leading batch dimensions")
        if tuple(cov_factor.shape[-2:-1]) != event_shape:
            raise ValueError(f"cov_factor must be a batch of matrices with shape {event_shape[0]} x m")
        if tuple(cov_diag.shape[-1:]) != event_shape:
            raise ValueError(f"cov_diag must be a batch of vectors with shape {mg.Size(event_shape)}")
        try:
            loc_, self.cov_factor, cov_diag_ = mg.broadcast_tensors(loc.unsqueeze(-1), cov_factor,
                                                                    cov_diag.unsqueeze(-1))
        except ValueError as error:
            raise ValueError(f"Incompatible batch shapes: loc {mg.Size(tuple(loc.shape))}, cov_factor "
                             f"{mg.Size(tuple(cov_factor.shape))}, cov_diag {mg.Size(tuple(cov_diag.shape))}"
                             ) from error
        self.loc, self.cov_diag = loc_[..., 0], cov_diag_[..., 0]
        self._unbroadcasted_cov_factor, self._unbroadcasted_cov_diag = cov_factor, cov_diag
        self._capacitance_tril = batch_capacitance_tril(cov_factor, cov_diag)
        super().__init__(self.loc.shape[:-1], event_shape, validate_args=validate_args)

    def expand(self, batch_shape: Any, _instance: Any = None) -> LowRankMultivariateNormal:
        new = self._get_checked_instance(LowRankMultivariateNormal, _instance)
        loc_shape = tuple(batch_shape) + tuple(self.event_shape)
        new.loc, new.cov_diag = self.loc.expand(loc_shape), self.cov_diag.expand(loc_shape)
        new.cov_factor = self.cov_factor.expand(loc_shape + tuple(self.cov_factor.shape[-1:]))
        new._unbroadcasted_cov_factor = self._unbroadcasted_cov_factor
        new._unbroadcasted_cov_diag = self._unbroadcasted_cov_diag
        new._capacitance_tril = self._capacitance_tril
        Distribution.__init__(new, batch_shape, self.event_shape, validate_args=False)
        new._validate_args = self._validate_args
        return new

    def _matrix_shape(self) -> tuple:
        return tuple(self._batch_shape) + tuple(self._event_shape) * 2

    @lazy_property
    def variance(self) -> Tensor:  # type: ignore[override]
        return (self._unbroadcasted_cov_factor.pow(2).sum(-1) + self._unbroadcasted_cov_diag).expand(
            tuple(self._batch_shape) + tuple(self._event_shape))

    @lazy_property
    def scale_tril(self) -> Tensor:
        """The Cholesky factor of the covariance, √D · chol(I + D^-½ W Wᵀ D^-½): batch_shape + (n, n)."""
        sqrt_d = self._unbroadcasted_cov_diag.sqrt().unsqueeze(-1)
        dinvsqrt_w = self._unbroadcasted_cov_factor / sqrt_d
        return (sqrt_d * mg.linalg.cholesky(_identity_plus(dinvsqrt_w @ dinvsqrt_w.mT))).expand(self._matrix_shape())

    @lazy_property
    def covariance_matrix(self) -> Tensor:
        w = self._unbroadcasted_cov_factor
        return (w @ w.mT + self._unbroadcasted_cov_diag.diag_embed()).expand(self._matrix_shape())

    @lazy_property
    def precision_matrix(self) -> Tensor:
        """D⁻¹ - Aᵀ A with A = C⁻¹ Wᵀ D⁻¹, C the capacitance factor (Woodbury): batch_shape + (n, n)."""
        wt_dinv = self._unbroadcasted_cov_factor.mT / self._unbroadcasted_cov_diag.unsqueeze(-2)
        a = mg.linalg.solve_triangular(self._capacitance_tril, wt_dinv, upper=False)
        return (self._unbroadcasted_cov_diag.reciprocal().diag_embed() - a.mT @ a).expand(self._matrix_shape())

    def rsample(self, sample_shape: Any = ()) -> Tensor:
        shape = tuple(self._extended_shape(sample_shape))
        eps_w = standard_normal(shape[:-1] + tuple(self.cov_factor.shape[-1:]), self.loc)
        eps_d = standard_normal(shape, self.loc)
        return (self.loc + batch_mv(self._unbroadcasted_cov_factor, eps_w)
                + self._unbroadcasted_cov_diag.sqrt() * eps_d)

    def _log_det(self) -> Tensor:
        return batch_lowrank_logdet(self._unbroadcasted_cov_factor, self._unbroadcasted_cov_diag,
                                    self._capacitance_tril)

    def log_prob(self, value: Tensor) -> Tensor:
        if self._validate_args:
            self._validate_sample(value)
        mahalanobis = batch_lowrank_mahalanobis(self._unbroadcasted_cov_factor, self._unbroadcasted_cov_diag,
                                                value_like(value, self.loc) - self.loc, self._capacitance_tril)
        return -0.5 * (self._event_shape[0] * math.log(2 * math.pi) + self._log_det() + mahalanobis)

    def entropy(self) -> Tensor:
        entropy = 0.5 * (self._event_shape[0] * (1.0 + math.log(2 * math.pi)) + self._log_det())
        return entropy if not self._batch_shape else entropy.expand(tuple(self._batch_shape))
