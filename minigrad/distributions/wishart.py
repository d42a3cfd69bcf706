"""The Wishart distribution over positive-definite matrices, as torch.distributions.Wishart."""

from __future__ import annotations

import math
import warnings
from typing import Any

import minigrad as mg

from .. import special
from ..tensor import Tensor
from . import constraints
from .chi2 import Chi2
from .distribution import Distribution
from .exp_family import ExponentialFamily
from .multivariate_normal import _scale_tril
from .utils import is_number, lazy_property, standard_normal

__all__ = ["Wishart"]

_LOG_2 = math.log(2)


def _mvdigamma(x: Tensor, p: int) -> Tensor:
    """The multivariate digamma Σ_{i<p} ψ(x - i/2): x's shape."""
    if not bool((x > (p - 1) / 2).all().item()):
        raise AssertionError("Wrong domain for multivariate digamma function.")
    halves = mg.arange(p, dtype=x.dtype, device=x.device) / 2
    return special.digamma(x.unsqueeze(-1) - halves).sum(-1)


class Wishart(ExponentialFamily):
    """W(ν, Σ) over p × p positive-definite matrices (event_shape (p, p)): the law of Σ_{k≤ν} x_k x_kᵀ,
    x_k ~ N(0, Σ), for real ν = ``df`` > p - 1. Give exactly one of ``covariance_matrix`` Σ, ``precision_matrix``
    Σ⁻¹ or ``scale_tril`` (the lower Cholesky factor of Σ), each (..., p, p); batch_shape is the broadcast of their
    leading dims and df's shape.

    ``rsample`` is Bartlett's decomposition L A Aᵀ Lᵀ, A lower triangular with √χ²(ν - i) diagonal and N(0, 1)
    below; a draw that is not positive definite (possible for ν < p) is redrawn up to ``max_try_correction`` times
    with a "Singular sample detected." warning (PyTorch 2.13 warns on every draw: its test is inverted).
    """

    support = constraints.positive_definite
    has_rsample = True
    _mean_carrier_measure = 0

    @property
    def arg_constraints(self) -> dict:
        return {"covariance_matrix": constraints.positive_definite,
                "precision_matrix": constraints.positive_definite,
                "scale_tril": constraints.lower_cholesky,
                "df": constraints.greater_than(self.event_shape[-1] - 1)}

    def __init__(self, df: Tensor | float, covariance_matrix: Tensor | None = None,
                 precision_matrix: Tensor | None = None, scale_tril: Tensor | None = None,
                 validate_args: bool | None = None) -> None:
        given = [p for p in (covariance_matrix, precision_matrix, scale_tril) if p is not None]
        if len(given) != 1:
            raise AssertionError("Exactly one of covariance_matrix or precision_matrix or scale_tril may be "
                                 "specified.")
        param = given[0]
        if param.ndim < 2:
            raise ValueError("scale_tril must be at least two-dimensional, with optional leading batch dimensions")
        if is_number(df):
            batch_shape = tuple(param.shape[:-2])
            self.df = mg.tensor(df, dtype=param.dtype, device=param.device)
        else:
            batch_shape = tuple(mg.broadcast_shapes(tuple(param.shape[:-2]), tuple(df.shape)))
            self.df = df.expand(batch_shape)
        event_shape = tuple(param.shape[-2:])
        if bool((self.df <= event_shape[-1] - 1).any().item()):
            raise ValueError(f"Value of df={df} expected to be greater than ndim - 1 = {event_shape[-1] - 1}.")
        if scale_tril is not None:
            self.scale_tril = param.expand(batch_shape + (-1, -1))
        elif covariance_matrix is not None:
            self.covariance_matrix = param.expand(batch_shape + (-1, -1))
        else:
            self.precision_matrix = param.expand(batch_shape + (-1, -1))
        if bool((self.df < event_shape[-1]).any().item()):
            warnings.warn("Low df values detected. Singular samples are highly likely to occur for ndim - 1 < df < "
                          "ndim.", stacklevel=2)
        super().__init__(batch_shape, event_shape, validate_args=validate_args)
        self._batch_dims = [-(x + 1) for x in range(len(self._batch_shape))]
        self._unbroadcasted_scale_tril = _scale_tril(covariance_matrix, precision_matrix, scale_tril)
        self._dist_chi2 = self._chi2(self.df, batch_shape)

    def _chi2(self, df: Tensor, batch_shape: tuple) -> Chi2:
        """χ²(ν - i) for i < p: the squared diagonal of Bartlett's factor, batch_shape + (p,)."""
        steps = mg.arange(self._event_shape[-1], dtype=self._unbroadcasted_scale_tril.dtype, device=df.device)
        return Chi2(df=df.unsqueeze(-1) - steps.expand(tuple(batch_shape) + (-1,)))

    def expand(self, batch_shape: Any, _instance: Any = None) -> Wishart:
        new = self._get_checked_instance(Wishart, _instance)
        shape = tuple(batch_shape)
        cov_shape = shape + tuple(self.event_shape)
        new._unbroadcasted_scale_tril = self._unbroadcasted_scale_tril.expand(cov_shape)
        new.df = self.df.expand(shape)
        new._batch_dims = [-(x + 1) for x in range(len(shape))]
        for name in ("covariance_matrix", "scale_tril", "precision_matrix"):
            if name in self.__dict__:
                setattr(new, name, self.__dict__[name].expand(cov_shape))
        Distribution.__init__(new, shape, self.event_shape, validate_args=False)
        new._dist_chi2 = new._chi2(new.df, shape)
        new._validate_args = self._validate_args
        return new

    @lazy_property
    def scale_tril(self) -> Tensor:
        """L with L Lᵀ = Σ: batch_shape + (p, p)."""
        return self._unbroadcasted_scale_tril.expand(tuple(self._batch_shape + self._event_shape))

    @lazy_property
    def covariance_matrix(self) -> Tensor:
        """Σ: batch_shape + (p, p)."""
        tril = self._unbroadcasted_scale_tril
        return (tril @ tril.transpose(-2, -1)).expand(tuple(self._batch_shape + self._event_shape))

    @lazy_property
    def precision_matrix(self) -> Tensor:
        """Σ⁻¹: batch_shape + (p, p)."""
        tril = self._unbroadcasted_scale_tril
        identity = mg.eye(self._event_shape[-1], dtype=tril.dtype, device=tril.device)
        return mg.cholesky_solve(identity, tril).expand(tuple(self._batch_shape + self._event_shape))

    def _df_matrix(self, df: Tensor) -> Tensor:
        return df.reshape(tuple(self._batch_shape) + (1, 1))

    @property
    def mean(self) -> Tensor:
        return self._df_matrix(self.df) * self.covariance_matrix

    @property
    def mode(self) -> Tensor:
        """(ν - p - 1) Σ where ν > p + 1, NaN elsewhere."""
        factor = self.df - self.covariance_matrix.shape[-1] - 1
        return self._df_matrix(mg.where(factor <= 0, float("nan"), factor)) * self.covariance_matrix

    @property
    def variance(self) -> Tensor:
        v = self.covariance_matrix
        diag_v = v.diagonal(dim1=-2, dim2=-1)
        return self._df_matrix(self.df) * (v.pow(2) + diag_v.unsqueeze(-1) * diag_v.unsqueeze(-2))

    def _bartlett_sampling(self, sample_shape: tuple) -> Tensor:
        p = self._event_shape[-1]
        eps = float(mg.finfo(self._unbroadcasted_scale_tril.dtype).eps)
        diagonal = mg.diag_embed(self._dist_chi2.rsample(sample_shape).sqrt().clamp(min=eps))
        below = standard_normal(tuple(sample_shape) + tuple(self._batch_shape) + (p, p), diagonal).tril(-1)
        chol = self._unbroadcasted_scale_tril @ (diagonal + below)
        return chol @ chol.transpose(-2, -1)

    def rsample(self, sample_shape: Any = (), max_try_correction: int | None = None) -> Tensor:
        """Draws sample_shape + batch_shape + (p, p); singular ones redrawn (see the class docstring)."""
        max_try_correction = 10 if max_try_correction is None else max_try_correction
        sample_shape = tuple(self._extended_shape(sample_shape))[:-2 - len(self._batch_shape)]
        sample = self._bartlett_sampling(sample_shape)
        for attempt in range(max_try_correction):
            singular = ~self.support.check(sample)
            if not bool(singular.any().item()):
                break
            if attempt == 0:
                warnings.warn("Singular sample detected.", stacklevel=2)
            sample = mg.where(singular.unsqueeze(-1).unsqueeze(-1), self._bartlett_sampling(sample_shape), sample)
        return sample

    def log_prob(self, value: Tensor) -> Tensor:
        if self._validate_args:
            self._validate_sample(value)
        nu, p = self.df, self._event_shape[-1]
        tril = self._unbroadcasted_scale_tril
        return (-nu * (p * _LOG_2 / 2 + tril.diagonal(dim1=-2, dim2=-1).log().sum(-1))
                - special.multigammaln(nu / 2, p)
                + (nu - p - 1) / 2 * mg.linalg.slogdet(value).logabsdet
                - mg.cholesky_solve(value, tril).diagonal(dim1=-2, dim2=-1).sum(-1) / 2)

    def entropy(self) -> Tensor:
        nu, p = self.df, self._event_shape[-1]
        tril = self._unbroadcasted_scale_tril
        return ((p + 1) * (p * _LOG_2 / 2 + tril.diagonal(dim1=-2, dim2=-1).log().sum(-1))
                + special.multigammaln(nu / 2, p) - (nu - p - 1) / 2 * _mvdigamma(nu / 2, p) + nu * p / 2)

    @property
    def _natural_params(self) -> tuple:
        nu, p = self.df, self._event_shape[-1]
        return -self.precision_matrix / 2, (nu - p - 1) / 2

    def _log_normalizer(self, x: Tensor, y: Tensor) -> Tensor:
        p = self._event_shape[-1]
        return ((y + (p + 1) / 2) * (-mg.linalg.slogdet(-2 * x).logabsdet + _LOG_2 * p)
                + special.multigammaln(y + (p + 1) / 2, p))
