"""The multivariate normal distribution, as torch.distributions.MultivariateNormal (matrices via mg.linalg)."""

from __future__ import annotations

import math
from typing import Any

import minigrad as mg

from ..tensor import Tensor
from . import constraints
from .distribution import Distribution
from .utils import Located, lazy_property, standard_normal

__all__ = ["MultivariateNormal"]


def batch_mv(matrix: Tensor, vector: Tensor) -> Tensor:
    """matrix (..., n, n) times vector (..., n), batch dims broadcast → (..., n)."""
    return (matrix @ vector.unsqueeze(-1)).squeeze(-1)


def batch_mahalanobis(scale_tril: Tensor, x: Tensor) -> Tensor:
    """|L⁻¹ x|² for L (..., n, n) lower triangular and x (..., n), batch dims broadcast → (...)."""
    n = x.shape[-1]
    x = x.astype(scale_tril.dtype)   # float64 or integer values next to a float32 L: float32, as PyTorch's solve
    batch = tuple(mg.broadcast_shapes(tuple(scale_tril.shape[:-2]), tuple(x.shape[:-1])))
    solved = mg.linalg.solve_triangular(scale_tril.expand(batch + (n, n)), x.expand(batch + (n,)).unsqueeze(-1),
                                        upper=False)
    return (solved ** 2).sum((-2, -1))


def _precision_to_scale_tril(precision: Tensor) -> Tensor:
    """The lower Cholesky factor L of P⁻¹ (L Lᵀ = P⁻¹) without inverting P (PyTorch's: flip, factor, solve)."""
    flipped = mg.linalg.cholesky(mg.flip(precision, (-2, -1)))
    inverse = mg.flip(flipped, (-2, -1)).transpose(-2, -1)
    identity = mg.eye(precision.shape[-1], dtype=precision.dtype, device=precision.device)
    return mg.linalg.solve_triangular(inverse, identity, upper=False)


def _scale_tril(covariance_matrix: Tensor | None, precision_matrix: Tensor | None,
                scale_tril: Tensor | None) -> Tensor:
    """The lower Cholesky factor L (L Lᵀ = Σ) of whichever one of Σ, Σ⁻¹ and L is given: (..., n, n)."""
    if scale_tril is not None:
        return scale_tril
    if covariance_matrix is not None:
        return mg.linalg.cholesky(covariance_matrix)
    return _precision_to_scale_tril(precision_matrix)


class MultivariateNormal(Located, Distribution):
    """N(loc, Σ) over vectors of length n: event_shape (n,), batch_shape the broadcast of loc's and the
    matrix's leading dims.

    Give exactly one of ``covariance_matrix`` Σ, ``precision_matrix`` Σ⁻¹ (each (..., n, n), symmetric
    positive definite) or ``scale_tril`` L (lower triangular with a positive diagonal, Σ = L Lᵀ).
    ``rsample`` is loc + L ε, ε ~ N(0, I): gradients reach loc and the matrix (through mg.linalg.cholesky).
    """

    arg_constraints = {"loc": constraints.real_vector, "covariance_matrix": constraints.positive_definite,
                       "precision_matrix": constraints.positive_definite, "scale_tril": constraints.lower_cholesky}
    support = constraints.real_vector
    has_rsample = True

    def __init__(self, loc: Tensor, covariance_matrix: Tensor | None = None, precision_matrix: Tensor | None = None,
                 scale_tril: Tensor | None = None, validate_args: bool | None = None) -> None:
        if loc.ndim < 1:
            raise ValueError("loc must be at least one-dimensional.")
        given = [m for m in (covariance_matrix, precision_matrix, scale_tril) if m is not None]
        if len(given) != 1:
            raise ValueError("Exactly one of covariance_matrix or precision_matrix or scale_tril may be specified.")
        matrix = given[0]
        name = ("scale_tril" if scale_tril is not None else "covariance_matrix" if covariance_matrix is not None
                else "precision_matrix")
        if matrix.ndim < 2:
            raise ValueError(f"{name} must be at least two-dimensional, with optional leading batch dimensions")
        batch_shape = tuple(mg.broadcast_shapes(tuple(matrix.shape[:-2]), tuple(loc.shape[:-1])))
        n = loc.shape[-1]
        setattr(self, name, matrix.expand(batch_shape + tuple(matrix.shape[-2:])))
        self.loc = loc.expand(batch_shape + (n,))
        super().__init__(batch_shape, (n,), validate_args=validate_args)
        self._unbroadcasted_scale_tril = _scale_tril(covariance_matrix, precision_matrix, scale_tril)

    def expand(self, batch_shape: Any, _instance: Any = None) -> MultivariateNormal:
        new = self._get_checked_instance(MultivariateNormal, _instance)
        batch_shape = tuple(batch_shape)
        n = self._event_shape[0]
        new.loc = self.loc.expand(batch_shape + (n,))
        new._unbroadcasted_scale_tril = self._unbroadcasted_scale_tril
        for name in ("covariance_matrix", "scale_tril", "precision_matrix"):
            if name in self.__dict__:
                setattr(new, name, self.__dict__[name].expand(batch_shape + (n, n)))
        Distribution.__init__(new, batch_shape, self.event_shape, validate_args=False)
        new._validate_args = self._validate_args
        return new

    def _matrix_shape(self) -> tuple:
        n = self._event_shape[0]
        return tuple(self._batch_shape) + (n, n)

    @lazy_property
    def scale_tril(self) -> Tensor:
        """L with Σ = L Lᵀ: batch_shape + (n, n)."""
        return self._unbroadcasted_scale_tril.expand(self._matrix_shape())

    @lazy_property
    def covariance_matrix(self) -> Tensor:
        """Σ = L Lᵀ: batch_shape + (n, n)."""
        tril = self._unbroadcasted_scale_tril
        return (tril @ tril.mT).expand(self._matrix_shape())

    @lazy_property
    def precision_matrix(self) -> Tensor:
        """Σ⁻¹ = L⁻ᵀ L⁻¹: batch_shape + (n, n)."""
        tril = self._unbroadcasted_scale_tril
        identity = mg.eye(tril.shape[-1], dtype=tril.dtype, device=tril.device)
        inverse = mg.linalg.solve_triangular(tril, identity, upper=False)
        return (inverse.mT @ inverse).expand(self._matrix_shape())

    @property
    def variance(self) -> Tensor:
        return (self._unbroadcasted_scale_tril ** 2).sum(-1).expand(tuple(self._batch_shape + self._event_shape))

    def rsample(self, sample_shape: Any = ()) -> Tensor:
        eps = standard_normal(self._extended_shape(sample_shape), self.loc)
        return self.loc + batch_mv(self._unbroadcasted_scale_tril, eps)

    def _half_log_det(self) -> Tensor:
        return self._unbroadcasted_scale_tril.diagonal(dim1=-2, dim2=-1).log().sum(-1)

    def log_prob(self, value: Tensor) -> Tensor:
        if self._validate_args:
            self._validate_sample(value)
        mahalanobis = batch_mahalanobis(self._unbroadcasted_scale_tril, value - self.loc)
        return -0.5 * (self._event_shape[0] * math.log(2 * math.pi) + mahalanobis) - self._half_log_det()

    def entropy(self) -> Tensor:
        entropy = 0.5 * self._event_shape[0] * (1.0 + math.log(2 * math.pi)) + self._half_log_det()
        return entropy if not self._batch_shape else entropy.expand(tuple(self._batch_shape))
