"""The Dirichlet distribution on the simplex, as torch.distributions.Dirichlet."""

from __future__ import annotations

from typing import Any

import minigrad as mg

from .. import special
from ..ops.gamma import standard_gamma
from ..tensor import Tensor
from . import constraints
from .exp_family import ExponentialFamily
from .utils import one_hot, value_like

__all__ = ["Dirichlet"]


class Dirichlet(ExponentialFamily):
    """density Γ(Σα) / ΠΓ(α_k) · Π x_k^(α_k - 1) on the simplex; concentration α: (*batch_shape, K),
    event_shape (K,).

    ``rsample`` normalises K reparameterised Gamma(α_k, 1) draws, g / Σg, so gradients reach α through
    each draw's implicit derivative (PyTorch differentiates the Dirichlet's own CDF instead: both are
    unbiased, their per-sample gradients differ).
    """

    arg_constraints = {"concentration": constraints.independent(constraints.positive, 1)}
    support = constraints.simplex
    has_rsample = True

    def __init__(self, concentration: Tensor, validate_args: bool | None = None) -> None:
        if concentration.ndim < 1:
            raise ValueError("`concentration` parameter must be at least one-dimensional.")
        self.concentration = concentration
        super().__init__(concentration.shape[:-1], concentration.shape[-1:], validate_args=validate_args)

    def expand(self, batch_shape: Any, _instance: Any = None) -> Dirichlet:
        return self._expanded(Dirichlet, batch_shape, _instance, ("concentration",), self.event_shape)

    def rsample(self, sample_shape: Any = ()) -> Tensor:
        gammas = standard_gamma(self.concentration.expand(tuple(self._extended_shape(sample_shape))))
        return gammas / gammas.sum(-1, keepdim=True)

    def log_prob(self, value: Tensor) -> Tensor:
        if self._validate_args:
            self._validate_sample(value)
        value = value_like(value, self.concentration)
        return (mg.xlogy(self.concentration - 1.0, value).sum(-1) + special.gammaln(self.concentration.sum(-1))
                - special.gammaln(self.concentration).sum(-1))

    @property
    def mean(self) -> Tensor:
        return self.concentration / self.concentration.sum(-1, keepdim=True)

    @property
    def mode(self) -> Tensor:
        """(α - 1)₊ normalised (NaN where all α ≤ 1); where every α < 1, the first vertex (as PyTorch's)."""
        shifted = (self.concentration - 1).clamp(min=0.0)
        total = shifted.sum(-1, keepdim=True)
        mode = mg.where(total == 0, float("nan"), shifted / mg.where(total == 0, 1.0, total))   # 0/0, quietly
        corner = one_hot(mg.zeros(tuple(self._batch_shape), dtype=mg.int64, device=mode.device),
                         shifted.shape[-1], mode.dtype)
        return mg.where(mg.all(self.concentration < 1, dim=-1).unsqueeze(-1), corner, mode)

    @property
    def variance(self) -> Tensor:
        total = self.concentration.sum(-1, keepdim=True)
        return self.concentration * (total - self.concentration) / (total ** 2 * (total + 1))

    @property
    def _natural_params(self) -> tuple:
        return (self.concentration,)

    def _log_normalizer(self, x: Tensor) -> Tensor:
        return special.gammaln(x).sum(-1) - special.gammaln(x.sum(-1))

    def entropy(self) -> Tensor:
        k = self.concentration.shape[-1]
        total = self.concentration.sum(-1)
        return (special.gammaln(self.concentration).sum(-1) - special.gammaln(total)
                - (k - total) * special.digamma(total)
                - ((self.concentration - 1.0) * special.digamma(self.concentration)).sum(-1))
